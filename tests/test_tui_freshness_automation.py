"""Freshness and declarative automation in the TUI, through the real app and Textual's Pilot
over a real home: the catalog's freshness badge (PASS once materialized, UNKNOWN never,
blank without a policy) and the asset screen's freshness line; the asset screen's automation
tab (its condition, the last evaluation's reason tree and request, the run automation
started), live as automation runs on a clock the test holds; and one snapshot of the tab."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import ManualClock
from millrace.events import RunOrigin
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui.app import MillraceApp
from millrace.tui.screens.asset import AssetScreen, reason_text, requested_text
from millrace.tui.screens.catalog import CatalogScreen
from rich.text import Text
from textual.pilot import Pilot
from textual.widgets import DataTable, Static, TabbedContent
from tui_harness import SIZE, AutomatedApp, until, write_project

PROJECT = """
    from datetime import timedelta

    from millrace import AutomationCondition, FreshnessPolicy, asset

    HOURLY = FreshnessPolicy.time_window(fail_window=timedelta(hours=1))

    @asset
    def root() -> int:
        return 1

    @asset(automation_condition=AutomationCondition.eager())
    def follower(root: int) -> int:
        return root + 1

    @asset(freshness_policy=HOURLY)
    def prices() -> int:
        return 3

    @asset(freshness_policy=HOURLY)
    def quotes() -> int:
        return 4
"""
START = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so times read the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@asynccontextmanager
async def automated_app(
    project: Path, home: Path, clock: ManualClock
) -> AsyncIterator[tuple[MillraceApp, Pilot[None]]]:
    """The app with automation running in its runtime on ``clock``."""
    runtime = Runtime(load_code_location(project), home=home)
    await runtime.start()
    await runtime.start_automation(clock=clock)
    app = MillraceApp(runtime)
    try:
        async with app.run_test(size=SIZE) as pilot:
            yield app, pilot
    finally:
        await runtime.close()


def idle(app: MillraceApp) -> bool:
    return not any(w.node is app.screen and not w.is_finished for w in app.workers)


def catalog_rows(app: MillraceApp) -> dict[str, dict[str, str]]:
    table = app.screen.query_one("#table", DataTable)
    names = [str(c.label) for c in table.columns.values()]
    return {
        str(k.value): dict(zip(names, map(str, table.get_row(k)), strict=True)) for k in table.rows
    }


async def open_asset(app: MillraceApp, pilot: Pilot[None], name: str) -> AssetScreen:
    """From the catalog: the asset's row, ``enter``, and its screen once it has read."""
    await until(pilot, lambda: name in catalog_rows(app), f"{name} in the catalog")
    table = app.screen.query_one("#table", DataTable)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("enter")

    def read() -> bool:
        screen = app.screen
        return isinstance(screen, AssetScreen) and screen.state is not None and idle(app)

    await until(pilot, read, f"the screen of {name}")
    assert isinstance(app.screen, AssetScreen)
    return app.screen


def shown(screen: AssetScreen, widget: str) -> str:
    return str(screen.query_one(widget, Static).render())


async def test_the_catalog_shows_each_policy_s_state_and_the_asset_screen_says_why(
    tmp_path: Path, home: Path
) -> None:
    project = write_project(tmp_path, PROJECT)
    async with Runtime(load_code_location(project), home=home) as first:
        assert (await first.materialize(["prices"])).success
    async with automated_app(project, home, ManualClock(datetime.now(UTC))) as (app, pilot):
        await until(pilot, lambda: len(catalog_rows(app)) == 4, "the catalog")
        rows = catalog_rows(app)
        assert {name: row["freshness"] for name, row in rows.items()} == {
            "follower": "", "prices": "PASS", "quotes": "UNKNOWN", "root": "",
        }  # fmt: skip
        table = app.screen.query_one("#table", DataTable)
        panels = {}
        for name in rows:  # the panel beside the table: the state and why, under a policy
            table.move_cursor(row=table.get_row_index(name))
            why = lambda: str(app.screen.query_one("#why", Static).render())  # noqa: E731
            await until(pilot, lambda: why().startswith(f"{name} "), f"{name}'s panel")  # noqa: B023
            panels[name] = why()
        assert "freshness UNKNOWN\nnever materialized" in panels["quotes"]
        assert "freshness PASS\nlast materialized" in panels["prices"]
        assert "freshness" not in panels["root"] + panels["follower"]

        screen = await open_asset(app, pilot, "quotes")
        facts = shown(screen, "#facts")
        assert "freshness UNKNOWN" in facts and "never materialized" in facts
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, CatalogScreen), "the catalog again")

        screen = await open_asset(app, pilot, "prices")
        facts = shown(screen, "#facts")
        assert "freshness PASS" in facts and "within 1:00:00" in facts
        await pilot.press("escape")

        # Materialized now (its FreshnessChanged and materialization refresh the catalog):
        assert (await app.runtime.materialize(["quotes"])).success
        await until(pilot, lambda: catalog_rows(app)["quotes"]["freshness"] == "PASS", "PASS")


async def test_the_automation_tab_shows_the_condition_its_reason_tree_and_its_request(
    tmp_path: Path, home: Path
) -> None:
    project = write_project(tmp_path, PROJECT)
    async with automated_app(project, home, ManualClock(datetime.now(UTC))) as (app, pilot):
        screen = await open_asset(app, pilot, "follower")
        tabs = screen.query_one(TabbedContent)
        await pilot.press("6")
        assert tabs.active == "automation"
        # The evaluation at start: root is missing, so eager holds back.
        await until(pilot, lambda: screen.evaluation is not None, "the first evaluation")
        await until(pilot, lambda: "eager: false" in shown(screen, "#automation-reason"), "tree")
        summary = shown(screen, "#automation-summary")
        assert "condition  eager" in summary and "requested  nothing" in summary
        assert "last run   none in the newest 50 runs" in summary

        ticks = app.runtime.subscribe(kinds={"TICK_EVALUATED"})
        assert (await app.runtime.materialize(["root"])).success
        tick = await asyncio.wait_for(anext(ticks), 10)
        while not tick.run_ids:  # type: ignore[attr-defined]
            tick = await asyncio.wait_for(anext(ticks), 10)
        [run_id] = tick.run_ids  # type: ignore[attr-defined]
        done = await app.runtime.wait_for_run(run_id)
        assert done is not None and done.origin is RunOrigin.AUTOMATION
        assert done.selection == ("follower",)

        def ran() -> bool:
            return f"last run   {run_id[:8]}  SUCCESS" in shown(screen, "#automation-summary")

        await until(pilot, ran, "the run automation started, on the tab")
        await until(pilot, lambda: idle(app), "the reads")
        stored = (await app.runtime.automation_evaluations())["follower"]
        reason = shown(screen, "#automation-reason")
        assert reason.splitlines()[0] == stored["reason"].splitlines()[0]
        assert reason.splitlines()[0].startswith("eager: ")
        assert len(reason.splitlines()) == len(stored["reason"].splitlines())
        assert "requested  nothing" in shown(screen, "#automation-summary")  # as stored now:
        assert stored["requested"] == []  # its own run's events woke it, with nothing to ask

        await pilot.press("escape")  # root has no condition: no tab, and 6 says why
        await until(pilot, lambda: isinstance(app.screen, CatalogScreen), "the catalog again")
        screen = await open_asset(app, pilot, "root")
        assert not screen.query_one(TabbedContent).get_tab("automation").display
        await pilot.press("6")
        assert screen.query_one(TabbedContent).active == "preview"
        await until(
            pilot,
            lambda: any("no automation_condition" in str(n.message) for n in app._notifications),
            "why 6 does nothing",
        )


def test_reason_lines_are_coloured_by_their_truth_and_requests_read_as_words() -> None:
    text = reason_text("eager: false\n  missing: true (2/3 partitions)\n  plain line")
    assert text.plain == "eager: false\n  missing: true (2/3 partitions)\n  plain line"
    styles = {text.plain[s.start : s.end]: str(s.style) for s in text.spans}
    assert styles == {"eager: false": "red", "  missing: true (2/3 partitions)": "green"}
    assert requested_text([]).plain == "nothing"
    assert requested_text([None]).plain == "a run of it"
    assert requested_text(["a", "b"]).plain == "2 partitions: a, b"
    many = requested_text([str(n) for n in range(7)])
    assert many.plain == "7 partitions: 0, 1, 2, 3, 4 and 2 more"
    assert isinstance(many, Text)


# -- how it looks ----------------------------------------------------------------------------


def test_snapshot_of_the_automation_tab(
    tmp_path: Path, home: Path, utc: None, snap_compare: Any
) -> None:
    runtime = Runtime(load_code_location(write_project(tmp_path, PROJECT)), home=home)
    app = AutomatedApp(runtime, ManualClock(START))

    async def open_follower(pilot: Pilot[Any]) -> None:
        screen = await open_asset(app, pilot, "follower")
        await pilot.press("6")
        await until(pilot, lambda: screen.evaluation is not None and idle(app), "evaluated")

    # Nothing materialized: no run ids or times of materializations; the evaluation's time
    # is the manual clock's.
    assert snap_compare(app, terminal_size=SIZE, run_before=open_follower)
