"""Built-in asset checks, evaluated with Polars: ``not_null``, ``unique``, ``row_count``,
``accepted_values``, ``schema_equals``, ``schema_unchanged`` and ``expression``.

    from millrace import Definitions, checks

    defs = Definitions(
        assets=[orders],
        asset_checks=[
            checks.not_null(orders, "customer_id"),
            checks.unique(orders, ["order_id", "line"]),
            checks.expression(orders, pl.col("amount") > 0, name="positive_amount"),
        ],
    )

Each factory returns an ordinary ``AssetChecksDefinition``. Its function receives the asset's
stored value (a Polars DataFrame or LazyFrame, an Arrow Table or a pandas DataFrame), converts
it to a Polars DataFrame and evaluates Polars expressions. A failed check's metadata holds the
counts and up to five offending rows (``offending_rows``).

Nulls are violations of ``not_null`` only. ``unique``, ``accepted_values`` and ``expression``
treat a null as unknown, not wrong, as SQL and dbt's tests do: ``unique`` ignores rows with a
null in a key column, ``accepted_values`` accepts a null, and a row for which ``expression``
is null (``pl.col("amount") > 0`` on a null amount) does not violate it. Pair them with
``not_null`` to forbid nulls. A pandas NaN is a null (``pl.from_pandas`` converts it); in
Polars, NaN is a float value.
"""

from __future__ import annotations

import inspect
import keyword
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .declarations.checks import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    asset_check,
)
from .declarations.keys import AssetKey, coerce_key
from .declarations.metadata import MetadataValue, TableColumn, TableSchema
from .declarations.source import caller_location
from .frames.convert import to_polars
from .frames.dtypes import SchemaDiff, diff_schemas, dtype_name, table_schema
from .frames.metadata import json_safe, rows_table

if TYPE_CHECKING:
    import polars as pl

    from .execution.context import AssetExecutionContext

__all__ = [
    "accepted_values",
    "expression",
    "not_null",
    "row_count",
    "schema_equals",
    "schema_unchanged",
    "unique",
]

OFFENDING_ROWS = 5
_LISTED = 10  # columns or values named in a description, distinct unexpected values kept
_VIOLATED = "__millrace_violated__"


@dataclass(frozen=True, slots=True)
class _Verdict:
    passed: bool
    description: str
    metadata: dict[str, Any]


Evaluate = Callable[["pl.DataFrame", "AssetExecutionContext"], _Verdict]


def not_null(
    asset: Any,
    columns: str | Sequence[str],
    *,
    name: str | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    description: str | None = None,
) -> AssetChecksDefinition:
    """No null in any of ``columns``; metadata ``null_count`` maps each column to its nulls."""
    cols = _column_list(columns)

    def evaluate(df: pl.DataFrame, context: AssetExecutionContext) -> _Verdict:
        import polars as pl

        counts = df.select(pl.col(cols).null_count()).row(0, named=True)
        metadata = {"null_count": counts, "row_count": df.height}
        found = ", ".join(f"{c} has {_plural(n, 'null')}" for c, n in counts.items() if n)
        if not found:
            return _Verdict(
                True, f"no nulls in {_label(cols)} ({_plural(df.height, 'row')})", metadata
            )
        offending = df.lazy().filter(pl.any_horizontal(pl.col(cols).is_null()))
        return _failed(f"{found} (of {_plural(df.height, 'row')})", metadata, offending)

    return _define(
        asset,
        name=name or _default_name("not_null", cols),
        description=description or f"no nulls in {_label(cols)}",
        blocking=blocking,
        severity=severity,
        evaluate=evaluate,
        columns=cols,
    )


def unique(
    asset: Any,
    columns: str | Sequence[str],
    *,
    name: str | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    description: str | None = None,
) -> AssetChecksDefinition:
    """No two rows share a value of ``columns`` (their combination, when several); rows with a
    null in any of them are ignored. ``duplicate_count`` counts every row of a repeated key."""
    cols = _column_list(columns)

    def evaluate(df: pl.DataFrame, context: AssetExecutionContext) -> _Verdict:
        import polars as pl

        repeated = df.lazy().drop_nulls(cols).filter(pl.struct(cols).is_duplicated())
        count = repeated.select(pl.len()).collect().item()
        metadata = {"duplicate_count": count, "row_count": df.height}
        if count == 0:
            return _Verdict(
                True, f"{_label(cols)} is unique ({_plural(df.height, 'row')})", metadata
            )
        text = f"duplicate {_label(cols)} in {_share(count, df.height)}"
        # Sorted by key, so the offending rows show the duplicates side by side.
        return _failed(text, metadata, repeated.sort(cols, maintain_order=True))

    return _define(
        asset,
        name=name or _default_name("unique", cols),
        description=description or f"{_label(cols)} is unique",
        blocking=blocking,
        severity=severity,
        evaluate=evaluate,
        columns=cols,
    )


def row_count(
    asset: Any,
    min: int | None = None,
    max: int | None = None,
    *,
    name: str | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    description: str | None = None,
) -> AssetChecksDefinition:
    """The frame has at least ``min`` and at most ``max`` rows (both inclusive)."""
    if min is None and max is None:
        raise ValueError("row_count needs min, max or both")
    if min is not None and max is not None and min > max:
        raise ValueError(f"row_count: min ({min}) is greater than max ({max})")
    bounds = _bounds_text(min, max)
    limits = {k: v for k, v in {"min": min, "max": max}.items() if v is not None}

    def evaluate(df: pl.DataFrame, context: AssetExecutionContext) -> _Verdict:
        rows = df.height
        metadata = {"row_count": rows, **limits}
        passed = (min is None or rows >= min) and (max is None or rows <= max)
        return _Verdict(passed, f"{_plural(rows, 'row')}, expected {bounds}", metadata)

    return _define(
        asset,
        name=name or "row_count",
        description=description or f"{bounds} rows",
        blocking=blocking,
        severity=severity,
        evaluate=evaluate,
    )


def accepted_values(
    asset: Any,
    column: str,
    values: Iterable[Any],
    *,
    name: str | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    description: str | None = None,
) -> AssetChecksDefinition:
    """Every non-null value of ``column`` is one of ``values``; ``unexpected_values`` lists up
    to ten distinct others."""
    accepted = list(values)

    def evaluate(df: pl.DataFrame, context: AssetExecutionContext) -> _Verdict:
        import polars as pl

        col = pl.col(column)
        outside = df.lazy().filter(col.is_not_null() & ~col.is_in(accepted))
        count = outside.select(pl.len()).collect().item()
        metadata: dict[str, Any] = {"violation_count": count, "row_count": df.height}
        if count == 0:
            return _Verdict(
                True, f"{column} has only accepted values ({_plural(df.height, 'row')})", metadata
            )
        seen = outside.select(col.unique(maintain_order=True).head(_LISTED)).collect()
        unexpected = [json_safe(v) for v in seen.to_series()]
        metadata["unexpected_values"] = unexpected
        shown = ", ".join(repr(v) for v in unexpected)
        text = f"{column} outside the accepted values in {_share(count, df.height)}: {shown}"
        return _failed(text, metadata, outside)

    return _define(
        asset,
        name=name or _default_name("accepted_values", [column]),
        description=description or f"{column} is one of {_values_text(accepted)}",
        blocking=blocking,
        severity=severity,
        evaluate=evaluate,
        columns=[column],
    )


def schema_equals(
    asset: Any,
    schema: TableSchema | Mapping[str, Any],
    *,
    name: str | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    description: str | None = None,
) -> AssetChecksDefinition:
    """The frame has exactly the columns of ``schema`` (a TableSchema, or a mapping of column
    name to a dtype name or Polars dtype), in any order, with the same types as compared by
    ``millrace.frames.dtypes``: ``"str"``, ``"Utf8"`` and ``pl.String`` are one type."""
    declared = schema if isinstance(schema, TableSchema) else _schema_from_mapping(schema)

    def evaluate(df: pl.DataFrame, context: AssetExecutionContext) -> _Verdict:
        return _compare_schemas(table_schema(df.schema), declared, "declared")

    return _define(
        asset,
        name=name or "schema_equals",
        description=description or f"columns are {_schema_text(declared)}",
        blocking=blocking,
        severity=severity,
        evaluate=evaluate,
    )


def schema_unchanged(
    asset: Any,
    *,
    name: str | None = None,
    blocking: bool = False,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    description: str | None = None,
) -> AssetChecksDefinition:
    """The frame's columns and types equal the ``dagster/column_schema`` recorded with the
    asset's previous materialization (``context.previous_materialization``); passes when there
    is nothing to compare with."""

    def evaluate(df: pl.DataFrame, context: AssetExecutionContext) -> _Verdict:
        previous = context.previous_materialization
        if previous is None:
            return _Verdict(True, "never materialized before: no schema to compare with", {})
        recorded = previous.metadata.get("dagster/column_schema")
        if recorded is None:
            return _Verdict(
                True, "the previous materialization recorded no column schema to compare with", {}
            )
        return _compare_schemas(table_schema(df.schema), recorded.value, "previously")

    return _define(
        asset,
        name=name or "schema_unchanged",
        description=description or "column schema unchanged since the previous materialization",
        blocking=blocking,
        severity=severity,
        evaluate=evaluate,
    )


def expression(
    asset: Any,
    expr: pl.Expr,
    *,
    name: str,
    blocking: bool = False,
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
    description: str | None = None,
) -> AssetChecksDefinition:
    """Every row satisfies the boolean Polars expression ``expr`` (``pl.col("amount") > 0``);
    one that yields several columns must hold for all of them. A row where ``expr`` is null
    does not violate it. ``name`` is required: no good one can be derived from an expression.
    """

    def evaluate(df: pl.DataFrame, context: AssetExecutionContext) -> _Verdict:
        import polars as pl

        # with_columns broadcasts a scalar result (``pl.col("a").sum() > 0``) to every row.
        flagged = df.lazy().with_columns(pl.all_horizontal(expr).not_().alias(_VIOLATED))
        count = flagged.select(pl.col(_VIOLATED).sum()).collect().item()
        metadata = {"violation_count": count, "row_count": df.height}
        if count == 0:
            return _Verdict(
                True, f"every row satisfies {expr} ({_plural(df.height, 'row')})", metadata
            )
        offending = flagged.filter(pl.col(_VIOLATED)).drop(_VIOLATED)
        return _failed(f"{expr} does not hold in {_share(count, df.height)}", metadata, offending)

    return _define(
        asset,
        name=name,
        description=description or f"every row satisfies {expr}",
        blocking=blocking,
        severity=severity,
        evaluate=evaluate,
    )


def _define(
    asset: Any,
    *,
    name: str,
    description: str,
    blocking: bool,
    severity: AssetCheckSeverity,
    evaluate: Evaluate,
    columns: Sequence[str] = (),
) -> AssetChecksDefinition:
    """An @asset_check whose function converts the asset's value to Polars and evaluates."""
    if not isinstance(severity, AssetCheckSeverity):
        raise TypeError(f"check {name!r}: severity must be AssetCheckSeverity.ERROR or .WARN")
    key = coerce_key(asset)
    param = _param_name(key)

    def check(context: AssetExecutionContext, **value: Any) -> AssetCheckResult:
        df = to_polars(value[param])
        absent = [c for c in columns if c not in df.columns]
        verdict = _absent_columns(df, absent) if absent else evaluate(df, context)
        return AssetCheckResult(
            passed=verdict.passed,
            asset_key=key,
            check_name=name,
            metadata=verdict.metadata,
            severity=severity,
            description=verdict.description,
        )

    # asset_check reads the signature: ``context`` and one parameter named after the asset,
    # as a hand-written check would have.
    check.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [
            inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            inspect.Parameter(param, inspect.Parameter.KEYWORD_ONLY),
        ]
    )
    definition = asset_check(
        check, asset=key, name=name, description=description, blocking=blocking
    )
    # Errors about this check should point at the user's call, not at this module.
    definition.source = caller_location(depth=3)
    return definition


def _param_name(key: AssetKey) -> str:
    """``orders`` for ``sales/orders``; made a valid identifier that is not ``context``."""
    name = re.sub(r"\W", "_", key.path[-1])
    if not name.isidentifier() or keyword.iskeyword(name) or name == "context":
        name = f"asset_{name}"
    return name


def _column_list(columns: str | Sequence[str]) -> list[str]:
    cols = [columns] if isinstance(columns, str) else list(columns)
    if not cols:
        raise ValueError("give at least one column")
    return cols


def _default_name(prefix: str, columns: Sequence[str]) -> str:
    return "_".join([prefix, *(re.sub(r"\W+", "_", c) for c in columns)])


def _label(columns: Sequence[str]) -> str:
    return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _share(count: int, total: int) -> str:
    return f"{count} of {_plural(total, 'row')}"


def _bounds_text(low: int | None, high: int | None) -> str:
    if high is None:
        return f"at least {low}"
    if low is None:
        return f"at most {high}"
    return f"between {low} and {high}"


def _failed(description: str, metadata: dict[str, Any], offending: pl.LazyFrame) -> _Verdict:
    # head() on the lazy query lets Polars stop after the rows it shows.
    rows = offending.head(OFFENDING_ROWS).collect()
    return _Verdict(False, description, {**metadata, "offending_rows": rows_table(rows)})


def _absent_columns(df: pl.DataFrame, absent: list[str]) -> _Verdict:
    names = ", ".join(repr(c) for c in absent)
    have = ", ".join(df.columns[:_LISTED]) + (", …" if df.width > _LISTED else "")
    return _Verdict(
        False, f"no column {names} in the frame (columns: {have})", {"missing_columns": absent}
    )


def _values_text(values: list[Any]) -> str:
    if len(values) > _LISTED:
        return f"{len(values)} accepted values"
    return ", ".join(repr(v) for v in values)


def _schema_from_mapping(schema: Mapping[str, Any]) -> TableSchema:
    return TableSchema(
        [TableColumn(c, t if isinstance(t, str) else dtype_name(t)) for c, t in schema.items()]
    )


def _schema_text(schema: TableSchema) -> str:
    return ", ".join(f"{c.name}: {c.type}" for c in schema.columns) or "none"


def _compare_schemas(actual: TableSchema, expected: TableSchema, reference: str) -> _Verdict:
    """``reference`` names the expected side in a retyped line: "is Float32, declared Float64"."""
    diff = diff_schemas(actual, expected)
    metadata = {**_diff_metadata(diff), "column_schema": MetadataValue.table_schema(actual)}
    if diff:
        return _Verdict(False, "; ".join(diff.lines(reference)), metadata)
    agreed = "as declared" if reference == "declared" else "unchanged"
    return _Verdict(True, f"{_plural(len(actual.columns), 'column')}, {agreed}", metadata)


def _diff_metadata(diff: SchemaDiff) -> dict[str, Any]:
    return {
        "missing_columns": {c.name: c.type for c in diff.missing},
        "unexpected_columns": {c.name: c.type for c in diff.unexpected},
        "retyped_columns": {
            r.name: {"actual": r.actual, "expected": r.expected} for r in diff.retyped
        },
    }
