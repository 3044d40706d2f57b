"""``millrace status``, ``materialize --select status:stale``, ``lineage``, ``-a`` and the
default home, end to end: real subprocesses on real user-code files, checked through the
commands' own output, counter files the assets append to, and the real SQLite file.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import Db, run_cli, write_source

STATUSES = {"fresh", "stale", "missing", "failed", "running"}
FIELDS = {"asset_key", "status", "causes", "code_version", "data_version", "last_materialized"}

# A package of two modules: raw/orders and raw/customers, and totals downstream of orders.
RAW = """
    from pathlib import Path

    import polars as pl

    from millrace import asset


    def count(name: str) -> None:
        with Path(__file__).with_name(f"{name}.count").open("a") as f:
            f.write("ran\\n")


    @asset(key_prefix="raw")
    def orders() -> pl.DataFrame:
        count("orders")
        return pl.DataFrame({"customer": [1, 1, 2], "amount": [10, 20, 30]})


    @asset(key_prefix="raw")
    def customers() -> pl.DataFrame:
        count("customers")
        return pl.DataFrame({"customer": [1, 2], "name": ["ann", "bob"]})
"""
FEATURES = """
    import polars as pl

    from millrace import AssetIn, asset

    from .raw import count


    @asset(ins={"orders": AssetIn(key_prefix="raw")})
    def totals(orders: pl.DataFrame) -> pl.DataFrame:
        count("totals")
        return orders.group_by("customer").agg(pl.col("amount").sum()).sort("customer")
"""
KEYS = ["raw/orders", "raw/customers", "totals"]

# Three levels, the middle one configured.
LINEAGE = """
    import polars as pl

    from millrace import Config, asset


    class MidConfig(Config):
        factor: int = 1


    @asset
    def root() -> pl.DataFrame:
        return pl.DataFrame({"x": [1, 2, 3]})


    @asset
    def mid(config: MidConfig, root: pl.DataFrame) -> pl.DataFrame:
        return root.with_columns(y=pl.col("x") * config.factor)


    @asset
    def leaf(mid: pl.DataFrame) -> pl.DataFrame:
        return mid.select(pl.col("y").sum())
"""

# Several Definitions: ``defs`` is the default, ``-a`` picks another.
MULTI = """
    from millrace import Definitions, asset


    @asset
    def shared() -> int:
        return 1


    @asset
    def only_dev() -> int:
        return 2


    @asset
    def only_prod() -> int:
        return 3


    dev = Definitions(assets=[shared, only_dev])
    prod = Definitions(assets=[shared, only_prod])
    defs = Definitions(assets=[shared])
"""


# -- helpers ---------------------------------------------------------------------------------


def cli(*args: str | Path, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """``millrace ARGS`` that must succeed."""
    result = run_cli(*args, cwd=cwd, home=home)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def write_package(directory: Path, modules: dict[str, str]) -> Path:
    for name, source in modules.items():
        write_source(directory / f"{name}.py", source)
    return directory


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_package(
        tmp_path / "proj",
        {"__init__": "from . import features, raw\n", "raw": RAW, "features": FEATURES},
    )


def status(project: Path, home: Path) -> dict[str, dict[str, Any]]:
    """``millrace status --json``: one object per line, by asset key."""
    lines = cli("status", project, "--json", cwd=project.parent, home=home).stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == len({r["asset_key"] for r in rows}), rows
    for row in rows:
        assert set(row) >= FIELDS, row
        assert row["status"] in STATUSES, row
        assert all(set(cause) >= {"category", "message", "asset_key"} for cause in row["causes"])
    return {row["asset_key"]: row for row in rows}


def counts(project: Path) -> dict[str, int]:
    return {
        name: len(path.read_text().splitlines())
        for name in ("orders", "customers", "totals")
        if (path := project / f"{name}.count").exists()
    }


# -- status ----------------------------------------------------------------------------------


def test_status_before_any_run_says_every_asset_is_missing(project: Path, home: Path):
    rows = status(project, home)

    assert sorted(rows) == sorted(KEYS)
    for row in rows.values():
        assert row["status"] == "missing"
        assert row["last_materialized"] is None
        assert row["data_version"] is None
        assert row["causes"][0] == {
            "category": "data",
            "message": "has never been materialized",
            "asset_key": None,
        }


def test_status_json_after_a_run(project: Path, home: Path, db: Db):
    cli("materialize", project, cwd=project.parent, home=home)

    rows = status(project, home)

    assert sorted(rows) == sorted(KEYS)
    for key, row in rows.items():
        assert row["status"] == "fresh"
        assert row["causes"] == []
        assert isinstance(row["code_version"], str) and row["code_version"]
        assert isinstance(row["last_materialized"], float)
        assert row["data_version"] == db.value(
            "SELECT data_version FROM latest_materializations WHERE asset_key = ?", (key,)
        )


def test_an_edited_asset_is_stale_with_a_code_cause_and_its_downstream_names_it(
    project: Path, home: Path
):
    cli("materialize", project, cwd=project.parent, home=home)
    before = status(project, home)
    write_source(project / "raw.py", RAW.replace("[10, 20, 30]", "[10, 20, 31]"))

    after = status(project, home)

    old, new = before["raw/orders"]["code_version"], after["raw/orders"]["code_version"]
    assert old != new
    code_cause = f"has a new code version ({old[:8]} -> {new[:8]})"
    assert after["raw/orders"]["status"] == "stale"
    assert after["raw/orders"]["causes"] == [
        {"category": "code", "message": code_cause, "asset_key": None}
    ]
    assert after["totals"]["status"] == "stale"
    [cause] = after["totals"]["causes"]
    assert (cause["category"], cause["asset_key"]) == ("code", "raw/orders")
    assert cause["message"] == f"upstream raw/orders is stale: raw/orders {code_cause}"
    assert after["raw/customers"]["status"] == "fresh"


def test_status_table_has_a_header_and_a_row_per_asset(project: Path, home: Path):
    cli("materialize", project, "--select", "raw/orders", cwd=project.parent, home=home)

    lines = cli("status", project, cwd=project.parent, home=home).stdout.splitlines()

    assert lines[0].split() == ["ASSET", "STATUS", "MATERIALIZED", "WHY"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert sorted(rows) == sorted(KEYS)
    assert rows["raw/orders"].split()[1] == "fresh"
    assert rows["raw/customers"].split()[1:4] == ["missing", "never", "has"]
    assert rows["totals"].split()[1] == "missing"


def test_materialize_status_stale_reruns_exactly_the_stale_assets(project: Path, home: Path):
    cli("materialize", project, cwd=project.parent, home=home)
    write_source(project / "raw.py", RAW.replace("[10, 20, 30]", "[10, 20, 31]"))

    cli("materialize", project, "--select", "status:stale", cwd=project.parent, home=home)

    assert counts(project) == {"orders": 2, "customers": 1, "totals": 2}
    assert {row["status"] for row in status(project, home).values()} == {"fresh"}
    again = cli("materialize", project, "-s", "status:stale", cwd=project.parent, home=home)
    assert "nothing to materialize" in again.stdout
    assert counts(project) == {"orders": 2, "customers": 1, "totals": 2}


# -- lineage ---------------------------------------------------------------------------------


@pytest.fixture
def lineage_project(tmp_path: Path, home: Path) -> Path:
    """Materialized once, with ``mid`` configured by ``-c mid.factor=3``."""
    path = write_source(tmp_path / "lineage_proj" / "pipeline.py", LINEAGE)
    cli("materialize", path, "-c", "mid.factor=3", cwd=tmp_path, home=home)
    return path


def lineage(*args: str | Path, cwd: Path, home: Path) -> dict[str, Any]:
    return json.loads(cli("lineage", *args, "--json", cwd=cwd, home=home).stdout)


def test_lineage_json_nests_the_materializations_down_to_the_root(
    lineage_project: Path, home: Path, db: Db
):
    tree = lineage("leaf", lineage_project, cwd=lineage_project.parent, home=home)

    run_id = db.value("SELECT run_id FROM runs")
    fields = {"asset_key", "run_id", "timestamp", "code_version", "data_version", "config"}
    names, node = [], tree
    while True:
        assert fields | {"inputs"} <= set(node), node
        names.append(node["asset_key"])
        assert node["run_id"] == run_id
        assert node["data_version"] == db.value(
            "SELECT data_version FROM latest_materializations WHERE asset_key = ?",
            (node["asset_key"],),
        )
        if not node["inputs"]:
            break
        [node] = node["inputs"]
    assert names == ["leaf", "mid", "root"]
    assert tree["config"] is None
    assert tree["inputs"][0]["config"] == {"factor": 3}


def test_lineage_downstream_says_which_assets_consumed_the_current_data(
    lineage_project: Path, home: Path
):
    cwd = lineage_project.parent
    source = lineage_project.read_text()
    lineage_project.write_text(source.replace("[1, 2, 3]", "[1, 2, 4]"))  # root's data changes
    cli("materialize", lineage_project, "--select", "root", cwd=cwd, home=home)

    tree = lineage("root", lineage_project, "--downstream", cwd=cwd, home=home)

    assert tree["asset_key"] == "root"
    [mid] = tree["downstream"]
    [leaf] = mid["downstream"]
    assert (mid["asset_key"], mid["consumed"]) == ("mid", False)  # root has new data since
    assert (leaf["asset_key"], leaf["consumed"]) == ("leaf", True)
    assert mid["config"] == {"factor": 3}


def test_lineage_text_prints_one_line_per_node(lineage_project: Path, home: Path):
    cwd = lineage_project.parent

    lines = cli("lineage", "leaf", lineage_project, cwd=cwd, home=home).stdout.splitlines()

    assert len(lines) == 3
    for line, name in zip(lines, ("leaf", "mid", "root"), strict=True):
        assert name in line and " run " in line
    assert 'config {"factor": 3}' in lines[1]


# -- -a and the default home -----------------------------------------------------------------


def test_attribute_picks_the_definitions_to_list_and_materialize(
    tmp_path: Path, home: Path, db: Db
):
    package = write_package(tmp_path / "multi", {"__init__": MULTI})

    def listed(*args: str) -> set[str]:
        out = cli("list", package, *args, "--json", cwd=tmp_path, home=home).stdout
        return {row["key"] for row in json.loads(out)}

    assert listed() == {"shared"}
    assert listed("-a", "prod") == {"shared", "only_prod"}
    assert listed("--attribute", "dev") == {"shared", "only_dev"}
    cli("materialize", package, "-a", "prod", cwd=tmp_path, home=home)
    assert {key for (key,) in db.rows("SELECT asset_key FROM materializations")} == {
        "shared",
        "only_prod",
    }


def test_the_home_defaults_to_the_project_root(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'demo'\n")
    code = write_package(tmp_path / "src" / "proj", {"__init__": MULTI})

    made = run_cli("materialize", "src/proj", cwd=tmp_path, home=None)
    other_cwd = run_cli("status", "proj", "--json", cwd=tmp_path / "src", home=None)

    assert made.returncode == 0, made.stderr
    assert (tmp_path / ".millrace" / "millrace.db").is_file()
    assert not (code / ".millrace").exists()
    assert not (tmp_path / "src" / ".millrace").exists()
    assert other_cwd.returncode == 0, other_cwd.stderr
    [row] = [json.loads(line) for line in other_cwd.stdout.splitlines()]
    assert (row["asset_key"], row["status"]) == ("shared", "fresh")
    assert not (tmp_path / "src" / ".millrace").exists()


def test_materialize_status_stale_stops_where_a_rerun_reproduces_its_data(
    project: Path, home: Path
):
    cli("materialize", project, cwd=project.parent, home=home)
    # New code, same output: orders re-runs, and totals (reading the same bytes) does not.
    write_source(project / "raw.py", RAW.replace("[10, 20, 30]", "[10, 20, 10 + 20]"))

    done = cli("materialize", project, "--select", "status:stale", cwd=project.parent, home=home)

    assert counts(project) == {"orders": 2, "customers": 1, "totals": 1}
    assert "= totals up to date (inputs unchanged)" in done.stdout.splitlines()
    assert ": 1 materialized, 1 up to date in " in done.stdout
    assert {row["status"] for row in status(project, home).values()} == {"fresh"}
