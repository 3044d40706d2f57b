"""``@multi_asset_check`` and the check context, as Dagster documents them; a result's own
severity is what is recorded."""

from __future__ import annotations

from typing import Any

import millrace as dg
import pytest
from millrace.errors import DefinitionsError


@dg.asset
def orders() -> list[int]:
    return [3, 1, 2]


@dg.asset
def customers() -> list[str]:
    return ["a", "b"]


seen: list[Any] = []

SPECS = [
    dg.AssetCheckSpec("not_empty", asset="orders"),
    dg.AssetCheckSpec("sorted", asset="orders", description="ascending"),
    dg.AssetCheckSpec("unique", asset="customers", blocking=True),
]


@dg.multi_asset_check(specs=SPECS, can_subset=True)
def table_checks(context: dg.AssetCheckExecutionContext, orders: list[int]):
    seen.append(sorted(k.to_user_string() for k in context.selected_asset_check_keys))
    selected = context.selected_asset_check_keys
    if dg.AssetCheckKey(dg.AssetKey("orders"), "not_empty") in selected:
        yield dg.AssetCheckResult(asset_key="orders", check_name="not_empty", passed=bool(orders))
    if dg.AssetCheckKey(dg.AssetKey("orders"), "sorted") in selected:
        yield dg.AssetCheckResult(
            asset_key="orders",
            check_name="sorted",
            passed=orders == sorted(orders),
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"first": orders[0]},
        )
    if dg.AssetCheckKey(dg.AssetKey("customers"), "unique") in selected:
        yield dg.AssetCheckResult(asset_key="customers", check_name="unique", passed=True)


@dg.asset(deps=["customers"])
def report() -> int:
    return 1


@pytest.fixture(autouse=True)
def forget() -> None:
    seen.clear()


def evaluations(result: dg.RunResult) -> dict[str, tuple[bool, str]]:
    return {
        f"{e.asset_key.to_user_string()}:{e.check_name}": (e.passed, e.severity)
        for e in result.get_asset_check_evaluations()
    }


def test_one_call_reports_every_check_with_its_own_asset_and_severity():
    result = dg.materialize([orders, customers, table_checks], raise_on_error=False)

    assert seen == [["customers:unique", "orders:not_empty", "orders:sorted"]]  # one call
    assert evaluations(result) == {
        "orders:not_empty": (True, "ERROR"),
        "orders:sorted": (False, "WARN"),  # the result's severity, not a default
        "customers:unique": (True, "ERROR"),
    }
    [sorted_check] = [e for e in result.get_asset_check_evaluations() if e.check_name == "sorted"]
    assert sorted_check.metadata["first"].value == 3
    assert result.success  # a failed WARN check does not fail the run


def test_each_check_is_its_own_node_in_the_graph():
    graph = dg.Definitions(assets=[orders, customers], asset_checks=[table_checks]).graph
    check = graph.checks[dg.AssetCheckKey(dg.AssetKey("orders"), "sorted")]

    assert check.description == "ascending"
    assert graph.checks[dg.AssetCheckKey(dg.AssetKey("customers"), "unique")].blocking
    assert graph.checks_of([dg.AssetKey("customers")]) == [
        dg.AssetCheckKey(dg.AssetKey("customers"), "unique")
    ]
    assert table_checks.check_keys == {spec.key for spec in SPECS}


def test_a_selected_asset_runs_only_its_own_checks_with_context_selected_keys():
    dg.materialize([orders, customers])
    result = dg.materialize([orders, customers, table_checks], selection=["customers"])

    assert seen == [["customers:unique"]]
    assert evaluations(result) == {"customers:unique": (True, "ERROR")}


def test_a_check_the_call_does_not_report_fails_and_a_blocking_one_gates_downstream():
    @dg.multi_asset_check(specs=SPECS, name="table_checks")
    def forgetful(orders: list[int]):
        yield dg.AssetCheckResult(asset_key="orders", check_name="not_empty", passed=True)

    result = dg.materialize([orders, customers, report, forgetful], raise_on_error=False)

    got = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": (e.passed, e.description)
        for e in result.get_asset_check_evaluations()
    }
    assert got == {
        "orders:not_empty": (True, None),
        "orders:sorted": (False, "the function did not report it"),
        "customers:unique": (False, "the function did not report it"),
    }
    assert not result.success  # the blocking check on customers failed
    assert "report" not in {k.to_user_string() for k in result.materialized_keys}


def test_a_result_matching_no_selected_check_fails_them_all_with_the_reason():
    @dg.multi_asset_check(specs=SPECS[:2])
    def vague(orders: list[int]):
        yield dg.AssetCheckResult(passed=True)  # two checks on orders: which one?

    result = dg.materialize([orders, vague], raise_on_error=False)

    [first, second] = result.get_asset_check_evaluations()
    assert not first.passed and not second.passed
    assert "matches several of the checks this run selected" in (first.description or "")


def test_an_asset_check_result_severity_is_recorded_as_returned():
    @dg.asset_check(asset=orders)
    def warns(orders: list[int]) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN)

    @dg.asset_check(asset=orders)
    def errs(orders: list[int]) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(passed=False)

    result = dg.materialize([orders, warns, errs], raise_on_error=False)

    assert evaluations(result) == {"orders:warns": (False, "WARN"), "orders:errs": (False, "ERROR")}


def test_bad_declarations_name_the_function():
    with pytest.raises(DefinitionsError, match=r"multi_asset_check 'empty' \(.*\): specs="):

        @dg.multi_asset_check(specs=[])
        def empty() -> None: ...

    with pytest.raises(DefinitionsError, match="the check 'orders:x' is twice"):

        @dg.multi_asset_check(specs=[dg.AssetCheckSpec("x", asset="orders")] * 2)
        def twice() -> None: ...
