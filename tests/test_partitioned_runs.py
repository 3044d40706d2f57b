"""Partitioned assets in real runs: a step per partition, inputs through partition mappings,
a file per partition, and per-partition history, provenance, failures and early cutoff,
checked on the real Parquet files and the real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import Db
from millrace import (
    AssetCheckResult,
    AssetIn,
    AssetKey,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    asset_check,
    build_asset_context,
    materialize,
)
from millrace.errors import PartitionKeyError
from millrace.storage.paths import partition_name

DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-11")
HOURS = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-03-00:00")
REGIONS = StaticPartitionsDefinition(["north", "south"])
CALLS: list[str] = []


@asset(partitions_def=DAYS)
def daily_events(context) -> pl.DataFrame:
    CALLS.append(f"daily_events {context.partition_key}")
    day = int(context.partition_key[-2:])
    return pl.DataFrame({"day": [context.partition_key] * day, "n": list(range(day))})


@asset(partitions_def=DAYS)
def daily_totals(context, daily_events: pl.DataFrame) -> pl.DataFrame:
    CALLS.append(f"daily_totals {context.partition_key}")
    return daily_events.select(pl.col("n").sum().alias("total"))


@asset(
    partitions_def=DAYS,
    ins={
        "daily_events": AssetIn(
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=-6, allow_nonexistent_upstream_partitions=True
            )
        )
    },
)
def weekly_rolling(context, daily_events: dict[str, pl.DataFrame]) -> pl.DataFrame:
    window = context.asset_partitions_time_window_for_input("daily_events")
    return pl.concat(daily_events.values()).select(
        pl.len().alias("rows"),
        pl.lit(f"{window.start:%Y-%m-%d}..{window.end:%Y-%m-%d}").alias("window"),
    )


@asset(
    partitions_def=DAYS,
    ins={"daily_events": AssetIn(partition_mapping=TimeWindowPartitionMapping(start_offset=-6))},
)
def strict_rolling(daily_events: dict[str, pl.DataFrame]) -> int:
    return len(daily_events)


@asset(partitions_def=HOURS)
def hourly_clicks(context) -> pl.DataFrame:
    return pl.DataFrame({"hour": [context.partition_key], "clicks": [1]})


@asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-03"))
def daily_clicks(context, hourly_clicks: dict[str, pl.DataFrame]) -> int:
    assert context.asset_partition_keys_for_input("hourly_clicks")[0] == "2024-01-02-00:00"
    return pl.concat(hourly_clicks.values())["clicks"].sum()


@asset(partitions_def=REGIONS)
def regional(context) -> dict[str, str]:
    if context.partition_key == "south":
        raise RuntimeError("the south feed is down")
    return {"region": context.partition_key}


@asset
def all_regions(regional: dict[str, dict[str, str]]) -> list[str]:
    return sorted(regional)


@asset
def rates() -> dict[str, float]:
    return {"eur": 1.1}


@asset(partitions_def=DAYS)
def priced(context, rates: dict[str, float]) -> float:
    return rates["eur"] * int(context.partition_key[-2:])


@asset_check(asset=daily_totals, partitions_def=DAYS)
def totals_not_negative(context, daily_totals: pl.DataFrame) -> AssetCheckResult:
    return AssetCheckResult(
        passed=daily_totals["total"][0] >= 0, metadata={"day": context.partition_key}
    )


def stored(home: Path, key: str, partition: str) -> Path:
    return home / "storage" / key / f"{partition_name(partition)}.parquet"


def test_a_partition_is_its_own_step_file_and_history(home: Path, db: Db) -> None:
    CALLS.clear()
    for day in ("2024-01-02", "2024-01-03"):
        result = materialize([daily_events, daily_totals], partition_key=day)
        assert result.success
        assert result.asset_value("daily_totals")["total"][0] == sum(range(int(day[-2:])))
    assert CALLS == [
        "daily_events 2024-01-02",
        "daily_totals 2024-01-02",
        "daily_events 2024-01-03",
        "daily_totals 2024-01-03",
    ]
    assert pl.read_parquet(stored(home, "daily_events", "2024-01-03")).height == 3
    assert pl.read_parquet(stored(home, "daily_events", "2024-01-02")).height == 2
    latest = db.rows("SELECT asset_key, partition_key FROM latest_materializations ORDER BY 1, 2")
    assert latest == [
        ("daily_events", "2024-01-02"),
        ("daily_events", "2024-01-03"),
        ("daily_totals", "2024-01-02"),
        ("daily_totals", "2024-01-03"),
    ]
    # Provenance names the upstream partition each one read, with its event.
    consumed = db.rows(
        "SELECT m.partition_key, i.asset_key, i.partition_key, i.input_event_id = u.event_id"
        " FROM materializations m JOIN materialization_inputs i ON i.event_id = m.event_id"
        " JOIN latest_materializations u"
        "   ON u.asset_key = i.asset_key AND u.partition_key = i.partition_key"
        " WHERE m.asset_key = 'daily_totals' ORDER BY 1"
    )
    assert consumed == [
        ("2024-01-02", "daily_events", "2024-01-02", 1),
        ("2024-01-03", "daily_events", "2024-01-03", 1),
    ]
    # Every event of a partitioned step carries its partition; unpartitioned ones ''.
    assert db.rows(
        "SELECT DISTINCT partition_key FROM events WHERE type = 'STEP_SUCCEEDED' ORDER BY 1"
    ) == [("2024-01-02",), ("2024-01-03",)]
    assert db.value("SELECT COUNT(*) FROM events WHERE partition_key IS NULL") == 0


def test_a_rolling_window_reads_the_days_that_exist_and_a_strict_one_says_which_do_not(
    home: Path,
) -> None:
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        assert materialize([daily_events], partition_key=day).success
    result = materialize([daily_events, weekly_rolling], partition_key="2024-01-03")
    assert result.success
    rolled = result.asset_value("weekly_rolling")
    assert rolled["rows"][0] == 1 + 2 + 3
    assert rolled["window"][0] == "2024-01-01..2024-01-04"  # days before the start dropped

    strict = materialize(
        [daily_events, strict_rolling],
        selection=[strict_rolling],
        partition_key="2024-01-03",
        raise_on_error=False,
    )
    assert not strict.success
    error = str(strict.failures[AssetKey("strict_rolling")])
    assert "do not exist" in error and "daily_events" in error
    assert "allow_nonexistent_upstream_partitions" in error


def test_hours_roll_up_into_their_day_asked_for_by_the_day(home: Path, db: Db) -> None:
    result = materialize([hourly_clicks, daily_clicks], partition_key="2024-01-02")
    assert result.success
    assert result.asset_value("daily_clicks") == 24
    made = db.rows(
        "SELECT partition_key FROM latest_materializations WHERE asset_key = 'hourly_clicks'"
        " ORDER BY 1"
    )
    assert [p for (p,) in made] == [f"2024-01-02-{h:02d}:00" for h in range(24)]
    assert (
        db.value(
            "SELECT COUNT(*) FROM materialization_inputs i JOIN materializations m"
            " ON m.event_id = i.event_id WHERE m.asset_key = 'daily_clicks'"
        )
        == 24
    )


def test_a_failed_partition_is_recorded_and_keeps_the_others(home: Path, db: Db) -> None:
    assert materialize([regional], partition_key="north").success
    failed = materialize([regional], partition_key="south", raise_on_error=False)
    assert failed.failed_partitions == {AssetKey("regional"): ["south"]}
    assert db.rows("SELECT asset_key, partition_key FROM asset_failures") == [("regional", "south")]
    assert db.rows(
        "SELECT partition_key FROM latest_materializations WHERE asset_key = 'regional'"
    ) == [("north",)]
    assert db.value("SELECT COUNT(*) FROM in_progress") == 0
    # Downstream of all partitions: the one that exists is there, the missing one is named.
    downstream = materialize([regional, all_regions], selection=[all_regions], raise_on_error=False)
    error = str(downstream.failures[AssetKey("all_regions")])
    assert "needs 'regional' partition 'south', never materialized" in error
    assert "`millrace backfill --select regional --missing`" in error


def test_an_unpartitioned_upstream_feeds_every_partition(home: Path) -> None:
    assert materialize([rates]).success
    assert materialize([rates, priced], partition_key="2024-01-04").asset_value("priced") == (
        pytest.approx(4.4)
    )


def test_a_partitioned_check_runs_for_its_partition(home: Path) -> None:
    result = materialize(
        [daily_events, daily_totals, totals_not_negative], partition_key="2024-01-05"
    )
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed and evaluation.partition_key == "2024-01-05"
    assert evaluation.metadata["day"].value == "2024-01-05"


def test_a_key_no_asset_has_is_an_error_with_the_nearest_valid_keys(home: Path) -> None:
    with pytest.raises(PartitionKeyError) as raised:
        materialize([daily_events], partition_key="2024-01-32")
    message = str(raised.value)
    assert "daily_events" in message and "2024-01-31" not in message  # past the end date
    with pytest.raises(PartitionKeyError, match="choose its partitions"):
        materialize([daily_events])


def test_early_cutoff_is_per_partition(tmp_path: Path, home: Path) -> None:
    from millrace import Definitions, Runtime

    async def twice() -> list[str]:
        defs = Definitions(assets=[daily_events, daily_totals])
        async with Runtime(defs, home=home) as runtime:
            await runtime.materialize(partition_key="2024-01-06")
            handle = runtime.submit(
                plan=runtime.plan(partition_key="2024-01-06", early_cutoff=True)
            )
            result = await handle
        return [e.kind for e in result.all_events if e.kind.startswith("STEP_")]

    import asyncio

    kinds = asyncio.run(twice())
    assert kinds.count("STEP_UP_TO_DATE") == 2


def test_the_context_of_a_direct_call_knows_its_partition() -> None:
    context = build_asset_context(partition_key="2024-01-09")
    frame: Any = daily_events(context)
    assert frame.height == 9 and context.partition_key == "2024-01-09"


def test_a_run_request_runs_its_assets_partition_with_its_tags(home: Path, db: Db) -> None:
    import asyncio

    from millrace import Definitions, RunRequest, Runtime

    async def go() -> Any:
        defs = Definitions(assets=[daily_events, daily_totals])
        async with Runtime(defs, home=home) as runtime:
            request = RunRequest(
                run_key="file-07",
                asset_selection=[AssetKey("daily_events")],
                partition_key="2024-01-07",
            )
            return await (await runtime.run_request(request))

    result = asyncio.run(go())
    assert [
        (e.asset_key.to_user_string(), e.partition_key)
        for e in result.get_asset_materialization_events()
    ] == [("daily_events", "2024-01-07")]
    assert db.value("SELECT tags FROM runs") == '{"dagster/run_key": "file-07"}'
    with pytest.raises(PartitionKeyError):
        asyncio.run(
            Runtime(Definitions(assets=[daily_events]), home=home).run_request(
                RunRequest(partition_key="2023-12-31")
            )
        )


NY_HOURS = HourlyPartitionsDefinition(
    start_date="2024-11-02-00:00", end_date="2024-11-05-00:00", timezone="America/New_York"
)
NY_DAYS = DailyPartitionsDefinition(
    start_date="2024-11-02", end_date="2024-11-05", timezone="America/New_York"
)


@asset(partitions_def=NY_HOURS)
def ny_hours(context) -> str:
    return context.partition_key


@asset(partitions_def=NY_DAYS)
def ny_day(context, ny_hours: dict[str, str]) -> list[str]:
    window = context.partition_time_window
    # Elapsed, not wall-clock, time: aware datetimes in one zone subtract as wall clocks.
    assert (window.end.timestamp() - window.start.timestamp()) / 3600 == len(ny_hours)
    return list(ny_hours)


def test_the_day_the_clocks_go_back_reads_its_25_hours_each_stored_once(home: Path, db: Db) -> None:
    import asyncio

    from millrace import Definitions, Runtime
    from millrace.runtime.backfill import BackfillSpec

    async def go() -> Any:
        async with Runtime(Definitions(assets=[ny_hours, ny_day]), home=home) as runtime:
            _, handle = await runtime.backfill(None, BackfillSpec(keys=("2024-11-03",)))
            result = await handle
            assert result.success, result.failures
            return result

    result = asyncio.run(go())
    made = [
        (e.asset_key.to_user_string(), e.partition_key)
        for e in result.get_asset_materialization_events()
    ]
    hours = [p for a, p in made if a == "ny_hours"]
    assert len(hours) == len(set(hours)) == 25 and ("ny_day", "2024-11-03") in made
    assert "2024-11-03-01:00" in hours and "2024-11-03-01:00-0500" in hours  # the hour, twice
    stored = db.rows("SELECT partition_key FROM asset_values WHERE asset_key = 'ny_hours'")
    assert sorted(p for (p,) in stored) == sorted(hours)  # each kept apart
