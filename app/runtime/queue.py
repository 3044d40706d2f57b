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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import DefinitionsError

PRIORITY_TAG = "dagster/priority"  # Dagster's: higher runs first; an integer, default 0


@dataclass(frozen=True, slots=True)
class TagConcurrencyLimit:
    """At most ``limit`` running runs with tag ``key`` (equal to ``value`` if given; with
    ``per_value``, at most ``limit`` for each value of it)."""

    key: str
    limit: int
    value: str | None = None
    per_value: bool = False

    @staticmethod
    def coerce(item: Any) -> TagConcurrencyLimit:
        """From Dagster's dict form too: ``{"key": k, "value": v, "limit": n}``, with
        ``"value": {"applyLimitPerUniqueValue": True}`` for a limit per value."""
        if isinstance(item, TagConcurrencyLimit):
            return item
        if not isinstance(item, Mapping) or "key" not in item or "limit" not in item:
            raise DefinitionsError(
                f"tag_concurrency_limits: {item!r} is not {{'key': ..., 'limit': ...}}"
            )
        value = item.get("value")
        per_value = isinstance(value, Mapping) and bool(value.get("applyLimitPerUniqueValue"))
        return TagConcurrencyLimit(
            key=str(item["key"]),
            limit=int(item["limit"]),
            value=None if per_value or value is None else str(value),
            per_value=per_value,
        )

    def applies(self, tags: Mapping[str, str]) -> bool:
        return self.key in tags and (self.value is None or tags[self.key] == self.value)

    def same_group(self, tags: Mapping[str, str], other: Mapping[str, str]) -> bool:
        return self.applies(other) and (not self.per_value or other[self.key] == tags[self.key])


@dataclass(frozen=True, slots=True)
class RunQueueConfig:
    """``Definitions(run_queue=RunQueueConfig(...))`` (or Dagster's dict keys): None means no
    limit on runs; steps are limited by the Runtime's ``max_concurrency`` across all runs."""

    max_concurrent_runs: int | None = None
    tag_concurrency_limits: Sequence[TagConcurrencyLimit] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.max_concurrent_runs is not None and self.max_concurrent_runs < 1:
            raise DefinitionsError("run_queue: max_concurrent_runs must be at least 1")
        limits = tuple(TagConcurrencyLimit.coerce(t) for t in self.tag_concurrency_limits)
        object.__setattr__(self, "tag_concurrency_limits", limits)

    @staticmethod
    def coerce(value: Any) -> RunQueueConfig:
        if value is None:
            return RunQueueConfig()
        if isinstance(value, RunQueueConfig):
            return value
        if isinstance(value, Mapping):
            unknown = set(value) - {"max_concurrent_runs", "tag_concurrency_limits"}
            if unknown:
                raise DefinitionsError(f"run_queue: unknown keys {sorted(unknown)}")
            return RunQueueConfig(
                value.get("max_concurrent_runs"), tuple(value.get("tag_concurrency_limits", ()))
            )
        raise DefinitionsError(f"run_queue={value!r}: expected RunQueueConfig or a dict")


def priority_of(tags: Mapping[str, str]) -> int:
    try:
        return int(tags.get(PRIORITY_TAG, 0))
    except ValueError:
        return 0


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
