"""Crash safety and concurrent writers, as figures to compare over time.

Run:  .venv/bin/python bench/crash.py [--kills 50] [--writers 4] [--seed 19]

A small pipeline (an inline pickle, two Polars frames in Parquet, a 256 KB pickle file, an
asset that logs 400 lines, a summary; every value depends on the run id) is written to a
temporary directory. Then:

* kills: ``millrace materialize --json`` on one home, SIGKILLed at seeded-random points (half
  a delay in [0, a full run's time] after start, half the Nth line of output), one after
  another. After each kill: ``PRAGMA integrity_check`` (read-only), every ``.parquet`` read
  whole with pyarrow, every ``.pkl`` and inline value unpickled, each latest materialization's
  data version compared with the xxh3 of the value a reader would load (right after the kill,
  when a file put in place but not yet recorded is expected, and once the next command has
  opened the home and recorded it: then it must agree), and the runs of dead processes still
  STARTED once the next command has opened the home (``millrace runs`` after the last kill).
  A full run must then succeed.
* writers: W processes materialize the pipeline on a fresh home at once (each holds at
  import until all are ready), counting the runs recorded and "database is locked" errors.

Prints one line per figure; "bad" figures should be 0.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import xxhash

PIPELINE = """
import os
import time
from pathlib import Path

import polars as pl

from millrace import asset

BARRIER = os.environ.get("CRASH_BARRIER")
if BARRIER:  # hold until every writer has started
    Path(BARRIER, f"ready-{os.getpid()}").touch()
    deadline = time.monotonic() + 60
    while not Path(BARRIER, "go").exists() and time.monotonic() < deadline:
        time.sleep(0.001)


@asset
def seed(context) -> dict:
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
    return seed["run_id"].encode() * 8_000


@asset
def chatty(context, seed: dict) -> int:
    for i in range(400):
        context.log.info(f"line {i} of run {seed['run_id']}")
    return 400


@asset
def report(totals: pl.DataFrame, blob: bytes, chatty: int) -> dict:
    return {"groups": totals.height, "blob": len(blob), "chatty": chatty}
"""
TIMEOUT = 60


def environment(home: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "MILLRACE_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1", **extra}


def millrace(home: Path, *args: str, **popen: Any) -> subprocess.Popen[str]:
    env = environment(home, **popen.pop("env", {}))
    return subprocess.Popen(
        [sys.executable, "-m", "millrace.cli", *args], env=env, text=True, **popen
    )


def millrace_done(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "millrace.cli", *args],
        env=environment(home),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def file_hash(path: Path) -> str:
    return xxhash.xxh3_64_hexdigest(path.read_bytes())


def examine(home: Path) -> dict[str, int]:
    """Counts of what is broken in ``home`` as a killed process left it."""
    found = {"corrupt": 0, "unreadable": 0, "mismatched": 0}
    with closing(sqlite3.connect(f"file:{home / 'millrace.db'}?mode=ro", uri=True)) as db:
        if db.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
            return {**found, "corrupt": 1}
        latest = db.execute("SELECT asset_key, data_version FROM latest_materializations")
        latest = latest.fetchall()
        inline = dict(db.execute("SELECT asset_key, data FROM asset_values").fetchall())
    storage = home / "storage"
    for path in storage.glob("[!.]*") if storage.exists() else ():
        try:
            pq.read_table(path) if path.suffix == ".parquet" else pickle.loads(path.read_bytes())
        except Exception:
            found["unreadable"] += 1
    for data in inline.values():
        try:
            pickle.loads(data)
        except Exception:
            found["unreadable"] += 1
    for key, version in latest:  # what a reader loads: Parquet, else a pickle file, else inline
        parquet, pkl = storage / f"{key}.parquet", storage / f"{key}.pkl"
        if parquet.exists():
            stored = file_hash(parquet)
        elif pkl.exists():
            stored = file_hash(pkl)
        else:
            stored = xxhash.xxh3_64_hexdigest(inline[key]) if key in inline else None
        found["mismatched"] += stored != version
    return found


def started_of_others(home: Path, pid: int) -> int | None:
    """Runs still STARTED of other processes, once ``pid`` recorded its run; else None."""
    with closing(sqlite3.connect(f"file:{home / 'millrace.db'}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT status, pid FROM runs").fetchall()
    if all(p != pid for _, p in rows):
        return None
    return sum(status == "STARTED" and p != pid for status, p in rows)


def kill_once(code: Path, home: Path, rng: random.Random, run_time: float, lines: int) -> bool:
    """One materialize, killed at a random point; True if the kill landed."""
    by_line = rng.random() < 0.5
    output = subprocess.PIPE if by_line else subprocess.DEVNULL  # a full pipe would stall it
    proc = millrace(home, "materialize", str(code), "--json", stdout=output)
    watchdog = threading.Timer(TIMEOUT, proc.kill)  # a hung run must not hang the bench
    watchdog.start()
    if by_line:
        assert proc.stdout is not None
        wanted = rng.randint(1, lines)
        for n, _ in enumerate(proc.stdout, 1):
            if n == wanted:
                proc.send_signal(signal.SIGKILL)
                break
        proc.stdout.close()
    else:
        try:
            proc.wait(timeout=rng.uniform(0, run_time))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    exit_code = proc.wait(timeout=TIMEOUT)
    watchdog.cancel()
    return exit_code == -signal.SIGKILL


def kills(code: Path, home: Path, count: int, seed: int) -> dict[str, object]:
    began = time.monotonic()
    full = millrace_done(home, "materialize", str(code), "--json")
    assert full.returncode == 0, full.stderr
    run_time, lines = time.monotonic() - began, len(full.stdout.splitlines())
    rng = random.Random(seed)
    totals = {"kills": 0, "corrupt": 0, "unreadable": 0, "mismatched": 0, "mismatched_after": 0}
    left_running = 0
    began = time.monotonic()
    for _ in range(3 * count):
        if totals["kills"] == count:
            break
        if not kill_once(code, home, rng, run_time, lines):
            continue  # the run finished before its kill point
        totals["kills"] += 1
        found = examine(home)
        for name, n in found.items():
            totals[name] += n
        totals["mismatched_after"] += found["mismatched"] > 0
        # The newest recorded run's process opened the home after every older one had died,
        # which marks their runs failed: none of them may still be STARTED.
        with closing(sqlite3.connect(f"file:{home / 'millrace.db'}?mode=ro", uri=True)) as db:
            newest = db.execute("SELECT pid FROM runs ORDER BY start_time DESC").fetchone()
        if newest is not None and (others := started_of_others(home, newest[0])):
            left_running += others
    seconds = time.monotonic() - began
    listed = millrace_done(home, "runs", "--json", "--limit", "100000")
    left_running += sum(r["status"] == "STARTED" for r in json.loads(listed.stdout))
    # The command above opened the home after the last kill: what a killed run left in
    # storage is recorded by now, so nothing may disagree any more.
    mismatched_on_restart = examine(home)["mismatched"]
    after = millrace_done(home, "materialize", str(code))
    temp_files = sum(1 for _ in (home / "storage").glob(".*.tmp"))
    return {
        **totals,
        "left_running": left_running,
        "mismatched_on_restart": mismatched_on_restart,
        "full_run_after": after.returncode == 0,
        "temp_files": temp_files,
        "seconds": seconds,
        "run_time": run_time,
    }


def writers(code: Path, home: Path, root: Path, count: int) -> dict[str, object]:
    barrier = root / "barrier"
    barrier.mkdir()
    logs = [(root / f"writer-{n}.out", root / f"writer-{n}.err") for n in range(count)]
    procs = []
    for out, err in logs:  # to files: a pipe nobody reads would stall a run holding a lease
        with open(out, "w") as stdout, open(err, "w") as stderr:
            env = {"CRASH_BARRIER": str(barrier)}
            procs.append(
                millrace(
                    home, "materialize", str(code), "--json", env=env, stdout=stdout, stderr=stderr
                )
            )
    deadline = time.monotonic() + TIMEOUT
    while len(list(barrier.glob("ready-*"))) < count and time.monotonic() < deadline:
        time.sleep(0.005)
    began = time.monotonic()
    (barrier / "go").touch()
    exit_codes = [proc.wait(timeout=TIMEOUT) for proc in procs]
    seconds = time.monotonic() - began
    with closing(sqlite3.connect(f"file:{home / 'millrace.db'}?mode=ro", uri=True)) as db:
        statuses = [s for (s,) in db.execute("SELECT status FROM runs")]
    printed = "".join(out.read_text() + err.read_text() for out, err in logs)
    return {
        "writers": count,
        "exit_codes": exit_codes,
        "runs": len(statuses),
        "succeeded": statuses.count("SUCCESS"),
        "lock_errors": printed.count("database is locked"),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=19)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="millrace-crash-") as tmp:
        root = Path(tmp)
        code = root / "proj" / "crashy.py"
        code.parent.mkdir()
        code.write_text(textwrap.dedent(PIPELINE))
        k = kills(code, root / "home", args.kills, args.seed)
        w = writers(code, root / "fresh-home", root, args.writers)

    timing = f"({k['seconds']:.1f} s; a full run takes {k['run_time']:.2f} s)"
    print(f"kills                               {k['kills']}  {timing}")
    print(f"corrupt databases                   {k['corrupt']}")
    print(f"unreadable files                    {k['unreadable']}")
    mismatched = f"{k['mismatched']}  (after {k['mismatched_after']} of {k['kills']} kills)"
    print(f"latest rows != stored, just killed  {mismatched}  (recorded by the next command)")
    print(f"latest rows != stored, next command {k['mismatched_on_restart']}")
    print(f"runs left running after next cmd    {k['left_running']}")
    print(f"full run after the kills            {'ok' if k['full_run_after'] else 'FAILED'}")
    print(f"temp files left by dead processes   {k['temp_files']}  (millrace doctor removes them)")
    print(f"concurrent writers                  {w['writers']}  ({w['seconds']:.2f} s)")
    recorded = f"{w['runs']}  ({w['succeeded']} SUCCESS, exit codes {w['exit_codes']})"
    print(f"runs recorded                       {recorded}")
    print(f"lock errors                         {w['lock_errors']}")


if __name__ == "__main__":
    main()
