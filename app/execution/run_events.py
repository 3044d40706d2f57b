"""A run's events as its RunResult reads them: kept in memory, or read back from the store.

Each is a bus subscriber while its run goes (``collect``), then what the result asks for its
events (``events``). A run whose events the store commits keeps almost none of them: a
10,000-asset run publishes some 31,000, alive as long as its result otherwise.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Protocol

from ..declarations.keys import AssetKey
from ..events import EVENT_TYPES, Event, LogMessage
from ..storage.batch import reads_back_whole
from ..storage.run_reader import read_run_events

# A result has the run's outcome, not its log lines (those are in the store, when there is
# one), so a long run's lines are never held for it.
_NOT_KEPT = frozenset({LogMessage.kind})
_KINDS = [kind for kind in EVENT_TYPES if kind not in _NOT_KEPT]


class RunEvents(Protocol):
    def collect(self, event: Event) -> None:
        """Take in one published event (of any run: only this run's count)."""

    def events(
        self,
        kinds: Collection[type[Event]] | None = None,
        asset_keys: Collection[AssetKey] | None = None,
    ) -> list[Event]:
        """The run's events (of ``kinds``, about ``asset_keys``), in the order published."""


class KeptEvents:
    """Every event of the run, in memory: a run with no store (``materialize_to_memory``,
    as Dagster's in-process results hold theirs), or one canceled while it was queued."""

    def __init__(self, run_id: str, events: Iterable[Event] = ()) -> None:
        self.run_id = run_id
        self._events = list(events)

    def collect(self, event: Event) -> None:
        if event.run_id == self.run_id and event.kind not in _NOT_KEPT:
            self._events.append(event)

    def events(
        self,
        kinds: Collection[type[Event]] | None = None,
        asset_keys: Collection[AssetKey] | None = None,
    ) -> list[Event]:
        classes = tuple(kinds) if kinds is not None else Event
        return [
            e
            for e in self._events
            if isinstance(e, classes) and (asset_keys is None or e.asset_key in asset_keys)
        ]


class StoredEvents:
    """The run's events in the store's database, read each time they are asked for. Kept in
    memory: the id of the last one collected (one a late thread publishes after the result
    was made is no part of it) and the few events whose row does not hold them whole (a
    frame's schema and preview are in its latest materialization only, not its event)."""

    def __init__(self, database: Path, run_id: str) -> None:
        self.database = database
        self.run_id = run_id
        self._through = 0
        self._kept: dict[int, Event] = {}

    def collect(self, event: Event) -> None:
        if event.run_id != self.run_id or event.kind in _NOT_KEPT:
            return
        self._through = event.seq  # the bus delivers in id order
        if not reads_back_whole(event):
            self._kept[event.seq] = event

    def events(
        self,
        kinds: Collection[type[Event]] | None = None,
        asset_keys: Collection[AssetKey] | None = None,
    ) -> list[Event]:
        if asset_keys is not None and not asset_keys:
            return []
        stored = read_run_events(
            self.database,
            self.run_id,
            _KINDS if kinds is None else [k.kind for k in kinds],
            through_seq=self._through,
            asset_keys=None if asset_keys is None else [k.to_user_string() for k in asset_keys],
        )
        kept = self._kept
        return [kept.get(e.seq, e) for e in stored] if kept else stored
