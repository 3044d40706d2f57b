"""A run's cancellation, as seen from the threads that run its steps.

Storing a value is the one thing a canceled run must never do half-way or late: a step stores
only inside ``committing()``, which refuses once cancellation was requested, and the run's
cancellation is acknowledged only after any store already under way has finished.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class CancelToken:
    __slots__ = ("_lock", "_requested")

    def __init__(self) -> None:
        self._requested = False
        self._lock = threading.Lock()

    @property
    def requested(self) -> bool:
        return self._requested

    def request(self) -> None:
        """From now on no step starts and no value is stored; never blocks."""
        self._requested = True

    def check(self) -> None:
        if self._requested:
            import asyncio  # loaded by then: only a running run can be canceled

            raise asyncio.CancelledError("canceled with the run")

    @contextlib.contextmanager
    def committing(self) -> Iterator[None]:
        """Store a value only if the run is not canceled, and finish storing it before a
        cancellation is acknowledged."""
        with self._lock:
            self.check()
            yield

    def wait_for_commits(self) -> None:
        """Block until no store is under way (call it off the event loop)."""
        with self._lock:
            pass
