"""A pool of worker threads for ``def`` steps, lighter than ThreadPoolExecutor + run_in_executor.

Each hop to a thread and back is on the critical path of every step in a chain. So a job's
``done`` callback runs on the worker that ran it, and a job submitted from inside ``done``
(the step that finishing this one made ready) is kept by that worker and run next: a chain of
``def`` steps runs on one thread, with no wake-up between steps. Other jobs go through a bare
queue; ``run`` resolves an asyncio future with one ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any, TypeVar

T = TypeVar("T")

Done = Callable[[Any, BaseException | None], None]
_Job = tuple[Callable[..., Any], tuple[Any, ...], Done]

_log = logging.getLogger("millrace")


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
        self._local = threading.local()  # .next: the job this worker's ``done`` handed it

    def submit(self, fn: Callable[..., Any], args: tuple[Any, ...], done: Done) -> None:
        """Run ``fn(*args)`` on a worker, then ``done(result, None)`` or ``done(None, error)``
        there. Submitted from a ``done`` running on a worker, the first job is run next by
        that same worker."""
        local = self._local
        if getattr(local, "taking", False) and local.next is None:
            local.next = (fn, args, done)
            with self._lock:
                self._idle -= 1  # counted idle for its ``done``, this worker is busy again
            return
        self._jobs.put((fn, args, done))
        with self._lock:
            # _idle counts waiting workers minus queued jobs: below zero is a backlog.
            if self._idle > 0 or len(self._threads) >= self._max:
                self._idle -= 1
            else:
                self._start_thread()

    def run(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on a worker, as a future of the calling event loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def done(result: Any, error: BaseException | None) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, future, result, error)

        self.submit(fn, args, done)
        return future

    def _start_thread(self) -> None:
        thread = threading.Thread(
            target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self) -> None:
        jobs, local = self._jobs, self._local
        local.next, local.taking = None, False
        job = jobs.get()
        while job is not None:
            fn, args, done = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # SystemExit from user code fails the step, too
                result, error = None, exc
            # Idle before ``done`` tells anyone, so the next job they submit finds this worker.
            with self._lock:
                self._idle += 1
            local.taking = True
            try:
                done(result, error)
            except BaseException:  # the callback's owner reports its own failures
                _log.exception("a worker's done callback failed")
            finally:
                local.taking = False
            job, local.next = local.next, None
            if job is None:
                job = jobs.get()

    def close(self) -> None:
        """Let the workers finish what they hold, then stop them."""
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join()
        self._threads.clear()
        self._idle = 0


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
