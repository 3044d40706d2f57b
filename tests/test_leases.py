"""Write leases across processes: two real ``millrace materialize`` processes sharing one home
write the same asset one after the other; a lease left by a dead process is reclaimed; and
processes that open one home at the same moment migrate it once and all run.

Processes give no event to await, so the tests poll marker files with a timeout, and read
each process's ``--json`` output line by line (``conftest.Spawned``).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from conftest import CLI_TIMEOUT, Db, Spawned, stored_value, write_source
from millrace.storage.schema import MIGRATIONS, SCHEMA_VERSION

# ``contested`` says which process wrote it (its LEASE_ROLE). The one whose role is "first"
# announces that it is inside the asset (its run id in ``started``), then holds until the
# test creates ``go``; any other role writes at once.
PROJECT = """
    import os
    import time
    from pathlib import Path

    from millrace import AssetExecutionContext, asset

    HERE = Path(__file__).parent


    @asset
    def contested(context: AssetExecutionContext) -> dict:
        role = os.environ["LEASE_ROLE"]
        if role == "first":
            (HERE / "started.tmp").write_text(context.run_id)
            (HERE / "started.tmp").replace(HERE / "started")  # appears whole, never empty
            deadline = time.monotonic() + 20
            while not (HERE / "go").exists():
                if time.monotonic() > deadline:
                    raise TimeoutError("the test never created the go file")
                time.sleep(0.01)
        return {"role": role, "pid": os.getpid(), "run_id": context.run_id}


    @asset
    def summary(contested: dict) -> str:
        return contested["role"]
"""


# -- helpers ---------------------------------------------------------------------------------


def materializing(code: Path, home: Path, role: str) -> Spawned:
    """``millrace materialize CODE --json`` on ``home``, as a process with LEASE_ROLE=role."""
    env: dict[str, str | None] = {"MILLRACE_HOME": str(home), "LEASE_ROLE": role}
    return Spawned("materialize", code, "--json", cwd=code.parent, env=env)


def wait_for_event(run: Spawned, kind: str, asset_key: str | None) -> dict[str, Any]:
    def matches(line: str) -> bool:
        event = json.loads(line)
        return event["type"] == kind and event["asset_key"] == asset_key

    return json.loads(run.wait_for_line(matches, f"{kind} {asset_key}"))


def events(run: Spawned, kind: str) -> list[dict[str, Any]]:
    return [e for e in map(json.loads, run.out_lines) if e["type"] == kind]


def wait_for_files(directory: Path, pattern: str, count: int = 1) -> list[Path]:
    """Files other processes write: no event to await, so poll for them, with a timeout."""
    deadline = time.monotonic() + CLI_TIMEOUT
    while len(found := sorted(directory.glob(pattern))) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} of {directory / pattern} never appeared; found {found}")
        time.sleep(0.005)
    return found


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_source(tmp_path / "leased" / "shared.py", PROJECT)


# -- two processes, one asset ----------------------------------------------------------------


def test_a_second_process_waits_for_the_first_and_writes_last(project: Path, home: Path, db: Db):
    with materializing(project, home, "first") as first:
        wait_for_files(project.parent, "started")
        first_run = (project.parent / "started").read_text()
        with materializing(project, home, "second") as second:
            waiting = wait_for_event(second, "STEP_WAITING", "contested")
            (project.parent / "go").touch()
            assert first.finish() == 0, first.err_lines
            assert second.finish() == 0, second.err_lines

    [second_started] = events(second, "RUN_STARTED")
    second_run = second_started["run_id"]
    assert waiting["run_id"] == second_run != first_run
    assert waiting["holder_run_id"] == first_run
    assert "contested" in waiting["reason"] and first_run[:8] in waiting["reason"]
    assert [e["status"] for e in events(first, "RUN_FINISHED")] == ["SUCCESS"]
    assert [e["status"] for e in events(second, "RUN_FINISHED")] == ["SUCCESS"]
    kinds = [json.loads(line)["type"] for line in second.out_lines]
    assert kinds.index("STEP_STARTED") > kinds.index("STEP_WAITING")

    value = stored_value(home, "contested")
    assert (value["role"], value["run_id"], value["pid"]) == ("second", second_run, second.proc.pid)
    assert stored_value(home, "summary") == "second"
    latest = dict(db.rows("SELECT asset_key, run_id FROM latest_materializations"))
    assert latest == {"contested": second_run, "summary": second_run}
    assert db.rows(
        "SELECT e.type, e.run_id FROM latest_materializations l JOIN events e"
        " ON e.id = l.event_id WHERE l.asset_key = 'contested'"
    ) == [("ASSET_MATERIALIZED", second_run)]
    for run_id in (first_run, second_run):
        assert_consistent_provenance(db, run_id)
    assert db.rows("SELECT * FROM leases") == []


def assert_consistent_provenance(db: Db, run_id: str) -> None:
    """Each materialization of ``run_id`` is its own ASSET_MATERIALIZED event, and ``summary``
    consumed the ``contested`` that this same run wrote."""
    rows = dict(
        db.rows("SELECT asset_key, event_id FROM materializations WHERE run_id = ?", (run_id,))
    )
    assert set(rows) == {"contested", "summary"}
    for key, event_id in rows.items():
        assert db.rows("SELECT type, run_id, asset_key FROM events WHERE id = ?", (event_id,)) == [
            ("ASSET_MATERIALIZED", run_id, key)
        ]
    contested_version = db.value(
        "SELECT data_version FROM materializations WHERE event_id = ?", (rows["contested"],)
    )
    assert db.rows(
        "SELECT asset_key, input_event_id, data_version FROM materialization_inputs"
        " WHERE event_id = ?",
        (rows["summary"],),
    ) == [("contested", rows["contested"], contested_version)]


# -- a dead holder ---------------------------------------------------------------------------


def dead_pid() -> int:
    """The pid of a process that has certainly exited (and been reaped)."""
    proc = subprocess.Popen(["true"])
    proc.wait(timeout=CLI_TIMEOUT)
    return proc.pid


def test_a_lease_left_by_a_dead_process_is_reclaimed(project: Path, home: Path, db: Db):
    with materializing(project, home, "alone") as setup:
        assert setup.finish() == 0, setup.err_lines
    with closing(sqlite3.connect(db.path)) as conn:
        conn.execute(
            "INSERT INTO leases (asset_key, partition_key, run_id, pid, hostname, acquired)"
            " VALUES ('contested', '', 'dead-run', ?, ?, ?)",
            (dead_pid(), socket.gethostname(), time.time()),
        )
        conn.commit()

    with materializing(project, home, "alone") as run:
        began = json.loads(
            run.wait_for_line(
                lambda line: json.loads(line)["type"] in ("STEP_WAITING", "STEP_STARTED"),
                "the first step to start or wait",
            )
        )
        assert began["type"] == "STEP_STARTED", began  # else it waits for the dead run
        assert run.finish() == 0, run.err_lines

    assert events(run, "STEP_WAITING") == []
    assert [e["asset_key"] for e in events(run, "ASSET_MATERIALIZED")] == ["contested", "summary"]
    assert db.rows("SELECT * FROM leases") == []


# -- several processes opening one home at once ----------------------------------------------

# Every process that runs this holds its first connection to the home's database until the
# test creates ``go`` (an audit hook: Python reports each ``sqlite3.connect``), after saying
# so with ``ready-<pid>``: so all of them open the home at the same moment.
AT_ONCE = """
    import os
    import sys
    import time
    from pathlib import Path

    from millrace import asset

    HERE = Path(__file__).parent


    def hold_the_first_open(event, args):
        if event != "sqlite3.connect" or not str(args[0]).endswith("millrace.db"):
            return
        if (HERE / f"ready-{os.getpid()}").exists():
            return
        (HERE / f"ready-{os.getpid()}").touch()
        deadline = time.monotonic() + 20
        while not (HERE / "go").exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the test never created the go file")
            time.sleep(0.001)


    sys.addaudithook(hold_the_first_open)


    @asset
    def value() -> int:
        return 1
"""
AT_ONCE_PROCESSES = 4
OLD_EVENTS = 20_000  # enough history that upgrading it takes a while


def build_v4_home(home: Path) -> None:
    """A home written by a Millrace of schema v4 (in WAL mode), with a long history."""
    home.mkdir()
    with closing(sqlite3.connect(home / "millrace.db")) as db:
        db.execute("PRAGMA journal_mode=WAL")
        for migration in MIGRATIONS[:4]:
            db.executescript(migration)
        db.execute("PRAGMA user_version = 4")
        db.execute(
            "INSERT INTO runs (run_id, status, selection, config, tags, start_time)"
            " VALUES ('old', 'SUCCESS', '[]', '{}', '{}', 0)"
        )
        payload = json.dumps({"metadata": {}, "code_version": "1", "data_version": "d"})
        db.executemany(
            "INSERT INTO events (id, run_id, asset_key, type, timestamp, payload)"
            " VALUES (?, 'old', 'value', 'ASSET_MATERIALIZED', ?, ?)",
            [(n, float(n), payload) for n in range(1, OLD_EVENTS + 1)],
        )
        db.commit()


def test_processes_upgrading_one_home_at_once_migrate_it_once(tmp_path: Path, home: Path, db: Db):
    build_v4_home(home)
    code = write_source(tmp_path / "at_once" / "at_once.py", AT_ONCE)
    runs = [materializing(code, home, "alone") for _ in range(AT_ONCE_PROCESSES)]
    try:
        wait_for_files(code.parent, "ready-*", AT_ONCE_PROCESSES)
        (code.parent / "go").touch()
        codes = [run.finish() for run in runs]
    finally:
        for run in runs:
            run.close()

    assert codes == [0] * AT_ONCE_PROCESSES, [run.err_lines[-1:] for run in runs]
    assert db.value("PRAGMA user_version") == SCHEMA_VERSION
    assert db.value("SELECT COUNT(*) FROM runs WHERE status = 'SUCCESS'") == AT_ONCE_PROCESSES + 1
    assert db.value("SELECT COUNT(*) FROM materializations") == OLD_EVENTS + AT_ONCE_PROCESSES


async def test_many_runs_of_one_process_at_once_share_the_connection_safely(home: Path) -> None:
    """Leases and the event writer both open transactions on the store's one connection:
    runs starting while batches are written must never nest them."""
    from millrace import Definitions, asset
    from millrace.runtime.runtime import Runtime

    @asset
    def one() -> int:
        return 1

    @asset
    def two(one: int) -> int:
        return one + 1

    async with Runtime(Definitions(assets=[one, two]), home=home) as runtime:
        handles = [runtime.submit() for _ in range(25)]
        results = [await handle for handle in handles]
    assert all(result.success for result in results), [r.status for r in results]
