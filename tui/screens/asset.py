"""One asset: what the code declares, why it is stale, what it stored and how it came to be.

Left, what the code says (description, owners, kinds, group, tags, code version), the status
with its causes and their root, and the upstream and downstream assets to jump through with
``enter``. Right, for a partitioned asset, its partitions on a strip coloured by status
(``+``/``-`` zoom, arrows move: widgets/partition_strip.py); then a tab each (keys 1-5): a
preview of the stored frame and the latest materialization's metadata (of the partition
under the strip's cursor, when it is on one), the history of
materializations (sparklines of rows and durations) and of check results, and the lineage of
the latest materialization; for an asset with an ``automation_condition``, a sixth: its
last evaluation (the reason tree, each node true or false), what it requested and the latest
run automation started for it. All of it is read through the Runtime in workers, and read again,
part by part, when an event concerns the asset; a screen not in view only notes what to read
when it is back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from millrace.asset_graph import AssetGraph, describe
from millrace.declarations.keys import AssetKey
from millrace.declarations.metadata import MetadataValue
from millrace.events import AssetCheckEvaluated, AutomationEvaluated, Event, RunOrigin
from millrace.runtime.queries import AssetState
from millrace.storage.records import MaterializationRecord, RunRecord
from millrace.versions.staleness import short
from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
from textual.widgets import (
    DataTable,
    Footer,
    Label,
    OptionList,
    Sparkline,
    Static,
    TabbedContent,
    TabPane,
    Tree,
)
from textual.widgets.option_list import Option
from textual.widgets.tree import TreeNode
from textual.worker import Worker

from ..widgets.command_line import CommandLine
from ..widgets.metadata_view import MetadataView
from ..widgets.partition_strip import PartitionStrip, status_runs
from ..widgets.preview import FramePreview
from ..widgets.progress import RunProgress
from ..widgets.reload_bar import ReloadBar
from ..widgets.status import RUN_STYLES, freshness_text, status_text
from .base import RuntimeScreen

if TYPE_CHECKING:
    pass

TABS = ("preview", "metadata", "history", "checks", "lineage", "automation")
PREVIEW_ROWS = 100
HISTORY = 50  # materializations and check results read for the history tabs
ROWS, SECONDS = "dagster/row_count", "millrace/compute_seconds"
RUNS = 50  # the newest runs searched for the latest one automation started for the asset
# What an event makes stale on this screen: its status, what it stored, its checks, its
# automation (the last evaluation of its condition and the run automation started).
STATE, STORED, CHECKS, AUTOMATION = "state", "stored", "checks", "automation"


def when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def number(value: MetadataValue | None) -> float | None:
    if value is None or not isinstance(value.value, int | float):
        return None
    return float(value.value)


def spark_note(values: Sequence[float | None], fmt: Callable[[float], str]) -> Text:
    """The newest known value and the range; how many materializations it is known for, if
    not all (history records carry no metadata but the latest's)."""
    known = [v for v in values if v is not None]
    if not known:
        return Text("not recorded", style="dim")
    low, high = min(known), max(known)
    text = Text(fmt(known[0]) + (f"   min {fmt(low)}   max {fmt(high)}" if low < high else ""))
    if len(known) < len(values):
        text.append(f"   ({len(known)} of {len(values)} known)", style="dim")
    return text


def lineage_label(node: dict[str, Any]) -> Text:
    text = Text(str(node["asset_key"]), style="bold")
    if node.get("run_id") is None:
        if node.get("data_version") is not None:
            text.append(f"  data {short(node['data_version'])}", style="cyan")
        text.append("  (no materialization of it is recorded)", style="dim")
        return text
    text.append(f"  code {short(node.get('code_version'))}", style="magenta")
    text.append(f"  data {short(node.get('data_version'))}", style="cyan")
    text.append(f"  run {node['run_id'][:8]}  {when(node.get('timestamp'))}", style="dim")
    if node.get("repeated"):
        text.append("  (its inputs are shown above)", style="dim")
    if node.get("provenance") is False:
        text.append("  (recorded before provenance was kept)", style="yellow")
    return text


def add_lineage(parent: TreeNode[str], node: dict[str, Any]) -> None:
    """Under ``parent``: the node's config, one field a leaf, then what it consumed."""
    for name, value in (node.get("config") or {}).items():
        parent.add_leaf(
            Text.assemble(("config ", "dim"), f"{name} = {json.dumps(value, default=str)}"),
            data=str(node["asset_key"]),
        )
    for consumed in node.get("inputs") or ():
        label, name = lineage_label(consumed), str(consumed["asset_key"])
        if consumed.get("config") or consumed.get("inputs"):
            add_lineage(parent.add(label, data=name), consumed)
        else:
            parent.add_leaf(label, data=name)


def check_result(event: AssetCheckEvaluated) -> Text:
    if event.error is not None:
        return Text("error", style="bold red")
    if event.passed:
        return Text("passed", style="green")
    return (
        Text("warned", style="yellow")
        if event.severity == "WARN"
        else Text("failed", style="bold red")
    )


def check_detail(event: AssetCheckEvaluated) -> Text:
    parts = [str(event.error)] if event.error is not None else []
    if event.description:
        parts.append(event.description)
    parts += [f"{k}={v}" for k, v in event.metadata.items()]
    return Text("  ".join(parts))


def condition_title(condition: Any) -> str:
    """What a condition is called: its label (``eager``), else its operands joined."""
    return str(getattr(condition, "title", None) or repr(condition))


def reason_text(reason: str) -> Text:
    """The reason tree, each line green when its node held and red when it did not (a line
    ends ``: true`` or ``: false``, perhaps with a partition count after): the whole line, so
    a pane too narrow for its end still says it."""
    text = Text(no_wrap=True)
    for line in reason.splitlines():
        mark = line.rpartition(": ")[2]
        style = "green" if mark.startswith("true") else "red" if mark.startswith("false") else ""
        text.append(line, style=style)
        text.append("\n")
    text.rstrip()
    return text


def requested_text(requested: Sequence[str | None]) -> Text:
    if not requested:
        return Text("nothing", style="dim")
    partitions = [p for p in requested if p is not None]
    if not partitions:
        return Text("a run of it", style="bold cyan")
    count = len(partitions)
    shown = ", ".join(partitions[:5]) + (f" and {count - 5:,} more" if count > 5 else "")
    return Text(f"{count:,} partition{'s' * (count > 1)}: {shown}", style="bold cyan")


class AssetScreen(RuntimeScreen):
    DEFAULT_CSS = """
    AssetScreen #about { width: 46; padding: 0 1; border-right: solid $primary-background; }
    AssetScreen #facts { height: auto; }
    AssetScreen .heading { color: $text-muted; text-style: bold; margin-top: 1; }
    AssetScreen .none { color: $text-muted; }
    AssetScreen OptionList { height: auto; max-height: 10; border: none; padding: 0; }
    AssetScreen OptionList:focus { border: none; }  /* the highlight's colour says it */
    AssetScreen #main { width: 1fr; height: 1fr; }
    AssetScreen PartitionStrip { border-bottom: solid $primary-background; height: 5; }
    AssetScreen #tabs { width: 1fr; height: 1fr; }
    AssetScreen #tabs > ContentSwitcher { height: 1fr; }
    AssetScreen TabPane { height: 1fr; padding: 0; }
    AssetScreen .spark { height: 1; padding: 0 1; }
    AssetScreen .spark > Label { width: 9; color: $text-muted; }
    AssetScreen .spark > Sparkline { width: 30; margin-right: 2; }
    AssetScreen .spark > .note { width: 1fr; }
    AssetScreen #checks-summary { height: auto; padding: 0 1; }
    AssetScreen #automation-summary { height: auto; padding: 0 1; }
    AssetScreen #automation-scroll { height: 1fr; padding: 0 1; margin-top: 1; }
    AssetScreen #automation-reason { width: auto; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "m",
            "materialize",
            "Materialize",
            tooltip="materialize this asset (partitioned: the partition or cell under the cursor)",
        ),
        Binding("l", "lineage", "Lineage", tooltip="draw its lineage"),
        Binding(
            "b",
            "backfill",
            "Backfill",
            show=False,  # a partitioned asset's panel says what b would do
            tooltip="materialize its missing, failed and stale partitions (asks first)",
        ),
        Binding("escape", "back", "Back", tooltip="back to where you came from"),
        *(
            Binding(str(n), f"tab('{tab}')", tab, show=False, tooltip=f"show the {tab} tab")
            for n, tab in enumerate(TABS, 1)
        ),
    ]

    AUTO_FOCUS = ""  # focus goes where there is something to act on, once it is read

    def __init__(self, key: AssetKey) -> None:
        super().__init__()
        self.key = key
        self.name_ = key.to_user_string()
        self.state: AssetState | None = None
        self._unread: set[str] = set()  # parts to read once the screen is in view again
        self._partitions: Worker[None] | None = None  # the read of the partitions going on
        self._partitions_again = False  # read them once more when it ends
        self.partition_key: str | None = None  # under the strip's cursor, if on one
        self.evaluation: dict[str, Any] | None = None  # its condition's last, as stored
        self.automation_run: RunRecord | None = None  # the latest automation started for it

    def compose(self) -> ComposeResult:
        yield ReloadBar()
        with Horizontal():
            with VerticalScroll(id="about", can_focus=False):
                yield Static("loading…", id="facts")
                for side in ("upstream", "downstream"):
                    yield Static(side, classes="heading")
                    yield Static("none", id=f"{side}-none", classes="none")
                    yield OptionList(id=side)
            with Vertical(id="main"):
                yield PartitionStrip()
                with TabbedContent(id="tabs", initial="preview"):
                    with TabPane("1 preview", id="preview"):
                        yield FramePreview()
                    with TabPane("2 metadata", id="metadata"):
                        yield MetadataView()
                    with TabPane("3 history", id="history"):
                        for what in ("rows", "seconds"):
                            with Horizontal(classes="spark"):
                                yield Label(what)
                                yield Sparkline(id=f"{what}-spark")
                                yield Static(id=f"{what}-note", classes="note")
                        yield DataTable(id="history-table", cursor_type="row", zebra_stripes=True)
                    with TabPane("4 checks", id="checks"):
                        yield Static(id="checks-summary")
                        yield DataTable(id="checks-table", cursor_type="row", zebra_stripes=True)
                    with TabPane("5 lineage", id="lineage"):
                        yield Tree(self.name_, id="lineage-tree")
                    with TabPane("6 automation", id="automation"):
                        yield Static(id="automation-summary")
                        with ScrollableContainer(id="automation-scroll"):
                            yield Static(id="automation-reason")
        yield RunProgress()
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        history = self.query_one("#history-table", DataTable)
        for column in ("materialized", "run", "code version", "data version", "rows", "seconds"):
            history.add_column(column)
        checks = self.query_one("#checks-table", DataTable)
        for column in ("evaluated", "check", "result", "severity", "run", "detail"):
            checks.add_column(column)
        self.query_one(Tree).auto_expand = False  # enter opens the asset; it never folds
        self.query_one(PartitionStrip).display = self.partitioned
        self._show_automation_tab()
        self.millrace.events.subscribe(self, self._changed)
        self.read({STATE, STORED, CHECKS, AUTOMATION})

    # -- reading ---------------------------------------------------------------------------

    def _changed(self, batch: list[Event]) -> None:
        parts: set[str] = set()
        for event in batch:
            if event.kind == "LOG":
                continue
            parts.add(STATE)  # any step or reload may change its status or its causes
            if event.kind == "RELOAD_APPLIED":
                parts |= {STORED, CHECKS, AUTOMATION}  # the declaration itself may have changed
            elif isinstance(event, AutomationEvaluated) and self.name_ in event.evaluations:
                parts.add(AUTOMATION)
            elif event.kind in ("RUN_STARTED", "RUN_FINISHED") and self.condition is not None:
                parts.add(AUTOMATION)  # perhaps the run automation asked for, or its end
            elif event.asset_key == self.key and event.kind in (
                "ASSET_MATERIALIZED",
                "ASSET_OBSERVATION",
            ):
                parts.add(STORED)
            elif event.asset_key == self.key and event.kind == "ASSET_CHECK_EVALUATED":
                parts.add(CHECKS)
        self.read(parts)

    def read(self, parts: set[str]) -> None:
        if not self.is_current:
            self._unread |= parts
            return
        if STATE in parts:
            self.read_state()
            self.read_partitions()
        if STORED in parts:
            self.read_stored()
        if CHECKS in parts:
            self.read_checks()
        if AUTOMATION in parts:
            self.read_automation()

    def on_screen_resume(self, _event: events.ScreenResume) -> None:
        parts, self._unread = self._unread, set()
        self.read(parts)

    @work(exclusive=True, group="asset-state")
    async def read_state(self) -> None:
        rows = await self.fetch(self.millrace.runtime.catalog())
        statuses = {row.asset_key: row.status.value for row in rows}
        self.state = next((row for row in rows if row.asset_key == self.key), None)
        self._show_facts()
        graph = self.millrace.runtime.code.graph
        for side, keys in (
            ("upstream", graph.upstream.get(self.key, ())),
            ("downstream", graph.downstream.get(self.key, ())),
        ):
            self._show_neighbours(side, keys, statuses)
        if self.focused is None:
            lists = [o for o in self.query(OptionList) if o.option_count]
            if self.partitioned:
                self.query_one(PartitionStrip).focus()
            else:
                (lists[0] if lists else self.query_one(FramePreview).query_one(DataTable)).focus()

    @property
    def condition(self) -> Any:
        """The asset's ``automation_condition`` in the current code (None: it has none)."""
        node = self.millrace.runtime.code.graph.nodes.get(self.key)
        return getattr(node, "automation_condition", None)

    @property
    def partitioned(self) -> bool:
        node = self.millrace.runtime.code.graph.nodes.get(self.key)
        return node is not None and node.partitions_def is not None

    def read_partitions(self) -> None:
        """Read the partitions' statuses; while a read is going, once more after it (not
        instead of it: a backfill's twenty updates a second would cancel every read of
        87,600 partitions before it ended)."""
        strip = self.query_one(PartitionStrip)
        strip.display = self.partitioned
        if not strip.display:
            return
        if self._partitions is not None and not self._partitions.is_finished:
            self._partitions_again = True
            return
        self._partitions = self._read_partitions()

    @work(exclusive=True, group="asset-partitions")
    async def _read_partitions(self) -> None:
        runtime = self.millrace.runtime
        while True:
            self._partitions_again = False
            statuses = (await self.fetch(runtime.partition_status(self.key))).get(self.key)
            runs = await self.fetch(asyncio.to_thread(status_runs, statuses)) if statuses else []
            self.query_one(PartitionStrip).show(statuses, runs)
            if not self._partitions_again:
                return

    @work(exclusive=True, group="asset-stored")
    async def read_stored(self) -> None:
        runtime = self.millrace.runtime
        known = self.key in runtime.code.graph  # lineage asks the current code
        partition = self.partition_key if self.partitioned else None
        preview, latest, history, lineage = await self.fetch(
            asyncio.gather(
                runtime.preview(self.key, PREVIEW_ROWS, partition),
                runtime.latest_materialization(self.key, partition),
                runtime.asset_history(self.key, HISTORY),
                runtime.lineage(self.key) if known else _none(),
            )
        )
        nothing = None
        if partition is not None:
            nothing = "never materialized: nothing stored to preview"
        elif self.partitioned:
            nothing = "partitioned: none of its partitions is materialized yet (the strip says)"
        of = ""
        if partition is not None:
            of = f"partition {partition}"
        elif latest is not None and latest.partition_key:
            of = f"the newest partition, {latest.partition_key}"
        self.query_one(FramePreview).show(preview, nothing, of)
        await self.query_one(MetadataView).show(latest.metadata if latest else None)
        self._show_history(history, latest)
        self._show_lineage(lineage)

    @work(exclusive=True, group="asset-automation")
    async def read_automation(self) -> None:
        self._show_automation_tab()
        if self.condition is None:
            self.evaluation = self.automation_run = None
            return
        runtime = self.millrace.runtime
        evaluations, runs = await self.fetch(
            asyncio.gather(runtime.automation_evaluations(), runtime.runs(RUNS))
        )
        self.evaluation = evaluations.get(self.name_)
        self.automation_run = next(
            (r for r in runs if r.origin is RunOrigin.AUTOMATION and self.name_ in r.selection),
            None,
        )
        self._show_automation()

    @work(exclusive=True, group="asset-checks")
    async def read_checks(self) -> None:
        results = await self.fetch(self.millrace.runtime.check_history(self.key, HISTORY))
        self._show_checks(results)

    # -- showing ---------------------------------------------------------------------------

    def _show_facts(self) -> None:
        facts = self.query_one("#facts", Static)
        node = self.millrace.runtime.code.graph.nodes.get(self.key)
        text = Text(self.name_, style="bold")
        if node is None:
            text.append("\n\nno longer in the code (the last reload removed it)", style="yellow")
            facts.update(text)
            return
        row = self.state
        if row is not None:
            text.append("  ")
            text.append_text(status_text(row.status.value))
        if not node.is_executable:
            text.append("  external", style="dim")
        text.append("\n\n")
        if not node.is_executable:
            text.append(f"{external_note(self.millrace.runtime.code.graph, self.key, row)}\n\n")
        if node.description:
            text.append(f"{node.description}\n")
        else:
            text.append("no description\n", style="dim")
        tags = ", ".join(f"{k}={v}" for k, v in (node.tags or {}).items())
        code = row.code_version if row is not None else node.code_version
        for label, value in (
            ("group", node.group_name),
            ("kinds", ", ".join(sorted(node.kinds))),
            ("owners", ", ".join(node.owners)),
            ("tags", tags),
            ("code", short(code) if code else ""),
        ):
            if value:
                text.append(f"\n{label:<8}", style="dim")
                text.append(str(value))
        if row is not None and row.code_version_note:
            text.append(f"\n        {row.code_version_note}", style="dim")
        text.append("\n")
        if row is not None:
            self._explain(text, row)
        text.rstrip()
        facts.update(text)

    @staticmethod
    def _explain(text: Text, row: AssetState) -> None:
        if row.freshness is not None:
            text.append("\nfreshness ", style="dim")
            text.append_text(freshness_text(row.freshness))
            text.append(f"\n  {row.freshness[1]}\n", style="dim")
        if row.failure:
            text.append(f"\nlast attempt failed: {row.failure}\n", style="red")
        if not row.causes:
            if row.status.value == "fresh":
                text.append("\nup to date", style="green")
            return
        text.append(f"\nwhy {row.status.value}\n", style="bold")
        for cause in row.causes:
            text.append(f"• {cause.message}\n")
            root = cause.root
            if root is not None and root.asset_key is not None:
                text.append(f"  root: {root.asset_key.to_user_string()}\n", style="dim")
        counts = row.partitions or {}
        if todo := sum(counts.get(s, 0) for s in ("missing", "failed", "stale")):
            text.append(f"\nb backfills these {todo:,} partitions\n", style="dim")

    def _show_neighbours(
        self, side: str, keys: Sequence[AssetKey], statuses: dict[AssetKey, str]
    ) -> None:
        options = self.query_one(f"#{side}", OptionList)
        self.query_one(f"#{side}-none").display = not keys
        options.display = bool(keys)
        at = options.highlighted
        options.clear_options()
        options.add_options(
            Option(
                Text.assemble(k.to_user_string(), "  ", status_text(statuses.get(k, ""))),
                id=k.to_user_string(),
            )
            for k in keys
        )
        if keys:
            options.highlighted = at if at is not None and at < len(keys) else 0

    def _show_history(
        self, history: list[MaterializationRecord], latest: MaterializationRecord | None
    ) -> None:
        """Rows and durations come from each record's metadata: the runtime gives it for the
        latest materialization, so the others say only what their records carry."""
        records = [
            latest if latest is not None and r.event_id == latest.event_id else r for r in history
        ]
        rows = [number(r.metadata.get(ROWS)) for r in records]
        seconds = [number(r.metadata.get(SECONDS)) for r in records]
        for what, values, fmt in (
            ("rows", rows, lambda v: f"{v:,.0f}"),
            ("seconds", seconds, lambda v: f"{v:.3g}s"),
        ):
            known = [v for v in reversed(values) if v is not None]  # oldest first
            self.query_one(f"#{what}-spark", Sparkline).data = known
            self.query_one(f"#{what}-note", Static).update(spark_note(values, fmt))
        table = self.query_one("#history-table", DataTable)
        table.clear()
        for record, count, took in zip(records, rows, seconds, strict=True):
            table.add_row(
                when(record.timestamp),
                record.run_id[:8],
                short(record.code_version),
                short(record.data_version),
                Text(f"{count:,.0f}" if count is not None else "", justify="right"),
                Text(f"{took:.3g}" if took is not None else "", justify="right"),
            )

    def _show_lineage(self, lineage: dict[str, Any] | None) -> None:
        tree: Tree[str] = self.query_one(Tree)
        if lineage is None:
            tree.reset(Text.assemble((self.name_, "bold"), ("  never materialized", "dim")))
            return
        tree.reset(lineage_label(lineage), self.name_)
        add_lineage(tree.root, lineage)
        tree.root.expand_all()

    def _show_automation_tab(self) -> None:
        """The automation tab is there only for an asset with a condition."""
        tabs = self.query_one(TabbedContent)
        if self.condition is None:
            if tabs.active == "automation":
                tabs.active = "preview"
            tabs.hide_tab("automation")
        else:
            tabs.show_tab("automation")

    def _show_automation(self) -> None:
        evaluation, run = self.evaluation or {}, self.automation_run
        summary = Text()
        summary.append("condition  ", style="dim")
        summary.append(condition_title(self.condition), style="bold")
        if not evaluation:
            summary.append(
                "\nnot evaluated yet: automation evaluates it where it runs "
                "(millrace dev, millrace serve)",
                style="dim",
            )
        else:
            at = (evaluation.get("state") or {}).get("evaluated_at")
            if at is not None:
                summary.append("\nevaluated  ", style="dim")
                summary.append(when(at))
            summary.append("\nrequested  ", style="dim")
            summary.append_text(requested_text(evaluation.get("requested") or []))
        summary.append("\nlast run   ", style="dim")
        if run is None:
            summary.append(f"none in the newest {RUNS} runs", style="dim")
        else:
            summary.append(f"{run.run_id[:8]}  ")
            summary.append(run.status.value, style=RUN_STYLES.get(run.status.value, ""))
            summary.append(f"  {when(run.start_time)}", style="dim")
        self.query_one("#automation-summary", Static).update(summary)
        reason = evaluation.get("reason") if evaluation else None
        self.query_one("#automation-reason", Static).update(
            reason_text(reason) if reason else Text("")
        )

    def _show_checks(self, results: list[AssetCheckEvaluated]) -> None:
        graph = self.millrace.runtime.code.graph
        declared = [c.name for c in graph.checks_by_asset.get(self.key, ())]
        ran = {r.check_name for r in results}
        summary = Text()
        if not declared:
            summary.append("no checks are declared for this asset", style="dim")
        else:
            summary.append(f"checks: {', '.join(declared)}")
            if never := [name for name in declared if name not in ran]:
                summary.append(f"   never run: {', '.join(never)}", style="dim")
        self.query_one("#checks-summary", Static).update(summary)
        table = self.query_one("#checks-table", DataTable)
        table.clear()
        for result in results:
            table.add_row(
                when(result.timestamp),
                Text(result.check_name or ""),
                check_result(result),
                result.severity,
                result.run_id[:8],
                check_detail(result),
            )

    # -- moving ----------------------------------------------------------------------------

    @on(PartitionStrip.Highlighted)
    def _show_partition(self, event: PartitionStrip.Highlighted) -> None:
        """Preview and metadata follow the cursor (each move supersedes the read before)."""
        self.partition_key = event.partition_key
        self.read({STORED})

    @on(OptionList.OptionSelected)
    def _jump(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None:
            self.app.push_screen(AssetScreen(AssetKey.from_user_string(event.option.id)))

    @on(Tree.NodeSelected)
    def _jump_from_lineage(self, event: Tree.NodeSelected[str]) -> None:
        if event.node.data in (None, self.name_):
            self.notify(f"this is {self.name_}'s latest materialization", severity="warning")
            return
        self.app.push_screen(AssetScreen(AssetKey.from_user_string(event.node.data)))

    def action_tab(self, tab: str) -> None:
        if tab == "automation" and self.condition is None:
            self.notify(f"automation: {self.name_} has no automation_condition", severity="warning")
            return
        self.query_one(TabbedContent).active = tab

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_backfill(self) -> None:
        self.millrace.ask_backfill(self.key)

    def action_lineage(self) -> None:
        from .lineage import LineageScreen

        self.app.push_screen(LineageScreen(self.key))

    async def action_materialize(self) -> None:
        node = self.millrace.runtime.code.graph.nodes.get(self.key)
        if node is None:
            self.notify(f"materialize: {self.name_} is no longer in the code", severity="warning")
        elif getattr(node, "is_observable", False):
            await self.millrace.observe(self.key)
        elif not node.is_executable:
            self.notify(
                f"materialize: {self.name_} is external (produced outside Millrace)",
                severity="warning",
            )
        elif self.partitioned:
            await self._materialize_cursor()
        else:
            await self.millrace.materialize([self.key], what="materialize")

    async def _materialize_cursor(self) -> None:
        """The partition under the strip's cursor in a run; a cell of several partitions as a
        backfill of their range, after a question."""
        strip = self.query_one(PartitionStrip)
        bucket = strip.under_cursor()
        if bucket is None:
            self.notify(f"materialize: {self.name_} has no partitions read", severity="warning")
            return
        first, last = strip.key_at(bucket.start), strip.key_at(bucket.end - 1)
        if bucket.size == 1:
            await self.millrace.materialize(
                [self.key], partition_key=first, what=f"materialize {self.name_}[{first}]"
            )
        else:
            self.millrace.ask_backfill_range(self.key, first, last, bucket.size)


def external_note(graph: AssetGraph, key: AssetKey, row: AssetState | None) -> str:
    """What an external asset is: made for an undefined dependency (and by whom), an
    observable source (and when it was last observed), or declared external."""
    node = graph.nodes[key]
    if graph.is_stub(key):
        what = f"not defined in this code: {describe(graph.stubs[key])} depends on it"
    elif getattr(node, "is_observable", False):
        what = "an observable source asset: m observes it"
    else:
        what = "produced outside Millrace: never materialized here"
    if row is not None and row.last_materialized is not None:
        when = dt.datetime.fromtimestamp(row.last_materialized).isoformat(" ", "seconds")
        version = f", data version {short(row.data_version)}" if row.data_version else ""
        what += f"\nlast observed {when}{version}"
    return what


async def _none() -> None:
    """What a read the current code cannot answer gives (the asset left the code)."""
    return None
