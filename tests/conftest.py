"""Shared fixtures: every test gets its own MILLRACE_HOME, and a read-only view of its db."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MILLRACE_HOME for this test: nothing may write a .millrace into the repository."""
    path = tmp_path / "millrace-home"
    monkeypatch.setenv("MILLRACE_HOME", str(path))
    return path


@contextmanager
def open_db(path: Path) -> Iterator[sqlite3.Connection]:
    """A real SQLite file, opened read-only with the standard library (not Millrace's code)."""
    assert path.is_file(), f"no database at {path}"
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        yield db


class Db:
    """Read-only queries against ``<home>/millrace.db``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with open_db(self.path) as db:
            return db.execute(sql, params).fetchall()

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        found = self.rows(sql, params)
        assert len(found) == 1 and len(found[0]) == 1, f"{sql} gave {found}"
        return found[0][0]


@pytest.fixture
def db(home: Path) -> Db:
    return Db(home / "millrace.db")


def stored_value(home: Path, key: str) -> Any:
    """A small pickled value as the default IO manager keeps it: a row of ``asset_values``
    in ``<home>/millrace.db``, read and unpickled with the standard library alone."""
    import pickle

    with open_db(home / "millrace.db") as db:
        row = db.execute(
            "SELECT data FROM asset_values WHERE asset_key = ? AND partition_key = ''", (key,)
        ).fetchone()
    assert row is not None, f"no stored value for {key} in {home}"
    return pickle.loads(row[0])
