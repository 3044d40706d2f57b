"""Write locks: at most one step of this process writes a given asset (and partition) at once.

Two overlapping runs (a dev run and the one superseding it, a manual run beside an automatic
one) would otherwise race to store the same value, and the stored bytes could end up from one
run while the history names the other. Across processes, the event store's leases do the same.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Hashable


class WriteLocks:
    """Taken and released on any thread (executors book steps on workers); a run that has to
    wait does so on its event loop, and is handed the lock there."""

    def __init__(self) -> None:
        self._holders: dict[Hashable, str] = {}
        self._waiting: dict[Hashable, deque[tuple[str, asyncio.Future[None]]]] = {}
        self._lock = threading.Lock()

    def holder(self, key: Hashable) -> str | None:
        """The run writing ``key`` now, if any."""
        return self._holders.get(key)

    def try_acquire(self, key: Hashable, run_id: str) -> bool:
        """Whether ``run_id`` now holds ``key``: True only if nobody held or waited for it."""
        with self._lock:
            if key in self._holders or key in self._waiting:
                return False
            self._holders[key] = run_id
            return True

    def acquire(self, key: Hashable, run_id: str) -> asyncio.Future[None] | None:
        """None if ``run_id`` now holds ``key``; else a future of the running loop that
        resolves when it does (cancel the future to stop waiting)."""
        with self._lock:
            if key not in self._holders and key not in self._waiting:
                self._holders[key] = run_id
                return None
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(key, deque()).append((run_id, future))
            if key not in self._holders:  # released, its hand-over not yet run
                self._hand_over(key)
            return future

    def release(self, key: Hashable, run_id: str) -> None:
        with self._lock:
            if self._holders.get(key) != run_id:
                return
            del self._holders[key]
            queue = self._waiting.get(key)
            if queue:
                # The waiter's future belongs to its loop: it is handed the lock there.
                queue[0][1].get_loop().call_soon_threadsafe(self._hand_over_locked, key)

    def _hand_over_locked(self, key: Hashable) -> None:
        with self._lock:
            self._hand_over(key)

    def _hand_over(self, key: Hashable) -> None:
        if key in self._holders:
            return
        queue = self._waiting.get(key)
        while queue:
            waiter, future = queue.popleft()
            if not future.done():  # a canceled wait gives its turn to the next
                self._holders[key] = waiter
                future.set_result(None)
                break
        if queue is not None and not queue:
            del self._waiting[key]
