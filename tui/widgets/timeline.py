"""A run's steps on one time axis: a bar per step from its start to its end, coloured by how
it ended, so where the time went, and what ran side by side, shows at a glance.

``timeline_rows(events)`` is pure (the run's events in, rows out, times relative to the run's
start) so it is tested without Textual; ``Timeline`` only draws the rows, a line at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from millrace.events import (
    AssetCheckEvaluated,
    Event,
    RunStarted,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
    StepWaiting,
    step_name,
)
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

SUCCESS, FAILURE, WARNED, SKIPPED, UP_TO_DATE, RUNNING = (
    "success", "failure", "warned", "skipped", "up to date", "running"
)  # fmt: skip
# Colour and glyph: the glyph tells the outcomes apart without colour too.
LOOKS = {
    SUCCESS: ("green", "█"),
    FAILURE: ("bold red", "█"),
    WARNED: ("yellow", "█"),
    SKIPPED: ("bright_black", "░"),
    UP_TO_DATE: ("green", "▒"),
    RUNNING: ("cyan", "▓"),
}
# The events a timeline is drawn from; a screen keeps only these of a long run.
TIMELINE_KINDS = frozenset(
    cls.kind
    for cls in (
        RunStarted, StepStarted, StepWaiting, StepSucceeded, StepFailed, StepSkipped,
        StepUpToDate, AssetCheckEvaluated,
    )
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class TimelineRow:
    name: str  # the asset key, or ``asset:check`` for a check
    outcome: str  # SUCCESS, FAILURE, WARNED, SKIPPED, UP_TO_DATE or RUNNING
    start: float  # seconds after the run started
    end: float | None  # None while the step runs (or waits to retry)
    attempts: int = 1


@dataclass(slots=True)
class _Step:
    name: str
    start: float
    end: float | None = None
    outcome: str = RUNNING
    attempts: int = 1


def timeline_rows(events: Iterable[Event]) -> list[TimelineRow]:
    """One row per step, in the order the steps first appear; times are seconds after the
    run's RUN_STARTED (else its first event). A retried step is one row from its first start
    to its last end; a check's row ends as its verdict says (a failed check is a failure, or a
    warning if its severity is WARN)."""
    events = list(events)
    if not events:
        return []
    origin = next((e.timestamp for e in events if isinstance(e, RunStarted)), None)
    if origin is None:
        origin = min(e.timestamp for e in events)
    steps: dict[str, _Step] = {}
    for event in events:
        if event.asset_key is None or event.kind not in TIMELINE_KINDS:
            continue
        name = step_name(event)
        at = event.timestamp - origin
        step = steps.get(name)
        if step is None:
            step = steps[name] = _Step(name, at)
        if isinstance(event, StepStarted):
            step.attempts, step.end, step.outcome = event.attempt, None, RUNNING
        elif isinstance(event, StepSucceeded):
            step.end, step.outcome = at, SUCCESS
        elif isinstance(event, StepFailed):
            step.end, step.outcome = (None, RUNNING) if event.will_retry else (at, FAILURE)
        elif isinstance(event, StepSkipped):
            step.end, step.outcome = at, SKIPPED
        elif isinstance(event, StepUpToDate):
            step.end, step.outcome = at, UP_TO_DATE
        elif isinstance(event, AssetCheckEvaluated):
            step.end = step.end if step.end is not None else at
            failed = WARNED if event.severity == "WARN" else FAILURE
            step.outcome = SUCCESS if event.passed else failed
    return [TimelineRow(s.name, s.outcome, s.start, s.end, s.attempts) for s in steps.values()]


def seconds_text(seconds: float) -> str:
    """``0.42s``, ``12.3s``, ``2m05s``, ``1h02m``: short, and as precise as is useful."""
    if seconds < 10:
        return f"{max(seconds, 0):.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h{int(seconds % 3600 // 60):02d}m"


def _label(row: TimelineRow, until: float) -> str:
    if row.outcome in (SKIPPED, UP_TO_DATE):
        return row.outcome
    took = seconds_text((row.end if row.end is not None else until) - row.start)
    retried = f" ×{row.attempts}" if row.attempts > 1 else ""
    mark = {FAILURE: "✗ ", WARNED: "! ", RUNNING: "… "}.get(row.outcome, "")
    return f"{mark}{took}{retried}"


class Timeline(ScrollView):
    """The rows on an axis from the run's start to ``until`` (its end, or now while it runs);
    the first line is the axis. Drawn through the Line API: a thousand steps cost what the
    visible ones do."""

    DEFAULT_CSS = """
    Timeline { height: auto; max-height: 40%; overflow-x: hidden; padding: 0 1; }
    """
    NAME_WIDTH = (8, 32)  # the name column fits the names, within these bounds
    LABEL_WIDTH = 12

    def __init__(self) -> None:
        super().__init__()
        self.rows: Sequence[TimelineRow] = ()
        self.until = 0.0
        self._name_width = 0

    def show(self, rows: Sequence[TimelineRow], until: float) -> None:
        self.rows = rows
        self.until = max(until, max((r.end or r.start for r in rows), default=0.0))
        low, high = self.NAME_WIDTH
        self._name_width = min(max(low, max((len(r.name) for r in rows), default=0)), high)
        self.virtual_size = Size(0, len(rows) + 1 if rows else 0)
        self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        index = self.scroll_offset.y + y
        if index > len(self.rows) or not self.rows:
            return Strip.blank(width, self.rich_style)
        name_width = self._name_width
        bar_width = max(width - name_width - self.LABEL_WIDTH - 2, 1)
        if index == 0:
            segments = self._axis(name_width, bar_width)
        else:
            segments = self._row(self.rows[index - 1], name_width, bar_width)
        return Strip(segments).crop_extend(0, width, self.rich_style)

    def _axis(self, name_width: int, bar_width: int) -> list[Segment]:
        start, middle, end = "0s", seconds_text(self.until / 2), seconds_text(self.until)
        gap = bar_width - len(start) - len(middle) - len(end)
        ticks = start + " " * (gap // 2) + middle + " " * (gap - gap // 2) + end
        dim = Style(dim=True)
        return [Segment(" " * (name_width + 1)), Segment(ticks[:bar_width], dim)]

    def _row(self, row: TimelineRow, name_width: int, bar_width: int) -> list[Segment]:
        colour, glyph = LOOKS[row.outcome]
        style = Style.parse(colour)
        scale = bar_width / self.until if self.until > 0 else 0.0
        end = row.end if row.end is not None else self.until
        left = min(int(row.start * scale), bar_width - 1)
        right = min(max(round(end * scale), left + 1), bar_width)  # one cell at least
        name = row.name if len(row.name) <= name_width else row.name[: name_width - 1] + "…"
        return [
            Segment(name.ljust(name_width) + " "),
            Segment(" " * left),
            Segment(glyph * (right - left), style),
            Segment(" " * (bar_width - right + 1)),
            Segment(_label(row, self.until).rjust(self.LABEL_WIDTH), style),
        ]
