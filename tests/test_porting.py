"""Porting a Dagster project: tests/porting/shop, written against ``dagster``, runs on
Millrace with only its import lines changed (by a real ``millrace`` process)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import run_cli, stored_value
from millrace import AssetKey
from millrace.runtime.loader import load_code_location

PROJECT = Path(__file__).parent / "porting"
IMPORT = re.compile(r"^(import|from) dagster\b", re.MULTILINE)


@pytest.fixture
def ported(tmp_path: Path) -> Path:
    """The project copied with ``dagster`` imports changed to ``millrace``, and nothing else;
    and the warehouse exports it reads."""
    target = tmp_path / "project"
    shutil.copytree(PROJECT, target)
    for path in target.rglob("*.py"):
        source = path.read_text()
        assert "millrace" not in source
        ported = IMPORT.sub(lambda m: f"{m[1]} millrace", source)
        changed = [
            (a, b) for a, b in zip(source.splitlines(), ported.splitlines(), strict=True) if a != b
        ]
        assert all(IMPORT.match(a) for a, _ in changed), changed
        path.write_text(ported)
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "customers.csv").write_text("customer_id,name\n1,ada\n2,bob\n3,cy\n")
    (exports / "orders.csv").write_text(
        "order_id,customer_id,amount\n1,1,10.0\n2,1,20.0\n3,2,\n4,2,5.0\n5,3,40.0\n"
    )
    return target


def test_the_ported_project_loads_with_its_graph(ported: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(ported)
    monkeypatch.syspath_prepend(str(ported))
    location = load_code_location("shop.definitions")  # dagster dev -m shop.definitions
    graph = location.defs.get_asset_graph()

    assert sorted(k.to_user_string() for k in graph.nodes) == [
        "cleaned_orders",
        "crm_export",
        "daily_revenue",
        "leader_share",
        "order_counts",
        "raw_customers",
        "raw_orders",
        "revenue",
        "top_customers",
    ]
    assert not graph.nodes[_key("crm_export")].is_executable
    assert graph.nodes[_key("revenue")].group_name == "features"
    assert {c.to_user_string() for c in graph.checks} == {
        "cleaned_orders:no_negative_amounts",
        "order_counts:has_rows",
        "revenue:positive",
    }
    assert [j.name for j in location.defs.job_defs] == ["nightly"]


def test_the_ported_project_materializes_in_a_real_process(ported: Path, tmp_path: Path):
    outbox = tmp_path / "outbox.jsonl"
    env = {"SHOP_EXPORTS": str(tmp_path / "exports"), "SHOP_OUTBOX": str(outbox)}
    home = tmp_path / "home"

    done = run_cli(
        "materialize",
        "shop.definitions",
        "--select",
        "*top_customers",
        "-c",
        "top_customers.top=1",
        "--json",
        env=env,
        home=home,
        cwd=ported,
    )

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["status"] == "SUCCESS"
    assert json.loads(outbox.read_text()) == {"channel": "#data", "text": "Top customers: cy"}

    job = run_cli(
        "materialize",
        "shop.definitions",
        "--job",
        "nightly",
        "--partition",
        "2024-03-02",
        "--json",
        env=env,
        home=home,
        cwd=ported,
    )
    assert job.returncode == 0, job.stderr
    ran = json.loads(job.stdout.splitlines()[-1])
    made = {
        (e["asset_key"], e["partition_key"])
        for e in map(json.loads, job.stdout.splitlines())
        if e["type"] == "ASSET_MATERIALIZED"
    }
    assert ran["status"] == "SUCCESS"
    assert ("daily_revenue", "2024-03-02") in made and ("revenue", None) in made
    assert ("leader_share", None) in made  # a graph asset of two ops
    assert stored_value(home, "leader_share") == round(40 / 75, 4)
    assert not any(key == "top_customers" for key, _ in made)  # not in the job's groups


def _key(name: str) -> AssetKey:
    return AssetKey(name)
