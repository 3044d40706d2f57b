"""Reading the history: runs, their events, materializations with what they consumed,
failures and check results, as plain records. The event store is this, plus its writer."""

from __future__ import annotations

import dataclasses
import functools
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..declarations.keys import AssetKey, KeysByName
from ..declarations.metadata import metadata_from_json
from ..events import (
    AssetMaterialized,
    AssetObserved,
    Event,
    InputVersion,
    RunFinished,
    RunStatus,
    event_from_record,
)
from .connection import ThreadConnection
from .faults import raise_clearly
from .partition_index import joined_keys
from .records import (
    RUN_COLUMNS,
    BackfillRecord,
    CheckResultRecord,
    FailureRecord,
    InstigatorState,
    MaterializationRecord,
    PartitionRows,
    RunRecord,
    TickRecord,
    run_record,
)


class History:
    """Queries of ``<home>/millrace.db`` on one connection (read-only or not)."""

    _db: ThreadConnection
    path: Path

    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        try:
            return await self._db.run(functools.partial(_fetch, sql, args))
        except sqlite3.DatabaseError as exc:  # a page went bad after it opened
            raise_clearly(self.path.parent, self.path, exc)

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
        sql, args = run_events_query(run_id, kinds, after_seq=after_seq, limit=limit)
        return decode_events(await self._rows(sql, args))

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

    async def latest_partitions(
        self, wanted: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], MaterializationRecord]:
        """The newest materialization of each (user key string, partition key or '')."""
        by_asset: dict[str, set[str]] = {}
        for key, partition in wanted:
            by_asset.setdefault(key, set()).add(partition)
        # Unpartitioned assets are asked for together: a run of 1,000 assets is two queries,
        # not 1,000 (each a round trip to the connection's thread).
        unpartitioned = sorted(key for key, partitions in by_asset.items() if partitions == {""})
        rows: list[Any] = []
        for chunk in _chunks(unpartitioned):
            rows += await self._rows(
                f"SELECT {_HISTORY_COLUMNS}, metadata FROM latest_materializations"
                f" WHERE partition_key = '' AND asset_key IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        for key, partitions in by_asset.items():
            if partitions == {""}:
                continue
            # By key, never the asset's every row: one of 87,600 partitions is one lookup.
            for chunk in _chunks(sorted(partitions)):
                rows += await self._rows(
                    f"SELECT {_HISTORY_COLUMNS}, metadata FROM latest_materializations"
                    f" WHERE asset_key = ? AND partition_key IN ({', '.join('?' * len(chunk))})",
                    (key, *chunk),
                )
        return {(r.asset_key, r.partition_key or ""): r for r in await self._records(rows)}

    async def partition_facts(
        self, wanted: Mapping[str, tuple[str | None, Sequence[str]]]
    ) -> dict[str, PartitionRows]:
        """What the history knows of each wanted partitioned asset's partitions, as the rows
        partition status needs: ``wanted`` maps a user key string to its code version and
        upstream keys now (for new dependencies). One job on the connection's thread for them
        all: a catalog of 1,000 partitioned assets is one round trip, not 7,000."""
        try:
            return await self._db.run(functools.partial(_partition_facts, dict(wanted)))
        except sqlite3.DatabaseError as exc:
            raise_clearly(self.path.parent, self.path, exc)

    # -- automation ------------------------------------------------------------------------

    async def instigator_states(self) -> dict[str, InstigatorState]:
        """Each schedule's and sensor's stored state: started or stopped (None: never set,
        its default_status holds), a sensor's cursor, its last tick."""
        states = {
            name: InstigatorState(name, kind, status, cursor)
            for name, kind, status, cursor in await self._rows(
                "SELECT name, kind, status, cursor FROM instigators"
            )
        }
        for tick in await self._ticks(
            "SELECT * FROM ticks WHERE id IN (SELECT MAX(id) FROM ticks GROUP BY name)", ()
        ):
            state = states.get(tick.name) or InstigatorState(tick.name, tick.instigator)
            states[tick.name] = dataclasses.replace(state, last_tick=tick)
        return states

    async def status_rows(
        self,
    ) -> tuple[
        list[tuple[str, str, int, float]], list[tuple[str, str]], list[tuple[str, str, str]]
    ]:
        """Every latest materialization's (asset, partition, event id, time), every failed (asset,
        partition), every (run, asset, partition) in flight: what automation's cache starts
        from."""
        latest = await self._rows(
            "SELECT asset_key, partition_key, event_id, timestamp FROM latest_materializations"
        )
        failed = await self._rows("SELECT asset_key, partition_key FROM asset_failures")
        running = await self._rows("SELECT run_id, asset_key, partition_key FROM in_progress")
        return latest, failed, running  # rows are tuples already: no copy of 876,720

    async def check_status_rows(self) -> list[tuple[str, str, str, int, bool, bool]]:
        """Every check's latest evaluation per partition: (asset, check, partition or '',
        its event id, whether it errored, whether it passed): what automation's cache starts
        from for checks."""
        rows = await self._rows(
            "SELECT r.asset_key, r.check_name, r.partition_key, (SELECT MAX(e.id) FROM events e"
            " WHERE e.asset_key = r.asset_key AND e.type = 'ASSET_CHECK_EVALUATED'"
            " AND e.check_name = r.check_name AND e.partition_key = r.partition_key),"
            " r.error IS NOT NULL, r.passed FROM latest_check_results r"
        )
        return [
            (a, c, p, event, bool(errored), bool(passed))
            for a, c, p, event, errored, passed in rows
            if event
        ]

    async def condition_states(self) -> dict[str, dict[str, Any]]:
        """Each asset's stored automation condition state and last evaluation (JSON)."""
        rows = await self._rows("SELECT asset_key, evaluation FROM automation_evaluations")
        return {key: json.loads(evaluation) for key, evaluation in rows}

    async def ticks(self, name: str, limit: int = 20) -> list[TickRecord]:
        """A schedule's or sensor's ticks, newest first."""
        return await self._ticks(
            "SELECT * FROM ticks WHERE name = ? ORDER BY id DESC LIMIT ?", (name, limit)
        )

    async def last_scheduled(self, name: str) -> float | None:
        """The latest tick instant a schedule evaluated, whatever the outcome."""
        [(last,)] = await self._rows("SELECT MAX(scheduled) FROM ticks WHERE name = ?", (name,))
        return last

    async def used_run_keys(self, name: str, run_keys: Iterable[str]) -> set[str]:
        """Which of ``run_keys`` the sensor or schedule ``name`` already launched a run for."""
        keys, used = list(run_keys), set[str]()
        for chunk in _chunks(keys):
            used.update(
                key
                for (key,) in await self._rows(
                    "SELECT run_key FROM run_keys WHERE name = ?"
                    f" AND run_key IN ({', '.join('?' * len(chunk))})",
                    (name, *chunk),
                )
            )
        return used

    async def materializations_after(
        self, asset_keys: Iterable[str], after: int, limit: int = 1000
    ) -> list[AssetMaterialized]:
        """The materializations of ``asset_keys`` with an id above ``after``, oldest first."""
        keys = list(asset_keys)
        rows = await self._rows(
            "SELECT type, run_id, asset_key, partition_key, check_name, timestamp, payload, id"
            f" FROM events WHERE asset_key IN ({', '.join('?' * len(keys))})"
            " AND type = 'ASSET_MATERIALIZED' AND id > ? ORDER BY id LIMIT ?",
            (*keys, after, limit),
        )
        return [e for e in decode_events(rows) if isinstance(e, AssetMaterialized)]

    async def runs_finished_after(
        self, after: int | None, limit: int = 1000
    ) -> list[tuple[RunFinished, RunRecord]]:
        """Runs that finished with an id above ``after`` (None: only the newest), oldest first,
        each with its record (tags, origin)."""
        if after is None:
            sql, args = "SELECT MAX(id) FROM events WHERE type = 'RUN_FINISHED'", ()
            [(newest,)] = await self._rows(sql, args)
            after = (newest or 1) - 1
        rows = await self._rows(
            "SELECT type, run_id, asset_key, partition_key, check_name, timestamp, payload, id"
            " FROM events WHERE id > ? AND type = 'RUN_FINISHED' ORDER BY id LIMIT ?",
            (after, limit),
        )
        out = []
        for t, r, a, p, c, ts, pl, seq in rows:
            record = await self.run(r)
            finished = event_from_record(t, r, a, p, c, ts, json.loads(pl), seq)
            if record is not None and isinstance(finished, RunFinished):
                out.append((finished, record))
        return out

    async def _ticks(self, sql: str, args: Sequence[Any]) -> list[TickRecord]:
        return [
            TickRecord(
                id=row[0],
                name=row[1],
                instigator=row[2],
                timestamp=row[3],
                scheduled_time=row[4],
                status=row[5],
                run_ids=tuple(json.loads(row[6])),
                skip_reason=row[7],
                error=row[8],
                cursor=row[9],
            )
            for row in await self._rows(sql, args)
        ]

    async def running_partitions(self) -> dict[str, frozenset[str]]:
        """The partitions of each partitioned asset some run is materializing now."""
        return _running_partitions(await self._rows(_RUNNING_PARTITIONS))

    async def data_version(self) -> int:
        """SQLite's ``data_version``: it changes when another connection commits."""
        rows = await self._rows("PRAGMA data_version")
        return int(rows[0][0])

    async def backfills(self, limit: int = 50) -> list[BackfillRecord]:
        """Backfills, newest first."""
        rows = await self._rows(
            "SELECT backfill_id, selection, spec, created, total FROM backfills"
            " ORDER BY created DESC LIMIT ?",
            (limit,),
        )
        return [await self._backfill(row) for row in rows]

    async def backfill(self, backfill_id: str) -> BackfillRecord | None:
        """A backfill by its id or a unique prefix of it."""
        rows = await self._rows(
            "SELECT backfill_id, selection, spec, created, total FROM backfills"
            " WHERE backfill_id LIKE ? LIMIT 2",
            (backfill_id + "%",),
        )
        return await self._backfill(rows[0]) if len(rows) == 1 else None

    async def backfill_done(self, backfill_id: str) -> set[tuple[str, str]]:
        """The (asset, partition) pairs a backfill's runs materialized."""
        rows = await self._rows(
            "SELECT DISTINCT m.asset_key, m.partition_key FROM materializations m"
            " JOIN backfill_runs b ON b.run_id = m.run_id WHERE b.backfill_id = ?",
            (backfill_id,),
        )
        return {(k, p) for k, p in rows}

    async def _backfill(self, row: Any) -> BackfillRecord:
        backfill_id = row[0]
        runs = await self._rows(
            "SELECT r.run_id, r.status FROM runs r JOIN backfill_runs b ON b.run_id = r.run_id"
            " WHERE b.backfill_id = ? ORDER BY r.start_time",
            (backfill_id,),
        )
        done = await self._rows(
            "SELECT COUNT(*) FROM (SELECT DISTINCT m.asset_key, m.partition_key"
            " FROM materializations m JOIN backfill_runs b ON b.run_id = m.run_id"
            " WHERE b.backfill_id = ?)",
            (backfill_id,),
        )
        failed = await self._rows(
            "SELECT COUNT(*) FROM asset_failures f JOIN backfill_runs b ON b.run_id = f.run_id"
            " WHERE b.backfill_id = ?",
            (backfill_id,),
        )
        return BackfillRecord(
            backfill_id=backfill_id,
            selection=row[1],
            spec=json.loads(row[2]),
            created=row[3],
            total=row[4],
            run_ids=tuple(r for r, _ in runs),
            status=runs[-1][1] if runs else "NOT_STARTED",
            done=done[0][0],
            failed=failed[0][0],
        )

    async def materializations(self, event_ids: Iterable[int]) -> dict[int, MaterializationRecord]:
        """Materializations by event id, with what each consumed (for lineage)."""
        ids = sorted(set(event_ids))
        if not ids:
            return {}
        rows: list[Any] = []
        for chunk in _chunks(ids):
            rows += await self._rows(
                f"SELECT {_HISTORY_COLUMNS}, {_EVENT_METADATA} FROM materializations"
                f" WHERE event_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        return {r.event_id: r for r in await self._records(rows) if r.event_id is not None}

    async def observations(self, event_ids: Iterable[int]) -> dict[int, MaterializationRecord]:
        """Observations of source assets by event id, as records with no code version and no
        inputs: what lineage shows of a source a materialization consumed."""
        ids = sorted(set(event_ids))
        rows: list[Any] = []
        for chunk in _chunks(ids):
            rows += await self._rows(
                "SELECT type, run_id, asset_key, partition_key, check_name, timestamp, payload, id"
                " FROM events WHERE type = 'ASSET_OBSERVATION' AND id IN"
                f" ({', '.join('?' * len(chunk))})",
                chunk,
            )
        found: dict[int, MaterializationRecord] = {}
        for t, r, a, p, c, ts, pl, seq in rows:
            event = event_from_record(t, r, a, p, c, ts, json.loads(pl), seq)
            assert isinstance(event, AssetObserved) and event.asset_key is not None
            found[seq] = MaterializationRecord(
                asset_key=event.asset_key.to_user_string(),
                partition_key=event.partition_key,
                run_id=event.run_id,
                timestamp=event.timestamp,
                code_version=None,
                data_version=event.data_version,
                metadata=event.metadata,
                event_id=seq,
                inputs=(),
            )
        return found

    async def asset_history(self, asset_key: str, limit: int = 20) -> list[MaterializationRecord]:
        """An asset's materializations (of any of its partitions), newest first."""
        rows = await self._rows(
            f"SELECT {_HISTORY_COLUMNS}, {_EVENT_METADATA} FROM materializations"
            " WHERE asset_key = ? ORDER BY timestamp DESC LIMIT ?",
            (asset_key, limit),
        )
        return await self._records(rows)

    async def newest_materialization(self, asset_key: str) -> MaterializationRecord | None:
        """The newest latest materialization of an asset, whichever partition it is of."""
        rows = await self._rows(
            f"SELECT {_HISTORY_COLUMNS}, metadata FROM latest_materializations"
            " WHERE asset_key = ? ORDER BY timestamp DESC LIMIT 1",
            (asset_key,),
        )
        records = await self._records(rows)
        return records[0] if records else None

    async def _records(self, rows: list[Any]) -> list[MaterializationRecord]:
        """Rows of ``_HISTORY_COLUMNS`` then their metadata (JSON text) as records, with what
        each consumed."""
        inputs = await self._inputs([r[0] for r in rows if r[8]])
        return [
            MaterializationRecord(
                asset_key=r[1],
                partition_key=r[2] or None,
                run_id=r[3],
                timestamp=r[4],
                code_version=r[5],
                data_version=r[6],
                metadata=metadata_from_json(json.loads(r[9])) if len(r) > 9 and r[9] else {},
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

    async def check_history(self, asset_key: str, limit: int = 20) -> list[Event]:
        """The check evaluations of one asset's checks, newest first."""
        rows = await self._rows(
            "SELECT type, run_id, asset_key, partition_key, check_name, timestamp, payload, id"
            " FROM events WHERE asset_key = ? AND type = 'ASSET_CHECK_EVALUATED'"
            " ORDER BY id DESC LIMIT ?",
            (asset_key, limit),
        )
        return decode_events(rows)

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
# A materialization's metadata is kept once, in its event (the latest also in its own row).
_EVENT_METADATA = (
    "(SELECT json_extract(payload, '$.metadata') FROM events WHERE events.id = event_id)"
)


EVENT_COLUMNS = "type, run_id, asset_key, partition_key, check_name, timestamp, payload, id"


def run_events_query(
    run_id: str,
    kinds: Iterable[str] | None = None,
    *,
    after_seq: int = 0,
    through_seq: int | None = None,
    asset_keys: Iterable[str] | None = None,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The query of a run's events (of ``kinds``, about ``asset_keys``) with an id above
    ``after_seq`` and at most ``through_seq``, in id order: rows for ``decode_events``."""
    sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE run_id = ? AND id > ?"
    args: list[Any] = [run_id, after_seq]
    if through_seq is not None:
        sql += " AND id <= ?"
        args.append(through_seq)
    for column, values in (("type", kinds), ("asset_key", asset_keys)):
        if values is not None:
            wanted = list(values)
            sql += f" AND {column} IN ({', '.join('?' * len(wanted))})"
            args.extend(wanted)
    sql += " ORDER BY id"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    return sql, args


def decode_events(rows: Iterable[Sequence[Any]]) -> list[Event]:
    """Rows of ``EVENT_COLUMNS`` as the events they were written from."""
    # A run's events name each asset several times (its step, its materialization, the
    # inputs of its downstream).
    key_of = KeysByName().__getitem__
    return [
        event_from_record(t, r, a, p, c, ts, json.loads(pl), seq, key_of)
        for t, r, a, p, c, ts, pl, seq in rows
    ]


def _chunks(ids: list[Any], size: int = 500) -> Iterator[list[Any]]:
    """SQLite caps the parameters of one statement: ask in chunks."""
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


_RUNNING_PARTITIONS = (
    "SELECT DISTINCT asset_key, partition_key FROM in_progress WHERE partition_key != ''"
)


def _running_partitions(rows: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    by_asset: dict[str, set[str]] = {}
    for asset_key, partition_key in rows:
        by_asset.setdefault(asset_key, set()).add(partition_key)
    return {asset_key: frozenset(keys) for asset_key, keys in by_asset.items()}


def _partition_facts(
    wanted: dict[str, tuple[str | None, Sequence[str]]], db: sqlite3.Connection
) -> dict[str, PartitionRows]:
    # Each asset's own statements, by its key: the indexes answer one asset of 87,600
    # partitions without a scan, and the comparisons run in SQLite, so only stale
    # partitions come back.
    running = _running_partitions(db.execute(_RUNNING_PARTITIONS))
    out = {}
    for asset_key, (code_version, upstream) in wanted.items():
        args = (asset_key,)
        # The writer's compact index (storage/partition_index.py), not 87,600 rows.
        keys = joined_keys(db.execute("SELECT keys FROM partition_keys WHERE asset_key = ?", args))
        summary = db.execute(
            "SELECT newest_event_id, newest_timestamp, code_versions FROM partition_summaries"
            " WHERE asset_key = ?",
            args,
        ).fetchone()
        newest_event_id, newest_timestamp, versions = summary or (None, None, "[]")
        other_code = any(v != code_version for v in json.loads(versions))
        code = (
            db.execute(
                "SELECT partition_key, code_version FROM latest_materializations"
                " WHERE asset_key = ? AND partition_key != '' AND code_version IS NOT ?",
                (asset_key, code_version),
            ).fetchall()
            if other_code
            else []
        )
        failed = db.execute(
            "SELECT partition_key FROM asset_failures WHERE asset_key = ? AND partition_key != ''",
            args,
        )
        # Only rows flagged when an input got another version can be stale by their data.
        data = db.execute(
            "SELECT m.partition_key, i.asset_key, i.partition_key FROM latest_materializations m"
            " JOIN materialization_inputs i ON i.event_id = m.event_id"
            " LEFT JOIN latest_materializations u"
            "   ON u.asset_key = i.asset_key AND u.partition_key = i.partition_key"
            " WHERE m.asset_key = ? AND m.inputs_changed = 1 AND m.partition_key != ''"
            "   AND u.data_version IS NOT i.data_version",
            args,
        )
        new_deps: list[tuple[str, str]] = []
        # A new upstream changes the code version too: only code-stale partitions can have one.
        for up in upstream if code else ():
            new_deps += [
                (key, up)
                for (key,) in db.execute(
                    "SELECT m.partition_key FROM latest_materializations m"
                    " WHERE m.asset_key = ? AND m.partition_key != '' AND m.has_provenance = 1"
                    "   AND m.code_version IS NOT ?"
                    "   AND NOT EXISTS (SELECT 1 FROM materialization_inputs i"
                    "     WHERE i.event_id = m.event_id AND i.asset_key = ?)",
                    (asset_key, code_version, up),
                )
            ]
        out[asset_key] = PartitionRows(
            keys=keys,
            failed=frozenset(k for (k,) in failed),
            running=running.get(asset_key, frozenset()),
            code=[(k, v) for k, v in code],
            data=[(k, up, p or None) for k, up, p in data],
            new_dependencies=new_deps,
            newest_event_id=newest_event_id,
            newest_timestamp=newest_timestamp,
        )
    return out


def _fetch(sql: str, args: Sequence[Any], db: sqlite3.Connection) -> list[Any]:
    return db.execute(sql, args).fetchall()
