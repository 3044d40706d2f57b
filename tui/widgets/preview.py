"""The first rows of an asset's stored value as a table (or the text of a value that is no
frame). A null reads ``null``, dimmed, so it never passes for an empty string."""

from __future__ import annotations

import math
from typing import Any

from millrace.runtime.preview import Preview
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static

NULL = Text("null", style="dim italic")
MAX_CELL = 60  # characters of a cell; a long text would push every other column away


def cell(value: Any) -> Text:
    """A cell as Text (a str would be read as markup): numbers right-aligned, nulls dimmed,
    long or multi-line text cut to one short line."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return Text(str(value).lower())
    if isinstance(value, float):
        return Text(float_text(value), justify="right")
    if isinstance(value, int):
        return Text(str(value), justify="right")
    if isinstance(value, bytes):
        value = value.hex()
    text = str(value).replace("\n", "⏎")
    return Text(text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…")


def float_text(value: float) -> str:
    """A float as a reader wants it: ``554.32``, not the binary noise ``554.3199999999999``
    that a plain repr shows (six decimals at most, as Polars prints a frame)."""
    text = repr(value)
    if len(text) <= 12 or not math.isfinite(value):
        return text
    if 1e-4 <= abs(value) < 1e15:
        return f"{value:.6f}".rstrip("0").rstrip(".")
    return f"{value:.6g}"


def caption(preview: Preview | None) -> str:
    if preview is None:
        return "never materialized: nothing stored to preview"
    if preview.frame is None:
        return "stored value (not a frame):"
    shown, total = preview.frame.height, preview.total_rows
    if total is not None and total > shown:
        return f"first {shown:,} of {total:,} rows"
    return f"{shown:,} row{'s' * (shown != 1)}"


class FramePreview(Vertical):
    """``show(await runtime.preview(key))``: a Polars frame of the first rows, a text, or None."""

    DEFAULT_CSS = """
    FramePreview { height: 1fr; }
    FramePreview > .caption { height: auto; padding: 0 1; color: $text-muted; }
    FramePreview > .value { height: auto; padding: 0 1; }
    FramePreview > DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        yield Static("loading…", classes="caption")
        yield Static(classes="value")
        yield DataTable(zebra_stripes=True)

    def show(self, preview: Preview | None, nothing: str | None = None, of: str = "") -> None:
        """``nothing``: what to say instead of "never materialized" when there is none;
        ``of``: what the value is of (a partition), said first."""
        said = nothing if preview is None and nothing is not None else caption(preview)
        said = f"{of}: {said}" if of else said
        self.query_one(".caption", Static).update(said)
        value = self.query_one(".value", Static)
        value.display = preview is not None and preview.text is not None
        value.update(Text(preview.text or "") if preview is not None else "")
        table = self.query_one(DataTable)
        frame = preview.frame if preview is not None else None
        table.display = frame is not None
        table.clear(columns=True)
        if frame is None:
            return
        for name, dtype in frame.schema.items():
            table.add_column(Text.assemble((name, "bold"), " ", (str(dtype), "dim")))
        table.add_rows([cell(v) for v in row] for row in frame.iter_rows())
