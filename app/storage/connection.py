"""A stdlib ``sqlite3`` connection owned by one thread, to which the event loop hands whole jobs.

A job is a plain function of the connection (a batch of events in one transaction, a query
with its rows fetched): the loop pays one hop to the thread and one future back per job, not
one per statement, and what a job builds (rows, JSON) is built off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], Any]


class ThreadConnection:
    """``await ThreadConnection.open(connect, name)``, then ``await conn.run(job)``; jobs run
    one at a time, in the order they were handed over."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str) -> None:
        self._connect = connect
        self._jobs: queue.SimpleQueue[
            tuple[Job | None, asyncio.AbstractEventLoop, asyncio.Future[Any]]
        ] = queue.SimpleQueue()
        # A daemon: a store left unclosed must not hang the interpreter's exit. Killed
        # mid-transaction at exit, it leaves what a killed process does: nothing uncommitted.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    @classmethod
    async def open(cls, connect: Callable[[], sqlite3.Connection], name: str) -> ThreadConnection:
        """Start the thread and connect on it (a connection is used by the thread that made
        it); raise what connecting raised, the thread then ended."""
        conn = cls(connect, name)
        loop = asyncio.get_running_loop()
        opened: asyncio.Future[None] = loop.create_future()
        conn._jobs.put((None, loop, opened))  # the first reply is the connection's
        conn._thread.start()
        try:
            await opened
        except BaseException:
            conn._thread.join()
            raise
        return conn

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job(connection)`` on the thread; its result or exception."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((job, loop, future))
        return await future

    async def close(self) -> None:
        """Close the connection once the jobs handed over before are done; end the thread."""
        if not self._thread.is_alive():
            return
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._jobs.put((None, loop, future))
        await future
        self._thread.join()

    def _serve(self) -> None:
        _, loop, opened = self._jobs.get()
        try:
            db = self._connect()
        except BaseException as exc:
            _reply(loop, opened, None, exc)
            return
        _reply(loop, opened, None, None)
        while True:
            job, loop, future = self._jobs.get()
            if job is None:  # close
                try:
                    db.close()
                finally:
                    _reply(loop, future, None, None)
                return
            try:
                result = job(db)
            except BaseException as exc:
                _reply(loop, future, None, exc)
            else:
                _reply(loop, future, result, None)


def _reply(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[Any],
    result: Any,
    exc: BaseException | None,
) -> None:
    def settle() -> None:
        if future.cancelled():  # its awaiter was canceled; the job ran all the same
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)

    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
        loop.call_soon_threadsafe(settle)
