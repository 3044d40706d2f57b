"""Frames as Parquet files: Polars, Arrow and pandas written as their library writes them,
read back as the annotation (or the file) says; a frame Parquet cannot hold is said so."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

_KIND_KEY = b"millrace.kind"


class NotParquet(Exception):
    """A frame Parquet cannot hold; the message says which column and why."""


def parquet_writer(obj: Any, kind: str) -> Callable[[Path], None]:
    """How to write frame ``obj`` as Parquet; raises ``NotParquet``, now or when writing,
    for a frame Parquet cannot hold."""
    if kind == "polars":
        import polars as pl

        objects = [name for name, dtype in obj.schema.items() if dtype == pl.Object]
        if objects:
            raise NotParquet(f"column {objects[0]!r} is of dtype Object, which Parquet lacks")
        return lambda path: _write_polars(obj, path)
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "pandas":
        try:
            table = pa.Table.from_pandas(obj)  # keeps the index in pandas' schema metadata
        except (pa.ArrowException, ValueError, TypeError) as exc:
            raise NotParquet(_pandas_problem(obj, exc)) from exc
    else:
        table = obj.replace_schema_metadata({**(obj.schema.metadata or {}), _KIND_KEY: b"arrow"})

    def write(path: Path) -> None:
        try:
            pq.write_table(table, path)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise NotParquet(_arrow_problem(table, exc)) from exc

    return write


def _write_polars(frame: Any, path: Path) -> None:
    """Polars says a failing disk in a ComputeError ("... (os error 28)"): an OSError here."""
    import polars as pl

    try:
        frame.write_parquet(path)
    except pl.exceptions.PolarsError as exc:
        found = re.search(r"\(os error (\d+)\)", str(exc))
        if found is None:
            raise
        code = int(found[1])
        raise OSError(code, os.strerror(code)) from exc


def _pandas_problem(frame: Any, exc: Exception) -> str:
    """Which part of a pandas frame Arrow could not convert, and why."""
    import pyarrow as pa

    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        return f"column names {repeated} repeat, and Parquet names each column once"
    for i, name in enumerate(frame.columns):
        try:
            pa.Table.from_pandas(frame.iloc[:, [i]], preserve_index=False)
        except (pa.ArrowException, ValueError, TypeError) as column_exc:
            return f"column {name!r} cannot be stored as Parquet ({_message(column_exc)})"
    return f"its index cannot be stored as Parquet ({_message(exc)})"


def _arrow_problem(table: Any, exc: Exception) -> str:
    """Which column of an Arrow table Parquet cannot hold, and why."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    for field in table.schema:
        try:
            pq.ParquetWriter(pa.BufferOutputStream(), pa.schema([field])).close()
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            return f"column {field.name!r} of type {field.type} cannot be stored as Parquet"
    return f"it cannot be stored as Parquet ({_message(exc)})"


def _message(exc: Exception) -> str:
    """Arrow's first argument is the reason; the rest repeats where it happened."""
    first = exc.args[0] if exc.args else exc
    return str(first)


def _annotation_kind(annotation: Any) -> str | None:
    if annotation is None or isinstance(annotation, str):
        return None
    module = getattr(annotation, "__module__", "").partition(".")[0]
    name = getattr(annotation, "__name__", "")
    if module == "polars" and name in ("DataFrame", "LazyFrame"):
        return "lazy" if name == "LazyFrame" else "polars"
    if module == "pyarrow" and name == "Table":
        return "arrow"
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    return None


def read_frame(path: Path, annotation: Any) -> Any:
    kind = _annotation_kind(annotation)
    if kind is None:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        if b"pandas" in meta and _pandas_available():
            kind = "pandas"
        elif meta.get(_KIND_KEY) == b"arrow":
            kind = "arrow"
        else:
            kind = "polars"
    if kind in ("polars", "lazy"):
        import polars as pl

        if kind == "polars":
            return pl.read_parquet(path)
        pl.read_parquet_schema(path)  # a damaged footer fails here, named, not in user code
        return pl.scan_parquet(path)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.to_pandas() if kind == "pandas" else table


def _pandas_available() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True
