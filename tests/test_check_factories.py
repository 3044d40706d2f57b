"""millrace.checks: each built-in check on Polars, Arrow and pandas frames, its metadata, and the
factories running end to end through Runtime against real Parquet files."""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from millrace import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetKey,
    Definitions,
    MetadataValue,
    RunStatus,
    Runtime,
    TableColumn,
    TableSchema,
    asset,
    checks,
)
from millrace.declarations.checks import AssetChecksDefinition
from millrace.execution.context import AssetExecutionContext
from millrace.frames.metadata import frame_metadata

ORDERS = pl.DataFrame(
    {
        "order_id": [1, 2, 3, 4],
        "customer_id": [10, 11, 12, 13],
        "status": ["paid", "paid", "refunded", "open"],
        "amount": [9.5, 20.0, 3.25, 1.0],
    }
)


def context(previous: Any = None) -> AssetExecutionContext:
    ctx = AssetExecutionContext(run_id="t", asset_key=AssetKey("x"))
    ctx.previous_materialization = previous
    return ctx


def evaluate(check: AssetChecksDefinition, value: Any, previous: Any = None) -> AssetCheckResult:
    """Call the check as the launcher does: context plus the asset's value by parameter name."""
    (spec,) = check.inputs
    return check(context=context(previous), **{spec.param: value})


def meta(result: AssetCheckResult) -> dict[str, Any]:
    return {k: v.value for k, v in result.metadata.items()}


def rows(result: AssetCheckResult) -> list[dict[str, Any]]:
    value = result.metadata["offending_rows"]
    assert value.type == "table"
    return [dict(r.data) for r in value.value["records"]]


# -- definitions -----------------------------------------------------------------------------


def test_factories_build_ordinary_checks_named_after_what_they_check() -> None:
    @asset
    def orders() -> pl.DataFrame:
        return ORDERS

    built = [
        checks.not_null(orders, "customer_id"),
        checks.not_null(orders, ["customer_id", "status"]),
        checks.unique("orders", ["order_id"]),
        checks.unique(AssetKey("orders"), ["customer_id", "order_id"]),
        checks.row_count(orders, min=1),
        checks.accepted_values(orders, "status", ["paid", "open", "refunded"]),
        checks.schema_equals(orders, {"order_id": "Int64"}),
        checks.schema_unchanged(orders),
        checks.expression(orders, pl.col("amount") > 0, name="positive_amount"),
    ]
    assert [c.name for c in built] == [
        "not_null_customer_id",
        "not_null_customer_id_status",
        "unique_order_id",
        "unique_customer_id_order_id",
        "row_count",
        "accepted_values_status",
        "schema_equals",
        "schema_unchanged",
        "positive_amount",
    ]
    assert all(isinstance(c, AssetChecksDefinition) for c in built)
    assert {c.asset_key for c in built} == {AssetKey("orders")}
    assert [i.param for i in built[0].inputs] == ["orders"]
    assert built[0].context_param == "context"
    assert built[0].description == "no nulls in customer_id"
    assert built[5].description == "status is one of 'paid', 'open', 'refunded'"
    # Errors about a built-in check point at the line that built it.
    assert built[0].source is not None
    assert built[0].source.file == __file__


def test_the_value_parameter_is_named_after_the_last_key_component() -> None:
    assert [i.param for i in checks.row_count("sales/orders", min=1).inputs] == ["orders"]
    assert [i.param for i in checks.row_count("raw-orders.v2", min=1).inputs] == ["raw_orders_v2"]
    assert [i.param for i in checks.row_count("context", min=1).inputs] == ["asset_context"]
    assert [i.param for i in checks.row_count("2024", min=1).inputs] == ["asset_2024"]
    assert list(inspect.signature(checks.row_count("class", min=1).fn).parameters) == [
        "context",
        "asset_class",
    ]


def test_name_description_blocking_and_severity_are_passed_through() -> None:
    check = checks.unique(
        "orders",
        "order_id",
        name="order_ids",
        blocking=True,
        severity=AssetCheckSeverity.WARN,
        description="one row per order",
    )
    assert (check.name, check.blocking, check.description) == (
        "order_ids",
        True,
        "one row per order",
    )
    result = evaluate(check, ORDERS.vstack(ORDERS.head(1)))
    assert not result.passed
    assert result.severity is AssetCheckSeverity.WARN
    assert result.check_name == "order_ids"
    assert result.asset_key == AssetKey("orders")


def test_bad_arguments_fail_at_definition() -> None:
    with pytest.raises(ValueError, match="at least one column"):
        checks.not_null("orders", [])
    with pytest.raises(ValueError, match="min, max or both"):
        checks.row_count("orders")
    with pytest.raises(ValueError, match=r"min \(5\) is greater than max \(2\)"):
        checks.row_count("orders", min=5, max=2)
    with pytest.raises(TypeError, match="severity must be"):
        checks.not_null("orders", "a", severity="ERROR")  # type: ignore[arg-type]


def test_a_value_that_is_not_a_frame_is_an_error() -> None:
    with pytest.raises(TypeError, match="expected a Polars, Arrow or pandas data frame, got list"):
        evaluate(checks.row_count("orders", min=1), [1, 2])


def test_a_missing_column_fails_the_check_and_names_the_columns_there_are() -> None:
    result = evaluate(checks.not_null("orders", ["customer_id", "email"]), ORDERS)
    assert not result.passed
    assert result.description == (
        "no column 'email' in the frame (columns: order_id, customer_id, status, amount)"
    )
    assert meta(result) == {"missing_columns": ["email"]}


# -- not_null --------------------------------------------------------------------------------


def test_not_null_passes_without_nulls() -> None:
    result = evaluate(checks.not_null("orders", ["customer_id", "status"]), ORDERS)
    assert result.passed
    assert result.description == "no nulls in (customer_id, status) (4 rows)"
    assert meta(result)["null_count"] == {"customer_id": 0, "status": 0}
    assert "offending_rows" not in result.metadata


def test_not_null_counts_nulls_per_column_and_shows_at_most_five_rows() -> None:
    df = pl.DataFrame(
        {
            "id": list(range(10)),
            "customer_id": [None] * 7 + [1, 2, 3],
            "email": [None, *"abcdefghi"],
        }
    )
    result = evaluate(checks.not_null("orders", ["customer_id", "email"]), df)
    assert not result.passed
    assert result.description == "customer_id has 7 nulls, email has 1 null (of 10 rows)"
    assert meta(result)["null_count"] == {"customer_id": 7, "email": 1}
    assert meta(result)["row_count"] == 10
    assert [r["id"] for r in rows(result)] == [0, 1, 2, 3, 4]
    schema = result.metadata["offending_rows"].value["schema"]
    assert [(c.name, c.type) for c in schema.columns] == [
        ("id", "Int64"),
        ("customer_id", "Int64"),
        ("email", "String"),
    ]


def test_not_null_on_pandas_counts_nan_as_null() -> None:
    df = pd.DataFrame({"amount": [1.0, float("nan"), 3.0], "note": ["a", None, "c"]})
    result = evaluate(checks.not_null("orders", ["amount", "note"]), df)
    assert not result.passed
    assert meta(result)["null_count"] == {"amount": 1, "note": 1}
    assert rows(result) == [{"amount": None, "note": None}]


def test_not_null_on_polars_treats_nan_as_a_value() -> None:
    result = evaluate(checks.not_null("orders", "amount"), pl.DataFrame({"amount": [float("nan")]}))
    assert result.passed


# -- unique ----------------------------------------------------------------------------------


def test_unique_passes_on_distinct_keys() -> None:
    result = evaluate(checks.unique("orders", "order_id"), ORDERS)
    assert result.passed
    assert result.description == "order_id is unique (4 rows)"
    assert meta(result) == {"duplicate_count": 0, "row_count": 4}


def test_unique_counts_every_row_of_a_repeated_key_and_shows_them_side_by_side() -> None:
    df = pl.DataFrame({"order_id": [3, 1, 2, 3, 1, 4], "line": ["a", "b", "c", "d", "e", "f"]})
    result = evaluate(checks.unique("orders", "order_id"), df)
    assert not result.passed
    assert result.description == "duplicate order_id in 4 of 6 rows"
    assert meta(result)["duplicate_count"] == 4
    assert rows(result) == [
        {"order_id": 1, "line": "b"},
        {"order_id": 1, "line": "e"},
        {"order_id": 3, "line": "a"},
        {"order_id": 3, "line": "d"},
    ]


def test_unique_over_several_columns_checks_their_combination() -> None:
    df = pl.DataFrame({"order_id": [1, 1, 2, 2], "line": [1, 2, 1, 1]})
    assert not evaluate(checks.unique("orders", "order_id"), df).passed
    result = evaluate(checks.unique("orders", ["order_id", "line"]), df)
    assert not result.passed
    assert result.description == "duplicate (order_id, line) in 2 of 4 rows"
    assert rows(result) == [{"order_id": 2, "line": 1}, {"order_id": 2, "line": 1}]


def test_unique_ignores_rows_with_a_null_key() -> None:
    df = pl.DataFrame({"order_id": [1, None, None], "line": [1, 1, 1]})
    assert evaluate(checks.unique("orders", "order_id"), df).passed
    assert evaluate(checks.unique("orders", ["order_id", "line"]), df).passed


def test_unique_on_arrow() -> None:
    table = pa.table({"order_id": [1, 2, 2]})
    result = evaluate(checks.unique("orders", "order_id"), table)
    assert not result.passed
    assert rows(result) == [{"order_id": 2}, {"order_id": 2}]
    assert evaluate(checks.unique("orders", "order_id"), pa.table({"order_id": [1, 2]})).passed


# -- row_count -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "passed", "description"),
    [
        ({"min": 4}, True, "4 rows, expected at least 4"),
        ({"min": 5}, False, "4 rows, expected at least 5"),
        ({"max": 4}, True, "4 rows, expected at most 4"),
        ({"max": 3}, False, "4 rows, expected at most 3"),
        ({"min": 1, "max": 10}, True, "4 rows, expected between 1 and 10"),
        ({"min": 5, "max": 10}, False, "4 rows, expected between 5 and 10"),
    ],
)
def test_row_count_bounds_are_inclusive(
    bounds: dict[str, int], passed: bool, description: str
) -> None:
    result = evaluate(checks.row_count("orders", **bounds), ORDERS)
    assert result.passed is passed
    assert result.description == description
    assert meta(result) == {"row_count": 4, **bounds}


def test_row_count_of_an_empty_lazy_frame() -> None:
    result = evaluate(checks.row_count("orders", 1), ORDERS.lazy().filter(pl.col("amount") < 0))
    assert not result.passed
    assert result.description == "0 rows, expected at least 1"


# -- accepted_values -------------------------------------------------------------------------


def test_accepted_values_accepts_nulls() -> None:
    df = pl.DataFrame({"status": ["paid", None, "open"]})
    result = evaluate(checks.accepted_values("orders", "status", {"paid", "open"}), df)
    assert result.passed
    assert meta(result) == {"violation_count": 0, "row_count": 3}


def test_accepted_values_reports_the_values_outside_the_set() -> None:
    df = pl.DataFrame({"id": range(8), "status": ["paid", "void", "lost", "void", *["x"] * 4]})
    result = evaluate(checks.accepted_values("orders", "status", ["paid", "open"]), df)
    assert not result.passed
    assert result.description == (
        "status outside the accepted values in 7 of 8 rows: 'void', 'lost', 'x'"
    )
    assert meta(result)["violation_count"] == 7
    assert meta(result)["unexpected_values"] == ["void", "lost", "x"]
    assert [r["id"] for r in rows(result)] == [1, 2, 3, 4, 5]


def test_accepted_values_on_pandas() -> None:
    df = pd.DataFrame({"quantity": [1, 2, 3, 7]})
    result = evaluate(checks.accepted_values("orders", "quantity", [1, 2, 3]), df)
    assert not result.passed
    assert meta(result)["unexpected_values"] == [7]
    assert rows(result) == [{"quantity": 7}]


# -- schema_equals ---------------------------------------------------------------------------


def test_schema_equals_accepts_aliases_from_polars_arrow_and_pandas() -> None:
    declared = {
        "order_id": "i64",
        "customer_id": pl.Int64,
        "status": "large_string",
        "amount": "double",
    }
    result = evaluate(checks.schema_equals("orders", declared), ORDERS)
    assert result.passed, result.description
    assert result.description == "4 columns, as declared"
    table = TableSchema(
        [
            TableColumn("amount", "float64"),
            TableColumn("status", "str"),
            TableColumn("customer_id", "int64"),
            TableColumn("order_id", "Int64"),
        ]
    )
    assert evaluate(checks.schema_equals("orders", table), ORDERS).passed


def test_schema_equals_reports_missing_unexpected_and_retyped_columns() -> None:
    declared = TableSchema(
        [
            TableColumn("order_id", "Int64"),
            TableColumn("placed_at", "Datetime"),
            TableColumn("amount", "Float32"),
        ]
    )
    result = evaluate(checks.schema_equals("orders", declared), ORDERS)
    assert not result.passed
    assert result.description == (
        "missing column 'placed_at' (Datetime); unexpected column 'customer_id' (Int64); "
        "unexpected column 'status' (String); column 'amount' is Float64, declared Float32"
    )
    assert meta(result)["missing_columns"] == {"placed_at": "Datetime"}
    assert meta(result)["unexpected_columns"] == {"customer_id": "Int64", "status": "String"}
    assert meta(result)["retyped_columns"] == {
        "amount": {"actual": "Float64", "expected": "Float32"}
    }
    assert result.metadata["column_schema"].type == "table_schema"


def test_schema_equals_on_arrow_uses_polars_type_names() -> None:
    table = pa.table(
        {
            "day": pa.array([dt.date(2024, 1, 1)]),
            "at": pa.array([dt.datetime(2024, 1, 1)], pa.timestamp("ns", tz="UTC")),
            "name": pa.array(["a"], pa.large_string()),
        }
    )
    declared = {"day": "date32[day]", "at": "timestamp[us]", "name": "String"}
    assert evaluate(checks.schema_equals("events", declared), table).passed
    result = evaluate(checks.schema_equals("events", {**declared, "day": "Datetime"}), table)
    assert result.description == "column 'day' is Date, declared Datetime"


# -- schema_unchanged ------------------------------------------------------------------------


def test_schema_unchanged_passes_when_never_materialized_before() -> None:
    result = evaluate(checks.schema_unchanged("orders"), ORDERS, previous=None)
    assert result.passed
    assert result.description == "never materialized before: no schema to compare with"


def test_schema_unchanged_passes_when_the_previous_materialization_recorded_no_schema() -> None:
    previous = SimpleNamespace(metadata={"path": MetadataValue.path("/tmp/x.pkl")})
    result = evaluate(checks.schema_unchanged("orders"), ORDERS, previous)
    assert result.passed
    assert "recorded no column schema" in (result.description or "")


def test_schema_unchanged_compares_with_the_schema_recorded_for_the_same_frame() -> None:
    for frame in (ORDERS, ORDERS.to_arrow(), ORDERS.to_pandas()):
        previous = SimpleNamespace(metadata=frame_metadata(frame))
        result = evaluate(checks.schema_unchanged("orders"), frame, previous)
        assert result.passed, result.description
        assert result.description == "4 columns, unchanged"


def test_schema_unchanged_reports_what_changed() -> None:
    previous = SimpleNamespace(metadata=frame_metadata(ORDERS))
    changed = ORDERS.drop("status").with_columns(
        pl.col("amount").cast(pl.Float32), note=pl.lit("x")
    )
    result = evaluate(checks.schema_unchanged("orders"), changed, previous)
    assert not result.passed
    assert result.description == (
        "missing column 'status' (String); unexpected column 'note' (String); "
        "column 'amount' is Float32, previously Float64"
    )
    assert meta(result)["retyped_columns"] == {
        "amount": {"actual": "Float32", "expected": "Float64"}
    }


# -- expression ------------------------------------------------------------------------------


def test_expression_passes_when_every_row_satisfies_it() -> None:
    result = evaluate(checks.expression("orders", pl.col("amount") > 0, name="positive"), ORDERS)
    assert result.passed
    assert meta(result) == {"violation_count": 0, "row_count": 4}


def test_expression_counts_violations_and_ignores_null_results() -> None:
    df = pl.DataFrame(
        {"id": range(9), "amount": [1.0, -1.0, None, -2.0, 0.0, -3.0, -4.0, -5.0, 2.0]}
    )
    result = evaluate(checks.expression("orders", pl.col("amount") > 0, name="positive"), df)
    assert not result.passed
    assert result.description == '[(col("amount")) > (dyn int: 0)] does not hold in 6 of 9 rows'
    assert (meta(result)["violation_count"], meta(result)["row_count"]) == (6, 9)
    assert [r["id"] for r in rows(result)] == [1, 3, 4, 5, 6]


def test_expression_can_say_null_is_a_violation() -> None:
    df = pl.DataFrame({"amount": [1.0, None]})
    expr = pl.col("amount").is_not_null() & (pl.col("amount") > 0)
    result = evaluate(checks.expression("orders", expr, name="present_and_positive"), df)
    assert meta(result)["violation_count"] == 1


def test_expression_over_several_columns_must_hold_for_each() -> None:
    df = pl.DataFrame({"low": [1, 2], "high": [3, -1]})
    result = evaluate(checks.expression("ranges", pl.col("low", "high") > 0, name="positive"), df)
    assert meta(result)["violation_count"] == 1
    assert rows(result) == [{"low": 2, "high": -1}]


def test_expression_with_a_scalar_result_applies_to_every_row() -> None:
    result = evaluate(checks.expression("orders", pl.col("amount").sum() > 100, name="big"), ORDERS)
    assert meta(result)["violation_count"] == 4


def test_expression_on_pandas_and_arrow() -> None:
    check = checks.expression("orders", pl.col("status") != "refunded", name="not_refunded")
    for frame in (ORDERS.to_pandas(), ORDERS.to_arrow()):
        result = evaluate(check, frame)
        assert not result.passed
        assert [r["order_id"] for r in rows(result)] == [3]


def test_offending_rows_are_json_safe() -> None:
    df = pl.DataFrame(
        {
            "day": [dt.date(2024, 2, 29)],
            "at": [dt.datetime(2024, 2, 29, 12, 30)],
            "price": [decimal.Decimal("1.50")],
            "took": [dt.timedelta(seconds=90)],
            "ratio": [float("nan")],
            "tags": [["a", "b"]],
        }
    )
    result = evaluate(checks.expression("orders", pl.lit(False), name="never"), df)
    (row,) = rows(result)
    assert row == {
        "day": "2024-02-29",
        "at": "2024-02-29T12:30:00",
        "price": "1.50",
        "took": "0:01:30",
        "ratio": "nan",
        "tags": ["a", "b"],
    }
    json.dumps({k: v.to_json() for k, v in result.metadata.items()}, allow_nan=False)


# -- end to end ------------------------------------------------------------------------------


def evaluations(result) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


async def test_factories_run_in_a_run_on_polars_pandas_and_arrow_assets(home: Path) -> None:
    @asset
    def orders() -> pl.DataFrame:
        return ORDERS.vstack(ORDERS.head(1))

    @asset
    def customers() -> pd.DataFrame:
        return pd.DataFrame({"customer_id": [10, 11], "email": ["a@x", None]})

    @asset
    def events() -> pa.Table:
        return pa.table({"kind": ["view", "buy", "hover"]})

    asset_checks = [
        checks.unique(orders, "order_id"),
        checks.expression(orders, pl.col("amount") > 0, name="positive_amount"),
        checks.not_null(customers, "email", severity=AssetCheckSeverity.WARN),
        checks.schema_equals(customers, {"customer_id": "int64", "email": "str"}),
        checks.accepted_values(events, "kind", ["view", "buy"]),
        checks.row_count(events, min=1, max=3),
    ]
    defs = Definitions(assets=[orders, customers, events], asset_checks=asset_checks)
    async with Runtime(defs) as runtime:
        result = await runtime.materialize()

    assert (home / "storage" / "customers.parquet").is_file()
    found = evaluations(result)
    assert {name: e.passed for name, e in found.items()} == {
        "unique_order_id": False,
        "positive_amount": True,
        "not_null_email": False,
        "schema_equals": True,
        "accepted_values_kind": False,
        "row_count": True,
    }
    assert found["unique_order_id"].metadata["duplicate_count"] == MetadataValue.int(2)
    assert found["not_null_email"].severity == "WARN"
    assert found["not_null_email"].metadata["null_count"].value == {"email": 1}
    assert found["accepted_values_kind"].description == (
        "kind outside the accepted values in 1 of 3 rows: 'hover'"
    )
    assert all(e.error is None for e in found.values())


async def test_a_failed_blocking_factory_check_stops_the_downstream(home: Path) -> None:
    @asset
    def orders() -> pl.DataFrame:
        return pl.DataFrame({"order_id": [1, None]})

    @asset
    def totals(orders: pl.DataFrame) -> int:
        return orders.height

    defs = Definitions(
        assets=[orders, totals],
        asset_checks=[checks.not_null(orders, "order_id", blocking=True)],
    )
    async with Runtime(defs) as runtime:
        result = await runtime.materialize()

    assert result.status is RunStatus.FAILURE
    assert not evaluations(result)["not_null_order_id"].passed
    assert [e.asset_key for e in result.get_step_skipped_events()] == [AssetKey("totals")]


async def test_factory_checks_run_alone_against_stored_data(home: Path) -> None:
    @asset
    def orders() -> pd.DataFrame:
        return ORDERS.to_pandas().set_index("order_id")

    # The stored pandas frame comes back with its named index, a column to the check.
    defs = Definitions(
        assets=[orders],
        asset_checks=[
            checks.unique(orders, "order_id"),
            checks.row_count(orders, max=3),
        ],
    )
    async with Runtime(defs) as runtime:
        await runtime.materialize()
        result = await runtime.submit(plan=runtime.plan(checks_only=True))

    assert result.materialized_keys == []
    assert {n: e.passed for n, e in evaluations(result).items()} == {
        "unique_order_id": True,
        "row_count": False,
    }
