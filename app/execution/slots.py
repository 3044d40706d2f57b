"""One limit on the steps running at once across every run of a process.

Each Executor has its own ``max_concurrency`` for its run; ``StepSlots`` is shared by all of
them (the Runtime owns one), so two runs of 16 steps on a limit of 8 run 8 steps, not 16,
over the same worker pool. An executor tells it how many steps it holds after each change
(``hold``), which keeps the accounting in one place however a step leaves (done, failed,
waiting for a retry or a lock); one that found no slot is woken when another gives one back.
Executors book their steps on worker threads too, so every method takes a lock, and ``wake``
callbacks are called on whatever thread gave the slot back: they must hop to their own loop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class StepSlots:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("the step limit must be at least 1")
        self.limit = limit
        self._held: dict[object, int] = {}
        self._total = 0
        self._waiting: dict[object, Callable[[], None]] = {}
        self._lock = threading.Lock()

    @property
    def in_use(self) -> int:
        return self._total

    def claim(self, holder: object, holding: int) -> bool:
        """Whether ``holder``, holding ``holding`` steps now, may start one more; if so the
        slot is its own until its next ``hold``, so two executors cannot both take the last."""
        with self._lock:
            before = self._held.get(holder, 0)
            if self._total - before + holding >= self.limit:
                return False
            self._held[holder] = holding + 1
            self._total += holding + 1 - before
            return True

    def hold(self, holder: object, holding: int) -> None:
        """``holder`` holds ``holding`` steps now; waiters are woken if that gave slots back."""
        with self._lock:
            before = self._held.get(holder, 0)
            if holding:
                self._held[holder] = holding
            else:
                self._held.pop(holder, None)
                self._waiting.pop(holder, None)
            self._total += holding - before
            woken = []
            if holding < before and self._waiting:
                woken = [self._waiting.pop(w) for w in list(self._waiting)[: before - holding]]
        for wake in woken:
            wake()

    def wait(self, holder: object, wake: Callable[[], None]) -> None:
        """Call ``wake`` when a slot is given back (once: it asks again if still short)."""
        with self._lock:
            self._waiting[holder] = wake
