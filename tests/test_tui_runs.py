"""The runs screens: the list, one run's timeline and live log, driven through the real app;
the timeline's rows and the log view's follow, filter, search and size, on their own."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import millrace.tui.app as app_module
import pytest
from millrace.declarations.keys import AssetKey
from millrace.events import (
    AssetCheckEvaluated,
    ErrorInfo,
    Event,
    EventBus,
    LogMessage,
    RunFinished,
    RunOrigin,
    RunStarted,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
)
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui.app import MillraceApp
from millrace.tui.screens.catalog import CatalogScreen
from millrace.tui.screens.runs import RunScreen, RunsScreen
from millrace.tui.widgets.log_view import LogLine, LogView, event_lines
from millrace.tui.widgets.timeline import Timeline, timeline_rows
from textual import events
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from tui_harness import SIZE, eventually, running_app, until, write_project

RUN = "5eed0000" + "0" * 24
T0 = 1_700_000_000.0  # the synthetic run's start


def step(cls: type[Event], key: str, at: float, check: str | None = None, **kw: Any) -> Event:
    return cls(run_id=RUN, asset_key=AssetKey(key), check_name=check, timestamp=T0 + at, **kw)


def synthetic_run() -> list[Event]:
    """A run of every outcome: a success, a retried failure, a skip, a cutoff, a check that
    fails, and log lines of every level."""
    run: list[Event] = [
        RunStarted(run_id=RUN, timestamp=T0, selection=("raw", "clean", "report", "cached",
                   "clean:no_nulls"), origin=RunOrigin.DEV,
                   tags={"millrace/reason": "changed: clean"}),
        step(StepUpToDate, "cached", 0.01),
        step(StepStarted, "raw", 0.02),
        step(LogMessage, "raw", 0.30, level="DEBUG", message="reading 3 files"),
        step(LogMessage, "raw", 0.90, level="STDOUT", message="downloaded 1,000 rows"),
        step(StepSucceeded, "raw", 1.00, duration=0.98),
        step(StepStarted, "clean", 1.01),
        step(LogMessage, "clean", 1.20, level="INFO", message="dropping nulls"),
        step(LogMessage, "clean", 1.40, level="WARNING", message="12 rows had no id"),
        step(StepFailed, "clean", 1.50, error=ErrorInfo("OSError", "disk hiccup"),
             will_retry=True),
        step(StepStarted, "clean", 1.60, attempt=2),
        step(StepSucceeded, "clean", 2.60, duration=1.0),
        step(StepStarted, "clean", 2.61, check="no_nulls"),
        step(StepSucceeded, "clean", 2.80, check="no_nulls", duration=0.19),
        step(AssetCheckEvaluated, "clean", 2.80, check="no_nulls", passed=False,
             severity="ERROR", blocking=True, description="12 nulls in id"),
        step(StepSkipped, "report", 2.81, reason="blocked by check no_nulls on clean"),
        step(LogMessage, "clean", 2.82, level="ERROR", message="nulls found"),
        step(LogMessage, "clean", 2.83, level="STDERR", message="warning: fallback used"),
        step(LogMessage, "clean", 2.84, level="CRITICAL", message="giving up on report"),
        RunFinished(run_id=RUN, timestamp=T0 + 3.0, status=RunStatus.FAILURE,
                    message="blocking check failed: clean:no_nulls"),
    ]  # fmt: skip
    for seq, event in enumerate(run, 1):
        object.__setattr__(event, "seq", seq)
    return run


# -- the timeline, pure ---------------------------------------------------------------------


def test_timeline_rows_put_every_step_on_the_runs_time_axis() -> None:
    rows = {row.name: row for row in timeline_rows(synthetic_run())}
    assert list(rows) == ["cached", "raw", "clean", "clean:no_nulls", "report"]
    raw = rows["raw"]
    assert (raw.name, raw.outcome, raw.attempts) == ("raw", "success", 1)
    assert (raw.start, raw.end) == pytest.approx((0.02, 1.00))
    assert rows["cached"].outcome == "up to date"
    assert rows["report"].outcome == "skipped"
    assert rows["report"].start == rows["report"].end
    clean = rows["clean"]  # one bar from the first attempt to the end of the retry
    assert (clean.outcome, clean.attempts) == ("success", 2)
    assert (clean.start, clean.end) == pytest.approx((1.01, 2.60))
    assert rows["clean:no_nulls"].outcome == "failure"  # the step ran; its verdict failed


def test_a_step_under_way_is_running_and_has_no_end() -> None:
    events = synthetic_run()[:3]  # RunStarted, up to date, raw started
    rows = {row.name: row for row in timeline_rows(events)}
    assert (rows["raw"].outcome, rows["raw"].end) == ("running", None)
    retrying = synthetic_run()[:10]  # clean failed, will retry
    assert {r.name: r.outcome for r in timeline_rows(retrying)}["clean"] == "running"
    assert timeline_rows([]) == []


def test_a_check_the_asset_reports_itself_is_a_row_at_its_verdict() -> None:
    verdict = step(AssetCheckEvaluated, "raw", 1.0, check="fresh", passed=True)
    [row] = timeline_rows([synthetic_run()[0], verdict])
    assert (row.name, row.outcome, row.start, row.end) == ("raw:fresh", "success", 1.0, 1.0)


def test_a_failed_warn_check_is_a_warning_not_a_failure() -> None:
    warned = step(AssetCheckEvaluated, "raw", 1.0, check="recent", passed=False, severity="WARN")
    [row] = timeline_rows([synthetic_run()[0], warned])
    assert row.outcome == "warned"


def test_events_read_as_the_dev_runtimes_lines_with_every_level_and_the_traceback() -> None:
    failed = step(StepFailed, "clean", 2.0, error=ErrorInfo("ValueError", "bad", "  File x\n"
                  "ValueError: bad\n"))  # fmt: skip
    assert event_lines(failed, T0) == [
        LogLine(2.0, "ERROR", "clean failed: ValueError: bad", "bold red"),
        LogLine(None, "ERROR", "  File x", "bold red"),
        LogLine(None, "ERROR", "ValueError: bad", "bold red"),
    ]
    debug = step(LogMessage, "raw", 0.5, level="DEBUG", message="two\nlines\tand\x1b[0m")
    assert event_lines(debug, T0) == [
        LogLine(0.5, "DEBUG", "raw DEBUG: two"),
        LogLine(None, "DEBUG", "lines   and�[0m"),
    ]
    [succeeded] = event_lines(synthetic_run()[5], T0)
    assert succeeded.text == "raw materialized in 0.98s"
    assert event_lines(step(StepStarted, "clean", 1, check="no_nulls"), T0) == []


# -- the screens, through the real app -------------------------------------------------------


def run_rows(app: MillraceApp) -> dict[str, list[str]]:
    table = app.screen.query_one(DataTable)
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


def notified(app: MillraceApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


async def test_the_runs_list_opens_a_run_with_its_timeline_and_log_and_follows_new_runs(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: isinstance(app.screen, CatalogScreen), "the catalog")
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen) and run_rows(app), "the runs")
        [(first, row)] = run_rows(app).items()
        assert row[1] == "SUCCESS"
        assert row[2] == "alpha, beta_mid, gamma_out, beta_mid:has_rows"
        assert row[3] == "cli"  # the harness's first run has no origin tag

        await pilot.press("x")  # finished: x says why it does nothing
        await until(pilot, lambda: notified(app, "is not in flight"), "why not")

        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.loaded, "the run"
        )
        screen = app.screen
        assert screen.run_id == first
        timeline = screen.query_one(Timeline)
        assert {r.name: r.outcome for r in timeline.rows} == dict.fromkeys(
            ["alpha", "beta_mid", "beta_mid:has_rows", "gamma_out"], "success"
        )
        log = screen.query_one(LogView)
        assert any(line.text == "gamma_out INFO: gamma sees 3 rows" for line in log.lines)
        assert any(f"run {first[:8]} SUCCESS" in line for line in visible(log))

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen), "back to the list")
        handle = await app.materialize(None)
        assert handle is not None
        await until(
            pilot,
            lambda: run_rows(app).get(handle.run_id, [""] * 4)[1] == "SUCCESS",
            "the new run listed, finished",
        )
        assert run_rows(app)[handle.run_id][3] == "tui"
        assert list(run_rows(app)) == [handle.run_id, first]  # newest first


SLOW = """
    import asyncio
    from millrace import asset

    @asset
    async def slow() -> int:
        await asyncio.sleep(30)
        return 1
"""


async def test_x_cancels_a_run_in_flight_from_the_list_or_its_screen_which_follows_live(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path, SLOW), home, materialized=False) as (
        app,
        pilot,
    ):
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen), "the runs")
        first = await app.materialize(None)
        assert first is not None
        await until(pilot, lambda: first.run_id in run_rows(app), "the run listed")
        assert run_rows(app)[first.run_id][1] == "STARTED"
        await pilot.press("x")  # the highlighted run, the only one
        await until(pilot, lambda: run_rows(app)[first.run_id][1] == "CANCELED", "canceled")

        second = await app.materialize(None)
        assert second is not None
        await until(pilot, lambda: next(iter(run_rows(app))) == second.run_id, "the new run")
        await pilot.press("up", "enter")  # the highlight stayed on the first run: go up
        await until(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.loaded, "the run"
        )
        screen = app.screen
        [row] = screen.query_one(Timeline).rows
        assert (row.name, row.outcome) == ("slow", "running")
        await pilot.press("x")  # this run; what follows arrives live
        log = screen.query_one(LogView)
        await until(
            pilot,
            lambda: any(f"run {second.run_id[:8]} CANCELED" in line.text for line in log.lines),
            "the cancellation in the log",
        )
        assert "CANCELED" in str(screen.query_one("#summary", Static).render())
        await pilot.press("escape")
        await until(pilot, lambda: run_rows(app)[second.run_id][1] == "CANCELED", "listed")


async def test_a_history_another_process_writes_is_read_again_on_an_empty_batch(
    tmp_path: Path, home: Path
) -> None:
    """``millrace ui`` publishes an empty batch when the home's files change."""
    project = write_project(tmp_path, SLOW)
    async with (
        running_app(project, home, materialized=False) as (app, pilot),
        Runtime(load_code_location(project), home=home) as other,
    ):
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen), "the runs")
        handle = other.submit()
        # stored: what another process would have written
        await eventually(pilot, other.runs, bool, "the other run stored")
        assert not run_rows(app)
        app.events.publish([])
        await until(pilot, lambda: handle.run_id in run_rows(app), "the other run")
        await pilot.press("x")
        await until(pilot, lambda: notified(app, "belongs to another process"), "why not")
        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.loaded, "the run"
        )
        log = app.screen.query_one(LogView)
        await other.cancel(handle.run_id)
        assert (await handle).status is RunStatus.CANCELED
        await other.runs()  # flushed: all of it stored
        app.events.publish([])
        await until(
            pilot,
            lambda: any(line.text.endswith("CANCELED") for line in log.lines),
            "the rest of the run",
        )


# -- the log view, fed directly -----------------------------------------------------------


class OneLog(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView()


def visible(log: LogView) -> list[str]:
    return [log.render_line(y).text.rstrip() for y in range(log.scrollable_content_region.height)]


def lines(n: int, level: str = "INFO", start: int = 0) -> list[LogLine]:
    return [LogLine(i / 1000, level, f"line {i}") for i in range(start, start + n)]


async def test_the_log_follows_the_end_until_scrolled_up_and_again_at_g() -> None:
    async with OneLog().run_test(size=SIZE) as pilot:
        log = pilot.app.query_one(LogView)
        log.focus()
        log.write(lines(1000))
        await pilot.pause()
        assert log.follow and log.scroll_offset.y == log.max_scroll_y > 0
        assert visible(log)[-1].endswith("line 999")

        await pilot.press("up")  # scrolling up stops following
        assert not log.follow
        at = log.scroll_offset.y
        log.write(lines(100, start=1000))
        await pilot.pause()
        assert log.scroll_offset.y == at  # stays where the reader is

        await pilot.press("G")
        assert log.follow and visible(log)[-1].endswith("line 1099")
        log.write(lines(5, start=1100))
        await pilot.pause()
        assert visible(log)[-1].endswith("line 1104")

        await pilot.press("home")
        assert not log.follow
        log.scroll_to(y=log.max_scroll_y, animate=False)  # back at the end: follows again
        assert log.follow


async def test_the_level_filter_hides_lower_levels() -> None:
    async with OneLog().run_test(size=SIZE) as pilot:
        log = pilot.app.query_one(LogView)
        log.focus()
        log.write(
            [
                LogLine(0, "DEBUG", "a DEBUG: detail"),
                LogLine(1, "INFO", "a INFO: hello"),
                LogLine(2, "STDOUT", "a STDOUT: printed"),
                LogLine(3, "WARNING", "a WARNING: careful"),
                LogLine(4, "ERROR", "a ERROR: broken"),
            ]
        )
        await pilot.press("3")  # WARNING and up
        shown = " ".join(visible(log))
        assert "careful" in shown and "broken" in shown
        assert "hello" not in shown and "printed" not in shown and "detail" not in shown
        assert "WARNING and up" in str(log.border_subtitle)
        await pilot.press("2")  # captured output counts as INFO
        assert [line.split()[2] for line in visible(log) if line] == [
            "INFO:", "STDOUT:", "WARNING:", "ERROR:"
        ]  # fmt: skip
        await pilot.press("1")
        assert len([line for line in visible(log) if line]) == 5


async def test_search_goes_to_a_matching_line_and_n_to_the_next() -> None:
    async with OneLog().run_test(size=SIZE) as pilot:
        log = pilot.app.query_one(LogView)
        log.focus()
        log.write([*lines(500), LogLine(0.5, "ERROR", "gamma sees 3 rows"), *lines(500, start=500)])
        log.write([LogLine(1.0, "INFO", "Gamma again")])
        await pilot.pause()
        log.scroll_home(animate=False)
        assert log.search("GAMMA")
        assert log.current_match is not None and log.current_match.text == "gamma sees 3 rows"
        assert any("gamma sees 3 rows" in line for line in visible(log))
        assert not log.follow  # the match stays in view while lines arrive
        await pilot.press("n")
        assert log.current_match.text == "Gamma again"
        await pilot.press("n")  # wraps around
        assert log.current_match.text == "gamma sees 3 rows"
        assert not log.search("no such text")


async def test_a_100000_line_log_appends_and_scrolls_to_the_end_fast() -> None:
    """Timed by hand (reported, not asserted): see the commit's report."""
    async with OneLog().run_test(size=SIZE) as pilot:
        log = pilot.app.query_one(LogView)
        many = [LogLine(i / 100, "INFO", f"step_{i % 97} INFO: record {i} of a long run")
                for i in range(100_000)]  # fmt: skip
        started = time.perf_counter()
        log.write(many)
        await pilot.pause()
        appended = time.perf_counter() - started
        assert log.follow and visible(log)[-1].endswith("record 99999 of a long run")
        started = time.perf_counter()
        await pilot.press("home")
        await pilot.press("G")
        await pilot.press("3", "1")  # filter everything out, then back
        await pilot.pause()
        moved = time.perf_counter() - started
        assert visible(log)[-1].endswith("record 99999 of a long run")
        print(f"100k lines: appended and shown in {appended:.3f}s; home, end, refilter x2 in "
              f"{moved:.3f}s")  # fmt: skip


# -- the snapshot --------------------------------------------------------------------------


class FakeRuntime:
    """The Runtime API a run's screen uses, over a fixed list of events."""

    code_error = None

    def __init__(self, events: list[Event]) -> None:
        self.bus = EventBus()
        self.bus.ids = itertools.count(max((e.seq for e in events), default=0) + 1)
        self.events = events

    def subscribe(self, kinds: Any = None, run_id: str | None = None) -> Any:
        return self.bus.stream(kinds, run_id)

    async def run_events(
        self, run_id: str, after_seq: int = 0, limit: int | None = None, kinds: Any = None
    ) -> list[Event]:
        found = [e for e in self.events if e.run_id == run_id and e.seq > after_seq]
        return found[:limit]

    def active_runs(self) -> list[Any]:
        return []


class OneRun(MillraceApp):
    """The app over the fake runtime, showing the synthetic run."""

    CSS_PATH = str(Path(app_module.__file__).with_name(MillraceApp.CSS_PATH))  # beside the app

    def on_mount(self, event: events.Mount) -> None:
        event.prevent_default()  # neither the catalog nor the app's event follower
        self.push_screen(RunScreen(RUN))


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is UTC, so the run's start reads the same everywhere."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_run_screen_snapshot(snap_compare: Any, utc: None) -> None:
    async def loaded(pilot: Pilot[None]) -> None:
        await until(pilot, lambda: getattr(pilot.app.screen, "loaded", False), "the run")

    app = OneRun(FakeRuntime(synthetic_run()))  # type: ignore[arg-type]
    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)
