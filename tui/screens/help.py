"""``?``: every key of every screen, and the ``:`` commands."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ..commands import COMMANDS

KEYS = """
| key | in the catalog |
|---|---|
| `/` | filter by typing (key, group, kind, tag); `escape` clears it |
| `enter` | the highlighted asset's details |
| `l` | its lineage |
| `m` | materialize it |
| `M` | materialize it and its downstream |
| `s` | materialize every stale and missing asset |
| `c` | run its checks |
| `x` | cancel the runs in flight |
| `r` | the runs |
| `:` | a command (below); `ctrl+p` the command palette |
| `escape` | back |
| `q` | quit (asks first if a run is in flight) |
"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; height: 80%; border: thick $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        commands = "\n".join(
            f"| `:{c.name}{' ' + c.takes if c.takes else ''}` | {c.help} |" for c in COMMANDS
        )
        with VerticalScroll():
            yield Markdown(f"{KEYS}\n| command | does |\n|---|---|\n{commands}\n")

    def action_close(self) -> None:
        self.dismiss(None)
