"""One batch of events, written in one transaction: the rows each kind of event touches."""

from __future__ import annotations

import asyncio
import json
import math
import os
import socket
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from ..declarations.metadata import MetadataValue, metadata_to_json
from ..events import (
    BACKFILL_SELECTION_TAG,
    BACKFILL_SPEC_TAG,
    BACKFILL_TAG,
    BACKFILL_TOTAL_TAG,
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    AutomationEvaluated,
    Event,
    InstigatorChanged,
    RunFinished,
    RunStarted,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
    TickEvaluated,
    partitions_of,
)
from .partition_index import record_partitions


def write_batch(
    db: sqlite3.Connection,
    batch: Sequence[Event],
    values: Mapping[int, bytes],
    now: float | None = None,
) -> None:
    """Commit ``batch`` in one transaction; ``values`` are small stored values by
    ``id(event)`` of the materialization that stored them, committed with it."""
    with transaction(db):
        write_rows(db, batch, values, now)


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back if the block raises (on a connection in
    autocommit mode, ``isolation_level=None``)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def write_rows(
    db: sqlite3.Connection,
    batch: Sequence[Event],
    values: Mapping[int, bytes],
    now: float | None = None,
) -> None:
    """The rows of ``batch``, in the caller's transaction."""
    _runs(db, batch, now)
    metadata: dict[int, str] = {}  # a materialization's full metadata, by id(event)
    db.executemany(
        "INSERT INTO events (id, run_id, asset_key, partition_key, check_name, type,"
        " timestamp, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [_event_row(e, metadata) for e in batch],
    )
    evaluations = [e for e in batch if isinstance(e, AssetCheckEvaluated)]
    if evaluations:
        db.executemany(
            "INSERT OR REPLACE INTO latest_check_results (asset_key, check_name,"
            " partition_key, run_id, timestamp, passed, severity, blocking, description,"
            " metadata, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [_check_row(e) for e in evaluations],
        )
    materialized = [e for e in batch if isinstance(e, AssetMaterialized)]
    if materialized:
        _materializations(db, materialized, values, metadata)
    observed = [e for e in batch if isinstance(e, AssetObserved)]
    if observed:
        _observations(db, observed)
    failed = [e for e in batch if isinstance(e, StepFailed) and marks_asset_failed(e)]
    if failed:
        db.executemany(
            "INSERT OR REPLACE INTO asset_failures (asset_key, partition_key, run_id,"
            " event_id, timestamp, error) VALUES (?, ?, ?, ?, ?, ?)",
            [
                (*key, e.run_id, e.seq, e.timestamp, str(e.error))
                for e in failed
                for key in _keys(e)
            ],
        )
    _in_progress(db, batch)
    _automation(db, batch)


def _in_progress(db: sqlite3.Connection, batch: Sequence[Event]) -> None:
    """An asset (partition) is in progress from its step's start to its end; a retry
    between attempts still is. A step that started (first attempt) and ended within the
    batch writes nothing: no row of it can exist before the batch."""
    started: dict[tuple[str, str, str], float] = {}  # the latest start's time
    first: set[tuple[str, str, str]] = set()  # first attempts started in this batch
    ended: set[tuple[str, str, str]] = set()
    for e in batch:
        if e.check_name is not None or e.asset_key is None:
            continue
        if isinstance(e, StepStarted):
            for key in _keys(e):
                started[(*key, e.run_id)] = e.timestamp
                if e.attempt == 1:
                    first.add((*key, e.run_id))
        elif isinstance(e, StepSucceeded | StepSkipped | StepUpToDate) or (
            isinstance(e, StepFailed) and not e.will_retry
        ):
            ended.update((*key, e.run_id) for key in _keys(e))
    db.executemany(
        "INSERT OR REPLACE INTO in_progress (asset_key, partition_key, run_id, timestamp)"
        " VALUES (?, ?, ?, ?)",
        [(*key, ts) for key, ts in started.items() if key not in ended],
    )
    db.executemany(
        "DELETE FROM in_progress WHERE asset_key = ? AND partition_key = ? AND run_id = ?",
        [key for key in ended if key not in first],
    )


def marks_asset_failed(event: StepFailed) -> bool:
    """A final failure of an asset's own step; a canceled step or a check did not fail it."""
    return (
        event.check_name is None
        and not event.will_retry
        and event.error.type != asyncio.CancelledError.__name__
    )


def _runs(db: sqlite3.Connection, batch: Sequence[Event], now: float | None) -> None:
    for event in batch:
        if isinstance(event, RunStarted):
            db.execute(
                "INSERT INTO runs (run_id, status, selection, config, tags, start_time,"
                " pid, hostname, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.run_id,
                    RunStatus.STARTED.value,
                    json.dumps(list(event.selection)),
                    json.dumps(event.config, default=str),
                    json.dumps(event.tags),
                    event.timestamp,
                    os.getpid(),
                    socket.gethostname(),
                    event.origin.value,
                ),
            )
            backfill = event.tags.get(BACKFILL_TAG)
            if backfill is not None:
                db.execute(
                    "INSERT OR IGNORE INTO backfills (backfill_id, selection, spec, created,"
                    " total) VALUES (?, ?, ?, ?, ?)",
                    (
                        backfill,
                        event.tags.get(BACKFILL_SELECTION_TAG, ""),
                        event.tags.get(BACKFILL_SPEC_TAG, "{}"),
                        event.timestamp,
                        int(event.tags.get(BACKFILL_TOTAL_TAG, "0")),
                    ),
                )
                db.execute(
                    "INSERT OR IGNORE INTO backfill_runs (backfill_id, run_id) VALUES (?, ?)",
                    (backfill, event.run_id),
                )
        elif isinstance(event, RunFinished):
            db.execute(
                "UPDATE runs SET status = ?, end_time = ?, message = ? WHERE run_id = ?",
                (event.status.value, now or event.timestamp, event.message, event.run_id),
            )
            # The run's writes are all in this transaction or earlier: its leases end here,
            # and nothing of it is in progress any more.
            db.execute("DELETE FROM leases WHERE run_id = ?", (event.run_id,))
            db.execute("DELETE FROM in_progress WHERE run_id = ?", (event.run_id,))


def _automation(db: sqlite3.Connection, batch: Sequence[Event]) -> None:
    """A tick, its run keys and the sensor's cursor commit together: a restart never sees
    a run key used without the cursor that went with it, or the reverse."""
    ticks = [e for e in batch if isinstance(e, TickEvaluated)]
    changes = [e for e in batch if isinstance(e, InstigatorChanged)]
    evaluated = [e for e in batch if isinstance(e, AutomationEvaluated)]
    if not ticks and not changes and not evaluated:
        return
    db.executemany(
        "INSERT OR REPLACE INTO automation_evaluations (asset_key, sensor, timestamp, evaluation)"
        " VALUES (?, ?, ?, ?)",
        [
            (key, e.sensor, e.timestamp, json.dumps(evaluation))
            for e in evaluated
            for key, evaluation in e.evaluations.items()
        ],
    )
    db.executemany(
        "INSERT INTO ticks (name, kind, timestamp, scheduled, status, run_ids, skip_reason,"
        " error, cursor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                e.name,
                e.instigator,
                e.timestamp,
                e.scheduled_time,
                e.status,
                json.dumps(list(e.run_ids)),
                e.skip_reason,
                e.error,
                e.cursor,
            )
            for e in ticks
        ],
    )
    db.executemany(
        "INSERT INTO instigators (name, kind, cursor, updated) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated",
        [(e.name, e.instigator, e.cursor, e.timestamp) for e in ticks if e.instigator == "sensor"],
    )
    db.executemany(
        "INSERT OR IGNORE INTO run_keys (name, run_key, run_id, timestamp) VALUES (?, ?, ?, ?)",
        [
            (e.name, key, run_id, e.timestamp)
            for e in ticks
            for key, run_id in zip(e.run_keys, e.run_ids, strict=True)
            if key
        ],
    )
    db.executemany(
        "INSERT INTO instigators (name, kind, status, updated) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET status = excluded.status, updated = excluded.updated",
        [
            (e.name, e.instigator, "RUNNING" if e.running else "STOPPED", e.timestamp)
            for e in changes
        ],
    )


def _running(running: bool) -> str:
    return "RUNNING" if running else "STOPPED"


def _materializations(
    db: sqlite3.Connection,
    materialized: list[AssetMaterialized],
    values: Mapping[int, bytes],
    metadata: Mapping[int, str],
) -> None:
    """``metadata``: each one's full metadata as JSON, by ``id(event)``."""
    keyed = [(e, _key(e)) for e in materialized]
    # A small value commits with its materialization; a value stored elsewhere (a file)
    # leaves no stale copy behind.
    db.executemany(
        "INSERT OR REPLACE INTO asset_values (asset_key, partition_key, data) VALUES (?, ?, ?)",
        [(*key, values[id(e)]) for e, key in keyed if id(e) in values],
    )
    db.executemany(
        "DELETE FROM asset_values WHERE asset_key = ? AND partition_key = ?",
        [key for e, key in keyed if id(e) not in values],
    )
    db.executemany(
        "DELETE FROM asset_failures WHERE asset_key = ? AND partition_key = ?",
        [key for _, key in keyed],
    )
    record_partitions(db, materialized)  # before the upsert: it tells new keys apart
    rows = [
        (
            *key,
            e.run_id,
            e.seq,
            e.timestamp,
            e.code_version,
            e.data_version,
            metadata[id(e)],
            json.dumps(e.config) if e.config is not None else None,
            int(not e.recovered),  # has_provenance
        )
        for e, key in keyed
    ]
    db.executemany(
        "INSERT INTO latest_materializations (asset_key, partition_key, run_id, event_id,"
        " timestamp, code_version, data_version, metadata, config, has_provenance)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (asset_key, partition_key) DO UPDATE SET"
        " run_id = excluded.run_id, event_id = excluded.event_id,"
        " timestamp = excluded.timestamp, code_version = excluded.code_version,"
        " data_version = excluded.data_version, metadata = excluded.metadata,"
        " config = excluded.config, has_provenance = excluded.has_provenance,"
        " inputs_changed = 0, observed = 0",
        rows,
    )
    db.executemany(
        "INSERT INTO materializations (asset_key, partition_key, run_id, event_id, timestamp,"
        " code_version, data_version, config, has_provenance)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(*row[:7], *row[8:]) for row in rows],
    )
    db.executemany(
        "INSERT OR REPLACE INTO materialization_inputs (event_id, asset_key, partition_key,"
        " data_version, input_event_id) VALUES (?, ?, ?, ?, ?)",
        [
            (
                e.seq,
                i.asset_key.to_user_string(),
                i.partition_key or "",
                i.data_version,
                i.event_id,
            )
            for e in materialized
            for i in e.inputs
        ],
    )
    # A reader can commit after what it read was replaced (another run wrote it meanwhile).
    readers = [e.seq for e in materialized if e.inputs]
    if readers:
        db.execute(
            "UPDATE latest_materializations SET inputs_changed = 1"
            " WHERE event_id IN (SELECT value FROM json_each(?1))"
            " AND EXISTS (SELECT 1 FROM materialization_inputs i"
            "   LEFT JOIN latest_materializations u"
            "     ON u.asset_key = i.asset_key AND u.partition_key = i.partition_key"
            "   WHERE i.event_id = latest_materializations.event_id"
            "     AND u.data_version IS NOT i.data_version)",
            (json.dumps(readers),),
        )
    flag_readers(db, [(*key, e.data_version) for e, key in keyed])


def _observations(db: sqlite3.Connection, observed: list[AssetObserved]) -> None:
    """An external asset's latest observation is its latest record, as a materialization is
    an asset's: its data version is what downstream provenance records and is compared
    with. It has no code version, config or inputs; no value is stored."""
    db.executemany(
        "DELETE FROM asset_failures WHERE asset_key = ? AND partition_key = ?",
        [_key(e) for e in observed],
    )
    record_partitions(db, observed)
    db.executemany(
        "INSERT INTO latest_materializations (asset_key, partition_key, run_id, event_id,"
        " timestamp, code_version, data_version, metadata, config, has_provenance, observed)"
        " VALUES (?, ?, ?, ?, ?, NULL, ?, ?, NULL, 0, 1)"
        " ON CONFLICT (asset_key, partition_key) DO UPDATE SET"
        " run_id = excluded.run_id, event_id = excluded.event_id,"
        " timestamp = excluded.timestamp, code_version = NULL,"
        " data_version = excluded.data_version, metadata = excluded.metadata,"
        " config = NULL, has_provenance = 0, inputs_changed = 0, observed = 1",
        [
            (
                *_key(e),
                e.run_id,
                e.seq,
                e.timestamp,
                e.data_version,
                json.dumps(metadata_to_json(e.metadata)),
            )
            for e in observed
        ],
    )
    flag_readers(db, [(*_key(e), e.data_version) for e in observed])


def flag_readers(db: sqlite3.Connection, changed: Sequence[tuple[str, str, str | None]]) -> None:
    """Mark the latest materializations that read each (asset, partition) with a data
    version other than its own now (``None``: it is gone), so partition status compares only
    those with their upstreams. A reader's next materialization clears its mark. One
    statement for all of ``changed``: the key list drives the lookup of their readers."""
    if not changed:
        return
    db.execute(
        "UPDATE latest_materializations SET inputs_changed = 1"
        " WHERE inputs_changed = 0 AND event_id IN (SELECT i.event_id FROM json_each(?) c"
        "   CROSS JOIN materialization_inputs i"
        "   WHERE i.asset_key = c.value ->> 0 AND i.partition_key = c.value ->> 1"
        "     AND i.data_version IS NOT c.value ->> 2)",
        (json.dumps(changed),),
    )


def _key(e: Event) -> tuple[str, str]:
    return (e.asset_key.to_user_string() if e.asset_key else "", e.partition_key or "")


def _keys(e: Event) -> list[tuple[str, str]]:
    """(asset, partition) of each partition a step event is about (a range's, all)."""
    asset = e.asset_key.to_user_string() if e.asset_key else ""
    return [(asset, p or "") for p in partitions_of(e)]


# ``json.dumps(x, default=str)`` builds an encoder per call; the writer makes thousands.
_encode = json.JSONEncoder(default=str).encode


def _event_row(event: Event, metadata: dict[int, str]) -> tuple[Any, ...]:
    """The row of ``event``; a materialization's full metadata JSON goes into ``metadata``
    (by ``id(event)``), serialized in the same pass as its compact form."""
    if isinstance(event, AssetMaterialized):
        payload = event.payload()
        entries = {name: _encode(value) for name, value in payload["metadata"].items()}
        metadata[id(event)] = (
            "{" + ", ".join(f"{_encode(name)}: {text}" for name, text in entries.items()) + "}"
        )
        # The history keeps a materialization's metadata in its compact form (its full form
        # is in ``latest_materializations`` while it is the latest).
        payload["metadata"] = {
            name: payload["metadata"][name]
            for name, text in entries.items()
            if len(text) <= COMPACT_ENTRY
        }
    elif isinstance(event, AutomationEvaluated):
        # What it requested per asset; reasons and memory (~1 KB per asset) are in
        # ``automation_evaluations``.
        requested = {k: {"requested": e["requested"]} for k, e in event.evaluations.items()}
        payload = {"sensor": event.sensor, "evaluations": requested}
    else:
        payload = event.payload()
    return (
        event.seq,
        event.run_id,
        event.asset_key.to_user_string() if event.asset_key else None,
        event.partition_key or "",
        event.check_name,
        event.kind,
        event.timestamp,
        _encode(payload),
    )


# What a materialization's history keeps of its metadata: each entry whose JSON is this
# short (row counts, timings, paths, versions); frame schemas and previews (~3 KB per
# materialization) only while it is the latest.
COMPACT_ENTRY = 240


def reads_back_whole(event: Event) -> bool:
    """Whether ``event`` read back from its row is equal to it: not when the row keeps only
    part of it (a materialization's compact metadata, an automation evaluation's requests),
    nor when JSON changes a value (a tuple, a float that is not finite, a key that is no
    string, an object written as its ``str``)."""
    if isinstance(event, AssetMaterialized):
        return _metadata_whole(event.metadata, COMPACT_ENTRY) and (
            event.config is None or _json_whole(event.config)
        )
    if isinstance(event, StepFailed | AssetObserved | AssetCheckEvaluated):
        return _metadata_whole(event.metadata, None)
    if isinstance(event, RunStarted):
        return _json_whole(event.config)
    return not isinstance(event, AutomationEvaluated)


# Kinds whose plain values are told whole at a glance (short names: the entry stays short).
_PLAIN_KINDS = frozenset(
    {"int", "float", "text", "md", "url", "path", "bool", "null", "json", "timestamp"}
)


def _metadata_whole(metadata: Mapping[str, MetadataValue], limit: int | None) -> bool:
    """Whether every entry survives its JSON (within ``limit`` characters, if given)."""
    for value in metadata.values():
        raw, kind = value.value, type(value.value)
        if value.type in _PLAIN_KINDS and (
            raw is None
            or kind is bool
            or (kind is int and raw.bit_length() < 512)  # at most 155 digits
            or (kind is float and math.isfinite(raw))
            # At most two characters each (an escaped quote or backslash): a short entry.
            or (kind is str and len(raw) <= 100 and raw.isascii() and raw.isprintable())
        ):
            continue  # nearly every entry: no encoding on the loop for it
        text = _encode(value.to_json())
        if limit is not None and len(text) > limit:
            return False
        if MetadataValue.from_json(json.loads(text)) != value:
            return False
    return True


def _json_whole(value: Any) -> bool:
    """Whether ``value`` comes back from its JSON equal to itself."""
    return bool(json.loads(_encode(value)) == value)


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
        _encode(payload["metadata"]),
        json.dumps(payload["error"]) if e.error else None,
    )
