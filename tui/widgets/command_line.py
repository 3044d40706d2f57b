"""The ``:`` command line: hidden until ``:``, then a line for one command (see commands.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.widgets import Input

if TYPE_CHECKING:
    from ..app import MillraceApp


class CommandLine(Input):
    DEFAULT_CSS = """
    CommandLine { dock: bottom; display: none; border: none; height: 1; padding: 0 1; }
    CommandLine.open { display: block; }
    """

    def __init__(self) -> None:
        super().__init__(placeholder=":materialize beta_mid+   :select group:raw   :runs   :q")

    def open(self, text: str = "") -> None:
        self.value = text
        self.add_class("open")
        self.focus()
        self.cursor_position = len(text)

    def close(self) -> None:
        self.remove_class("open")
        self.value = ""
        self.screen.focus_next()

    def key_escape(self) -> None:
        self.close()

    @on(Input.Submitted)
    async def _submitted(self, event: Input.Submitted) -> None:
        from ..commands import run_command

        event.stop()
        text = event.value
        self.close()
        await run_command(cast("MillraceApp", self.app), text)
