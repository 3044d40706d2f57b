"""The schedules and sensors screen (``A``), driven through the real app and Textual's Pilot
over a real home, with automation ticking on a clock the test moves: the rows, ``s`` starting
and stopping one (stored), ``t`` ticking it now, a failed tick's traceback, the read-only app
saying automation is not running here, and one snapshot."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ManualClock
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui.app import MillraceApp
from millrace.tui.screens.automation import AutomationScreen
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from tui_harness import SIZE, AutomatedApp, until, write_project

# A schedule running by default (its next tick is in the clock's future, so it never ticks
# unless told) and a sensor stopped by default that fails while a file named "broken" exists.
PROJECT = """
    from pathlib import Path

    from millrace import (
        DefaultScheduleStatus, Definitions, ScheduleDefinition, SkipReason, asset, sensor,
    )

    BROKEN = Path(__file__).with_name("broken")

    @asset
    def raw() -> int:
        return 1

    @sensor(target=[raw], minimum_interval_seconds=30)
    def watcher(context):
        if BROKEN.exists():
            raise RuntimeError("the feed is down")
        return SkipReason("nothing new")

    nightly = ScheduleDefinition(
        name="nightly", cron_schedule="0 2 * * *", target=[raw],
        execution_timezone="Europe/Berlin", default_status=DefaultScheduleStatus.RUNNING,
    )
    defs = Definitions(assets=[raw], sensors=[watcher], schedules=[nightly])
"""
START = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)  # the next nightly: 2024-06-04 00:00 UTC


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so times read the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@asynccontextmanager
async def automation_app(
    project: Path, home: Path, *, readonly: bool = False
) -> AsyncIterator[tuple[MillraceApp, Pilot[None]]]:
    """The app on the automation screen; automation runs on a manual clock unless read-only
    (``millrace ui``, where nothing ticks)."""
    runtime = Runtime(load_code_location(project), home=home, readonly=readonly)
    await runtime.start()
    if not readonly:
        await runtime.start_automation(clock=ManualClock(START))
    app = MillraceApp(runtime, readonly=readonly)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("A")
            await until(pilot, lambda: loaded(app), "the automation screen")
            yield app, pilot
    finally:
        await runtime.close()


def loaded(app: MillraceApp) -> bool:
    screen = app.screen
    return (
        isinstance(screen, AutomationScreen)
        and screen.loaded
        and not any(w.node is screen and not w.is_finished for w in app.workers)
    )


def rows(app: MillraceApp, table: str = "#instigators") -> dict[str, list[str]]:
    found = app.screen.query_one(table, DataTable)
    return {str(k.value): [str(c) for c in found.get_row(k)] for k in found.rows}


def tick_rows(app: MillraceApp) -> list[list[str]]:
    return list(rows(app, "#ticks").values())


def said(app: MillraceApp, words: str) -> bool:
    return any(words in str(n.message) for n in app._notifications)


async def highlight(app: MillraceApp, pilot: Pilot[None], name: str) -> None:
    table = app.screen.query_one("#instigators", DataTable)
    table.move_cursor(row=table.get_row_index(name))
    screen = app.screen
    assert isinstance(screen, AutomationScreen)
    await until(pilot, lambda: screen.ticks_of == name and loaded(app), f"{name}'s ticks")


async def test_the_screen_lists_each_schedule_and_sensor_with_its_next_tick(
    tmp_path: Path, home: Path, utc: None
) -> None:
    async with automation_app(write_project(tmp_path, PROJECT), home) as (app, _):
        shown = rows(app)
        assert list(shown) == ["nightly", "watcher"]  # schedules, then sensors
        assert shown["nightly"] == [
            "nightly", "schedule", "RUNNING", "2024-06-04 00:00 (in 12h)", "-", "never",
            "0 2 * * * (Europe/Berlin)",
        ]  # fmt: skip
        assert shown["watcher"] == [
            "watcher", "sensor", "STOPPED", "-", "-", "never", "every 30s",
        ]  # fmt: skip
        assert not app.screen.query_one("#automation-note", Static).display
        assert "nightly: no ticks yet" in str(app.screen.query_one("#tick-text", Static).render())


async def test_s_starts_and_stops_the_highlighted_one_and_the_store_keeps_it(
    tmp_path: Path, home: Path
) -> None:
    async with automation_app(write_project(tmp_path, PROJECT), home) as (app, pilot):
        store = app.runtime.store
        assert store is not None
        await highlight(app, pilot, "watcher")
        await pilot.press("s")
        await until(pilot, lambda: rows(app)["watcher"][2] == "RUNNING", "watcher running")
        assert said(app, "sensor watcher started")
        assert (await store.instigator_states())["watcher"].status == "RUNNING"
        # started, a sensor ticks at once: its skip shows as its last result and in its ticks
        await until(pilot, lambda: "nothing new" in rows(app)["watcher"][5], "the first tick")
        await until(pilot, lambda: len(tick_rows(app)) == 1, "the tick row")
        assert tick_rows(app)[0][1:] == ["SKIPPED", "0", "nothing new"]

        await pilot.press("s")
        await until(pilot, lambda: rows(app)["watcher"][2] == "STOPPED", "watcher stopped")
        assert said(app, "sensor watcher stopped")
        assert (await store.instigator_states())["watcher"].status == "STOPPED"
        assert rows(app)["watcher"][3] == "-"  # a stopped one has no next tick


async def test_t_ticks_it_now_and_a_failed_tick_shows_its_traceback(
    tmp_path: Path, home: Path
) -> None:
    project = write_project(tmp_path, PROJECT)
    async with automation_app(project, home) as (app, pilot):
        await pilot.press("t")  # the schedule, at its latest tick: one run of raw
        await until(pilot, lambda: len(tick_rows(app)) == 1, "the schedule's tick")
        [tick] = tick_rows(app)
        assert tick[1:3] == ["SUCCESS", "1"] and tick[3].startswith("1 run: ")
        assert rows(app)["nightly"][5].startswith("SUCCESS 1 run")
        await until(pilot, lambda: said(app, "schedule nightly: SUCCESS"), "the notification")

        await highlight(app, pilot, "watcher")
        assert tick_rows(app) == []
        await pilot.press("t")  # stopped, it still ticks when told
        await until(pilot, lambda: len(tick_rows(app)) == 1, "the sensor's tick")
        (project / "broken").write_text("")
        await pilot.press("t")
        await until(pilot, lambda: len(tick_rows(app)) == 2, "the failed tick")
        newest, oldest = tick_rows(app)
        assert newest[1:] == ["FAILURE", "0", "RuntimeError: the feed is down"]
        assert oldest[1] == "SKIPPED"
        assert rows(app)["watcher"][5] == "FAILURE RuntimeError: the feed is down"
        assert said(app, "sensor watcher: FAILURE: RuntimeError: the feed is down")

        await pilot.press("enter")  # into the ticks: the newest one's error in full
        ticks = app.screen.query_one("#ticks", DataTable)
        assert app.screen.focused is ticks
        detail = str(app.screen.query_one("#tick-text", Static).render())
        assert "RuntimeError: the feed is down" in detail
        assert "Traceback" in detail and 'raise RuntimeError("the feed is down")' in detail

        await pilot.press("down")  # the older one: its skip reason instead
        await until(
            pilot,
            lambda: "nothing new" in str(app.screen.query_one("#tick-text", Static).render()),
            "the older tick",
        )
        await pilot.press("escape")  # back to the list, then off the screen
        assert app.screen.focused is app.screen.query_one("#instigators", DataTable)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AutomationScreen), "closed")


async def test_the_command_line_opens_it_too(tmp_path: Path, home: Path) -> None:
    async with automation_app(write_project(tmp_path, PROJECT), home) as (app, pilot):
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AutomationScreen), "closed")
        await pilot.press("colon", *"automation", "enter")
        await until(pilot, lambda: loaded(app), "the screen from :automation")


async def test_read_only_it_shows_what_the_store_knows_and_says_why_keys_cannot_act(
    tmp_path: Path, home: Path
) -> None:
    project = write_project(tmp_path, PROJECT)
    async with Runtime(load_code_location(project), home=home) as writer:
        automation = await writer.start_automation(clock=ManualClock(START))
        await automation.set_running("watcher", True)  # stored; it ticks once, skipping
        await automation.tick("watcher")
    async with automation_app(project, home, readonly=True) as (app, pilot):
        note = app.screen.query_one("#automation-note", Static)
        assert note.display and "automation is not running in this process" in str(note.render())
        shown = rows(app)
        assert shown["watcher"][2] == "RUNNING" and "SKIPPED nothing new" in shown["watcher"][5]
        assert shown["nightly"][2] == "RUNNING" and shown["nightly"][5] == "never"
        await highlight(app, pilot, "watcher")
        assert [r[1] for r in tick_rows(app)] == ["SKIPPED", "SKIPPED"]
        await pilot.press("s")
        await until(pilot, lambda: said(app, "start/stop: read-only"), "why s cannot")
        await pilot.press("t")
        await until(pilot, lambda: said(app, "tick: read-only"), "why t cannot")


# -- how it looks ----------------------------------------------------------------------------


def test_snapshot_of_the_automation_screen(
    tmp_path: Path, home: Path, utc: None, snap_compare: Any
) -> None:
    runtime = Runtime(load_code_location(write_project(tmp_path, PROJECT)), home=home)
    app = AutomatedApp(runtime, ManualClock(START))

    async def open_automation(pilot: Pilot[Any]) -> None:
        await pilot.press("A")
        await until(pilot, lambda: loaded(app), "the automation screen")

    assert snap_compare(app, terminal_size=SIZE, run_before=open_automation)
