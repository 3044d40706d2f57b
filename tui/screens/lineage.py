"""An asset's lineage: its upstream and downstream drawn as a layered graph, top to bottom.

Upstream is above, downstream below: ``up`` and ``down`` follow the edges, ``left`` and
``right`` walk a layer, ``enter`` opens the asset under the cursor. Each box has its status's
colour and follows the runtime live. Above ``FOLD_ABOVE`` assets, the assets of every group
but the asset's own fold into one box per group; ``e`` expands the group under the cursor
(and, on an asset of an expanded group, folds it again).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeAlias, cast

from millrace.asset_graph import AssetGraph
from millrace.declarations.keys import AssetKey
from millrace.events import Event, ReloadApplied
from millrace.runtime.queries import AssetState
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Static

from ..layout import layered_layout
from ..widgets.command_line import CommandLine
from ..widgets.dag import DagView, draw
from ..widgets.progress import RunProgress
from ..widgets.reload_bar import ReloadBar
from ..widgets.status import STATUS_STYLES, WORST_FIRST, status_text, worst
from .base import RuntimeScreen

if TYPE_CHECKING:
    pass

FOLD_ABOVE = 60  # assets in a lineage beyond which other groups fold


@dataclass(frozen=True, slots=True)
class Folded:
    """The assets of one group, folded into one box."""

    group: str


Node: TypeAlias = "AssetKey | Folded"


@dataclass(frozen=True, slots=True)
class Lineage:
    """What the screen draws: boxes in topological order and edges between them."""

    nodes: list[Node]
    edges: list[tuple[Node, Node]]
    members: dict[Folded, list[AssetKey]]
    upstream: int  # assets above the key, all told
    downstream: int


def lineage(graph: AssetGraph, key: AssetKey, expanded: Collection[str] = ()) -> Lineage:
    """``key``'s upstream and downstream closure, large ones folded by group (but the key's
    own and the ``expanded`` groups)."""
    above = graph.upstream_closure([key])
    below = graph.downstream_closure([key])
    keys = graph.toposorted(above | below)
    own = graph.nodes[key].group_name
    fold = len(keys) > FOLD_ABOVE
    box: dict[AssetKey, Node] = {}
    members: dict[Folded, list[AssetKey]] = {}
    for k in keys:
        group = graph.nodes[k].group_name
        if fold and group != own and group not in expanded:
            folded = Folded(group)
            box[k] = folded
            members.setdefault(folded, []).append(k)
        else:
            box[k] = k
    edges = {(box[u], box[k]): None for k in keys for u in graph.upstream[k] if box[u] != box[k]}
    nodes = list(dict.fromkeys(box[k] for k in keys))
    return Lineage(nodes, list(edges), members, len(above) - 1, len(below) - 1)


def name(node: Node) -> str:
    return node.group if isinstance(node, Folded) else node.to_user_string()


class LineageScreen(RuntimeScreen):
    DEFAULT_CSS = """
    LineageScreen #header {
        height: auto; max-height: 8; padding: 0 1; border-bottom: solid $primary-background;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", tooltip="back to where you came from"),
        Binding(
            "e",
            "expand",
            "Expand group",
            tooltip="unfold the group under the cursor, or fold it back",
        ),
    ]

    def __init__(self, key: AssetKey) -> None:
        super().__init__()
        self.key = key
        self.view: Lineage | None = None
        self.expanded: set[str] = set()
        self.statuses: dict[AssetKey, AssetState] = {}

    @property
    def dag(self) -> DagView:
        return self.query_one(DagView)

    def compose(self) -> ComposeResult:
        yield ReloadBar()
        yield Static(id="header")
        yield DagView()
        yield RunProgress()
        yield CommandLine()
        yield Footer()

    def on_mount(self) -> None:
        self.millrace.events.subscribe(self, self._changed)
        self.redraw()
        self.refresh_status()
        self.dag.focus()

    def _changed(self, events: list[Event]) -> None:
        if any(isinstance(e, ReloadApplied) for e in events):
            self.redraw()  # the graph itself may have changed
        if any(e.kind != "LOG" for e in events):
            self.refresh_status()

    @work(exclusive=True, group="lineage-layout")
    async def redraw(self, cursor: Node | None = None) -> None:
        """Lay the lineage out and draw it (off the loop: a big graph takes a moment),
        keeping the cursor where it was, or on its folded group, or on ``cursor``."""
        graph = self.millrace.runtime.code.graph
        if self.key not in graph:
            self.view = None
            self.dag.display = False
            self.query_one("#header", Static).update(
                f"{self.key.to_user_string()} is not defined: escape goes back"
            )
            return
        view = lineage(graph, self.key, self.expanded)
        labels = {node: self._label(node, view) for node in view.nodes}
        widths = {node: len(label) + 4 for node, label in labels.items()}
        drawing = await self.fetch(
            asyncio.to_thread(
                lambda: draw(layered_layout(view.nodes, view.edges, widths), labels, view.members)
            )
        )
        was = cursor if cursor is not None else cast("Node | None", self.dag.cursor)
        if isinstance(was, AssetKey) and was not in labels and was in graph:
            was = Folded(graph.nodes[was].group_name)
        self.view = view
        self.dag.display = True
        self.dag.show(drawing, was if was in labels else self.key)
        self._paint()

    @staticmethod
    def _label(node: Node, view: Lineage) -> str:
        if isinstance(node, Folded):
            count = len(view.members[node])
            return f"{node.group} ({count} asset{'s' * (count != 1)})"
        return node.to_user_string()

    @work(exclusive=True, group="lineage-status")
    async def refresh_status(self) -> None:
        rows = await self.fetch(self.millrace.runtime.catalog())
        self.statuses = {row.asset_key: row for row in rows}
        self._paint()

    def status_of(self, node: Node) -> str | None:
        """An asset's status; a folded group's worst."""
        if isinstance(node, Folded):
            assert self.view is not None
            members = self.view.members[node]
            return worst(self.statuses[k].status.value for k in members if k in self.statuses)
        assessment = self.statuses.get(node)
        return assessment.status.value if assessment is not None else None

    def _paint(self) -> None:
        if self.view is None:
            return
        styles = {}
        for node in self.view.nodes:
            status = self.status_of(node)
            styles[node] = STATUS_STYLES.get(status, "") if status else ""
        self.dag.paint(styles)
        self._describe()

    # -- the header ------------------------------------------------------------------------

    @on(DagView.CursorMoved)
    def _describe(self) -> None:
        view, node = self.view, cast("Node | None", self.dag.cursor)
        if view is None or node is None:
            return
        text = Text()
        text.append("lineage of ")
        text.append(self.key.to_user_string(), style="bold")
        text.append(f": {view.upstream} upstream, {view.downstream} downstream")
        if view.members:
            text.append(f"; {len(view.members)} groups folded (e expands one)", style="dim")
        text.append("\n")
        text.append(name(node), style="bold")
        status = self.status_of(node)
        if status is not None:
            text.append("  ")
            text.append_text(status_text(status))
        if isinstance(node, Folded):
            counts = Counter(self.status_of(k) for k in view.members[node])
            text.append(f"  group of {len(view.members[node])} assets: ")
            text.append(", ".join(f"{counts[s]} {s}" for s in WORST_FIRST if counts[s]))
        else:
            assessment = self.statuses.get(node)
            if status == "fresh":
                text.append("  up to date", style="green")
            if assessment is not None and assessment.failure:
                text.append(f"\n  last attempt failed: {assessment.failure}", style="red")
            for cause in assessment.causes if assessment is not None else ():
                text.append(f"\n  • {cause.message}")
        self.query_one("#header", Static).update(text)

    # -- keys ------------------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    @on(DagView.Opened)
    def _open(self, event: DagView.Opened) -> None:
        node = event.node
        if isinstance(node, Folded):
            self.notify(f"{node.group} is a folded group: e expands it", severity="warning")
            return
        from .asset import AssetScreen

        self.app.push_screen(AssetScreen(cast(AssetKey, node)))

    def action_expand(self) -> None:
        view, node = self.view, cast("Node | None", self.dag.cursor)
        if view is None or node is None:
            self.notify("the lineage is still being drawn", severity="warning")
            return
        if isinstance(node, Folded):
            self.expanded.add(node.group)
            self.redraw(view.members[node][0])
            return
        group = self.millrace.runtime.code.graph.nodes[node].group_name
        if group in self.expanded:
            self.expanded.discard(group)
            self.redraw(Folded(group))
        elif not view.members:
            total = view.upstream + view.downstream + 1
            self.notify(
                f"nothing is folded: all {total} assets are shown (groups fold above {FOLD_ABOVE})",
                severity="warning",
            )
        else:
            self.notify(
                f"{group} is the group of {self.key.to_user_string()}: it never folds",
                severity="warning",
            )
