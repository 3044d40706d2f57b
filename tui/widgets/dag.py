"""A layered graph on the terminal: boxes and edges from tui/layout.py, drawn line by line.

A ScrollView through Textual's line API: the cells are laid out once per layout, and
``render_line`` styles only the visible part of one row, so a graph of thousands of boxes
scrolls as fast as a small one. The graph runs top to bottom: ``up`` moves the cursor to an
upstream box, ``down`` to a downstream one (back where it came from, when it can), ``left``
and ``right`` along the layer; the edges of the box under the cursor are lit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size, Spacing
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..layout import Box, Layout, Point, Route

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
LINES = {
    UP | DOWN: "│",
    LEFT | RIGHT: "─",
    DOWN | RIGHT: "╭",
    DOWN | LEFT: "╮",
    UP | RIGHT: "╰",
    UP | LEFT: "╯",
}
# Two edges that cross: never ┼, which would read as a join.
CROSSING = "╳"
# Borders of a box, and of a folded group's: corners, horizontal, vertical, then the
# glyph where an edge leaves the bottom border and where an upward one leaves the top.
ASSET_BORDER = "┌┐└┘─│┬┴"
GROUP_BORDER = "╔╗╚╝═║╤╧"
ARRIVES, ARRIVES_UPWARD = "▼", "▲"

BORDER, LABEL, EDGE = 0, 1, 2  # what a cell is part of
Cell = tuple[str, int, object]  # glyph, part, owner: a box's node, or an edge's route indices


@dataclass(frozen=True, slots=True)
class Drawing:
    """A layout's cells, row by row: each row's columns ascending and their cells."""

    layout: Layout
    labels: Mapping[Hashable, str]
    rows: list[tuple[list[int], list[Cell]]]


def draw(layout: Layout, labels: Mapping[Hashable, str], folded: Collection[Hashable]) -> Drawing:
    """Every cell of ``layout``, once, so that a line renders by looking its cells up: pure,
    to run off the loop for a big graph. ``labels`` name the boxes; ``folded`` ones get a
    double border."""
    cells: list[dict[int, Cell]] = [{} for _ in range(layout.height)]
    for box in layout.boxes.values():
        border = GROUP_BORDER if box.node in folded else ASSET_BORDER
        _draw_box(cells, box, labels.get(box.node, str(box.node)), border)
    for index, route in enumerate(layout.routes):
        _draw_route(cells, index, route, folded)
    rows = []
    for row in cells:
        xs = sorted(row)
        rows.append((xs, [row[x] for x in xs]))
    return Drawing(layout, labels, rows)


def _draw_box(cells: list[dict[int, Cell]], box: Box, label: str, border: str) -> None:
    tl, tr, bl, br, h, v = (border[i] for i in range(6))
    inner = box.width - 2
    if len(label) > inner - 1:
        label = label[: max(inner - 2, 0)] + "…"
    rows = (tl + h * inner + tr, v + f" {label}".ljust(inner) + v, bl + h * inner + br)
    for dy, text in enumerate(rows):
        row = cells[box.y + dy]
        for dx, glyph in enumerate(text):
            row[box.x + dx] = (glyph, LABEL if dy == 1 and 0 < dx <= inner else BORDER, box.node)


def _draw_route(
    cells: list[dict[int, Cell]],
    index: int,
    route: Route,
    folded: Collection[Hashable],
) -> None:
    """Lines between the route's corners, a port glyph on each border. A cell another
    route already holds becomes a crossing: the layout lets two routes meet only across."""

    def put(x: int, y: int, glyph: str) -> None:
        there = cells[y].get(x)
        if there is not None and there[1] == EDGE:
            assert isinstance(there[2], tuple)
            cells[y][x] = (CROSSING, EDGE, (*there[2], index))
        else:
            cells[y][x] = (glyph, EDGE, (index,))

    points = route.points
    for (x0, y0), (x1, y1) in pairwise(points):
        if x0 == x1:
            for y in range(min(y0, y1) + 1, max(y0, y1)):
                put(x0, y, LINES[UP | DOWN])
        else:
            for x in range(min(x0, x1) + 1, max(x0, x1)):
                put(x, y0, LINES[LEFT | RIGHT])
    for before, (x, y), after in zip(points, points[1:-1], points[2:], strict=False):
        put(x, y, LINES[_towards((x, y), before) | _towards((x, y), after)])
    upper, lower = (route.head, route.tail) if route.upward else (route.tail, route.head)
    (ux, uy), (lx, ly) = points[0], points[-1]
    leaves = (GROUP_BORDER if upper in folded else ASSET_BORDER)[6]
    leaves_up = (GROUP_BORDER if lower in folded else ASSET_BORDER)[7]
    cells[uy][ux] = (ARRIVES_UPWARD if route.upward else leaves, EDGE, (index,))
    cells[ly][lx] = (leaves_up if route.upward else ARRIVES, EDGE, (index,))


def _towards(at: Point, other: Point) -> int:
    if other[0] == at[0]:
        return UP if other[1] < at[1] else DOWN
    return LEFT if other[0] < at[0] else RIGHT


class DagView(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    DagView { height: 1fr; }
    DagView > .dag-view--edge { color: $text-muted; }
    DagView > .dag-view--lit { color: $accent; text-style: bold; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"dag-view--edge", "dag-view--lit"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move('up')", "Upstream", key_display="↑", tooltip="along an edge upstream"),
        Binding(
            "down",
            "move('down')",
            "Downstream",
            key_display="↓",
            tooltip="along an edge downstream",
        ),
        Binding(
            "left", "move('left')", "Left", show=False, tooltip="the next box left on its layer"
        ),
        Binding(
            "right", "move('right')", "Right", show=False, tooltip="the next box right on its layer"
        ),
        Binding("enter", "open", "Details", tooltip="open the asset's details"),
    ]

    class CursorMoved(Message):
        """The cursor is on another box (also when a new graph is shown)."""

        def __init__(self, dag: DagView, node: Hashable) -> None:
            super().__init__()
            self.dag = dag
            self.node = node

        @property
        def control(self) -> DagView:
            return self.dag

    class Opened(Message):
        """``enter`` on the box under the cursor."""

        def __init__(self, dag: DagView, node: Hashable) -> None:
            super().__init__()
            self.dag = dag
            self.node = node

        @property
        def control(self) -> DagView:
            return self.dag

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.drawn: Layout | None = None
        self.cursor: Hashable | None = None
        self.labels: Mapping[Hashable, str] = {}
        self._node_styles: Mapping[Hashable, str] = {}
        self._rows: list[tuple[list[int], list[Cell]]] = []
        self._lit: set[int] = set()
        self._came_from: tuple[str, Hashable] | None = None
        self._styles: dict[tuple[str, bool, int], Style] = {}

    # -- what is shown ---------------------------------------------------------------------

    def show(self, drawing: Drawing, cursor: Hashable) -> None:
        """Show ``drawing`` (see ``draw``), the cursor on ``cursor`` if it is there."""
        self.drawn, self.labels, self._rows = drawing.layout, drawing.labels, drawing.rows
        self.virtual_size = Size(drawing.layout.width, drawing.layout.height)
        self._came_from = None
        boxes = drawing.layout.boxes
        self._set_cursor(cursor if cursor in boxes else next(iter(boxes)))

    def paint(self, styles: Mapping[Hashable, str]) -> None:
        """Colour each box by a Rich style (its status's)."""
        self._node_styles = styles
        self.refresh()

    # -- the cursor ------------------------------------------------------------------------

    def _set_cursor(self, node: Hashable) -> None:
        assert self.drawn is not None
        self.cursor = node
        self._lit = {i for i, r in enumerate(self.drawn.routes) if node in (r.tail, r.head)}
        box = self.drawn.boxes[node]
        self.call_after_refresh(
            self.scroll_to_region,
            Region(box.x, box.y, box.width, 3),
            spacing=Spacing(1, 2, 1, 2),
            animate=False,
        )
        self.refresh()
        self.post_message(self.CursorMoved(self, node))

    def neighbours(self, node: Hashable, direction: str) -> list[Hashable]:
        """The boxes one edge above (``up``) or below (``down``) ``node``, or beside it in
        its layer (``left``, ``right``: the nearest first)."""
        assert self.drawn is not None
        if direction in ("left", "right"):
            layer = self.drawn.layers[self.drawn.boxes[node].layer]
            at = layer.index(node)
            return list(reversed(layer[:at])) if direction == "left" else list(layer[at + 1 :])
        found = []
        for r in self.drawn.routes:
            upper, lower = (r.head, r.tail) if r.upward else (r.tail, r.head)
            if direction == "up" and lower == node:
                found.append(upper)
            elif direction == "down" and upper == node:
                found.append(lower)
        return found

    def action_move(self, direction: str) -> None:
        if self.drawn is None or self.cursor is None:
            self.notify("the graph is still being drawn", severity="warning")
            return
        options = self.neighbours(self.cursor, direction)
        if not options:
            name = self.labels.get(self.cursor, str(self.cursor))
            where = {
                "up": "has no upstream",
                "down": "has no downstream",
                "left": "is the leftmost of its layer",
                "right": "is the rightmost of its layer",
            }[direction]
            self.notify(f"{name} {where} here", severity="warning")
            return
        back = {"up": "down", "down": "up", "left": "right", "right": "left"}[direction]
        if (
            self._came_from is not None
            and self._came_from[0] == back
            and self._came_from[1] in options
        ):
            target = self._came_from[1]
        elif direction in ("up", "down"):
            boxes = self.drawn.boxes
            here = boxes[self.cursor]

            def distance(n: Hashable) -> tuple[int, float]:
                """The nearest layer first, then the nearest box in it."""
                box = boxes[n]
                return abs(box.layer - here.layer), abs(
                    box.x + box.width / 2 - here.x - here.width / 2
                )

            target = min(options, key=distance)
        else:
            target = options[0]
        self._came_from = (direction, self.cursor)
        self._set_cursor(target)

    def action_open(self) -> None:
        if self.cursor is None:
            self.notify("the graph is still being drawn", severity="warning")
            return
        self.post_message(self.Opened(self, self.cursor))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if self.drawn is None or offset is None:
            return
        x = offset.x + round(self.scroll_x) - self._indent()
        y = offset.y + round(self.scroll_y)
        for box in self.drawn.boxes.values():
            if box.x <= x < box.x + box.width and box.y <= y < box.y + 3:
                self._came_from = None
                self._set_cursor(box.node)
                return

    # -- drawing ---------------------------------------------------------------------------

    def notify_style_update(self) -> None:
        self._styles.clear()
        super().notify_style_update()

    def _style(self, part: int, owner: object) -> Style:
        if part == EDGE:
            assert isinstance(owner, tuple)
            lit = any(i in self._lit for i in owner)
            key = ("", lit, EDGE)
        else:
            key = (self._node_styles.get(owner, ""), owner == self.cursor, part)
        style = self._styles.get(key)
        if style is None:
            status, focused, _ = key
            if part == EDGE:
                name = "dag-view--lit" if focused else "dag-view--edge"
                style = self.get_component_rich_style(name)
            else:
                style = self.rich_style + (Style.parse(status) if status else Style())
                if focused:
                    style += Style(bold=True, reverse=part == LABEL)
            self._styles[key] = style
        return style

    def _indent(self) -> int:
        """Columns before the graph: one narrower than the view is centred in it."""
        width = self.drawn.width if self.drawn is not None else 0
        return max(0, (self.scrollable_content_region.width - width) // 2)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        row = y + scroll_y
        if row >= len(self._rows):
            return Strip.blank(width, base)
        xs, cells = self._rows[row]
        indent = self._indent()
        segments: list[Segment] = [Segment(" " * indent, base)] if indent else []
        width -= indent
        at = scroll_x
        run: list[str] = []
        run_style: Style | None = None
        for i in range(bisect_left(xs, scroll_x), bisect_left(xs, scroll_x + width)):
            x = xs[i]
            glyph, part, owner = cells[i]
            style = self._style(part, owner)
            if x > at or style is not run_style:
                if run:
                    segments.append(Segment("".join(run), run_style))
                    run = []
                if x > at:
                    segments.append(Segment(" " * (x - at), base))
                run_style = style
            run.append(glyph)
            at = x + 1
        if run:
            segments.append(Segment("".join(run), run_style))
        if at < scroll_x + width:
            segments.append(Segment(" " * (scroll_x + width - at), base))
        return Strip(segments, width + indent)
