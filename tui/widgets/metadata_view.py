"""A materialization's metadata, each entry as its type reads best: numbers with separators,
markdown rendered, tables (a TableSchema, ``millrace/preview``) as tables, URLs and paths as
links, column lineage as each column and the upstream columns it comes from. The asset's own
entries come first, then Dagster's standard ones and those Millrace adds (``dagster/``,
``millrace/`` and the IO manager's ``path``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from millrace.declarations.metadata import MetadataValue, TableColumnLineage, TableSchema
from millrace.declarations.metadata_sets import URI
from rich import box
from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Markdown, Static

from .preview import NULL, cell

AUTOMATIC = ("dagster/", "millrace/")
STORAGE = "path"  # where the IO manager stored the value
_NOTHING_YET = object()


def ordered(metadata: Mapping[str, MetadataValue]) -> list[tuple[str, MetadataValue]]:
    items = list(metadata.items())
    # sorted is stable: each part keeps the recorded order
    return sorted(items, key=lambda item: item[0] == STORAGE or item[0].startswith(AUTOMATIC))


def schema_table(schema: TableSchema) -> Table:
    """Cells are Text throughout: a column named like markup must read as itself."""
    described = any(c.description for c in schema.columns)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("column", style="bold")
    table.add_column("type", style="dim")
    if described:
        table.add_column("description")
    for c in schema.columns:
        table.add_row(
            Text(c.name), Text(c.type), *([Text(c.description or "")] if described else [])
        )
    return table


def records_table(value: Mapping[str, Any]) -> Table:
    """``MetadataValue.table``: its schema's columns, else every key of its records in order."""
    records = [r.data for r in value["records"]]
    schema: TableSchema | None = value["schema"]
    names = (
        [c.name for c in schema.columns]
        if schema is not None
        else list(dict.fromkeys(k for r in records for k in r))
    )
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in names:
        table.add_column(Text(name))
    for record in records:
        table.add_row(*(cell(record.get(name)) for name in names))
    if not records:
        table.caption = "no rows"
    return table


def lineage_table(lineage: TableColumnLineage) -> Table:
    """One row per column: the upstream ``asset.column``s it is computed from."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("column", style="bold")
    table.add_column("from")
    for column, deps in lineage.deps_by_column.items():
        sources = ", ".join(f"{d.asset_key.to_user_string()}.{d.column_name}" for d in deps)
        table.add_row(Text(column), Text(sources) if deps else Text("nothing", style="dim"))
    return table


def link(target: str) -> Text:
    """A URL, or a path as a file:// link where it is absolute (terminals open either)."""
    uri = Path(target).as_uri() if Path(target).is_absolute() else target
    return Text(target, style=f"underline link {uri}")


def rendered(value: MetadataValue, key: str = "") -> RenderableType | str:
    """One value as a Rich renderable; markdown is the caller's (a Markdown widget).
    ``dagster/uri`` is a link whatever its type (Dagster stores it as text)."""
    kind, v = value.type, value.value
    if key == URI and kind == "text":
        return link(str(v))
    if kind == "int":
        return Text(f"{v:,}")
    if kind == "float":
        return Text(f"{v:,.6g}")
    if kind == "bool":
        return Text(str(v).lower())
    if kind == "null" or v is None:
        return NULL
    if kind == "timestamp":
        return Text(dt.datetime.fromtimestamp(v).isoformat(sep=" ", timespec="seconds"))
    if kind in ("url", "path"):
        return link(str(v))
    if kind == "json":
        return Text(json.dumps(v, indent=2))
    if kind == "table_schema":
        return schema_table(v)
    if kind == "table":
        return records_table(v)
    if kind == "column_lineage":
        return lineage_table(v)
    return Text(str(value))


def entry_widget(value: MetadataValue, key: str = "") -> Widget:
    if value.type == "md":
        return Markdown(str(value.value), classes="value")
    return Static(rendered(value, key), classes="value")


class MetadataView(VerticalScroll):
    """``await show(record.metadata)``; None says the asset was never materialized."""

    DEFAULT_CSS = """
    MetadataView { height: 1fr; padding: 0 1; }
    MetadataView > Horizontal { height: auto; margin-bottom: 1; }
    MetadataView .label { width: 28; color: $text-muted; }
    MetadataView .value { width: 1fr; height: auto; }
    MetadataView Markdown.value { margin: 0; padding: 0; background: transparent; }
    """

    def __init__(self) -> None:
        super().__init__()
        self._shown: object = _NOTHING_YET

    async def show(self, metadata: Mapping[str, MetadataValue] | None) -> None:
        """Rebuilt only when the metadata differs, so a refresh never flickers or scrolls."""
        if metadata == self._shown:
            return
        self._shown = metadata
        await self.remove_children()
        if not metadata:
            why = "never materialized" if metadata is None else "no metadata recorded"
            await self.mount(Static(why, classes="value"))
            return
        await self.mount_all(
            Horizontal(Static(Text(key), classes="label"), entry_widget(value, key))
            for key, value in ordered(metadata)
        )
