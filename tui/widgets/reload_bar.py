"""The last reload, always in view; a code error as a banner until a good save clears it."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from millrace.console import describe_reload
from millrace.events import Event
from rich.text import Text
from textual.widgets import Static

if TYPE_CHECKING:
    from ..app import MillraceApp


class ReloadBar(Static):
    DEFAULT_CSS = """
    ReloadBar { height: auto; max-height: 6; padding: 0 1; color: $text-muted; }
    ReloadBar.error { background: $error 30%; color: $text; }
    """

    def on_mount(self) -> None:
        self.app_ = cast("MillraceApp", self.app)
        self.app_.events.subscribe(self, self._changed)
        self._show()

    def _changed(self, _events: list[Event]) -> None:
        self._show()

    def _show(self) -> None:
        error, reload = self.app_.code_error, self.app_.last_reload
        self.set_class(error is not None, "error")
        if error is not None:
            self.update(Text(f"✗ {error.message}\n  the last good code keeps serving"))
        elif reload is not None:
            self.update(describe_reload(reload))
        elif self.app_.readonly:
            self.update("read-only: following a home another process writes")
        elif self.app_.dev is not None:
            self.update("watching the code: save a file to reload")
        else:
            self.update("")
