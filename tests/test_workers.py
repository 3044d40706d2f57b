"""The worker pool behind ``def`` steps: results, errors, bounds, reuse, shutdown."""

from __future__ import annotations

import asyncio
import threading

import pytest
from millrace.execution.workers import WorkerPool

TIMEOUT = 10


async def test_results_and_exceptions_reach_the_loop() -> None:
    pool = WorkerPool(2)
    try:
        assert await pool.submit(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ValueError, match="bad"):
            await pool.submit(_raise, ValueError("bad"))
        with pytest.raises(SystemExit):  # not swallowed, not fatal to the worker
            await pool.submit(_raise, SystemExit(3))
        assert await pool.submit(lambda: "still working") == "still working"
    finally:
        pool.close()


async def test_never_more_threads_than_max_and_a_backlog_waits() -> None:
    pool = WorkerPool(2)
    gate = threading.Event()
    running: set[str] = set()
    peak = 0
    lock = threading.Lock()

    def job() -> str:
        nonlocal peak
        with lock:
            running.add(threading.current_thread().name)
            peak = max(peak, len(running))
        assert gate.wait(TIMEOUT)
        with lock:
            running.discard(threading.current_thread().name)
        return threading.current_thread().name

    try:
        futures = [pool.submit(job) for _ in range(5)]
        gate.set()
        names = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
        assert len(set(names)) <= 2
        assert peak <= 2
    finally:
        pool.close()


async def test_idle_threads_are_reused() -> None:
    pool = WorkerPool(4)
    try:
        names = {await pool.submit(lambda: threading.current_thread().name) for _ in range(20)}
        assert len(names) == 1  # one at a time: the same idle worker takes each job
    finally:
        pool.close()


async def test_close_lets_workers_finish_and_stops_them() -> None:
    pool = WorkerPool(2)
    worker = await pool.submit(threading.current_thread)
    assert worker.is_alive()
    pool.close()
    assert not worker.is_alive()


def test_at_least_one_worker() -> None:
    with pytest.raises(ValueError):
        WorkerPool(0)


def _raise(exc: BaseException) -> None:
    raise exc
