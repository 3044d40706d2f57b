"""Which partitions of each asset were ever materialized, kept compact at write time.

Partition status needs an asset's materialized keys as a set: read from
``latest_materializations`` that is 87,600 index entries scanned and strung together per
asset at ten years of hours. The writer keeps them instead as a few rows of joined keys per
asset (``partition_keys``: each batch appends the keys it materialized for the first time;
past ``MAX_CHUNKS`` rows they are merged into one), and a summary per asset
(``partition_summaries``: its newest materialization's id and time, and every code version
its partitions may have been made with, so the code check is skipped when there is only the
current one). A reader then fetches a handful of rows.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any

from ..events import AssetMaterialized, AssetObserved

# An observation of a partitioned external asset is indexed as a materialization is.
Recorded = AssetMaterialized | AssetObserved

SEPARATOR = "\x1f"
MAX_CHUNKS = 64  # rows of keys per asset before they are merged into one


def record_partitions(db: sqlite3.Connection, materialized: Sequence[Recorded]) -> None:
    """Before the batch's rows are upserted: append the partitions materialized for the
    first time, and fold the batch into each asset's summary."""
    by_asset: dict[str, list[Recorded]] = {}
    for event in materialized:
        if event.partition_key and event.asset_key is not None:
            by_asset.setdefault(event.asset_key.to_user_string(), []).append(event)
    for asset, events in by_asset.items():
        keys = {e.partition_key for e in events if e.partition_key}
        known = _existing(db, asset, keys)
        new = sorted(keys - known)
        if new:
            db.execute(
                "INSERT INTO partition_keys (asset_key, keys) VALUES (?, ?)",
                (asset, SEPARATOR.join(new)),
            )
            _merge_if_many(db, asset)
        _summarize(db, asset, events)


def _existing(db: sqlite3.Connection, asset: str, keys: set[str]) -> set[str]:
    found: set[str] = set()
    ordered = sorted(keys)
    for start in range(0, len(ordered), 500):
        chunk = ordered[start : start + 500]
        cursor = db.execute(
            "SELECT partition_key FROM latest_materializations WHERE asset_key = ?"
            f" AND partition_key IN ({', '.join('?' * len(chunk))})",
            (asset, *chunk),
        )
        found.update(key for (key,) in cursor.fetchall())
    return found


def _merge_if_many(db: sqlite3.Connection, asset: str) -> None:
    """Many small rows (a run per hour adds one each) become one, and the summary's code
    versions become exactly those the partitions have now."""
    [(count,)] = db.execute(
        "SELECT COUNT(*) FROM partition_keys WHERE asset_key = ?", (asset,)
    ).fetchall()
    if count <= MAX_CHUNKS:
        return
    joined = joined_keys(
        db.execute("SELECT keys FROM partition_keys WHERE asset_key = ?", (asset,)).fetchall()
    )
    # Sorted: time-window keys then read in their definition's order (see partition_status).
    joined = SEPARATOR.join(sorted(joined.split(SEPARATOR)))
    db.execute("DELETE FROM partition_keys WHERE asset_key = ?", (asset,))
    db.execute("INSERT INTO partition_keys (asset_key, keys) VALUES (?, ?)", (asset, joined))
    versions = [
        v
        for (v,) in db.execute(
            "SELECT DISTINCT code_version FROM latest_materializations"
            " WHERE asset_key = ? AND partition_key != ''",
            (asset,),
        )
    ]
    db.execute(
        "UPDATE partition_summaries SET code_versions = ? WHERE asset_key = ?",
        (json.dumps(sorted(versions, key=lambda v: (v is not None, v))), asset),
    )


def _summarize(db: sqlite3.Connection, asset: str, events: Sequence[Recorded]) -> None:
    row = db.execute(
        "SELECT newest_event_id, newest_timestamp, code_versions FROM partition_summaries"
        " WHERE asset_key = ?",
        (asset,),
    ).fetchone()
    newest = max(events, key=lambda e: e.seq)
    newest_id, newest_ts = newest.seq, max(e.timestamp for e in events)
    versions = {e.code_version for e in events}
    if row is not None:
        newest_id = max(newest_id, row[0] or 0)
        newest_ts = max(newest_ts, row[1] or 0.0)
        versions |= set(json.loads(row[2]))
    db.execute(
        "INSERT OR REPLACE INTO partition_summaries (asset_key, newest_event_id,"
        " newest_timestamp, code_versions) VALUES (?, ?, ?, ?)",
        (
            asset,
            newest_id,
            newest_ts,
            json.dumps(sorted(versions, key=lambda v: (v is not None, v))),
        ),
    )


def joined_keys(rows: Iterable[Sequence[Any]]) -> str:
    """The keys of an asset's ``partition_keys`` rows, as one joined string."""
    return SEPARATOR.join(keys for (keys,) in rows)
