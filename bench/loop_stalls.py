"""The event loop's lateness while a benchmark runs: shared by bench/tui.py and bench/scale.py."""

from __future__ import annotations

import asyncio
import time


class Stalls:
    """The event loop's lateness, sampled by a 10 ms ticker."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            self.late.append(time.perf_counter() - start - 0.01)

    def stop(self) -> list[float]:
        self._task.cancel()
        return self.late
