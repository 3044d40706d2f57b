"""Provenance, data versions, event ids and the Runtime's history queries, through real runs:
``materialize([...])`` and ``Runtime`` on a real home, checked on the real SQLite file (with
the standard library), the real Parquet and pickle files, and the events the bus delivers.
Early cutoff is checked with counter files the assets append to.
"""

from __future__ import annotations

import asyncio
import json
import pickle
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import polars as pl
import xxhash
from conftest import Db, write_source
from millrace import (
    AssetKey,
    Config,
    DataVersion,
    Definitions,
    MaterializeResult,
    Output,
    RunStatus,
    Runtime,
    asset,
    materialize,
)
from millrace.events import LogMessage
from millrace.runtime.loader import load_code_location
from millrace.storage.event_store import ID_BLOCK
from millrace.storage.io_managers import INLINE_LIMIT
from millrace.storage.schema import MIGRATIONS, SCHEMA_VERSION

# -- assets ----------------------------------------------------------------------------------


@asset
def orders() -> pl.DataFrame:
    return pl.DataFrame({"customer": [1, 1, 2], "amount": [10, 20, 30]})


@asset
def regions() -> dict[int, str]:
    return {1: "north", 2: "south"}


@asset
def by_region(orders: pl.DataFrame, regions: dict[int, str]) -> pl.DataFrame:
    return orders.with_columns(pl.col("customer").replace_strict(regions).alias("region"))


@asset
def big_blob() -> bytes:
    return bytes(range(256)) * 400  # ~100 KiB pickled: above the inline limit, so a .pkl file


@asset
def versioned() -> Output:
    return Output(5, data_version=DataVersion("v7"))


@asset
def after_versioned(versioned: int) -> int:
    return versioned + 1


@asset(deps=[orders])
def exported() -> MaterializeResult:
    return MaterializeResult(metadata={"rows": 3})


# -- helpers ---------------------------------------------------------------------------------


def xxh3(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def latest_version(db: Db, key: str) -> str:
    return db.value("SELECT data_version FROM latest_materializations WHERE asset_key = ?", (key,))


def appender(path: Path):
    """A function that records one call by appending a line to ``path``."""

    def record() -> None:
        with path.open("a") as f:
            f.write("ran\n")

    return record


def calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def events_by_asset(events, kind: str) -> dict[str, Any]:
    return {e.asset_key.to_user_string(): e for e in events if e.kind == kind}


# -- what every materialization records ------------------------------------------------------


def test_every_materialization_records_its_data_and_code_versions(db: Db):
    materialize([orders, regions, by_region, big_blob, versioned, after_versioned, exported])

    rows = db.rows("SELECT asset_key, code_version, data_version FROM materializations")
    assert {r[0] for r in rows} == {
        "orders",
        "regions",
        "by_region",
        "big_blob",
        "versioned",
        "after_versioned",
        "exported",
    }
    assert all(code and data for _, code, data in rows), rows
    assert db.value("SELECT COUNT(*) FROM materializations WHERE has_provenance = 1") == len(rows)


def test_inputs_record_each_upstreams_data_version_and_event(db: Db):
    first = materialize([orders, regions, by_region])
    second = materialize([orders, regions, by_region], selection="by_region")

    for run in (first, second):
        event_id = db.value(
            "SELECT event_id FROM materializations WHERE asset_key = 'by_region' AND run_id = ?",
            (run.run_id,),
        )
        inputs = db.rows(
            "SELECT asset_key, data_version, input_event_id FROM materialization_inputs"
            " WHERE event_id = ? ORDER BY asset_key",
            (event_id,),
        )
        assert [key for key, _, _ in inputs] == ["orders", "regions"]
        for key, version, input_event in inputs:
            # The upstream's materialization event, from the first run (the second read it).
            assert db.rows(
                "SELECT type, run_id, asset_key FROM events WHERE id = ?", (input_event,)
            ) == [("ASSET_MATERIALIZED", first.run_id, key)]
            assert version == db.value(
                "SELECT data_version FROM materializations WHERE event_id = ?", (input_event,)
            )


def test_the_same_output_keeps_its_data_version_the_hash_of_the_stored_bytes(db: Db, home: Path):
    assets = [orders, regions, big_blob]
    materialize(assets)
    first = {key: latest_version(db, key) for key in ("orders", "regions", "big_blob")}
    materialize(assets)
    second = {key: latest_version(db, key) for key in ("orders", "regions", "big_blob")}

    assert first == second
    assert len(set(first.values())) == 3
    storage = home / "storage"
    assert first["orders"] == xxh3((storage / "orders.parquet").read_bytes())
    inline = db.value("SELECT data FROM asset_values WHERE asset_key = 'regions'")
    assert first["regions"] == xxh3(inline)
    blob = (storage / "big_blob.pkl").read_bytes()
    assert len(blob) > INLINE_LIMIT
    assert pickle.loads(blob) == bytes(range(256)) * 400
    assert first["big_blob"] == xxh3(blob)


def test_other_output_gets_another_data_version(db: Db, tmp_path: Path):
    source = tmp_path / "value.txt"

    @asset(code_version="1")
    def reads_a_file() -> str:
        return source.read_text()

    versions = []
    for text in ("one", "one", "two"):
        source.write_text(text)
        materialize([reads_a_file])
        versions.append(latest_version(db, "reads_a_file"))

    assert versions[0] == versions[1] != versions[2]


def test_a_returned_data_version_wins_and_is_what_the_downstream_consumed(db: Db):
    materialize([versioned, after_versioned])

    assert latest_version(db, "versioned") == "v7"
    assert db.rows("SELECT asset_key, data_version FROM materialization_inputs") == [
        ("versioned", "v7")
    ]


def test_materialize_result_gets_the_logical_version_of_its_code_and_inputs(db: Db):
    @asset(name="exported", deps=[orders], code_version="2")
    def exported_v2() -> MaterializeResult:
        return MaterializeResult(metadata={"rows": 3})

    versions = []
    for assets in ([orders, exported], [orders, exported], [orders, exported_v2]):
        materialize(assets)
        versions.append(latest_version(db, "exported"))

    assert versions[0] == versions[1] != versions[2]
    assert versions[0] != latest_version(db, "orders")


# -- event ids -------------------------------------------------------------------------------


async def test_event_ids_are_unique_and_increasing_across_runtimes_on_one_home(home: Path, db: Db):
    runs = []
    for _ in range(2):
        async with Runtime(Definitions(assets=[orders, regions, by_region]), home=home) as rt:
            runs.append(await rt.submit())

    ids = [[e.seq for e in run.all_events] for run in runs]
    for run, published in zip(runs, ids, strict=True):
        assert published == sorted(published) and len(set(published)) == len(published)
        stored = db.rows("SELECT id FROM events WHERE run_id = ? ORDER BY id", (run.run_id,))
        assert [i for (i,) in stored] == published
        kinds = db.rows("SELECT type FROM events WHERE run_id = ? ORDER BY id", (run.run_id,))
        assert (kinds[0], kinds[-1]) == (("RUN_STARTED",), ("RUN_FINISHED",))
    # The second runtime numbers from the block it reserved, after the first one's.
    assert ids[1][0] >= ids[0][0] + ID_BLOCK
    assert db.value("SELECT COUNT(DISTINCT id) FROM events") == len(ids[0]) + len(ids[1])


# -- a database from before provenance -------------------------------------------------------


def build_v4_database(path: Path) -> str:
    """A millrace.db at schema v4 with one run that materialized ``base`` and ``derived``,
    written by hand as that version did; returns the run id."""
    run_id = "0" * 31 + "4"
    with closing(sqlite3.connect(path)) as db:
        for migration in MIGRATIONS[:4]:
            db.executescript(migration)
        db.execute("PRAGMA user_version = 4")
        db.execute(
            "INSERT INTO runs (run_id, status, selection, config, tags, start_time, end_time,"
            " pid, hostname) VALUES (?, 'SUCCESS', '[\"base\", \"derived\"]', '{}', '{}', ?, ?,"
            " 1, 'old-host')",
            (run_id, 1000.0, 1001.0),
        )
        for event_id, key in ((7, "base"), (8, "derived")):
            payload = {"metadata": {}, "code_version": "1", "data_version": f"old-{key}"}
            db.execute(
                "INSERT INTO events (id, run_id, asset_key, type, timestamp, payload)"
                " VALUES (?, ?, ?, 'ASSET_MATERIALIZED', ?, ?)",
                (event_id, run_id, key, 1000.0 + event_id, json.dumps(payload)),
            )
            db.execute(
                "INSERT INTO latest_materializations (asset_key, run_id, event_id, timestamp,"
                " code_version, data_version, metadata) VALUES (?, ?, ?, ?, '1', ?, '{}')",
                (key, run_id, event_id, 1000.0 + event_id, f"old-{key}"),
            )
        db.commit()
    return run_id


def base_and_derived(derived_version: str) -> Definitions:
    @asset(code_version="1")
    def base() -> int:
        return 1

    @asset(code_version=derived_version)
    def derived(base: int) -> int:
        return base + 1

    return Definitions(assets=[base, derived])


async def test_a_v4_database_migrates_and_its_history_is_judged_on_code_only(home: Path, db: Db):
    home.mkdir()
    old_run = build_v4_database(home / "millrace.db")

    async with Runtime(base_and_derived("1"), home=home) as rt:
        unchanged = await rt.status()
        lineage = await rt.lineage("derived")
    async with Runtime(base_and_derived("2"), home=home) as rt:
        changed = await rt.status()
        result = await rt.submit()

    assert db.value("PRAGMA user_version") == SCHEMA_VERSION == 12
    assert db.rows(
        "SELECT event_id, asset_key, run_id, code_version, data_version, has_provenance"
        " FROM materializations WHERE run_id = ? ORDER BY event_id",
        (old_run,),
    ) == [(7, "base", old_run, "1", "old-base", 0), (8, "derived", old_run, "1", "old-derived", 0)]
    assert {(k.to_user_string(), a.status.value, a.causes) for k, a in unchanged.items()} == {
        ("base", "fresh", ()),
        ("derived", "fresh", ()),  # no provenance: its inputs are not compared
    }
    assert [c.message for c in changed[AssetKey("derived")].causes] == [
        "has a new code version (1 -> 2)"
    ]
    assert lineage is not None
    assert (lineage["event_id"], lineage["provenance"], lineage["inputs"]) == (8, False, [])
    new_ids = [e.seq for e in result.all_events]
    assert min(new_ids) > 8  # ids continue after the old events
    assert db.rows("SELECT asset_key, has_provenance FROM latest_materializations") == [
        ("base", 1),
        ("derived", 1),
    ]


# -- status and history queries --------------------------------------------------------------

STATUS_MODULE = """
    from millrace import asset


    @asset
    def model() -> int:
        return 1


    @asset
    def score(model: int) -> int:
        return model * 2
"""


async def test_status_after_a_code_change_reports_the_code_cause(home: Path, tmp_path: Path):
    path = write_source(tmp_path / "scoring.py", STATUS_MODULE)
    async with Runtime(load_code_location(path), home=home) as rt:
        assert (await rt.submit()).success
        before = await rt.status()
    write_source(path, STATUS_MODULE.replace("return 1", "return 2"))
    async with Runtime(load_code_location(path), home=home) as rt:
        after = {k.to_user_string(): a for k, a in (await rt.status()).items()}
        versions = {k.to_user_string(): v[:8] for k, v in rt.code.code_versions().items()}

    assert {a.status.value for a in before.values()} == {"fresh"}
    assert after["model"].status.value == "stale"
    [cause] = after["model"].causes
    assert cause.category.value == "code"
    assert cause.message.startswith("has a new code version (")
    assert cause.message.endswith(f" -> {versions['model']})")
    assert after["score"].status.value == "stale"
    assert [c.message for c in after["score"].causes] == [
        f"upstream model is stale: model {cause.message}"
    ]


async def test_asset_history_is_newest_first(home: Path):
    async with Runtime(Definitions(assets=[orders]), home=home) as rt:
        run_ids = [(await rt.submit()).run_id for _ in range(3)]
        history = await rt.asset_history("orders")
        limited = await rt.asset_history("orders", limit=2)

    assert [r.run_id for r in history] == run_ids[::-1]
    assert [r.timestamp for r in history] == sorted((r.timestamp for r in history), reverse=True)
    assert [r.run_id for r in limited] == run_ids[:0:-1]
    # every record has its own metadata (for the asset screen's sparklines), not only the latest
    assert all("millrace/compute_seconds" in r.metadata for r in history)


async def test_runs_filters_by_status(home: Path):
    @asset(code_version="1")
    def breaks() -> int:
        raise ValueError("no")

    async with Runtime(Definitions(assets=[orders, breaks]), home=home) as rt:
        ok = (await rt.submit("orders")).run_id
        failed = (await rt.submit("breaks")).run_id
        ok_again = (await rt.submit("orders")).run_id
        everything = await rt.runs()
        succeeded = await rt.runs(status=RunStatus.SUCCESS)
        failures = await rt.runs(status=RunStatus.FAILURE)
        by_name = await rt.runs(status="FAILURE")  # as a client types it

    assert [r.run_id for r in by_name] == [failed]
    assert [r.run_id for r in everything] == [ok_again, failed, ok]
    assert [r.run_id for r in succeeded] == [ok_again, ok]
    assert [(r.run_id, r.status) for r in failures] == [(failed, RunStatus.FAILURE)]


async def test_run_events_after_a_seq_and_with_a_limit(home: Path):
    async with Runtime(Definitions(assets=[orders, regions, by_region]), home=home) as rt:
        result = await rt.submit()
        everything = await rt.run_events(result.run_id)
        after = await rt.run_events(result.run_id, after_seq=everything[2].seq)
        page = await rt.run_events(result.run_id, after_seq=everything[2].seq, limit=2)
        none_left = await rt.run_events(result.run_id, after_seq=everything[-1].seq)

    def seqs(events):
        return [(e.seq, e.kind) for e in events]

    assert seqs(everything) == [(e.seq, e.kind) for e in result.all_events]
    assert seqs(after) == seqs(everything[3:])
    assert seqs(page) == seqs(everything[3:5])
    assert none_left == []


async def test_history_then_live_events_have_no_gap_and_no_duplicate(home: Path):
    gate = asyncio.Event()

    @asset(code_version="1")
    def first() -> int:
        return 1

    @asset(code_version="1")
    async def second(first: int) -> int:
        await gate.wait()  # the run holds here while the test reads the history
        return first + 1

    @asset(code_version="1")
    def third(second: int) -> int:
        return second + 1

    async with Runtime(Definitions(assets=[first, second, third]), home=home) as rt:
        live = rt.subscribe()
        handle = rt.submit()
        seen = []
        async for event in live:
            seen.append(event)
            if event.kind == "STEP_STARTED" and event.asset_key == second.key:
                break
        history = await rt.run_events(handle.run_id)
        gate.set()
        async for event in live:
            seen.append(event)
            if event.kind == "RUN_FINISHED":
                break
        await handle
        live.close()
        stored = await rt.run_events(handle.run_id)

    last = history[-1].seq
    followed = [*history, *(e for e in seen if e.run_id == handle.run_id and e.seq > last)]
    assert [e.seq for e in followed] == [e.seq for e in stored]
    assert any(e.seq <= last for e in seen)  # the overlap the filter removed was there
    assert [e.kind for e in stored][-3:] == ["ASSET_MATERIALIZED", "STEP_SUCCEEDED", "RUN_FINISHED"]


async def test_a_subscription_closed_before_its_first_iteration_is_unsubscribed():
    async with Runtime(Definitions(assets=[orders]), persist=False) as rt:
        subscribers = len(rt.bus._subscribers)
        closed = rt.subscribe()
        async with rt.subscribe() as exited:
            assert len(rt.bus._subscribers) == subscribers + 2
        await closed.aclose()
        assert len(rt.bus._subscribers) == subscribers
        queued = (closed.pending(), exited.pending())

        rt.bus.publish(LogMessage(message="after close"))

        assert (closed.pending(), exited.pending()) == queued
        assert [e async for e in closed] == []


# -- early cutoff ----------------------------------------------------------------------------


def pipeline(tmp_path: Path, mid_version: str) -> Definitions:
    """top -> mid -> leaf; ``mid`` returns the same bytes whatever its code version, and
    every asset appends to its counter file when it runs."""
    ran = {name: appender(tmp_path / f"{name}.count") for name in ("top", "mid", "leaf")}

    @asset(code_version="1")
    def top() -> pl.DataFrame:
        ran["top"]()
        return pl.DataFrame({"x": [1, 2, 3]})

    @asset(code_version=mid_version)
    def mid(top: pl.DataFrame) -> pl.DataFrame:
        ran["mid"]()
        return top.with_columns(y=pl.col("x") * 2)

    @asset(code_version="1")
    def leaf(mid: pl.DataFrame) -> pl.DataFrame:
        ran["leaf"]()
        return mid.select(pl.col("y").sum())

    return Definitions(assets=[top, mid, leaf])


async def test_early_cutoff_stops_where_a_rerun_reproduces_its_data(home: Path, tmp_path: Path):
    async with Runtime(pipeline(tmp_path, "1"), home=home) as rt:
        first = await rt.submit()
    async with Runtime(pipeline(tmp_path, "2"), home=home) as rt:
        plan = await rt.resolve_plan("status:stale")
        result = await rt.submit(plan=plan)
        status = {k.to_user_string(): a.status.value for k, a in (await rt.status()).items()}

    assert first.success and result.success
    assert [k.to_user_string() for k in plan.keys] == ["mid", "leaf"]
    assert plan.early_cutoff
    assert [calls(tmp_path / f"{n}.count") for n in ("top", "mid", "leaf")] == [1, 2, 1]
    materialized = events_by_asset(result.all_events, "ASSET_MATERIALIZED")
    assert set(materialized) == {"mid"}
    before = events_by_asset(first.all_events, "ASSET_MATERIALIZED")
    assert materialized["mid"].data_version == before["mid"].data_version
    [up_to_date] = [e for e in result.all_events if e.kind == "STEP_UP_TO_DATE"]
    assert (up_to_date.asset_key.to_user_string(), up_to_date.reason) == (
        "leaf",
        "inputs unchanged",
    )
    assert up_to_date.data_version == before["leaf"].data_version
    assert status == {"top": "fresh", "mid": "fresh", "leaf": "fresh"}


class Scale(Config):
    factor: int = 2


def scaled_pipeline(tmp_path: Path, top_version: str) -> Definitions:
    """top -> scaled(config: Scale); top's output is the same whatever its code version."""
    ran = appender(tmp_path / "scaled.count")

    @asset(code_version=top_version)
    def top() -> list[int]:
        return [1, 2, 3]

    @asset(code_version="1")
    def scaled(config: Scale, top: list[int]) -> list[int]:
        ran()
        return [config.factor * x for x in top]

    return Definitions(assets=[top, scaled])


async def test_early_cutoff_reruns_an_asset_whose_config_changed(home: Path, tmp_path: Path):
    counter = tmp_path / "scaled.count"

    async def rerun_stale(top_version: str, run_config: dict[str, Any] | None = None):
        async with Runtime(scaled_pipeline(tmp_path, top_version), home=home) as rt:
            plan = await rt.resolve_plan("status:stale")
            assert [k.to_user_string() for k in plan.keys] == ["top", "scaled"]
            return await rt.submit(plan=plan, run_config=run_config)

    async with Runtime(scaled_pipeline(tmp_path, "1"), home=home) as rt:
        await rt.submit()
    same_config = await rerun_stale("2")
    runs_after_same = calls(counter)
    new_config = await rerun_stale("3", {"ops": {"scaled": {"config": {"factor": 3}}}})

    assert runs_after_same == 1
    assert set(events_by_asset(same_config.all_events, "STEP_UP_TO_DATE")) == {"scaled"}
    assert calls(counter) == 2
    assert set(events_by_asset(new_config.all_events, "STEP_UP_TO_DATE")) == set()
    stored = events_by_asset(new_config.all_events, "ASSET_MATERIALIZED")["scaled"]
    assert stored.config == {"factor": 3}


async def test_the_latest_materialization_and_the_check_history_of_one_asset(home: Path):
    from millrace import AssetCheckResult, asset_check

    @asset_check(asset=orders)
    def has_orders(orders) -> AssetCheckResult:
        return AssetCheckResult(passed=True, metadata={"n": 1})

    defs = Definitions(assets=[orders], asset_checks=[has_orders])
    async with Runtime(defs, home=home) as rt:
        first = await rt.submit()
        second = await rt.submit()
        latest = await rt.latest_materialization("orders")
        checks = await rt.check_history("orders", limit=5)

    assert latest is not None and latest.run_id == second.run_id
    assert "millrace/compute_seconds" in latest.metadata  # full metadata, unlike history rows
    assert [e.run_id for e in checks] == [second.run_id, first.run_id]  # newest first
    assert all(e.check_name == "has_orders" and e.passed for e in checks)
