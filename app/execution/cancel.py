"""A run's cancellation, as seen from the threads that run its steps.

Storing a value is the one thing a canceled run must never do half-way or late: a step stores
only inside ``committing()``, which refuses once cancellation was requested, and the run's
cancellation is acknowledged only after every store already under way has finished. Stores
of one run go on side by side; only the acknowledgment waits for them.
"""

from __future__ import annotations

import threading


class CancelToken:
    __slots__ = ("_active", "_drained", "_lock", "_requested")

    def __init__(self) -> None:
        self._requested = False
        self._active = 0  # stores under way
        self._lock = threading.Lock()
        self._drained = threading.Event()  # set once requested and no store is under way

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

    def committing(self) -> _Committing:
        """Store a value only if the run is not canceled, and finish storing it before a
        cancellation is acknowledged."""
        return _Committing(self)

    def wait_for_commits(self) -> None:
        """Block until no store is under way (call it off the event loop, after request())."""
        with self._lock:
            if not self._active:
                return
        self._drained.wait()  # the last store under way sets it: no new one can start


class _Committing:
    """``CancelToken.committing()``: a class, not a generator context manager, because every
    stored value passes through it and a generator's setup costs a few microseconds more."""

    __slots__ = ("_token",)

    def __init__(self, token: CancelToken) -> None:
        self._token = token

    def __enter__(self) -> None:
        token = self._token
        with token._lock:
            token.check()  # under the lock: no store starts after wait_for_commits saw none
            token._active += 1

    def __exit__(self, *exc: object) -> None:
        token = self._token
        with token._lock:
            token._active -= 1
            if not token._active and token._requested:
                token._drained.set()
