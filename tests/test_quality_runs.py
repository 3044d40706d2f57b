"""Data quality through real runs: asset checks, blocking gates, embedded check specs, the
built-in check factories, runtime type validation and automatic frame metadata, driven by
``millrace.materialize``, ``millrace.Runtime`` and the ``millrace`` CLI in a subprocess.

Everything is real: Parquet files, the SQLite history (read back with the standard library),
user-code files loaded by the CLI. Concurrency is shown with rendezvous, never with timing;
every wait has a timeout.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import millrace
import pandas as pd
import polars as pl
import pytest
from conftest import Db, run_cli, write_source
from millrace import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetsDefinition,
    Definitions,
    MaterializeResult,
    MetadataValue,
    Output,
    RunResult,
    RunStatus,
    Runtime,
    TableColumn,
    TableSchema,
    asset,
    asset_check,
    checks,
    materialize,
)
from millrace.errors import TypeCheckError

REPO = Path(millrace.__file__).resolve().parent.parent
TIMEOUT = 30  # seconds, for subprocesses and rendezvous: fail instead of hanging


# -- helpers ---------------------------------------------------------------------------------


async def run(defs: Definitions, selection: Any = None, **kwargs: Any) -> RunResult:
    """One persisted run under this test's MILLRACE_HOME."""
    async with Runtime(defs) as runtime:
        return await runtime.materialize(selection, **kwargs)


def evaluations(result: RunResult) -> dict[str, Any]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def skipped(result: RunResult) -> dict[str, str]:
    return {e.asset_key.to_user_string(): e.reason for e in result.get_step_skipped_events()}


def materialized(result: RunResult) -> set[str]:
    return {k.to_user_string() for k in result.materialized_keys}


def cli(*args: str | Path, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, home=home)


write = write_source


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def check_rows(db: Db) -> dict[str, tuple[Any, ...]]:
    """latest_check_results as ``{"asset:check": (run_id, passed, severity, blocking,
    description, metadata, error)}`` with the JSON columns parsed."""
    rows = db.rows(
        "SELECT asset_key, check_name, run_id, passed, severity, blocking, description,"
        " metadata, error FROM latest_check_results"
    )
    return {
        f"{a}:{c}": (r, p, s, b, d, json.loads(m), json.loads(e) if e else None)
        for a, c, r, p, s, b, d, m, e in rows
    }


# -- the brief's check, verbatim ---------------------------------------------------------------


def brief_definitions(frame: pd.DataFrame) -> Definitions:
    @asset
    def customer_features() -> pd.DataFrame:
        return frame

    @asset_check(asset=customer_features)
    def check_no_nulls(customer_features: pd.DataFrame) -> AssetCheckResult:
        null_count = customer_features.isnull().sum().sum()
        return AssetCheckResult(
            passed=null_count == 0,
            metadata={"null_count": MetadataValue.int(int(null_count))},
        )

    return Definitions(assets=[customer_features], asset_checks=[check_no_nulls])


CLEAN = pd.DataFrame({"customer_id": [1, 2, 3], "total_spend": [10.0, 20.5, 3.0]})
DIRTY = pd.DataFrame(
    {"customer_id": [1, 2, 3], "total_spend": [10.0, None, 3.0], "segment": ["a", "b", None]}
)


async def test_brief_null_check_passes_then_fails_and_the_latest_row_follows(db: Db) -> None:
    passing = await run(brief_definitions(CLEAN))

    assert passing.status is RunStatus.SUCCESS
    (evaluation,) = passing.get_asset_check_evaluations()
    # ``null_count == 0`` is a numpy bool; it arrives as a plain Python bool.
    assert evaluation.passed is True
    assert evaluation.asset_key == AssetKey("customer_features")
    assert evaluation.check_name == "check_no_nulls"
    assert evaluation.severity == "ERROR"
    assert evaluation.metadata == {"null_count": MetadataValue.int(0)}
    assert evaluation.error is None
    assert check_rows(db) == {
        "customer_features:check_no_nulls": (
            passing.run_id, 1, "ERROR", 0, None, {"null_count": {"type": "int", "value": 0}}, None,
        )
    }  # fmt: skip

    failing = await run(brief_definitions(DIRTY))

    # Not blocking: a failed ERROR check is reported, the run still succeeds.
    assert failing.status is RunStatus.SUCCESS
    assert materialized(failing) == {"customer_features"}
    (evaluation,) = failing.get_asset_check_evaluations()
    assert evaluation.passed is False
    assert evaluation.metadata == {"null_count": MetadataValue.int(2)}
    assert check_rows(db) == {
        "customer_features:check_no_nulls": (
            failing.run_id, 0, "ERROR", 0, None, {"null_count": {"type": "int", "value": 2}}, None,
        )
    }  # fmt: skip
    stored = db.rows(
        "SELECT run_id, check_name, payload FROM events WHERE type = 'ASSET_CHECK_EVALUATED'"
        " ORDER BY id"
    )
    assert [(r, c, json.loads(p)["passed"]) for r, c, p in stored] == [
        (passing.run_id, "check_no_nulls", True),
        (failing.run_id, "check_no_nulls", False),
    ]

    # The same check against the stored Parquet file, which comes back as pandas.
    async with Runtime(brief_definitions(CLEAN)) as runtime:
        again = await runtime.submit(plan=runtime.plan(checks_only=True))
    assert again.materialized_keys == []
    (evaluation,) = again.get_asset_check_evaluations()
    assert (evaluation.passed, evaluation.metadata) == (False, {"null_count": MetadataValue.int(2)})


def test_materialize_accepts_checks_next_to_assets_as_dagster_does() -> None:
    defs = brief_definitions(DIRTY)
    customer_features = defs.get_assets_def("customer_features")
    (check_no_nulls,) = defs.asset_checks

    result = materialize([customer_features, check_no_nulls])

    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed is False
    assert evaluation.metadata == {"null_count": MetadataValue.int(2)}


# -- blocking, severity, a check that raises ---------------------------------------------------


def shop(*, check_blocking: bool, severity: AssetCheckSeverity, called: list[str]) -> Definitions:
    """orders -> revenue -> report, checked by a failing amounts_positive; customers ->
    customer_count is an independent branch."""

    @asset
    def orders() -> pl.DataFrame:
        called.append("orders")
        return pl.DataFrame({"order_id": [1, 2, 3], "amount": [5.0, -1.0, 7.0]})

    @asset_check(asset=orders, blocking=check_blocking)
    def amounts_positive(orders: pl.DataFrame) -> AssetCheckResult:
        bad = orders.filter(pl.col("amount") <= 0).height
        return AssetCheckResult(passed=bad == 0, severity=severity, metadata={"bad_rows": bad})

    @asset
    def revenue(orders: pl.DataFrame) -> float:
        called.append("revenue")
        return orders["amount"].sum()

    @asset
    def report(revenue: float) -> str:
        called.append("report")
        return f"revenue {revenue}"

    @asset
    def customers() -> pl.DataFrame:
        called.append("customers")
        return pl.DataFrame({"customer_id": [1, 2]})

    @asset
    def customer_count(customers: pl.DataFrame) -> int:
        called.append("customer_count")
        return customers.height

    return Definitions(
        assets=[orders, revenue, report, customers, customer_count],
        asset_checks=[amounts_positive],
    )


async def test_failed_blocking_error_check_stops_its_downstream_only(home: Path, db: Db) -> None:
    called: list[str] = []
    defs = shop(check_blocking=True, severity=AssetCheckSeverity.ERROR, called=called)

    result = await run(defs)

    assert result.status is RunStatus.FAILURE
    reason = "blocked by check amounts_positive on orders"
    assert skipped(result) == {"revenue": reason, "report": reason}
    assert "revenue" not in called and "report" not in called
    # The checked asset itself is materialized; the independent branch completes.
    assert materialized(result) == {"orders", "customers", "customer_count"}
    assert (home / "storage" / "orders.parquet").is_file()
    assert not (home / "storage" / "revenue.pkl").exists()
    assert result.get_step_failure_events() == []
    evaluation = evaluations(result)["amounts_positive"]
    assert (evaluation.passed, evaluation.blocking, evaluation.severity) == (False, True, "ERROR")
    assert evaluation.metadata == {"bad_rows": MetadataValue.int(1)}
    status, message = db.rows("SELECT status, message FROM runs")[0]
    assert status == "FAILURE"
    assert "check orders:amounts_positive blocked its downstream" in message
    assert {r[0] for r in db.rows("SELECT asset_key FROM latest_materializations")} == {
        "orders",
        "customers",
        "customer_count",
    }
    stored_skips = db.rows(
        "SELECT asset_key, payload FROM events WHERE type = 'STEP_SKIPPED' ORDER BY asset_key"
    )
    assert stored_skips == [
        ("report", json.dumps({"reason": reason})),
        ("revenue", json.dumps({"reason": reason})),
    ]


@pytest.mark.parametrize(
    ("check_blocking", "severity"),
    [(True, AssetCheckSeverity.WARN), (False, AssetCheckSeverity.ERROR)],
    ids=["blocking-warn", "non-blocking-error"],
)
async def test_failed_warn_blocking_or_error_non_blocking_check_stops_nothing(
    db: Db, check_blocking: bool, severity: AssetCheckSeverity
) -> None:
    called: list[str] = []
    defs = shop(check_blocking=check_blocking, severity=severity, called=called)

    result = await run(defs)

    assert result.status is RunStatus.SUCCESS
    assert skipped(result) == {}
    assert materialized(result) == {"orders", "revenue", "report", "customers", "customer_count"}
    evaluation = evaluations(result)["amounts_positive"]
    assert (evaluation.passed, evaluation.blocking, evaluation.severity) == (
        False,
        check_blocking,
        severity.value,
    )
    assert db.value("SELECT status FROM runs") == "SUCCESS"
    row = check_rows(db)["orders:amounts_positive"]
    assert row[1:4] == (0, severity.value, int(check_blocking))


@pytest.mark.parametrize("check_blocking", [False, True], ids=["non-blocking", "blocking"])
async def test_a_check_that_raises_is_a_failed_evaluation_carrying_the_error(
    db: Db, check_blocking: bool
) -> None:
    @asset
    def orders() -> pl.DataFrame:
        return pl.DataFrame({"amount": [1.0, 2.0]})

    @asset_check(asset=orders, blocking=check_blocking)
    def amounts_in_usd(orders: pl.DataFrame) -> AssetCheckResult:
        if "amount_usd" not in orders.columns:
            raise KeyError("no column amount_usd")
        return AssetCheckResult(passed=True)

    @asset
    def total(orders: pl.DataFrame) -> float:
        return orders["amount"].sum()

    result = await run(Definitions(assets=[orders, total], asset_checks=[amounts_in_usd]))

    evaluation = evaluations(result)["amounts_in_usd"]
    assert evaluation.passed is False
    assert evaluation.error is not None
    assert evaluation.error.type == "KeyError"
    assert "no column amount_usd" in evaluation.error.message
    assert "amounts_in_usd" in evaluation.error.traceback  # the user's frame
    assert evaluation.description.startswith("the check raised KeyError")
    assert result.get_step_failure_events() == []  # a failed check, not a crashed step
    row = check_rows(db)["orders:amounts_in_usd"]
    assert row[1] == 0 and row[6]["type"] == "KeyError"
    if check_blocking:
        assert result.status is RunStatus.FAILURE
        assert skipped(result) == {"total": "blocked by check amounts_in_usd on orders"}
    else:
        assert result.status is RunStatus.SUCCESS
        assert materialized(result) == {"orders", "total"}


# -- checks an asset reports itself (check_specs) ----------------------------------------------


async def test_materialize_result_reports_embedded_check_results(home: Path, db: Db) -> None:
    exported_file = home.parent / "export.csv"

    @asset(
        check_specs=[
            AssetCheckSpec("has_rows", asset="export"),
            AssetCheckSpec("ids_unique", asset="export"),
        ]
    )
    def export() -> MaterializeResult:
        frame = pl.DataFrame({"id": [1, 2, 2]})
        frame.write_csv(exported_file)
        return MaterializeResult(
            metadata={"rows": frame.height},
            check_results=[
                AssetCheckResult(check_name="has_rows", passed=frame.height > 0),
                AssetCheckResult(
                    check_name="ids_unique",
                    passed=frame["id"].is_unique().all(),
                    metadata={"duplicates": frame.height - frame["id"].n_unique()},
                ),
            ],
        )

    result = await run(Definitions(assets=[export]))

    assert result.status is RunStatus.SUCCESS
    found = evaluations(result)
    assert {n: e.passed for n, e in found.items()} == {"has_rows": True, "ids_unique": False}
    assert found["ids_unique"].metadata == {"duplicates": MetadataValue.int(1)}
    (event,) = result.get_asset_materialization_events()
    assert event.metadata["rows"] == MetadataValue.int(3)
    assert exported_file.is_file()
    assert not (home / "storage").exists()  # the asset stored its own data
    assert {k: v[1] for k, v in check_rows(db).items()} == {
        "export:has_rows": 1,
        "export:ids_unique": 0,
    }


def scored() -> Iterator[Output | AssetCheckResult]:
    frame = pl.DataFrame({"score": [0.2, 0.9]})
    yield Output(frame, metadata={"max_score": frame["score"].max()})
    yield AssetCheckResult(passed=frame["score"].is_between(0, 1).all())


def generator_asset(annotated: bool) -> AssetsDefinition:
    """The same generator asset, with or without Dagster's usual return annotation."""
    specs = [AssetCheckSpec("scores_in_range", asset="scores")]
    if annotated:

        @asset(check_specs=specs)
        def scores() -> Iterator[Output | AssetCheckResult]:
            yield from scored()

    else:

        @asset(check_specs=specs)
        def scores():
            yield from scored()

    return scores


@pytest.mark.parametrize(
    "annotated",
    [
        False,
        True,
    ],
    ids=["unannotated", "annotated-iterator"],
)
async def test_generator_asset_yields_output_and_check_result(home: Path, annotated: bool) -> None:
    result = await run(Definitions(assets=[generator_asset(annotated)]))

    assert result.status is RunStatus.SUCCESS, result.failures
    assert evaluations(result)["scores_in_range"].passed is True
    (event,) = result.get_asset_materialization_events()
    assert event.metadata["max_score"] == MetadataValue.float(0.9)
    assert event.metadata["dagster/row_count"] == MetadataValue.int(2)
    stored = pl.read_parquet(home / "storage" / "scores.parquet")
    assert stored["score"].to_list() == [0.2, 0.9]


async def test_a_declared_but_unreported_check_is_a_failed_evaluation(db: Db) -> None:
    @asset(
        check_specs=[
            AssetCheckSpec("reported", asset="table"),
            AssetCheckSpec("forgotten", asset="table"),
        ]
    )
    def table() -> MaterializeResult:
        return MaterializeResult(check_results=[AssetCheckResult(check_name="reported", passed=1)])

    result = await run(Definitions(assets=[table]))

    found = evaluations(result)
    assert found["reported"].passed is True
    assert found["forgotten"].passed is False
    assert found["forgotten"].description == "the asset did not report a result for this check"
    assert check_rows(db)["table:forgotten"][1] == 0


async def test_a_failed_blocking_embedded_check_gates_the_downstream(home: Path, db: Db) -> None:
    @asset(check_specs=[AssetCheckSpec("no_negative", asset="ledger", blocking=True)])
    def ledger():
        frame = pl.DataFrame({"balance": [3, -2]})
        yield Output(frame)
        yield AssetCheckResult(passed=(frame["balance"] >= 0).all())

    @asset
    def statement(ledger: pl.DataFrame) -> int:
        return ledger["balance"].sum()

    @asset
    def unrelated() -> int:
        return 1

    result = await run(Definitions(assets=[ledger, statement, unrelated]))

    assert result.status is RunStatus.FAILURE
    assert skipped(result) == {"statement": "blocked by check no_negative on ledger"}
    assert materialized(result) == {"ledger", "unrelated"}
    assert (home / "storage" / "ledger.parquet").is_file()
    assert check_rows(db)["ledger:no_negative"][1:4] == (0, "ERROR", 1)


async def test_a_check_of_an_asset_that_stored_no_value_fails_cleanly() -> None:
    @asset
    def exported() -> MaterializeResult:
        return MaterializeResult(metadata={"rows": 1})

    @asset_check(asset=exported)
    def exported_has_rows(exported: Any) -> AssetCheckResult:
        return AssetCheckResult(passed=exported is not None)

    result = await run(Definitions(assets=[exported], asset_checks=[exported_has_rows]))

    assert materialized(result) == {"exported"}
    problems = [str(e.error or e.description) for e in result.get_asset_check_evaluations()]
    problems += [str(e.error) for e in result.get_step_failure_events()]
    assert any("exported" in p for p in problems), problems


async def test_checks_only_on_an_asset_with_only_embedded_checks_says_why() -> None:
    defs = Definitions(assets=[generator_asset(annotated=False)])

    async with Runtime(defs, persist=False) as runtime:
        with pytest.raises(millrace.SelectionError) as caught:
            runtime.plan("scores", checks_only=True)

    message = str(caught.value)
    assert "external" not in message, message
    assert "scores_in_range" in message


# -- checks run as soon as their asset is materialized -----------------------------------------


async def test_a_check_runs_while_an_unrelated_slow_asset_is_still_running() -> None:
    check_started = threading.Event()  # set by the check, awaited by the slow asset
    slow_running = threading.Event()  # set by the slow asset, awaited by the check

    @asset
    def fast() -> int:
        return 1

    @asset_check(asset=fast)
    def fast_is_one(fast: int) -> AssetCheckResult:
        check_started.set()
        saw_slow = slow_running.wait(TIMEOUT)
        return AssetCheckResult(passed=fast == 1 and saw_slow)

    @asset
    def slow() -> int:
        if not check_started.wait(TIMEOUT):
            raise AssertionError("the check of fast did not start while slow was running")
        slow_running.set()
        return 2

    defs = Definitions(assets=[fast, slow], asset_checks=[fast_is_one])
    result = await run(defs, max_concurrency=4)

    assert result.status is RunStatus.SUCCESS, result.failures
    assert evaluations(result)["fast_is_one"].passed is True
    assert materialized(result) == {"fast", "slow"}


# -- the CLI: check, list ---------------------------------------------------------------------

QUALITY_PROJECT = """
    from pathlib import Path

    import polars as pl

    from millrace import AssetCheckResult, AssetCheckSeverity, Definitions, asset, asset_check

    CALLS = Path(__file__).with_name("calls.log")


    def called(name):
        with CALLS.open("a") as f:
            f.write(name + "\\n")


    @asset
    def orders() -> pl.DataFrame:
        called("orders")
        return pl.DataFrame({"order_id": [1, 2, 2], "amount": [10.0, 20.0, 30.0]})


    @asset_check(asset=orders)
    def order_ids_unique(orders: pl.DataFrame) -> AssetCheckResult:
        duplicates = orders.height - orders["order_id"].n_unique()
        return AssetCheckResult(passed=duplicates == 0, metadata={"duplicates": duplicates})


    @asset_check(asset=orders, blocking=True)
    def amounts_positive(orders: pl.DataFrame) -> AssetCheckResult:
        return AssetCheckResult(passed=(orders["amount"] > 0).all())


    @asset
    def visits() -> pl.DataFrame:
        called("visits")
        return pl.DataFrame({"page": ["home", None, "cart"]})


    @asset_check(asset=visits)
    def pages_known(visits: pl.DataFrame) -> AssetCheckResult:
        missing = visits["page"].null_count()
        return AssetCheckResult(
            passed=missing == 0, severity=AssetCheckSeverity.WARN, metadata={"missing": missing}
        )


    defs = Definitions(
        assets=[orders, visits], asset_checks=[order_ids_unique, amounts_positive, pages_known]
    )
"""


def list_json(project: Path, cwd: Path, home: Path) -> dict[str, dict[str, Any]]:
    listed = cli("list", project, "--json", cwd=cwd, home=home)
    assert listed.returncode == 0, listed.stderr
    return {row["key"]: row for row in json.loads(listed.stdout)}


def test_cli_check_evaluates_stored_data_without_materializing(
    tmp_path: Path, home: Path, db: Db
) -> None:
    project = write(tmp_path / "proj" / "quality.py", QUALITY_PROJECT)
    calls = project.with_name("calls.log")

    before = list_json(project, tmp_path, home)
    assert [(c["name"], c["blocking"], c["passed"]) for c in before["orders"]["checks"]] == [
        ("order_ids_unique", False, None),
        ("amounts_positive", True, None),
    ]

    first = cli("materialize", project, cwd=tmp_path, home=home)
    assert first.returncode == 0, first.stderr  # no blocking check failed
    assert sorted(calls.read_text().split()) == ["orders", "visits"]

    errors = cli("check", project, "--select", "orders", "--json", cwd=tmp_path, home=home)

    assert errors.returncode == 1, (errors.stdout, errors.stderr)  # a failed ERROR check
    assert sorted(calls.read_text().split()) == ["orders", "visits"]  # nothing re-ran
    events = json_lines(errors.stdout)
    kinds = {e["type"] for e in events}
    assert "ASSET_MATERIALIZED" not in kinds
    verdicts = {
        e["check_name"]: (e["passed"], e["severity"])
        for e in events
        if e["type"] == "ASSET_CHECK_EVALUATED"
    }
    assert verdicts == {"order_ids_unique": (False, "ERROR"), "amounts_positive": (True, "ERROR")}
    check_run = events[0]["run_id"]
    rows = check_rows(db)
    assert rows["orders:order_ids_unique"][:2] == (check_run, 0)
    assert rows["orders:order_ids_unique"][5] == {"duplicates": {"type": "int", "value": 1}}
    assert db.value(
        "SELECT COUNT(*) FROM events WHERE run_id = ? AND type = 'ASSET_MATERIALIZED'",
        (check_run,),
    ) == 0  # fmt: skip

    warnings = cli("check", project, "--select", "visits", cwd=tmp_path, home=home)

    assert warnings.returncode == 0, (warnings.stdout, warnings.stderr)  # only a WARN failed
    assert "✗ check visits:pages_known failed (WARN)" in warnings.stdout
    assert "missing=1" in warnings.stdout
    assert sorted(calls.read_text().split()) == ["orders", "visits"]

    listed = cli("list", project, cwd=tmp_path, home=home)
    assert listed.returncode == 0, listed.stderr
    assert "    check order_ids_unique: FAILED" in listed.stdout
    assert "    check amounts_positive, blocking: passed" in listed.stdout
    assert "    check pages_known: FAILED" in listed.stdout

    after = list_json(project, tmp_path, home)
    orders_checks = {c["name"]: c for c in after["orders"]["checks"]}
    assert orders_checks["order_ids_unique"]["passed"] is False
    assert orders_checks["order_ids_unique"]["severity"] == "ERROR"
    assert orders_checks["order_ids_unique"]["last_run_id"] == check_run
    assert orders_checks["amounts_positive"]["passed"] is True
    assert orders_checks["amounts_positive"]["blocking"] is True
    (visits_check,) = after["visits"]["checks"]
    assert (visits_check["name"], visits_check["passed"], visits_check["severity"]) == (
        "pages_known",
        False,
        "WARN",
    )


# -- millrace.checks factories in real runs ----------------------------------------------------


async def test_check_factories_in_a_definitions_run(db: Db) -> None:
    @asset
    def orders() -> pl.DataFrame:
        return pl.DataFrame(
            {"order_id": [1, 2, 3], "customer": ["ann", None, "cy"], "amount": [9.5, 20.0, 3.0]}
        )

    @asset
    def invoices(orders: pl.DataFrame) -> pl.DataFrame:
        return orders.select("order_id", "amount")

    @asset
    def payments() -> pl.DataFrame:
        return pl.DataFrame({"payment_id": [1, None], "amount": [9.5, 20.0]})

    @asset
    def settled(payments: pl.DataFrame) -> int:
        return payments.height

    defs = Definitions(
        assets=[orders, invoices, payments, settled],
        asset_checks=[
            checks.not_null(orders, ["order_id", "customer"]),
            checks.expression(orders, pl.col("amount") > 0, name="positive_amount"),
            checks.not_null(payments, "payment_id", blocking=True),
        ],
    )

    result = await run(defs)

    assert result.status is RunStatus.FAILURE
    assert skipped(result) == {"settled": "blocked by check not_null_payment_id on payments"}
    assert materialized(result) == {"orders", "invoices", "payments"}
    found = evaluations(result)
    assert {n: e.passed for n, e in found.items()} == {
        "not_null_order_id_customer": False,
        "positive_amount": True,
        "not_null_payment_id": False,
    }
    nulls = found["not_null_order_id_customer"]
    assert nulls.metadata["null_count"].value == {"order_id": 0, "customer": 1}
    offending = nulls.metadata["offending_rows"].value["records"]
    assert [r.data for r in offending] == [{"order_id": 2, "customer": None, "amount": 20.0}]
    assert found["positive_amount"].metadata["violation_count"] == MetadataValue.int(0)
    assert found["not_null_payment_id"].blocking is True
    rows = check_rows(db)
    assert {k: v[1] for k, v in rows.items()} == {
        "orders:not_null_order_id_customer": 0,
        "orders:positive_amount": 1,
        "payments:not_null_payment_id": 0,
    }
    assert rows["orders:not_null_order_id_customer"][4] == "customer has 1 null (of 3 rows)"


CATALOG = """
    import polars as pl

    from millrace import Definitions, asset, checks


    @asset
    def products() -> pl.DataFrame:
        return pl.DataFrame({FRAME})


    defs = Definitions(assets=[products], asset_checks=[checks.schema_unchanged(products)])
"""


def test_schema_unchanged_across_runs_of_rewritten_code(tmp_path: Path, home: Path, db: Db) -> None:
    catalog = tmp_path / "catalog.py"

    def materialize_catalog(frame: str) -> dict[str, Any]:
        write(catalog, CATALOG.replace("{FRAME}", frame))
        done = cli("materialize", catalog, "--json", cwd=tmp_path, home=home)
        assert done.returncode == 0, done.stderr  # not blocking: the run succeeds either way
        (verdict,) = [e for e in json_lines(done.stdout) if e["type"] == "ASSET_CHECK_EVALUATED"]
        return verdict

    original = '{"sku": ["a", "b"], "price": [1.5, 2.0]}'
    first = materialize_catalog(original)
    assert first["passed"] is True
    assert first["description"] == "never materialized before: no schema to compare with"

    second = materialize_catalog(original)
    assert second["passed"] is True
    assert second["description"] == "2 columns, unchanged"

    changed = materialize_catalog('{"sku": ["a", "b"], "price": [1, 2], "stock": [5, 0]}')
    assert changed["passed"] is False
    assert changed["description"] == (
        "unexpected column 'stock' (Int64); column 'price' is Int64, previously Float64"
    )
    assert changed["metadata"]["retyped_columns"]["value"] == {
        "price": {"actual": "Int64", "expected": "Float64"}
    }
    row = check_rows(db)["products:schema_unchanged"]
    assert (row[0], row[1]) == (changed["run_id"], 0)
    # The new schema is now the one recorded with the latest materialization.
    stored = json.loads(db.value("SELECT metadata FROM latest_materializations"))
    assert [c["name"] for c in stored["dagster/column_schema"]["value"]["columns"]] == [
        "sku",
        "price",
        "stock",
    ]


# -- runtime type validation -------------------------------------------------------------------


async def test_a_return_value_that_does_not_fit_its_annotation_fails_the_step(home: Path) -> None:
    @asset
    def scores() -> pl.DataFrame:
        return {"ann": 1}

    @asset
    def ranking(scores: pl.DataFrame) -> pl.DataFrame:
        return scores.sort("ann")

    result = await run(Definitions(assets=[scores, ranking]))

    assert result.status is RunStatus.FAILURE
    error = result.failures[AssetKey("scores")]
    assert error.type == "TypeCheckError"
    assert error.message == "asset 'scores': return value expected polars.DataFrame, got dict"
    assert skipped(result) == {"ranking": "upstream scores failed"}
    assert not (home / "storage").exists()  # the bad value was never stored

    with pytest.raises(TypeCheckError, match="asset 'scores': return value expected polars"):
        materialize([scores])


def test_materialize_reraises_without_a_framework_exception_as_context() -> None:
    @asset
    def scores() -> pl.DataFrame:
        return {"ann": 1}

    with pytest.raises(TypeCheckError) as caught:
        materialize([scores])

    assert caught.value.__context__ is None, repr(caught.value.__context__)


async def test_an_input_that_does_not_fit_its_annotation_names_the_parameter() -> None:
    called: list[str] = []

    @asset
    def count():
        return "3"

    @asset
    def doubled(count: int) -> int:
        called.append("doubled")
        return count * 2

    result = await run(Definitions(assets=[count, doubled]))

    assert result.status is RunStatus.FAILURE
    assert materialized(result) == {"count"}
    error = result.failures[AssetKey("doubled")]
    assert (error.type, error.message) == (
        "TypeCheckError",
        "asset 'doubled': input 'count' expected int, got str",
    )
    assert called == []


async def test_dict_annotations_are_checked_item_by_item() -> None:
    @asset
    def stock() -> dict[str, int]:
        return {"apples": 3, "pears": "many"}

    @asset
    def prices() -> dict[str, int]:
        return {"apples": 2}

    @asset
    def cheapest(prices: dict[str, int]) -> str:
        return min(prices, key=prices.__getitem__)

    result = await run(Definitions(assets=[stock, prices, cheapest]))

    assert materialized(result) == {"prices", "cheapest"}
    assert result.failures[AssetKey("stock")].message == (
        "asset 'stock': return value dict value at key 'pears': expected int, got str"
    )


DECLARED = TableSchema(
    columns=[
        TableColumn("id", "Int64"),
        TableColumn("name", "String"),
        TableColumn("amount", "Float64"),
    ]
)


@pytest.mark.parametrize(
    ("frame", "differences"),
    [
        (
            pl.DataFrame({"id": [1], "name": ["a"]}),
            ["missing column 'amount' (Float64)"],
        ),
        (
            pl.DataFrame({"id": [1], "name": ["a"], "amount": [1.0], "note": ["x"]}),
            ["unexpected column 'note' (String)"],
        ),
        (
            pl.DataFrame({"id": [1], "name": ["a"], "amount": [1.0]}).cast({"id": pl.Int32}),
            ["column 'id' is Int32, declared Int64"],
        ),
        (
            pl.DataFrame({"id": ["1"], "amount": [1.0], "note": ["x"]}),
            [
                "missing column 'name' (String)",
                "unexpected column 'note' (String)",
                "column 'id' is String, declared Int64",
            ],
        ),
    ],
    ids=["lacks", "adds", "retypes", "all-three"],
)
async def test_a_frame_that_breaks_its_declared_column_schema_fails(
    home: Path, frame: pl.DataFrame, differences: list[str]
) -> None:
    @asset(metadata={"dagster/column_schema": DECLARED})
    def accounts() -> pl.DataFrame:
        return frame

    result = await run(Definitions(assets=[accounts]))

    assert result.status is RunStatus.FAILURE
    error = result.failures[AssetKey("accounts")]
    assert error.type == "TypeCheckError"
    assert error.message == (
        "asset 'accounts' does not match its declared dagster/column_schema:\n  - "
        + "\n  - ".join(differences)
    )
    assert not (home / "storage" / "accounts.parquet").exists()


async def test_a_frame_that_matches_its_declared_column_schema_is_stored(home: Path) -> None:
    @asset(metadata={"dagster/column_schema": DECLARED})
    def accounts() -> pl.DataFrame:
        # Column order does not count.
        return pl.DataFrame({"amount": [1.5], "id": [7], "name": ["ann"]})

    result = await run(Definitions(assets=[accounts]))

    assert result.status is RunStatus.SUCCESS, result.failures
    assert pl.read_parquet(home / "storage" / "accounts.parquet")["id"].to_list() == [7]


# -- automatic metadata ----------------------------------------------------------------------


async def test_automatic_metadata_of_a_polars_frame_in_the_event_and_in_sqlite(
    home: Path, db: Db
) -> None:
    @asset
    def orders(context) -> pl.DataFrame:
        context.add_output_metadata({"source": "unit test"})
        return pl.DataFrame(
            {
                "order_id": list(range(1, 8)),
                "customer": ["ann", "bob", "cy", "dee", "ed", "flo", "gus"],
                "amount": [1.5, 2.0, 3.25, 4.0, 5.5, 6.0, 7.75],
            }
        )

    result = await run(Definitions(assets=[orders]))

    (event,) = result.get_asset_materialization_events()
    meta = event.metadata
    parquet = home / "storage" / "orders.parquet"
    schema = TableSchema(
        [
            TableColumn("order_id", "Int64"),
            TableColumn("customer", "String"),
            TableColumn("amount", "Float64"),
        ]
    )
    assert meta["dagster/row_count"] == MetadataValue.int(7)
    assert meta["dagster/column_schema"] == MetadataValue.table_schema(schema)
    preview = meta["millrace/preview"]
    assert preview.type == "table"
    assert preview.value["schema"] == schema
    assert [r.data for r in preview.value["records"]][:2] == [
        {"order_id": 1, "customer": "ann", "amount": 1.5},
        {"order_id": 2, "customer": "bob", "amount": 2.0},
    ]
    assert len(preview.value["records"]) == 5
    assert meta["millrace/size_bytes"] == MetadataValue.int(parquet.stat().st_size)
    assert meta["path"] == MetadataValue.path(parquet)
    compute = meta["millrace/compute_seconds"]
    assert compute.type == "float" and compute.value >= 0
    assert meta["source"] == MetadataValue.text("unit test")

    run_id, stored_text = db.rows(
        "SELECT run_id, metadata FROM latest_materializations WHERE asset_key = 'orders'"
    )[0]
    stored = json.loads(stored_text)
    assert run_id == result.run_id
    assert set(stored) == set(meta)
    assert stored["dagster/row_count"] == {"type": "int", "value": 7}
    assert stored["dagster/column_schema"] == {
        "type": "table_schema",
        "value": {
            "columns": [
                {"name": "order_id", "type": "Int64", "description": None},
                {"name": "customer", "type": "String", "description": None},
                {"name": "amount", "type": "Float64", "description": None},
            ]
        },
    }
    assert stored["millrace/preview"]["value"]["records"][0] == {
        "order_id": 1,
        "customer": "ann",
        "amount": 1.5,
    }
    assert len(stored["millrace/preview"]["value"]["records"]) == 5
    assert stored["millrace/size_bytes"] == {"type": "int", "value": parquet.stat().st_size}
    assert stored["millrace/compute_seconds"]["type"] == "float"
    assert stored["path"] == {"type": "path", "value": str(parquet)}


# -- the quickstart example ------------------------------------------------------------------


def test_quickstart_example_materializes_with_its_warning(tmp_path: Path) -> None:
    home = tmp_path / "quickstart-home"

    done = cli("materialize", "examples/quickstart", "--home", home, cwd=REPO, home=home)

    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "✗ check customer_features:customers_are_recent failed (WARN)" in done.stdout
    assert "✓ check customer_features:spend_is_positive passed" in done.stdout
    assert "✓ check customer_features:check_no_nulls passed" in done.stdout
    assert "✓ top_customers (" in done.stdout
    assert "SUCCESS: 4 materialized, 2/3 checks passed" in done.stdout
    top = pl.read_parquet(home / "storage" / "top_customers.parquet")
    assert top.height == 100
    assert top["total_spend"].is_sorted(descending=True)
    history = Db(home / "millrace.db")
    assert history.value("SELECT status FROM runs") == "SUCCESS"
    assert {k: v[1:3] for k, v in check_rows(history).items()} == {
        "customer_features:check_no_nulls": (1, "ERROR"),
        "customer_features:spend_is_positive": (1, "ERROR"),
        "customer_features:customers_are_recent": (0, "WARN"),
    }
