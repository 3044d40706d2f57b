"""Observations inside runs, as Dagster plans them: a run (``materialize``, a job, a Runtime
plan) that selects an observable source asset observes it in a step of its own, and what reads
the source waits for that step and records the data version it observed. Real runs, real
SQLite, each test in its own home; the CLI in a real process."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import open_db, run_cli, write_source
from millrace import (
    AssetKey,
    DataVersion,
    Definitions,
    IOManager,
    SourceAsset,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    materialize,
    observable_source_asset,
)
from millrace.errors import DefinitionsError
from millrace.events import AssetMaterialized, AssetObserved, StepStarted
from millrace.runtime.status_cache import StatusCache
from millrace.versions.staleness import Status

VERSION = {"feed": "v1"}
SEEN: dict[str, Any] = {}


@observable_source_asset
def feed() -> DataVersion:
    SEEN["thread"] = threading.current_thread().name
    return DataVersion(VERSION["feed"])


@asset(deps=[feed])
def report() -> int:
    return 1


FEED, REPORT = AssetKey("feed"), AssetKey("report")


def kinds_of(result: Any, key: AssetKey) -> list[str]:
    return [e.kind for e in result.all_events if e.asset_key == key]


def statuses() -> dict[str, tuple[Status, tuple[str, ...]]]:
    from millrace import Runtime

    async def read() -> dict[str, tuple[Status, tuple[str, ...]]]:
        async with Runtime(Definitions(assets=[feed, report])) as runtime:
            found = await runtime.status()
        return {
            k.to_user_string(): (a.status, tuple(c.message for c in a.causes))
            for k, a in found.items()
        }

    return asyncio.run(read())


def test_a_run_that_selects_a_source_observes_it_before_what_reads_it(db: Any) -> None:
    VERSION["feed"] = "v1"
    result = materialize([feed, report], selection=[feed, report])
    assert result.success
    [observed] = [e for e in result.all_events if isinstance(e, AssetObserved)]
    assert (observed.asset_key, observed.data_version) == (FEED, "v1")
    assert kinds_of(result, FEED) == ["STEP_STARTED", "ASSET_OBSERVATION", "STEP_SUCCEEDED"]
    # The downstream step starts after the observation, and consumed what it observed.
    order = [e for e in result.all_events if isinstance(e, AssetObserved | StepStarted)]
    assert order.index(observed) < next(i for i, e in enumerate(order) if e.asset_key == REPORT)
    [made] = [e for e in result.all_events if isinstance(e, AssetMaterialized)]
    [consumed] = made.inputs
    assert (consumed.asset_key, consumed.data_version, consumed.event_id) == (
        FEED,
        "v1",
        observed.seq,
    )
    assert SEEN["thread"] != threading.main_thread().name  # a def observes on a worker
    assert db.rows(
        "SELECT data_version, observed FROM latest_materializations WHERE asset_key = 'feed'"
    ) == [("v1", 1)]
    assert db.value("SELECT COUNT(*) FROM asset_values WHERE asset_key = 'feed'") == 0
    assert result.get_asset_materialization_events()[0].asset_key == REPORT
    [observation] = result.asset_observations_for_node("feed")  # Dagster's node of it
    assert observation.tags == {"dagster/data_version": "v1"}


def test_the_default_selection_materializes_without_observing() -> None:
    # Dagster's default selection is every materializable asset: no source is observed.
    result = materialize([feed, report])
    assert result.success
    assert not [e for e in result.all_events if isinstance(e, AssetObserved)]


def test_downstream_goes_stale_only_when_an_observation_in_a_run_changes_the_version() -> None:
    VERSION["feed"] = "v1"
    assert materialize([feed, report], selection=[feed, report]).success
    assert statuses()["report"] == (Status.FRESH, ())

    assert materialize([feed, report], selection=[feed]).success  # same data version
    assert statuses()["report"] == (Status.FRESH, ())

    VERSION["feed"] = "v2"
    assert materialize([feed, report], selection=[feed]).success
    assert statuses()["report"] == (
        Status.STALE,
        ("upstream feed has a new data version",),
    )
    assert materialize([feed, report], selection=[feed, report]).success
    assert statuses()["report"] == (Status.FRESH, ())


def test_early_cutoff_always_observes_and_reruns_only_on_a_new_version() -> None:
    from millrace import Runtime

    VERSION["feed"] = "v1"
    assert materialize([feed, report], selection=[feed, report]).success

    async def cutoff_run() -> Any:
        async with Runtime(Definitions(assets=[feed, report])) as runtime:
            plan = runtime.plan([FEED, REPORT], early_cutoff=True)
            return await runtime.submit(plan=plan)

    same = asyncio.run(cutoff_run())
    assert kinds_of(same, FEED) == ["STEP_STARTED", "ASSET_OBSERVATION", "STEP_SUCCEEDED"]
    assert kinds_of(same, REPORT) == ["STEP_UP_TO_DATE"]

    VERSION["feed"] = "v2"
    changed = asyncio.run(cutoff_run())
    assert "ASSET_MATERIALIZED" in kinds_of(changed, REPORT)


class LakeIO(IOManager):
    """Reads the source's value from where the outside world keeps it."""

    def handle_output(self, context: Any, obj: Any) -> None:
        raise AssertionError("an observation stores nothing")

    def load_input(self, context: Any) -> Any:
        return {"rows": 3}


def test_an_input_from_an_observed_source_loads_through_its_io_manager() -> None:
    @observable_source_asset(io_manager_key="lake")
    def orders() -> DataVersion:
        return DataVersion("etag-1")

    @asset
    def order_count(orders: dict[str, int]) -> int:
        return orders["rows"]

    result = materialize(
        [orders, order_count], selection=[orders, order_count], resources={"lake": LakeIO()}
    )
    assert result.asset_value("order_count") == 3
    [made] = result.get_asset_materialization_events()
    assert made.asset_key == AssetKey("order_count")


def test_a_failed_observation_skips_what_reads_the_source() -> None:
    @observable_source_asset
    def flaky() -> DataVersion:
        raise ConnectionError("bucket unreachable")

    @asset(deps=[flaky])
    def after() -> int:
        return 1

    with pytest.raises(ConnectionError, match="bucket unreachable"):
        materialize([flaky, after], selection=[flaky, after])
    result = materialize([flaky, after], selection=[flaky, after], raise_on_error=False)
    assert not result.success
    [skipped] = result.get_step_skipped_events()
    assert skipped.reason == "upstream flaky failed"


def test_an_async_observation_and_a_partition_of_the_run() -> None:
    regions = StaticPartitionsDefinition(["north", "south"])

    @observable_source_asset(partitions_def=regions)
    async def regional(context) -> DataVersion:
        return DataVersion(f"{context.partition_key}-1")

    @asset(partitions_def=regions, deps=[regional])
    def regional_report() -> int:
        return 1

    result = materialize(
        [regional, regional_report], selection=[regional, regional_report], partition_key="north"
    )
    [observed] = [e for e in result.all_events if isinstance(e, AssetObserved)]
    assert (observed.partition_key, observed.data_version) == ("north", "north-1")
    [made] = result.get_asset_materialization_events()
    [consumed] = made.inputs
    assert (consumed.partition_key, consumed.data_version) == ("north", "north-1")


def test_a_job_may_observe_a_source_but_not_select_another_external_asset() -> None:
    VERSION["feed"] = "v3"
    defs = Definitions(
        assets=[feed, report], jobs=[define_asset_job("refresh", selection=[feed, report])]
    )
    result = defs.get_job_def("refresh").execute_in_process()
    assert result.success
    assert [e.data_version for e in result.all_events if isinstance(e, AssetObserved)] == ["v3"]
    assert result.get_asset_materialization_events()[0].asset_key == REPORT

    bad = define_asset_job("bad", selection=["ledger", "feed"])
    with pytest.raises(DefinitionsError, match=r"job 'bad' selects ledger, which cannot be"):
        Definitions(assets=[SourceAsset("ledger"), feed], jobs=[bad])


def test_a_live_observation_updates_automation_and_lineage_names_its_run() -> None:
    from millrace import Runtime

    VERSION["feed"] = "v4"

    async def go() -> tuple[Any, Any, StatusCache, dict[str, Any] | None]:
        async with Runtime(Definitions(assets=[feed, report])) as runtime:
            automation = await runtime.start_automation()
            result = await runtime.materialize([FEED, REPORT])
            assert runtime.store is not None
            await runtime.store.flush()
            latest, failed, running = await runtime.store.status_rows()
            seeded = StatusCache()
            seeded.seed(latest, failed, running, await runtime.store.check_status_rows())
            return result, automation.cache, seeded, await runtime.lineage(REPORT)

    result, live, seeded, lineage = asyncio.run(go())
    [observed] = [e for e in result.all_events if isinstance(e, AssetObserved)]
    assert live.latest[(FEED, None)] == observed.seq == seeded.latest[(FEED, None)]
    assert live.newest[FEED] == seeded.newest[FEED]
    assert lineage is not None
    [source] = lineage["inputs"]
    assert (source["asset_key"], source["run_id"], source["data_version"]) == (
        "feed",
        result.run_id,
        "v4",
    )


PROJECT = """
    from millrace import DataVersion, Definitions, asset, observable_source_asset

    @observable_source_asset(group_name="sources")
    def shop_feed() -> DataVersion:
        return DataVersion("etag-7")

    @asset(deps=[shop_feed])
    def revenue() -> int:
        return 1

    defs = Definitions(assets=[shop_feed, revenue])
"""


def test_the_observe_command_runs_an_observation(tmp_path: Path, home: Path) -> None:
    code = write_source(tmp_path / "proj" / "defs.py", PROJECT)
    done = run_cli("observe", code, "--select", "group:sources", "--json", cwd=tmp_path, home=home)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    [observed] = [e for e in events if e["type"] == "ASSET_OBSERVATION"]
    assert (observed["asset_key"], observed["data_version"]) == ("shop_feed", "etag-7")
    assert not [e for e in events if e["type"] == "ASSET_MATERIALIZED"]


def test_the_observe_command_says_what_it_cannot_observe(tmp_path: Path, home: Path) -> None:
    code = write_source(tmp_path / "proj" / "defs.py", PROJECT)
    done = run_cli("observe", code, "--select", "revenue", cwd=tmp_path, home=home)
    assert done.returncode == 2
    assert "revenue selects no observable source asset (it selects revenue)" in done.stderr


def test_a_run_request_observes_what_its_job_selects_and_nothing_unasked() -> None:
    from millrace import RunRequest, Runtime

    VERSION["feed"] = "v5"
    defs = Definitions(
        assets=[feed, report], jobs=[define_asset_job("refresh", selection=[feed, report])]
    )

    async def requested(request: RunRequest) -> Any:
        async with Runtime(defs) as runtime:
            return await (await runtime.run_request(request))

    by_job = asyncio.run(requested(RunRequest(job_name="refresh")))
    assert [e.data_version for e in by_job.all_events if isinstance(e, AssetObserved)] == ["v5"]
    everything = asyncio.run(requested(RunRequest()))  # every asset: no source among them
    assert not [e for e in everything.all_events if isinstance(e, AssetObserved)]
    assert [e.asset_key for e in everything.get_asset_materialization_events()] == [REPORT]


def test_a_partition_the_source_does_not_have_is_refused_before_the_run() -> None:
    from millrace.errors import PartitionKeyError

    @observable_source_asset(partitions_def=StaticPartitionsDefinition(["north"]))
    def northern() -> DataVersion:
        return DataVersion("n")

    with pytest.raises(PartitionKeyError, match="'northern' has none of the partitions asked"):
        materialize([northern], selection=[northern], partition_key="west")


def test_a_check_of_an_observed_source_runs_after_the_observation() -> None:
    from millrace import AssetCheckResult, asset_check

    VERSION["feed"] = "v6"

    @asset_check(asset=feed)
    def feed_is_versioned() -> AssetCheckResult:
        return AssetCheckResult(passed=True)

    result = materialize([feed, feed_is_versioned], selection=[feed])
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.check_name == "feed_is_versioned"
    kinds = [e.kind for e in result.all_events]
    assert kinds.index("ASSET_OBSERVATION") < kinds.index("ASSET_CHECK_EVALUATED")


def test_dev_lines_say_observed_not_materialized() -> None:
    import io

    from millrace import Runtime
    from millrace.console import DevPrinter

    VERSION["feed"] = "v7"
    out = io.StringIO()

    async def go() -> None:
        async with Runtime(Definitions(assets=[feed, report])) as runtime:
            printer = DevPrinter(out)
            runtime.listen(printer)
            await runtime.materialize([FEED, REPORT])
            printer.close()

    asyncio.run(go())
    lines = out.getvalue().splitlines()
    assert "feed observed: data version v7" in lines
    assert not [line for line in lines if line.startswith("feed materialized")]
    assert [line for line in lines if line.startswith("report materialized in ")]


def test_observe_records_in_the_home_of_the_instance_it_is_given(tmp_path: Path) -> None:
    from millrace import DagsterInstance, observe

    VERSION["feed"] = "v8"
    instance = DagsterInstance.ephemeral(tmp_path / "elsewhere")
    assert observe([feed], instance=instance).data_version("feed") == "v8"
    with open_db(tmp_path / "elsewhere" / "millrace.db") as db:
        rows = db.execute(
            "SELECT data_version FROM latest_materializations WHERE asset_key = 'feed'"
        ).fetchall()
    assert rows == [("v8",)]
