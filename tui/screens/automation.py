"""The schedules and sensors (``A``, ``:automation``): each RUNNING or STOPPED, its next tick
and its last result, live; ``s`` starts or stops the highlighted one (stored), ``t`` ticks it
now; below, its ticks, newest first, and the highlighted tick in full (its traceback).

What is shown comes from the Runtime's ``automation`` (``millrace dev``), read again when a
tick is evaluated, one is started or stopped, or the code reloads. Without automation in this
process (``millrace ui``, read-only) it shows what the store knows and says why the keys that
act cannot. A read is never canceled by the next one: one more read follows the one in flight.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from millrace.events import Event, InstigatorChanged, ReloadApplied, TickEvaluated
from millrace.runtime.automation import SCHEDULE, default_running, instigators_of
from millrace.storage.records import TickRecord
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static
from textual.worker import Worker

from ..widgets.command_line import CommandLine
from ..widgets.progress import RunProgress
from ..widgets.reload_bar import ReloadBar
from .base import RuntimeScreen

COLUMNS = ("name", "kind", "status", "next tick", "last tick", "result", "when")
TICK_COLUMNS = ("time", "status", "runs", "detail")
LIMIT = 50  # ticks shown of the highlighted one
TICK_STYLES = {"SUCCESS": "green", "SKIPPED": "bright_black", "FAILURE": "bold red"}
NO_AUTOMATION = (
    "automation is not running in this process: this is what the store knows "
    "(millrace dev or millrace serve ticks them)"
)


@dataclass(frozen=True, slots=True)
class Row:
    """One schedule or sensor as the screen shows it."""

    name: str
    kind: str
    running: bool
    next_due: float | None
    last_tick: Any  # a TickRecord, a TickEvaluated, or None
    when: str  # a schedule's cron and timezone, a sensor's interval


def when_text(kind: str, definition: Any) -> str:
    if kind == SCHEDULE:
        cron = definition.cron_schedule
        crons = cron if isinstance(cron, str) else ", ".join(cron)
        return f"{crons} ({definition.schedule.timezone or 'UTC'})"
    return f"every {definition.minimum_interval_seconds:g}s"


def moment_text(timestamp: float, now: float) -> str:
    """The local time, with the date when it is not ``now``'s day."""
    when = time.localtime(timestamp)
    same_day = when[:3] == time.localtime(now)[:3]
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M", when)


def in_text(seconds: float) -> str:
    """``in 5s``, ``in 3m``, ``in 2h``, ``in 4d``; ``due`` once it has passed."""
    if seconds <= 0:
        return "due"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"in {int(seconds // size)}{unit}"
    return f"in {int(seconds)}s"


def next_text(row: Row, now: float) -> Text:
    if not row.running:
        return Text("-", style="bright_black")
    if row.next_due is None:
        return Text("when triggered", style="bright_black")
    return Text(f"{moment_text(row.next_due, now)} ({in_text(row.next_due - now)})")


def tick_status_text(status: str) -> Text:
    return Text(status, style=TICK_STYLES.get(status, ""))


def detail_of(tick: Any) -> str:
    """A tick in one line: its skip reason, its error's first line, or the runs it asked for."""
    if tick.error:
        return str(tick.error).splitlines()[0]
    if tick.skip_reason:
        return str(tick.skip_reason)
    if tick.run_ids:
        count = len(tick.run_ids)
        return f"{count} run{'s' * (count > 1)}: {', '.join(r[:8] for r in tick.run_ids)}"
    return ""


def result_text(tick: Any) -> Text:
    if tick is None:
        return Text("never", style="bright_black")
    text = tick_status_text(tick.status)
    if detail := detail_of(tick):
        text.append(f" {detail}", style="red" if tick.error else "")
    return text


def running_text(running: bool) -> Text:
    return Text("RUNNING", style="green") if running else Text("STOPPED", style="yellow")


class AutomationScreen(RuntimeScreen):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "s", "start_stop", "Start/stop", tooltip="start or stop the highlighted one (stored)"
        ),
        Binding("t", "tick", "Tick now", tooltip="evaluate the highlighted one now"),
        Binding(
            "enter",
            "history",
            "Ticks",
            tooltip="into its ticks: the highlighted tick's full error shows beside them",
        ),
        Binding("escape", "back", "Back", tooltip="back to the list, then where you came from"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Row] = []
        self.ticks: list[TickRecord] = []
        self.ticks_of: str | None = None  # whose ticks are shown
        self.loaded = False
        self._reading: Worker[None] | None = None
        self._again = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReloadBar()
        yield Static(id="automation-note")
        yield DataTable(id="instigators", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="history"):
            yield DataTable(id="ticks", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="tick-detail"):
                yield Static(id="tick-text")
        yield RunProgress()
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "schedules and sensors"
        table = self.query_one("#instigators", DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        ticks = self.query_one("#ticks", DataTable)
        for column in TICK_COLUMNS:
            ticks.add_column(column, key=column)
        self.millrace.events.subscribe(self, self._changed)
        self.refresh_automation()
        self.set_interval(1, self._clock)
        table.focus()

    def now(self) -> float:
        automation = self.millrace.runtime.automation
        return automation.clock.now() if automation is not None else time.time()

    # -- reading ---------------------------------------------------------------------------

    def _changed(self, events: list[Event]) -> None:
        if not events or any(
            isinstance(e, TickEvaluated | InstigatorChanged | ReloadApplied) for e in events
        ):
            self.refresh_automation()

    def refresh_automation(self) -> None:
        """Read again; while a read is going, once more after it."""
        if self._reading is not None and not self._reading.is_finished:
            self._again = True
            return
        self._reading = self._read()

    @work(exclusive=True, group="automation")
    async def _read(self) -> None:
        while True:
            self._again = False
            self.rows = await self._read_rows()
            self._fill()
            name = self.highlighted_name()
            runtime = self.millrace.runtime
            self.ticks = await self.fetch(runtime.ticks(name, LIMIT)) if name else []
            self._fill_ticks(name)
            self.loaded = True
            if not self._again:
                return

    async def _read_rows(self) -> list[Row]:
        note = self.query_one("#automation-note", Static)
        automation = self.millrace.runtime.automation
        if automation is not None:
            note.display = False
            return self._live_rows()
        note.display = True
        note.update(NO_AUTOMATION)
        runtime = self.millrace.runtime
        try:
            found = instigators_of(runtime.code.defs)
        except Exception as exc:  # two with one name: the code's error, shown
            note.update(f"{NO_AUTOMATION}\n{exc}")
            return []
        store = runtime.store
        states = await self.fetch(store.instigator_states()) if store is not None else {}
        now = time.time()
        rows = []
        for name, (kind, definition) in sorted(found.items(), key=lambda i: (i[1][0], i[0])):
            state = states.get(name)
            running = default_running(definition)
            if state is not None and state.status is not None:
                running = state.status == "RUNNING"
            tick = state.last_tick if state is not None else None
            rows.append(
                Row(name, kind, running, _next_due(kind, definition, tick, now), tick,
                    when_text(kind, definition))
            )  # fmt: skip
        return rows

    def _live_rows(self) -> list[Row]:
        automation = self.millrace.runtime.automation
        assert automation is not None
        return [
            Row(i.name, i.kind, i.running, i.next_due, i.last_tick, when_text(i.kind, i.definition))
            for i in automation.instigators()
        ]

    def _clock(self) -> None:
        """The next ticks count down while you watch (and a reload's new list shows)."""
        if self.millrace.runtime.automation is not None:
            self.rows = self._live_rows()
        self._fill()

    # -- drawing ---------------------------------------------------------------------------

    def _cells(self, row: Row, now: float) -> Sequence[Text | str]:
        tick = row.last_tick
        return (
            Text(row.name, style="bold"),
            row.kind,
            running_text(row.running),
            next_text(row, now),
            moment_text(tick.timestamp, now) if tick is not None else "-",
            result_text(tick),
            row.when,
        )

    def _fill(self) -> None:
        table = self.query_one("#instigators", DataTable)
        now = self.now()
        if [str(k.value) for k in table.rows] == [r.name for r in self.rows]:
            for row in self.rows:
                for column, cell in zip(COLUMNS, self._cells(row, now), strict=True):
                    table.update_cell(row.name, column, cell)
            return
        highlighted = self.highlighted_name()
        table.clear()
        for row in self.rows:
            table.add_row(*self._cells(row, now), key=row.name)
        if highlighted is not None and highlighted in table.rows:
            table.move_cursor(row=table.get_row_index(highlighted))
        if not self.rows and self.millrace.runtime.automation is not None:
            note = self.query_one("#automation-note", Static)
            note.display = True
            note.update("no schedules or sensors: Definitions(schedules=[...], sensors=[...])")

    def _fill_ticks(self, name: str | None) -> None:
        table = self.query_one("#ticks", DataTable)
        # The newest is highlighted, unless one is being read (the ticks have the focus).
        keep = self.highlighted_tick() if name == self.ticks_of and table.has_focus else None
        self.ticks_of = name
        table.clear()
        now = self.now()
        for tick in self.ticks:
            table.add_row(
                moment_text(tick.timestamp, now),
                tick_status_text(tick.status),
                Text(str(len(tick.run_ids)), justify="right"),
                Text(detail_of(tick), style="red" if tick.error else ""),
                key=str(tick.id),
            )
        if keep is not None and str(keep.id) in table.rows:
            table.move_cursor(row=table.get_row_index(str(keep.id)))
        self._show_tick()

    @on(DataTable.RowHighlighted, "#instigators")
    def _instigator_moved(self) -> None:
        if self.loaded and self.highlighted_name() != self.ticks_of:
            self.refresh_automation()

    @on(DataTable.RowHighlighted, "#ticks")
    def _show_tick(self) -> None:
        text = self.query_one("#tick-text", Static)
        tick = self.highlighted_tick()
        if tick is None:
            name = self.ticks_of
            text.update(f"{name}: no ticks yet" if name else "")
            return
        out = Text()
        out.append(f"{tick.name} ", style="bold")
        out.append_text(tick_status_text(tick.status))
        out.append(f"  {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(tick.timestamp))}")
        if tick.scheduled_time is not None:
            scheduled = time.localtime(tick.scheduled_time)
            out.append(f"\nscheduled {time.strftime('%Y-%m-%d %H:%M:%S', scheduled)}")
        if tick.run_ids:
            out.append(f"\nruns {', '.join(tick.run_ids)}")
        if tick.cursor is not None:
            out.append(f"\ncursor {tick.cursor}", style="dim")
        if tick.skip_reason:
            out.append(f"\n{tick.skip_reason}")
        if tick.error:
            out.append(f"\n{tick.error}", style="red")
        text.update(out)

    # -- what is highlighted ---------------------------------------------------------------

    def highlighted_name(self) -> str | None:
        return self.highlighted_key()  # the first table: the schedules and sensors

    def highlighted(self) -> Row | None:
        name = self.highlighted_name()
        return next((r for r in self.rows if r.name == name), None)

    def highlighted_tick(self) -> TickRecord | None:
        table = self.query_one("#ticks", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((t for t in self.ticks if str(t.id) == key), None)

    # -- keys ------------------------------------------------------------------------------

    def why_not_control(self, verb: str) -> str | None:
        """Why ``s`` or ``t`` cannot act here, if so."""
        if self.millrace.readonly:
            return (
                f"{verb}: read-only, this app only looks "
                "(millrace schedules|sensors start|stop NAME changes one from a shell)"
            )
        if self.millrace.runtime.automation is None:
            return f"{verb}: automation is not running in this process (millrace dev runs it)"
        return None

    def action_start_stop(self) -> None:
        row = self.highlighted()
        if row is None:
            self.notify("start/stop: no schedule or sensor is highlighted", severity="warning")
        elif (why := self.why_not_control("start/stop")) is not None:
            self.notify(why, severity="warning")
        else:  # the app's worker: leaving the screen does not cut a stored change short
            self.app.run_worker(self._set_running(row, not row.running), group="automation-set")

    async def _set_running(self, row: Row, running: bool) -> None:
        automation = self.millrace.runtime.automation
        if automation is None:
            return
        try:
            await automation.set_running(row.name, running)
        except Exception as exc:  # gone with a reload: said, not raised
            self.app.notify(str(exc), title="cannot start or stop", severity="error")
            return
        self.app.notify(f"{row.kind} {row.name} {'started' if running else 'stopped'}")

    def action_tick(self) -> None:
        row = self.highlighted()
        if row is None:
            self.notify("tick: no schedule or sensor is highlighted", severity="warning")
        elif (why := self.why_not_control("tick")) is not None:
            self.notify(why, severity="warning")
        else:
            self.notify(f"ticking {row.kind} {row.name}…")
            self.app.run_worker(self._tick(row), group="automation-tick")

    async def _tick(self, row: Row) -> None:
        automation = self.millrace.runtime.automation
        if automation is None:
            return
        try:
            tick = await automation.tick(row.name)
        except Exception as exc:  # gone with a reload: said, not raised
            self.app.notify(str(exc), title="cannot tick", severity="error")
            return
        detail = detail_of(tick)
        self.app.notify(
            f"{row.kind} {row.name}: {tick.status}" + (f": {detail}" if detail else ""),
            severity="error" if tick.status == "FAILURE" else "information",
        )

    @on(DataTable.RowSelected, "#instigators")
    def action_history(self) -> None:
        ticks = self.query_one("#ticks", DataTable)
        if self.focused is ticks:
            return
        if not ticks.row_count:
            self.notify(f"{self.highlighted_name() or 'it'}: no ticks yet", severity="warning")
            return
        ticks.focus()

    def action_back(self) -> None:
        if self.focused is self.query_one("#ticks", DataTable):
            self.query_one("#instigators", DataTable).focus()
        else:
            self.app.pop_screen()


def _next_due(kind: str, definition: Any, tick: Any, now: float) -> float | None:
    """When automation would tick it next, as ``millrace schedules`` reckons it."""
    if kind == SCHEDULE:
        return float(definition.schedule.next_tick_after(now).timestamp())
    last = tick.timestamp if tick is not None else now
    return float(max(now, last + definition.minimum_interval_seconds))
