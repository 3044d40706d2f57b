"""Step launchers decide where a step runs; the scheduler never runs user code.

The in-process launcher runs ``async def`` functions on the event loop and plain ``def`` ones
in a persistent thread pool (input loading, compute and storage in one hop). A Dask launcher
plugs in behind the same methods, running the same step body (``step.py``).
"""

from __future__ import annotations

import asyncio
import functools
from abc import ABC, abstractmethod

from .observation import run_async_observation, run_observation
from .step import RunServices, StepOutcome, StepRequest, run_async_step, run_step
from .workers import Done, WorkerPool


class StepLauncher(ABC):
    """Runs one step of a run and reports its outcome to ``done``, on any thread."""

    @abstractmethod
    def launch(
        self, services: RunServices, request: StepRequest, done: Done
    ) -> asyncio.Future[StepOutcome] | None:
        """Start the step; ``done(outcome, None)`` or ``done(None, error)`` when it ends. A
        step that can be interrupted returns its future: canceling it cancels the step."""

    @abstractmethod
    def close(self) -> None:
        """Release what the launcher holds (threads, connections)."""


class InProcessLauncher(StepLauncher):
    def __init__(self, max_workers: int) -> None:
        self._pool = WorkerPool(max_workers)

    def launch(
        self, services: RunServices, request: StepRequest, done: Done
    ) -> asyncio.Future[StepOutcome] | None:
        step = request.step
        if not step.runs_on_loop:
            body = run_observation if step.observes else run_step
            self._pool.submit(body, (services, request), done)
            return None
        coroutine = (
            run_async_observation(services, request)
            if step.observes
            else run_async_step(services, request, self._pool.run)
        )
        task = asyncio.get_running_loop().create_task(coroutine)
        task.add_done_callback(functools.partial(_report, done))
        return task

    def close(self) -> None:
        self._pool.close()


def _report(done: Done, task: asyncio.Task[StepOutcome]) -> None:
    if task.cancelled():
        done(None, asyncio.CancelledError("canceled with the run"))
    else:
        error = task.exception()
        done(None if error is not None else task.result(), error)
