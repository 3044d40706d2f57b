"""The catalog, the first screen: every asset with its status, why, and what to do with it.

A group tree beside the table narrows it to a group; ``/`` narrows it as you type (key,
group, kind, tag); ``:select SELECTION`` to a selection. The table follows the runtime live
(a ``FreshnessChanged`` too: while some asset has a ``freshness_policy``, a freshness column
shows each one's state, and the panel beside the table why).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, ClassVar

from millrace.declarations.keys import AssetKey
from millrace.events import Event
from millrace.runtime.queries import AssetState
from millrace.selection import resolve_selection
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Static, Tree

from ..widgets.command_line import CommandLine
from ..widgets.partition_strip import ORDER
from ..widgets.progress import RunProgress
from ..widgets.reload_bar import ReloadBar
from ..widgets.status import STATUS_STYLES, ago, freshness_text, status_text
from .base import RuntimeScreen

if TYPE_CHECKING:
    pass

COLUMNS = ("asset", "group", "kinds", "status", "materialized", "rows", "checks")
PARTITIONS = "partitions"  # after status while some asset is partitioned: fresh/total
FRESHNESS = "freshness"  # after status while some asset has a freshness policy: its state
ALL = "all assets"
# Textual's DataTable measures every cell it is given (~60 us a cell: seconds for 10,000
# rows), so the table holds the first MAX_ROWS assets that match, a few screenfuls, and a
# line under it says how many more the filter would narrow down.
MAX_ROWS = 200


def haystack(row: AssetState, tags: dict[str, str]) -> str:
    """What the filter searches: the key, group, kinds and tags, lowercased."""
    words = [row.asset_key.to_user_string(), row.group, *row.kinds]
    return " ".join([*words, *(f"{k}={v}" for k, v in tags.items())]).lower()


def matches(haystack: str, text: str) -> bool:
    """Fuzzy: the typed letters appear in order in the haystack."""
    at = 0
    for letter in text.lower():
        at = haystack.find(letter, at)
        if at < 0:
            return False
        at += 1
    return True


def partitions_text(row: AssetState) -> Text:
    """``120/365``: fresh of all; nothing for an unpartitioned asset."""
    counts = row.partitions
    if counts is None:
        return Text("")
    total = sum(counts.values())
    style = "green" if counts.get("fresh", 0) == total else ""
    return Text(f"{counts.get('fresh', 0):,}/{total:,}", style=style, justify="right")


def checks_text(row: AssetState) -> Text:
    c = row.checks
    if not (c.passed or c.warned or c.failed or c.not_run):
        return Text("")
    text = Text()
    text.append(f"{c.passed}✓", style="green")
    if c.warned:
        text.append(f" {c.warned}!", style="yellow")
    if c.failed:
        text.append(f" {c.failed}✗", style="bold red")
    if c.not_run:
        text.append(f" {c.not_run}·", style="bright_black")
    return text


class CatalogScreen(RuntimeScreen):
    DEFAULT_CSS = """
    CatalogScreen #groups { width: 24; border-right: solid $primary-background; }
    CatalogScreen #assets { width: 1fr; }
    CatalogScreen #why { width: 40; padding: 0 1; border-left: solid $primary-background; }
    CatalogScreen #more { display: none; color: $text-muted; }
    CatalogScreen #more.shown { display: block; }
    CatalogScreen #filter { dock: bottom; display: none; }
    CatalogScreen #filter.open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            tooltip="narrow the table as you type: fuzzy on key, group, kind and tag",
        ),
        Binding("escape", "clear", "Clear", show=False, tooltip="clear the filter and selection"),
        Binding("enter", "open", "Details", tooltip="open the asset's details"),
        Binding("l", "lineage", "Lineage", tooltip="draw the asset's lineage"),
        Binding("m", "materialize", "Materialize", tooltip="materialize the asset"),
        Binding(
            "M",
            "materialize_downstream",
            "+downstream",
            key_display="M",
            tooltip="materialize the asset and its downstream",
        ),
        Binding("s", "stale", "Stale", tooltip="materialize every stale and missing asset"),
        Binding("c", "checks", "Checks", tooltip="run the asset's checks on its stored value"),
        Binding(
            "b",
            "backfill",
            "Backfill",
            show=False,  # a partitioned asset's panel says what b would do
            tooltip="materialize the asset's missing, failed and stale partitions (asks first)",
        ),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[AssetState] = []
        self.group: str | None = None
        self.text = ""
        self.selected: set[AssetKey] | None = None  # from :select
        self._loaded_at = 0.0
        self._by_key: dict[str, AssetState] = {}
        self._haystacks: dict[AssetKey, str] = {}
        self._drawn: dict[str, tuple[Any, ...]] = {}  # the table's rows: key -> cells
        # The last shown_rows(): what it was asked (group, selection, text) and found.
        self._matched: tuple[str | None, set[AssetKey] | None, str, list[AssetState]] | None = None
        self._fill_pending = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield ReloadBar()
        with Horizontal():
            yield Tree(ALL, id="groups")
            with Vertical(id="assets"):
                yield DataTable(id="table", cursor_type="row", zebra_stripes=True)
                yield Static(id="more")
            yield Static(id="why")
        yield Input(placeholder="filter: key, group, kind, tag", id="filter")
        yield RunProgress()
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        location = self.millrace.runtime.location
        self.sub_title = location.directory.name if location is not None else ""
        self._columns(partitioned=False, fresh=False)
        self.millrace.events.subscribe(self, self._changed)
        self.refresh_catalog()
        self.query_one(DataTable).focus()

    def _changed(self, events: list[Event]) -> None:
        if not events or any(e.kind != "LOG" for e in events):  # empty: changed elsewhere
            self.refresh_catalog()

    @work(exclusive=True, group="catalog")
    async def refresh_catalog(self) -> None:
        """A newer refresh cancels one still reading: the table never lags behind."""
        self.rows = await self.fetch(self.millrace.runtime.catalog())
        self._loaded_at = time.time()
        graph = self.millrace.runtime.code.graph
        self._by_key = {row.asset_key.to_user_string(): row for row in self.rows}
        self._haystacks = {
            row.asset_key: haystack(
                row, dict(getattr(graph.nodes.get(row.asset_key), "tags", {}) or {})
            )
            for row in self.rows
        }
        self._matched = None
        self._fill_groups()
        self._fill_table()

    # -- showing ---------------------------------------------------------------------------

    def _fill_groups(self) -> None:
        tree = self.query_one(Tree)
        groups = sorted({row.group for row in self.rows})
        if [str(n.label) for n in tree.root.children] == groups:
            return
        tree.root.remove_children()
        for group in groups:
            tree.root.add_leaf(group, data=group)
        tree.root.expand()

    def shown_rows(self) -> list[AssetState]:
        """The rows the group, selection and filter text let through. A key typed at the end
        of the filter only narrows (its letters must come after the others'), so the rows
        the text before it let through are the only ones searched again."""
        candidates = self.rows
        if self._matched is not None:
            group, selected, text, found = self._matched
            if group == self.group and selected is self.selected and self.text.startswith(text):
                if text == self.text:
                    return found
                candidates = found
        rows = []
        for row in candidates:
            if self.group is not None and row.group != self.group:
                continue
            if self.selected is not None and row.asset_key not in self.selected:
                continue
            if self.text and not matches(self._haystacks.get(row.asset_key, ""), self.text):
                continue
            rows.append(row)
        self._matched = (self.group, self.selected, self.text, rows)
        return rows

    def _columns(self, *, partitioned: bool, fresh: bool) -> None:
        """The columns, with the freshness state's and the partitions' after the status if
        some asset has them."""
        table = self.query_one(DataTable)
        if (
            table.columns
            and (PARTITIONS in table.columns) == partitioned
            and (FRESHNESS in table.columns) == fresh
        ):
            return
        table.clear(columns=True)
        for column in COLUMNS:
            table.add_column(column, key=column)
            if fresh and column == "status":
                table.add_column(FRESHNESS, key=FRESHNESS)
            if partitioned and column == "status":
                table.add_column(PARTITIONS, key=PARTITIONS)

    def _fill_table(self) -> None:
        """Show the first ``MAX_ROWS`` of ``shown_rows()``: if they begin with the rows drawn,
        only the cells that changed are updated and the others added; else the table is
        rebuilt."""
        table = self.query_one(DataTable)
        partitioned = any(row.partitions is not None for row in self.rows)
        fresh = any(row.freshness is not None for row in self.rows)
        self._columns(partitioned=partitioned, fresh=fresh)
        now = time.time()
        matching = self.shown_rows()
        self._more(len(matching))
        shown = [(row.asset_key.to_user_string(), row) for row in matching[:MAX_ROWS]]
        cells = {key: self._cells(row, now, fresh, partitioned) for key, row in shown}
        drawn = list(self._drawn) if table.row_count == len(self._drawn) else []
        wanted = list(cells)
        if drawn and wanted[: len(drawn)] == drawn:
            # Rows only added after the drawn ones (a live update, a filter widened at the
            # end): the table measures the new rows only. Rows left out are not removed one by
            # one: DataTable.remove_row renumbers every row, dearer than a refill.
            self._update_cells(table, {key: cells[key] for key in drawn})
            for key in wanted[len(drawn) :]:
                table.add_row(*cells[key], key=key)
        else:
            highlighted = self.highlighted_key()
            table.clear()
            for key, row_cells in cells.items():
                table.add_row(*row_cells, key=key)
            if highlighted is not None and highlighted in cells:
                table.move_cursor(row=table.get_row_index(highlighted))
        self._drawn = cells
        self._explain()

    def _update_cells(self, table: DataTable[Any], cells: dict[str, tuple[Any, ...]]) -> None:
        """Update the cells of rows drawn before that differ from what they were."""
        columns = list(table.columns)
        for key, row_cells in cells.items():
            for column, was, cell in zip(columns, self._drawn[key], row_cells, strict=True):
                if cell != was:
                    table.update_cell(key, column, cell)

    def _more(self, matching: int) -> None:
        """Say how many matching assets the table leaves out, if any."""
        more = self.query_one("#more", Static)
        left_out = matching - MAX_ROWS
        more.set_class(left_out > 0, "shown")
        if left_out > 0:
            more.update(f"… and {left_out:,} more of {matching:,}: / narrows the table")

    @staticmethod
    def _cells(row: AssetState, now: float, fresh: bool, partitioned: bool) -> tuple[Any, ...]:
        last = now - row.last_materialized if row.last_materialized else None
        return (  # Text, not str: a str cell is parsed as markup, a cost in every cell
            Text(row.asset_key.to_user_string()),
            Text(row.group),
            Text(", ".join(row.kinds)),
            _status_cell(row),
            *([freshness_text(row.freshness)] if fresh else []),
            *([partitions_text(row)] if partitioned else []),
            Text(ago(last)),
            Text(f"{row.row_count:,}" if row.row_count is not None else ""),
            checks_text(row),
        )

    def highlighted(self) -> AssetState | None:
        key = self.highlighted_key()
        return self._by_key.get(key) if key is not None else None

    @on(DataTable.RowHighlighted)
    def _explain(self) -> None:
        why = self.query_one("#why", Static)
        row = self.highlighted()
        if row is None:
            why.update("no asset here" if self.rows else "loading…")
            return
        text = Text()
        text.append(row.asset_key.to_user_string(), style="bold")
        text.append("  ")
        text.append_text(status_text(row.status.value))
        text.append("\n\n")
        if row.freshness is not None:
            text.append("freshness ", style="dim")
            text.append_text(freshness_text(row.freshness))
            text.append(f"\n{row.freshness[1]}\n\n", style="dim")
        if row.partitions is not None:
            self._partitions(text, row.partitions)
        if row.failure:
            text.append(f"last attempt failed: {row.failure}\n\n", style="red")
        if not row.causes:
            text.append("up to date" if row.status.value == "fresh" else "", style="green")
        for cause in row.causes:
            text.append(f"• {cause.message}\n")
            if cause.root is not None and cause.root.asset_key is not None:
                text.append(f"  root: {cause.root.asset_key.to_user_string()}\n", style="dim")
        if row.code_version_note:
            text.append(f"\n{row.code_version_note}\n", style="dim")
        why.update(text)

    @staticmethod
    def _partitions(text: Text, counts: dict[str, int]) -> None:
        """A partitioned asset's partitions by status, and what ``b`` would backfill."""
        total = sum(counts.values())
        text.append(f"{total:,} partitions\n", style="bold")
        for status in ORDER:
            if counts.get(status):
                text.append(f"  {counts[status]:>9,} ")
                text.append(status, style=STATUS_STYLES[status])
                text.append("\n")
        todo = sum(counts.get(s, 0) for s in ("missing", "failed", "stale"))
        if todo:
            text.append(f"  b backfills {todo:,} of them\n", style="dim")
        text.append("\n")

    # -- narrowing -------------------------------------------------------------------------

    @on(Tree.NodeSelected)
    def _group(self, event: Tree.NodeSelected[str]) -> None:
        self.group = event.node.data
        self._fill_table()

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.add_class("open")
        box.focus()

    @on(Input.Changed, "#filter")
    def _typed(self, event: Input.Changed) -> None:
        """Keys typed faster than the table fills are taken together: one fill, after the
        changes already queued, shows the latest text."""
        self.text = event.value
        if not self._fill_pending:
            self._fill_pending = True
            self.call_later(self._fill_typed)

    def _fill_typed(self) -> None:
        self._fill_pending = False
        self._fill_table()

    @on(Input.Submitted, "#filter")
    def _done_typing(self) -> None:
        self.query_one(DataTable).focus()

    def action_clear(self) -> None:
        box = self.query_one("#filter", Input)
        box.value, self.text, self.selected, self.group = "", "", None, None
        box.remove_class("open")
        self._fill_table()
        self.query_one(DataTable).focus()

    async def select(self, selection: str) -> None:
        """``:select SELECTION``: only those assets (``escape`` shows all again)."""
        runtime = self.millrace.runtime
        try:
            statuses = None
            if "status:" in selection:
                statuses = {k: a.status.value for k, a in (await runtime.status()).items()}
            self.selected = resolve_selection(selection, runtime.code.graph, statuses)
        except Exception as exc:  # a SelectionError: said, not raised
            self.notify(str(exc), severity="error")
            return
        self._fill_table()

    # -- verbs -----------------------------------------------------------------------------

    def _target(self, verb: str) -> AssetState | None:
        """The highlighted asset, or None after saying why the key does nothing."""
        row = self.highlighted()
        if row is None:
            self.notify(f"{verb}: no asset is highlighted", severity="warning")
        elif not row.materializable and verb not in ("lineage", "details"):
            self.notify(
                f"{verb}: {row.asset_key.to_user_string()} is external (produced outside Millrace)",
                severity="warning",
            )
            return None
        return row

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        self.action_open()  # the table's own enter binding comes first: this is that enter

    def action_open(self) -> None:
        from .asset import AssetScreen

        if (row := self._target("details")) is not None:
            self.app.push_screen(AssetScreen(row.asset_key))

    def action_lineage(self) -> None:
        from .lineage import LineageScreen

        if (row := self._target("lineage")) is not None:
            self.app.push_screen(LineageScreen(row.asset_key))

    async def action_materialize(self) -> None:
        if (row := self._target("materialize")) is not None:
            if row.partitions is not None:  # which partition? the strip or a backfill says
                self.notify(
                    f"materialize: {row.asset_key.to_user_string()} is partitioned: b backfills "
                    "its missing and stale partitions; enter shows them to pick one",
                    severity="warning",
                )
                return
            await self.millrace.materialize([row.asset_key], what="materialize")

    async def action_materialize_downstream(self) -> None:
        if (row := self._target("materialize")) is not None:
            name = row.asset_key.to_user_string()
            await self.millrace.materialize(f"{name}*", what=f"{name} and downstream")

    async def action_stale(self) -> None:
        await self.millrace.materialize("status:stale,status:missing", what="stale and missing")

    def action_backfill(self) -> None:
        if (row := self._target("backfill")) is not None:
            self.millrace.ask_backfill(row.asset_key)

    async def action_checks(self) -> None:
        if (row := self._target("checks")) is None:
            return
        c = row.checks
        if not (c.passed or c.warned or c.failed or c.not_run):
            self.notify(f"checks: {row.asset_key.to_user_string()} has none", severity="warning")
            return
        await self.millrace.materialize([row.asset_key], checks_only=True, what="checks")


def _status_cell(row: AssetState) -> Text:
    """An external asset is never stale or missing itself: it says what it is instead (a
    failed observation still says so)."""
    if not row.materializable and row.status.value == "fresh":
        return Text("external", style="dim")
    return status_text(row.status.value)
