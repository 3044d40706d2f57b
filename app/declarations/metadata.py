"""Metadata values attached to assets and materializations, with Dagster's constructors."""

from __future__ import annotations

import builtins
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import MetadataError
from .keys import AssetKey, CoercibleToAssetKey, coerce_key


@dataclass(frozen=True, slots=True)
class TableColumn:
    name: str
    type: str = "string"
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "description": self.description}


@dataclass(frozen=True, slots=True)
class TableSchema:
    columns: Sequence[TableColumn] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))

    def to_json(self) -> dict[str, Any]:
        return {"columns": [c.to_json() for c in self.columns]}


@dataclass(frozen=True, slots=True)
class TableRecord:
    data: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


@dataclass(frozen=True, slots=True, init=False)
class TableColumnDep:
    """One column of one asset that a column is computed from."""

    asset_key: AssetKey
    column_name: str

    def __init__(self, asset_key: CoercibleToAssetKey, column_name: str) -> None:
        object.__setattr__(self, "asset_key", coerce_key(asset_key))
        object.__setattr__(self, "column_name", str(column_name))

    def to_json(self) -> dict[str, Any]:
        return {"asset_key": self.asset_key.to_user_string(), "column_name": self.column_name}


@dataclass(frozen=True, slots=True, init=False)
class TableColumnLineage:
    """Each output column and the upstream columns it is computed from
    (``dagster/column_lineage``)."""

    deps_by_column: Mapping[str, tuple[TableColumnDep, ...]]

    def __init__(self, deps_by_column: Mapping[str, Sequence[TableColumnDep]]) -> None:
        deps: dict[str, tuple[TableColumnDep, ...]] = {}
        for column, column_deps in deps_by_column.items():
            if not isinstance(column, str) or not column:
                raise MetadataError(f"TableColumnLineage: column names are strings, got {column!r}")
            given = tuple(column_deps)
            wrong = [d for d in given if not isinstance(d, TableColumnDep)]
            if wrong:
                raise MetadataError(
                    f"TableColumnLineage: column {column!r} depends on {wrong[0]!r}; each "
                    "dependency is a TableColumnDep(asset_key, column_name)"
                )
            deps[column] = given
        object.__setattr__(self, "deps_by_column", deps)

    def __hash__(self) -> int:
        return hash(tuple(self.deps_by_column.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "deps_by_column": {
                column: [d.to_json() for d in deps] for column, deps in self.deps_by_column.items()
            }
        }

    @staticmethod
    def from_json(value: Mapping[str, Any]) -> TableColumnLineage:
        return TableColumnLineage(
            {
                column: [
                    TableColumnDep(AssetKey.from_user_string(d["asset_key"]), d["column_name"])
                    for d in deps
                ]
                for column, deps in value["deps_by_column"].items()
            }
        )


@dataclass(frozen=True, slots=True)
class MetadataValue:
    """A typed metadata value; build one with ``MetadataValue.int(5)``, ``.md("# x")``, ..."""

    type: str
    value: Any

    @staticmethod
    def int(value: int) -> MetadataValue:
        return MetadataValue("int", int(value))

    @staticmethod
    def float(value: float) -> MetadataValue:
        return MetadataValue("float", float(value))

    @staticmethod
    def text(value: str) -> MetadataValue:
        return MetadataValue("text", str(value))

    @staticmethod
    def md(value: str) -> MetadataValue:
        return MetadataValue("md", str(value))

    @staticmethod
    def json(value: Any) -> MetadataValue:
        json.dumps(value)  # reject what cannot be stored, at the call that made it
        return MetadataValue("json", value)

    @staticmethod
    def url(value: str) -> MetadataValue:
        return MetadataValue("url", str(value))

    @staticmethod
    def path(value: str | os.PathLike[str]) -> MetadataValue:
        return MetadataValue("path", os.fspath(value))

    @staticmethod
    def bool(value: bool) -> MetadataValue:
        return MetadataValue("bool", bool(value))

    @staticmethod
    def null() -> MetadataValue:
        return MetadataValue("null", None)

    @staticmethod
    def timestamp(value: builtins.float) -> MetadataValue:
        return MetadataValue("timestamp", float(value))

    @staticmethod
    def table(records: Sequence[TableRecord], schema: TableSchema | None = None) -> MetadataValue:
        return MetadataValue("table", {"records": tuple(records), "schema": schema})

    @staticmethod
    def table_schema(schema: TableSchema) -> MetadataValue:
        return MetadataValue("table_schema", schema)

    @staticmethod
    def column_lineage(lineage: TableColumnLineage) -> MetadataValue:
        if not isinstance(lineage, TableColumnLineage):
            raise MetadataError(
                f"MetadataValue.column_lineage takes a TableColumnLineage, got {lineage!r}"
            )
        return MetadataValue("column_lineage", lineage)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "value": _jsonable(self.value)}

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> MetadataValue:
        kind, value = data["type"], data["value"]
        if kind == "table_schema":
            value = _schema_from_json(value)
        elif kind == "column_lineage":
            value = TableColumnLineage.from_json(value)
        elif kind == "table":
            value = {
                "records": tuple(TableRecord(r) for r in value["records"]),
                "schema": _schema_from_json(value["schema"]) if value["schema"] else None,
            }
        return MetadataValue(kind, value)

    def __str__(self) -> str:
        if self.type == "table_schema":
            return ", ".join(f"{c.name}: {c.type}" for c in self.value.columns)
        if self.type == "table":
            return f"table of {len(self.value['records'])} rows"
        if self.type == "column_lineage":
            return "; ".join(
                f"{column} <- "
                + ", ".join(f"{d.asset_key.to_user_string()}.{d.column_name}" for d in deps)
                for column, deps in self.value.deps_by_column.items()
            )
        if self.type == "json":
            return json.dumps(self.value)
        return str(self.value)


def _schema_from_json(value: Mapping[str, Any]) -> TableSchema:
    return TableSchema([TableColumn(**c) for c in value["columns"]])


_PLAIN = (str, int, bool, type(None))


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN:  # most metadata: answered before any protocol probing
        return value
    if hasattr(value, "to_json"):
        return value.to_json()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


RawMetadata = Mapping[str, Any]


def normalize_metadata(
    metadata: RawMetadata | None, *, where: str = ""
) -> dict[str, MetadataValue]:
    """Coerce plain Python values (ints, strings, dicts, paths, numpy scalars) to MetadataValues."""
    if not metadata:
        return {}
    return {str(k): _storable(v, key=str(k), where=where) for k, v in metadata.items()}


_JSON_SCALARS = frozenset({float, str, bool, type(None)})


def _storable(value: Any, *, key: str, where: str) -> MetadataValue:
    """``value`` as a MetadataValue the store can write as JSON, checked here, at the call
    that made it: a value that fails later would cost the whole batch of events."""
    try:
        coerced = coerce_metadata_value(value, key=key, where=where)
        raw = coerced.value
        # Most metadata is a plain scalar, which is always storable; an int of thousands of
        # digits is not (Python's int-to-string limit), so only a machine-sized one skips.
        if type(raw) not in _JSON_SCALARS and not (type(raw) is int and raw.bit_length() < 64):
            json.dumps(coerced.to_json(), allow_nan=True)
    except MetadataError:
        raise
    except (TypeError, ValueError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise MetadataError(f"Metadata entry {key!r}{_of(where)} cannot be stored: {why}") from None
    return coerced


def _of(where: str) -> str:
    return f" of {where}" if where else ""


def coerce_metadata_value(value: Any, *, key: str = "", where: str = "") -> MetadataValue:
    if isinstance(value, MetadataValue):
        return value
    if value is None:
        return MetadataValue.null()
    if isinstance(value, bool):
        return MetadataValue.bool(value)
    if isinstance(value, int):
        return MetadataValue.int(value)
    if isinstance(value, float):
        return MetadataValue.float(value)
    if isinstance(value, str):
        return MetadataValue.text(value)
    if isinstance(value, os.PathLike):
        return MetadataValue.path(value)
    if isinstance(value, TableSchema):
        return MetadataValue.table_schema(value)
    if isinstance(value, TableColumnLineage):
        return MetadataValue.column_lineage(value)
    # numpy scalars and similar: .item() gives the Python value without importing numpy.
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return coerce_metadata_value(item(), key=key, where=where)
    if isinstance(value, Mapping | list | tuple):
        try:
            return MetadataValue.json(_jsonable(value))
        except TypeError:
            pass
    raise MetadataError(
        f"Metadata entry {key!r}{_of(where)} has a value of type {type(value).__name__} that "
        "cannot be stored; wrap it in a MetadataValue (e.g. MetadataValue.text(str(value)))"
    )


def metadata_to_json(metadata: Mapping[str, MetadataValue]) -> dict[str, Any]:
    return {k: v.to_json() for k, v in metadata.items()}


def metadata_from_json(data: Mapping[str, Any] | None) -> dict[str, MetadataValue]:
    return {k: MetadataValue.from_json(v) for k, v in (data or {}).items()}
