"""What automation reads of every (asset, partition), in memory: its latest materialization's
id (a source's latest observation counts: the store keeps both in one row), whether a run
that has not finished includes it (Dagster's "in progress": from the run's start, not its
step's, until the run ends), whether its last attempt failed. Seeded from SQLite once when
automation starts, then kept by the bus's events, so a tick never queries SQL.

The same of every (asset check, partition): its latest evaluation's event id, whether a run
that has not finished includes it, whether its latest execution errored (raised, or its step
failed: not a result with ``passed=False``), and whether that evaluation passed.

Which cells backfill runs hold (``RunOrigin.BACKFILL``) is known from their ``RunStarted``;
a run in flight when the cache is seeded from the store counts as a backfill only if the
cache being replaced knew it as one.

Another process's writes are not on this bus: automation re-seeds when SQLite's
``data_version`` says another connection committed (the check it makes anyway).
"""

from __future__ import annotations

from collections.abc import Iterable

from ..declarations.checks import AssetCheckKey
from ..declarations.keys import AssetKey, KeysByName
from ..events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    Event,
    RunFinished,
    RunOrigin,
    RunStarted,
    StepEvent,
    StepFailed,
    StepStarted,
    partitions_of,
)

Cell = tuple[AssetKey, str | None]
CheckCell = tuple[AssetCheckKey, str | None]
Entity = AssetKey | AssetCheckKey
EntityCell = tuple[Entity, str | None]  # an asset's or a check's


class StatusCache:
    def __init__(self) -> None:
        self.latest: dict[Cell, int] = {}  # -> the latest materialization's event id
        self.last_time: dict[AssetKey, float] = {}  # an asset's newest materialization
        self.newest: dict[AssetKey, int] = {}  # its event id, whatever the partition
        self.failed: set[Cell] = set()
        self.check_latest: dict[CheckCell, int] = {}  # -> the latest evaluation's event id
        self.check_failed: set[CheckCell] = set()  # its latest execution errored
        # -> whether its latest evaluation passed; absent if it raised or its step failed since
        self.check_passed: dict[CheckCell, bool] = {}
        self._running: dict[str, set[EntityCell]] = {}  # run id -> its cells in flight
        self._in_flight: dict[EntityCell, int] = {}  # cell -> how many runs hold it
        self._backfills: set[str] = set()  # the runs in ``_running`` that are backfills
        self._in_backfill: dict[EntityCell, int] = {}  # cell -> how many backfill runs hold it
        self.changed: set[Entity] = set()  # since the last ``drain``

    def seed(
        self,
        latest: Iterable[tuple[str, str, int, float]],
        failed: Iterable[tuple[str, str]],
        running: Iterable[tuple[str, str, str]],
        checks: Iterable[tuple[str, str, str, int, bool, bool]] = (),
        backfills: Iterable[str] = (),
    ) -> None:
        """From the store's rows: (asset, partition or '', event id, time), (asset,
        partition), (run, asset, partition) and each check's latest evaluation: (asset,
        check, partition or '', event id, whether it errored, whether it passed); and the ids
        of the runs known to be backfills."""
        keys = KeysByName()
        key = keys.__getitem__
        self.latest, self.last_time, self.newest = {}, {}, {}
        for a, p, event_id, timestamp in latest:
            k = key(a)
            self.latest[(k, p or None)] = event_id
            newest = self.last_time.get(k)
            if newest is None or timestamp > newest:
                self.last_time[k] = timestamp
            if event_id > self.newest.get(k, -1):
                self.newest[k] = event_id
        self.failed = {(key(a), p or None) for a, p in failed}
        self._running, self._in_flight = {}, {}
        self._backfills, self._in_backfill = set(backfills), {}
        for run_id, a, p in running:
            self._hold(run_id, [(key(a), p or None)])
        self._backfills &= self._running.keys()
        self.check_latest, self.check_failed, self.check_passed = {}, set(), {}
        for a, name, p, event_id, errored, passed in checks:
            cell = (AssetCheckKey(key(a), name), p or None)
            self.check_latest[cell] = event_id
            if errored:
                self.check_failed.add(cell)
            else:
                self.check_passed[cell] = passed
        self.changed = set(keys.values())
        self.changed.update(check for check, _ in self.check_latest)

    def start_run(self, run_id: str, cells: Iterable[EntityCell]) -> None:
        """A run started: every cell of its plan is in progress until it finishes."""
        self._hold(run_id, cells)
        self.changed.update(key for key, _ in self._running[run_id])

    def running(self, cell: EntityCell) -> bool:
        return cell in self._in_flight

    @property
    def in_flight(self) -> dict[EntityCell, int]:
        """Each cell a run that has not finished holds (read-only)."""
        return self._in_flight

    @property
    def in_backfill(self) -> dict[EntityCell, int]:
        """Each cell a backfill run that has not finished holds (read-only)."""
        return self._in_backfill

    @property
    def backfill_runs(self) -> frozenset[str]:
        """The runs in flight that are backfills: what a re-seeded cache cannot read from the
        store's rows."""
        return frozenset(self._backfills)

    def _hold(self, run_id: str, cells: Iterable[EntityCell]) -> None:
        held = self._running.setdefault(run_id, set())
        backfill = run_id in self._backfills
        for cell in cells:
            if cell not in held:
                held.add(cell)
                self._in_flight[cell] = self._in_flight.get(cell, 0) + 1
                if backfill:
                    self._in_backfill[cell] = self._in_backfill.get(cell, 0) + 1

    def _release(self, run_id: str) -> set[EntityCell]:
        cells = self._running.pop(run_id, set())
        _drop(self._in_flight, cells)
        if run_id in self._backfills:
            self._backfills.discard(run_id)
            _drop(self._in_backfill, cells)
        return cells

    def _start_backfill(self, run_id: str) -> None:
        """Count the cells the run holds already (``start_run`` comes first) as a backfill's."""
        if run_id in self._backfills:
            return
        self._backfills.add(run_id)
        for cell in self._running.setdefault(run_id, set()):
            self._in_backfill[cell] = self._in_backfill.get(cell, 0) + 1
        self.changed.update(key for key, _ in self._running[run_id])

    def drain(self) -> set[Entity]:
        """The assets and checks whose facts changed since the last call."""
        changed, self.changed = self.changed, set()
        return changed

    def on_event(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            if event.origin is RunOrigin.BACKFILL:
                self._start_backfill(event.run_id)
            return
        if isinstance(event, RunFinished):
            for key, _ in self._release(event.run_id):
                self.changed.add(key)
            return
        if isinstance(event, AssetMaterialized | AssetObserved) and event.asset_key is not None:
            cell = (event.asset_key, event.partition_key)
            self.latest[cell] = event.seq
            self.last_time[event.asset_key] = event.timestamp
            self.newest[event.asset_key] = event.seq
            self.failed.discard(cell)
            self.changed.add(event.asset_key)
            return
        if isinstance(event, AssetCheckEvaluated) and event.asset_key and event.check_name:
            check = AssetCheckKey(event.asset_key, event.check_name)
            check_cell = (check, event.partition_key)
            self.check_latest[check_cell] = event.seq
            if event.error is not None:
                self.check_failed.add(check_cell)
                self.check_passed.pop(check_cell, None)
            else:
                self.check_failed.discard(check_cell)
                self.check_passed[check_cell] = event.passed
            self.changed.add(check)
            return
        if not isinstance(event, StepEvent) or event.asset_key is None:
            return
        entity: Entity = event.asset_key
        if event.check_name:
            entity = AssetCheckKey(event.asset_key, event.check_name)
        partitions = partitions_of(event)
        if isinstance(event, StepStarted):
            self._hold(event.run_id, [(entity, p) for p in partitions])
        elif isinstance(event, StepFailed) and not event.will_retry:
            if isinstance(entity, AssetCheckKey):
                for p in partitions:
                    self.check_failed.add((entity, p))
                    self.check_passed.pop((entity, p), None)
            else:
                self.failed.update((entity, p) for p in partitions)
        else:
            return
        self.changed.add(entity)


def _drop(counts: dict[EntityCell, int], cells: Iterable[EntityCell]) -> None:
    """One run fewer holds each of ``cells``."""
    for cell in cells:
        left = counts[cell] - 1
        if left:
            counts[cell] = left
        else:
            del counts[cell]
