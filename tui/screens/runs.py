"""The runs (``r``): every run, newest first, live; and one run (``enter``): its steps on a
timeline above its live log.

Both read through the Runtime only: the list re-reads ``runs()`` when a run starts or
finishes; a run's screen subscribes to the run's events, reads its history in pages, then
appends the live events numbered after the last one read (no gap, no duplicate). When another
process writes the history (``millrace ui``: an empty batch of ``App.events``), both read it
again.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from millrace.events import BACKFILL_TAG, Event, RunFinished, RunOrigin, RunStarted
from millrace.storage.records import RunRecord
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header, Input, Static

from ..widgets.command_line import CommandLine
from ..widgets.log_view import LogView, event_lines
from ..widgets.progress import RunProgress
from ..widgets.reload_bar import ReloadBar
from ..widgets.status import run_status_text
from ..widgets.timeline import TIMELINE_KINDS, Timeline, seconds_text, timeline_rows
from .base import RuntimeScreen

if TYPE_CHECKING:
    from ..app import MillraceApp

COLUMNS = ("run", "status", "selection", "trigger", "started", "duration")
LIMIT = 200  # runs listed
PAGE = 5000  # events read at a time from a run's history, so a long one loads in steps
IN_FLIGHT = "STARTED"


def trigger_text(origin: RunOrigin, tags: dict[str, str]) -> str:
    """What started the run (a person's: ``millrace/origin`` says tui, none is the CLI), why,
    and the backfill it is part of."""
    who = origin.value if origin is not RunOrigin.MANUAL else tags.get("millrace/origin", "cli")
    reason = tags.get("millrace/reason")
    text = f"{who}: {reason}" if reason else who
    backfill = tags.get(BACKFILL_TAG)
    return f"{text}, backfill {backfill}" if backfill else text


def selection_text(selection: Sequence[str], width: int = 50) -> str:
    names = ", ".join(selection)
    if len(names) <= width:
        return names
    return f"{len(selection)} steps: {names[: width - 12]}…"


def started_text(timestamp: float) -> str:
    """The local time, with the date when it was not today."""
    when = time.localtime(timestamp)
    today = time.localtime()
    same_day = when[:3] == today[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M", when)


def why_not_cancel(app: MillraceApp, run_id: str, status: str) -> str | None:
    """Why ``x`` cannot cancel this run, if so."""
    if status != IN_FLIGHT:
        return f"run {run_id[:8]} is not in flight: it ended {status}"
    if run_id not in {h.run_id for h in app.runtime.active_runs()}:
        return f"run {run_id[:8]} belongs to another process: cancel it there"
    return None


async def cancel(screen: RuntimeScreen, run_id: str) -> None:
    """Cancel a run of this app, saying so; returns once it stores nothing more."""
    screen.notify(f"canceling run {run_id[:8]}…")
    if await screen.millrace.runtime.cancel(run_id):
        screen.notify(f"run {run_id[:8]} canceled")
    else:
        screen.notify(f"run {run_id[:8]} ended before it could be canceled", severity="warning")


class RunsScreen(RuntimeScreen):
    DEFAULT_CSS = """
    RunsScreen #runs { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open", tooltip="the run's timeline and log"),
        Binding("x", "cancel", "Cancel run", tooltip="cancel the highlighted run"),
        Binding("r", "reload", "Refresh", show=False, tooltip="read the runs again"),
        Binding(
            "B",
            "app.backfills",
            "Backfills",
            key_display="B",
            tooltip="the backfills and how far they got",
        ),
        Binding("escape", "back", "Back", tooltip="back to where you came from"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: list[RunRecord] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReloadBar()
        yield DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        yield RunProgress()
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "runs"
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.millrace.events.subscribe(self, self._changed)
        self.refresh_runs()
        self.set_interval(1, self._tick)
        table.focus()

    def _changed(self, events: list[Event]) -> None:
        if not events or any(isinstance(e, RunStarted | RunFinished) for e in events):
            self.refresh_runs()

    @work(exclusive=True, group="runs")
    async def refresh_runs(self) -> None:
        self.records = await self.fetch(self.millrace.runtime.runs(LIMIT))
        self._fill()

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        highlighted = self.highlighted()
        table.clear()
        for record in self.records:
            table.add_row(
                Text(record.run_id[:8], style="bold"),
                run_status_text(record.status.value),
                selection_text(record.selection),
                trigger_text(record.origin, record.tags),
                started_text(record.start_time),
                _took(record),
                key=record.run_id,
            )
        if highlighted is not None and highlighted.run_id in table.rows:
            table.move_cursor(row=table.get_row_index(highlighted.run_id))

    def _tick(self) -> None:
        """The duration of runs in flight grows while you watch."""
        table = self.query_one(DataTable)
        for record in self.records:
            if record.status.value == IN_FLIGHT and record.run_id in table.rows:
                table.update_cell(record.run_id, "duration", _took(record))

    def highlighted(self) -> RunRecord | None:
        key = self.highlighted_key()
        return next((r for r in self.records if r.run_id == key), None)

    @on(DataTable.RowSelected)
    def action_open(self) -> None:
        record = self.highlighted()
        if record is None:
            self.notify("open: no run is highlighted", severity="warning")
            return
        self.app.push_screen(RunScreen(record.run_id))

    def action_cancel(self) -> None:
        record = self.highlighted()
        if record is None:
            self.notify("cancel: no run is highlighted", severity="warning")
        elif (why := why_not_cancel(self.millrace, record.run_id, record.status.value)) is not None:
            self.notify(why, severity="warning")
        else:
            self.run_worker(cancel(self, record.run_id), group="cancel")

    def action_reload(self) -> None:
        self.refresh_runs()

    def action_back(self) -> None:
        self.app.pop_screen()


def _took(record: RunRecord) -> str:
    end = record.end_time if record.end_time is not None else time.time()
    return seconds_text(end - record.start_time)


class RunScreen(RuntimeScreen):
    """One run: what it is, its steps on a timeline, its log (keys: see LogView)."""

    DEFAULT_CSS = """
    RunScreen #summary { height: auto; padding: 0 1; }
    RunScreen Timeline { border-bottom: solid $primary-background; }
    RunScreen #search { dock: bottom; display: none; }
    RunScreen #search.open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "search", "Search", key_display="/", tooltip="search the log"),
        Binding("x", "cancel", "Cancel run", tooltip="cancel this run"),
        Binding("escape", "back", "Back", tooltip="back to where you came from"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.loaded = False  # the history is read; live events follow
        self._started: RunStarted | None = None
        self._finished: RunFinished | None = None
        self._origin: float | None = None  # the run's start: times are shown after it
        self._steps: list[Event] = []  # the events the timeline is drawn from
        self._last_seq = 0

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReloadBar()
        yield Static("loading…", id="summary")
        yield Timeline()
        yield LogView(id="log")
        yield Input(placeholder="search the log (enter: go, n: next, N: previous)", id="search")
        yield RunProgress()
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = f"run {self.run_id[:8]}"
        self.millrace.events.subscribe(self, self._changed)
        self.follow_run()
        self.set_interval(1, self._tick)
        self.query_one(LogView).focus()

    @work(exclusive=True, group="run")
    async def follow_run(self) -> None:
        async with self.millrace.runtime.subscribe(run_id=self.run_id) as live:
            await self._read_history()
            self.loaded = True
            self._summarize()
            async for event in live:
                batch = [event]
                while live.pending():  # everything already here, in one redraw
                    batch.append(await anext(live))
                if self.closing:
                    return
                self._take(batch)

    async def _read_history(self) -> None:
        """Every stored event after the last one taken, a page at a time."""
        while True:
            page = await self.fetch(
                self.millrace.runtime.run_events(self.run_id, after_seq=self._last_seq, limit=PAGE)
            )
            self._take(page)
            if len(page) < PAGE:
                return

    def _changed(self, events: list[Event]) -> None:
        if not events and self.loaded:  # another process wrote the history
            self.catch_up()

    @work(exclusive=True, group="catch-up")
    async def catch_up(self) -> None:
        await self._read_history()

    def _take(self, events: list[Event]) -> None:
        fresh = [e for e in events if e.seq > self._last_seq]
        if not fresh:
            return
        self._last_seq = fresh[-1].seq
        changed = False
        for event in fresh:
            if isinstance(event, RunStarted):
                self._started, self._origin = event, event.timestamp
            elif isinstance(event, RunFinished):
                self._finished, changed = event, True
            if event.kind in TIMELINE_KINDS:
                self._steps.append(event)
                changed = True
        origin = self._origin if self._origin is not None else fresh[0].timestamp
        self.query_one(LogView).write(line for e in fresh for line in event_lines(e, origin))
        if changed:
            self._draw_timeline()
            self._summarize()

    def _in_flight(self) -> bool:
        return self._started is not None and self._finished is None

    def _elapsed(self) -> float:
        if self._origin is None:
            return 0.0
        end = self._finished.timestamp if self._finished is not None else time.time()
        return end - self._origin

    def _draw_timeline(self) -> None:
        self.query_one(Timeline).show(timeline_rows(self._steps), self._elapsed())

    def _tick(self) -> None:
        """Bars and the duration of a run in flight grow while you watch."""
        if self._in_flight():
            self._draw_timeline()
            self._summarize()

    def _summarize(self) -> None:
        summary = self.query_one("#summary", Static)
        started = self._started
        if started is None:
            summary.update(f"run {self.run_id[:8]}: no events" if self.loaded else "loading…")
            return
        status = self._finished.status.value if self._finished is not None else IN_FLIGHT
        text = Text()
        text.append(f"run {self.run_id[:8]}  ", style="bold")
        text.append_text(run_status_text(status))
        text.append(f"  {trigger_text(started.origin, started.tags)}", style="dim")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started.timestamp))
        took = "running for" if self._in_flight() else "took"
        text.append(f"  started {when}  {took} {seconds_text(self._elapsed())}")
        text.append(f"\n{selection_text(started.selection, 120)}", style="dim")
        if self._finished is not None and self._finished.message:
            text.append(f"\n{self._finished.message}", style="red")
        summary.update(text)

    # -- keys ------------------------------------------------------------------------------

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.add_class("open")
        box.focus()

    @on(Input.Submitted, "#search")
    def _searched(self, event: Input.Submitted) -> None:
        log = self.query_one(LogView)
        self._close_search()
        if event.value and not log.search(event.value):
            self.notify(f"no shown line holds {event.value!r}", severity="warning")

    def _close_search(self) -> None:
        self.query_one("#search", Input).remove_class("open")
        self.query_one(LogView).focus()

    def action_cancel(self) -> None:
        status = self._finished.status.value if self._finished is not None else IN_FLIGHT
        if self._started is None:
            self.notify(f"cancel: run {self.run_id[:8]} has not started", severity="warning")
        elif (why := why_not_cancel(self.millrace, self.run_id, status)) is not None:
            self.notify(why, severity="warning")
        else:
            self.run_worker(cancel(self, self.run_id), group="cancel")

    def action_back(self) -> None:
        """Leaves the search box first, then the screen."""
        if self.query_one("#search", Input).has_class("open"):
            self._close_search()
        else:
            self.app.pop_screen()
