"""The keys of dynamic partitions (``DynamicPartitionsDefinition(name=...)``), in the home's
database: added and deleted from asset code (``context.instance``, on worker threads), from
``millrace partitions add``, and read by the planner, so each call is a short transaction on
a connection of the calling thread's own.

It is what Dagster calls the instance, for the part of it assets use; a runtime without a
home keeps the keys in memory.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path


class DynamicPartitions:
    """``get_dynamic_partitions``, ``has_dynamic_partition``, ``add_dynamic_partitions`` and
    ``delete_dynamic_partition``, with Dagster's names and arguments. Keys keep the order
    they were added in."""

    def __init__(self, database: Path | None, *, readonly: bool = False) -> None:
        self._database = database
        self._readonly = readonly
        self._local = threading.local()
        self._memory: dict[str, dict[str, None]] = {}
        self._lock = threading.Lock()

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        if self._database is None:
            with self._lock:
                return list(self._memory.get(partitions_def_name, {}))
        try:
            rows = self._db().execute(
                "SELECT partition_key FROM dynamic_partitions WHERE name = ? ORDER BY added, rowid",
                (partitions_def_name,),
            )
        except sqlite3.OperationalError:  # no home yet, or one from before dynamic partitions
            return []
        return [key for (key,) in rows]

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        if self._database is None:
            with self._lock:
                return partition_key in self._memory.get(partitions_def_name, {})
        try:
            row = (
                self._db()
                .execute(
                    "SELECT 1 FROM dynamic_partitions WHERE name = ? AND partition_key = ?",
                    (partitions_def_name, partition_key),
                )
                .fetchone()
            )
        except sqlite3.OperationalError:
            return False
        return row is not None

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Iterable[str]
    ) -> None:
        """Add keys (those already there stay where they are)."""
        keys = list(partition_keys)
        for key in keys:
            if not isinstance(key, str) or not key:
                raise ValueError(
                    f"dynamic partition keys are non-empty strings; got {key!r} for "
                    f"{partitions_def_name!r}"
                )
        if self._database is None:
            with self._lock:
                self._memory.setdefault(partitions_def_name, {}).update(dict.fromkeys(keys))
            return
        now = time.time()
        with self._db() as db:
            db.executemany(
                "INSERT OR IGNORE INTO dynamic_partitions (name, partition_key, added)"
                " VALUES (?, ?, ?)",
                [(partitions_def_name, key, now) for key in keys],
            )

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        if self._database is None:
            with self._lock:
                self._memory.get(partitions_def_name, {}).pop(partition_key, None)
            return
        with self._db() as db:
            db.execute(
                "DELETE FROM dynamic_partitions WHERE name = ? AND partition_key = ?",
                (partitions_def_name, partition_key),
            )

    def _db(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            assert self._database is not None
            if self._readonly:
                uri = self._database.resolve().as_uri() + "?mode=ro"
                db = sqlite3.connect(uri, uri=True, check_same_thread=False)
            else:
                db = sqlite3.connect(self._database, check_same_thread=False)
            db.execute("PRAGMA busy_timeout=5000")  # the store's writer may hold the lock
            self._local.db = db
        return db
