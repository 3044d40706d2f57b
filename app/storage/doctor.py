"""``millrace doctor``: what is wrong with a home, and (``--repair``) put it right.

Examining only reads, with plain sqlite3. Repairing moves a damaged database aside (never
deletes it), starts a fresh one and carries over what can still be read of the old one
(stored small values, the latest materializations and their history), so stored values stay
loadable, and removes the half-written temporary files of dead processes; opening the
store afterwards (the CLI does) marks the runs of dead processes failed and ends their leases.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .liveness import alive
from .schema import DATABASE, MIGRATIONS, SCHEMA_VERSION, statements

# Written by ``write_atomically``: ``.<name>.<pid>-<thread>.tmp`` beside the final file.
_TEMP = re.compile(r"^\..+\.(\d+)-\d+\.tmp$")
# What a fresh database gets back from a damaged one: what makes stored values loadable and
# their provenance known.
_SALVAGED = (
    "asset_values",
    "latest_materializations",
    "materializations",
    "materialization_inputs",
)


@dataclass(frozen=True, slots=True)
class Finding:
    level: str  # "ok", "warning" or "error"
    message: str

    def __str__(self) -> str:
        mark = {"ok": "✓", "warning": "!", "error": "✗"}[self.level]
        return f"{mark} {self.message}"


def examine(home: Path) -> list[Finding]:
    """Everything worth knowing about ``home``, reading only."""
    if not home.exists():
        return [Finding("ok", f"{home} does not exist yet: the first run creates it")]
    if not home.is_dir():
        return [Finding("error", f"{home} is a file, not a directory: choose another home")]
    findings = [_writable(home)]
    findings += [
        Finding("warning", f"half-written file of a dead process: {temp}")
        for temp in _dead_temp_files(home / "storage")
    ]
    path = home / DATABASE
    if not path.exists():
        return [*findings, Finding("ok", f"no history yet in {path}")]
    problem = _damage(path)
    if problem is not None:
        return [
            *findings,
            Finding(
                "error",
                f"{path} cannot be read ({problem}); 'millrace doctor --repair' moves it aside "
                "and starts a fresh history, keeping what can still be read",
            ),
        ]
    with _readonly(path) as db:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        findings.append(_schema(path, version))
        if version == SCHEMA_VERSION:
            findings += _runs_and_leases(db)
            findings += _stored_files(db)
    return findings


def repair(home: Path) -> list[str]:
    """Put ``home`` right; returns what was done, one line each."""
    done: list[str] = []
    path = home / DATABASE
    if path.exists() and (problem := _damage(path)) is not None:
        done += _replace_damaged(path, problem)
    for temp in _dead_temp_files(home / "storage"):
        temp.unlink(missing_ok=True)
        done.append(f"removed the half-written {temp}")
    return done


def _writable(home: Path) -> Finding:
    if os.access(home, os.W_OK):
        return Finding("ok", f"{home} is writable")
    return Finding(
        "warning", f"{home} is not writable: reading commands work, materializing does not"
    )


def _damage(path: Path) -> str | None:
    """Why the database cannot be trusted, or None."""
    try:
        with _readonly(path) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    problems = [r[0] for r in rows if r[0] != "ok"]
    return "; ".join(problems[:3]) if problems else None


@contextlib.contextmanager
def _readonly(path: Path) -> Iterator[sqlite3.Connection]:
    """A read-only connection; in a directory SQLite cannot write its WAL index to, one that
    reads the file as it is (as the store does)."""
    uri = path.resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA user_version")
    except sqlite3.OperationalError as exc:
        db.close()
        if "unable to open" not in str(exc):
            raise
        db = sqlite3.connect(f"{uri}?immutable=1", uri=True)
    try:
        yield db
    finally:
        db.close()


def _schema(path: Path, version: int) -> Finding:
    if version == SCHEMA_VERSION:
        return Finding("ok", f"{path}: schema v{version}, integrity ok")
    if version > SCHEMA_VERSION:
        return Finding("error", f"{path}: schema v{version} is newer than this Millrace's")
    return Finding("ok", f"{path}: schema v{version}, upgraded to v{SCHEMA_VERSION} on next run")


def _runs_and_leases(db: sqlite3.Connection) -> list[Finding]:
    host = socket.gethostname()
    findings = []
    for run_id, pid, hostname in db.execute(
        "SELECT run_id, pid, hostname FROM runs WHERE status = 'STARTED'"
    ):
        if hostname == host and not alive(pid):
            findings.append(
                Finding("warning", f"run {run_id[:8]}'s process is gone: marked failed on next run")
            )
        else:
            findings.append(Finding("ok", f"run {run_id[:8]} is running (pid {pid} on {hostname})"))
    for key, run_id, pid, hostname in db.execute(
        "SELECT asset_key, run_id, pid, hostname FROM leases"
    ):
        if hostname == host and not alive(pid):
            findings.append(
                Finding("warning", f"{key} is leased by dead run {run_id[:8]}: --repair frees it")
            )
    return findings


def _stored_files(db: sqlite3.Connection) -> list[Finding]:
    """Latest materializations whose stored file is gone or unreadable."""
    findings = []
    for key, metadata in db.execute(
        "SELECT asset_key, metadata FROM latest_materializations WHERE partition_key = ''"
    ):
        entry = json.loads(metadata).get("path")
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), str):
            continue
        stored = Path(entry["value"])
        why = _unreadable(stored)
        if why is not None:
            findings.append(
                Finding(
                    "warning",
                    f"asset '{key}': its stored value {stored} {why}; re-materialize it with "
                    f"'millrace materialize --select {key}'",
                )
            )
    if not findings:
        findings.append(Finding("ok", "every stored file of the latest materializations reads"))
    return findings


def _unreadable(path: Path) -> str | None:
    if not path.exists():
        return "is missing"
    if path.suffix != ".parquet":
        return None
    try:
        import pyarrow.parquet as pq

        pq.read_metadata(path)
    except Exception as exc:  # any reason a reader would fail
        return f"is not readable Parquet ({exc})"
    return None


def _dead_temp_files(storage: Path) -> list[Path]:
    if not storage.is_dir():
        return []
    found = []
    for directory, _, names in os.walk(storage):
        for name in names:
            match = _TEMP.match(name)
            if match and not alive(int(match[1])):
                found.append(Path(directory) / name)
    return sorted(found)


def _replace_damaged(path: Path, problem: str) -> list[str]:
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = path.with_name(f"{path.name}.damaged-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        source = Path(f"{path}{suffix}")
        if source.exists():
            os.replace(source, f"{aside}{suffix}")
    done = [f"moved the damaged {path.name} ({problem}) aside to {aside.name}"]
    _create_fresh(path)
    done += _salvage(aside, path)
    return done


def _create_fresh(path: Path) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        for migration in MIGRATIONS:
            for statement in statements(migration):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")


def _salvage(damaged: Path, fresh: Path) -> list[str]:
    """Copy what still reads, table by table, row by row where a table half-reads."""
    done = []
    try:
        old = sqlite3.connect(f"{damaged.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return ["nothing could be read from the damaged database"]
    with contextlib.closing(old), contextlib.closing(sqlite3.connect(fresh)) as new:
        for table in _SALVAGED:
            copied = _copy_table(old, new, table)
            if copied:
                done.append(f"kept {copied} row(s) of {table}")
        top = new.execute(
            "SELECT MAX(m) FROM (SELECT MAX(event_id) AS m FROM materializations"
            " UNION ALL SELECT MAX(event_id) FROM latest_materializations)"
        ).fetchone()[0]
        if top is not None:  # new events must not reuse the ids the kept rows name
            new.execute("UPDATE meta SET value = ? WHERE name = 'next_event_id'", (top + 1,))
        new.commit()
    return done or ["nothing could be read from the damaged database"]


def _copy_table(old: sqlite3.Connection, new: sqlite3.Connection, table: str) -> int:
    """Rows of ``table`` the damaged file still yields, in the columns both schemas have."""
    copied = 0
    try:
        have = {r[1] for r in old.execute(f"PRAGMA table_info({table})")}
        columns = [r[1] for r in new.execute(f"PRAGMA table_info({table})") if r[1] in have]
        if not columns:
            return 0
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        for row in old.execute(f"SELECT {names} FROM {table}"):
            new.execute(f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})", row)
            copied += 1
    except sqlite3.DatabaseError:  # the rest of this table is gone; keep what was read
        pass
    return copied
