"""What can be wrong with a home or its database, said in one line with what to do.

A damaged file is left untouched: ``millrace doctor --repair`` is the way forward.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import NoReturn

from ..errors import StorageError
from .schema import DATABASE, SCHEMA_VERSION


def unwritable(home: Path, exc: BaseException) -> StorageError:
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


def newer_schema(path: Path, version: int) -> StorageError:
    return StorageError(
        f"{path} has schema version {version}, newer than this Millrace ({SCHEMA_VERSION}): "
        "upgrade Millrace to read it"
    )


CORRUPT_HINT = (
    "the file is left untouched; 'millrace doctor --repair' moves it aside, starts a fresh "
    "history and keeps what can still be read of it (stored files stay where they are)"
)


def raise_clearly(home: Path, path: Path, exc: BaseException) -> NoReturn:
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
        return unwritable(home, exc)
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return StorageError(f"{path} is not a readable Millrace database ({text}); {CORRUPT_HINT}")
    if isinstance(exc, sqlite3.OperationalError) and "malformed" in text:
        return StorageError(f"{path} is damaged ({text}); {CORRUPT_HINT}")
    return exc
