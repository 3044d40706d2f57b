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
        assert await pool.run(lambda a, b: a + b, 2, 3) == 5
        with pytest.raises(ValueError, match="bad"):
            await pool.run(_raise, ValueError("bad"))
        with pytest.raises(SystemExit):  # not swallowed, not fatal to the worker
            await pool.run(_raise, SystemExit(3))
        assert await pool.run(lambda: "still working") == "still working"
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
        futures = [pool.run(job) for _ in range(5)]
        gate.set()
        names = await asyncio.wait_for(asyncio.gather(*futures), TIMEOUT)
        assert len(set(names)) <= 2
        assert peak <= 2
    finally:
        pool.close()


async def test_idle_threads_are_reused() -> None:
    pool = WorkerPool(4)
    try:
        names = {await pool.run(lambda: threading.current_thread().name) for _ in range(20)}
        assert len(names) == 1  # one at a time: the same idle worker takes each job
    finally:
        pool.close()


async def test_close_lets_workers_finish_and_stops_them() -> None:
    pool = WorkerPool(2)
    worker = await pool.run(threading.current_thread)
    assert worker.is_alive()
    pool.close()
    assert not worker.is_alive()


async def test_a_job_submitted_from_done_runs_next_on_the_same_worker() -> None:
    pool = WorkerPool(4)
    loop = asyncio.get_running_loop()
    finished: asyncio.Future[list[str]] = loop.create_future()
    names: list[str] = []
    try:
        # Other workers are started and idle: the continuation still stays on its thread.
        await asyncio.gather(*(pool.run(threading.Event().wait, 0.01) for _ in range(4)))

        def done(name: str, error: BaseException | None) -> None:
            assert error is None
            names.append(name)
            if len(names) < 50:
                pool.submit(threading.current_thread, (), lambda t, e: done(t.name, e))
            else:
                loop.call_soon_threadsafe(finished.set_result, names)

        pool.submit(threading.current_thread, (), lambda t, e: done(t.name, e))
        chain = await asyncio.wait_for(finished, TIMEOUT)
        assert len(chain) == 50 and len(set(chain)) == 1
    finally:
        pool.close()


async def test_an_error_reaches_done_and_the_worker_goes_on() -> None:
    pool = WorkerPool(1)
    loop = asyncio.get_running_loop()
    seen: asyncio.Future[BaseException | None] = loop.create_future()
    try:
        pool.submit(
            _raise, (KeyError("k"),), lambda r, e: loop.call_soon_threadsafe(seen.set_result, e)
        )
        assert isinstance(await asyncio.wait_for(seen, TIMEOUT), KeyError)
        assert await pool.run(lambda: "next") == "next"
    finally:
        pool.close()


def test_at_least_one_worker() -> None:
    with pytest.raises(ValueError):
        WorkerPool(0)


def _raise(exc: BaseException) -> None:
    raise exc
