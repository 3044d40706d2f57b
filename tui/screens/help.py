"""``?``: every key of every screen, and the ``:`` commands, read from the bindings themselves
so the help can never disagree with what the keys do (the README's key map is this table)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen
from textual.widgets import Markdown

from ..commands import COMMANDS
from ..keys import described, key_text


def _places() -> list[tuple[str, list[type[DOMNode]]]]:
    """Where each set of keys works: a screen and the widgets in it that take keys."""
    from ..app import MillraceApp
    from ..widgets.dag import DagView
    from ..widgets.log_view import LogView
    from ..widgets.partition_strip import PartitionStrip
    from .asset import AssetScreen
    from .automation import AutomationScreen
    from .backfills import BackfillsScreen
    from .catalog import CatalogScreen
    from .lineage import LineageScreen
    from .runs import RunScreen, RunsScreen

    return [
        ("everywhere", [MillraceApp]),
        ("catalog", [CatalogScreen]),
        ("asset details", [AssetScreen, PartitionStrip]),
        ("lineage", [LineageScreen, DagView]),
        ("runs", [RunsScreen]),
        ("a run", [RunScreen, LogView]),
        ("backfills", [BackfillsScreen]),
        ("automation", [AutomationScreen]),
    ]


def key_map() -> str:
    """The keys of every screen and the commands, as Markdown tables."""
    out = []
    for place, owners in _places():
        rows, seen = [], set()
        for owner in owners:
            for binding in described(owner):
                key = key_text(binding)
                if key not in seen:
                    seen.add(key)
                    rows.append(f"| `{key}` | {binding.description} | {binding.tooltip} |")
        out.append(f"| key | {place} | does |\n|---|---|---|\n" + "\n".join(rows))
    commands = "\n".join(
        f"| `:{c.name}{' ' + c.takes if c.takes else ''}` | {c.help} |" for c in COMMANDS
    )
    out.append(f"| command (`:`, or `ctrl+p` for the palette) | does |\n|---|---|\n{commands}")
    return "\n\n".join(out) + "\n"


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; height: 80%; border: thick $primary; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(key_map())

    def action_close(self) -> None:
        self.dismiss(None)
