"""Dynamic partitions: keys added and removed at run time, kept by a ``DynamicPartitionsStore``.

The definition holds only a name; every answer asks the store (the instance's history), in
the order the store keeps (the order the keys were added). Indices are positions in that
order, so deleting a key renumbers the keys after it: keep dynamic statuses by key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..errors import DefinitionsError, MillraceError
from .definition import DynamicPartitionsStore, PartitionsDefinition


class DynamicPartitionsDefinition(PartitionsDefinition):
    """Partitions whose keys live in the store under ``name`` (Dagster's; ``partition_fn``,
    deprecated there, is not supported)."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise DefinitionsError(f"DynamicPartitionsDefinition needs a name, got {name!r}")
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> Sequence[str]:
        return self._store(dynamic_partitions_store).get_dynamic_partitions(self._name)

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        store = self._store(dynamic_partitions_store)
        return store.has_dynamic_partition(self._name, partition_key)

    def _store(self, store: DynamicPartitionsStore | None) -> DynamicPartitionsStore:
        if store is None:
            raise MillraceError(
                f"{self!r} keeps its keys in the instance: pass dynamic_partitions_store= "
                "(the runtime's store) to read them"
            )
        return store

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DynamicPartitionsDefinition) and self._name == other._name

    def __hash__(self) -> int:
        return hash(("dynamic", self._name))

    def __repr__(self) -> str:
        return f"DynamicPartitionsDefinition(name={self._name!r})"
