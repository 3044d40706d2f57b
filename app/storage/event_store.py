"""The SQLite event store: runs, events and the latest materialization of every asset.

One writer per process drains the event bus in batches, one transaction per batch, so neither
the executor nor a UI ever waits on a commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from ..definitions.metadata import MetadataValue, metadata_from_json, metadata_to_json
from ..events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    Event,
    RunFinished,
    RunStarted,
    RunStatus,
    event_from_record,
)
from .schema import MIGRATIONS, SCHEMA_VERSION

DATABASE = "millrace.db"
BATCH_INTERVAL = 0.05  # seconds events may wait to share a transaction
INTERRUPTED = "the process running this run exited before it finished"

# Runs this process is executing now: a store opened beside them must not think them dead.
_LIVE_RUNS: set[str] = set()


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    selection: tuple[str, ...]
    config: dict[str, Any]
    tags: dict[str, str]
    start_time: float
    end_time: float | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "selection": list(self.selection),
            "config": self.config,
            "tags": self.tags,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class MaterializationRecord:
    asset_key: str
    partition_key: str | None
    run_id: str
    timestamp: float
    code_version: str | None
    data_version: str | None
    metadata: dict[str, MetadataValue]
    config: dict[str, Any] | None = None


class EventStore:
    """Async access to ``<home>/millrace.db``; use ``async with EventStore.open(home) as store``."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        self._pending: list[Event] = []
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._urgent = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._closed = False
        self._error: Exception | None = None

    @classmethod
    async def open(cls, home: Path) -> EventStore:
        home.mkdir(parents=True, exist_ok=True)
        path = home / DATABASE
        db = await aiosqlite.connect(path, isolation_level=None)
        store = cls(db, path)
        try:
            await store._prepare()
        except BaseException:
            await db.close()  # else its worker thread outlives the loop (newer schema, I/O error)
            raise
        store._writer = asyncio.get_running_loop().create_task(store._drain_forever())
        return store

    async def __aenter__(self) -> EventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _prepare(self) -> None:
        db = self._db
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        await db.execute("PRAGMA busy_timeout=5000")
        async with db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = row[0] if row else 0
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {version}, newer than this Millrace "
                f"({SCHEMA_VERSION}); upgrade Millrace"
            )
        for number in range(version, SCHEMA_VERSION):
            # executescript commits first, so wrap each migration in its own transaction.
            await db.executescript(
                f"BEGIN IMMEDIATE; {MIGRATIONS[number]} PRAGMA user_version = {number + 1}; COMMIT;"
            )
        await self._fail_interrupted_runs()

    async def _fail_interrupted_runs(self) -> None:
        """Mark runs whose process died (crash, kill -9) as failed: they can never finish."""
        host = socket.gethostname()
        async with self._db.execute(
            "SELECT run_id, pid, hostname FROM runs WHERE status = ?", (RunStatus.STARTED.value,)
        ) as cur:
            rows = await cur.fetchall()
        dead = [
            run_id
            for run_id, pid, hostname in rows
            if hostname == host and run_id not in _LIVE_RUNS and not _alive(pid)
        ]
        if not dead:
            return
        now = time.time()
        finished = [
            RunFinished(run_id=r, status=RunStatus.FAILURE, message=INTERRUPTED) for r in dead
        ]
        await self._write_batch(finished, now)

    # -- writing ---------------------------------------------------------------------------

    def append(self, event: Event) -> None:
        """Queue an event for the writer; a bus subscriber, so it never blocks."""
        if isinstance(event, RunStarted):
            _LIVE_RUNS.add(event.run_id)
        elif isinstance(event, RunFinished):
            _LIVE_RUNS.discard(event.run_id)
        self._pending.append(event)
        self._idle.clear()
        self._wakeup.set()

    async def flush(self) -> None:
        """Wait until every event appended so far is committed; raise if writing failed."""
        if self._pending or not self._idle.is_set():
            self._urgent.set()
            self._wakeup.set()
            await self._idle.wait()
        if self._error is not None:
            raise RuntimeError(f"writing events to {self.path} failed") from self._error

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
                try:
                    await self._write_batch(batch)
                except Exception as exc:  # keep draining: one bad batch must not hang flush()
                    self._error = exc
            self._idle.set()

    async def _write_batch(self, batch: Sequence[Event], now: float | None = None) -> None:
        db = self._db
        await db.execute("BEGIN IMMEDIATE")
        try:
            for event in batch:
                if isinstance(event, RunStarted):
                    await db.execute(
                        "INSERT INTO runs (run_id, status, selection, config, tags, start_time,"
                        " pid, hostname) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            event.run_id,
                            RunStatus.STARTED.value,
                            json.dumps(list(event.selection)),
                            json.dumps(event.config, default=str),
                            json.dumps(event.tags),
                            event.timestamp,
                            os.getpid(),
                            socket.gethostname(),
                        ),
                    )
                elif isinstance(event, RunFinished):
                    await db.execute(
                        "UPDATE runs SET status = ?, end_time = ?, message = ? WHERE run_id = ?",
                        (event.status.value, now or event.timestamp, event.message, event.run_id),
                    )
            rows = [_event_row(e) for e in batch]
            await db.executemany(
                "INSERT INTO events (run_id, asset_key, partition_key, check_name, type,"
                " timestamp, payload) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            evaluations = [e for e in batch if isinstance(e, AssetCheckEvaluated)]
            if evaluations:
                await db.executemany(
                    "INSERT OR REPLACE INTO latest_check_results (asset_key, check_name,"
                    " partition_key, run_id, timestamp, passed, severity, blocking, description,"
                    " metadata, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [_check_row(e) for e in evaluations],
                )
            materialized = [e for e in batch if isinstance(e, AssetMaterialized)]
            if materialized:
                # A small value commits with its materialization; a value stored elsewhere
                # (a file) leaves no stale copy behind.
                await db.executemany(
                    "INSERT OR REPLACE INTO asset_values (asset_key, partition_key, data)"
                    " VALUES (?, ?, ?)",
                    [(*_value_key(e), e.value) for e in materialized if e.value is not None],
                )
                await db.executemany(
                    "DELETE FROM asset_values WHERE asset_key = ? AND partition_key = ?",
                    [_value_key(e) for e in materialized if e.value is None],
                )
                await db.executemany(
                    "INSERT INTO latest_materializations (asset_key, partition_key, run_id,"
                    " event_id, timestamp, code_version, data_version, metadata, config)"
                    " VALUES (?, ?, ?, (SELECT MAX(id) FROM events WHERE run_id = ? AND"
                    " asset_key = ? AND type = ?), ?, ?, ?, ?, ?)"
                    " ON CONFLICT (asset_key, partition_key) DO UPDATE SET"
                    " run_id = excluded.run_id, event_id = excluded.event_id,"
                    " timestamp = excluded.timestamp, code_version = excluded.code_version,"
                    " data_version = excluded.data_version, metadata = excluded.metadata,"
                    " config = excluded.config",
                    [
                        (
                            key := e.asset_key.to_user_string(),  # type: ignore[union-attr]
                            e.partition_key or "",
                            e.run_id,
                            e.run_id,
                            key,
                            AssetMaterialized.kind,
                            e.timestamp,
                            e.code_version,
                            e.data_version,
                            json.dumps(metadata_to_json(e.metadata)),
                            json.dumps(e.config) if e.config is not None else None,
                        )
                        for e in materialized
                    ],
                )
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise

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

    async def runs(self, limit: int = 50) -> list[RunRecord]:
        async with self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY start_time DESC LIMIT ?", (limit,)
        ) as cur:
            return [_run_record(row) for row in await cur.fetchall()]

    async def run(self, run_id: str) -> RunRecord | None:
        """A run by its id or by a unique prefix of it (``millrace logs 3f2a``)."""
        async with self._db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id LIKE ? LIMIT 2", (run_id + "%",)
        ) as cur:
            rows = list(await cur.fetchall())
        if len(rows) != 1:
            return None
        return _run_record(rows[0])

    async def events(self, run_id: str, kinds: Iterable[str] | None = None) -> list[Event]:
        sql = (
            "SELECT type, run_id, asset_key, partition_key, check_name, timestamp, payload"
            " FROM events"
        )
        sql += " WHERE run_id = ?"
        args: list[Any] = [run_id]
        if kinds is not None:
            kinds = list(kinds)
            sql += f" AND type IN ({', '.join('?' * len(kinds))})"
            args.extend(kinds)
        async with self._db.execute(sql + " ORDER BY id", args) as cur:
            rows = await cur.fetchall()
        return [
            event_from_record(t, r, a, p, c, ts, json.loads(pl)) for t, r, a, p, c, ts, pl in rows
        ]

    async def latest_materializations(self) -> dict[str, MaterializationRecord]:
        """The newest materialization of every unpartitioned asset, by user key string."""
        async with self._db.execute(
            "SELECT asset_key, partition_key, run_id, timestamp, code_version, data_version,"
            " metadata, config FROM latest_materializations WHERE partition_key = ''"
        ) as cur:
            rows = await cur.fetchall()
        return {
            row[0]: MaterializationRecord(
                asset_key=row[0],
                partition_key=row[1] or None,
                run_id=row[2],
                timestamp=row[3],
                code_version=row[4],
                data_version=row[5],
                metadata=metadata_from_json(json.loads(row[6])),
                config=json.loads(row[7]) if row[7] else None,
            )
            for row in rows
        }

    async def latest_check_results(self) -> dict[str, list[CheckResultRecord]]:
        """The newest result of every check of unpartitioned assets, by asset key string."""
        async with self._db.execute(
            "SELECT asset_key, check_name, run_id, timestamp, passed, severity, blocking,"
            " description, metadata, error FROM latest_check_results WHERE partition_key = ''"
            " ORDER BY asset_key, check_name"
        ) as cur:
            rows = await cur.fetchall()
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


@dataclass(frozen=True, slots=True)
class CheckResultRecord:
    asset_key: str
    check_name: str
    run_id: str
    timestamp: float
    passed: bool
    severity: str
    blocking: bool
    description: str | None
    metadata: dict[str, MetadataValue]
    error: dict[str, Any] | None


_RUN_COLUMNS = "run_id, status, selection, config, tags, start_time, end_time, message"


def _run_record(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        status=RunStatus(row[1]),
        selection=tuple(json.loads(row[2])),
        config=json.loads(row[3]),
        tags=json.loads(row[4]),
        start_time=row[5],
        end_time=row[6],
        message=row[7],
    )


def _event_row(event: Event) -> tuple[Any, ...]:
    return (
        event.run_id,
        event.asset_key.to_user_string() if event.asset_key else None,
        event.partition_key,
        event.check_name,
        event.kind,
        event.timestamp,
        json.dumps(event.payload(), default=str),
    )


def _value_key(e: AssetMaterialized) -> tuple[str, str]:
    return (e.asset_key.to_user_string() if e.asset_key else "", e.partition_key or "")


def _check_row(e: AssetCheckEvaluated) -> tuple[Any, ...]:
    payload = e.payload()
    return (
        e.asset_key.to_user_string() if e.asset_key else "",
        e.check_name,
        e.partition_key or "",
        e.run_id,
        e.timestamp,
        int(e.passed),
        e.severity,
        int(e.blocking),
        e.description,
        json.dumps(payload["metadata"], default=str),
        json.dumps(payload["error"]) if e.error else None,
    )


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return False  # not in _LIVE_RUNS, so an earlier process that had our pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
