"""examples/sensors, run for real on a copy (never in the repository): a CSV dropped into the
copy's landing directory is ingested by the file-arrival sensor's run, then cleaned and
reported on by declarative automation, in a Runtime and under ``millrace serve``. And the
daily schedule of examples/partitions, ticked on a moved clock."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from conftest import Db, Spawned
from millrace import Runtime
from millrace.events import AssetMaterialized, RunOrigin, RunStarted, TickEvaluated
from millrace.runtime.loader import load_code_location

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "sensors"
TIMEOUT = 10  # seconds: generous for a slow machine; the whole chain takes well under one

# What sample_orders.csv becomes once clean (regions normalized, the null and the negative
# amount dropped, the repeated o3 kept once): two orders in the north, one south, one west.
EXPECTED_REPORT = pl.DataFrame(
    {"region": ["north", "south", "west"], "orders": [2, 1, 1], "revenue": [19.75, 40.0, 99.99]},
    schema_overrides={"orders": pl.UInt32},
)


def copy_example(tmp_path: Path) -> Path:
    """The example copied without its landing directory: it must make that itself."""
    copy = tmp_path / "sensors_example"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("landing", "__pycache__"))
    return copy


def drop(csv: Path, landing: Path) -> Path:
    """Land ``csv`` as a whole file: written under a hidden name (the sensor skips those),
    then renamed, so the sensor never sees half of it."""
    target = landing / csv.name
    partial = landing / f".{csv.name}.part"
    shutil.copyfile(csv, partial)
    os.replace(partial, target)
    return target


async def materializations(
    events: AsyncIterator[object], wanted: set[str]
) -> tuple[dict[str, AssetMaterialized], dict[str, RunStarted]]:
    """Read ``events`` until each asset in ``wanted`` has materialized; the runs started on
    the way, by run id."""
    done: dict[str, AssetMaterialized] = {}
    started: dict[str, RunStarted] = {}
    try:
        async with asyncio.timeout(TIMEOUT):
            async for event in events:
                if isinstance(event, RunStarted):
                    started[event.run_id] = event
                elif isinstance(event, AssetMaterialized) and event.asset_key is not None:
                    done.setdefault(event.asset_key.to_user_string(), event)
                    if wanted <= done.keys():
                        return done, started
    except TimeoutError:
        pass
    raise AssertionError(f"waited for {sorted(wanted)}: only {sorted(done)} materialized")


async def test_a_dropped_csv_is_ingested_by_the_sensor_then_cleaned_and_reported_by_automation(
    tmp_path: Path, home: Path, db: Db
) -> None:
    copy = copy_example(tmp_path)
    landing = copy / "landing"
    assert not landing.exists()
    async with Runtime(load_code_location(copy), home=home) as runtime:
        assert landing.is_dir()  # loading the code made it
        events = runtime.subscribe(kinds={"RUN_STARTED", "ASSET_MATERIALIZED", "TICK_EVALUATED"})
        automation = await runtime.start_automation()
        assert automation.get("landing_files").running  # RUNNING by default
        # Its first look finds the empty directory; wait for it so the drop is an arrival.
        async with asyncio.timeout(TIMEOUT):
            async for event in events:
                if isinstance(event, TickEvaluated) and event.name == "landing_files":
                    assert event.status == "SKIPPED"
                    break
        landed = drop(copy / "sample_orders.csv", landing)
        done, started = await materializations(events, {"ingest", "clean", "report"})

    ingest_run = started[done["ingest"].run_id]
    assert ingest_run.origin is RunOrigin.SENSOR
    assert ingest_run.selection == ("ingest",)  # the sensor's target, and nothing else
    assert ingest_run.tags["millrace/file_path"] == str(landed)
    assert ingest_run.tags["dagster/run_key"] == f"{landed}@{landed.stat().st_mtime_ns}"
    assert ingest_run.config == {"ops": {"ingest": {"config": {"path": str(landed)}}}}
    assert done["ingest"].metadata["rows"].value == 7
    for name in ("clean", "report"):
        assert started[done[name].run_id].origin is RunOrigin.AUTOMATION, name

    # What was stored: Parquet files under the home, read back with Polars alone.
    storage = home / "storage"
    ingested = pl.read_parquet(storage / "ingest.parquet")
    assert ingested.height == 7 and set(ingested["source_file"]) == {"sample_orders.csv"}
    assert pl.read_parquet(storage / "clean.parquet")["order_id"].to_list() == [
        "o1", "o2", "o3", "o6",
    ]  # fmt: skip
    assert pl.read_parquet(storage / "report.parquet").equals(EXPECTED_REPORT)
    origins = dict(db.rows("SELECT selection, origin FROM runs"))
    assert origins['["ingest"]'] == "sensor"


def test_serve_prints_the_tick_and_the_runs_and_sigterm_stops_it(
    tmp_path: Path, home: Path, db: Db
) -> None:
    copy = copy_example(tmp_path)
    env = {"MILLRACE_HOME": str(home)}
    with Spawned("serve", copy, cwd=tmp_path, env=env) as serve:
        serve.wait_for_stderr("landing_files")  # "serving 1 schedules and sensors (...)"
        serve.wait_for_line(lambda line: "sensor landing_files skipped" in line, "first look")
        drop(copy / "sample_orders.csv", copy / "landing")
        serve.wait_for_line(
            lambda line: "sensor landing_files requested 1 run" in line, "the sensor's tick"
        )
        serve.wait_for_line(lambda line: "by sensor landing_files" in line, "the ingest run")
        serve.wait_for_line(lambda line: line.startswith("report materialized"), "the report")
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.finish() == 0, serve.err_lines
    output = "".join(serve.out_lines)
    assert "ingest materialized" in output and "clean materialized" in output
    assert "by automation" in output
    assert pl.read_parquet(home / "storage" / "report.parquet").equals(EXPECTED_REPORT)
    assert {status for (status,) in db.rows("SELECT status FROM runs")} == {"SUCCESS"}


async def test_the_partitions_example_schedule_runs_the_day_that_just_closed(
    home: Path, db: Db
) -> None:
    class Clock:
        """Stopped at 2024-01-02 00:10 UTC, the schedule's first tick with a whole day."""

        def now(self) -> float:
            return datetime(2024, 1, 2, 0, 10, tzinfo=UTC).timestamp()

        async def sleep_until(self, deadline: float) -> None:
            await asyncio.Event().wait()  # time never moves on its own here

    location = load_code_location(REPO / "examples" / "partitions")
    async with Runtime(location, home=home) as runtime:
        automation = await runtime.start_automation(clock=Clock())
        schedule = automation.get("daily_features_job_schedule")
        assert not schedule.running  # stopped until started, as Dagster's
        tick = await automation.tick("daily_features_job_schedule", Clock().now())
        [run_id] = tick.run_ids
        run = await runtime.wait_for_run(run_id)
    assert run is not None and run.status.value == "SUCCESS"
    assert run.origin is RunOrigin.SCHEDULE
    assert run.tags["dagster/schedule_name"] == "daily_features_job_schedule"
    # The day that just closed, with the check on daily_features that the job includes.
    assert set(run.selection) == {
        "daily_features[2024-01-01]",
        "daily_features:features_have_no_null_minutes[2024-01-01]",
        "weekly_rolling_features[2024-01-01]",
    }
    assert tick.status == "SUCCESS"
    assert db.rows("SELECT asset_key, partition_key FROM materializations ORDER BY 1") == [
        ("daily_features", "2024-01-01"),
        ("weekly_rolling_features", "2024-01-01"),
    ]
