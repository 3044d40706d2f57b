"""A look at an asset's stored value: the first rows of a frame, or a short text of anything
else, read off the event loop and cheap whatever the size (a Parquet file is scanned for its
first rows only, never loaded whole)."""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..declarations.keys import AssetKey
from ..frames.convert import to_polars
from ..frames.kind import frame_kind
from ..storage.io_managers import InputContext, IOManager
from ..storage.records import MaterializationRecord

_TEXT = reprlib.Repr()
_TEXT.maxstring, _TEXT.maxother, _TEXT.maxlist, _TEXT.maxdict = 2000, 2000, 50, 50


@dataclass(frozen=True, slots=True)
class Preview:
    """``frame`` (a Polars DataFrame of the first rows) for a frame, else ``text``."""

    frame: Any = None
    total_rows: int | None = None
    text: str | None = None


def read_preview(key: AssetKey, record: MaterializationRecord, manager: Any, limit: int) -> Preview:
    """The first ``limit`` rows of what ``record`` stored (through ``manager``, the IO
    manager that stored it, unless it is a Parquet file to scan)."""
    rows = record.metadata.get("dagster/row_count")
    total = int(rows.value) if rows is not None else None
    path = record.metadata.get("path")
    if path is not None and str(path.value).endswith(".parquet") and Path(path.value).is_file():
        import polars as pl

        return Preview(frame=pl.scan_parquet(path.value).head(limit).collect(), total_rows=total)
    if not isinstance(manager, IOManager):
        return Preview(text=f"its IO manager {manager!r} cannot be read from here")
    try:
        value = manager.load_input(InputContext(key, partition_key=record.partition_key))
    except Exception as exc:  # a preview says why, it never fails the screen
        return Preview(text=f"cannot read the stored value: {type(exc).__name__}: {exc}")
    if frame_kind(value) is not None:
        frame = to_polars(value)
        return Preview(frame=frame.head(limit), total_rows=total or frame.height)
    return Preview(text=_TEXT.repr(value))
