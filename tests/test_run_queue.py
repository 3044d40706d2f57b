"""The run queue, run origins and the shared step limit, through a real Runtime on a real home.

A gated step (``slow``) holds its run until the test lets it go; every other wait is on a
runtime event (``subscribe``), on a run's handle, or on the loop running the tasks it already
has (``until``): no sleeps.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import millrace
import pytest
from conftest import Db, downgrade, run_cli
from millrace import (
    AssetSelection,
    Definitions,
    DefinitionsError,
    RunRequest,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
)
from millrace.declarations.job import JobNotFoundError
from millrace.declarations.run_queue import PRIORITY_TAG, RunQueueConfig, TagConcurrencyLimit
from millrace.events import Event, RunOrigin, RunStarted, RunStatus
from millrace.runtime.backfill import BackfillSpec
from millrace.runtime.runs import RunHandle
from millrace.runtime.runtime import Runtime
from millrace.storage.schema import SCHEMA_VERSION

TIMEOUT = 20  # seconds: generous on a loaded machine, short enough to fail rather than hang


class Gate:
    """``entered`` is set when ``slow`` starts computing; ``release`` lets it finish."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, TIMEOUT), "slow never started"


GATE = Gate()
RAN: list[str] = []  # the assets computed, in order (list.append is atomic)


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    RAN.clear()
    yield
    GATE.release.set()  # no step thread outlives its test


@pytest.fixture
def gate() -> Iterator[Gate]:
    global GATE
    GATE = Gate()
    yield GATE
    GATE.release.set()


@asset
def slow(context: Any) -> int:
    RAN.append("slow")
    GATE.entered.set()
    while not GATE.release.wait(0.01):
        if context.is_canceled:
            return -1
    return 1


@asset
def quick() -> int:
    RAN.append("quick")
    return 2


@asset
def other() -> int:
    RAN.append("other")
    return 3


@asset
def third() -> int:
    RAN.append("third")
    return 4


@asset(partitions_def=StaticPartitionsDefinition(["a", "b"]))
def part(context: Any) -> str:
    RAN.append(f"part[{context.partition_key}]")
    return context.partition_key


ASSETS = [slow, quick, other, third, part]


def defs(**kwargs: Any) -> Definitions:
    return Definitions(assets=ASSETS, **kwargs)


async def until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop run the tasks it has (no I/O is needed) until ``condition`` holds."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    pytest.fail(f"never: {what}")


def started_ids(events: list[Event]) -> list[str]:
    return [e.run_id for e in events if isinstance(e, RunStarted)]


def record_events(runtime: Runtime) -> list[Event]:
    """Every event the runtime publishes from now on, as it is published."""
    seen: list[Event] = []
    runtime.listen(seen.append)
    return seen


async def done(handle: RunHandle) -> RunStatus:
    return (await asyncio.wait_for(handle, TIMEOUT)).status


# -- origins -------------------------------------------------------------------------------


async def make_history(home: Path) -> dict[str, RunOrigin]:
    """A manual, a backfill and a sensor run in ``home``: their ids and origins."""
    async with Runtime(defs(), home=home) as runtime:
        manual = await runtime.materialize("quick")
        assert manual.success
        _, backfill = await runtime.backfill("part", BackfillSpec(keys=("a", "b")))
        assert await done(backfill) == RunStatus.SUCCESS
        sensed = await runtime.run_request(RunRequest(asset_selection=["other"]), RunOrigin.SENSOR)
        assert await done(sensed) == RunStatus.SUCCESS
    return {
        manual.run_id: RunOrigin.MANUAL,
        backfill.run_id: RunOrigin.BACKFILL,
        sensed.run_id: RunOrigin.SENSOR,
    }


async def test_each_run_records_what_started_it(home: Path, db: Db) -> None:
    expected = await make_history(home)
    assert sorted(RAN) == ["other", "part[a]", "part[b]", "quick"]

    async with Runtime(defs(), home=home) as runtime:
        records = await runtime.runs()
    assert {r.run_id: r.origin for r in records} == expected
    assert dict(db.rows("SELECT run_id, origin FROM runs")) == {
        k: v.value for k, v in expected.items()
    }


def test_materialize_records_a_manual_run(home: Path, db: Db) -> None:
    result = millrace.materialize([quick], home=home)
    assert result.success
    assert db.rows("SELECT run_id, origin FROM runs") == [(result.run_id, "manual")]


async def test_millrace_runs_shows_the_origin(tmp_path: Path, home: Path) -> None:
    expected = await make_history(home)

    listed = run_cli("runs", "--json", cwd=tmp_path, home=home)
    assert listed.returncode == 0, listed.stderr
    assert {r["run_id"]: r["origin"] for r in json.loads(listed.stdout)} == {
        k: v.value for k, v in expected.items()
    }

    table = run_cli("runs", cwd=tmp_path, home=home)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split()[:3] == ["RUN", "STATUS", "ORIGIN"]
    assert {row.split()[0]: row.split()[2] for row in rows} == {
        k[:8]: v.value for k, v in expected.items()
    }


def test_a_v8_history_gets_its_runs_origins_from_their_tags(home: Path, db: Db) -> None:
    async def runs() -> dict[str, RunOrigin]:
        async with Runtime(defs(), home=home) as runtime:
            if not await runtime.runs():
                assert (await runtime.materialize("quick")).success
            return {r.run_id: r.origin for r in await runtime.runs()}

    (manual,) = asyncio.run(runs())
    with closing(sqlite3.connect(db.path)) as conn:  # back to schema v8, exactly as it was
        downgrade(conn, 8)
        for run_id, tags in (
            ("dev-run", {"millrace/origin": "dev"}),
            ("backfill-run", {"dagster/backfill": "bf1", "dagster/partition": "a"}),
            ("tagged-run", {"team": "data"}),
        ):
            conn.execute(
                "INSERT INTO runs (run_id, status, selection, config, tags, start_time, end_time,"
                " pid, hostname, message) VALUES (?, 'SUCCESS', '[\"quick\"]', '{}', ?, 1.0,"
                " 2.0, 1, 'host', '')",
                (run_id, json.dumps(tags)),
            )
        conn.commit()

    migrated = asyncio.run(runs())
    assert db.value("PRAGMA user_version") == SCHEMA_VERSION
    assert migrated == {
        manual: RunOrigin.MANUAL,
        "dev-run": RunOrigin.DEV,
        "backfill-run": RunOrigin.BACKFILL,
        "tagged-run": RunOrigin.MANUAL,
    }


# -- the run queue -------------------------------------------------------------------------


async def test_a_second_run_waits_for_the_first_under_max_concurrent_runs(
    home: Path, gate: Gate
) -> None:
    async with Runtime(defs(run_queue={"max_concurrent_runs": 1}), home=home) as runtime:
        seen = record_events(runtime)
        first = runtime.submit("slow")
        await gate.wait_entered()
        second = runtime.submit("quick")
        await until(lambda: runtime.queued_runs() == [second], "the second run is queued")
        assert runtime.queue.running == [first.run_id]
        assert runtime.queue.blocked_by({}) == "1 runs running (max_concurrent_runs=1)"
        assert started_ids(seen) == [first.run_id]

        async with runtime.subscribe(kinds={"RUN_STARTED"}, run_id=second.run_id) as started:
            gate.release.set()
            assert await done(first) == RunStatus.SUCCESS
            event = await asyncio.wait_for(anext(started), TIMEOUT)
        assert event.run_id == second.run_id
        assert await done(second) == RunStatus.SUCCESS
        assert started_ids(seen) == [first.run_id, second.run_id]
        assert RAN == ["slow", "quick"]
        assert runtime.queued_runs() == [] and runtime.queue.running == []


async def test_queued_runs_start_highest_priority_first_then_in_order(
    home: Path, gate: Gate
) -> None:
    async with Runtime(defs(run_queue={"max_concurrent_runs": 1}), home=home) as runtime:
        seen = record_events(runtime)
        blocker = runtime.submit("slow")
        await gate.wait_entered()
        low = runtime.submit("quick", tags={PRIORITY_TAG: "-1"})
        plain = runtime.submit("other")
        high = runtime.submit("third", tags={PRIORITY_TAG: "5"})
        plain_too = runtime.submit("quick", tags={PRIORITY_TAG: "0"})
        order = [high, plain, plain_too, low]
        await until(lambda: len(runtime.queued_runs()) == 4, "four runs are queued")
        assert runtime.queued_runs() == order

        gate.release.set()
        for handle in (blocker, *order):
            assert await done(handle) == RunStatus.SUCCESS
        assert started_ids(seen) == [h.run_id for h in (blocker, *order)]
        assert RAN == ["slow", "third", "other", "quick", "quick"]


async def test_a_tag_limit_holds_back_a_run_with_the_tag_and_no_other(
    home: Path, gate: Gate
) -> None:
    limits = {"tag_concurrency_limits": [{"key": "db", "limit": 1}]}
    async with Runtime(defs(run_queue=limits), home=home) as runtime:
        seen = record_events(runtime)
        first = runtime.submit("slow", tags={"db": "warehouse"})
        await gate.wait_entered()
        held = runtime.submit("quick", tags={"db": "lake"})  # any value of the key counts
        free = runtime.submit("other")
        assert await done(free) == RunStatus.SUCCESS  # while the first still runs
        assert runtime.queued_runs() == [held]
        assert runtime.queue.blocked_by({"db": "x"}) == "1 runs tagged db=x running (limit 1)"
        assert started_ids(seen) == [first.run_id, free.run_id]

        gate.release.set()
        assert await done(first) == RunStatus.SUCCESS
        assert await done(held) == RunStatus.SUCCESS
        assert started_ids(seen) == [first.run_id, free.run_id, held.run_id]
        assert RAN == ["slow", "other", "quick"]


async def test_a_per_value_limit_counts_each_value_apart(home: Path, gate: Gate) -> None:
    limits = {
        "tag_concurrency_limits": [
            {"key": "db", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
        ]
    }
    async with Runtime(defs(run_queue=limits), home=home) as runtime:
        seen = record_events(runtime)
        first = runtime.submit("slow", tags={"db": "a"})
        await gate.wait_entered()
        same = runtime.submit("quick", tags={"db": "a"})
        different = runtime.submit("other", tags={"db": "b"})
        assert await done(different) == RunStatus.SUCCESS
        assert runtime.queued_runs() == [same]
        assert started_ids(seen) == [first.run_id, different.run_id]

        gate.release.set()
        assert await done(same) == RunStatus.SUCCESS
        assert RAN == ["slow", "other", "quick"]


async def test_a_limit_on_one_value_leaves_the_other_values_alone(home: Path, gate: Gate) -> None:
    limits = RunQueueConfig(tag_concurrency_limits=[TagConcurrencyLimit("db", 1, value="a")])
    async with Runtime(defs(run_queue=limits), home=home) as runtime:
        first = runtime.submit("slow", tags={"db": "a"})
        await gate.wait_entered()
        same = runtime.submit("quick", tags={"db": "a"})
        different = runtime.submit("other", tags={"db": "b"})
        assert await done(different) == RunStatus.SUCCESS
        assert runtime.queued_runs() == [same]
        gate.release.set()
        assert await done(first) == RunStatus.SUCCESS
        assert await done(same) == RunStatus.SUCCESS


async def test_a_run_canceled_while_queued_is_recorded_with_nothing_run(
    home: Path, gate: Gate
) -> None:
    async with Runtime(defs(run_queue={"max_concurrent_runs": 1}), home=home) as runtime:
        first = runtime.submit("slow")
        await gate.wait_entered()
        queued = runtime.submit("quick")
        await until(lambda: runtime.queued_runs() == [queued], "the run is queued")

        assert await runtime.cancel(queued.run_id)
        result = await asyncio.wait_for(queued, TIMEOUT)
        assert result.status == RunStatus.CANCELED
        assert runtime.queued_runs() == []
        gate.release.set()
        assert await done(first) == RunStatus.SUCCESS

        records = {r.run_id: r for r in await runtime.runs()}
        record = records[queued.run_id]
        assert (record.status, record.message) == (
            RunStatus.CANCELED,
            "canceled while queued: nothing ran",
        )
        kinds = [e.kind for e in await runtime.run_events(queued.run_id)]
        assert kinds == ["RUN_STARTED", "STEP_SKIPPED", "RUN_FINISHED"]  # nothing ran
        assert records[first.run_id].status == RunStatus.SUCCESS
    assert RAN == ["slow"]


async def test_a_run_canceled_right_after_submit_never_starts(home: Path, gate: Gate) -> None:
    async with Runtime(defs(run_queue={"max_concurrent_runs": 1}), home=home) as runtime:
        seen = record_events(runtime)
        first = runtime.submit("slow")
        await gate.wait_entered()
        queued = runtime.submit("quick")
        await runtime.cancel(queued.run_id)  # its task has not run yet: it would be queued
        await until(lambda: queued.done(), "the canceled run finishes")
        assert runtime.queued_runs() == []
        gate.release.set()
        assert await done(first) == RunStatus.SUCCESS
        assert (await asyncio.wait_for(queued, TIMEOUT)).status == RunStatus.CANCELED
        record = {r.run_id: r for r in await runtime.runs()}[queued.run_id]
        assert record.message == "canceled while queued: nothing ran"
        assert started_ids(seen) == [first.run_id, queued.run_id]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"max_concurrent_runs": 1, "max_runs": 2}, "run_queue: unknown keys ['max_runs']"),
        ({"max_concurrent_runs": 0}, "run_queue: max_concurrent_runs must be at least 1"),
        (
            {"tag_concurrency_limits": [{"key": "db"}]},
            "tag_concurrency_limits: {'key': 'db'} is not {'key': ..., 'limit': ...}",
        ),
        ([1], "run_queue=[1]: expected RunQueueConfig or a dict"),
    ],
)
def test_a_bad_run_queue_is_a_definitions_error(config: Any, message: str) -> None:
    with pytest.raises(DefinitionsError) as raised:
        Definitions(assets=ASSETS, run_queue=config)
    assert str(raised.value) == message


def test_a_negative_or_non_integer_tag_limit_is_a_definitions_error() -> None:
    # 0 is Dagster's way to hold every run with the tag; below it means nothing.
    with pytest.raises(DefinitionsError, match="limit of 'db' must be a whole number >= 0"):
        RunQueueConfig(tag_concurrency_limits=[{"key": "db", "limit": -1}])
    with pytest.raises(DefinitionsError, match="limit of 'db' must be a whole number >= 0"):
        RunQueueConfig(tag_concurrency_limits=[{"key": "db", "limit": "x"}])
    assert RunQueueConfig(tag_concurrency_limits=[{"key": "db", "limit": 0}])


def test_the_dict_forms_of_tag_limits() -> None:
    config = RunQueueConfig.coerce(
        {
            "max_concurrent_runs": 3,
            "tag_concurrency_limits": [
                {"key": "db", "limit": 1},
                {"key": "team", "value": "data", "limit": 2},
                {"key": "user", "value": {"applyLimitPerUniqueValue": True}, "limit": 1},
            ],
        }
    )
    assert config == RunQueueConfig(
        3,
        (
            TagConcurrencyLimit("db", 1),
            TagConcurrencyLimit("team", 2, value="data"),
            TagConcurrencyLimit("user", 1, per_value=True),
        ),
    )
    assert Definitions(assets=ASSETS).run_queue == RunQueueConfig()


# -- the step limit shared by every run ----------------------------------------------------


async def test_the_step_limit_is_shared_by_every_run(home: Path, gate: Gate) -> None:
    async with Runtime(defs(), home=home, max_concurrency=1) as runtime:
        seen = record_events(runtime)
        waiting = asyncio.Event()
        wait = runtime.slots.wait

        def wait_and_tell(holder: object, wake: Callable[[], None]) -> None:
            wait(holder, wake)
            waiting.set()

        runtime.slots.wait = wait_and_tell
        first = runtime.submit("slow")
        await gate.wait_entered()
        assert runtime.slots.in_use == 1
        second = runtime.submit("quick")
        await asyncio.wait_for(waiting.wait(), TIMEOUT)  # its step found no slot
        assert started_ids(seen) == [first.run_id, second.run_id]  # no run limit
        assert [e.run_id for e in seen if e.kind == "STEP_STARTED"] == [first.run_id]
        assert RAN == ["slow"]

        async with runtime.subscribe(kinds={"STEP_STARTED"}, run_id=second.run_id) as steps:
            gate.release.set()
            assert await asyncio.wait_for(anext(steps), TIMEOUT)
        assert await done(first) == RunStatus.SUCCESS
        assert await done(second) == RunStatus.SUCCESS
        assert RAN == ["slow", "quick"]
        assert runtime.slots.in_use == 0
        finished = [e.kind for e in seen if e.kind in {"STEP_SUCCEEDED", "STEP_STARTED"}]
        assert finished == ["STEP_STARTED", "STEP_SUCCEEDED", "STEP_STARTED", "STEP_SUCCEEDED"]


# -- RunRequest(job_name=...) --------------------------------------------------------------


async def test_a_run_request_for_a_job_runs_its_assets(home: Path) -> None:
    jobs = [define_asset_job("nightly", AssetSelection.assets(quick, other), tags={"team": "data"})]
    async with Runtime(defs(jobs=jobs), home=home) as runtime:
        handle = await runtime.run_request(
            RunRequest(job_name="nightly", tags={"why": "test"}), RunOrigin.SCHEDULE
        )
        assert await done(handle) == RunStatus.SUCCESS
        (record,) = await runtime.runs()
    assert sorted(RAN) == ["other", "quick"]
    assert sorted(record.selection) == ["other", "quick"]
    assert record.tags["dagster/job_name"] == "nightly"
    assert (record.tags["why"], record.tags["team"]) == ("test", "data")
    assert record.origin == RunOrigin.SCHEDULE


async def test_a_run_request_for_an_unknown_job_is_a_clear_error(home: Path) -> None:
    jobs = [define_asset_job("nightly", AssetSelection.assets(quick))]
    async with Runtime(defs(jobs=jobs), home=home) as runtime:
        with pytest.raises(JobNotFoundError) as raised:
            await runtime.run_request(RunRequest(job_name="nightyl"))
        assert await runtime.runs() == []
    message = str(raised.value)
    assert "no job named 'nightyl'" in message and "nightly" in message
    assert RAN == []
