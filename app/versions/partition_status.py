"""Per-partition status: which partitions of each asset are fresh, stale, missing, failed or
in progress, and why a stale one is stale, through the partition mappings.

Pure, over sets of keys: what the store knows of each partitioned asset (``PartitionFacts``)
and the graph as the code declares it now. A partition is stale for its own causes (its code
changed, a partition it read has a new data version) or because a partition it reads is
stale or missing, which is found downward in bulk (``mapping.downstream_keys`` of the
upstream's stale and missing keys), not by asking each of 87,600 partitions what it reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..declarations.keys import AssetKey
from ..partitions.definition import DynamicPartitionsStore
from ..partitions.mapping import PartitionMapping
from .staleness import NEVER_MATERIALIZED, Category, Cause, Status


@dataclass(frozen=True, slots=True)
class PartitionFacts:
    """What the store knows of one partitioned asset's partitions."""

    materialized: frozenset[str]  # with a latest materialization
    failed: frozenset[str] = frozenset()  # whose last attempt failed
    running: frozenset[str] = frozenset()
    own: Mapping[str, Cause] = field(default_factory=dict)  # its own first cause, if stale
    complete: bool = False  # ``materialized`` is exactly the definition's keys now


@dataclass(frozen=True, slots=True)
class PartitionStatuses:
    """One asset's partitions, each in exactly one status (``keys`` in definition order)."""

    keys: Sequence[str]
    status: Mapping[str, Status]  # every key that is not fresh
    causes: Mapping[str, Cause]  # each stale (and missing, where upstream) key's cause

    def count(self, status: Status) -> int:
        if status is Status.FRESH:
            return len(self.keys) - len(self.status)
        return sum(1 for s in self.status.values() if s is status)

    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Status}
        for s in self.status.values():
            counts[s.value] += 1
        counts[Status.FRESH.value] = len(self.keys) - len(self.status)
        return counts

    def of(self, key: str) -> Status:
        return self.status.get(key, Status.FRESH)


@dataclass(frozen=True, slots=True)
class Upstream:
    """An edge as partition status needs it."""

    key: AssetKey
    mapping: PartitionMapping
    partitions_def: Any  # the upstream's (None: unpartitioned)


# The joined text and the set of a definition's keys, for the last few (definition, count)
# seen: many assets share one definition, and most are wholly materialized.
_KEYSETS: dict[tuple[int, int], tuple[Any, str, frozenset[str]]] = {}


def decode_keys(text: str, definition: Any, keys: Sequence[str]) -> tuple[frozenset[str], bool]:
    """The set of partitions ``text`` ("\x1f"-joined) names, and whether it is every key of
    ``keys`` (the definition's now): told by comparing two strings when the stored keys are
    in the definition's order, which spares splitting and hashing 87,600 keys; keys that are
    the definition's first ones (the newest windows not materialized yet) are its set less
    the rest."""
    cache_key = (id(definition), len(keys))
    cached = _KEYSETS.get(cache_key)
    if cached is None or cached[0] is not definition:
        if len(_KEYSETS) >= 8:
            _KEYSETS.pop(next(iter(_KEYSETS)))
        cached = (definition, "\x1f".join(keys), frozenset(keys))
        _KEYSETS[cache_key] = cached
    joined, every = cached[1], cached[2]
    if text == joined:
        return every, True
    if text and joined.startswith(text) and joined[len(text)] == "\x1f":
        # The first keys, in order (a series whose newest windows are still to come).
        return every.difference(keys[text.count("\x1f") + 1 :]), False
    return (frozenset(text.split("\x1f")) if text else frozenset()), False


def partition_statuses(
    asset: AssetKey,
    definition: Any,
    all_keys: Sequence[str],
    upstreams: Sequence[Upstream],
    known: PartitionFacts,
    roots: dict[AssetKey, dict[str, Cause]],
    unpartitioned_roots: Mapping[AssetKey, Cause],
    *,
    current_time: datetime | None = None,
    dynamic: DynamicPartitionsStore | None = None,
) -> PartitionStatuses:
    """The statuses of ``asset``'s partitions (``all_keys``, its keys now). ``roots`` holds,
    per partitioned asset already assessed (upstream first), the partitions that make their
    readers stale with their root causes; this asset's are added. ``unpartitioned_roots``:
    the root cause of each unpartitioned asset that is stale or missing."""
    causes: dict[str, Cause] = dict(known.own)
    asset_roots: dict[str, Cause] = {
        k: Cause(c.category, c.message, asset) for k, c in known.own.items()
    }
    never = Cause(Category.DATA, NEVER_MATERIALIZED, asset)
    # Set operations in C rather than a Python loop over every key: most keys are fresh.
    materialized = known.materialized
    current: frozenset[str]
    if known.complete or (len(materialized) == len(all_keys) and materialized.issuperset(all_keys)):
        current, missing = materialized, []
    else:
        current = frozenset(all_keys)
        missing = [k for k in all_keys if k not in materialized]
    asset_roots.update(dict.fromkeys(missing, never))
    for up in upstreams:
        if up.partitions_def is None:
            root = unpartitioned_roots.get(up.key)
            if root is not None:
                cause = Cause(root.category, _upstream_message(up.key, root), up.key, root)
                for k in all_keys:
                    causes.setdefault(k, cause)
                    asset_roots.setdefault(k, root)
            continue
        by_root: dict[Cause, list[str]] = {}
        for up_key, root in roots.get(up.key, {}).items():
            by_root.setdefault(root, []).append(up_key)
        # One bulk mapping per root cause (all of an upstream's missing partitions share
        # one), not one per upstream partition.
        for root, up_keys in by_root.items():
            cause = Cause(root.category, _upstream_message(up.key, root), up.key, root)
            for k in up.mapping.downstream_keys(
                up_keys, up.partitions_def, definition, current_time=current_time, dynamic=dynamic
            ):
                if k not in causes:
                    causes[k] = cause
                    asset_roots.setdefault(k, root)
    roots[asset] = asset_roots
    # Least to most urgent, each overriding the one before: stale, missing, failed, running.
    stale = current.intersection(causes)
    status: dict[str, Status] = dict.fromkeys(
        stale if current is materialized else stale & materialized, Status.STALE
    )
    status.update(dict.fromkeys(missing, Status.MISSING))
    if known.failed or known.running:
        status.update(dict.fromkeys(known.failed & current, Status.FAILED))
        status.update(dict.fromkeys(known.running & current, Status.RUNNING))
    return PartitionStatuses(all_keys, status, causes)


def asset_status(statuses: PartitionStatuses) -> tuple[Status, tuple[Cause, ...]]:
    """A partitioned asset as one catalog row: in progress, then failed, then missing if
    none exists, then stale if any partition is stale or missing; the counts as causes."""
    counts = statuses.summary()
    total = len(statuses.keys)
    causes: list[Cause] = []
    for state, noun in (
        (Status.FAILED, "failed"),
        (Status.MISSING, "missing"),
        (Status.STALE, "stale"),
    ):
        n = counts[state.value]
        if n:
            first = (
                next(c for k, c in statuses.causes.items() if statuses.of(k) is state)
                if (state is Status.STALE)
                else None
            )
            detail = f": {first.message}" if first is not None else ""
            category = first.category if first is not None else Category.DATA
            causes.append(Cause(category, f"{n:,} of {total:,} partitions {noun}{detail}"))
    if counts[Status.RUNNING.value]:
        status = Status.RUNNING
    elif counts[Status.FAILED.value]:
        status = Status.FAILED
    elif total and counts[Status.MISSING.value] == total:
        status = Status.MISSING
    elif causes:
        status = Status.STALE
    else:
        status = Status.FRESH
    return status, tuple(causes)


def _upstream_message(up: AssetKey, root: Cause) -> str:
    name = up.to_user_string()
    if root.asset_key == up and root.message == NEVER_MATERIALIZED:
        return f"upstream {name} {NEVER_MATERIALIZED}"
    about = root.asset_key.to_user_string() if root.asset_key else name
    return f"upstream {name} is stale: {about} {root.message}"


def status_ranges(statuses: PartitionStatuses) -> list[tuple[str, str, int, Status]]:
    """Consecutive partitions (in definition order) of one status: (first, last, count)."""
    out: list[tuple[str, str, int, Status]] = []
    for key in statuses.keys:
        status = statuses.of(key)
        if out and out[-1][3] is status:
            first, _, n, _ = out[-1]
            out[-1] = (first, key, n + 1, status)
        else:
            out.append((key, key, 1, status))
    return out
