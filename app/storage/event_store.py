"""The SQLite event store: runs, events, materializations with their provenance, and leases.

One writer per process drains the event bus in batches, one transaction per batch, so neither
the executor nor a UI ever waits on a commit. The store's one connection lives on its own
thread (``connection.py``): a batch, a lease or a query is one hop there and back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import os
import socket
import sqlite3
import time
from collections.abc import Collection, Iterator
from pathlib import Path

from ..declarations.keys import AssetKey
from ..declarations.metadata import MetadataValue
from ..errors import StorageError
from ..events import (
    AssetMaterialized,
    Event,
    RunFinished,
    RunStarted,
    RunStatus,
)
from ..versions.data import file_version
from .batch import flag_readers, transaction, write_batch, write_rows
from .connection import ThreadConnection
from .faults import newer_schema, raise_clearly, unwritable
from .history import History
from .liveness import alive
from .records import (
    LeaseHolder,
)
from .schema import DATABASE, MIGRATIONS, SCHEMA_VERSION, statements

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


def _wal_mode(db: sqlite3.Connection, attempts: int = 50) -> None:
    """Switch a home's database to WAL. The switch needs the database to itself, and SQLite
    can refuse it at once ("database is locked", its busy wait not applied) while another
    process opening the same fresh home holds it: wait and try again, a few seconds at most
    (on the store's own thread, not the loop)."""
    for attempt in range(attempts):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _prepare(db: sqlite3.Connection, path: Path) -> int:
    """Make a writable connection's database current; the first event id reserved."""
    db.execute("PRAGMA busy_timeout=5000")  # first: other processes may be opening
    _wal_mode(db)
    db.execute("PRAGMA synchronous=NORMAL")
    # One transaction reads the schema version, migrates and reserves this process's
    # event ids, so processes opening a fresh home at once migrate it exactly once.
    with transaction(db):
        row = db.execute("PRAGMA user_version").fetchone()
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise newer_schema(path, version)
        for number in range(version, SCHEMA_VERSION):
            for statement in statements(MIGRATIONS[number]):
                db.execute(statement)
        if version != SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        row = db.execute(_RESERVE, (ID_BLOCK,)).fetchone()
    return int(row[0]) - ID_BLOCK


class EventStore(History):
    """Async access to ``<home>/millrace.db``; use ``async with await EventStore.open(home)``."""

    def __init__(self, db: ThreadConnection, path: Path) -> None:
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
            db = await ThreadConnection.open(
                functools.partial(sqlite3.connect, path, isolation_level=None), f"store {path}"
            )
        except (OSError, sqlite3.OperationalError) as exc:
            raise unwritable(home, exc) from exc
        store = cls(db, path)
        try:
            first = await db.run(functools.partial(_prepare, path=path))
            store.ids = EventIds(path, first, first + ID_BLOCK)
            await store._fail_interrupted_runs()
        except BaseException as exc:
            await db.close()
            raise_clearly(home, path, exc)
        store._writer = asyncio.get_running_loop().create_task(store._drain_forever())
        return store

    @classmethod
    async def _open_readonly(cls, home: Path, path: Path) -> EventStore | None:
        """A read-only store, or None if the schema is older and must be migrated first."""
        if home.exists() and not home.is_dir():
            raise unwritable(home, NotADirectoryError(home))
        if not path.is_file():
            raise StorageError(f"no Millrace history in {home}")
        uri = path.resolve().as_uri()
        try:
            db, version = await _connect_readonly(f"{uri}?mode=ro")
        except sqlite3.OperationalError as exc:
            if "unable to open" not in str(exc):
                raise_clearly(home, path, exc)
            # ``mode=ro`` needs the WAL's shared-memory file, which a read-only directory may
            # not let SQLite create; ``immutable=1`` reads the file as it is, without locks.
            try:
                db, version = await _connect_readonly(f"{uri}?immutable=1")
            except BaseException as again:
                raise_clearly(home, path, again)
        except BaseException as exc:
            raise_clearly(home, path, exc)
        if version == SCHEMA_VERSION:
            return cls(db, path)
        await db.close()
        if version > SCHEMA_VERSION:
            raise newer_schema(path, version)
        return None

    async def __aenter__(self) -> EventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

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
        recovered, gone = await self._orphaned_values(dead)
        finished: list[Event] = [
            *recovered,
            *(RunFinished(run_id=r, status=RunStatus.FAILURE, message=INTERRUPTED) for r in dead),
        ]
        for event in finished:
            object.__setattr__(event, "seq", next(self.ids))
        await self._db.run(
            functools.partial(_repair, gone=gone, finished=finished, now=time.time())
        )

    async def _orphaned_values(
        self, dead: list[str]
    ) -> tuple[list[Event], list[tuple[str, int | None]]]:
        """What a killed run stored but never recorded: a run is killed between putting a
        file in place and committing its materialization (at most one batch interval), and
        the file is then newer than its record. Each such file is recorded as the dead run's,
        without provenance (its code and inputs are unknown), so the asset shows as stale;
        a recorded file it removed is no longer claimed: returned as (asset, event id) of its
        latest record, to be deleted."""
        marks = ", ".join("?" * len(dead))
        runs = await self._rows(
            f"SELECT run_id, selection FROM runs WHERE run_id IN ({marks}) ORDER BY start_time",
            dead,
        )
        writer = {name: run_id for run_id, names in runs for name in json.loads(names)}
        latest = await self.latest_materializations(k for k in writer if ":" not in k)
        events: list[Event] = []
        gone: list[tuple[str, int | None]] = []
        for key, record in latest.items():
            path = record.metadata.get("path")
            if path is None or record.run_id in dead:
                continue  # a small value commits with its record; a dead run's own is true
            stored = Path(str(path.value))
            if not stored.exists():
                gone.append((key, record.event_id))
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
        return events, gone

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
                await self._write_pending()
            self._idle.set()

    async def _write_pending(self) -> None:
        """What is pending, in one transaction; a method so that its events are let go once
        written (a long run's last batch is not kept alive until the next one)."""
        batch, self._pending = self._pending, []
        staged = [id(e) for e in batch if id(e) in self._values]
        values = {k: self._values.pop(k) for k in staged}
        try:
            await self._db.run(functools.partial(write_batch, batch=batch, values=values))
        except Exception as exc:  # keep draining: one bad batch must not hang flush()
            self._error = exc

    async def acquire_leases(
        self, run_id: str, keys: Collection[tuple[str, str | None]]
    ) -> list[LeaseHolder]:
        """Lease ``keys`` (asset, partition) for ``run_id``, all or none: returns the live
        runs of other processes holding some of them (empty: acquired). Leases of dead
        processes on this host are reclaimed; the run's leases end with its RUN_FINISHED."""
        wanted = {(k, p or "") for k, p in keys}
        return await self._db.run(functools.partial(_acquire, run_id=run_id, wanted=wanted))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            if self._writer is not None:
                await self.flush()
        finally:
            if self._writer is not None:
                self._writer.cancel()
                await asyncio.gather(self._writer, return_exceptions=True)
            await self._db.close()


def _repair(
    db: sqlite3.Connection, gone: list[tuple[str, int | None]], finished: list[Event], now: float
) -> None:
    """In one transaction: forget the records of files a dead run removed, and record what
    it left (``finished``: recovered materializations, then the runs' failures)."""
    with transaction(db):
        db.executemany(
            "DELETE FROM latest_materializations WHERE event_id = ?", [(i,) for _, i in gone]
        )
        flag_readers(db, [(key, "", None) for key, _ in gone])
        write_rows(db, finished, {}, now)


def _acquire(
    db: sqlite3.Connection, run_id: str, wanted: set[tuple[str, str]]
) -> list[LeaseHolder]:
    host, pid = socket.gethostname(), os.getpid()
    with transaction(db):
        rows = db.execute(
            "SELECT asset_key, partition_key, run_id, pid, hostname FROM leases"
        ).fetchall()
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
            db.executemany("DELETE FROM leases WHERE run_id = ?", [(r,) for r in sorted(dead)])
        if not holders:
            now = time.time()
            db.executemany(
                "INSERT OR IGNORE INTO leases (asset_key, partition_key, run_id, pid,"
                " hostname, acquired) VALUES (?, ?, ?, ?, ?, ?)",
                [(k, p, run_id, pid, host, now) for k, p in sorted(wanted)],
            )
    return holders


async def _connect_readonly(uri: str) -> tuple[ThreadConnection, int]:
    """A read-only connection and the schema version (reading it proves the file opens)."""
    db = await ThreadConnection.open(
        functools.partial(sqlite3.connect, uri, uri=True, isolation_level=None),
        f"store {uri}",
    )
    try:
        row = await db.run(lambda conn: conn.execute("PRAGMA user_version").fetchone())
    except BaseException:
        await db.close()
        raise
    return db, row[0] if row else 0


def _alive(pid: int | None) -> bool:
    # Our own pid, not in _LIVE_RUNS: an earlier process that had it.
    return pid != os.getpid() and alive(pid)
