"""The backfills (``B``, ``:backfills``): each with what it asked for and how far its runs got,
live while one runs; ``enter`` opens its latest run.

The counts come from the Runtime (``backfills()``, counted from the history), read again when
a run starts or ends and as a backfill's runs materialize or fail partitions. A read is never
canceled by the next one, which a busy run's twenty updates a second would otherwise do
forever: one more read follows the one in flight instead.
"""

from __future__ import annotations

from typing import ClassVar

from millrace.events import BACKFILL_TAG, Event, RunFinished, RunStarted
from millrace.storage.records import BackfillRecord
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Header
from textual.worker import Worker

from ..widgets.command_line import CommandLine
from ..widgets.progress import RunProgress, bar
from ..widgets.reload_bar import ReloadBar
from ..widgets.status import run_status_text
from .base import RuntimeScreen
from .runs import cancel, started_text, why_not_cancel

COLUMNS = ("backfill", "status", "selection", "asked", "progress", "done", "failed", "left",
           "runs", "created")  # fmt: skip
LIMIT = 200


def asked_text(spec: dict[str, object]) -> str:
    """What a backfill asked for, in the CLI's words."""
    if spec.get("from") is not None:
        return f"{spec['from']}..{spec.get('to')}"
    keys = spec.get("partitions") or []
    if isinstance(keys, list) and keys:
        return ", ".join(map(str, keys)) if len(keys) <= 3 else f"{len(keys):,} partitions"
    wanted = [w for w in ("missing", "stale") if spec.get(w)]
    return " and ".join(wanted)


def number(n: int, style: str = "") -> Text:
    return Text(f"{n:,}", style=style if n else "", justify="right")


class BackfillsScreen(RuntimeScreen):
    DEFAULT_CSS = """
    BackfillsScreen #backfills { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter", "open", "Open run", tooltip="the backfill's latest run: its timeline and log"
        ),
        Binding("x", "cancel", "Cancel run", tooltip="cancel the backfill's run in flight"),
        Binding("escape", "back", "Back", tooltip="back to where you came from"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.records: list[BackfillRecord] = []
        self._runs: set[str] = set()  # the runs of backfills: their steps change the counts
        self._reading: Worker[None] | None = None
        self._again = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReloadBar()
        yield DataTable(id="backfills", cursor_type="row", zebra_stripes=True)
        yield RunProgress()
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "backfills"
        table = self.query_one(DataTable)
        for column in COLUMNS:
            table.add_column(column, key=column)
        self.millrace.events.subscribe(self, self._changed)
        self.refresh_backfills()
        table.focus()

    def _changed(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, RunStarted) and BACKFILL_TAG in event.tags:
                self._runs.add(event.run_id)
        if (
            not events  # another process wrote the history
            or any(isinstance(e, RunStarted | RunFinished) for e in events)
            or any(e.run_id in self._runs and e.kind != "LOG" for e in events)
        ):
            self.refresh_backfills()

    def refresh_backfills(self) -> None:
        """Read the backfills again; while a read is going, once more after it."""
        if self._reading is not None and not self._reading.is_finished:
            self._again = True
            return
        self._reading = self._read()

    @work(exclusive=True, group="backfills")
    async def _read(self) -> None:
        while True:
            self._again = False
            self.records = await self.fetch(self.millrace.runtime.backfills(LIMIT))
            self._runs |= {run for r in self.records for run in r.run_ids}
            self._fill()
            if not self._again:
                return

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        highlighted = self.highlighted()
        table.clear()
        for record in self.records:
            table.add_row(
                Text(record.backfill_id, style="bold"),
                run_status_text(record.status),
                record.selection or "every asset",
                asked_text(record.spec),
                Text(bar(record.done, record.total, 12), style="green"),
                number(record.done, "green"),
                number(record.failed, "bold red"),
                number(record.remaining),
                number(len(record.run_ids)),
                started_text(record.created),
                key=record.backfill_id,
            )
        if highlighted is not None and highlighted.backfill_id in table.rows:
            table.move_cursor(row=table.get_row_index(highlighted.backfill_id))

    def highlighted(self) -> BackfillRecord | None:
        key = self.highlighted_key()
        return next((r for r in self.records if r.backfill_id == key), None)

    # -- keys ------------------------------------------------------------------------------

    @on(DataTable.RowSelected)
    def action_open(self) -> None:
        from .runs import RunScreen

        record = self.highlighted()
        if record is None:
            self.notify("open: no backfill is highlighted", severity="warning")
        elif not record.run_ids:
            self.notify(f"backfill {record.backfill_id} has no run yet", severity="warning")
        else:
            self.app.push_screen(RunScreen(record.run_ids[-1]))

    def action_cancel(self) -> None:
        record = self.highlighted()
        if record is None:
            self.notify("cancel: no backfill is highlighted", severity="warning")
            return
        if not record.run_ids:
            self.notify(f"backfill {record.backfill_id} has no run yet", severity="warning")
            return
        run_id = record.run_ids[-1]
        if (why := why_not_cancel(self.millrace, run_id, record.status)) is not None:
            self.notify(why, severity="warning")
        else:
            self.run_worker(cancel(self, run_id), group="cancel")

    def action_back(self) -> None:
        self.app.pop_screen()
