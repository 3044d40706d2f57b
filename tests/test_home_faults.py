"""A home that is read-only, damaged, from a newer Millrace, or not a directory: reading
commands still answer where they can, every command says what is wrong in one line, and
``millrace doctor --repair`` puts the history right without losing what still reads."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import run_cli, stored_value, write_source

ASSETS = """
    from millrace import asset

    @asset
    def alpha() -> int:
        return 1

    @asset
    def beta(alpha: int) -> int:
        return alpha + 1
"""
READING = (("runs", "proj"), ("status", "proj"), ("list", "proj"), ("lineage", "beta", "proj"))
MATERIALIZE = ("materialize", "proj")


@pytest.fixture
def materialized(tmp_path: Path, home: Path) -> Path:
    write_source(tmp_path / "proj" / "assets.py", ASSETS)
    done = run_cli("materialize", "proj", cwd=tmp_path, home=home)
    assert done.returncode == 0, done.stderr
    return tmp_path


def assert_one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for text in expected:
        assert text in lines[0], lines[0]


# -- reading commands never write ------------------------------------------------------------


def test_reading_commands_leave_the_database_untouched(materialized: Path, home: Path) -> None:
    database = home / "millrace.db"
    before = database.read_bytes()

    for command in READING:
        result = run_cli(*command, cwd=materialized, home=home)
        assert result.returncode == 0, (command, result.stderr)

    assert database.read_bytes() == before


@contextlib.contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """Make ``paths`` impossible to change even for root (the tests run as root, which
    ignores permission bits): the filesystem's immutable attribute."""
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this filesystem cannot make files immutable: {done.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)


def test_a_read_only_home_answers_reading_commands_and_refuses_writing_ones_clearly(
    materialized: Path, home: Path
) -> None:
    for leftover in home.glob("millrace.db-*"):  # a clean close leaves none; be sure
        leftover.unlink()
    with immutable(home / "millrace.db", home):
        for command in READING:
            result = run_cli(*command, cwd=materialized, home=home)
            assert result.returncode == 0, (command, result.stderr)
        listed = run_cli("status", "proj", cwd=materialized, home=home)
        assert "fresh" in listed.stdout

        refused = run_cli(*MATERIALIZE, cwd=materialized, home=home)

    assert_one_line_error(refused, f"cannot keep history in {home}", "permission denied", "--home")


# -- a damaged or foreign database -----------------------------------------------------------


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_database_is_named_kept_and_repaired(
    materialized: Path, home: Path, damage: str
) -> None:
    database = home / "millrace.db"
    run_cli("materialize", "proj", cwd=materialized, home=home)  # more history to lose
    if damage == "garbage":
        database.write_bytes(os.urandom(8192))
    else:
        with open(database, "r+b") as f:
            f.truncate(os.path.getsize(database) // 2)
    damaged = database.read_bytes()

    for command in (MATERIALIZE, *READING):
        result = run_cli(*command, cwd=materialized, home=home)
        assert_one_line_error(result, str(database), "doctor")
    assert database.read_bytes() == damaged  # left untouched

    diagnosis = run_cli("doctor", "proj", cwd=materialized, home=home)
    assert diagnosis.returncode == 1 and "--repair" in diagnosis.stdout

    repaired = run_cli("doctor", "proj", "--repair", cwd=materialized, home=home)

    assert repaired.returncode == 0, repaired.stdout
    moved = home.glob("millrace.db.damaged-*")
    [aside] = [p for p in moved if not p.name.endswith(("-wal", "-shm"))]
    assert aside.read_bytes() == damaged
    assert "moved the damaged millrace.db" in repaired.stdout
    again = run_cli(*MATERIALIZE, cwd=materialized, home=home)  # a fresh history works
    assert again.returncode == 0, again.stderr
    assert stored_value(home, "beta") == 2


def test_repair_keeps_what_still_reads_of_a_damaged_database(
    materialized: Path, home: Path
) -> None:
    database = home / "millrace.db"
    with contextlib.closing(sqlite3.connect(database)) as db:
        kept = db.execute("SELECT asset_key, data_version FROM latest_materializations").fetchall()
        # Damage one table's pages only: runs. What makes values loadable is elsewhere.
        root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
        page = db.execute("PRAGMA page_size").fetchone()[0]
    with open(database, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xff" * page)

    repaired = run_cli("doctor", "proj", "--repair", cwd=materialized, home=home)

    assert repaired.returncode == 0, repaired.stdout
    assert "kept 2 row(s) of latest_materializations" in repaired.stdout
    with contextlib.closing(sqlite3.connect(database)) as db:
        assert sorted(
            db.execute("SELECT asset_key, data_version FROM latest_materializations").fetchall()
        ) == sorted(kept)
    status = run_cli("status", "proj", "--json", cwd=materialized, home=home)
    assert status.returncode == 0 and '"status": "fresh"' in status.stdout
    # A run downstream reads the kept small value of alpha from the new database.
    assert run_cli("materialize", "proj", "-s", "beta", cwd=materialized, home=home).returncode == 0


def test_a_database_from_a_newer_millrace_says_so(materialized: Path, home: Path) -> None:
    with contextlib.closing(sqlite3.connect(home / "millrace.db")) as db:
        db.execute("PRAGMA user_version = 99")

    for command in (MATERIALIZE, *READING):
        result = run_cli(*command, cwd=materialized, home=home)
        assert_one_line_error(result, "schema version 99", "upgrade Millrace")


def test_doctor_reports_a_missing_stored_file_with_the_command_that_remakes_it(
    tmp_path: Path, home: Path
) -> None:
    write_source(
        tmp_path / "proj" / "assets.py",
        """
        import polars as pl
        from millrace import asset

        @asset
        def table() -> pl.DataFrame:
            return pl.DataFrame({"x": [1, 2]})
        """,
    )
    assert run_cli("materialize", "proj", cwd=tmp_path, home=home).returncode == 0
    (home / "storage" / "table.parquet").unlink()

    report = run_cli("doctor", "proj", cwd=tmp_path, home=home)

    assert "asset 'table'" in report.stdout and "is missing" in report.stdout
    assert "millrace materialize --select table" in report.stdout


def test_doctor_removes_the_half_written_files_of_dead_processes(
    materialized: Path, home: Path
) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    storage = home / "storage"
    storage.mkdir(exist_ok=True)
    temp = storage / f".alpha.parquet.{dead.pid}-1.tmp"
    temp.write_bytes(b"half")
    mine = storage / "notes.txt"  # not Millrace's: never touched
    mine.write_text("mine")

    report = run_cli("doctor", "proj", "--repair", cwd=materialized, home=home)

    assert f"removed the half-written {temp}" in report.stdout
    assert not temp.exists() and mine.read_text() == "mine"
