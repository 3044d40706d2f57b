"""How many runs may run at once: ``Definitions(run_queue=RunQueueConfig(...))``, Dagster's
run-queue settings (which Dagster keeps in dagster.yaml), declared with the code because one
process runs everything."""

from __future__ import annotations

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
        limit = item["limit"]
        # 0 holds every run with the tag (Dagster's way to pause them); below it means nothing.
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise DefinitionsError(
                f"tag_concurrency_limits: the limit of {item['key']!r} must be a whole number"
                f" >= 0, got {limit!r}"
            )
        return TagConcurrencyLimit(
            key=str(item["key"]),
            limit=limit,
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
