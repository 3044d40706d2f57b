"""examples/partitions, run for real: loaded as a code location and materialized through the
Runtime (and once through the CLI) on a real home, checked on the Parquet file of each
partition, the values the assets return and the real SQLite file."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl
from conftest import Db, run_cli
from millrace import AssetKey, RunResult, Runtime
from millrace.runtime.loader import load_code_location
from millrace.storage.paths import partition_name

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "partitions"
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03"]
REGIONS = ["north", "south", "east", "west"]


def stored(home: Path, asset: str, partition: str) -> Path:
    return home / "storage" / asset / f"{partition_name(partition)}.parquet"


def metadata(result: RunResult, asset: str, *names: str) -> dict[str, object]:
    """The values of ``names`` in the metadata of ``asset``'s one materialization in the run
    (Millrace adds its own entries, the row count and schema, beside the asset's)."""
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key == AssetKey(asset)
    ]
    return {name: event.metadata[name].value for name in names}


async def test_a_day_writes_its_partitions_and_the_rolling_window_reads_the_days_that_exist(
    home: Path, db: Db
) -> None:
    async with Runtime(load_code_location(EXAMPLE), home=home) as rt:
        # Alone, day 3's window lacks days 1 and 2: the step fails and names the first one.
        lonely = await rt.submit("daily_features+", partition_key="2024-01-03")
        assert not lonely.success
        error = str(lonely.failures[AssetKey("weekly_rolling_features")])
        assert "daily_features" in error and "'2024-01-01'" in error
        first_day_3 = pl.read_parquet(stored(home, "daily_features", "2024-01-03"))

        runs = {}
        for day in DAYS[:2]:
            runs[day] = await rt.submit("daily_features", partition_key=day)
        runs["2024-01-03"] = await rt.submit(
            "daily_features+", partition_key="2024-01-03", capture_values=True
        )
    assert all(result.success for result in runs.values())

    daily = {day: pl.read_parquet(stored(home, "daily_features", day)) for day in DAYS}
    for day, frame in daily.items():
        assert 250 <= frame.height <= 350
        assert frame["feature_date"].unique().to_list() == [date.fromisoformat(day)]
    assert sorted(p.name for p in (home / "storage" / "daily_features").iterdir()) == [
        f"{partition_name(day)}.parquet" for day in DAYS
    ]
    # The same key makes the same rows: the failed run wrote day 3 too, and the re-run
    # rewrote it identically.
    assert daily["2024-01-03"].equals(first_day_3)
    assert daily["2024-01-03"].equals(runs["2024-01-03"].asset_value("daily_features"))

    rolled = runs["2024-01-03"].asset_value("weekly_rolling_features")
    assert rolled.equals(pl.read_parquet(stored(home, "weekly_rolling_features", "2024-01-03")))
    everything = pl.concat(daily.values())
    assert rolled["user_id"].to_list() == sorted(everything["user_id"].unique().to_list())
    assert rolled["sessions_7d"].sum() == everything["sessions"].sum()
    assert rolled["days_active"].max() == 3
    assert (rolled["first_day"].min(), rolled["last_day"].max()) == (
        date(2024, 1, 1),
        date(2024, 1, 3),
    )
    assert metadata(runs["2024-01-03"], "weekly_rolling_features", "days_in_window", "window") == {
        "days_in_window": 3,
        "window": "2024-01-01..2024-01-03",
    }
    read = db.rows(
        "SELECT i.partition_key FROM materializations m"
        " JOIN materialization_inputs i ON i.event_id = m.event_id"
        " WHERE m.asset_key = 'weekly_rolling_features' ORDER BY 1"
    )
    assert [p for (p,) in read] == DAYS

    # The check ran once per day, each evaluation for its own partition.
    for day, result in runs.items():
        (evaluation,) = result.get_asset_check_evaluations()
        assert evaluation.passed and evaluation.partition_key == day
        assert evaluation.metadata["day"].value == day
        assert evaluation.metadata["null_minutes"].value == 0
    evaluated = db.rows(
        "SELECT partition_key, payload FROM events WHERE type = 'ASSET_CHECK_EVALUATED' ORDER BY id"
    )
    assert [p for p, _ in evaluated] == ["2024-01-03", *DAYS]  # the lonely run's check first
    assert all(json.loads(payload)["passed"] for _, payload in evaluated)


async def test_a_day_of_events_rolls_up_its_24_hours(home: Path) -> None:
    async with Runtime(load_code_location(EXAMPLE), home=home) as rt:
        result = await rt.submit("+daily_event_counts", partition_key="2024-01-03")
    assert result.success

    hours = [f"2024-01-03-{h:02d}:00" for h in range(24)]
    hourly = [pl.read_parquet(stored(home, "hourly_events", hour)) for hour in hours]
    assert len(list((home / "storage" / "hourly_events").iterdir())) == 24
    counts = pl.read_parquet(stored(home, "daily_event_counts", "2024-01-03"))
    assert counts["events"].sum() == sum(frame.height for frame in hourly)
    assert metadata(result, "daily_event_counts", "hours", "events") == {
        "hours": 24,
        "events": counts["events"].sum(),
    }


async def test_a_region_runs_alone_and_the_summary_reads_every_region(home: Path) -> None:
    # One region through the command line, the others through the Runtime, on the same home.
    cli = run_cli(
        "materialize", EXAMPLE, "--partition", "north", "--select", "regional_sales",
        cwd=REPO, home=home,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    north = pl.read_parquet(stored(home, "regional_sales", "north"))
    assert north["region"].unique().to_list() == ["north"] and north.height >= 150

    async with Runtime(load_code_location(EXAMPLE), home=home) as rt:
        early = await rt.submit("sales_summary")  # south, east and west are not there yet
        assert "'south'" in str(early.failures[AssetKey("sales_summary")])
        for region in REGIONS[1:]:
            assert (await rt.submit("regional_sales", partition_key=region)).success
        result = await rt.submit("sales_summary", capture_values=True)
    assert result.success

    summary = result.asset_value("sales_summary")
    assert summary["region"].to_list() == sorted(REGIONS)
    frames = {r: pl.read_parquet(stored(home, "regional_sales", r)) for r in REGIONS}
    assert dict(zip(summary["region"], summary["orders"], strict=True)) == {
        r: frame.height for r, frame in frames.items()
    }
