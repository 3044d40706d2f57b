"""A set of partitions as runs of consecutive ones, in the definition's order.

How the store keeps statuses compactly (integer ranges of ``partition_index``) and how they
print (``2024-01-01..2024-03-31 materialized``); pure, and linear in the number of keys (a
sort, which is linear on keys already in order).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from .definition import DynamicPartitionsStore, PartitionsDefinition


class PartitionKeyRun(NamedTuple):
    """Consecutive partitions: the first and last keys (both included) and how many."""

    start: str
    end: str
    size: int


def index_runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Distinct indices as sorted inclusive ``(first, last)`` runs: 1 2 3 7 -> (1, 3), (7, 7)."""
    runs: list[tuple[int, int]] = []
    for index in sorted(set(indices)):
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


def partition_key_runs(
    partitions_def: PartitionsDefinition,
    partition_keys: Iterable[str],
    *,
    current_time: datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> list[PartitionKeyRun]:
    """The keys as runs in definition order; ``PartitionKeyError`` for a key it lacks."""
    keys = list(partition_keys)
    indices = partitions_def.partition_indices(keys, current_time, dynamic_partitions_store)
    key_of = dict(zip(indices, keys, strict=True))
    return [PartitionKeyRun(key_of[a], key_of[b], b - a + 1) for a, b in index_runs(indices)]


def contiguous_runs(
    partitions_def: PartitionsDefinition,
    partition_keys: Iterable[str],
    *,
    current_time: datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> list[list[str]]:
    """The keys themselves, grouped into runs of consecutive partitions, in definition order."""
    keys = list(partition_keys)
    indices = partitions_def.partition_indices(keys, current_time, dynamic_partitions_store)
    runs: list[list[str]] = []
    previous = None
    for index, key in sorted(dict(zip(indices, keys, strict=True)).items()):
        if previous is not None and index == previous + 1:
            runs[-1].append(key)
        else:
            runs.append([key])
        previous = index
    return runs
