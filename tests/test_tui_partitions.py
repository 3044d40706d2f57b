"""Partitions in the TUI, driven through the real app and Textual's Pilot: the catalog's
fresh/total, the asset screen's strip (statuses, the worst of a cell, zoom, the cursor), ``b``
backfilling what is missing or stale after saying how much, and the backfills screen; the
strip's arithmetic on its own, at 87,600 partitions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from millrace.declarations.keys import AssetKey
from millrace.runtime.backfill import BackfillSpec
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui import app as app_module
from millrace.tui.app import MillraceApp
from millrace.tui.screens.asset import AssetScreen
from millrace.tui.screens.backfills import BackfillsScreen
from millrace.tui.screens.confirm import ConfirmScreen
from millrace.tui.screens.runs import RunScreen
from millrace.tui.widgets.partition_strip import (
    Buckets,
    PartitionStrip,
    status_runs,
    zoom_levels,
)
from millrace.versions.partition_status import PartitionStatuses
from millrace.versions.staleness import Status
from textual.pilot import Pilot
from textual.widgets import DataTable, Label, Static
from tui_harness import SIZE, eventually, running_app, until, write_project

# 365 days of 2023 and four regions, each with an explicit code version (so a change makes
# what was materialized stale), and one unpartitioned asset. 2023-02-01 always fails.
PROJECT = """
    from millrace import DailyPartitionsDefinition, StaticPartitionsDefinition, asset

    DAYS = DailyPartitionsDefinition(start_date="2023-01-01", end_date="2024-01-01")
    REGIONS = StaticPartitionsDefinition(["north", "south", "east", "west"])

    @asset(partitions_def=DAYS, group_name="daily", code_version="{version}")
    def days(context) -> int:
        if context.partition_key == "2023-02-01":
            raise RuntimeError("the feed of 2023-02-01 is lost")
        return int(context.partition_key[-2:])

    @asset(partitions_def=REGIONS, group_name="static", code_version="{version}")
    def regions(context) -> str:
        return context.partition_key

    @asset(group_name="plain", code_version="1")
    def plain() -> int:
        return 1
"""
DAYS = AssetKey("days")
REGIONS = AssetKey("regions")


def project(root: Path, version: str) -> Path:
    return write_project(root, PROJECT.format(version=version))


async def prepare(root: Path, home: Path) -> Path:
    """Days 01-01..01-10 and two regions at version 1; at version 2 (the code the app sees),
    days 01-05..01-07 again, and 01-31..02-01 (02-01 fails). So days are: 4 stale, 3 fresh,
    3 stale, 20 missing, 1 fresh, 1 failed, 333 missing; regions 2 stale, 2 missing."""
    for version, runs in (
        ("1", [(DAYS, BackfillSpec("2023-01-01", "2023-01-10")),
               (REGIONS, BackfillSpec(keys=("north", "south")))]),
        ("2", [(DAYS, BackfillSpec("2023-01-05", "2023-01-07")),
               (DAYS, BackfillSpec("2023-01-31", "2023-02-01"))]),
    ):  # fmt: skip
        async with Runtime(load_code_location(project(root, version)), home=home) as runtime:
            for key, spec in runs:
                _, handle = await runtime.backfill([key], spec)
                await handle
    return root / "proj"


def table_rows(app: MillraceApp) -> dict[str, list[str]]:
    table = app.screen.query_one(DataTable)
    return {str(k.value): [str(c) for c in table.get_row(k)] for k in table.rows}


def said(app: MillraceApp, words: str) -> bool:
    return any(words in str(n.message) for n in app._notifications)


async def strip_of(app: MillraceApp, pilot: Pilot[Any], name: str) -> PartitionStrip:
    await app.push_screen(AssetScreen(AssetKey(name)))

    def read() -> bool:
        screen = app.screen
        return (
            isinstance(screen, AssetScreen)
            and screen.state is not None
            and screen.query_one(PartitionStrip).loaded
            and screen.focused is not None  # focus moves once the state is read
            and not any(w.node is screen and not w.is_finished for w in app.workers)
        )

    await until(pilot, read, f"the screen of {name}")
    return app.screen.query_one(PartitionStrip)


def line(strip: PartitionStrip, y: int) -> str:
    return strip.render_line(y).text


async def test_the_catalog_shows_fresh_of_total_and_the_counts_beside_it(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(await prepare(tmp_path, home), home, materialized=False) as (
        app,
        pilot,
    ):
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        rows = table_rows(app)
        assert rows["days"][4] == "4/365" and rows["regions"][4] == "0/4"  # after the status
        assert rows["plain"][4] == ""  # unpartitioned: nothing
        assert rows["days"][3] == "failed"  # a failed partition is the row's status

        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("days"))
        why = app.screen.query_one("#why", Static)
        await until(pilot, lambda: "365 partitions" in str(why.render()), "the counts")
        panel = " ".join(str(why.render()).split())
        assert "4 fresh 7 stale 353 missing 1 failed" in panel
        assert "b backfills 361 of them" in panel
        await pilot.press("m")  # which partition? it says where to choose
        await until(pilot, lambda: said(app, "days is partitioned: b backfills"), "why not m")


async def test_the_strip_shows_each_partitions_status_the_worst_of_a_cell_and_zooms(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(await prepare(tmp_path, home), home, materialized=False) as (
        app,
        pilot,
    ):
        strip = await strip_of(app, pilot, "days")
        assert app.screen.focused is strip  # the keys of a partitioned asset's screen
        assert strip.total == 365
        assert line(strip, 0).startswith("365 partitions  4 fresh  7 stale  353 missing  1 failed")

        # The whole year in one row: five days a cell at this width, each the worst of its days.
        per_cell = strip.per_cell
        assert strip.zoom == 0 and per_cell == zoom_levels(365, strip.width_in_cells)[0] > 1
        assert strip.bucket_count == -(-365 // per_cell) <= strip.width_in_cells
        days = ["stale"] * 4 + ["fresh"] * 3 + ["stale"] * 3 + ["missing"] * 20
        days += ["fresh", "failed"] + ["missing"] * 333
        worst = ("failed", "running", "stale", "missing", "fresh")
        expected = [min(days[i : i + per_cell], key=worst.index) for i in range(0, 365, per_cell)]
        assert strip.cells() == expected
        assert "failed" in strip.cells()  # one failed day among fresh and missing ones shows

        await pilot.press("plus")  # one cell a day
        assert strip.per_cell == 1 and strip.bucket_count == 365
        assert strip.cells() == days[: strip.width_in_cells]
        ruler = line(strip, 2)
        assert ruler.startswith("▲ ")  # the cursor's mark on the first day (which it names)
        assert ruler.rstrip().endswith(" ▸")  # more days to the right
        assert "2023-01-01  stale: has a new code version" in line(strip, 3)
        await pilot.press("right", "right", "right", "right")
        assert line(strip, 3).startswith("2023-01-05  fresh")
        await pilot.press("n")  # the next day that is not fresh
        assert line(strip, 3).startswith("2023-01-08  stale")
        await pilot.press("plus")
        assert said(app, "already one cell per partition")

        await pilot.press("minus")  # back to the whole range, the cursor on 01-08's cell
        assert strip.per_cell == per_cell and strip.cursor == 7 // per_cell
        bucket = strip.under_cursor()
        assert bucket is not None and bucket.start <= 7 < bucket.end
        assert strip.render_line(1).text == "".join(
            {"fresh": "█", "stale": "▓", "missing": "░", "failed": "✗"}[s] for s in expected
        ).ljust(strip.width_in_cells)


async def test_b_asks_with_the_count_then_backfills_and_the_backfills_screen_lists_it(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(await prepare(tmp_path, home), home, materialized=False) as (
        app,
        pilot,
    ):
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        table = app.screen.query_one(DataTable)
        table.move_cursor(row=table.get_row_index("plain"))
        await pilot.press("b")
        await until(pilot, lambda: said(app, "plain is not partitioned"), "why b cannot")

        table.move_cursor(row=table.get_row_index("regions"))
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        question = str(app.screen.query(Label).first().render())
        assert question == "backfill regions: 4 of 4 partitions (2 missing, 2 stale)?"
        await pilot.press("y")

        statuses = await eventually(
            pilot,
            app.runtime.partition_status,
            lambda found: found[REGIONS].summary()["fresh"] == 4,
            "every region materialized",
        )
        assert statuses[DAYS].summary()["fresh"] == 4  # nothing else was touched
        await until(pilot, lambda: table_rows(app)["regions"][4] == "4/4", "the catalog")
        await until(pilot, lambda: not app.active_runs(), "the run to end")
        await pilot.press("b")
        await until(pilot, lambda: said(app, "none of regions's 4 partitions is"), "nothing to do")

        await pilot.press("B")
        await until(pilot, lambda: isinstance(app.screen, BackfillsScreen), "the backfills")
        screen = app.screen
        await until(pilot, lambda: len(table_rows(app)) == 5, "the backfills listed")
        record, *_ = await app.runtime.backfills()  # the newest: this one
        assert record.total == 4 and record.spec["missing"] and record.spec["stale"]
        table = screen.query_one(DataTable)
        row = [str(c) for c in table.get_row_at(0)]
        assert row[:4] == [record.backfill_id, "SUCCESS", "regions", "missing and stale"]
        assert row[5:9] == ["4", "0", "0", "1"]  # done, failed, left, runs
        # prepare's, by range and by keys: the range with the lost 02-01 failed one of two
        asked = {r[3]: r[5:8] for r in table_rows(app).values()}
        assert asked["2023-01-31..2023-02-01"] == ["1", "1", "0"]
        assert asked["north, south"] == ["2", "0", "0"]
        await pilot.press("enter")  # the first row, the newest
        await until(pilot, lambda: isinstance(app.screen, RunScreen), "its run")
        assert app.screen.run_id == record.run_ids[-1]
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is screen, "back to the backfills")


async def test_b_on_the_asset_screen_and_colon_backfill_ask_m_runs_the_cursors_partition(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(await prepare(tmp_path, home), home, materialized=False) as (
        app,
        pilot,
    ):
        strip = await strip_of(app, pilot, "regions")
        facts = str(app.screen.query_one("#facts", Static).render())
        assert "b backfills these 4 partitions" in facts
        assert strip.per_cell == 1 and strip.cells() == ["stale", "stale", "missing", "missing"]
        await pilot.press("right", "m")  # south, alone
        await until(pilot, lambda: strip.cells()[1] == "fresh", "south materialized")
        assert strip.cells() == ["stale", "fresh", "missing", "missing"]
        [run] = [r for r in await app.runtime.runs() if r.tags.get("millrace/origin") == "tui"]
        assert run.status.value == "SUCCESS"
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        assert "3 of 4 partitions" in str(app.screen.query(Label).first().render())
        await pilot.press("n")
        await until(pilot, lambda: isinstance(app.screen, AssetScreen), "no backfill")
        await pilot.press("colon", *"backfill days", "enter")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        question = str(app.screen.query(Label).first().render())
        assert question == "backfill days: 361 of 365 partitions (353 missing, 1 failed, 7 stale)?"
        await pilot.press("n")
        assert not app.active_runs() and len(await app.runtime.backfills()) == 4  # prepare's


async def test_the_preview_follows_the_partition_under_the_cursor(
    tmp_path: Path, home: Path
) -> None:
    from millrace.tui.widgets.preview import FramePreview

    async with running_app(await prepare(tmp_path, home), home, materialized=False) as (
        app,
        pilot,
    ):
        await strip_of(app, pilot, "regions")
        preview = app.screen.query_one(FramePreview)

        def shown() -> tuple[str, str]:
            return (
                str(preview.query_one(".caption", Static).render()),
                str(preview.query_one(".value", Static).render()),
            )

        await until(pilot, lambda: shown()[0].startswith("partition north"), "north's value")
        assert shown() == ("partition north: stored value (not a frame):", "'north'")
        await pilot.press("right")
        await until(pilot, lambda: shown()[0].startswith("partition south"), "south's value")
        assert shown()[1] == "'south'"
        await pilot.press("right")
        await until(pilot, lambda: shown()[0].startswith("partition east"), "east, never made")
        assert shown()[0] == "partition east: never materialized: nothing stored to preview"
        # A cell of many partitions: the newest partition's value, and it says which.
        days = await strip_of(app, pilot, "days")
        assert days.per_cell > 1
        caption = str(app.screen.query_one(FramePreview).query_one(".caption", Static).render())
        assert caption == "the newest partition, 2023-01-31: stored value (not a frame):"


SLOW = """
    import asyncio
    from millrace import StaticPartitionsDefinition, asset

    @asset(partitions_def=StaticPartitionsDefinition(["a", "b"]))
    async def slow(context) -> int:
        await asyncio.sleep(30)
        return 1
"""


async def test_b_with_a_run_of_the_asset_in_flight_says_so(tmp_path: Path, home: Path) -> None:
    async with running_app(write_project(tmp_path, SLOW), home, materialized=False) as (
        app,
        pilot,
    ):
        await until(pilot, lambda: len(table_rows(app)) == 1, "the catalog")
        await pilot.press("b")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: bool(app.active_runs()), "the backfill to start")
        await until(pilot, lambda: table_rows(app)["slow"][3] == "running", "it runs")
        await pilot.press("b")
        await until(pilot, lambda: said(app, "in flight materializes slow"), "why b cannot")
        await pilot.press("x")
        await until(pilot, lambda: not app.active_runs(), "the backfill canceled")
        [record] = await app.runtime.backfills()
        assert (record.status, record.done, record.remaining) == ("CANCELED", 0, 2)


# -- the strip's arithmetic ----------------------------------------------------------------


def hourly(total: int, status: dict[str, Status]) -> PartitionStatuses:
    keys = [f"k{i:05d}" for i in range(total)]
    return PartitionStatuses(keys, status, {})


def test_runs_and_cells_stay_cheap_at_87600_partitions() -> None:
    """Ten years of hours: the runs are read once; a cell, a frame and the counts are
    bisections over the runs, never a pass over the keys."""
    statuses = hourly(
        87_600,
        {
            **{f"k{i:05d}": Status.MISSING for i in range(40_000, 87_600)},
            "k00100": Status.FAILED,
            "k50000": Status.STALE,
        },
    )
    runs = status_runs(statuses)
    assert [(r.start, r.count, r.status) for r in runs] == [
        (0, 100, "fresh"), (100, 1, "failed"), (101, 39_899, "fresh"), (40_000, 10_000, "missing"),
        (50_000, 1, "stale"), (50_001, 37_599, "missing"),
    ]  # fmt: skip
    buckets = Buckets(runs)
    assert zoom_levels(87_600, 80) == [1095, 273, 68, 17, 4, 1]
    cells = [buckets.worst(i * 1095, (i + 1) * 1095) for i in range(80)]
    assert cells[0] == "failed"  # failed beats fresh in one cell
    assert cells[45] == "stale"  # stale beats missing
    assert set(cells[37:]) - {"missing", "stale"} == set()
    assert buckets.counts(0, 87_600) == {
        "fresh": 39_999, "stale": 1, "missing": 47_599, "failed": 1
    }  # fmt: skip
    # n and N jump from run to run: the missing 40,000 onwards are one run, then a stale one
    assert buckets.next_not_fresh(0, 1, 1) == 100
    assert buckets.next_not_fresh(100, 101, 1) == 40_000
    assert buckets.next_not_fresh(40_000, 40_001, 1) == 50_000
    assert buckets.next_not_fresh(50_000, 50_001, 1) == 50_001
    assert buckets.next_not_fresh(50_001, 50_002, 1) is None
    assert buckets.next_not_fresh(60_000, 60_001, -1) == 50_001  # its run's start
    assert buckets.next_not_fresh(50_001, 50_002, -1) == 50_000
    assert buckets.next_not_fresh(40_000, 40_001, -1) == 100
    assert buckets.next_not_fresh(100, 101, -1) is None


def test_a_cell_shows_the_worst_status_in_it() -> None:
    order = ("fresh", "missing", "stale", "running", "failed")  # from best to worst
    for worst_at, worst in enumerate(order):
        status = {f"k{i:05d}": Status(s) for i, s in enumerate(order[: worst_at + 1]) if i}
        assert Buckets(status_runs(hourly(5, status))).worst(0, 5) == worst


# -- how it looks ----------------------------------------------------------------------------


class OwnLoop(MillraceApp):
    """The app with its runtime started and closed on the app's own loop: snap_compare runs
    the app in a loop of its own."""

    CSS_PATH = str(Path(app_module.__file__).with_name(MillraceApp.CSS_PATH))

    async def on_load(self) -> None:
        await self.runtime.start()

    async def on_unmount(self) -> None:
        await self.runtime.close()


def test_snapshot_of_a_partitioned_asset(tmp_path: Path, home: Path, snap_compare: Any) -> None:
    app = OwnLoop(Runtime(load_code_location(asyncio.run(prepare(tmp_path, home))), home=home))

    async def open_days(pilot: Pilot[Any]) -> None:
        strip = await strip_of(app, pilot, "days")
        await pilot.press("plus", "right", "right", "right", "right", "n")  # 2023-01-08
        assert strip.cursor == 7

    # The preview tab: the times and run ids of the other tabs change between runs.
    assert snap_compare(app, terminal_size=SIZE, run_before=open_days)
