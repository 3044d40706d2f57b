"""A pool of worker threads for ``def`` steps, lighter than ThreadPoolExecutor + run_in_executor.

Each hop to a thread and back is on the critical path of every step in a chain. A bare queue
and one ``call_soon_threadsafe`` to resolve an asyncio future halve its cost, measured here
(bench/overhead.py prints the figure): no concurrent.futures.Future, no future chaining.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")

_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class WorkerPool:
    """Up to ``max_workers`` threads, started as work arrives and kept for later runs."""

    def __init__(self, max_workers: int, name: str = "millrace-step") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max = max_workers
        self._name = name
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``fn(*args)`` on a worker; the future resolves on the calling event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((loop, future, fn, args))
        with self._lock:
            # _idle counts waiting workers minus queued jobs: below zero is a backlog.
            if self._idle > 0 or len(self._threads) >= self._max:
                self._idle -= 1
            else:
                self._start_thread()
        return future

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        jobs = self._jobs
        while True:
            job = jobs.get()
            if job is None:
                return
            loop, future, fn, args = job
            try:
                outcome: tuple[Callable[..., None], Any] = (_resolve, fn(*args))
            except BaseException as exc:  # SystemExit from user code fails the step, too
                outcome = (_fail, exc)
            with self._lock:
                self._idle += 1
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(outcome[0], future, outcome[1])

    def close(self) -> None:
        """Let the workers finish what they hold, then stop them."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._threads.clear()
        self._idle = 0


def _resolve(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
