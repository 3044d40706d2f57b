"""What every partitions definition answers, and the simplest one: a fixed list of keys.

Each definition has an order (the order ``get_partition_keys`` lists), and numbers its keys
in it: ``partition_index(key)`` and ``key_at(index)``, so a set of partitions can be kept as
integer ranges (``ranges.py``) instead of strings. The base class answers from the list of
keys; the time-window and multi definitions answer arithmetically, without one.

A key a definition does not have is a ``PartitionKeyError`` whose message says why and offers
the nearest valid keys (``invalid_key_message``): by spelling here, by time for time windows.
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Protocol

from ..errors import DefinitionsError, PartitionKeyError
from ..suggest import CUTOFF
from .key_range import PartitionKeyRange

# Dagster's rule: "..." separates the ends of a range in a selection, and control characters
# do not display.
INVALID_PARTITION_SUBSTRINGS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


class DynamicPartitionsStore(Protocol):
    """Where the keys of ``DynamicPartitionsDefinition``s live (Dagster's protocol); called
    with positional arguments, so an implementation may name its parameters as it likes."""

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]: ...

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool: ...


class PartitionsDefinition(ABC):
    """The partitions of an asset, in order. ``current_time`` pins "now" for time windows
    (naive: in the definition's timezone); ``dynamic_partitions_store`` holds dynamic keys."""

    @abstractmethod
    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> Sequence[str]:
        """Every key, in the definition's order."""

    def get_num_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        return len(self.get_partition_keys(current_time, dynamic_partitions_store))

    def get_first_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[0] if keys else None

    def get_last_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[-1] if keys else None

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        return partition_key in self._positions(current_time, dynamic_partitions_store)

    def validate_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> None:
        """Raise ``PartitionKeyError`` (with the nearest valid keys) unless the key exists."""
        if not self.has_partition_key(partition_key, current_time, dynamic_partitions_store):
            raise PartitionKeyError(
                self.invalid_key_message(partition_key, current_time, dynamic_partitions_store)
            )

    def invalid_key_message(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str:
        """Why ``partition_key`` is not one of these partitions, with the nearest valid keys."""
        why = self._why_not(partition_key, current_time, dynamic_partitions_store)
        return f'"{partition_key}" is not a partition of {self!r}: {why}'

    def partition_index(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        """The key's position in ``get_partition_keys``; ``PartitionKeyError`` if absent."""
        index = self._positions(current_time, dynamic_partitions_store).get(partition_key)
        if index is None:
            raise PartitionKeyError(
                self.invalid_key_message(partition_key, current_time, dynamic_partitions_store)
            )
        return index

    def partition_indices(
        self,
        partition_keys: Iterable[str],
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[int]:
        """``partition_index`` of each key, for many keys at once."""
        positions = self._positions(current_time, dynamic_partitions_store)
        out = []
        for key in partition_keys:
            index = positions.get(key)
            if index is None:
                raise PartitionKeyError(
                    self.invalid_key_message(key, current_time, dynamic_partitions_store)
                )
            out.append(index)
        return out

    def key_at(
        self,
        index: int,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str:
        """The key at ``index`` in ``get_partition_keys`` (``IndexError`` outside it)."""
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        if not 0 <= index < len(keys):
            raise IndexError(f"{self!r} has {len(keys)} partitions: no index {index}")
        return keys[index]

    def get_partition_keys_in_range(
        self,
        partition_key_range: PartitionKeyRange,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
        current_time: datetime | None = None,
    ) -> Sequence[str]:
        """The keys from ``start`` to ``end``, both included; both must exist."""
        store = dynamic_partitions_store
        first = self.partition_index(partition_key_range.start, current_time, store)
        last = self.partition_index(partition_key_range.end, current_time, store)
        return list(self.get_partition_keys(current_time, store)[first : last + 1])

    def _positions(
        self, current_time: datetime | None, dynamic_partitions_store: DynamicPartitionsStore | None
    ) -> Mapping[str, int]:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return {key: index for index, key in enumerate(keys)}

    def _why_not(
        self,
        partition_key: str,
        current_time: datetime | None,
        dynamic_partitions_store: DynamicPartitionsStore | None,
    ) -> str:
        return spelling_hint(
            partition_key, self.get_partition_keys(current_time, dynamic_partitions_store)
        )


class StaticPartitionsDefinition(PartitionsDefinition):
    """A fixed list of keys, in the order given (Dagster's ``StaticPartitionsDefinition``)."""

    def __init__(self, partition_keys: Sequence[str]) -> None:
        keys = tuple(partition_keys)
        for key in keys:
            if not isinstance(key, str):
                raise DefinitionsError(
                    f"StaticPartitionsDefinition: partition keys are strings, got {key!r}"
                )
        check_key_characters(keys, "StaticPartitionsDefinition")
        positions = {key: index for index, key in enumerate(keys)}
        if len(positions) != len(keys):
            repeated = sorted(key for key, count in Counter(keys).items() if count > 1)
            raise DefinitionsError(
                f"StaticPartitionsDefinition: partition keys must be unique; repeated: {repeated}"
            )
        self._keys = keys
        self._index = positions

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return list(self._keys)

    def _positions(
        self, current_time: datetime | None, dynamic_partitions_store: DynamicPartitionsStore | None
    ) -> Mapping[str, int]:
        return self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticPartitionsDefinition) and self._keys == other._keys

    def __hash__(self) -> int:
        return hash(self._keys)

    def __repr__(self) -> str:
        return f"StaticPartitionsDefinition({shown(self._keys, quote=True)})"


def check_key_characters(keys: Iterable[str], where: str) -> None:
    """Refuse keys with Dagster's invalid substrings, saying which and why."""
    for key in keys:
        found = [s for s in INVALID_PARTITION_SUBSTRINGS if s in key]
        if found:
            raise DefinitionsError(
                f"{where}: partition key {key!r} contains {found}: '...' separates the ends "
                "of a range, and control characters do not display"
            )


def spelling_hint(partition_key: str, keys: Sequence[str]) -> str:
    """The keys spelt most like ``partition_key`` (difflib, case-insensitively), or the keys."""
    if not keys:
        return "it has no partitions"
    by_folded: dict[str, str] = {}
    for key in keys:
        by_folded.setdefault(key.casefold(), key)
    close = difflib.get_close_matches(partition_key.casefold(), by_folded, n=3, cutoff=CUTOFF)
    if close:
        return "nearest valid keys: " + ", ".join(by_folded[c] for c in close)
    return f"its keys are {shown(keys)}"


def shown(keys: Sequence[str], *, quote: bool = False, limit: int = 5) -> str:
    """A few keys for a message: ``a, b, c, ... (120 keys)``."""
    parts = [repr(k) if quote else k for k in keys[:limit]]
    if len(keys) > limit:
        parts.append(f"... ({len(keys)} keys)")
    text = ", ".join(parts)
    return f"[{text}]" if quote else text
