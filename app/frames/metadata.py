"""Metadata recorded for every materialized frame: its row count, column schema and a preview.

It runs after each materialization, so it stays cheap: the row count is the frame's own
length, and the schema and preview come from its first five rows, the only rows converted to
Polars. Types are Polars dtype names (``frames.dtypes``), whatever library made the frame,
so a schema recorded here compares equal to the same frame later. A pandas frame's named
index levels appear as columns, unnamed ones not (``frames.convert``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import TYPE_CHECKING, Any

from ..declarations.metadata import MetadataValue, TableRecord
from ..declarations.metadata_sets import COLUMN_SCHEMA, ROW_COUNT
from .convert import polars_head
from .dtypes import table_schema
from .kind import frame_kind

if TYPE_CHECKING:
    import polars as pl

PREVIEW_ROWS = 5
# Cells are stored with every materialization: cut long text and long lists (embeddings).
_MAX_TEXT = 200
_MAX_ITEMS = 10


def frame_metadata(value: Any) -> dict[str, MetadataValue] | None:
    """``dagster/row_count``, ``dagster/column_schema`` and ``millrace/preview`` for a Polars,
    Arrow or pandas frame (the row count alone for one Polars cannot represent); None for
    anything else, a LazyFrame included (counting its rows would run its whole plan)."""
    kind = frame_kind(value)
    if kind is None or kind == "lazy":
        return None
    rows = value.num_rows if kind == "arrow" else len(value)
    metadata = {ROW_COUNT: MetadataValue.int(rows)}
    try:
        head = polars_head(value, PREVIEW_ROWS)
    except Exception:
        # Polars cannot hold every frame (duplicate column names, mixed-type pandas object
        # columns); automatic metadata must never fail the materialization it describes.
        return metadata
    metadata[COLUMN_SCHEMA] = MetadataValue.table_schema(table_schema(head.schema))
    metadata["millrace/preview"] = rows_table(head)
    return metadata


def rows_table(df: pl.DataFrame, limit: int = PREVIEW_ROWS) -> MetadataValue:
    """The first ``limit`` rows as a metadata table with JSON-safe cells and the frame's schema."""
    records = [
        TableRecord({name: json_safe(cell) for name, cell in row.items()})
        for row in df.head(limit).iter_rows(named=True)
    ]
    return MetadataValue.table(records=records, schema=table_schema(df.schema))


def json_safe(value: Any) -> Any:
    """A cell as JSON: dates and times in ISO format, decimals and durations as text, NaN and
    infinities as ``"nan"``/``"inf"``, bytes as hex; long text and lists are cut short."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _cut(value)
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, bytes):
        return _cut(value.hex())
    if isinstance(value, list | tuple):
        items = [json_safe(v) for v in value[:_MAX_ITEMS]]
        if len(value) > _MAX_ITEMS:
            items.append(f"… {len(value)} items")
        return items
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return _cut(str(value))  # Decimal, timedelta, an Object column's Python objects


def _cut(text: str) -> str:
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "…"
