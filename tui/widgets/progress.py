"""Runs in flight, as steps done of all, without leaving the screen."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from millrace.events import Event
from textual.widgets import Static

if TYPE_CHECKING:
    from ..app import MillraceApp


class RunProgress(Static):
    DEFAULT_CSS = """
    RunProgress { height: auto; padding: 0 1; color: $accent; }
    RunProgress.idle { display: none; }
    """

    def on_mount(self) -> None:
        self.app_ = cast("MillraceApp", self.app)
        self.app_.events.subscribe(self, self._changed)
        self._changed([])

    def _changed(self, _events: list[Event]) -> None:
        progress = self.app_.progress
        self.set_class(not progress, "idle")
        self.update(
            "   ".join(
                f"run {run_id[:8]} {bar(done, total)} {done}/{total} steps"
                for run_id, (done, total) in progress.items()
            )
        )


def bar(done: int, total: int, width: int = 20) -> str:
    filled = round(width * done / total) if total else width
    return "█" * filled + "░" * (width - filled)
