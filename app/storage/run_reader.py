"""One run's stored events, read synchronously from the home's database file.

A run's result is read after its run ended, often after its Runtime closed the event store and
its event loop finished (``materialize()`` returns then), from whichever thread holds it. So
it never goes through the store's connection: each read is a short read-only connection of
its own, which WAL lets read beside a writer that is still open.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from ..errors import StorageError
from ..events import Event
from .faults import raise_clearly
from .history import decode_events, run_events_query


def read_run_events(
    database: Path,
    run_id: str,
    kinds: Iterable[str] | None = None,
    *,
    through_seq: int | None = None,
    asset_keys: Iterable[str] | None = None,
) -> list[Event]:
    """The run's committed events (of ``kinds``, about ``asset_keys``, with an id at most
    ``through_seq``), in the order they were published."""
    if not database.is_file():
        raise StorageError(
            f"the events of run {run_id} were kept in {database}, which no longer exists "
            "(its home was removed after the run)"
        )
    sql, args = run_events_query(run_id, kinds, through_seq=through_seq, asset_keys=asset_keys)
    try:
        uri = database.resolve().as_uri() + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            db.execute("PRAGMA busy_timeout=5000")  # WAL recovery may hold it a moment
            rows = db.execute(sql, args).fetchall()
    except sqlite3.DatabaseError as exc:
        raise_clearly(database.parent, database, exc)
    return decode_events(rows)
