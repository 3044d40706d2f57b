"""The SQLite event store: runs, events, materializations with their provenance, and leases.

One writer per process drains the event bus in batches, one transaction per batch, so neither
the executor nor a UI ever waits on a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sqlite3
import time
from collections.abc import Collection, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

import aiosqlite

from ..definitions.keys import AssetKey
from ..definitions.metadata import MetadataValue, metadata_from_json
from ..errors import StorageError
from ..events import (
    AssetMaterialized,
    Event,
    InputVersion,
    RunFinished,
    RunStarted,
    RunStatus,
    event_from_record,
)
from ..versions.data import file_version
from .batch import write_batch
from .liveness import alive
from .records import (
    RUN_COLUMNS,
    CheckResultRecord,
    FailureRecord,
    LeaseHolder,
    MaterializationRecord,
    RunRecord,
    run_record,
)
from .schema import MIGRATIONS, SCHEMA_VERSION, statements

DATABASE = "millrace.db"
BATCH_INTERVAL = 0.05  # seconds events may wait to share a transaction
INTERRUPTED = "the process running this run exited before it finished"
# Event ids each open store reserves: enough that no process ever needs a second block, and
# int64 ids leave room for two billion opens.
ID_BLOCK = 1 << 32

# Runs this process is executing now: a store opened beside them must not think them dead.
_LIVE_RUNS: set[str] = set()


class EventIds(Iterator[int]):
    """Event ids from a block reserved in the database, unique across processes."""

    def __init__(self, path: Path, start: int, end: int) -> None:
        self._path = path
        self._next, self._end = start, end

    def __next__(self) -> int:
        if self._next >= self._end:  # four billion events later: reserve again, once
            with contextlib.closing(sqlite3.connect(self._path, isolation_level=None)) as db:
                db.execute("PRAGMA busy_timeout=5000")
                row = db.execute(_RESERVE, (ID_BLOCK,)).fetchone()
                self._next = int(row[0]) - ID_BLOCK
                self._end = self._next + ID_BLOCK
        n = self._next
        self._next += 1
        return n


_RESERVE = "UPDATE meta SET value = value + ? WHERE name = 'next_event_id' RETURNING value"


class EventStore:
    """Async access to ``<home>/millrace.db``; use ``async with await EventStore.open(home)``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self.ids: EventIds = EventIds(path, 0, 0)
        self._pending: list[Event] = []
        self._values: dict[int, bytes] = {}  # small stored values, by id() of their event
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._urgent = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._error: Exception | None = None

    @classmethod
    async def open(cls, home: Path, *, readonly: bool = False) -> EventStore:
        """Open (creating, migrating and repairing) the history in ``home``.

        ``readonly`` is for commands that only read: the database is opened read-only, so a
        home that is not writable still answers. Only when something needs writing (an older
        schema to migrate, runs of dead processes to mark failed) is it opened read-write,
        if the home allows; otherwise what is there is read as it is."""
        path = home / DATABASE
        if not readonly:
            return await cls._open_writable(home, path)
        store = await cls._open_readonly(home, path)
        if store is not None and not await store._needs_repair():
            return store
        if store is not None:
            await store.close()
        try:
            return await cls._open_writable(home, path)
        except StorageError:
            if store is None:  # an older schema, and no way to migrate it
                raise
        reopened = await cls._open_readonly(home, path)
        assert reopened is not None
        return reopened

    @classmethod
    async def _open_writable(cls, home: Path, path: Path) -> EventStore:
        try:
            home.mkdir(parents=True, exist_ok=True)
            db = await aiosqlite.connect(path, isolation_level=None)
        except (OSError, sqlite3.OperationalError) as exc:
            raise _unwritable(home, exc) from exc
        store = cls(db, path)
        try:
            await store._prepare()
        except BaseException as exc:
            await db.close()  # else its worker thread outlives the loop
            _raise_clearly(home, path, exc)
        store._writer = asyncio.get_running_loop().create_task(store._drain_forever())
        return store

    @classmethod
    async def _open_readonly(cls, home: Path, path: Path) -> EventStore | None:
        """A read-only store, or None if the schema is older and must be migrated first."""
        if home.exists() and not home.is_dir():
            raise _unwritable(home, NotADirectoryError(home))
        if not path.is_file():
            raise StorageError(f"no Millrace history in {home}")
        uri = path.resolve().as_uri()
        try:
            db, version = await _connect_readonly(f"{uri}?mode=ro")
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc):
                _raise_clearly(home, path, exc)
            # ``mode=ro`` needs the WAL's shared-memory file, which a read-only directory may
            # not let SQLite create; ``immutable=1`` reads the file as it is, without locks.
            try:
                db, version = await _connect_readonly(f"{uri}?immutable=1")
            except BaseException as again:
                _raise_clearly(home, path, again)
        except BaseException as exc:
            _raise_clearly(home, path, exc)
        if version == SCHEMA_VERSION:
            return cls(db, path)
        await db.close()
        if version > SCHEMA_VERSION:
            raise _newer_schema(path, version)
        return None

    async def __aenter__(self) -> EventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _prepare(self) -> None:
        db = self._db
        await db.execute("PRAGMA busy_timeout=5000")  # first: other processes may be opening
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        # One transaction reads the schema version, migrates and reserves this process's
        # event ids, so processes opening a fresh home at once migrate it exactly once.
        await db.execute("BEGIN IMMEDIATE")
        try:
            async with db.execute("PRAGMA user_version") as cur:
                row = await cur.fetchone()
            version = row[0] if row else 0
            if version > SCHEMA_VERSION:
                raise _newer_schema(self.path, version)
            for number in range(version, SCHEMA_VERSION):
                for statement in statements(MIGRATIONS[number]):
                    await db.execute(statement)
            if version != SCHEMA_VERSION:
                await db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            async with db.execute(_RESERVE, (ID_BLOCK,)) as cur:
                row = await cur.fetchone()
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        assert row is not None
        first = int(row[0]) - ID_BLOCK
        self.ids = EventIds(self.path, first, first + ID_BLOCK)
        await self._fail_interrupted_runs()

    async def _interrupted_runs(self) -> list[str]:
        """Runs still STARTED whose process died (crash, kill -9): they can never finish."""
        host = socket.gethostname()
        rows = await self._rows(
            "SELECT run_id, pid, hostname FROM runs WHERE status = ?", (RunStatus.STARTED.value,)
        )
        return [
            run_id
            for run_id, pid, hostname in rows
            if hostname == host and run_id not in _LIVE_RUNS and not _alive(pid)
        ]

    async def _needs_repair(self) -> bool:
        return bool(await self._interrupted_runs())

    async def _fail_interrupted_runs(self) -> None:
        """Mark the runs of dead processes as failed, after making the history describe what
        they left in storage."""
        dead = await self._interrupted_runs()
        if not dead:
            return
        recovered = await self._orphaned_values(dead)
        finished: list[Event] = [
            *recovered,
            *(RunFinished(run_id=r, status=RunStatus.FAILURE, message=INTERRUPTED) for r in dead),
        ]
        for event in finished:
            object.__setattr__(event, "seq", next(self.ids))
        await write_batch(self._db, finished, {}, time.time())

    async def _orphaned_values(self, dead: list[str]) -> list[Event]:
        """What a killed run stored but never recorded: a run is killed between putting a
        file in place and committing its materialization (at most one batch interval), and
        the file is then newer than its record. Each such file is recorded as the dead run's,
        without provenance (its code and inputs are unknown), so the asset shows as stale;
        a recorded file it removed is no longer claimed."""
        marks = ", ".join("?" * len(dead))
        runs = await self._rows(
            f"SELECT run_id, selection FROM runs WHERE run_id IN ({marks}) ORDER BY start_time",
            dead,
        )
        writer = {name: run_id for run_id, names in runs for name in json.loads(names)}
        latest = await self.latest_materializations(k for k in writer if ":" not in k)
        events: list[Event] = []
        for key, record in latest.items():
            path = record.metadata.get("path")
            if path is None or record.run_id in dead:
                continue  # a small value commits with its record; a dead run's own is true
            stored = Path(str(path.value))
            if not stored.exists():
                await self._db.execute(
                    "DELETE FROM latest_materializations WHERE event_id = ?", (record.event_id,)
                )
                continue
            version = await asyncio.to_thread(file_version, stored)
            if version == record.data_version:
                continue
            metadata = {
                "path": path,
                "millrace/size_bytes": MetadataValue.int(stored.stat().st_size),
                "millrace/interrupted": MetadataValue.text(
                    "stored by a run whose process was killed before recording it"
                ),
            }
            events.append(
                AssetMaterialized(
                    run_id=writer[key],
                    asset_key=AssetKey.from_user_string(key),
                    metadata=metadata,
                    data_version=version,
                    recovered=True,
                )
            )
        return events

    # -- writing ---------------------------------------------------------------------------

    def append(self, event: Event) -> None:
        """Queue an event for the writer; a bus subscriber, so it never blocks. An event
        that did not come through the bus gets its id here."""
        if not event.seq:
            object.__setattr__(event, "seq", next(self.ids))
        if isinstance(event, RunStarted):
            _LIVE_RUNS.add(event.run_id)
        elif isinstance(event, RunFinished):
            _LIVE_RUNS.discard(event.run_id)
        elif isinstance(event, AssetMaterialized) and "path" in event.metadata:
            # A file already replaced the last one: record it now, not in up to 50 ms, so a
            # crash rarely finds the file newer than its record (recovery records it then).
            self._urgent.set()
        self._pending.append(event)
        self._idle.clear()
        self._wakeup.set()

    def stage_value(self, event: Event, data: bytes) -> None:
        """Commit ``data`` (a small stored value) in the transaction of ``event``, its
        materialization, appended next; the value never travels on the bus."""
        self._values[id(event)] = data

    async def flush(self) -> None:
        """Wait until every event appended so far is committed; raise if writing failed."""
        if self._pending or not self._idle.is_set():
            self._urgent.set()
            self._wakeup.set()
            await self._idle.wait()
        if self._error is not None:
            raise StorageError(
                f"writing events to {self.path} failed: {self._error}"
            ) from self._error

    async def _drain_forever(self) -> None:
        while True:
            await self._wakeup.wait()
            if not self._urgent.is_set():
                # Let events gather: one transaction per interval, not per step. Views read
                # the bus, not the database, so nobody waits on this delay; flush() skips it.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._urgent.wait(), BATCH_INTERVAL)
            self._wakeup.clear()
            self._urgent.clear()
            while self._pending:
                batch, self._pending = self._pending, []
                staged = [id(e) for e in batch if id(e) in self._values]
                values = {k: self._values.pop(k) for k in staged}
                try:
                    await write_batch(self._db, batch, values)
                except Exception as exc:  # keep draining: one bad batch must not hang flush()
                    self._error = exc
            self._idle.set()

    async def acquire_leases(
        self, run_id: str, keys: Collection[tuple[str, str | None]]
    ) -> list[LeaseHolder]:
        """Lease ``keys`` (asset, partition) for ``run_id``, all or none: returns the live
        runs of other processes holding some of them (empty: acquired). Leases of dead
        processes on this host are reclaimed; the run's leases end with its RUN_FINISHED."""
        wanted = {(k, p or "") for k, p in keys}
        host, pid = socket.gethostname(), os.getpid()
        db = self._db
        await db.execute("BEGIN IMMEDIATE")
        try:
            async with db.execute(
                "SELECT asset_key, partition_key, run_id, pid, hostname FROM leases"
            ) as cur:
                rows = list(await cur.fetchall())
            holders, dead = [], set()
            for asset_key, partition_key, holder, holder_pid, hostname in rows:
                if (asset_key, partition_key) not in wanted or holder_pid == pid:
                    continue  # runs of this process are ordered by its own write locks
                if hostname == host and not _alive(holder_pid):
                    dead.add(holder)
                else:
                    holders.append(
                        LeaseHolder(asset_key, partition_key or None, holder, holder_pid, hostname)
                    )
            if dead:
                await db.executemany(
                    "DELETE FROM leases WHERE run_id = ?", [(r,) for r in sorted(dead)]
                )
            if not holders:
                now = time.time()
                await db.executemany(
                    "INSERT OR IGNORE INTO leases (asset_key, partition_key, run_id, pid,"
                    " hostname, acquired) VALUES (?, ?, ?, ?, ?, ?)",
                    [(k, p, run_id, pid, host, now) for k, p in sorted(wanted)],
                )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise
        return holders

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                await self.flush()
        finally:
            # Always close: aiosqlite's thread is not a daemon, a leaked one hangs the exit.
            if self._writer is not None:
                self._writer.cancel()
                await asyncio.gather(self._writer, return_exceptions=True)
            await self._db.close()

    # -- reading ---------------------------------------------------------------------------

    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            async with self._db.execute(sql, args) as cur:
                return list(await cur.fetchall())
        except sqlite3.DatabaseError as exc:  # a page went bad after it opened
            _raise_clearly(self.path.parent, self.path, exc)

    async def runs(self, limit: int = 50, status: RunStatus | None = None) -> list[RunRecord]:
        where, args = ("WHERE status = ? ", [status.value]) if status else ("", [])
        rows = await self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs {where}ORDER BY start_time DESC LIMIT ?",
            [*args, limit],
        )
        return [run_record(row) for row in rows]

    async def run(self, run_id: str) -> RunRecord | None:
        """A run by its id or by a unique prefix of it (``millrace logs 3f2a``)."""
        rows = await self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id LIKE ? LIMIT 2", (run_id + "%",)
        )
        return run_record(rows[0]) if len(rows) == 1 else None

    async def events(
        self,
        run_id: str,
        kinds: Iterable[str] | None = None,
        *,
        after_seq: int = 0,
        limit: int | None = None,
    ) -> list[Event]:
        """A run's events in the order they were published, after ``after_seq``."""
        sql = (
            "SELECT type, run_id, asset_key, partition_key, check_name, timestamp, payload, id"
            " FROM events WHERE run_id = ? AND id > ?"
        )
        args: list[Any] = [run_id, after_seq]
        if kinds is not None:
            kinds = list(kinds)
            sql += f" AND type IN ({', '.join('?' * len(kinds))})"
            args.extend(kinds)
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [
            event_from_record(t, r, a, p, c, ts, json.loads(pl), seq)
            for t, r, a, p, c, ts, pl, seq in await self._rows(sql, args)
        ]

    async def latest_materializations(
        self, keys: Iterable[str] | None = None
    ) -> dict[str, MaterializationRecord]:
        """The newest materialization of every unpartitioned asset (or of ``keys``), by user
        key string, with what it consumed."""
        wanted = None if keys is None else set(keys)
        rows = [
            r
            for r in await self._rows(
                f"SELECT {_HISTORY_COLUMNS}, metadata FROM latest_materializations"
                " WHERE partition_key = ''"
            )
            if wanted is None or r[1] in wanted
        ]
        return {r.asset_key: r for r in await self._records(rows)}

    async def materializations(self, event_ids: Iterable[int]) -> dict[int, MaterializationRecord]:
        """Materializations by event id, with what each consumed (for lineage)."""
        ids = sorted(set(event_ids))
        if not ids:
            return {}
        rows: list[Any] = []
        for chunk in _chunks(ids):
            rows += await self._rows(
                f"SELECT {_HISTORY_COLUMNS} FROM materializations"
                f" WHERE event_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        return {r.event_id: r for r in await self._records(rows) if r.event_id is not None}

    async def asset_history(self, asset_key: str, limit: int = 20) -> list[MaterializationRecord]:
        """An unpartitioned asset's materializations, newest first."""
        rows = await self._rows(
            f"SELECT {_HISTORY_COLUMNS} FROM materializations"
            " WHERE asset_key = ? AND partition_key = '' ORDER BY timestamp DESC LIMIT ?",
            (asset_key, limit),
        )
        return await self._records(rows)

    async def _records(self, rows: list[Any]) -> list[MaterializationRecord]:
        """Rows of ``_HISTORY_COLUMNS`` (then ``metadata``, from the latest table) as records,
        with what each consumed."""
        inputs = await self._inputs([r[0] for r in rows if r[8]])
        return [
            MaterializationRecord(
                asset_key=r[1],
                partition_key=r[2] or None,
                run_id=r[3],
                timestamp=r[4],
                code_version=r[5],
                data_version=r[6],
                metadata=metadata_from_json(json.loads(r[9])) if len(r) > 9 else {},
                config=json.loads(r[7]) if r[7] else None,
                event_id=r[0],
                inputs=inputs.get(r[0], ()) if r[8] else None,
            )
            for r in rows
        ]

    async def _inputs(self, event_ids: list[int]) -> dict[int, tuple[InputVersion, ...]]:
        found: dict[int, list[InputVersion]] = {}
        for chunk in _chunks(sorted(set(event_ids))):
            for event_id, key, partition, version, input_event in await self._rows(
                "SELECT event_id, asset_key, partition_key, data_version, input_event_id"
                f" FROM materialization_inputs WHERE event_id IN ({', '.join('?' * len(chunk))})"
                " ORDER BY event_id, asset_key",
                chunk,
            ):
                found.setdefault(event_id, []).append(
                    InputVersion(
                        AssetKey.from_user_string(key), partition or None, version, input_event
                    )
                )
        return {k: tuple(v) for k, v in found.items()}

    async def failures(self) -> dict[str, FailureRecord]:
        """Unpartitioned assets whose last attempt failed, by user key string."""
        rows = await self._rows(
            "SELECT asset_key, partition_key, run_id, event_id, timestamp, error"
            " FROM asset_failures WHERE partition_key = ''"
        )
        return {r[0]: FailureRecord(r[0], r[1] or None, r[2], r[3], r[4], r[5]) for r in rows}

    async def latest_check_results(self) -> dict[str, list[CheckResultRecord]]:
        """The newest result of every check of unpartitioned assets, by asset key string."""
        rows = await self._rows(
            "SELECT asset_key, check_name, run_id, timestamp, passed, severity, blocking,"
            " description, metadata, error FROM latest_check_results WHERE partition_key = ''"
            " ORDER BY asset_key, check_name"
        )
        out: dict[str, list[CheckResultRecord]] = {}
        for row in rows:
            out.setdefault(row[0], []).append(
                CheckResultRecord(
                    asset_key=row[0],
                    check_name=row[1],
                    run_id=row[2],
                    timestamp=row[3],
                    passed=bool(row[4]),
                    severity=row[5],
                    blocking=bool(row[6]),
                    description=row[7],
                    metadata=metadata_from_json(json.loads(row[8])),
                    error=json.loads(row[9]) if row[9] else None,
                )
            )
        return out


_HISTORY_COLUMNS = (
    "event_id, asset_key, partition_key, run_id, timestamp, code_version, data_version, config,"
    " has_provenance"
)


def _unwritable(home: Path, exc: BaseException) -> StorageError:
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    database = home / DATABASE
    if home.exists() and not home.is_dir():
        reason = "it is a file, not a directory"
    elif home.is_dir() and not os.access(home, os.W_OK):
        reason = "permission denied: the directory is not writable"
    elif database.exists() and not os.access(database, os.W_OK):
        reason = f"permission denied: {database} is read-only"
    return StorageError(
        f"cannot keep history in {home}: {reason}; make it writable, or choose another home "
        "with --home or MILLRACE_HOME"
    )


def _newer_schema(path: Path, version: int) -> StorageError:
    return StorageError(
        f"{path} has schema version {version}, newer than this Millrace ({SCHEMA_VERSION}): "
        "upgrade Millrace to read it"
    )


CORRUPT_HINT = (
    "the file is left untouched; 'millrace doctor --repair' moves it aside, starts a fresh "
    "history and keeps what can still be read of it (stored files stay where they are)"
)


async def _connect_readonly(uri: str) -> tuple[aiosqlite.Connection, int]:
    """A read-only connection and the schema version (reading it proves the file opens)."""
    db = await aiosqlite.connect(uri, uri=True, isolation_level=None)
    try:
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
    except BaseException:
        await db.close()
        raise
    return db, row[0] if row else 0


def _raise_clearly(home: Path, path: Path, exc: BaseException) -> NoReturn:
    """Raise the clear error for a database that cannot be used, else ``exc`` as it is."""
    error = _open_error(home, path, exc)
    if error is exc:
        raise exc
    raise error from exc


def _open_error(home: Path, path: Path, exc: BaseException) -> BaseException:
    if isinstance(exc, StorageError):
        return exc
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError) and (
        "readonly" in text or "unable to open" in text or "attempt to write" in text
    ):
        return _unwritable(home, exc)
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return StorageError(f"{path} is not a readable Millrace database ({text}); {CORRUPT_HINT}")
    if isinstance(exc, sqlite3.OperationalError) and "malformed" in text:
        return StorageError(f"{path} is damaged ({text}); {CORRUPT_HINT}")
    return exc


def _chunks(ids: list[int], size: int = 500) -> Iterator[list[int]]:
    """SQLite caps the parameters of one statement: ask in chunks."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _alive(pid: int | None) -> bool:
    # Our own pid, not in _LIVE_RUNS: an earlier process that had it.
    return pid != os.getpid() and alive(pid)
