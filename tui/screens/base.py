"""What every screen that reads the Runtime shares: the app, typed, and reads that end
quietly when their screen closes while they wait."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, TypeVar, cast

from textual.screen import Screen
from textual.widgets import DataTable

if TYPE_CHECKING:
    from ..app import MillraceApp

T = TypeVar("T")


class RuntimeScreen(Screen[None]):
    @property
    def millrace(self) -> MillraceApp:
        return cast("MillraceApp", self.app)

    @property
    def closing(self) -> bool:
        """Being removed (popped, or the app quitting). Textual prunes a screen's widgets
        before it unmounts the screen and cancels its workers, so a read that finishes in
        between would find no widgets to fill."""
        return self._pruning or self._closing or not self.is_attached

    def highlighted_key(self) -> str | None:
        """The row key under the cursor of the screen's table (None when it is empty)."""
        table = self.query_one(DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    async def fetch(self, pending: Awaitable[T]) -> T:
        """Await a Runtime read; if the screen is closing by then, end the worker as
        canceled, the way its unmount would a moment later."""
        result = await pending
        if self.closing:
            raise asyncio.CancelledError
        return result
