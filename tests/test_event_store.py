"""The SQLite event store, checked on the real file with the standard library's sqlite3."""

from __future__ import annotations

import gc
import json
import os
import pickle
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import pytest
from conftest import Db
from millrace import (
    AssetKey,
    MetadataValue,
    Output,
    RunStatus,
    StaticPartitionsDefinition,
    asset,
    materialize,
)
from millrace.errors import StorageError
from millrace.events import (
    AssetMaterialized,
    AssetObserved,
    ErrorInfo,
    InputVersion,
    LogMessage,
    RunFinished,
    RunStarted,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from millrace.storage.event_store import INTERRUPTED, SCHEMA_VERSION, EventStore


@asset(group_name="g")
def source_rows():
    return Output([1, 2, 3], metadata={"rows": 3})


@asset
def doubled(source_rows):
    return [2 * x for x in source_rows]


def wal_commits(db_path: Path) -> int:
    """Transactions in the write-ahead log since it was last reset, read from the WAL format.

    Each frame has a 24-byte header whose bytes 4..8 are non-zero only on a transaction's last
    (commit) frame; frames whose salt differs from the file header's are stale.
    """
    wal = db_path.with_name(db_path.name + "-wal")
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return 0
    page_size = int.from_bytes(data[8:12], "big")
    salt = data[16:24]
    commits, offset = 0, 32
    while offset + 24 + page_size <= len(data):
        header = data[offset : offset + 24]
        if header[8:16] != salt:
            break
        if int.from_bytes(header[4:8], "big"):
            commits += 1
        offset += 24 + page_size
    return commits


# -- schema ----------------------------------------------------------------------------------


def test_schema_version_and_wal_mode_on_the_real_file(db: Db) -> None:
    materialize([source_rows, doubled])
    assert db.value("PRAGMA user_version") == SCHEMA_VERSION == 12
    assert db.value("PRAGMA journal_mode") == "wal"
    tables = {r[0] for r in db.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"runs", "events", "latest_materializations"} <= tables


async def test_reopening_keeps_data_and_does_not_migrate_again(home: Path, db: Db) -> None:
    first = materialize([source_rows])
    async with await EventStore.open(home) as store:
        runs = await store.runs()
    assert [r.run_id for r in runs] == [first.run_id]
    assert db.value("PRAGMA user_version") == SCHEMA_VERSION
    assert db.value("SELECT COUNT(*) FROM runs") == 1


async def test_a_newer_schema_is_refused(home: Path) -> None:
    home.mkdir(parents=True)
    with sqlite3.connect(home / "millrace.db") as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(StorageError, match="newer than this Millrace"):
            await EventStore.open(home)
        gc.collect()
    # The refused connection was closed, not left to the garbage collector (whose cleanup
    # calls back into a loop that may be closed by then).
    leaks = [w for w in caught if "deleted before being closed" in str(w.message)]
    assert leaks == []


# -- rows after a run ------------------------------------------------------------------------


def test_rows_after_a_run(db: Db, home: Path) -> None:
    result = materialize([source_rows, doubled], tags={"team": "data"})
    assert result.success

    run = db.rows(
        "SELECT status, selection, tags, pid, hostname, start_time, end_time, message"
        " FROM runs WHERE run_id = ?",
        (result.run_id,),
    )
    assert len(run) == 1
    status, selection, tags, pid, hostname, start, end, message = run[0]
    assert status == "SUCCESS"
    assert json.loads(selection) == ["source_rows", "doubled"]
    assert json.loads(tags) == {"team": "data"}
    assert (pid, hostname) == (os.getpid(), socket.gethostname())
    assert start <= end
    assert message == ""

    events = db.rows(
        "SELECT type, asset_key FROM events WHERE run_id = ? ORDER BY id", (result.run_id,)
    )
    assert events == [
        ("RUN_STARTED", None),
        ("STEP_STARTED", "source_rows"),
        ("ASSET_MATERIALIZED", "source_rows"),
        ("STEP_SUCCEEDED", "source_rows"),
        ("STEP_STARTED", "doubled"),
        ("ASSET_MATERIALIZED", "doubled"),
        ("STEP_SUCCEEDED", "doubled"),
        ("RUN_FINISHED", None),
    ]
    finished = json.loads(
        db.value(
            "SELECT payload FROM events WHERE run_id = ? AND type = 'RUN_FINISHED'",
            (result.run_id,),
        )
    )
    assert finished["status"] == "SUCCESS"

    latest = db.rows(
        "SELECT l.asset_key, l.partition_key, l.run_id, l.metadata, e.type, e.asset_key"
        " FROM latest_materializations l JOIN events e ON e.id = l.event_id"
        " ORDER BY l.asset_key"
    )
    assert [(r[0], r[1], r[2], r[4], r[5]) for r in latest] == [
        ("doubled", "", result.run_id, "ASSET_MATERIALIZED", "doubled"),
        ("source_rows", "", result.run_id, "ASSET_MATERIALIZED", "source_rows"),
    ]
    source_meta = json.loads(latest[1][3])
    assert source_meta["rows"] == {"type": "int", "value": 3}
    # A small pickled value is committed with its materialization, not written to a file.
    stored = dict(db.rows("SELECT asset_key, data FROM asset_values"))
    assert pickle.loads(stored["source_rows"]) == [1, 2, 3]
    assert source_meta["millrace/size_bytes"]["value"] == len(stored["source_rows"])
    assert not (home / "storage" / "source_rows.pkl").exists()


def test_latest_materialization_moves_to_the_newest_run(db: Db) -> None:
    first = materialize([source_rows])
    second = materialize([source_rows])
    assert db.rows("SELECT asset_key, run_id FROM latest_materializations") == [
        ("source_rows", second.run_id)
    ]
    assert first.run_id != second.run_id
    assert db.value("SELECT COUNT(*) FROM events WHERE type = 'ASSET_MATERIALIZED'") == 2


async def test_latest_partitions_of_many_assets_and_partitions(home: Path) -> None:
    # More unpartitioned assets than one query's parameters, asked with partitioned ones.
    many = [asset(name=f"n{i}")(lambda: 1) for i in range(501)]
    regions = StaticPartitionsDefinition(["north", "south"])

    @asset(partitions_def=regions)
    def by_region(context):
        return context.partition_key

    first = materialize(many)
    north = materialize([by_region], partition_key="north")
    again = materialize(many[:1])
    wanted = {(f"n{i}", "") for i in range(501)}
    wanted |= {("by_region", "north"), ("by_region", "south"), ("missing", "")}
    async with await EventStore.open(home) as store:
        latest = await store.latest_partitions(wanted)
    assert set(latest) == wanted - {("by_region", "south"), ("missing", "")}
    assert latest[("n0", "")].run_id == again.run_id
    assert {latest[(f"n{i}", "")].run_id for i in range(1, 501)} == {first.run_id}
    assert latest[("n500", "")].partition_key is None
    record = latest[("by_region", "north")]
    assert (record.run_id, record.partition_key) == (north.run_id, "north")


async def test_failed_run_message_and_typed_events_round_trip(home: Path, db: Db) -> None:
    @asset
    def broken():
        raise KeyError("missing column")

    result = materialize([broken], raise_on_error=False)
    assert db.rows("SELECT status, message FROM runs") == [("FAILURE", "broken failed")]

    async with await EventStore.open(home) as store:
        record = await store.run(result.run_id[:8])  # a unique prefix finds the run
        failures = await store.events(result.run_id, kinds=["STEP_FAILED"])
    assert record is not None
    assert (record.run_id, record.status) == (result.run_id, RunStatus.FAILURE)
    assert len(failures) == 1
    failure = failures[0]
    assert isinstance(failure, StepFailed)
    assert failure.asset_key == AssetKey("broken")
    assert failure.error.type == "KeyError"
    assert "missing column" in failure.error.message
    assert "test_event_store.py" in failure.error.traceback


# -- batched writes --------------------------------------------------------------------------


async def test_events_are_written_in_batches(home: Path, db: Db) -> None:
    n = 500
    store = await EventStore.open(home)
    try:
        await store.flush()
        commits_before = wal_commits(store.path)
        store.append(RunStarted(run_id="r1", selection=("a",)))
        for i in range(n):
            store.append(LogMessage(run_id="r1", asset_key=AssetKey("a"), message=f"line {i}"))
        store.append(
            AssetMaterialized(
                run_id="r1", asset_key=AssetKey("a"), metadata={"n": MetadataValue.int(n)}
            )
        )
        store.append(RunFinished(run_id="r1", status=RunStatus.SUCCESS))
        await store.flush()  # nothing was awaited above, so the writer sees one batch
        commits_after = wal_commits(store.path)
        read_back = await store.events("r1", kinds=["ASSET_MATERIALIZED"])
    finally:
        await store.close()

    assert commits_after - commits_before == 1
    assert db.value("SELECT COUNT(*) FROM events WHERE run_id = 'r1'") == n + 3
    messages = db.rows("SELECT payload FROM events WHERE type = 'LOG' ORDER BY id")
    assert [json.loads(p)["message"] for (p,) in messages] == [f"line {i}" for i in range(n)]
    assert db.value("SELECT status FROM runs WHERE run_id = 'r1'") == "SUCCESS"
    assert db.value("SELECT run_id FROM latest_materializations WHERE asset_key = 'a'") == "r1"
    assert read_back[0].metadata == {"n": MetadataValue.int(n)}  # type: ignore[attr-defined]


async def test_events_appended_after_close_of_a_batch_go_in_the_next_one(db: Db, home) -> None:
    store = await EventStore.open(home)
    try:
        await store.flush()
        before = wal_commits(store.path)
        store.append(RunStarted(run_id="r2"))
        await store.flush()
        store.append(StepFailed(run_id="r2", asset_key=AssetKey("x"), error=ErrorInfo("E", "boom")))
        store.append(RunFinished(run_id="r2", status=RunStatus.FAILURE, message="failed: x"))
        await store.flush()
        assert wal_commits(store.path) - before == 2
    finally:
        await store.close()
    assert db.rows("SELECT status, message FROM runs") == [("FAILURE", "failed: x")]


async def test_a_batch_failing_midway_commits_nothing_and_flush_names_the_database(
    home: Path, db: Db
) -> None:
    store = await EventStore.open(home)
    try:
        store.append(RunStarted(run_id="r1"))
        await store.flush()
        [taken] = [seq for (seq,) in db.rows("SELECT id FROM events")]
        # The run's row and a value go in before the events' insert meets the taken id.
        store.append(RunStarted(run_id="r2"))
        made = AssetMaterialized(run_id="r2", asset_key=AssetKey("a"), data_version="v")
        store.stage_value(made, b"small value")
        store.append(made)
        clash = LogMessage(run_id="r2", message="reuses an id")
        object.__setattr__(clash, "seq", taken)
        store.append(clash)
        with pytest.raises(StorageError, match=f"writing events to {store.path}"):
            await store.flush()
        store.append(RunStarted(run_id="r3"))  # the writer goes on with the next batch
        with pytest.raises(StorageError):
            await store.flush()  # the failure stays reported
        assert [r.run_id for r in await store.runs()] == ["r3", "r1"]
    finally:
        with pytest.raises(StorageError):
            await store.close()
    assert db.rows("SELECT run_id FROM runs ORDER BY run_id") == [("r1",), ("r3",)]
    for table in ("latest_materializations", "materializations", "asset_values"):
        assert db.rows(f"SELECT * FROM {table}") == []
    assert db.value("SELECT COUNT(*) FROM events WHERE run_id = 'r2'") == 0


def in_progress(db: Db) -> list[tuple[str, str]]:
    return db.rows("SELECT asset_key, run_id FROM in_progress ORDER BY asset_key")


async def test_in_progress_rows_across_batches_and_retries(home: Path, db: Db) -> None:
    """A step started and ended in one batch leaves no row (none is written); one still
    running at a commit has its row until its end; a retry ends the earlier attempt's row."""
    store = await EventStore.open(home)
    try:
        store.append(RunStarted(run_id="r"))
        for name in ("quick", "slow", "retried"):
            store.append(StepStarted(run_id="r", asset_key=AssetKey(name)))
        store.append(StepSucceeded(run_id="r", asset_key=AssetKey("quick")))
        store.append(
            StepFailed(
                run_id="r",
                asset_key=AssetKey("retried"),
                error=ErrorInfo("E", "again"),
                will_retry=True,
            )
        )
        await store.flush()
        assert in_progress(db) == [("retried", "r"), ("slow", "r")]
        store.append(StepStarted(run_id="r", asset_key=AssetKey("retried"), attempt=2))
        store.append(StepSucceeded(run_id="r", asset_key=AssetKey("retried")))
        await store.flush()
        assert in_progress(db) == [("slow", "r")]
        store.append(StepSucceeded(run_id="r", asset_key=AssetKey("slow")))
        await store.flush()
        assert in_progress(db) == []
    finally:
        await store.close()


async def test_readers_are_flagged_when_what_they_read_changes(home: Path, db: Db) -> None:
    """Readers of an old version are flagged, a reader of the new one is not; a reader of an
    external asset never observed (version None) is flagged by its first observation."""

    def made(key: str, version: str, *reads: tuple[str, str | None]) -> AssetMaterialized:
        inputs = tuple(InputVersion(AssetKey(k), None, v, None) for k, v in reads)
        return AssetMaterialized(
            run_id="r", asset_key=AssetKey(key), data_version=version, inputs=inputs
        )

    store = await EventStore.open(home)
    try:
        store.append(RunStarted(run_id="r"))
        store.append(made("up", "v1"))
        store.append(made("old_reader", "o", ("up", "v1")))
        store.append(made("outside_reader", "x", ("outside", None)))
        await store.flush()
        store.append(made("up", "v2"))
        store.append(made("new_reader", "n", ("up", "v2")))
        store.append(AssetObserved(run_id="r", asset_key=AssetKey("outside"), data_version="e1"))
        await store.flush()
    finally:
        await store.close()
    flags = dict(db.rows("SELECT asset_key, inputs_changed FROM latest_materializations"))
    assert flags == {
        "up": 0,
        "old_reader": 1,
        "new_reader": 0,
        "outside": 0,
        "outside_reader": 1,
    }


async def test_reads_see_what_flush_committed_and_close_ends_the_thread(home: Path) -> None:
    store = await EventStore.open(home)
    try:
        store.append(RunStarted(run_id="r"))
        store.append(LogMessage(run_id="r", message="hello"))
        await store.flush()
        assert [e.kind for e in await store.events("r")] == ["RUN_STARTED", "LOG"]
        threads = [t for t in threading.enumerate() if t.name == f"store {store.path}"]
        assert len(threads) == 1
    finally:
        await store.close()
    assert not threads[0].is_alive()
    assert not store.path.with_name(store.path.name + "-wal").exists()  # checkpointed at close


# -- crash recovery --------------------------------------------------------------------------

CHILD = """
import asyncio, sys, threading
from millrace import Definitions, Runtime, asset
from millrace.events import StepStarted

@asset
def hangs_forever():
    threading.Event().wait()

async def main():
    defs = Definitions(assets=[hangs_forever])
    async with Runtime(defs, home=sys.argv[1]) as runtime:
        started = asyncio.Event()
        runtime.listen(lambda e: started.set() if isinstance(e, StepStarted) else None)
        handle = runtime.submit()
        await started.wait()
        await runtime.store.flush()  # the STEP_STARTED row is committed
        print(handle.run_id, flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""


def read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the child process never reported its run"
    return proc.stdout.readline().strip()


async def test_run_of_a_killed_process_is_marked_failed(tmp_path: Path, home: Path, db) -> None:
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    proc = subprocess.Popen(
        [sys.executable, str(script), str(home)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        run_id = read_line(proc, timeout=30)
        assert run_id, proc.stderr.read() if proc.poll() is not None else "no run id"
        assert db.rows("SELECT status, pid FROM runs WHERE run_id = ?", (run_id,)) == [
            ("STARTED", proc.pid)
        ]
        assert (
            db.value(
                "SELECT COUNT(*) FROM events WHERE run_id = ? AND type = 'STEP_STARTED'", (run_id,)
            )
            == 1
        )

        # A store opened beside a live run leaves it alone.
        store = await EventStore.open(home)
        await store.close()
        assert db.value("SELECT status FROM runs WHERE run_id = ?", (run_id,)) == "STARTED"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()  # type: ignore[union-attr]
        proc.stderr.close()  # type: ignore[union-attr]
    assert proc.returncode == -signal.SIGKILL

    assert db.value("SELECT status FROM runs WHERE run_id = ?", (run_id,)) == "STARTED"
    async with await EventStore.open(home) as store:
        record = await store.run(run_id)
    assert record is not None
    assert record.status is RunStatus.FAILURE
    assert record.message == INTERRUPTED
    assert "process" in record.message and "exited" in record.message
    status, message, end_time = db.rows(
        "SELECT status, message, end_time FROM runs WHERE run_id = ?", (run_id,)
    )[0]
    assert (status, message) == ("FAILURE", INTERRUPTED)
    assert end_time is not None
    assert (
        db.value(
            "SELECT COUNT(*) FROM events WHERE run_id = ? AND type = 'RUN_FINISHED'", (run_id,)
        )
        == 1
    )


CLOSE_AFTER_A_FAILED_BATCH = """
import asyncio, sys
from pathlib import Path
from millrace.events import RunStarted
from millrace.errors import StorageError
from millrace.storage.event_store import EventStore

async def main():
    store = await EventStore.open(Path(sys.argv[1]))
    store.append(RunStarted(run_id="same"))
    store.append(RunStarted(run_id="same"))  # the primary key refuses it: the batch fails
    try:
        await store.close()
    except StorageError as exc:  # a MillraceError: the CLI prints one line
        print("close raised:", exc, flush=True)

asyncio.run(main())
"""


def test_close_after_a_failed_batch_raises_and_still_lets_the_process_exit(tmp_path: Path) -> None:
    script = tmp_path / "close.py"
    script.write_text(CLOSE_AFTER_A_FAILED_BATCH)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "home")],
        capture_output=True,
        text=True,
        timeout=30,  # a leaked non-daemon thread would hang the exit past this
    )
    assert done.returncode == 0, done.stderr
    assert "close raised: writing events to" in done.stdout
