"""``DagsterInstance``: the home's history as Dagster's instance answers it, synchronously.

Asset code calls ``context.instance.get_latest_materialization_event(key)`` and expects an
answer at once, from a worker thread or from an ``async def`` asset on the event loop. So the
instance never goes through the event store's connection (its writer is a coroutine on that
loop): it reads ``millrace.db`` on a read-only connection of the calling thread's own, which
WAL lets read beside the writer without waiting for it.

The writer commits in batches (up to 50 ms later), so the instance also keeps the
materializations published in this process that may not be committed yet (``on_event``, a
bus subscriber): a downstream step sees its upstream's materialization from the same run, as
in Dagster. Without a home (``materialize_to_memory``) those are all there is.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..declarations.keys import AssetKey, coerce_key
from ..declarations.metadata import metadata_from_json
from ..errors import MillraceError
from ..events import AssetMaterialized, Event, RunFinished, RunStarted, RunStatus
from .dynamic_partitions import DynamicPartitions
from .schema import DATABASE

# Dagster's record and run types load when a read first makes one: every Runtime has an
# instance, and a run whose assets never read it must not pay for them.
if TYPE_CHECKING:
    from ..automation.event_log import DagsterEventType, EventLogEntry, EventLogRecord
    from ..automation.run_status import DagsterRun, DagsterRunStatus

# The environment variable naming the home, as the CLI reads it (runtime.HOME_ENV).
_HOME_ENV = "MILLRACE_HOME"
# Published materializations kept for reads until the writer has surely committed them
# (it commits every 50 ms): far more than a run publishes in that time.
_RECENT = 16_384


@dataclass(frozen=True)
class AssetRecordsFilter:
    """Which materializations ``fetch_materializations`` returns: one asset's, optionally
    only some partitions, a time window (seconds since the epoch) or storage ids."""

    asset_key: AssetKey
    asset_partitions: Sequence[str] | None = None
    after_timestamp: float | None = None
    before_timestamp: float | None = None
    after_storage_id: int | None = None
    before_storage_id: int | None = None
    storage_ids: Sequence[int] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "asset_key", coerce_key(self.asset_key))


@dataclass(frozen=True)
class EventRecordsFilter:
    """``get_event_records``' filter (Dagster's older API): ``event_type`` must be
    ``DagsterEventType.ASSET_MATERIALIZATION``, the one kind of record kept here; the
    cursors are storage ids."""

    event_type: DagsterEventType
    asset_key: AssetKey | None = None
    asset_partitions: Sequence[str] | None = None
    after_cursor: Any = None
    before_cursor: Any = None
    after_timestamp: float | None = None
    before_timestamp: float | None = None
    storage_ids: Sequence[int] | None = None

    def __post_init__(self) -> None:
        from ..automation.event_log import DagsterEventType

        if self.event_type != DagsterEventType.ASSET_MATERIALIZATION:
            raise MillraceError(
                f"EventRecordsFilter(event_type={self.event_type!r}): Millrace keeps records "
                "of DagsterEventType.ASSET_MATERIALIZATION only"
            )
        if self.asset_key is not None:
            object.__setattr__(self, "asset_key", coerce_key(self.asset_key))


@dataclass(frozen=True)
class _Where:
    """The conditions of either filter, as one query and one test of a published record."""

    asset_key: AssetKey | None
    partitions: Sequence[str] | None = None
    after_timestamp: float | None = None
    before_timestamp: float | None = None
    after_id: int | None = None
    before_id: int | None = None
    ids: Sequence[int] | None = None

    @staticmethod
    def of(f: AssetRecordsFilter | EventRecordsFilter) -> _Where:
        if isinstance(f, AssetRecordsFilter):
            after, before = f.after_storage_id, f.before_storage_id
        else:
            after, before = _storage_id(f.after_cursor), _storage_id(f.before_cursor)
        return _Where(
            f.asset_key,
            f.asset_partitions,
            f.after_timestamp,
            f.before_timestamp,
            after,
            before,
            f.storage_ids,
        )

    def matches(self, record: EventLogRecord) -> bool:
        sid = record.storage_id
        return (
            (self.asset_key is None or record.asset_key == self.asset_key)
            and (self.partitions is None or record.partition_key in self.partitions)
            and (self.after_timestamp is None or record.timestamp > self.after_timestamp)
            and (self.before_timestamp is None or record.timestamp < self.before_timestamp)
            and (self.after_id is None or sid > self.after_id)
            and (self.before_id is None or sid < self.before_id)
            and (self.ids is None or sid in self.ids)
        )

    def clauses(self) -> Iterable[tuple[str, Sequence[Any]]]:
        if self.asset_key is not None:
            yield " AND m.asset_key = ?", [self.asset_key.to_user_string()]
        if self.partitions is not None:
            parts = list(self.partitions)
            yield f" AND m.partition_key IN ({', '.join('?' * len(parts))})", parts
        if self.after_timestamp is not None:
            yield " AND m.timestamp > ?", [self.after_timestamp]
        if self.before_timestamp is not None:
            yield " AND m.timestamp < ?", [self.before_timestamp]
        if self.after_id is not None:
            yield " AND m.event_id > ?", [self.after_id]
        if self.before_id is not None:
            yield " AND m.event_id < ?", [self.before_id]
        if self.ids is not None:
            ids = list(self.ids)
            yield f" AND m.event_id IN ({', '.join('?' * len(ids))})", ids

    def past(self, cursor: int | None, ascending: bool) -> _Where:
        """These conditions, from after a page's cursor on."""
        if cursor is None:
            return self
        if ascending:
            return replace(self, after_id=max(cursor, self.after_id or cursor))
        return replace(self, before_id=min(cursor, self.before_id or cursor))


@dataclass(frozen=True)
class EventRecordsResult:
    """One page of records; pass ``cursor`` back for the next while ``has_more``."""

    records: Sequence[EventLogRecord]
    cursor: str
    has_more: bool


class DagsterInstance(DynamicPartitions):
    """What assets, sensors and tests read of the history, with Dagster's names, plus the
    dynamic partitions' keys (``add_dynamic_partitions`` and the rest)."""

    def __init__(self, database: Path | None, *, readonly: bool = False) -> None:
        super().__init__(database, readonly=readonly)
        self._readers = threading.local()
        self._published: deque[AssetMaterialized] = deque(
            maxlen=None if database is None else _RECENT
        )
        # Runs started in this process, for the runs of a home-less runtime: start, status.
        self._runs: dict[str, tuple[RunStarted, RunStatus]] = {}
        self._temporary: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def ephemeral(cls, tempdir: str | os.PathLike[str] | None = None) -> DagsterInstance:
        """An instance over a home in a new temporary directory, removed with the instance
        (or by ``dispose()``), or in ``tempdir``, which is left in place:
        ``materialize(assets, instance=DagsterInstance.ephemeral())`` then reads back what
        the run recorded."""
        if tempdir is not None:
            return cls(Path(tempdir) / DATABASE)
        temporary = tempfile.TemporaryDirectory(prefix="millrace-instance-")
        instance = cls(Path(temporary.name) / DATABASE)
        instance._temporary = temporary
        return instance

    @classmethod
    def get(cls) -> DagsterInstance:
        """The instance of the home named by ``$MILLRACE_HOME`` (Dagster's ``$DAGSTER_HOME``)."""
        home = os.environ.get(_HOME_ENV)
        if not home:
            raise MillraceError(
                f"DagsterInstance.get() reads the home from ${_HOME_ENV}, which is not set: set "
                "it, or use DagsterInstance.ephemeral(), or context.instance inside an asset"
            )
        return cls(Path(home) / DATABASE)

    @property
    def home(self) -> Path | None:
        """The directory whose history this instance reads (None: in memory only)."""
        return None if self._database is None else self._database.parent

    def dispose(self) -> None:
        """Close this thread's connection; an ephemeral instance also removes its home."""
        reader: sqlite3.Connection | None = getattr(self._readers, "db", None)
        if reader is not None:
            reader.close()
            self._readers.db = None
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def __enter__(self) -> DagsterInstance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    def on_event(self, event: Event) -> None:
        """Keep a published materialization for reads until the writer has committed it (a
        bus subscriber: it never blocks)."""
        if isinstance(event, AssetMaterialized) and event.asset_key is not None:
            with self._lock:
                self._published.append(event)
        elif isinstance(event, RunStarted) and self._database is None:
            with self._lock:
                self._runs[event.run_id] = (event, RunStatus.STARTED)
        elif isinstance(event, RunFinished) and event.run_id in self._runs:
            with self._lock:
                started, _ = self._runs[event.run_id]
                self._runs[event.run_id] = (started, event.status)

    # -- reads -------------------------------------------------------------------------------

    def get_latest_materialization_event(self, asset_key: Any) -> EventLogEntry | None:
        """The newest materialization of the asset, of whichever partition; None if never."""
        return self.get_latest_materialization_events([asset_key])[coerce_key(asset_key)]

    def get_latest_materialization_events(
        self, asset_keys: Iterable[Any]
    ) -> Mapping[AssetKey, EventLogEntry | None]:
        from ..automation.event_log import record_of

        keys = [coerce_key(key) for key in asset_keys]
        found: dict[AssetKey, EventLogRecord | None] = dict.fromkeys(keys)
        for key in keys:
            rows = self._select(
                "SELECT event_id, run_id, timestamp, partition_key, metadata"
                " FROM latest_materializations WHERE asset_key = ? AND observed = 0"
                " ORDER BY timestamp DESC, event_id DESC LIMIT 1",
                (key.to_user_string(),),
            )
            found[key] = _stored_record(key, *rows[0]) if rows else None
        for event in self._recent():
            assert event.asset_key is not None
            if event.asset_key in found:
                newest = found[event.asset_key]
                if newest is None or (event.timestamp, event.seq) > (
                    newest.timestamp,
                    newest.storage_id,
                ):
                    found[event.asset_key] = record_of(event)
        return {key: None if r is None else r.event_log_entry for key, r in found.items()}

    def fetch_materializations(
        self,
        records_filter: AssetKey | AssetRecordsFilter,
        limit: int,
        cursor: str | None = None,
        ascending: bool = False,
    ) -> EventRecordsResult:
        """One page of an asset's materializations in storage-id order (newest first unless
        ``ascending``); ``cursor`` is the previous page's. Storage ids grow with time within
        a process; processes sharing a home number from blocks of their own."""
        if not isinstance(records_filter, AssetRecordsFilter):
            records_filter = AssetRecordsFilter(asset_key=coerce_key(records_filter))
        if not isinstance(limit, int) or limit < 1:
            raise MillraceError(
                f"fetch_materializations: limit must be a positive int, got {limit!r}"
            )
        where = _Where.of(records_filter).past(_cursor_id(cursor), ascending)
        page = self._records(where, limit + 1, ascending)
        has_more = len(page) > limit
        page = page[:limit]
        next_cursor = str(page[-1].storage_id) if page else (cursor or "")
        return EventRecordsResult(page, next_cursor, has_more)

    def get_event_records(
        self,
        event_records_filter: EventRecordsFilter,
        limit: int | None = None,
        ascending: bool = False,
    ) -> Sequence[EventLogRecord]:
        """Materializations (of every asset, or the filter's), newest first unless
        ``ascending``; Dagster's older form of ``fetch_materializations``."""
        if not isinstance(event_records_filter, EventRecordsFilter):
            raise MillraceError(
                f"get_event_records takes an EventRecordsFilter, got {event_records_filter!r}"
            )
        return self._records(_Where.of(event_records_filter), limit, ascending)

    def _records(self, where: _Where, limit: int | None, ascending: bool) -> list[EventLogRecord]:
        """Stored and published records meeting ``where``, in storage-id order, at most
        ``limit``: the stored ones up to the limit plus every published one that matches
        hold the first ``limit`` of all, whichever the writer has committed."""
        from ..automation.event_log import record_of

        sql = (
            "SELECT m.asset_key, m.event_id, m.run_id, m.timestamp, m.partition_key,"
            " json_extract(e.payload, '$.metadata')"
            " FROM materializations m JOIN events e ON e.id = m.event_id WHERE 1"
        )
        args: list[Any] = []
        for clause, value in where.clauses():
            sql += clause
            args.extend(value)
        sql += f" ORDER BY m.event_id {'ASC' if ascending else 'DESC'}"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        records = {
            row[1]: _stored_record(AssetKey.from_user_string(row[0]), *row[1:])
            for row in self._select(sql, args)
        }
        for event in self._recent():
            record = record_of(event)
            if where.matches(record):
                records.setdefault(record.storage_id, record)
        ordered = sorted(records.values(), key=lambda r: r.storage_id, reverse=not ascending)
        return ordered if limit is None else ordered[:limit]

    def get_materialized_partitions(self, asset_key: Any) -> set[str]:
        """The partitions of the asset materialized at least once."""
        key = coerce_key(asset_key)
        rows = self._select(
            "SELECT partition_key FROM latest_materializations"
            " WHERE asset_key = ? AND partition_key != '' AND observed = 0",
            (key.to_user_string(),),
        )
        found = {partition for (partition,) in rows}
        found.update(
            e.partition_key for e in self._recent() if e.asset_key == key and e.partition_key
        )
        return found

    def get_asset_keys(
        self,
        prefix: Sequence[str] | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Sequence[AssetKey]:
        """The keys of every materialized asset, in order of their ``a/b`` strings; ``prefix``
        keeps those whose path starts with it, ``cursor`` (a key's string) those after it."""
        names = {
            name
            for (name,) in self._select(
                "SELECT DISTINCT asset_key FROM latest_materializations WHERE observed = 0"
            )
        }
        names.update(e.asset_key.to_user_string() for e in self._recent() if e.asset_key)
        keys = [AssetKey.from_user_string(name) for name in sorted(names)]
        if prefix is not None:
            want = tuple(prefix)
            keys = [k for k in keys if tuple(k.path[: len(want)]) == want]
        if cursor is not None:
            keys = [k for k in keys if k.to_user_string() > cursor]
        return keys if limit is None else keys[:limit]

    def has_asset_key(self, asset_key: Any) -> bool:
        """Whether the asset was ever materialized."""
        return self.get_latest_materialization_event(asset_key) is not None

    def get_run_by_id(self, run_id: str) -> DagsterRun | None:
        """The run with this id (its status, tags), or None."""
        from ..automation.run_status import DagsterRun

        fields = self.run_fields(run_id)
        if fields is None:
            return None
        status, tags, run_config = fields
        return DagsterRun(run_id, status, None, tags, run_config)

    def run_fields(
        self, run_id: str
    ) -> tuple[DagsterRunStatus, dict[str, str], dict[str, Any]] | None:
        """A run's status, tags and resolved run config (what ``context.run_config`` is)."""
        from ..automation.run_status import DagsterRunStatus

        with self._lock:
            known = self._runs.get(run_id)
        if known is not None:
            started, status = known
            return DagsterRunStatus.of(status), dict(started.tags), dict(started.config)
        rows = self._select("SELECT status, tags, config FROM runs WHERE run_id = ?", (run_id,))
        if not rows:
            return None
        status_text, tags, config = rows[0]
        return DagsterRunStatus(status_text), json.loads(tags), json.loads(config)

    def _recent(self) -> list[AssetMaterialized]:
        with self._lock:
            return list(self._published)

    def _select(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Rows of a read; none while the home has no history yet."""
        reader = self._reader()
        if reader is None:
            return []
        try:
            return reader.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # a database no run has opened yet
                return []
            raise

    def _reader(self) -> sqlite3.Connection | None:
        reader: sqlite3.Connection | None = getattr(self._readers, "db", None)
        if reader is None and self._database is not None and self._database.is_file():
            uri = self._database.resolve().as_uri() + "?mode=ro"
            reader = sqlite3.connect(uri, uri=True, check_same_thread=False)
            reader.execute("PRAGMA busy_timeout=5000")  # WAL recovery may hold it a moment
            self._readers.db = reader
        return reader

    def __repr__(self) -> str:
        where = self.home if self._database is not None else "memory"
        return f"<DagsterInstance {where}>"


def _stored_record(
    key: AssetKey,
    event_id: int,
    run_id: str,
    timestamp: float,
    partition_key: str,
    metadata: str | None,
) -> EventLogRecord:
    from ..automation.event_log import AssetMaterialization, EventLogEntry, EventLogRecord

    materialization = AssetMaterialization(
        asset_key=key,
        metadata=metadata_from_json(json.loads(metadata)) if metadata else {},
        partition=partition_key or None,
    )
    entry = EventLogEntry(
        run_id=run_id,
        timestamp=timestamp,
        asset_materialization=materialization,
        step_key=key.to_user_string(),
    )
    return EventLogRecord(storage_id=event_id, event_log_entry=entry)


def _cursor_id(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    try:
        return int(cursor)
    except ValueError:
        raise MillraceError(
            f"fetch_materializations: cursor {cursor!r} is not one this instance returned "
            "(pass EventRecordsResult.cursor)"
        ) from None


def _storage_id(cursor: Any) -> int | None:
    """A cursor of EventRecordsFilter: a storage id, or Dagster's cursor object with ``id``."""
    if cursor is None or isinstance(cursor, int):
        return cursor
    found = getattr(cursor, "id", None)
    if not isinstance(found, int):
        raise MillraceError(f"EventRecordsFilter: a cursor is a storage id (int), got {cursor!r}")
    return found
