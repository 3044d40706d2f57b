"""The ``millrace`` command line, end to end: real subprocesses, real user-code files, real
SQLite and Parquet files. Nothing is mocked; every wait has a timeout.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import millrace
import polars as pl
import pytest
from conftest import CLI_TIMEOUT, MILLRACE, Spawned, cli_env, run_cli, write_source

TIMEOUT = CLI_TIMEOUT
APP_DIR = Path(millrace.__file__).resolve().parent
INTERNAL_PATHS = ("millrace/execution", "app/execution", "millrace/runtime", "app/runtime")


# -- helpers ---------------------------------------------------------------------------------


def millrace_cli(
    *args: str | Path, cwd: Path, home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, home=home)


def write(directory: Path, name: str, source: str) -> Path:
    return write_source(directory / name, source)


def line_of(path: Path, text: str) -> int:
    """The 1-based number of the only line of ``path`` that contains ``text``."""
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(found) == 1, f"{text!r} found on lines {found} of {path}"
    return found[0]


def events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def ticked(stdout: str) -> Counter[str]:
    """How many times each asset has a ``✓ name (...)`` line."""
    return Counter(re.findall(r"^✓ (\S+) \(", stdout, flags=re.MULTILINE))


def run_id_of(stdout: str) -> str:
    match = re.search(r"^Run ([0-9a-f]{32}) ", stdout, flags=re.MULTILINE)
    assert match, stdout
    return match[1]


def assert_clean_failure(result: subprocess.CompletedProcess[str], code: int) -> None:
    """The expected exit code, and no Python traceback of Millrace itself."""
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback (most recent call last)" not in result.stderr, result.stderr


def runs_json(cwd: Path, *args: str | Path, home: Path | None = None) -> list[dict[str, Any]]:
    result = millrace_cli("runs", *args, "--json", cwd=cwd, home=home)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


# -- user code -------------------------------------------------------------------------------

PIPELINE = """
    from pathlib import Path

    import polars as pl

    from millrace import AssetExecutionContext, asset

    COUNTER = Path(__file__).with_name("raw_orders.count")


    @asset(group_name="raw")
    def raw_orders(context: AssetExecutionContext) -> pl.DataFrame:
        with COUNTER.open("a") as f:
            f.write("ran\\n")
        context.log.info("loaded 3 raw orders")
        return pl.DataFrame({"customer": [1, 1, 2], "amount": [10, 20, 30]})


    @asset(group_name="raw")
    def raw_customers() -> pl.DataFrame:
        return pl.DataFrame({"customer": [1, 2], "name": ["ann", "bob"]})


    @asset(group_name="features")
    def order_totals(raw_orders: pl.DataFrame) -> pl.DataFrame:
        return raw_orders.group_by("customer").agg(pl.col("amount").sum()).sort("customer")


    @asset(group_name="features")
    def customer_features(raw_customers: pl.DataFrame, order_totals: pl.DataFrame) -> pl.DataFrame:
        return raw_customers.join(order_totals, on="customer")


    @asset(group_name="reports")
    def report(customer_features: pl.DataFrame) -> pl.DataFrame:
        return customer_features.select(pl.col("amount").sum())
"""
PIPELINE_KEYS = {"raw_orders", "raw_customers", "order_totals", "customer_features", "report"}

FAILING = """
    import polars as pl

    from millrace import AssetExecutionContext, asset


    def parse(value):
        raise ValueError(f"cannot parse {value!r}")


    @asset
    def source(context: AssetExecutionContext) -> int:
        context.log.info("source says hello")
        return 7


    @asset
    def broken(source: int) -> int:
        return parse(source)


    @asset
    def after_broken(broken: int) -> int:
        return broken + 1


    @asset
    def independent() -> pl.DataFrame:
        return pl.DataFrame({"ok": [True]})
"""

HANGING = """
    import asyncio

    from millrace import asset


    @asset
    async def forever() -> int:
        await asyncio.Event().wait()
        return 1


    @asset
    def after(forever: int) -> int:
        return forever + 1
"""


@pytest.fixture
def pipeline(tmp_path: Path) -> Path:
    """The pipeline in ``tmp_path/proj/pipeline.py``; tests run from ``tmp_path``."""
    return write(tmp_path / "proj", "pipeline.py", PIPELINE)


# -- materialize: code locations and homes ---------------------------------------------------


def test_materialize_a_file_stores_parquet_beside_the_code(tmp_path: Path, pipeline: Path):
    result = millrace_cli("materialize", "proj/pipeline.py", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    storage = pipeline.parent / ".millrace" / "storage"
    assert {p.stem for p in storage.glob("*.parquet")} == PIPELINE_KEYS
    assert (pipeline.parent / ".millrace" / "millrace.db").is_file()
    assert not (tmp_path / ".millrace").exists()  # beside the code, not in the cwd
    report = pl.read_parquet(storage / "report.parquet")
    assert report.to_dicts() == [{"amount": 60}]


def test_materialize_a_package_uses_its_definitions(tmp_path: Path):
    write(
        tmp_path / "shop",
        "__init__.py",
        """
        from millrace import Definitions

        from .assets import orders, totals

        defs = Definitions(assets=[orders, totals])
        """,
    )
    write(
        tmp_path / "shop",
        "assets.py",
        """
        import polars as pl

        from millrace import asset


        @asset
        def orders() -> pl.DataFrame:
            return pl.DataFrame({"amount": [1, 2]})


        @asset
        def totals(orders: pl.DataFrame) -> pl.DataFrame:
            return orders.select(pl.col("amount").sum())


        @asset
        def not_in_defs() -> pl.DataFrame:
            return pl.DataFrame({"x": [0]})
        """,
    )

    result = millrace_cli("materialize", "shop", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert ticked(result.stdout) == Counter({"orders": 1, "totals": 1})
    storage = tmp_path / "shop" / ".millrace" / "storage"
    assert {p.name for p in storage.iterdir()} == {"orders.parquet", "totals.parquet"}
    assert pl.read_parquet(storage / "totals.parquet").item() == 3


def test_materialize_a_plain_directory_collects_its_assets(tmp_path: Path):
    flows = tmp_path / "flows"
    write(
        flows,
        "extract.py",
        """
        import polars as pl

        from millrace import asset


        @asset
        def extracted() -> pl.DataFrame:
            return pl.DataFrame({"n": [1, 2, 3]})
        """,
    )
    write(
        flows,
        "load.py",
        """
        import polars as pl

        from millrace import asset


        @asset
        def loaded(extracted: pl.DataFrame) -> pl.DataFrame:
            return extracted.with_columns(double=pl.col("n") * 2)
        """,
    )

    result = millrace_cli("materialize", "flows", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert ticked(result.stdout) == Counter({"extracted": 1, "loaded": 1})
    storage = flows / ".millrace" / "storage"
    assert pl.read_parquet(storage / "loaded.parquet")["double"].to_list() == [2, 4, 6]
    assert (storage / "extracted.parquet").is_file()


def test_materialize_a_module_name_from_the_cwd(tmp_path: Path):
    write(tmp_path, "daily_job.py", PIPELINE)

    result = millrace_cli("materialize", "daily_job", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert ticked(result.stdout) == Counter(dict.fromkeys(PIPELINE_KEYS, 1))
    storage = tmp_path / ".millrace" / "storage"
    assert {p.stem for p in storage.glob("*.parquet")} == PIPELINE_KEYS
    # `runs` and `logs` take the same module name and find the same history.
    [run] = runs_json(tmp_path, "daily_job")
    assert (run["run_id"], run["status"]) == (run_id_of(result.stdout), "SUCCESS")
    logs = millrace_cli("logs", run["run_id"][:8], "daily_job", cwd=tmp_path)
    assert logs.returncode == 0, logs.stderr
    assert "raw_orders INFO: loaded 3 raw orders" in logs.stdout


def test_millrace_home_env_overrides_the_default(tmp_path: Path, pipeline: Path):
    home = tmp_path / "env-home"

    result = millrace_cli("materialize", pipeline, cwd=tmp_path, home=home)

    assert result.returncode == 0, result.stderr
    assert {p.stem for p in (home / "storage").glob("*.parquet")} == PIPELINE_KEYS
    assert not (pipeline.parent / ".millrace").exists()
    [run] = runs_json(tmp_path, home=home)
    assert run["status"] == "SUCCESS"


def test_home_flag_overrides_millrace_home(tmp_path: Path, pipeline: Path):
    env_home, flag_home = tmp_path / "env-home", tmp_path / "flag-home"

    result = millrace_cli(
        "materialize", pipeline, "--home", flag_home, "--select", "raw_orders",
        cwd=tmp_path, home=env_home,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert (flag_home / "storage" / "raw_orders.parquet").is_file()
    assert (flag_home / "millrace.db").is_file()
    assert not env_home.exists()
    assert not (pipeline.parent / ".millrace").exists()


# -- selection -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("select", "expected"),
    [
        (
            "*customer_features",
            {"raw_orders", "raw_customers", "order_totals", "customer_features"},
        ),
        ("raw_orders+", {"raw_orders", "order_totals"}),
        ("group:raw", {"raw_orders", "raw_customers"}),
    ],
)
def test_select(tmp_path: Path, pipeline: Path, select: str, expected: set[str]):
    result = millrace_cli("materialize", pipeline, "--select", select, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert ticked(result.stdout) == Counter(dict.fromkeys(expected, 1))
    storage = pipeline.parent / ".millrace" / "storage"
    assert {p.stem for p in storage.glob("*.parquet")} == expected


@pytest.mark.parametrize(
    ("select", "message"),
    [
        ("raw_order", "No asset named 'raw_order' (did you mean 'raw_orders'?)"),
        (
            "*custmer_features",
            "No asset named 'custmer_features' (did you mean 'customer_features'?)",
        ),
        ("group:raww", "No group named 'raww' (did you mean 'raw'?)"),
    ],
)
def test_a_selection_typo_suggests_the_closest_name(
    tmp_path: Path, pipeline: Path, select: str, message: str
):
    result = millrace_cli("materialize", pipeline, "--select", select, cwd=tmp_path)

    assert_clean_failure(result, 2)
    assert message in result.stderr
    assert not (pipeline.parent / ".millrace").exists()  # nothing ran, nothing was opened
    assert not (pipeline.parent / "raw_orders.count").exists()


def test_a_partial_rerun_reuses_the_stored_upstream(tmp_path: Path, pipeline: Path):
    counter = pipeline.parent / "raw_orders.count"
    first = millrace_cli("materialize", pipeline, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert counter.read_text().splitlines() == ["ran"]
    totals = pipeline.parent / ".millrace" / "storage" / "order_totals.parquet"
    totals.unlink()

    again = millrace_cli("materialize", pipeline, "--select", "order_totals", cwd=tmp_path)

    assert again.returncode == 0, again.stderr
    assert ticked(again.stdout) == Counter({"order_totals": 1})
    assert counter.read_text().splitlines() == ["ran"]  # raw_orders did not run again
    assert pl.read_parquet(totals).to_dicts() == [
        {"customer": 1, "amount": 30},
        {"customer": 2, "amount": 30},
    ]


# -- a failing asset, and the history it leaves ----------------------------------------------


class History:
    """Two runs of FAILING: ``--select independent`` (SUCCESS), then everything (FAILURE)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.code = write(root / "proj", "failing.py", FAILING)
        first = millrace_cli(
            "materialize", self.code, "--select", "independent", "--json", cwd=root
        )
        assert first.returncode == 0, first.stderr
        self.first_id = events(first.stdout)[0]["run_id"]
        self.failed = millrace_cli("materialize", self.code, cwd=root)
        self.failed_id = run_id_of(self.failed.stdout)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return History(tmp_path_factory.mktemp("history"))


def test_a_failing_asset_is_reported_with_its_user_code_frame(history: History):
    result = history.failed
    output = result.stdout + result.stderr

    assert_clean_failure(result, 1)
    assert "✗ broken: ValueError: cannot parse 7" in result.stdout
    assert "asset 'broken' failed: ValueError: cannot parse 7" in result.stdout
    raise_line = line_of(history.code, "raise ValueError")
    call_line = line_of(history.code, "return parse(source)")
    assert f'File "{history.code}", line {call_line}, in broken' in output
    assert f'File "{history.code}", line {raise_line}, in parse' in output
    assert 'raise ValueError(f"cannot parse {value!r}")' in output
    for internal in (*INTERNAL_PATHS, str(APP_DIR)):
        assert internal not in output
    assert "- after_broken skipped: upstream broken failed" in result.stdout
    assert ticked(result.stdout) == Counter({"source": 1, "independent": 1})
    storage = history.code.parent / ".millrace" / "storage"
    assert (storage / "independent.parquet").is_file()
    assert not list(storage.glob("broken.*")) and not list(storage.glob("after_broken.*"))
    assert f"Run {history.failed_id} FAILURE: 2 materialized, 1 failed, 1 skipped" in result.stdout


def test_runs_lists_newest_first_with_statuses(history: History):
    runs = runs_json(history.root, "proj/failing.py")
    assert [(r["run_id"], r["status"]) for r in runs] == [
        (history.failed_id, "FAILURE"),
        (history.first_id, "SUCCESS"),
    ]
    assert runs[1]["selection"] == ["independent"]
    assert all(r["end_time"] >= r["start_time"] for r in runs)

    text = millrace_cli("runs", "proj", cwd=history.root)  # the directory works as well
    assert text.returncode == 0, text.stderr
    rows = [line.split() for line in text.stdout.splitlines()[1:]]
    assert [row[:2] for row in rows] == [
        [history.failed_id[:8], "FAILURE"],
        [history.first_id[:8], "SUCCESS"],
    ]


def test_logs_by_id_prefix_shows_steps_logs_and_the_failure(history: History):
    result = millrace_cli("logs", history.failed_id[:6], "proj/failing.py", cwd=history.root)

    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"run {history.failed_id} FAILURE")
    for line in (
        "▶ source started",
        "source INFO: source says hello",
        "✓ source (",
        "▶ broken started",
        "✗ broken: ValueError: cannot parse 7",
        "- after_broken skipped: upstream broken failed",
        "✓ independent (",
    ):
        assert line in out
    assert re.search(rf"^\S+ run {history.failed_id} FAILURE \(.*broken.*\)$", out, re.M)
    assert f"line {line_of(history.code, 'raise ValueError')}, in parse" in out
    full = millrace_cli("logs", history.failed_id, "proj", cwd=history.root)
    assert full.returncode == 0 and full.stdout == out


def test_logs_json(history: History):
    result = millrace_cli("logs", history.failed_id, "proj", "--json", cwd=history.root)

    assert result.returncode == 0, result.stderr
    stored = events(result.stdout)
    assert {e["run_id"] for e in stored} == {history.failed_id}
    assert stored[0]["type"] == "RUN_STARTED" and stored[-1]["type"] == "RUN_FINISHED"
    assert stored[-1]["status"] == "FAILURE"
    [log] = [e for e in stored if e["type"] == "LOG"]
    assert (log["asset_key"], log["level"], log["message"]) == (
        "source",
        "INFO",
        "source says hello",
    )
    [failed] = [e for e in stored if e["type"] == "STEP_FAILED"]
    assert failed["asset_key"] == "broken"
    assert failed["error"]["type"] == "ValueError"
    assert "in parse" in failed["error"]["traceback"]


def test_logs_of_an_unknown_run(history: History):
    result = millrace_cli("logs", "nosuchrun", "proj", cwd=history.root)

    assert_clean_failure(result, 2)
    assert "no single run matches 'nosuchrun'" in result.stderr


# -- output formats --------------------------------------------------------------------------


def test_output_in_a_pipe_is_plain_lines_one_per_step(tmp_path: Path, pipeline: Path):
    result = millrace_cli("materialize", pipeline, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert ticked(result.stdout) == Counter(dict.fromkeys(PIPELINE_KEYS, 1))
    assert "\x1b[" not in result.stdout + result.stderr  # no colors, no cursor movement
    assert "\r" not in result.stdout + result.stderr
    assert "raw_orders INFO: loaded 3 raw orders" in result.stdout
    assert re.search(r"^Run [0-9a-f]{32} SUCCESS: 5 materialized in ", result.stdout, re.M)


def test_json_prints_one_event_per_line(tmp_path: Path, pipeline: Path):
    result = millrace_cli("materialize", pipeline, "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    printed = events(result.stdout)  # every line is a JSON object: no summary, no decoration
    assert all(isinstance(e, dict) and isinstance(e["type"], str) for e in printed)
    kinds = Counter(e["type"] for e in printed)
    for kind in ("STEP_STARTED", "ASSET_MATERIALIZED", "STEP_SUCCEEDED"):
        assert kinds[kind] == len(PIPELINE_KEYS), kinds
    assert printed[0]["type"] == "RUN_STARTED"
    assert printed[-1]["type"] == "RUN_FINISHED" and printed[-1]["status"] == "SUCCESS"
    assert kinds["RUN_STARTED"] == kinds["RUN_FINISHED"] == 1
    assert len({e["run_id"] for e in printed}) == 1
    materialized = {e["asset_key"]: e for e in printed if e["type"] == "ASSET_MATERIALIZED"}
    assert set(materialized) == PIPELINE_KEYS
    path = Path(materialized["report"]["metadata"]["path"]["value"])
    assert path == pipeline.parent / ".millrace" / "storage" / "report.parquet"
    assert path.is_file()


# -- load errors -----------------------------------------------------------------------------


def test_a_syntax_error_names_file_and_line(tmp_path: Path):
    code = write(
        tmp_path,
        "broken_syntax.py",
        """
        from millrace import asset


        @asset
        def a() -> int:
            return 1 +
        """,
    )

    result = millrace_cli("materialize", code, cwd=tmp_path)

    assert_clean_failure(result, 2)
    line = line_of(code, "return 1 +")
    # The path as the user would type it from the cwd.
    assert f"Syntax error in broken_syntax.py:{line}: invalid syntax" in result.stderr
    assert "return 1 +" in result.stderr


def test_a_cycle_prints_the_cycle(tmp_path: Path):
    write(
        tmp_path,
        "cycle.py",
        """
        from millrace import asset


        @asset(deps=["b"])
        def a() -> int:
            return 1


        @asset(deps=["a"])
        def b() -> int:
            return 2
        """,
    )

    result = millrace_cli("materialize", "cycle.py", cwd=tmp_path)

    assert_clean_failure(result, 2)
    assert "a -> b -> a" in result.stderr


def test_an_unknown_dependency_names_the_asset_and_where_it_is(tmp_path: Path):
    code = write(
        tmp_path,
        "unknown_dep.py",
        """
        from millrace import asset


        @asset
        def orders() -> int:
            return 1


        @asset
        def totals(order) -> int:
            return order
        """,
    )

    result = millrace_cli("materialize", "unknown_dep.py", cwd=tmp_path)

    assert_clean_failure(result, 2)
    line = line_of(code, "def totals") - 1  # where its definition starts: the decorator
    assert f"asset 'totals' (unknown_dep.py:{line}) depends on 'order'" in result.stderr
    assert "(did you mean 'orders'?)" in result.stderr


def test_an_import_error_shows_the_user_frame(tmp_path: Path):
    code = write(
        tmp_path,
        "bad_import.py",
        """
        from millrace import asset

        SETTINGS = {}
        TABLE = SETTINGS["table"]
        """,
    )

    result = millrace_cli("materialize", code, cwd=tmp_path)

    assert_clean_failure(result, 2)
    assert "KeyError" in result.stderr
    assert f'File "{code}", line {line_of(code, "TABLE =")}' in result.stderr
    for internal in INTERNAL_PATHS:
        assert internal not in result.stderr


def test_a_missing_path(tmp_path: Path):
    result = millrace_cli("materialize", "no/such/file.py", cwd=tmp_path)

    assert_clean_failure(result, 2)
    assert "no/such/file.py: no such file, directory or module" in result.stderr


# -- list ------------------------------------------------------------------------------------


def test_list(tmp_path: Path, pipeline: Path):
    result = millrace_cli("list", pipeline, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    for group in ("raw", "features", "reports"):
        assert group in lines
    assert any(
        line.strip().startswith("customer_features <- ")
        and "raw_customers" in line
        and "order_totals" in line
        for line in lines
    )
    assert any(line.strip().startswith("raw_orders ") and "never" in line for line in lines)
    assert not (pipeline.parent / ".millrace").exists()  # listing writes nothing


def test_list_json_after_a_run(tmp_path: Path, pipeline: Path):
    run = millrace_cli("materialize", pipeline, "--select", "group:raw", "--json", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    run_id = events(run.stdout)[0]["run_id"]

    result = millrace_cli("list", pipeline, "--json", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    rows = {row["key"]: row for row in json.loads(result.stdout)}
    assert set(rows) == PIPELINE_KEYS
    assert {k: r["group"] for k, r in rows.items()} == {
        "raw_orders": "raw",
        "raw_customers": "raw",
        "order_totals": "features",
        "customer_features": "features",
        "report": "reports",
    }
    assert {k: sorted(r["deps"]) for k, r in rows.items()} == {
        "raw_orders": [],
        "raw_customers": [],
        "order_totals": ["raw_orders"],
        "customer_features": ["order_totals", "raw_customers"],
        "report": ["customer_features"],
    }
    assert rows["raw_orders"]["last_run_id"] == run_id
    assert rows["report"]["last_run_id"] is None
    decorator = line_of(pipeline, "def order_totals") - 1
    assert rows["order_totals"]["source"].endswith(f"pipeline.py:{decorator}")


# -- interrupting a run ----------------------------------------------------------------------


class Running(Spawned):
    """A ``millrace materialize --json`` subprocess: the test waits for a given event."""

    def __init__(self, *args: str | Path, cwd: Path) -> None:
        super().__init__("materialize", *args, "--json", cwd=cwd)

    @property
    def seen(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out_lines]

    def wait_for_event(self, kind: str, asset_key: str | None = None) -> dict[str, Any]:
        def matches(line: str) -> bool:
            event = json.loads(line)
            return event["type"] == kind and event["asset_key"] == asset_key

        return json.loads(self.wait_for_line(matches, f"{kind} {asset_key}"))


@contextmanager
def running(*args: str | Path, cwd: Path) -> Iterator[Running]:
    run = Running(*args, cwd=cwd)
    try:
        yield run
    finally:
        run.close()


def test_ctrl_c_cancels_the_run(tmp_path: Path):
    write(tmp_path, "hanging.py", HANGING)
    with running("hanging.py", cwd=tmp_path) as run:
        started = run.wait_for_event("STEP_STARTED", "forever")
        run.proc.send_signal(signal.SIGINT)
        code = run.finish()

    assert code == 130, (run.seen, run.err_lines)
    assert "canceling" in "".join(run.err_lines)
    assert "Traceback" not in "".join(run.err_lines)
    finished = run.seen[-1]
    assert (finished["type"], finished["status"]) == ("RUN_FINISHED", "CANCELED")
    skipped = [e for e in run.seen if e["type"] == "STEP_SKIPPED"]
    assert [(e["asset_key"], e["reason"]) for e in skipped] == [("after", "run canceled")]
    [record] = runs_json(tmp_path)
    assert (record["run_id"], record["status"]) == (started["run_id"], "CANCELED")
    assert record["end_time"] is not None


def test_a_second_ctrl_c_forces_exit(tmp_path: Path):
    write(
        tmp_path,
        "stuck.py",
        """
        import threading

        from millrace import asset


        @asset
        def stuck() -> int:
            threading.Event().wait()  # a thread cannot be canceled: only a forced exit ends it
            return 1
        """,
    )
    with running("stuck.py", cwd=tmp_path) as run:
        started = run.wait_for_event("STEP_STARTED", "stuck")
        run.proc.send_signal(signal.SIGINT)
        run.wait_for_stderr("canceling")
        run.proc.send_signal(signal.SIGINT)
        code = run.finish()

    assert code == 130
    assert "forced exit" in "".join(run.err_lines)
    [record] = runs_json(tmp_path)
    assert (record["run_id"], record["status"]) == (started["run_id"], "FAILURE")
    assert "exited" in record["message"]


def test_kill_9_during_a_run_is_recorded_as_failure(tmp_path: Path):
    write(tmp_path, "hanging.py", HANGING)
    with running("hanging.py", cwd=tmp_path) as run:
        started = run.wait_for_event("STEP_STARTED", "forever")
        run.proc.send_signal(signal.SIGKILL)
        code = run.finish()

    assert code == -signal.SIGKILL
    [record] = runs_json(tmp_path)
    assert (record["run_id"], record["status"]) == (started["run_id"], "FAILURE")
    assert "exited before it finished" in record["message"]
    assert record["end_time"] is not None


def test_max_concurrency_must_be_positive(tmp_path: Path, pipeline: Path):
    result = millrace_cli("materialize", pipeline, "--max-concurrency", "0", cwd=tmp_path)

    assert_clean_failure(result, 2)
    assert "--max-concurrency" in result.stderr
    assert not (pipeline.parent / ".millrace").exists()


def test_a_closed_stdout_is_not_a_crash(tmp_path: Path, pipeline: Path):
    """``millrace list --json | head -1``: the reader leaves early; no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before anything is written
    try:
        result = subprocess.run(
            [*MILLRACE, "list", str(pipeline), "--json"],
            cwd=tmp_path,
            env=cli_env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
        )
    finally:
        os.close(write_end)

    assert result.stderr == ""
    assert result.returncode == 141  # 128 + SIGPIPE, as a shell reports for `cmd | head`
