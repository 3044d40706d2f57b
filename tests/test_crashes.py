"""Crash safety (issue 14, item 16): real ``millrace materialize`` processes are killed with
SIGKILL at seeded-random points, over and over, on one home; after every kill the history and
the stored values must still be whole and agree with each other. Then four processes
materialize on a fresh home at the same moment.

The pipeline mixes what the default IO manager stores: small pickles (inline in SQLite),
Polars frames (Parquet), a pickle over 64 KiB (a ``.pkl`` file) and an asset that logs a lot;
every value depends on the run id, so a file and a history row from different runs differ.

To spend the time budget on the interesting part of a run, each process holds at import time
(a barrier file, before it opens the home) until the test releases it; the next process is
started while the current one runs, so Python's start-up overlaps. Kill points, chosen by a
seeded ``random.Random``: a delay in [0, a full run's time] after the release, the line of a
given ``--json`` event, or the Nth log line. Processes give no event to await across the
barrier, so the test polls the barrier's files with a deadline.

One campaign of kills runs once (a module fixture) and notes every broken rule; each test
below then asserts one rule over the whole campaign, so one broken rule fails one test. The
latest materializations are compared with the stored values once a command has opened the
home after a kill: a run killed between putting a file in place and recording it leaves the
file newer than its record, and the next command records it (the guarantee is "consistent on
restart", as SQLite's own recovery is).
"""

from __future__ import annotations

import itertools
import json
import pickle
import queue
import random
import signal
import sqlite3
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from conftest import CLI_TIMEOUT, Db, Spawned, open_db, run_cli, write_source
from millrace.storage.event_store import ID_BLOCK
from millrace.storage.schema import SCHEMA_VERSION
from millrace.versions.data import bytes_version, file_version

PROJECT = """
    import os
    import time
    from pathlib import Path

    import polars as pl

    from millrace import AssetExecutionContext, asset

    # Held here, before the home is opened, until the test creates go-<pid> (or go).
    BARRIER = os.environ.get("CRASH_BARRIER")
    if BARRIER:
        _pid = os.getpid()
        Path(BARRIER, f"ready-{_pid}").touch()
        _deadline = time.monotonic() + 30
        while not (Path(BARRIER, f"go-{_pid}").exists() or Path(BARRIER, "go").exists()):
            if time.monotonic() > _deadline:
                raise TimeoutError("the test never released the barrier")
            time.sleep(0.001)

    LOG_LINES = 400


    @asset
    def seed(context: AssetExecutionContext) -> dict:
        return {"run_id": context.run_id, "salt": int(context.run_id[:8], 16)}


    @asset
    def table(seed: dict) -> pl.DataFrame:
        return pl.DataFrame({"i": range(50_000)}).with_columns(
            v=(pl.col("i") * 7919 + seed["salt"]) % 1_000_003, g=pl.col("i") % 97
        )


    @asset
    def totals(table: pl.DataFrame) -> pl.DataFrame:
        return table.group_by("g").agg(pl.col("v").sum()).sort("g")


    @asset
    def blob(seed: dict) -> bytes:
        return seed["run_id"].encode() * 8_000  # 256 KB: a .pkl file, not inline


    @asset
    def chatty(context: AssetExecutionContext, seed: dict) -> dict:
        for i in range(LOG_LINES):
            context.log.info(f"line {i} of run {seed['run_id']}")
        return {"lines": LOG_LINES, "run_id": seed["run_id"]}


    @asset
    def report(totals: pl.DataFrame, blob: bytes, chatty: dict) -> dict:
        return {"groups": totals.height, "blob": len(blob), "run_id": chatty["run_id"]}
"""
ASSETS = ("seed", "table", "totals", "blob", "chatty", "report")
STORED_AS = {  # where the default IO manager keeps each value
    "seed": "inline",
    "table": ".parquet",
    "totals": ".parquet",
    "blob": ".pkl",
    "chatty": "inline",
    "report": "inline",
}
LOG_LINES = 400  # as in PROJECT
KILLS = 32  # kills that land (a run may finish before its kill point: then one more)
MAX_ATTEMPTS = 48
PRESTART = 2  # processes starting up, held at the barrier, while one runs
SEED = 1416
RUNS_CHECK_EVERY = 9  # a reading command (``millrace runs``) between kills, now and then


# -- processes ---------------------------------------------------------------------------------


def launch(code: Path, home: Path, barrier: Path) -> Spawned:
    """``millrace materialize CODE --json``, held at the barrier until ``release``."""
    env: dict[str, str | None] = {"MILLRACE_HOME": str(home), "CRASH_BARRIER": str(barrier)}
    return Spawned("materialize", code, "--json", cwd=code.parent, env=env)


def wait_for_files(paths: list[Path]) -> None:
    deadline = time.monotonic() + CLI_TIMEOUT
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            pytest.fail(f"never appeared: {[p for p in paths if not p.exists()]}")
        time.sleep(0.002)


def release(run: Spawned, barrier: Path) -> None:
    wait_for_files([barrier / f"ready-{run.proc.pid}"])
    (barrier / f"go-{run.proc.pid}").touch()


def read_until(run: Spawned, wanted: Callable[[dict[str, Any]], bool]) -> bool:
    """Read ``--json`` lines until one for which ``wanted`` is true (True), or the end of the
    output (False: the run finished first)."""
    deadline = time.monotonic() + CLI_TIMEOUT
    while True:
        try:
            line = run.stdout.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            pytest.fail(f"no output for {CLI_TIMEOUT} s; saw {run.out_lines[-3:]}")
        if line is None:
            run.stdout.put(None)  # the end marker, for finish()
            return False
        run.out_lines.append(line)
        if wanted(json.loads(line)):
            return True


@dataclass(frozen=True)
class KillPoint:
    """Where to kill: ``delay`` seconds after the release, or at the line of ``event``
    (type, asset key), or at the ``log_line``-th log line."""

    delay: float | None = None
    event: tuple[str, str | None] | None = None
    log_line: int | None = None

    def __str__(self) -> str:
        if self.delay is not None:
            return f"{self.delay:.3f} s after release"
        if self.event is not None:
            return f"at {self.event[0]} {self.event[1] or ''}".rstrip()
        return f"at log line {self.log_line}"

    def reach(self, run: Spawned) -> bool:
        """Wait for the kill point; False if the run finished before it."""
        if self.delay is not None:
            try:
                run.proc.wait(timeout=self.delay)
            except subprocess.TimeoutExpired:  # still running, as planned
                return True
            return False
        if self.event is not None:
            return read_until(run, lambda e: (e["type"], e["asset_key"]) == self.event)
        logs = 0

        def nth_log(event: dict[str, Any]) -> bool:
            nonlocal logs
            logs += event["type"] == "LOG"
            return logs == self.log_line

        return read_until(run, nth_log)


def kill_points(
    rng: random.Random, run_time: float, events: list[tuple[str, str | None]]
) -> Iterator[KillPoint]:
    for n in itertools.count():
        if n % 3 == 0:
            yield KillPoint(delay=rng.uniform(0, run_time))
        elif n % 3 == 1:
            yield KillPoint(event=rng.choice(events))
        else:
            yield KillPoint(log_line=rng.randint(1, LOG_LINES))


# -- what must hold after every kill ---------------------------------------------------------


def examine(home: Path, dead_pids: set[int]) -> dict[str, list[str]]:
    """Every broken rule, by rule, in the home as a killed process left it."""
    found: dict[str, list[str]] = {
        "integrity": [],
        "unreadable": [],
        "temp names": [],
        "latest": [],
    }
    with open_db(home / "millrace.db") as db:
        checked = [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()]
        if checked != ["ok"]:
            found["integrity"].append(f"integrity_check: {checked}")
            return found
        latest = db.execute(
            "SELECT l.asset_key, l.event_id, l.data_version, m.data_version"
            " FROM latest_materializations l LEFT JOIN materializations m USING (event_id)"
            " WHERE l.partition_key = '' ORDER BY l.asset_key"
        ).fetchall()
        inline = dict(
            db.execute("SELECT asset_key, data FROM asset_values WHERE partition_key = ''")
        )
    storage = home / "storage"
    files = sorted(storage.rglob("*")) if storage.exists() else []
    finals = {f"{key}{suffix}" for key, suffix in STORED_AS.items() if suffix != "inline"}
    for path in files:
        name = path.name
        if name.startswith("."):  # a temporary file: a dead process's, beside its final name
            stem, _, owner = name[1:].rpartition(".")[0].rpartition(".")
            pid = int(owner.partition("-")[0]) if owner.partition("-")[0].isdigit() else None
            if not name.endswith(".tmp") or stem not in finals or pid not in dead_pids:
                found["temp names"].append(f"unexpected hidden file {name}")
            continue
        if name not in finals:
            found["temp names"].append(f"{name} is not a final name")
            continue
        try:
            if name.endswith(".parquet"):
                pq.read_table(path)
            else:
                with open(path, "rb") as f:
                    pickle.load(f)
        except Exception as exc:
            found["unreadable"].append(f"{name}: {type(exc).__name__}: {exc}")
    for key, blob in inline.items():
        try:
            pickle.loads(blob)
        except Exception as exc:
            found["unreadable"].append(f"inline {key}: {type(exc).__name__}: {exc}")
    for key, event_id, version, history_version in latest:
        found["latest"] += mismatches(storage, key, event_id, version, history_version, inline)
    return found


def mismatches(
    storage: Path,
    key: str,
    event_id: int,
    version: str,
    history_version: str | None,
    inline: dict[str, bytes],
) -> list[str]:
    """How the latest row of ``key`` disagrees with the value a reader would load (the
    default IO manager loads a Parquet file first, then a pickle file, then the inline
    value), and with its own history row."""
    problems = []
    if history_version != version:
        problems.append(
            f"{key}: latest row {version}, its history row (event {event_id}) {history_version}"
        )
    parquet, pickled = storage / f"{key}.parquet", storage / f"{key}.pkl"
    if parquet.exists():
        where, stored = parquet.name, file_version(parquet)
    elif pickled.exists():
        where, stored = pickled.name, file_version(pickled)
    elif key in inline:
        where, stored = "inline", bytes_version(inline[key])
    else:
        return [*problems, f"{key}: materialized (data version {version}), but nothing stored"]
    expected = "inline" if STORED_AS[key] == "inline" else f"{key}{STORED_AS[key]}"
    if where != expected:
        problems.append(f"{key}: stored as {where}, expected {expected}")
    if stored != version:
        problems.append(
            f"{key}: latest_materializations says data version {version}, "
            f"but {where} holds {stored}"
        )
    return problems


def started_runs_of_others(db: Db, pid: int) -> list[str] | None:
    """Runs still STARTED of processes other than ``pid``, once ``pid`` has recorded its own
    run (so it has opened the home, which marks dead processes' runs failed); None before."""
    rows = db.rows("SELECT run_id, status, pid FROM runs")
    if not any(p == pid for _, _, p in rows):
        return None
    return [f"{r[:8]} (pid {p})" for r, status, p in rows if status == "STARTED" and p != pid]


def runs_listed(home: Path, cwd: Path) -> list[dict[str, Any]]:
    done = run_cli("runs", "--json", "--limit", "1000", cwd=cwd, home=home)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# -- the campaign ------------------------------------------------------------------------------


@dataclass
class Campaign:
    home: Path
    kills: list[str] = field(default_factory=list)  # the kill points that landed
    finished_first: list[str] = field(default_factory=list)  # runs that ended before theirs
    broken: dict[str, list[str]] = field(default_factory=dict)  # rule -> what broke it
    final_code: int | None = None
    final_events: list[dict[str, Any]] = field(default_factory=list)
    final_runs: list[dict[str, Any]] = field(default_factory=list)

    def note(self, rule: str, when: str, problems: list[str]) -> None:
        self.broken.setdefault(rule, []).extend(f"{when}: {p}" for p in problems)

    def problems(self, rule: str) -> list[str]:
        return self.broken.get(rule, [])


@pytest.fixture(scope="module")
def campaign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Campaign]:
    root = tmp_path_factory.mktemp("crashes")
    code = write_source(root / "proj" / "crashy.py", PROJECT)
    home, barrier = root / "home", root / "barrier"
    barrier.mkdir()
    db = Db(home / "millrace.db")
    result = Campaign(home)
    spawned: list[Spawned] = []

    def start() -> Spawned:
        spawned.append(launch(code, home, barrier))
        return spawned[-1]

    try:
        # A full run first: how long the part after the barrier takes, and which events it has.
        reference = start()
        release(reference, barrier)
        released = time.monotonic()
        assert reference.finish() == 0, reference.err_lines
        run_time = time.monotonic() - released
        events = [
            (e["type"], e["asset_key"])
            for e in map(json.loads, reference.out_lines)
            if e["type"] != "LOG"
        ]
        dead: set[int] = set()
        waiting = deque(start() for _ in range(PRESTART))
        points = kill_points(random.Random(SEED), run_time, events)
        for number, point in enumerate(points, 1):
            if len(result.kills) == KILLS or number > MAX_ATTEMPTS:
                break
            when = f"kill {number} ({point})"
            current = waiting.popleft()
            release(current, barrier)
            waiting.append(start())  # starts up (and waits at the barrier) while this one runs
            if point.reach(current):
                current.proc.send_signal(signal.SIGKILL)
            exit_code = current.finish()
            dead.add(current.proc.pid)
            if exit_code == -signal.SIGKILL:
                result.kills.append(when)
            else:
                result.finished_first.append(f"{when}: exited {exit_code}")
                if exit_code != 0:
                    result.note("full run", when, current.err_lines[-3:])
            for rule, problems in examine(home, dead).items():
                if rule != "latest":  # a killed run's last file is recorded on restart
                    result.note(rule, when, problems)
            if (others := started_runs_of_others(db, current.proc.pid)) is not None:
                result.note("left running", when, others)
            if number % RUNS_CHECK_EVERY == 0:  # a reading command repairs too
                listed = runs_listed(home, root)
                result.note("left running", f"{when}, runs --json", stuck(listed))
                result.note("latest", f"{when}, runs --json", examine(home, dead)["latest"])
        for never_released in waiting:  # held at the barrier: they never opened the home
            never_released.close()

        result.final_runs = runs_listed(home, root)
        result.note("left running", "runs --json after the last kill", stuck(result.final_runs))
        after = "runs --json after the last kill"
        result.note("latest", after, examine(home, dead)["latest"])
        final = run_cli("materialize", code, "--json", cwd=root, home=home)
        result.final_code = final.returncode
        result.final_events = [json.loads(line) for line in final.stdout.splitlines()]
        if final.returncode != 0:
            result.note("full run", "the run after the kills", [final.stderr[-2000:]])
        for rule, problems in examine(home, dead).items():
            result.note(rule, "after the final run", problems)
        yield result
    finally:
        for run in spawned:
            run.close()


def stuck(listed: list[dict[str, Any]]) -> list[str]:
    return [f"{r['run_id'][:8]} is STARTED" for r in listed if r["status"] == "STARTED"]


def report(problems: list[str]) -> str:
    shown = "\n".join(problems[:12])
    more = f"\n... and {len(problems) - 12} more" if len(problems) > 12 else ""
    return f"{len(problems)} problems:\n{shown}{more}"


# -- the rules, over the whole campaign --------------------------------------------------------


def test_enough_kills_land(campaign: Campaign):
    # Bounded by MAX_ATTEMPTS, not by a wall-clock limit: how long it takes is bench/crash.py's.
    assert len(campaign.kills) == KILLS >= 30, (campaign.kills, campaign.finished_first)


def test_the_database_is_never_damaged(campaign: Campaign):
    assert campaign.problems("integrity") == [], report(campaign.problems("integrity"))


def test_every_stored_value_reads_whole(campaign: Campaign):
    assert campaign.problems("unreadable") == [], report(campaign.problems("unreadable"))


def test_no_temporary_file_is_ever_visible_as_a_final_name(campaign: Campaign):
    assert campaign.problems("temp names") == [], report(campaign.problems("temp names"))


def test_the_latest_materialization_matches_the_stored_value(campaign: Campaign):
    assert campaign.problems("latest") == [], report(campaign.problems("latest"))


def test_no_run_stays_started_after_the_next_command(campaign: Campaign):
    assert campaign.problems("left running") == [], report(campaign.problems("left running"))
    killed = [r for r in campaign.final_runs if r["status"] == "FAILURE"]
    assert len(killed) >= KILLS // 2  # some are killed before they record their run
    assert all("exited before it finished" in r["message"] for r in killed), killed


def test_a_full_run_succeeds_after_the_kills(campaign: Campaign):
    assert campaign.problems("full run") == [], report(campaign.problems("full run"))
    assert campaign.final_code == 0
    finished = campaign.final_events[-1]
    assert (finished["type"], finished["status"]) == ("RUN_FINISHED", "SUCCESS")
    events = campaign.final_events
    assert {e["asset_key"] for e in events if e["type"] == "ASSET_MATERIALIZED"} == set(ASSETS)
    run_id = finished["run_id"]
    db = Db(campaign.home / "millrace.db")
    latest = dict(db.rows("SELECT asset_key, run_id FROM latest_materializations"))
    assert latest == dict.fromkeys(ASSETS, run_id)


# -- writers at once on a fresh home -----------------------------------------------------------

WRITERS = 4


def test_processes_materializing_a_fresh_home_at_once_all_succeed(tmp_path: Path):
    code = write_source(tmp_path / "proj" / "crashy.py", PROJECT)
    home, barrier = tmp_path / "fresh-home", tmp_path / "barrier"
    barrier.mkdir()
    runs = [launch(code, home, barrier) for _ in range(WRITERS)]
    try:
        wait_for_files([barrier / f"ready-{run.proc.pid}" for run in runs])
        (barrier / "go").touch()  # all of them open the home that does not exist yet
        codes = [run.finish() for run in runs]
    finally:
        for run in runs:
            run.close()

    output = "".join(line for run in runs for line in run.err_lines + run.out_lines)
    assert "database is locked" not in output
    assert codes == [0] * WRITERS, [run.err_lines[-3:] for run in runs]
    finished = [json.loads(run.out_lines[-1]) for run in runs]
    assert [(e["type"], e["status"]) for e in finished] == [("RUN_FINISHED", "SUCCESS")] * WRITERS
    db = Db(home / "millrace.db")
    assert sorted(db.rows("SELECT run_id, status FROM runs")) == sorted(
        (e["run_id"], "SUCCESS") for e in finished
    )
    # Created once: one schema version, and one id block reserved per process after it.
    assert db.value("PRAGMA user_version") == SCHEMA_VERSION
    assert db.value("SELECT value FROM meta WHERE name = 'next_event_id'") == 1 + WRITERS * ID_BLOCK
    assert db.value("SELECT COUNT(*) FROM materializations") == WRITERS * len(ASSETS)
    assert db.rows("SELECT * FROM leases") == []
    problems = examine(home, dead_pids=set())
    assert problems == {"integrity": [], "unreadable": [], "temp names": [], "latest": []}


def test_examine_notices_a_file_that_disagrees_with_its_row(tmp_path: Path):
    """The campaign's check can fail: a value rewritten behind the history's back is seen."""
    code = write_source(tmp_path / "proj" / "crashy.py", PROJECT)
    home = tmp_path / "home"
    done = run_cli("materialize", code, cwd=tmp_path, home=home)
    assert done.returncode == 0, done.stderr
    assert examine(home, set())["latest"] == []

    (home / "storage" / "blob.pkl").write_bytes(pickle.dumps(b"other bytes"))
    with closing(sqlite3.connect(home / "millrace.db")) as conn:
        conn.execute("UPDATE asset_values SET data = ? WHERE asset_key = 'seed'", (b"junk",))
        conn.commit()
    problems = examine(home, set())

    assert [p.split(":")[0] for p in problems["latest"]] == ["blob", "seed"]
    [unreadable] = problems["unreadable"]
    assert unreadable.startswith("inline seed: UnpicklingError")


# -- one kill at a chosen point ----------------------------------------------------------------

# ``dies`` kills its own process the moment it starts, which is right after ``frame`` is
# stored and its materialization published: before the event store's next batch commits.
DIES_AFTER_STORING = """
    import os
    import signal

    import polars as pl

    from millrace import AssetExecutionContext, asset


    @asset
    def frame(context: AssetExecutionContext) -> pl.DataFrame:
        return pl.DataFrame({"run_id": [context.run_id]})


    @asset
    def dies(frame: pl.DataFrame) -> int:
        if os.environ.get("CRASH_DIE"):
            os.kill(os.getpid(), signal.SIGKILL)  # a crash, an OOM kill
        return frame.height
"""


def test_a_process_killed_just_after_storing_a_file_leaves_a_history_that_describes_it(
    tmp_path: Path,
):
    code = write_source(tmp_path / "proj" / "dies.py", DIES_AFTER_STORING)
    home = tmp_path / "home"
    assert run_cli("materialize", code, cwd=tmp_path, home=home).returncode == 0
    killed = run_cli("materialize", code, cwd=tmp_path, home=home, env={"CRASH_DIE": "1"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert run_cli("runs", code, cwd=tmp_path, home=home).returncode == 0  # the next command

    db = Db(home / "millrace.db")
    [(run_id, version, provenance)] = db.rows(
        "SELECT run_id, data_version, has_provenance FROM latest_materializations"
        " WHERE asset_key = 'frame'"
    )
    stored = home / "storage" / "frame.parquet"
    # After the next command, the history names the run and the version of the file a reader
    # gets: the killed run's frame was put in place, and is recorded as that run's. Either its
    # event was committed before the kill (with provenance: fresh), or recovery recorded it
    # from the file (without provenance, so stale); which one is the writer's timing.
    assert (pq.read_table(stored)["run_id"][0].as_py(), file_version(stored)) == (run_id, version)
    status = run_cli("status", code, "--json", cwd=tmp_path, home=home)
    [frame] = [r for r in map(json.loads, status.stdout.splitlines()) if r["asset_key"] == "frame"]
    assert frame["status"] == ("fresh" if provenance else "stale")
