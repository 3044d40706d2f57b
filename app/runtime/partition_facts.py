"""What the history knows of each partitioned asset's partitions, read from SQLite once and
again only when it changed, so a status query over ten years of hours is a pass in memory.

This process's writes are seen on the event bus: a materialization or a final failure of an
asset makes it and its direct readers (whose own staleness compares with its versions) read
again. Another process's writes are seen in SQLite's ``data_version``, which changes when
another connection commits: then everything is read again. What is in progress is always
read afresh (a few rows).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping

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
        self, store: EventStore, wanted: Mapping[AssetKey, tuple[str | None, tuple[str, ...]]]
    ) -> dict[AssetKey, PartitionRows]:
        """Each wanted asset's rows; ``wanted`` maps it to its code version and upstream keys
        now. What is not cached is read in one job, what is running in one query."""
        version = await store.data_version()
        if version != self._data_version:  # another process wrote the history
            self.forget()
            self._data_version = version
        found: dict[AssetKey, PartitionRows] = {}
        missing: dict[AssetKey, tuple[str | None, tuple[str, ...]]] = {}
        for key, asked in wanted.items():
            cached = self._rows.get(key)
            if cached is not None and cached[0] == asked:
                found[key] = cached[1]
            else:
                missing[key] = asked
        if missing:
            generations = {key: self._generation.get(key, 0) for key in missing}
            read = await store.partition_facts(
                {key.to_user_string(): asked for key, asked in missing.items()}
            )
            for key, asked in missing.items():
                rows = found[key] = read[key.to_user_string()]
                if self._generation.get(key, 0) == generations[key]:  # unchanged meanwhile
                    self._rows[key] = (asked, rows)
            if len(missing) == len(wanted):  # all read just now, running partitions with them
                return found
        running = await store.running_partitions()
        return {
            key: rows
            if (now := running.get(key.to_user_string(), frozenset())) == rows.running
            else dataclasses.replace(rows, running=now)
            for key, rows in found.items()
        }
