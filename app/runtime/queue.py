"""The runs waiting to start, and the limits they start under.

Every run of a Runtime (the CLI's, the TUI's, a schedule's, a sensor's, automation's, a
backfill's) passes through one ``RunQueue``: at most ``max_concurrent_runs`` run at once, and
at most ``limit`` of those carrying a tag (Dagster's ``tag_concurrency_limits``), the rest
wait, highest ``dagster/priority`` first, then in the order they came. Pure bookkeeping on
the event loop: ``admit`` waits for a run's turn, ``release`` gives it back.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from ..declarations.run_queue import RunQueueConfig, priority_of


@dataclass(slots=True)
class _Waiting:
    order: tuple[int, int]  # (-priority, arrival)
    run_id: str
    tags: Mapping[str, str]
    turn: asyncio.Future[None]


class RunQueue:
    def __init__(self, config: RunQueueConfig | None = None) -> None:
        self.config = config or RunQueueConfig()
        self._running: dict[str, Mapping[str, str]] = {}  # run id -> tags
        self._waiting: list[_Waiting] = []
        self._arrivals = itertools.count()

    def reconfigure(self, config: RunQueueConfig) -> None:
        """New limits (the code reloaded): runs already running keep running."""
        self.config = config
        self._dispatch()

    @property
    def queued(self) -> list[str]:
        """The run ids waiting, in the order they will start."""
        return [w.run_id for w in sorted(self._waiting, key=lambda w: w.order)]

    @property
    def running(self) -> list[str]:
        return list(self._running)

    async def admit(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Return when the run may start (at once if nothing holds it back). Canceling the
        wait takes the run out of the queue."""
        waiting = _Waiting(
            (-priority_of(tags), next(self._arrivals)),
            run_id,
            tags,
            asyncio.get_running_loop().create_future(),
        )
        self._waiting.append(waiting)
        self._dispatch()
        try:
            await waiting.turn
        except asyncio.CancelledError:
            if waiting in self._waiting:
                self._waiting.remove(waiting)
            elif waiting.turn.done() and not waiting.turn.cancelled():
                self.release(run_id)  # admitted as it was canceled: give the turn back
            raise

    def release(self, run_id: str) -> None:
        if self._running.pop(run_id, None) is not None:
            self._dispatch()

    def blocked_by(self, tags: Mapping[str, str]) -> str | None:
        """Why a run with ``tags`` would wait now, or None."""
        limit = self.config.max_concurrent_runs
        if limit is not None and len(self._running) >= limit:
            return f"{len(self._running)} runs running (max_concurrent_runs={limit})"
        for rule in self.config.tag_concurrency_limits:
            if not rule.applies(tags):
                continue
            held = sum(1 for other in self._running.values() if rule.same_group(tags, other))
            if held >= rule.limit:
                tag = f"{rule.key}={tags[rule.key]}"
                return f"{held} runs tagged {tag} running (limit {rule.limit})"
        return None

    def _dispatch(self) -> None:
        for waiting in sorted(self._waiting, key=lambda w: w.order):
            limit = self.config.max_concurrent_runs
            if limit is not None and len(self._running) >= limit:
                return
            if self.blocked_by(waiting.tags) is not None:
                continue  # a run held back by its tags does not hold back the others
            self._waiting.remove(waiting)
            self._running[waiting.run_id] = waiting.tags
            waiting.turn.set_result(None)
