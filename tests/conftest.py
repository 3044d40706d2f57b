"""Shared fixtures: every test gets its own MILLRACE_HOME, and a read-only view of its db."""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Property tests explore the same inputs on every run, so the suite stays deterministic; the
# examples that once failed are pinned with @example in the tests themselves.
settings.register_profile("millrace", derandomize=True, database=None)
settings.load_profile("millrace")


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


MILLRACE = [sys.executable, "-m", "millrace.cli"]
CLI_TIMEOUT = 30  # seconds: generous for a slow machine, short enough to fail, not hang


def cli_env(home: Path | None = None, env: dict[str, str | None] | None = None) -> dict[str, str]:
    """The environment of a CLI process. MILLRACE_HOME is ``home``, or unset so the default
    applies; ``env`` adds variables, or removes those given as None. Bytecode is never
    cached, so a rewritten source file can never load a stale ``.pyc``."""
    environ = dict(os.environ)
    environ.pop("MILLRACE_HOME", None)
    environ["PYTHONDONTWRITEBYTECODE"] = "1"
    if home is not None:
        environ["MILLRACE_HOME"] = str(home)
    for name, value in (env or {}).items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return environ


def run_cli(
    *args: str | Path,
    cwd: Path,
    home: Path | None = None,
    env: dict[str, str | None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``millrace ARGS`` in a real subprocess, with ``cli_env(home, env)``."""
    return subprocess.run(
        [*MILLRACE, *map(str, args)],
        cwd=cwd,
        env=cli_env(home, env),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


def write_source(path: Path, source: str) -> Path:
    """Write dedented user code to ``path``, making its directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip())
    return path


class Spawned:
    """A ``millrace`` subprocess whose stdout and stderr lines are read by threads, so a test
    can wait for a given line with a timeout while the process runs on."""

    def __init__(
        self, *args: str | Path, cwd: Path, env: dict[str, str | None] | None = None
    ) -> None:
        self.proc = subprocess.Popen(
            [*MILLRACE, *map(str, args)],
            cwd=cwd,
            env=cli_env(None, env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: queue.Queue[str | None] = queue.Queue()
        self.stderr: queue.Queue[str | None] = queue.Queue()
        self.out_lines: list[str] = []  # every stdout line read so far
        self.err_lines: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, lines: queue.Queue[str | None]) -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    def next_line(self, lines: queue.Queue[str | None], deadline: float, what: str) -> str:
        import pytest

        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            pytest.fail(f"timed out waiting for {what}; saw {self.out_lines} {self.err_lines}")
        if line is None:
            pytest.fail(f"output ended before {what}; saw {self.out_lines} {self.err_lines}")
        (self.out_lines if lines is self.stdout else self.err_lines).append(line)
        return line

    def wait_for_line(self, matches: Callable[[str], bool], what: str) -> str:
        """The next stdout line for which ``matches`` is true (earlier ones are kept)."""
        deadline = time.monotonic() + CLI_TIMEOUT
        while not matches(line := self.next_line(self.stdout, deadline, what)):
            pass
        return line

    def wait_for_stderr(self, text: str) -> None:
        deadline = time.monotonic() + CLI_TIMEOUT
        while text not in self.next_line(self.stderr, deadline, repr(text)):
            pass

    def finish(self) -> int:
        """Wait for exit and collect whatever is left of stdout and stderr."""
        code = self.proc.wait(timeout=CLI_TIMEOUT)
        for reader in self._readers:
            reader.join(timeout=CLI_TIMEOUT)
        for lines, kept in ((self.stdout, self.out_lines), (self.stderr, self.err_lines)):
            while (line := lines.get_nowait()) is not None:
                kept.append(line)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=CLI_TIMEOUT)

    def __enter__(self) -> Spawned:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# What each migration added, to take a real home back to an older schema exactly as it was
# (a migration test then sees real history written by an older Millrace's tables).
_UNDO = {
    8: [
        "DROP INDEX latest_by_event",
        "DROP INDEX latest_partitions",
        "DROP INDEX latest_inputs_changed",
        "DROP INDEX inputs_by_upstream",
        "ALTER TABLE latest_materializations DROP COLUMN inputs_changed",
    ],
    9: [
        "DROP INDEX runs_by_origin",
        "ALTER TABLE runs DROP COLUMN origin",
        "DROP TABLE instigators",
        "DROP TABLE ticks",
        "DROP TABLE run_keys",
    ],
    10: ["DROP TABLE automation_evaluations"],
    11: [
        "DROP TABLE partition_keys",
        "DROP TABLE partition_summaries",
        "CREATE INDEX latest_partitions ON latest_materializations"
        " (asset_key, partition_key, event_id, timestamp, code_version)",
    ],
    12: ["ALTER TABLE latest_materializations DROP COLUMN observed"],
}


def downgrade(conn: sqlite3.Connection, version: int) -> None:
    """Undo every migration after ``version`` on ``conn`` (not committed)."""
    from millrace.storage.schema import SCHEMA_VERSION

    assert max(_UNDO) == SCHEMA_VERSION, "a new migration needs its undo in conftest._UNDO"
    for later in range(SCHEMA_VERSION, version, -1):
        for statement in _UNDO[later]:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {version}")


class ManualClock:
    """Automation's clock in tests: time moves only when the test says, and sleepers wake
    when it passes their deadline (no waiting for cron)."""

    def __init__(self, start: datetime) -> None:
        self.t = start.timestamp()
        self._moved = asyncio.Event()

    def now(self) -> float:
        return self.t

    async def sleep_until(self, deadline: float) -> None:
        while self.t < deadline:
            self._moved.clear()
            await self._moved.wait()

    def move_to(self, moment: datetime) -> None:
        self.t = moment.timestamp()
        self._moved.set()
