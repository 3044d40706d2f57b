"""What the history knows of each partitioned asset's partitions, read from SQLite once and
again only when it changed, so a status query over ten years of hours is a pass in memory.

This process's writes are seen on the event bus: a materialization or a final failure of an
asset makes it and its direct readers (whose own staleness compares with its versions) read
again. Another process's writes are seen in SQLite's ``data_version``, which changes when
another connection commits: then everything is read again. What is in progress is always
read afresh (a few rows).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ..declarations.keys import AssetKey
from ..events import AssetMaterialized, Event, StepFailed
from ..storage.event_store import EventStore
from ..storage.records import PartitionRows


class PartitionFactsCache:
    def __init__(self, readers_of: Callable[[AssetKey], Iterable[AssetKey]]) -> None:
        self._readers_of = readers_of
        # asset -> ((code version, upstream keys) it was read for, its rows)
        self._rows: dict[AssetKey, tuple[tuple[str | None, tuple[str, ...]], PartitionRows]] = {}
        self._generation: dict[AssetKey, int] = {}
        self._data_version: int | None = None

    def on_event(self, event: Event) -> None:
        key = event.asset_key
        if key is None or event.check_name is not None:
            return
        if isinstance(event, AssetMaterialized) or (
            isinstance(event, StepFailed) and not event.will_retry
        ):
            for stale in (key, *self._readers_of(key)):
                self._rows.pop(stale, None)
                self._generation[stale] = self._generation.get(stale, 0) + 1

    def forget(self) -> None:
        """Read everything again next time (the code changed)."""
        for key in self._rows:
            self._generation[key] = self._generation.get(key, 0) + 1
        self._rows.clear()

    async def rows(
        self,
        store: EventStore,
        key: AssetKey,
        code_version: str | None,
        upstream: Sequence[str],
    ) -> PartitionRows:
        version = await store.data_version()
        if version != self._data_version:  # another process wrote the history
            self.forget()
            self._data_version = version
        wanted = (code_version, tuple(upstream))
        cached = self._rows.get(key)
        if cached is not None and cached[0] == wanted:
            rows = cached[1]
        else:
            generation = self._generation.get(key, 0)
            rows = await store.partition_facts(key.to_user_string(), code_version, upstream)
            if self._generation.get(key, 0) == generation:  # nothing changed while reading
                self._rows[key] = (wanted, rows)
        running = await store.running_partitions(key.to_user_string())
        if running == rows.running:
            return rows
        return PartitionRows(
            rows.keys,
            rows.failed,
            running,
            rows.code,
            rows.data,
            rows.new_dependencies,
            rows.newest_event_id,
            rows.newest_timestamp,
        )
