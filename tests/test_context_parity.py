"""Dagster's execution context and instance: ``context.run``, ``op_config``, ``run_config``,
``context.instance`` (``get_latest_materialization_event``, ``fetch_materializations``,
``get_asset_keys``...), ``add_asset_metadata``, ``asset_key_for_input``,
``get_dagster_logger()`` and the ``OpExecutionContext`` annotation, through real runs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from millrace import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    BackfillPolicy,
    Config,
    DagsterEventType,
    Definitions,
    MillraceError,
    OpExecutionContext,
    RunResult,
    Runtime,
    StaticPartitionsDefinition,
    asset,
    build_asset_context,
    get_dagster_logger,
)
from millrace.runtime.backfill import BackfillSpec
from millrace.storage.instance import (
    AssetRecordsFilter,
    DagsterInstance,
    EventRecordsFilter,
)


def _runtime(assets: list[Any], home: Path | None) -> Runtime:
    runtime = Runtime(Definitions(assets=assets), home=home, persist=home is not None)
    assert isinstance(runtime.instance, DagsterInstance)  # fed by the runtime's bus
    return runtime


async def _materialize(assets: list[Any], home: Path | None, **kwargs: Any) -> RunResult:
    async with _runtime(assets, home) as runtime:
        result = await runtime.materialize(**kwargs)
    assert result.success, result.partition_exceptions
    return result


# -- the instance inside a run ---------------------------------------------------------------


async def test_a_def_asset_reads_its_upstreams_materialization_of_the_same_run(
    tmp_path: Path,
) -> None:
    seen: dict[str, Any] = {}

    @asset
    def upstream(context: AssetExecutionContext) -> int:
        context.add_asset_metadata({"rows": 3})
        return 3

    @asset(deps=[upstream])
    def downstream(context: AssetExecutionContext) -> None:
        entry = context.instance.get_latest_materialization_event(AssetKey("upstream"))
        seen["run_id"] = entry.run_id
        seen["rows"] = entry.asset_materialization.metadata["rows"].value
        seen["missing"] = context.instance.get_latest_materialization_event("never")

    result = await _materialize([upstream, downstream], tmp_path / "home")
    assert seen == {"run_id": result.run_id, "rows": 3, "missing": None}


async def test_an_async_asset_reads_the_instance_on_the_loop_without_blocking_it(
    tmp_path: Path,
) -> None:
    seen: dict[str, Any] = {}

    @asset
    def first() -> int:
        return 1

    @asset(deps=[first])
    async def second(context: AssetExecutionContext) -> None:
        await asyncio.sleep(0)
        entry = context.instance.get_latest_materialization_event(AssetKey("first"))
        seen["run"] = entry.run_id
        seen["keys"] = context.instance.get_asset_keys()

    result = await _materialize([first, second], tmp_path / "home")
    assert seen == {"run": result.run_id, "keys": [AssetKey("first")]}


async def test_a_run_in_memory_reads_the_same_runs_materializations() -> None:
    seen: dict[str, Any] = {}

    @asset
    def left() -> int:
        return 1

    @asset(deps=[left])
    def right(context: AssetExecutionContext) -> None:
        entry = context.instance.get_latest_materialization_event(AssetKey("left"))
        seen["run"] = entry.run_id
        seen["page"] = context.instance.fetch_materializations(AssetKey("left"), limit=5)

    result = await _materialize([left, right], None)
    assert seen["run"] == result.run_id
    assert [r.run_id for r in seen["page"].records] == [result.run_id]


# -- the instance over a home, after runs ----------------------------------------------------


async def test_fetch_materializations_pages_newest_first_or_oldest_first(tmp_path: Path) -> None:
    home = tmp_path / "home"

    @asset
    def table(context: AssetExecutionContext) -> int:
        context.add_asset_metadata({"run": context.run_id})
        return 1

    runs = [(await _materialize([table], home)).run_id for _ in range(3)]
    with DagsterInstance(home / "millrace.db") as instance:
        first = instance.fetch_materializations(AssetKey("table"), limit=2)
        assert [r.run_id for r in first.records] == [runs[2], runs[1]]
        assert first.has_more
        rest = instance.fetch_materializations(AssetKey("table"), limit=2, cursor=first.cursor)
        assert [r.run_id for r in rest.records] == [runs[0]]
        assert not rest.has_more
        up = instance.fetch_materializations(
            AssetRecordsFilter(
                asset_key=AssetKey("table"), after_storage_id=first.records[1].storage_id
            ),
            limit=10,
            ascending=True,
        )
        assert [r.run_id for r in up.records] == [runs[2]]
        newest = first.records[0]
        assert newest.event_log_entry.asset_materialization.metadata["run"].value == runs[2]
        latest = instance.get_latest_materialization_event(AssetKey("table"))
        assert latest is not None and latest.run_id == runs[2]
        assert instance.get_asset_keys() == [AssetKey("table")]
        assert instance.has_asset_key("table") and not instance.has_asset_key("other")
        with pytest.raises(MillraceError, match="cursor 'nope' is not one this instance"):
            instance.fetch_materializations(AssetKey("table"), limit=1, cursor="nope")


async def test_get_event_records_takes_dagsters_older_filter(tmp_path: Path) -> None:
    @asset(partitions_def=StaticPartitionsDefinition(["a", "b"]))
    def parted(context: AssetExecutionContext) -> str:
        return context.partition_key

    @asset
    def single() -> int:
        return 1

    home = tmp_path / "home"
    for key in ("a", "b"):
        await _materialize([parted], home, partition_key=key)
    await _materialize([single], home)
    instance = DagsterInstance(home / "millrace.db")
    materialization = DagsterEventType.ASSET_MATERIALIZATION
    [b] = instance.get_event_records(
        EventRecordsFilter(materialization, asset_key=AssetKey("parted"), asset_partitions=["b"]),
        limit=1,
    )
    assert b.partition_key == "b" and b.asset_key == AssetKey("parted")
    every = instance.get_event_records(EventRecordsFilter(materialization), ascending=True)
    assert [(r.asset_key.to_user_string(), r.partition_key) for r in every] == [
        ("parted", "a"),
        ("parted", "b"),
        ("single", None),
    ]
    after_a = instance.get_event_records(
        EventRecordsFilter(materialization, after_cursor=every[0].storage_id), ascending=True
    )
    assert after_a == every[1:]
    with pytest.raises(MillraceError, match=r"keeps records of DagsterEventType\.ASSET_MAT"):
        EventRecordsFilter(event_type="ASSET_OBSERVATION")  # type: ignore[arg-type]


async def test_asset_keys_filter_by_prefix_and_page_by_cursor(tmp_path: Path) -> None:
    @asset(key_prefix=["raw"])
    def orders() -> int:
        return 1

    @asset(key_prefix=["raw"])
    def users() -> int:
        return 1

    @asset
    def report() -> int:
        return 1

    home = tmp_path / "home"
    await _materialize([orders, users, report], home)
    instance = DagsterInstance(home / "millrace.db")
    assert instance.get_asset_keys(prefix=["raw"]) == [
        AssetKey(["raw", "orders"]),
        AssetKey(["raw", "users"]),
    ]
    assert instance.get_asset_keys(limit=1) == [AssetKey(["raw", "orders"])]
    assert instance.get_asset_keys(cursor="raw/orders") == [
        AssetKey(["raw", "users"]),
        AssetKey("report"),
    ]


def test_an_instance_over_a_home_with_no_history_answers_nothing(tmp_path: Path) -> None:
    instance = DagsterInstance(tmp_path / "nothing" / "millrace.db")
    assert instance.get_latest_materialization_event("a") is None
    assert instance.get_asset_keys() == []
    assert instance.fetch_materializations("a", limit=3).records == []
    assert instance.get_run_by_id("r") is None


async def test_ephemeral_instance_keeps_a_temporary_home_until_disposed() -> None:
    @asset
    def thing() -> int:
        return 1

    instance = DagsterInstance.ephemeral()
    home = instance.home
    assert home is not None and home.is_dir()
    async with Runtime(Definitions(assets=[thing]), home=home) as runtime:
        result = await runtime.materialize()
    entry = instance.get_latest_materialization_event(AssetKey("thing"))
    assert entry is not None and entry.run_id == result.run_id
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.status == "SUCCESS"
    instance.dispose()
    assert not home.exists()
    kept = DagsterInstance.ephemeral(tempdir=home.parent / "kept")
    assert kept.home == home.parent / "kept"
    kept.dispose()


def test_get_reads_the_home_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MILLRACE_HOME", raising=False)
    with pytest.raises(MillraceError, match=r"\$MILLRACE_HOME, which is not set"):
        DagsterInstance.get()
    monkeypatch.setenv("MILLRACE_HOME", str(tmp_path))
    assert DagsterInstance.get().home == tmp_path


# -- the run, its tags and config ------------------------------------------------------------


class Epochs(Config):
    epochs: int = 5
    rate: float = 0.1


@pytest.mark.parametrize("persist", [True, False])
async def test_context_run_has_the_run_id_tags_and_config(tmp_path: Path, persist: bool) -> None:
    seen: dict[str, Any] = {}

    @asset
    def model(context: AssetExecutionContext, config: Epochs) -> None:
        seen["run_id"] = context.run.run_id
        seen["same"] = context.run_id == context.run.run_id
        seen["tags"] = dict(context.run.tags)
        seen["team"] = (context.has_tag("team"), context.get_tag("team"), context.get_tag("x"))
        seen["op_config"] = context.op_config
        seen["run_config"] = context.run_config

    result = await _materialize(
        [model],
        tmp_path / "home" if persist else None,
        tags={"team": "ml"},
        run_config={"ops": {"model": {"config": {"epochs": 20}}}},
    )
    assert seen["run_id"] == result.run_id and seen["same"]
    assert seen["tags"]["team"] == "ml"
    assert seen["team"] == (True, "ml", None)
    assert seen["op_config"] == {"epochs": 20, "rate": 0.1}
    assert seen["run_config"]["ops"]["model"]["config"] == {"epochs": 20, "rate": 0.1}


async def test_op_config_is_none_for_an_asset_without_config(tmp_path: Path) -> None:
    seen: list[Any] = []

    @asset
    def plain(context: AssetExecutionContext) -> None:
        seen.append(context.op_config)

    await _materialize([plain], None)
    assert seen == [None]


def test_build_asset_context_takes_run_tags_and_asset_config() -> None:
    context = build_asset_context(
        asset_key="model", run_tags={"team": "ml"}, asset_config={"epochs": 3}
    )
    assert context.run.tags == {"team": "ml"} and context.run.run_id == "test-run"
    assert context.op_config == {"epochs": 3}
    assert context.run_config == {"ops": {"model": {"config": {"epochs": 3}}}}
    # Without one, an instance in memory, as Dagster's ephemeral instance.
    assert context.instance.get_latest_materialization_event("model") is None
    context.instance.add_dynamic_partitions("regions", ["eu"])
    assert context.instance.get_dynamic_partitions("regions") == ["eu"]


# -- add_asset_metadata ----------------------------------------------------------------------


async def test_add_asset_metadata_merges_into_the_materialization(tmp_path: Path) -> None:
    @asset
    def scores(context: AssetExecutionContext) -> list[int]:
        context.add_asset_metadata({"count": 2})
        context.add_output_metadata({"source": "api"})
        context.add_asset_metadata({"count": 3}, asset_key="scores")
        return [1, 2, 3]

    result = await _materialize([scores], tmp_path / "home")
    [event] = result.get_asset_materialization_events()
    assert event.metadata["count"].value == 3
    assert event.metadata["source"].value == "api"


PARTS = StaticPartitionsDefinition(["a", "b", "c"])


async def test_add_asset_metadata_for_one_partition_of_a_range(tmp_path: Path) -> None:
    @asset(partitions_def=PARTS, backfill_policy=BackfillPolicy.single_run())
    def regions(context: AssetExecutionContext) -> dict[str, int]:
        context.add_asset_metadata({"shared": True})
        context.add_asset_metadata({"only": "b"}, partition_key="b")
        return {key: 1 for key in context.partition_keys}

    async with _runtime([regions], tmp_path / "home") as runtime:
        _, handle = await runtime.backfill(None, BackfillSpec(keys=("a", "b", "c")))
        result = await handle
        assert result.success
        page = runtime.instance.fetch_materializations(AssetKey("regions"), limit=10)
    by_partition = {
        r.partition_key: r.event_log_entry.asset_materialization.metadata for r in page.records
    }
    assert set(by_partition) == {"a", "b", "c"}
    assert all(m["shared"].value is True for m in by_partition.values())
    assert by_partition["b"]["only"].value == "b"
    assert "only" not in by_partition["a"] and "only" not in by_partition["c"]


async def test_add_asset_metadata_names_what_is_wrong(tmp_path: Path) -> None:
    @asset(partitions_def=PARTS)
    def parted(context: AssetExecutionContext) -> int:
        context.add_asset_metadata({"x": 1}, partition_key="z")
        return 1

    async with _runtime([parted], tmp_path / "home") as runtime:
        result = await runtime.materialize(partition_key="a")
    [error] = result.partition_exceptions.values()
    assert "asset 'parted' is not materializing partition 'z' in this step (it runs 'a')" in str(
        error
    )

    context = build_asset_context(asset_key="mine")
    with pytest.raises(MillraceError, match="asset 'theirs' is not being materialized here"):
        context.add_asset_metadata({"x": 1}, asset_key="theirs")
    with pytest.raises(MillraceError, match="'mine' is not running for partitions"):
        context.add_asset_metadata({"x": 1}, partition_key="a")


# -- inputs, annotations, logging ------------------------------------------------------------


async def test_asset_key_for_input_and_the_op_execution_context_annotation(
    tmp_path: Path,
) -> None:
    seen: dict[str, Any] = {}

    @asset(key_prefix=["raw"])
    def orders() -> int:
        return 1

    @asset(ins={"rows": AssetIn(key=["raw", "orders"])})
    def summary(ctx: OpExecutionContext, rows: int) -> None:
        seen["key"] = ctx.asset_key_for_input("rows")
        seen["kind"] = isinstance(ctx, AssetExecutionContext)
        with pytest.raises(MillraceError, match=r"has no input 'nope' \(its inputs: rows\)"):
            ctx.asset_key_for_input("nope")

    await _materialize([orders, summary], None)
    assert seen == {"key": AssetKey(["raw", "orders"]), "kind": True}


async def test_get_dagster_logger_records_land_in_the_runs_log(tmp_path: Path) -> None:
    @asset
    def chatty(context: AssetExecutionContext) -> None:
        context.log.info("from context.log")
        get_dagster_logger().info("from the dagster logger %d", 7)
        get_dagster_logger("mine").debug("a debug line")

    @asset
    async def chatty_async() -> None:
        get_dagster_logger().warning("from an async asset")

    async with _runtime([chatty, chatty_async], tmp_path / "home") as runtime:
        result = await runtime.materialize()
        assert result.success
        assert runtime.store is not None
        await runtime.store.flush()
        logs = await runtime.store.events(result.run_id, kinds=["LOG"])
    lines = {(e.asset_key.to_user_string(), e.level, e.message) for e in logs}
    assert {
        ("chatty", "INFO", "from context.log"),
        ("chatty", "INFO", "from the dagster logger 7"),
        ("chatty", "DEBUG", "a debug line"),
        ("chatty_async", "WARNING", "from an async asset"),
    } <= lines


def test_get_dagster_logger_outside_a_step_is_a_plain_logger(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = get_dagster_logger("outside")
    assert isinstance(logger, logging.Logger) and logger.name == "dagster.builtin.outside"
    with caplog.at_level(logging.INFO):
        logger.info("plain python logging")
    assert [r.getMessage() for r in caplog.records] == ["plain python logging"]
