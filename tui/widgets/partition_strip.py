"""A partitioned asset's partitions as one row of cells coloured by status, zoomable from the
whole range in one row down to one cell per partition.

Drawn from runs of one status, never from the keys one by one: ``status_runs`` turns an
asset's statuses into runs (87,600 hourly keys in a few statuses are a handful of runs), and
a cell, a bucket of consecutive partitions, finds the runs it overlaps by bisection. A bucket
holding several statuses shows the worst: failed, then running, stale, missing, fresh
(``WORST_FIRST``). ``PartitionStrip`` draws only the buckets in view, through the line API,
so the cost of a frame is its width, whatever the number of partitions.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from millrace.versions.partition_status import PartitionStatuses, status_ranges
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from .status import STATUS_STYLES, WORST_FIRST

ORDER = ("fresh", "stale", "missing", "failed", "running")  # how counts are listed
# A glyph per status, so the strip reads without colour too.
GLYPHS = {"fresh": "█", "stale": "▓", "missing": "░", "failed": "✗", "running": "▒"}
ZOOM_STEP = 4  # each zoom level holds a quarter of the partitions per cell of the one before
_RANK = {status: rank for rank, status in enumerate(WORST_FIRST)}


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive partitions (in definition order) of one status."""

    start: int  # the index of its first partition
    count: int
    status: str
    first: str  # its first and last keys
    last: str

    @property
    def end(self) -> int:
        return self.start + self.count


@dataclass(frozen=True, slots=True)
class Bucket:
    """The partitions of one cell: indices ``start`` to ``end`` (excluded)."""

    index: int
    start: int
    end: int
    status: str  # the worst status among them
    counts: dict[str, int]  # how many of them are in each status (only those > 0)

    @property
    def size(self) -> int:
        return self.end - self.start


def status_runs(statuses: PartitionStatuses) -> list[Run]:
    """The runs of one status of an asset's partitions: one pass over the keys (definition
    order), which is all a strip ever reads of them but the keys it names."""
    runs, at = [], 0
    for first, last, count, status in status_ranges(statuses):
        runs.append(Run(at, count, status.value, first, last))
        at += count
    return runs


def zoom_levels(total: int, cells: int) -> list[int]:
    """Partitions per cell at each zoom level: the whole range in ``cells`` cells first,
    then a quarter as many per cell each level down, to one per partition."""
    per_cell = max(1, -(-total // max(cells, 1)))
    levels = [per_cell]
    while per_cell > 1:
        per_cell = max(1, per_cell // ZOOM_STEP)
        levels.append(per_cell)
    return levels


class Buckets:
    """Runs indexed for questions about ranges of partitions."""

    def __init__(self, runs: Sequence[Run]) -> None:
        self.runs = runs
        self.starts = [r.start for r in runs]
        self.total = runs[-1].end if runs else 0

    def overlapping(self, lo: int, hi: int) -> Sequence[Run]:
        """The runs that hold a partition of ``lo`` to ``hi`` (excluded)."""
        first = max(bisect_right(self.starts, lo) - 1, 0)
        return self.runs[first : bisect_left(self.starts, hi)]

    def worst(self, lo: int, hi: int) -> str:
        found = _RANK["fresh"]
        for run in self.overlapping(lo, hi):
            found = min(found, _RANK[run.status])
            if found == 0:  # failed: nothing is worse
                break
        return WORST_FIRST[found]

    def counts(self, lo: int, hi: int) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.overlapping(lo, hi):
            n = min(run.end, hi) - max(run.start, lo)
            if n > 0:
                counts[run.status] = counts.get(run.status, 0) + n
        return {s: counts[s] for s in ORDER if s in counts}

    def first_of(self, status: str, lo: int, hi: int) -> int | None:
        """The index of the first partition from ``lo`` to ``hi`` in ``status``."""
        for run in self.overlapping(lo, hi):
            if run.status == status and run.end > lo:
                return max(run.start, lo)
        return None

    def next_not_fresh(self, lo: int, hi: int, step: int) -> int | None:
        """The first partition of the nearest run that is not fresh after partitions
        ``lo`` to ``hi`` (excluded; forward for ``step`` 1), or starting before them (back,
        for -1): a long run of missing partitions is one jump, not one per partition."""
        if step > 0:
            at = bisect_left(self.starts, hi)  # the runs that start after the range
            runs: Sequence[Run] = self.runs[at:]
        else:
            at = bisect_left(self.starts, lo)  # the runs that start before it, nearest first
            runs = self.runs[at - 1 :: -1] if at else []
        return next((run.start for run in runs if run.status != "fresh"), None)

    def bucket(self, index: int, per_cell: int) -> Bucket:
        lo, hi = index * per_cell, min((index + 1) * per_cell, self.total)
        return Bucket(index, lo, hi, self.worst(lo, hi), self.counts(lo, hi))


def counts_text(counts: dict[str, int], sep: str = ", ") -> Text:
    text = Text()
    for status in ORDER:
        if counts.get(status):
            if text:
                text.append(sep)
            text.append(f"{counts[status]:,} {status}", style=STATUS_STYLES[status])
    return text


class PartitionStrip(Widget, can_focus=True):
    """Four lines: the counts and the zoom; the cells; the first and last keys in view with
    the cursor's mark; what the cursor is on (its key(s), status, a stale one's cause)."""

    DEFAULT_CSS = """
    PartitionStrip { height: 4; padding: 0 1; }
    PartitionStrip > .partition-strip--cursor { color: $text-muted; }
    PartitionStrip:focus > .partition-strip--cursor { color: $accent; text-style: bold; }
    PartitionStrip > .partition-strip--dim { color: $text-muted; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"partition-strip--cursor", "partition-strip--dim"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "left", "move(-1)", "Previous", show=False, tooltip="the partition (or cell) before"
        ),
        Binding("right", "move(1)", "Next", show=False, tooltip="the partition (or cell) after"),
        Binding(
            "plus,equals_sign",
            "zoom(1)",
            "Zoom in",
            key_display="+",
            tooltip="fewer partitions per cell, down to one",
        ),
        Binding(
            "minus",
            "zoom(-1)",
            "Zoom out",
            key_display="-",
            tooltip="more partitions per cell, up to the whole range in one row",
        ),
        Binding("home", "edge(-1)", "First", show=False, tooltip="the first partition"),
        Binding("end", "edge(1)", "Last", show=False, tooltip="the last partition"),
        Binding(
            "n", "not_fresh(1)", "Next not fresh", show=False,
            tooltip="the next run of partitions that are not fresh",
        ),
        Binding(
            "N", "not_fresh(-1)", "Previous not fresh", key_display="N", show=False,
            tooltip="the previous run of partitions that are not fresh",
        ),
    ]  # fmt: skip

    class Highlighted(Message):
        """The cursor is on one partition (``partition_key``), or on a cell of several
        (None)."""

        def __init__(self, partition_key: str | None) -> None:
            super().__init__()
            self.partition_key = partition_key

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.highlighted: str | None = None  # as last posted
        self.statuses: PartitionStatuses | None = None
        self.loaded = False  # shown once: until then it says it is reading
        self.buckets = Buckets([])
        self.counts: dict[str, int] = {}  # every partition, per status
        self.zoom = 0  # the level: 0 is the whole range in one row
        self.cursor_partition = 0  # in the cursor's cell: zooming keeps it under the cursor
        self.first_cell = 0  # the first cell in view
        self._cells: tuple[tuple[int, int, int], list[str]] | None = None

    # -- what is shown ---------------------------------------------------------------------

    def show(self, statuses: PartitionStatuses | None, runs: Sequence[Run]) -> None:
        """Show an asset's partitions (its statuses and their ``status_runs``), keeping the
        zoom and the cursor's partition."""
        self.statuses, self.loaded = statuses, True
        self.buckets = Buckets(runs)
        self.counts = self.buckets.counts(0, self.total)  # the summary, once
        self.cursor_partition = min(self.cursor_partition, max(self.total - 1, 0))
        self._cells = None
        self._follow_cursor()
        self._moved()

    @property
    def total(self) -> int:
        return self.buckets.total

    @property
    def width_in_cells(self) -> int:
        return max(self.content_size.width, 1)

    @property
    def levels(self) -> list[int]:
        return zoom_levels(self.total, self.width_in_cells)

    @property
    def per_cell(self) -> int:
        levels = self.levels
        return levels[min(self.zoom, len(levels) - 1)]

    @property
    def bucket_count(self) -> int:
        """Cells at this zoom, in view or not."""
        return -(-self.total // self.per_cell) if self.total else 0

    @property
    def cursor(self) -> int:
        """The cell under the cursor."""
        return self.cursor_partition // self.per_cell

    def under_cursor(self) -> Bucket | None:
        if not self.total:
            return None
        return self.buckets.bucket(self.cursor, self.per_cell)

    def cells(self) -> list[str]:
        """The worst status of each cell in view, left to right."""
        per_cell, offset, width = self.per_cell, self.first_cell, self.width_in_cells
        key = (per_cell, offset, width)
        if self._cells is None or self._cells[0] != key:
            count = min(width, self.bucket_count - offset)
            total = self.total
            cells = [
                self.buckets.worst(i * per_cell, min((i + 1) * per_cell, total))
                for i in range(offset, offset + count)
            ]
            self._cells = (key, cells)
        return self._cells[1]

    def key_at(self, index: int) -> str:
        assert self.statuses is not None
        return self.statuses.keys[index]

    # -- moving ----------------------------------------------------------------------------

    def _follow_cursor(self, column: int | None = None) -> None:
        """Scroll so the cursor's cell is in view (at ``column``, if given and possible)."""
        width, cursor = self.width_in_cells, self.cursor
        if column is not None:
            self.first_cell = cursor - column
        elif cursor < self.first_cell:
            self.first_cell = cursor
        elif cursor >= self.first_cell + width:
            self.first_cell = cursor - width + 1
        self.first_cell = min(max(self.first_cell, 0), max(self.bucket_count - width, 0))

    def _move_to(self, cell: int) -> None:
        self.cursor_partition = cell * self.per_cell
        self._follow_cursor()
        self._moved()

    def _moved(self) -> None:
        self.refresh()
        one = self.total and self.per_cell == 1
        key = self.key_at(self.cursor_partition) if one else None
        if key != self.highlighted:
            self.highlighted = key
            self.post_message(self.Highlighted(key))

    def action_move(self, step: int) -> None:
        if not self.total:
            self.notify("no partitions to move through", severity="warning")
            return
        cell = self.cursor + step
        if not 0 <= cell < self.bucket_count:
            where = "first" if step < 0 else "last"
            self.notify(f"this is the {where} {self._unit()}", severity="warning")
            return
        self._move_to(cell)

    def action_edge(self, step: int) -> None:
        if self.total:
            self._move_to(0 if step < 0 else self.bucket_count - 1)

    def action_not_fresh(self, step: int) -> None:
        """To the first partition of the nearest run past the cursor's cell that is not
        fresh."""
        bucket = self.under_cursor()
        if bucket is None:
            self.notify("no partitions here", severity="warning")
            return
        found = self.buckets.next_not_fresh(bucket.start, bucket.end, step)
        if found is None:
            where = "after" if step > 0 else "before"
            self.notify(f"no run of partitions {where} this is not fresh", severity="warning")
            return
        self._move_to(found // self.per_cell)

    def action_zoom(self, step: int) -> None:
        levels = self.levels
        zoom = min(max(min(self.zoom, len(levels) - 1) + step, 0), len(levels) - 1)
        if zoom == min(self.zoom, len(levels) - 1):
            self.notify(
                "already one cell per partition"
                if step > 0
                else "already the whole range in one row",
                severity="warning",
            )
            return
        column = self.cursor - self.first_cell
        if step > 0:  # the cursor on the first partition of the cell zoomed into
            self.cursor_partition = self.cursor * self.per_cell
        self.zoom = zoom
        self._follow_cursor(column)
        self._moved()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y != 1 or not self.total:
            return
        cell = self.first_cell + offset.x
        if cell < self.bucket_count:
            self._move_to(cell)

    def on_resize(self) -> None:
        self._follow_cursor()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------

    def _unit(self) -> str:
        return "partition" if self.per_cell == 1 else "cell"

    def render_line(self, y: int) -> Strip:
        width = self.content_size.width
        base = self.rich_style
        if not self.loaded:
            line = Text("reading partitions…" if y == 0 else "", style="dim")
        elif self.statuses is None or not self.total:
            line = Text(
                "no partitions (yet: a dynamic definition's keys are added)" if y == 0 else "",
                style="dim",
            )
        elif y == 1:
            return self._cells_line(width, base)
        elif y == 2:
            return self._ruler(width, base)
        else:
            line = self._summary(width) if y == 0 else self._describe()
        segments = list(line.render(self.app.console, end=""))
        return Strip(segments).crop_extend(0, width, None).apply_style(base)

    def _cells_line(self, width: int, base: Style) -> Strip:
        segments = []
        for status, run in _grouped(self.cells()):
            segments.append(Segment(GLYPHS[status] * run, Style.parse(STATUS_STYLES[status])))
        return Strip(segments).crop_extend(0, width, None).apply_style(base)

    def _ruler(self, width: int, base: Style) -> Strip:
        """The cursor's mark, and the first and last keys in view where they leave it room
        (``◂``, ``▸``: there is more that way)."""
        dim = self.get_component_rich_style("partition-strip--dim")
        mark = self.get_component_rich_style("partition-strip--cursor")
        shown = len(self.cells())
        column = self.cursor - self.first_cell
        left = ("◂ " if self.first_cell > 0 else "") + self.key_at(self.first_cell * self.per_cell)
        last = self.key_at(min((self.first_cell + shown) * self.per_cell, self.total) - 1)
        more = self.first_cell + shown < self.bucket_count
        right = last + (" ▸" if more else "")
        line = [" "] * width

        def place(text: str, at: int, after: int = 0) -> None:
            """Unless it would cover the mark (or come before column ``after``)."""
            end = at + len(text)
            if at >= after and end <= width and not at - 1 <= column <= end:
                line[at:end] = text

        place(left, 0)
        if shown > 1:
            taken = len("".join(line).rstrip())
            place(right, max(shown, len(right)) - len(right), taken + 2)
        text = "".join(line)
        segments = [Segment(text, dim)]
        if 0 <= column < width:
            segments = [
                Segment(text[:column], dim),
                Segment("▲", mark),
                Segment(text[column + 1 :], dim),
            ]
        return Strip(segments).crop_extend(0, width, None).apply_style(base)

    def _summary(self, width: int) -> Text:
        text = Text(f"{self.total:,} partitions  ", style="bold")
        text.append_text(counts_text(self.counts, "  "))
        levels = len(self.levels)
        zoom = f"zoom {min(self.zoom, levels - 1) + 1}/{levels}: {self.per_cell:,} a cell"
        gap = width - text.cell_len - len(zoom)
        if gap >= 2:
            text.append(" " * gap)
            text.append(zoom, style="dim")
        return text

    def _describe(self) -> Text:
        """The cell under the cursor: its key (or first and last), its status(es), and the
        cause of its (first) stale partition."""
        bucket = self.under_cursor()
        assert bucket is not None and self.statuses is not None
        first = self.key_at(bucket.start)
        text = Text()
        if bucket.size == 1:
            text.append(first, style="bold")
            text.append("  ")
            text.append(bucket.status, style=STATUS_STYLES[bucket.status])
        else:
            text.append(f"{first}..{self.key_at(bucket.end - 1)}", style="bold")
            text.append(f"  {bucket.size:,} partitions: ")
            text.append_text(counts_text(bucket.counts))
        for status in ("stale", "missing"):
            at = self.buckets.first_of(status, bucket.start, bucket.end)
            cause = self.statuses.causes.get(self.key_at(at)) if at is not None else None
            if at is not None and cause is not None:
                where = "" if bucket.size == 1 else f"  first {status} {self.key_at(at)}"
                text.append(f"{where}: {cause.message}")
                break
        return text


def _grouped(cells: Sequence[str]) -> list[tuple[str, int]]:
    """Neighbouring cells of one status, as (status, how many): one segment each."""
    out: list[tuple[str, int]] = []
    for status in cells:
        if out and out[-1][0] == status:
            out[-1] = (status, out[-1][1] + 1)
        else:
            out.append((status, 1))
    return out
