"""The executor: real concurrency, failure isolation, retries, cancellation, concurrency limits.

Concurrency is proven with rendezvous (each step waits for the other to start), never timing.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import millrace
import pytest
from conftest import Db, stored_value
from millrace import (
    AssetIn,
    AssetKey,
    Backoff,
    Definitions,
    RetryPolicy,
    RunStatus,
    Runtime,
    asset,
    materialize,
    materialize_to_memory,
)
from millrace.events import (
    AssetMaterialized,
    Event,
    StepFailed,
    StepStarted,
    StepSucceeded,
    StepWaiting,
)

APP_DIR = str(Path(millrace.__file__).parent)
RENDEZVOUS_TIMEOUT = 10.0  # a broken (serial) executor fails after this instead of hanging


def skipped(result) -> dict[str, str]:
    return {e.asset_key.to_user_string(): e.reason for e in result.get_step_skipped_events()}


def materialized(result) -> set[str]:
    return {k.to_user_string() for k in result.materialized_keys}


# -- concurrency -----------------------------------------------------------------------------


def test_independent_sync_assets_run_at_the_same_time() -> None:
    left_started, right_started = threading.Event(), threading.Event()

    @asset
    def left():
        left_started.set()
        if not right_started.wait(RENDEZVOUS_TIMEOUT):
            raise AssertionError("right never started while left was running")
        return "left"

    @asset
    def right():
        right_started.set()
        if not left_started.wait(RENDEZVOUS_TIMEOUT):
            raise AssertionError("left never started while right was running")
        return "right"

    result = materialize_to_memory([left, right], max_concurrency=2)
    assert result.success
    assert result.asset_value("left") == "left"
    assert result.asset_value("right") == "right"


async def test_independent_async_assets_run_at_the_same_time() -> None:
    left_started, right_started = asyncio.Event(), asyncio.Event()

    @asset
    async def left():
        left_started.set()
        await asyncio.wait_for(right_started.wait(), RENDEZVOUS_TIMEOUT)
        return "left"

    @asset
    async def right():
        right_started.set()
        await asyncio.wait_for(left_started.wait(), RENDEZVOUS_TIMEOUT)
        return "right"

    async with Runtime(Definitions(assets=[left, right]), persist=False) as runtime:
        result = await runtime.materialize(capture_values=True)
    assert result.status is RunStatus.SUCCESS, result.failures
    assert result.asset_value("left") == "left"
    assert result.asset_value("right") == "right"


def test_sync_and_async_assets_run_at_the_same_time() -> None:
    """An async step runs on the loop while a sync step holds a worker thread."""
    thread_started = threading.Event()
    loop_started = threading.Event()

    @asset
    def in_thread():
        thread_started.set()
        if not loop_started.wait(RENDEZVOUS_TIMEOUT):
            raise AssertionError("the async asset never started")
        return 1

    @asset
    async def on_loop():
        loop_started.set()
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, thread_started.wait, RENDEZVOUS_TIMEOUT):
            raise AssertionError("the sync asset never started")
        return 2

    result = materialize_to_memory([in_thread, on_loop])
    assert result.success
    assert (result.asset_value("in_thread"), result.asset_value("on_loop")) == (1, 2)


# -- concurrency limit -----------------------------------------------------------------------


class RunningCounter:
    """How many steps are inside their function at once, and the most ever seen."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1


def step_events(events: list[Event]) -> list[tuple[str, str]]:
    return [
        (type(e).__name__, e.asset_key.to_user_string())
        for e in events
        if isinstance(e, StepStarted | StepSucceeded)
    ]


def make_counted_async_assets(counter: RunningCounter, n: int) -> list:
    def make(i: int):
        @asset(name=f"counted_{i}")
        async def counted():
            counter.enter()
            for _ in range(5):
                await asyncio.sleep(0)  # let any other launched step run
            counter.leave()
            return i

        return counted

    return [make(i) for i in range(n)]


async def test_max_concurrency_one_serializes_async_steps() -> None:
    counter = RunningCounter()
    defs = Definitions(assets=make_counted_async_assets(counter, 4))
    async with Runtime(defs, persist=False, max_concurrency=1) as runtime:
        result = await runtime.materialize()
    assert result.success
    assert counter.peak == 1
    kinds = [kind for kind, _ in step_events(result.all_events)]
    assert kinds == ["StepStarted", "StepSucceeded"] * 4


async def test_without_the_limit_the_same_async_steps_overlap() -> None:
    """Control for the test above: the counter does see overlap when it is allowed."""
    counter = RunningCounter()
    defs = Definitions(assets=make_counted_async_assets(counter, 4))
    async with Runtime(defs, persist=False, max_concurrency=4) as runtime:
        result = await runtime.materialize()
    assert result.success
    assert counter.peak == 4
    kinds = [kind for kind, _ in step_events(result.all_events)]
    assert kinds == ["StepStarted"] * 4 + ["StepSucceeded"] * 4


async def test_submit_max_concurrency_one_serializes_sync_steps_with_spare_threads() -> None:
    counter = RunningCounter()

    def make(i: int):
        @asset(name=f"sync_{i}")
        def counted():
            counter.enter()
            counter.leave()
            return i

        return counted

    defs = Definitions(assets=[make(i) for i in range(4)])
    # The runtime's thread pool has 4 workers; only the per-run limit keeps steps apart.
    async with Runtime(defs, persist=False, max_concurrency=4) as runtime:
        result = await runtime.submit(max_concurrency=1)
    assert result.success
    assert counter.peak == 1
    events = step_events(result.all_events)
    assert [kind for kind, _ in events] == ["StepStarted", "StepSucceeded"] * 4
    # each step finishes before the next one starts
    assert all(events[i][1] == events[i + 1][1] for i in range(0, 8, 2))


def test_max_concurrency_must_be_positive() -> None:
    @asset
    def one():
        return 1

    with pytest.raises(ValueError, match="at least 1"):
        materialize_to_memory([one], max_concurrency=0)


# -- failure isolation -----------------------------------------------------------------------


def test_failure_skips_only_downstream_and_keeps_old_values(home: Path, db: Db) -> None:
    calls: list[str] = []
    state = {"b_fails": False, "run": 0}

    @asset
    def a():
        calls.append("a")
        return state["run"]

    @asset
    def b(a):
        calls.append("b")
        if state["b_fails"]:
            raise ValueError("b exploded")
        return a + 1

    @asset
    def c(b):
        calls.append("c")
        return {"c_from_run": state["run"], "b": b}

    @asset
    def d():
        calls.append("d")
        return "d"

    assets = [a, b, c, d]
    first = materialize(assets)
    assert first.success
    assert stored_value(home, "c") == {"c_from_run": 0, "b": 1}
    assert first.asset_value("c") == {"c_from_run": 0, "b": 1}

    state.update(b_fails=True, run=1)
    calls.clear()
    second = materialize(assets, raise_on_error=False)

    assert second.status is RunStatus.FAILURE
    assert not second.success
    assert sorted(calls) == ["a", "b", "d"]
    assert materialized(second) == {"a", "d"}
    assert skipped(second) == {"c": "upstream b failed"}
    failure = second.failures[AssetKey("b")]
    assert (failure.type, failure.message) == ("ValueError", "b exploded")
    assert "test_executor.py" in failure.traceback
    assert APP_DIR not in failure.traceback  # only the user's frames
    assert isinstance(second.exceptions[AssetKey("b")], ValueError)

    # c's earlier value is untouched in storage and still the latest materialization
    assert stored_value(home, "c") == {"c_from_run": 0, "b": 1}
    assert db.rows("SELECT status, message FROM runs WHERE run_id = ?", (second.run_id,)) == [
        ("FAILURE", "b failed")
    ]
    assert db.rows("SELECT run_id FROM latest_materializations WHERE asset_key = 'c'") == [
        (first.run_id,)
    ]
    assert db.rows("SELECT run_id FROM latest_materializations WHERE asset_key = 'd'") == [
        (second.run_id,)
    ]


def test_failure_skips_the_whole_downstream_closure() -> None:
    @asset
    def root():
        raise RuntimeError("no")

    @asset
    def mid(root):
        return root

    @asset
    def leaf(mid):
        return mid

    @asset(deps=[root])
    def order_only():
        return 1

    result = materialize_to_memory([root, mid, leaf, order_only], raise_on_error=False)
    assert result.status is RunStatus.FAILURE
    assert skipped(result) == {
        "mid": "upstream root failed",
        "leaf": "upstream root failed",
        "order_only": "upstream root failed",
    }
    assert materialized(result) == set()


# -- retries ---------------------------------------------------------------------------------


def test_retry_policy_succeeds_on_the_third_attempt() -> None:
    attempts: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=2))
    def flaky(context):
        attempts.append(context.retry_number)
        if len(attempts) < 3:
            raise ConnectionError(f"attempt {len(attempts)} failed")
        return "finally"

    @asset
    def after_flaky(flaky):
        return flaky.upper()

    result = materialize_to_memory([flaky, after_flaky])
    assert result.success
    assert attempts == [0, 1, 2]
    assert result.asset_value("after_flaky") == "FINALLY"
    started = [e.attempt for e in result.all_events if isinstance(e, StepStarted)]
    assert started == [1, 2, 3, 1]
    failed = [e for e in result.all_events if isinstance(e, StepFailed)]
    assert [(e.will_retry, e.error.message) for e in failed] == [
        (True, "attempt 1 failed"),
        (True, "attempt 2 failed"),
    ]
    assert result.get_step_failure_events() == []


def test_retries_run_out() -> None:
    attempts: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=1))
    def always_fails():
        attempts.append(1)
        raise ConnectionError("down")

    result = materialize_to_memory([always_fails], raise_on_error=False)
    assert result.status is RunStatus.FAILURE
    assert len(attempts) == 2
    assert [e.will_retry for e in result.all_events if isinstance(e, StepFailed)] == [
        True,
        False,
    ]


async def test_async_asset_is_retried() -> None:
    attempts: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=2))
    async def flaky_async():
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError("slow")
        return len(attempts)

    async with Runtime(Definitions(assets=[flaky_async]), persist=False) as runtime:
        result = await runtime.materialize(capture_values=True)
    assert result.success
    assert result.asset_value("flaky_async") == 3


def test_retry_delays() -> None:
    # Dagster's calculate_delay: EXPONENTIAL is (2**attempt - 1) * delay, LINEAR attempt * delay.
    assert [RetryPolicy(delay=1.0).delay_before(n) for n in (1, 2, 3)] == [1.0, 1.0, 1.0]
    linear = RetryPolicy(delay=1.0, backoff=Backoff.LINEAR)
    assert [linear.delay_before(n) for n in (1, 2, 3)] == [1.0, 2.0, 3.0]
    exponential = RetryPolicy(delay=0.5, backoff=Backoff.EXPONENTIAL)
    assert [exponential.delay_before(n) for n in (1, 2, 3)] == [0.5, 1.5, 3.5]
    assert RetryPolicy().delay_before(1) == 0.0


# -- cancellation ----------------------------------------------------------------------------


async def test_cancel_a_running_async_step(db: Db) -> None:
    never = asyncio.Event()  # set only in the finally below, so a broken cancel cannot hang
    was_cancelled = asyncio.Event()

    @asset
    async def blocker():
        try:
            await never.wait()
        except asyncio.CancelledError:
            was_cancelled.set()
            raise
        return 1

    @asset
    def downstream_of_blocker(blocker):
        return blocker

    defs = Definitions(assets=[blocker, downstream_of_blocker])
    async with Runtime(defs) as runtime:
        blocker_started = asyncio.Event()

        def watch(event: Event) -> None:
            if isinstance(event, StepStarted) and event.asset_key == AssetKey("blocker"):
                blocker_started.set()

        unsubscribe = runtime.listen(watch)
        handle = runtime.submit()
        try:
            await asyncio.wait_for(blocker_started.wait(), 10)
            assert not handle.done()
            await runtime.store.flush()  # the bus is ahead of the database; catch it up
            assert db.value("SELECT status FROM runs WHERE run_id = ?", (handle.run_id,)) == (
                "STARTED"
            )
            handle.cancel()
            finished, _ = await asyncio.wait([asyncio.ensure_future(_result(handle))], timeout=10)
            assert finished, "the run did not end after cancel()"
            result = finished.pop().result()
        finally:
            unsubscribe()
            never.set()
        # The run is on disk by the time the handle resolves, not only once the runtime closes.
        assert db.value("SELECT status FROM runs WHERE run_id = ?", (result.run_id,)) == (
            "CANCELED"
        )

    assert was_cancelled.is_set()
    assert result.status is RunStatus.CANCELED
    assert not result.success
    assert skipped(result) == {"downstream_of_blocker": "run canceled"}
    assert materialized(result) == set()
    failed = result.get_step_failure_events()
    assert [(e.asset_key, e.error.type) for e in failed] == [
        (AssetKey("blocker"), "CancelledError")
    ]
    stored = db.rows(
        "SELECT asset_key, payload FROM events WHERE run_id = ? AND type = ?",
        (result.run_id, "STEP_SKIPPED"),
    )
    assert stored == [("downstream_of_blocker", '{"reason": "run canceled"}')]


async def _result(handle):
    return await handle


async def test_cancel_before_anything_runs_skips_everything(db: Db) -> None:
    ran: list[str] = []

    @asset
    def first():
        ran.append("first")
        return 1

    @asset
    def second(first):
        ran.append("second")
        return first

    async with Runtime(Definitions(assets=[first, second])) as runtime:
        handle = runtime.submit()
        handle.cancel()
        result = await handle
    assert ran == []
    assert result.status is RunStatus.CANCELED
    assert skipped(result) == {"first": "run canceled", "second": "run canceled"}
    assert db.value("SELECT status FROM runs WHERE run_id = ?", (result.run_id,)) == "CANCELED"


def test_materialized_events_carry_data_versions() -> None:
    @asset(code_version="1")
    def versioned():
        return 1

    @asset(code_version="1")
    def child_of_versioned(versioned):
        return versioned

    one = materialize_to_memory([versioned, child_of_versioned])
    two = materialize_to_memory([versioned, child_of_versioned])
    versions = [
        {e.asset_key: e.data_version for e in r.all_events if isinstance(e, AssetMaterialized)}
        for r in (one, two)
    ]
    assert versions[0] == versions[1]  # same code, same inputs: same logical version
    assert versions[0][AssetKey("versioned")] != versions[0][AssetKey("child_of_versioned")]


async def test_the_event_stream_keeps_what_was_published_before_it_was_read() -> None:
    @asset
    def streamed() -> int:
        return 1

    async with Runtime(Definitions(assets=[streamed])) as runtime:
        stream = runtime.bus.stream()
        await runtime.materialize()  # the whole run happens before anyone iterates
        kinds = [(await asyncio.wait_for(anext(stream), RENDEZVOUS_TIMEOUT)).kind for _ in range(5)]
        await stream.aclose()
    assert kinds == [
        "RUN_STARTED",
        "STEP_STARTED",
        "ASSET_MATERIALIZED",
        "STEP_SUCCEEDED",
        "RUN_FINISHED",
    ]


# -- steps booked on worker threads ------------------------------------------------------------


async def test_a_chain_of_def_steps_goes_on_while_the_event_loop_is_blocked() -> None:
    entered, go, last = threading.Event(), threading.Event(), threading.Event()
    threads: list[str] = []

    @asset(name="link_0")
    def start() -> int:
        entered.set()
        assert go.wait(RENDEZVOUS_TIMEOUT)
        return 1

    def make(i: int):
        @asset(name=f"link_{i}", ins={"up": AssetIn(key=f"link_{i - 1}")})
        def link(up: int) -> int:
            threads.append(threading.current_thread().name)
            if i == 29:
                last.set()
            return up + 1

        return link

    defs = Definitions(assets=[start, *(make(i) for i in range(1, 30))])
    async with Runtime(defs, persist=False, max_concurrency=4) as runtime:
        seen: list[Event] = []
        runtime.bus.subscribe(seen.append)
        handle = runtime.submit(capture_values=True)
        assert await asyncio.to_thread(entered.wait, RENDEZVOUS_TIMEOUT)
        go.set()
        # The loop is blocked here: each finished step hands its successor to its own thread.
        assert last.wait(RENDEZVOUS_TIMEOUT)
        result = await handle
    assert result.success and result.asset_value("link_29") == 30
    assert len(set(threads)) == 1 and threads[0] != threading.current_thread().name
    mine = [e for e in seen if e.run_id == result.run_id]
    assert [e.seq for e in mine] == sorted(e.seq for e in mine)  # delivered in id order
    order = [(type(e).__name__, e.asset_key.to_user_string()) for e in mine if e.asset_key]
    for i in range(1, 30):
        made = order.index(("AssetMaterialized", f"link_{i - 1}"))
        assert made < order.index(("StepStarted", f"link_{i}"))


async def test_an_async_step_after_a_def_step_runs_on_the_loop() -> None:
    loop_thread = threading.current_thread().name
    ran_on: dict[str, str] = {}

    @asset
    def first() -> int:
        ran_on["first"] = threading.current_thread().name
        return 1

    @asset
    async def second(first: int) -> int:
        ran_on["second"] = threading.current_thread().name
        await asyncio.sleep(0)
        return first + 1

    @asset
    def third(second: int) -> int:
        ran_on["third"] = threading.current_thread().name
        return second + 1

    async with Runtime(Definitions(assets=[first, second, third]), persist=False) as runtime:
        result = await runtime.submit(capture_values=True)
    assert result.success and result.asset_value("third") == 3
    assert ran_on["second"] == loop_thread
    assert loop_thread not in (ran_on["first"], ran_on["third"])


async def test_a_step_made_ready_on_a_worker_waits_for_another_runs_write_lock() -> None:
    entered, release = threading.Event(), threading.Event()

    @asset
    def up() -> int:
        return 1

    @asset(deps=["up"])
    def shared() -> int:
        entered.set()
        assert release.wait(RENDEZVOUS_TIMEOUT)
        return 2

    async with Runtime(Definitions(assets=[up, shared]), persist=False) as runtime:
        waiting = runtime.subscribe(kinds={StepWaiting.kind})
        first = runtime.submit("shared")
        assert await asyncio.to_thread(entered.wait, RENDEZVOUS_TIMEOUT)
        second = runtime.submit(["up", "shared"])  # shared becomes ready on up's worker
        wait = await asyncio.wait_for(anext(waiting), RENDEZVOUS_TIMEOUT)
        await waiting.aclose()
        assert wait.run_id == second.run_id and wait.holder_run_id == first.run_id
        release.set()
        one, two = await asyncio.wait_for(asyncio.gather(first, second), RENDEZVOUS_TIMEOUT)
    assert one.success and two.success
    started = [e for e in two.all_events if isinstance(e, StepStarted)]
    assert [e.asset_key.to_user_string() for e in started] == ["up", "shared"]
    written = next(e for e in one.all_events if isinstance(e, AssetMaterialized))
    assert written.seq < started[1].seq  # it started only once the first run had written


async def test_a_run_finishing_on_a_worker_gives_its_slot_to_a_waiting_run() -> None:
    entered, release = threading.Event(), threading.Event()

    @asset
    def slow() -> int:
        entered.set()
        assert release.wait(RENDEZVOUS_TIMEOUT)
        return 1

    @asset
    def after(slow: int) -> int:
        return slow + 1

    @asset
    def other() -> int:
        return 3

    defs = Definitions(assets=[slow, after, other])
    async with Runtime(defs, persist=False, max_concurrency=1) as runtime:
        first = runtime.submit(["slow", "after"])
        assert await asyncio.to_thread(entered.wait, RENDEZVOUS_TIMEOUT)
        second = runtime.submit("other", capture_values=True)  # no slot: it waits
        release.set()  # slow's worker books it, runs after, then gives the slot back
        one, two = await asyncio.wait_for(asyncio.gather(first, second), RENDEZVOUS_TIMEOUT)
    assert one.success and two.success and two.asset_value("other") == 3
