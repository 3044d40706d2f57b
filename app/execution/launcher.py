"""Step launchers decide where a step runs; the scheduler never runs user code.

The in-process launcher runs ``async def`` functions on the event loop and plain ``def`` ones
in a persistent thread pool (input loading, compute and storage in one hop). A Dask launcher
plugs in behind the same methods, running the same step body (``step.py``).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from .observation import run_async_observation, run_observation
from .step import RunServices, StepOutcome, StepRequest, run_async_step, run_step
from .workers import WorkerPool


class StepLauncher(ABC):
    """Runs one step of a run; the returned future resolves to its outcome or raises."""

    @abstractmethod
    def launch(
        self, services: RunServices, request: StepRequest
    ) -> asyncio.Future[StepOutcome]: ...

    @abstractmethod
    def close(self) -> None:
        """Release what the launcher holds (threads, connections)."""


class InProcessLauncher(StepLauncher):
    def __init__(self, max_workers: int) -> None:
        self._pool = WorkerPool(max_workers)

    def launch(self, services: RunServices, request: StepRequest) -> asyncio.Future[StepOutcome]:
        step = request.step
        if step.observes:
            if step.runs_on_loop:
                return asyncio.get_running_loop().create_task(
                    run_async_observation(services, request)
                )
            return self._pool.submit(run_observation, services, request)
        if step.runs_on_loop:
            return asyncio.get_running_loop().create_task(
                run_async_step(services, request, self._pool.submit)
            )
        return self._pool.submit(run_step, services, request)

    def close(self) -> None:
        self._pool.close()
