"""Column types by name: what a Polars column's type is called, and when two names agree.

Schemas are recorded and compared as text (``TableSchema``), so a schema recorded today
compares with a frame next month, and a user may declare types the way Polars, Arrow or pandas
spell them. Two names are the same type when their *base names* agree after lower-casing and
the aliases below: parameters in ``(...)``, ``[...]`` or ``<...>`` are ignored, so time units
and zones, Decimal precision and the inner types of List/Array/Struct do not count. Storage
round trips change time units, and Arrow and Polars spell nested types differently, so
comparing them would report changes nobody made.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from ..declarations.metadata import TableColumn, TableSchema

if TYPE_CHECKING:
    import polars as pl

# Other libraries' names (and Polars' short ones) -> the lower-cased Polars base name.
# "int" and "float" are absent on purpose: their width differs between Python, Arrow and SQL,
# except Arrow's own "float" (32 bits) and "double", which Arrow schemas print.
_ALIASES = {
    "str": "string",
    "utf8": "string",
    "large_string": "string",
    "large_utf8": "string",
    "string_view": "string",
    "utf8_view": "string",
    "bool": "boolean",
    "i8": "int8",
    "i16": "int16",
    "i32": "int32",
    "i64": "int64",
    "i128": "int128",
    "u8": "uint8",
    "u16": "uint16",
    "u32": "uint32",
    "u64": "uint64",
    "u128": "uint128",
    "f16": "float16",
    "halffloat": "float16",
    "f32": "float32",
    "float": "float32",
    "f64": "float64",
    "double": "float64",
    "date32": "date",
    "date64": "datetime",  # Polars reads Arrow date64 (milliseconds) as Datetime
    "timestamp": "datetime",
    "datetime64": "datetime",
    "time32": "time",
    "time64": "time",
    "timedelta64": "duration",
    "large_binary": "binary",
    "binary_view": "binary",
    "fixed_size_binary": "binary",
    "large_list": "list",
    "list_view": "list",
    "large_list_view": "list",
    "fixed_size_list": "array",
    "decimal32": "decimal",
    "decimal64": "decimal",
    "decimal128": "decimal",
    "decimal256": "decimal",
    "dictionary": "categorical",
    "category": "categorical",
    "cat": "categorical",
}

_PARAMETERS = re.compile(r"[(\[<]")
_MAX_NAME = 100  # an Enum's name lists every category; keep recorded schemas small


def dtype_name(dtype: Any) -> str:
    """Polars' own name for a dtype, e.g. ``Int64`` or ``List(String)``, cut at 100 characters."""
    name = str(dtype)
    return name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 1] + "…"


def canonical_dtype(name: str) -> str:
    """The name two types are compared by: ``timestamp[us, tz=UTC]`` -> ``datetime``."""
    base = _PARAMETERS.split(name, maxsplit=1)[0].strip().lower()
    return _ALIASES.get(base, base)


def same_dtype(a: str, b: str) -> bool:
    return canonical_dtype(a) == canonical_dtype(b)


def table_schema(schema: pl.Schema | Mapping[str, Any]) -> TableSchema:
    """A Polars schema as a TableSchema of dtype names, in column order."""
    return TableSchema([TableColumn(name, dtype_name(dtype)) for name, dtype in schema.items()])


class Retyped(NamedTuple):
    name: str
    actual: str
    expected: str


@dataclass(frozen=True, slots=True)
class SchemaDiff:
    """How a frame's columns differ from a reference schema; column order does not count."""

    missing: tuple[TableColumn, ...]  # in the reference, not in the frame
    unexpected: tuple[TableColumn, ...]  # in the frame, not in the reference
    retyped: tuple[Retyped, ...]

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.retyped)

    def lines(self, reference: str = "declared") -> list[str]:
        """One line per difference; ``reference`` names the expected side of a retyped column."""
        return [
            *(f"missing column '{c.name}' ({c.type})" for c in self.missing),
            *(f"unexpected column '{c.name}' ({c.type})" for c in self.unexpected),
            *(f"column '{r.name}' is {r.actual}, {reference} {r.expected}" for r in self.retyped),
        ]


def diff_schemas(actual: TableSchema, expected: TableSchema) -> SchemaDiff:
    have = {c.name: c.type for c in actual.columns}
    want = {c.name: c.type for c in expected.columns}
    return SchemaDiff(
        missing=tuple(c for c in expected.columns if c.name not in have),
        unexpected=tuple(c for c in actual.columns if c.name not in want),
        retyped=tuple(
            Retyped(name, have[name], declared)
            for name, declared in want.items()
            if name in have and not same_dtype(have[name], declared)
        ),
    )
