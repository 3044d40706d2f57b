"""Dagster's standard metadata keys (``dagster/row_count``, ``dagster/table_name``, ...) and the
metadata sets that write and read them: ``TableMetadataSet`` and ``UriMetadataSet``.

A set is a mapping of its namespaced keys to MetadataValues, so it goes wherever metadata
goes (``@asset(metadata=TableMetadataSet(table_name="db.orders"))``, ``{**a, **b}``), and
``extract`` reads one back from any metadata, stored metadata included.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ..errors import MetadataError
from .metadata import MetadataValue, TableColumnLineage, TableSchema

ROW_COUNT = "dagster/row_count"
PARTITION_ROW_COUNT = "dagster/partition_row_count"
COLUMN_SCHEMA = "dagster/column_schema"
COLUMN_LINEAGE = "dagster/column_lineage"
TABLE_NAME = "dagster/table_name"
RELATION_IDENTIFIER = "dagster/relation_identifier"  # Dagster's former name for table_name
URI = "dagster/uri"
# Dagster marks the external asset it makes for a key that is referenced but not defined.
AUTO_CREATED_STUB_ASSET = "dagster/auto_created_stub_asset"


class _NamespacedMetadataSet(Mapping[str, MetadataValue]):
    """Its fields under ``dagster/``; unset (None) fields are not entries."""

    NAMESPACE: ClassVar[str] = "dagster"
    LEGACY: ClassVar[Mapping[str, str]] = {}  # an older key's field name -> the current one

    def __post_init__(self) -> None:
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is not None:
                object.__setattr__(self, f.name, self._checked(f.name, value))

    def _checked(self, name: str, value: Any) -> Any:
        return value

    def _entries(self) -> dict[str, MetadataValue]:
        return {
            f"{self.NAMESPACE}/{f.name}": _value(getattr(self, f.name))
            for f in fields(self)  # type: ignore[arg-type]
            if getattr(self, f.name) is not None
        }

    def __getitem__(self, key: str) -> MetadataValue:
        return self._entries()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries())

    def __len__(self) -> int:
        return len(self._entries())

    @classmethod
    def extract(cls, metadata: Mapping[str, Any]) -> Any:
        """The set's entries found in ``metadata`` (others are ignored); an older key
        (``dagster/relation_identifier``) fills its current field unless that is present."""
        names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        found: dict[str, Any] = {}
        for key, value in metadata.items():
            namespace, _, name = key.partition("/")
            if namespace != cls.NAMESPACE:
                continue
            current = cls.LEGACY.get(name)
            if current is not None:
                found.setdefault(current, _plain(value))
            elif name in names:
                found[name] = _plain(value)
        return cls(**found)


@dataclass(frozen=True, eq=False)
class TableMetadataSet(_NamespacedMetadataSet):
    """Metadata of an asset that is a table: its schema, column lineage, row counts and
    fully qualified name (``my_db.my_schema.my_table``)."""

    LEGACY: ClassVar[Mapping[str, str]] = {"relation_identifier": "table_name"}

    column_schema: TableSchema | None = None
    column_lineage: TableColumnLineage | None = None
    row_count: int | None = None
    partition_row_count: int | None = None
    table_name: str | None = None

    def _checked(self, name: str, value: Any) -> Any:
        expected: dict[str, type | tuple[type, ...]] = {
            "column_schema": TableSchema,
            "column_lineage": TableColumnLineage,
            "row_count": int,
            "partition_row_count": int,
            "table_name": str,
        }
        wanted = expected[name]
        if isinstance(value, bool) or not isinstance(value, wanted):
            kind = wanted.__name__ if isinstance(wanted, type) else "value"
            raise MetadataError(f"TableMetadataSet: {name} takes {kind}, got {value!r}")
        return value

    def __eq__(self, other: object) -> bool:
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, eq=False)
class UriMetadataSet(_NamespacedMetadataSet):
    """Where the asset lives outside Millrace (``s3://bucket/key``): ``dagster/uri``."""

    uri: str | None = None

    def _checked(self, name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise MetadataError(f"UriMetadataSet: uri takes str, got {value!r}")
        return value

    def __eq__(self, other: object) -> bool:
        return Mapping.__eq__(self, other)

    __hash__ = None  # type: ignore[assignment]


def _value(value: Any) -> MetadataValue:
    if isinstance(value, TableSchema):
        return MetadataValue.table_schema(value)
    if isinstance(value, TableColumnLineage):
        return MetadataValue.column_lineage(value)
    if isinstance(value, int):
        return MetadataValue.int(value)
    return MetadataValue.text(value)


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, MetadataValue) else value
