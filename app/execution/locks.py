"""Write locks: at most one step of this process writes a given asset (and partition) at once.

Two overlapping runs (a dev run and the one superseding it, a manual run beside an automatic
one) would otherwise race to store the same value, and the stored bytes could end up from one
run while the history names the other. Across processes, the event store's leases do the same.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable


class WriteLocks:
    def __init__(self) -> None:
        self._holders: dict[Hashable, str] = {}
        self._waiting: dict[Hashable, deque[tuple[str, asyncio.Future[None]]]] = {}

    def holder(self, key: Hashable) -> str | None:
        """The run writing ``key`` now, if any."""
        return self._holders.get(key)

    def acquire(self, key: Hashable, run_id: str) -> asyncio.Future[None] | None:
        """None if ``run_id`` now holds ``key``; else a future that resolves when it does
        (cancel the future to stop waiting)."""
        if key not in self._holders:
            self._holders[key] = run_id
            return None
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, deque()).append((run_id, future))
        return future

    def release(self, key: Hashable, run_id: str) -> None:
        if self._holders.get(key) != run_id:
            return
        del self._holders[key]
        queue = self._waiting.get(key)
        while queue:
            waiter, future = queue.popleft()
            if not future.done():  # a canceled wait gives its turn to the next
                self._holders[key] = waiter
                future.set_result(None)
                break
        if queue is not None and not queue:
            del self._waiting[key]
