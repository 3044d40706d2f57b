"""A run's log: its events as readable lines (the dev runtime's wording), ``context.log``
records and captured output, coloured by level.

``LogView`` draws through Textual's Line API (a ScrollView with ``render_line``, as Textual's
own ``Log`` does) over a plain list of lines, so a 100,000-line log costs what the visible
lines cost; ``Log`` itself holds bare strings, without levels to colour or filter by.

Keys: ``1``-``5`` show DEBUG, INFO, WARNING, ERROR or CRITICAL and up (captured STDOUT and
STDERR count as INFO); the view follows the end until you scroll up, and again once you
scroll back to the end or press ``G``; ``n`` / ``N`` go to the next / previous line that
holds the searched text (``search()``: the screen's ``/``).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import ClassVar, NamedTuple

from millrace.console import describe_dev_event
from millrace.events import (
    AssetCheckEvaluated,
    Event,
    LogMessage,
    RunFinished,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
    step_name,
)
from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .timeline import seconds_text

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # keys 1-5
RANKS = {"DEBUG": 10, "INFO": 20, "STDOUT": 20, "STDERR": 20, "WARNING": 30, "ERROR": 40,
         "CRITICAL": 50}  # fmt: skip
LEVEL_STYLES = {
    "DEBUG": "bright_black",
    "WARNING": "yellow",
    "ERROR": "red",
    "CRITICAL": "bold reverse red",
    "STDERR": "medium_purple1",
}
OFFSET_WIDTH = 9  # "+12m05s" and a space
_controls = re.compile("[\x00-\x08\x0b-\x1f\x7f]").sub


class LogLine(NamedTuple):
    at: float | None  # seconds after the run started; None on a message's later lines
    level: str
    text: str
    style: str = ""  # instead of the level's own colour (a step's outcome)


def event_lines(event: Event, origin: float) -> list[LogLine]:
    """The lines one event shows as: none for an event without a line of its own (a
    materialization: its step's line says it), else one, or as many as a multi-line message
    or a failure's traceback has."""
    if isinstance(event, LogMessage):
        # describe_dev_event's wording, for DEBUG too (which headless output leaves out).
        about = f"{step_name(event)} " if event.asset_key else ""
        text, level, style = f"{about}{event.level}: {event.message}", event.level, ""
    else:
        described = describe_dev_event(event)
        if described is None:
            return []
        text = described
        level, style = _outcome(event)
    first, *more = text.splitlines() or [""]
    if isinstance(event, StepFailed) and not event.will_retry:
        more += event.error.traceback.splitlines()
    at = event.timestamp - origin
    return [
        LogLine(at, level, _clean(first), style),
        *(LogLine(None, level, _clean(line), style) for line in more),
    ]


def _outcome(event: Event) -> tuple[str, str]:
    """An event's level (what the filter goes by) and colour."""
    if isinstance(event, StepFailed):
        return ("WARNING", "yellow") if event.will_retry else ("ERROR", "bold red")
    if isinstance(event, StepSkipped):
        return "WARNING", "bright_black"
    if isinstance(event, AssetCheckEvaluated) and not event.passed:
        return ("WARNING", "yellow") if event.severity == "WARN" else ("ERROR", "bold red")
    if isinstance(event, RunFinished):
        level = {RunStatus.SUCCESS: "INFO", RunStatus.CANCELED: "WARNING"}
        style = {RunStatus.SUCCESS: "bold green", RunStatus.CANCELED: "bold yellow"}
        return level.get(event.status, "ERROR"), style.get(event.status, "bold red")
    if isinstance(event, StepSucceeded | StepUpToDate | AssetCheckEvaluated):
        return "INFO", "green"
    if isinstance(event, StepStarted):
        return "INFO", "cyan"
    return "INFO", "bold"


def _clean(line: str) -> str:
    """Tabs as spaces, other control characters (a progress bar's ``\\r``...) as ``�``."""
    return line if line.isprintable() else _controls("�", line.expandtabs())


def _width(line: LogLine) -> int:
    return OFFSET_WIDTH + (len(line.text) if line.text.isascii() else cell_len(line.text))


class LogView(ScrollView, can_focus=True):
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "log-view--offset",
        "log-view--match",
        "log-view--current",
    }
    DEFAULT_CSS = """
    LogView { height: 1fr; background: $surface; border: round $primary-background;
              border-title-color: $text-muted; border-subtitle-color: $text-muted; }
    LogView:focus { border: round $primary; }
    LogView > .log-view--offset { color: $text-muted; }
    LogView > .log-view--match { background: $warning 70%; color: $background; }
    LogView > .log-view--current { background: $accent 25%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "level(10)", "DEBUG+", show=False, tooltip="show DEBUG lines and above"),
        Binding("2", "level(20)", "INFO+", show=False, tooltip="show INFO lines and above"),
        Binding("3", "level(30)", "WARNING+", show=False, tooltip="show WARNING lines and above"),
        Binding("4", "level(40)", "ERROR+", show=False, tooltip="show ERROR lines and above"),
        Binding("5", "level(50)", "CRITICAL", show=False, tooltip="show CRITICAL lines only"),
        Binding("G,end", "follow", "Follow", key_display="G", tooltip="follow the end of the log"),
        Binding("n", "next_match", "Next match", tooltip="the next line the search matches"),
        Binding(
            "N",
            "previous_match",
            "Previous match",
            show=False,
            key_display="N",
            tooltip="the previous line the search matches",
        ),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._lines: list[LogLine] = []
        self._shown: list[int] = []  # indexes into _lines of the lines the filter lets by
        self._threshold = RANKS["DEBUG"]
        self._width = 0
        self._follow = True
        self._query = ""  # lowercase
        self._current: int | None = None  # the line of the match last gone to
        self._strips: LRUCache[int, Strip] = LRUCache(1024)
        self.border_title = "log"
        self._describe()

    # -- content ---------------------------------------------------------------------------

    @property
    def lines(self) -> Sequence[LogLine]:
        """Every line, shown or filtered out."""
        return self._lines

    def write(self, lines: Iterable[LogLine]) -> None:
        start = len(self._lines)
        self._lines.extend(lines)
        new = self._lines[start:]
        if not new:
            return
        threshold = self._threshold
        self._shown.extend(
            i for i, line in enumerate(new, start) if RANKS.get(line.level, 20) >= threshold
        )
        self._width = max(self._width, max(map(_width, new)))
        self.virtual_size = Size(self._width, len(self._shown))
        if self._follow:
            self._pin()
        self.refresh()

    # -- following -------------------------------------------------------------------------

    @property
    def follow(self) -> bool:
        """Pinned to the end: new lines scroll into view."""
        return self._follow

    def _set_follow(self, follow: bool) -> None:
        if follow != self._follow:
            self._follow = follow
            self._describe()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        """Scrolling away from the end stops following; reaching it again resumes."""
        super().watch_scroll_y(old_value, new_value)
        self._set_follow(new_value >= self.max_scroll_y)

    def _pin(self) -> None:
        # force: the scrollbar that allows scrolling appears only at the next layout.
        self.scroll_end(animate=False, immediate=True, x_axis=False, force=True)

    # Jumps are immediate: an animated one repaints every line it passes.
    def action_scroll_home(self) -> None:
        self.scroll_home(animate=False)

    def action_page_up(self) -> None:
        self.scroll_page_up(animate=False)

    def action_page_down(self) -> None:
        self.scroll_page_down(animate=False)

    def action_follow(self) -> None:
        self._pin()
        self._set_follow(True)

    # -- levels ----------------------------------------------------------------------------

    def action_level(self, rank: int) -> None:
        """Show lines of this rank and up, keeping the top line in view (or the end)."""
        top = self._shown[self.scroll_offset.y] if self.scroll_offset.y < len(self._shown) else 0
        self._threshold = rank
        self._shown = [i for i, line in enumerate(self._lines) if RANKS.get(line.level, 20) >= rank]
        self.virtual_size = Size(self._width, len(self._shown))
        if self._follow:
            self._pin()
        else:
            self.scroll_to(y=bisect_left(self._shown, top), animate=False)
        self._describe()
        self.refresh()

    # -- search ----------------------------------------------------------------------------

    def search(self, text: str) -> bool:
        """Go to the first shown line at or after the top of the view that holds ``text``
        (case-insensitive, wrapping around); every occurrence is highlighted."""
        self._query = text.lower()
        self._current = None
        self._strips.clear()
        self._describe()
        self.refresh()
        return self._go(forward=True)

    def action_next_match(self) -> None:
        self._step(forward=True)

    def action_previous_match(self) -> None:
        self._step(forward=False)

    def _step(self, *, forward: bool) -> None:
        if not self._query:
            self.notify("no search yet: press / and type", severity="warning")
        elif not self._go(forward=forward):
            self.notify(f"no shown line holds {self._query!r}", severity="warning")

    def _go(self, *, forward: bool) -> bool:
        shown, query, lines = self._shown, self._query, self._lines
        if not query or not shown:
            return False
        if self._current is None:
            at = min(self.scroll_offset.y, len(shown) - 1)
        else:
            at = bisect_left(shown, self._current) + (1 if forward else -1)
        n = len(shown)
        order = (
            chain(range(at, n), range(0, at))
            if forward
            else chain(range(at, -1, -1), range(n - 1, at, -1))
        )
        found = next((p for p in order if query in lines[shown[p]].text.lower()), None)
        if found is None:
            return False
        if self._current is not None:
            self._strips.discard(self._current)
        self._current = shown[found]
        self._strips.discard(self._current)
        height = self.scrollable_content_region.height
        if not self.scroll_offset.y <= found < self.scroll_offset.y + height:
            self.scroll_to(y=max(found - height // 2, 0), animate=False)
        self._set_follow(False)  # stay on the match while lines arrive
        self.refresh()
        return True

    @property
    def current_match(self) -> LogLine | None:
        return self._lines[self._current] if self._current is not None else None

    # -- drawing ---------------------------------------------------------------------------

    def _describe(self) -> None:
        parts = ["following" if self._follow else "paused (G follows)"]
        if self._threshold > RANKS["DEBUG"]:
            parts.append(f"{LEVELS[self._threshold // 10 - 1]} and up")
        if self._query:
            parts.append(f"/{self._query}")
        self.border_subtitle = " · ".join(parts)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._strips.clear()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        row = scroll_y + y
        if row >= len(self._shown):
            return Strip.blank(width, self.rich_style)
        index = self._shown[row]
        strip = self._strips.get(index)
        if strip is None:
            strip = self._strips[index] = self._strip(index)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)

    def _strip(self, index: int) -> Strip:
        line = self._lines[index]
        offset = f"+{seconds_text(line.at)}" if line.at is not None else ""
        text = Text(style=self.rich_style, no_wrap=True, end="")
        text.append(offset.rjust(OFFSET_WIDTH - 1) + " ", self._component("log-view--offset"))
        text.append(line.text, line.style or LEVEL_STYLES.get(line.level, ""))
        if self._query:
            lower, size, match = line.text.lower(), len(self._query), None
            at = lower.find(self._query)
            while at >= 0:
                match = match or self._component("log-view--match")
                text.stylize(match, OFFSET_WIDTH + at, OFFSET_WIDTH + at + size)
                at = lower.find(self._query, at + size)
        if index == self._current:
            text.stylize(self._component("log-view--current"))
        return Strip(text.render(self.app.console), text.cell_len)

    def _component(self, name: str) -> Style:
        return self.get_component_rich_style(name, partial=True)
