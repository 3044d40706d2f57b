"""Any frame as Polars: checks, schema comparison and frame metadata all read frames this way.

Polars, Arrow and pandas are imported only when a frame of theirs arrives (``frame_kind`` looks
at already-imported modules), so importing this module costs nothing.

A pandas index becomes columns only where the user named it (``set_index("id")``): named
levels are data, unnamed ones are row labels that change with every filter, and turning them
into a ``None`` column (as ``pl.from_pandas(include_index=True)`` does) would make a frame's
schema flip between runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .kind import frame_kind

if TYPE_CHECKING:
    import polars as pl


def to_polars(value: Any) -> pl.DataFrame:
    """The whole frame as a Polars DataFrame; a LazyFrame is collected."""
    import polars as pl

    kind = _require_frame(value)
    if kind == "polars":
        return value
    if kind == "lazy":
        return value.collect()
    if kind == "arrow":
        return pl.DataFrame(pl.from_arrow(value))
    return pl.DataFrame(pl.from_pandas(_named_index_as_columns(value)))


def polars_head(value: Any, n: int) -> pl.DataFrame:
    """The first ``n`` rows as Polars, converting only those rows (a LazyFrame runs its plan
    only as far as ``n`` rows need)."""
    import polars as pl

    kind = _require_frame(value)
    if kind == "polars":
        return value.head(n)
    if kind == "lazy":
        return value.head(n).collect()
    if kind == "arrow":
        return pl.DataFrame(pl.from_arrow(value.slice(0, n)))
    return pl.DataFrame(pl.from_pandas(_named_index_as_columns(value.head(n))))


def polars_schema(value: Any) -> pl.Schema:
    """The frame's Polars schema, reading no rows (a LazyFrame's plan is resolved, not run)."""
    if _require_frame(value) == "lazy":
        return value.collect_schema()
    return polars_head(value, 0).schema


def _require_frame(value: Any) -> str:
    kind = frame_kind(value)
    if kind is None:
        raise TypeError(
            f"expected a Polars, Arrow or pandas data frame, got {type(value).__name__}"
        )
    return kind


def _named_index_as_columns(df: Any) -> Any:
    # A level named like an existing column stays an index: reset_index would refuse it.
    named = [n for n in df.index.names if n is not None and n not in df.columns]
    return df.reset_index(level=named) if named else df
