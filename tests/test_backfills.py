"""Backfills through the real command line on a real home: many partitions in one run, a
failing partition that stops nothing else, ``--missing`` and ``--resume`` running only what
did not succeed (the other partitions' files untouched), and ``millrace backfills``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from conftest import MILLRACE, Db, write_source
from millrace.storage.paths import partition_name

PROJECT = """
    from pathlib import Path

    import polars as pl
    from millrace import DailyPartitionsDefinition, asset

    DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")
    BROKEN = Path(__file__).with_name("broken")

    @asset(partitions_def=DAYS)
    def events(context) -> pl.DataFrame:
        if context.partition_key in BROKEN.read_text().split() if BROKEN.exists() else ():
            raise RuntimeError(f"the feed for {context.partition_key} is down")
        return pl.DataFrame({"day": [context.partition_key]})

    @asset(partitions_def=DAYS)
    def daily(events: pl.DataFrame) -> pl.DataFrame:
        return events.with_columns(seen=pl.lit(True))
"""


def millrace(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MILLRACE, *args], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False
    )


def files(home: Path, asset: str) -> dict[str, int]:
    """Each stored partition file of ``asset`` and its modification time (ns)."""
    found = {}
    for day in range(1, 8):
        key = f"2024-01-0{day}"
        path = home / "storage" / asset / f"{partition_name(key)}.parquet"
        if path.exists():
            found[key] = path.stat().st_mtime_ns
    return found


def listed_backfills(tmp_path: Path) -> list[dict[str, Any]]:
    listed = millrace(tmp_path, "backfills", "proj.py", "--json")
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_a_failed_partition_stops_nothing_else_and_missing_reruns_only_it(
    tmp_path: Path, home: Path, db: Db
) -> None:
    write_source(tmp_path / "proj.py", PROJECT)
    (tmp_path / "broken").write_text("2024-01-03")
    first = millrace(tmp_path, "backfill", "proj.py", "--from", "2024-01-01", "--to", "2024-01-07")
    assert first.returncode == 1
    assert "✗ events: failed partitions 2024-01-03" in first.stdout
    assert "12 materialized, 1 failed, 1 skipped" in first.stdout
    assert sorted(files(home, "events")) == [f"2024-01-0{d}" for d in (1, 2, 4, 5, 6, 7)]
    assert "2024-01-03" not in files(home, "daily")  # its reader was skipped, the rest ran
    before = files(home, "events")
    (record,) = listed_backfills(tmp_path)
    assert (record["status"], record["done"], record["failed"], record["remaining"]) == (
        "FAILURE",
        12,
        1,
        1,
    )

    (tmp_path / "broken").unlink()
    again = millrace(tmp_path, "backfill", "proj.py", "--missing")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 partitions to materialize" in again.stdout  # events and daily of 2024-01-03
    after = files(home, "events")
    assert after.pop("2024-01-03") and after == before  # the others were not rewritten
    assert db.value("SELECT COUNT(*) FROM asset_failures") == 0

    listed = listed_backfills(tmp_path)
    # The first no longer counts its partition as failed: another backfill materialized it.
    assert [(b["status"], b["done"], b["failed"], b["remaining"]) for b in listed] == [
        ("SUCCESS", 2, 0, 0),
        ("FAILURE", 12, 0, 2),
    ]
    assert listed[1]["spec"]["from"] == "2024-01-01" and listed[0]["spec"]["missing"]


def test_resume_runs_what_the_backfill_did_not_materialize(
    tmp_path: Path, home: Path, db: Db
) -> None:
    write_source(tmp_path / "proj.py", PROJECT)
    (tmp_path / "broken").write_text("2024-01-02 2024-01-05")
    first = millrace(
        tmp_path,
        "backfill",
        "proj.py",
        "--select",
        "events",
        "--partitions",
        "2024-01-01,2024-01-02,2024-01-05,2024-01-06",
    )
    assert first.returncode == 1
    assert "failed partitions 2024-01-02, 2024-01-05" in first.stdout
    backfill_id = first.stdout.split("backfill --resume ")[1].split()[0]
    before = files(home, "events")

    (tmp_path / "broken").unlink()
    resumed = millrace(tmp_path, "backfill", "proj.py", "--resume", backfill_id[:6])
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"resuming {backfill_id}: 2 partitions to materialize" in resumed.stdout
    after = files(home, "events")
    assert sorted(after) == ["2024-01-01", "2024-01-02", "2024-01-05", "2024-01-06"]
    assert {k: after[k] for k in before} == before
    runs = db.rows("SELECT COUNT(*) FROM backfill_runs WHERE backfill_id = ?", (backfill_id,))
    assert runs == [(2,)]
    (record,) = listed_backfills(tmp_path)
    assert (record["status"], record["done"], record["failed"], record["total"]) == (
        "SUCCESS",
        4,
        0,
        4,
    )
    nothing = millrace(tmp_path, "backfill", "proj.py", "--resume", backfill_id)
    assert nothing.returncode == 0
    assert (
        nothing.stdout.strip() == "nothing to backfill: every partition asked for is already done"
    )


def test_a_backfill_says_clearly_what_it_needs(tmp_path: Path) -> None:
    write_source(tmp_path / "proj.py", PROJECT)
    neither = millrace(tmp_path, "backfill", "proj.py")
    assert neither.returncode == 2 and "--from KEY --to KEY" in neither.stderr
    bad = millrace(tmp_path, "backfill", "proj.py", "--from", "2024-01-01", "--to", "2024-02-30")
    assert bad.returncode == 2 and "2024-02-30" in bad.stderr


RANGES = """
    import polars as pl
    from millrace import BackfillPolicy, DailyPartitionsDefinition, asset

    DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-08")
    CALLS = []

    @asset(partitions_def=DAYS)
    def events(context) -> pl.DataFrame:
        return pl.DataFrame({"day": [context.partition_key]})

    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
    def weekly(context, events: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
        window = context.partition_time_window
        context.log.info(
            f"one call for {context.partition_key_range.start}..{context.partition_key_range.end}"
            f" ({window.start:%m-%d}..{window.end:%m-%d})"
        )
        return {day: frame.with_columns(n=pl.lit(len(context.partition_keys)))
                for day, frame in events.items()}

    @asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run=3))
    def chunks(context, events: dict[str, pl.DataFrame]) -> dict[str, int]:
        return {day: len(context.partition_keys) for day in context.partition_keys}
"""


def test_single_run_and_multi_run_policies_take_ranges_in_one_call(
    tmp_path: Path, home: Path, db: Db
) -> None:
    write_source(tmp_path / "proj.py", RANGES)
    ran = millrace(tmp_path, "backfill", "proj.py", "--from", "2024-01-01", "--to", "2024-01-07")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.count("one call for 2024-01-01..2024-01-07 (01-01..01-08)") == 1
    assert "✓ weekly[2024-01-01...2024-01-07]" in ran.stdout
    assert "✓ chunks[2024-01-01...2024-01-03]" in ran.stdout
    assert "✓ chunks[2024-01-07]" in ran.stdout
    stored = home / "storage" / "weekly" / f"{partition_name('2024-01-05')}.parquet"
    import polars as pl

    assert pl.read_parquet(stored).to_dicts() == [{"day": "2024-01-05", "n": 7}]
    # Each partition of the range has its own materialization, reading its own day.
    rows = db.rows(
        "SELECT m.partition_key, i.partition_key FROM materializations m"
        " JOIN materialization_inputs i ON i.event_id = m.event_id"
        " WHERE m.asset_key = 'weekly' ORDER BY 1"
    )
    assert rows == [(f"2024-01-0{d}", f"2024-01-0{d}") for d in range(1, 8)]
    assert db.value("SELECT COUNT(*) FROM latest_materializations WHERE asset_key = 'chunks'") == 7
