"""Multi-dimensional partitions: the cross product of two definitions, as Dagster has it.

Dagster's rules: exactly two dimensions, each static, time-window or dynamic; dimensions are
ordered by name, and a key is the dimensions' keys joined by ``|`` in that order
(``{"region": ..., "date": ...}`` gives ``2024-01-01|eu``); the keys list the first
dimension's slowest. So the key at index i * n + j (n: the second dimension's count) is the
first dimension's key i with the second's key j: indices without a list of keys. A dynamic
dimension's keys must not contain ``|`` (such a key cannot be read back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import NamedTuple

from ..errors import DefinitionsError, PartitionKeyError
from .definition import DynamicPartitionsStore, PartitionsDefinition, StaticPartitionsDefinition
from .dynamic import DynamicPartitionsDefinition
from .key_range import PartitionKeyRange
from .time_window import TimeWindow, TimeWindowPartitionsDefinition

MULTIPARTITION_KEY_DELIMITER = "|"
INVALID_STATIC_PARTITIONS_KEY_CHARACTERS = frozenset("|,[]")


class PartitionDimensionKey(NamedTuple):
    """One dimension's part of a multi-partition key."""

    dimension_name: str
    partition_key: str


class PartitionDimensionDefinition(NamedTuple):
    """One dimension of a multi-partitions definition."""

    name: str
    partitions_def: PartitionsDefinition


class MultiPartitionKey(str):
    """A multi-partition key: the string ``a|b`` (dimensions by name) that knows its parts."""

    _names: tuple[str, ...]
    _parts: tuple[str, ...]

    def __new__(cls, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        names = tuple(sorted(keys_by_dimension))
        return cls._of(names, tuple(keys_by_dimension[name] for name in names))

    @classmethod
    def _of(cls, names: tuple[str, ...], parts: tuple[str, ...]) -> MultiPartitionKey:
        key = str.__new__(cls, MULTIPARTITION_KEY_DELIMITER.join(parts))
        key._names, key._parts = names, parts
        return key

    @property
    def dimension_keys(self) -> list[PartitionDimensionKey]:
        return [PartitionDimensionKey(n, p) for n, p in zip(self._names, self._parts, strict=True)]

    @property
    def keys_by_dimension(self) -> dict[str, str]:
        return dict(zip(self._names, self._parts, strict=True))

    def __getnewargs__(self) -> tuple[dict[str, str]]:  # type: ignore[override]
        return (self.keys_by_dimension,)


class MultiPartitionsDefinition(PartitionsDefinition):
    """The cross product of two partitions definitions, by dimension name (Dagster's)."""

    def __init__(self, partitions_defs: Mapping[str, PartitionsDefinition]) -> None:
        if len(partitions_defs) != 2:
            raise DefinitionsError(
                "MultiPartitionsDefinition takes exactly 2 dimensions (as Dagster does), "
                f"got {len(partitions_defs)}: {sorted(partitions_defs)}"
            )
        for name, definition in partitions_defs.items():
            _check_dimension(name, definition)
        dims = sorted(partitions_defs.items())
        self._dims = [PartitionDimensionDefinition(name, d) for name, d in dims]
        self._names = tuple(name for name, _ in dims)

    @property
    def partitions_defs(self) -> Sequence[PartitionDimensionDefinition]:
        return self._dims

    @property
    def partition_dimension_names(self) -> list[str]:
        return list(self._names)

    def get_partitions_def_for_dimension(self, dimension_name: str) -> PartitionsDefinition:
        for dim in self._dims:
            if dim.name == dimension_name:
                return dim.partitions_def
        raise DefinitionsError(
            f"{self!r} has no dimension {dimension_name!r}; its dimensions are {self._names}"
        )

    def get_partition_key_from_str(self, partition_key_str: str) -> MultiPartitionKey:
        parts = tuple(partition_key_str.split(MULTIPARTITION_KEY_DELIMITER))
        if len(parts) != len(self._names):
            raise PartitionKeyError(self.invalid_key_message(partition_key_str))
        return MultiPartitionKey._of(self._names, parts)

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[MultiPartitionKey]:
        first, second = (
            dim.partitions_def.get_partition_keys(current_time, dynamic_partitions_store)
            for dim in self._dims
        )
        names, of = self._names, MultiPartitionKey._of
        return [of(names, (a, b)) for a in first for b in second]

    def get_num_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        first, second = self._counts(current_time, dynamic_partitions_store)
        return first * second

    def get_first_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        if not self.get_num_partitions(current_time, dynamic_partitions_store):
            return None
        return self.key_at(0, current_time, dynamic_partitions_store)

    def get_last_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        count = self.get_num_partitions(current_time, dynamic_partitions_store)
        return self.key_at(count - 1, current_time, dynamic_partitions_store) if count else None

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        parts = partition_key.split(MULTIPARTITION_KEY_DELIMITER)
        return len(parts) == len(self._dims) and all(
            dim.partitions_def.has_partition_key(part, current_time, dynamic_partitions_store)
            for dim, part in zip(self._dims, parts, strict=True)
        )

    def partition_index(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        return self.partition_indices([partition_key], current_time, dynamic_partitions_store)[0]

    def partition_indices(
        self,
        partition_keys: Iterable[str],
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[int]:
        keys = list(partition_keys)
        store = dynamic_partitions_store
        split = [key.split(MULTIPARTITION_KEY_DELIMITER) for key in keys]
        for key, parts in zip(keys, split, strict=True):
            if len(parts) != len(self._dims):
                raise PartitionKeyError(self.invalid_key_message(key, current_time, store))
        (first, second), width = self._dims, self._counts(current_time, store)[1]
        try:
            rows = first.partitions_def.partition_indices(
                [p[0] for p in split], current_time, store
            )
            cols = second.partitions_def.partition_indices(
                [p[1] for p in split], current_time, store
            )
        except PartitionKeyError:
            bad = next(k for k in keys if not self.has_partition_key(k, current_time, store))
            raise PartitionKeyError(self.invalid_key_message(bad, current_time, store)) from None
        return [row * width + col for row, col in zip(rows, cols, strict=True)]

    def key_at(
        self,
        index: int,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> MultiPartitionKey:
        count, width = self._counts(current_time, dynamic_partitions_store)
        if not 0 <= index < count * width:
            raise IndexError(f"{self!r} has {count * width} partitions: no index {index}")
        row, col = divmod(index, width)
        first, second = self._dims
        parts = (
            first.partitions_def.key_at(row, current_time, dynamic_partitions_store),
            second.partitions_def.key_at(col, current_time, dynamic_partitions_store),
        )
        return MultiPartitionKey._of(self._names, parts)

    def get_partition_keys_in_range(
        self,
        partition_key_range: PartitionKeyRange,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
        current_time: datetime | None = None,
    ) -> list[MultiPartitionKey]:
        """Dagster's: each dimension's range from ``start``'s key to ``end``'s, crossed."""
        start = self.get_partition_key_from_str(partition_key_range.start)._parts
        end = self.get_partition_key_from_str(partition_key_range.end)._parts
        first, second = (
            dim.partitions_def.get_partition_keys_in_range(
                PartitionKeyRange(a, b), dynamic_partitions_store, current_time
            )
            for dim, a, b in zip(self._dims, start, end, strict=True)
        )
        return [MultiPartitionKey._of(self._names, (a, b)) for a in first for b in second]

    def time_window_for_partition_key(self, partition_key: str) -> TimeWindow:
        """The window of the key's time dimension (there must be exactly one)."""
        times = [
            (i, dim.partitions_def)
            for i, dim in enumerate(self._dims)
            if isinstance(dim.partitions_def, TimeWindowPartitionsDefinition)
        ]
        if len(times) != 1:
            raise DefinitionsError(f"{self!r} has no single time dimension")
        index, definition = times[0]
        return definition.time_window_for_partition_key(
            self.get_partition_key_from_str(partition_key)._parts[index]
        )

    def _counts(
        self, current_time: datetime | None, store: DynamicPartitionsStore | None
    ) -> tuple[int, int]:
        first, second = (
            dim.partitions_def.get_num_partitions(current_time, store) for dim in self._dims
        )
        return first, second

    def _why_not(
        self,
        partition_key: str,
        current_time: datetime | None,
        dynamic_partitions_store: DynamicPartitionsStore | None,
    ) -> str:
        parts = partition_key.split(MULTIPARTITION_KEY_DELIMITER)
        if len(parts) != len(self._dims):
            example = self.get_first_partition_key(current_time, dynamic_partitions_store)
            return (
                f"its keys join a {' key and a '.join(self._names)} key with '|', "
                f"in that order, like {example}"
            )
        for dim, part in zip(self._dims, parts, strict=True):
            definition = dim.partitions_def
            if not definition.has_partition_key(part, current_time, dynamic_partitions_store):
                why = definition._why_not(part, current_time, dynamic_partitions_store)
                return f'its {dim.name} key "{part}" is not one of {definition!r}: {why}'
        return "it is one"  # has_partition_key was true: callers ask only about absent keys

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiPartitionsDefinition) and self._dims == other._dims

    def __hash__(self) -> int:
        return hash(tuple(self._dims))

    def __repr__(self) -> str:
        dims = ", ".join(f"{dim.name}: {dim.partitions_def!r}" for dim in self._dims)
        return f"MultiPartitionsDefinition({dims})"


def _check_dimension(name: str, definition: PartitionsDefinition) -> None:
    """Dagster's ``_check_valid_partitions_dimensions``, plus no ``|`` in a time format."""
    kinds = (
        StaticPartitionsDefinition,
        TimeWindowPartitionsDefinition,
        DynamicPartitionsDefinition,
    )
    if not isinstance(definition, kinds):
        raise DefinitionsError(
            f"MultiPartitionsDefinition: dimension {name!r} is a {type(definition).__name__}; "
            "a dimension is static, time-window or dynamic"
        )
    if isinstance(definition, StaticPartitionsDefinition):
        for key in definition.get_partition_keys():
            found = sorted(INVALID_STATIC_PARTITIONS_KEY_CHARACTERS & set(key))
            if found:
                raise DefinitionsError(
                    f"MultiPartitionsDefinition: dimension {name!r} has key {key!r} with "
                    f"{found}: a multi-partition key cannot contain |, [, ] or ,"
                )
    if isinstance(definition, TimeWindowPartitionsDefinition) and "|" in definition.fmt:
        raise DefinitionsError(
            f"MultiPartitionsDefinition: dimension {name!r} formats keys with '|' "
            f"({definition.fmt!r}), which joins the dimensions' keys"
        )
