"""PartitionKeyRange: a span of partitions named by its first and last keys."""

from __future__ import annotations

from typing import NamedTuple


class PartitionKeyRange(NamedTuple):
    """The partitions from ``start`` to ``end``, both included, in the definition's order."""

    start: str
    end: str
