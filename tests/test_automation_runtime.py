"""Schedules and sensors ticking inside a real Runtime on a real home, with a clock the test
moves (no waiting for cron): ticks across a DST change, run keys never launched twice across
a restart, cursors kept, a raising sensor, an asset sensor woken by a materialization, a
missed tick run once on start, and a real file dropped into a watched directory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import Db, ManualClock
from millrace import (
    AssetKey,
    AssetOut,
    AutomationCondition,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    FreshnessPolicy,
    RunRequest,
    ScheduleDefinition,
    SkipReason,
    asset,
    asset_sensor,
    define_asset_job,
    file_arrival_sensor,
    multi_asset,
    sensor,
)
from millrace.events import RunOrigin, TickEvaluated
from millrace.runtime.automation import Automation
from millrace.runtime.runtime import Runtime

NY = ZoneInfo("America/New_York")
TIMEOUT = 10


@asset
def raw() -> int:
    return 1


@asset
def report(raw: int) -> int:
    return raw + 1


raw_job = define_asset_job("raw_job", selection=[raw])


@asynccontextmanager
async def automation(
    defs: Definitions, home: Path, clock: ManualClock, **options: Any
) -> AsyncIterator[tuple[Runtime, Automation]]:
    async with Runtime(defs, home=home) as runtime:
        yield runtime, await runtime.start_automation(clock=clock, **options)


async def next_tick(ticks: AsyncIterator[Any]) -> TickEvaluated:
    tick = await asyncio.wait_for(anext(ticks), TIMEOUT)
    assert isinstance(tick, TickEvaluated)
    return tick


async def test_a_daily_schedule_ticks_at_its_local_time_on_both_sides_of_a_dst_change(
    home: Path,
) -> None:
    nine = ScheduleDefinition(
        name="nine",
        cron_schedule="0 9 * * *",
        execution_timezone="America/New_York",
        target=[raw],
        default_status=DefaultScheduleStatus.RUNNING,
    )
    clock = ManualClock(datetime(2024, 3, 9, 8, 0, tzinfo=NY))
    defs = Definitions(assets=[raw], schedules=[nine])
    async with automation(defs, home, clock) as (runtime, auto):
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        assert auto.get("nine").next_due == datetime(2024, 3, 9, 9, tzinfo=NY).timestamp()
        clock.move_to(datetime(2024, 3, 9, 9, 0, tzinfo=NY))
        first = await next_tick(ticks)
        clock.move_to(datetime(2024, 3, 10, 9, 0, tzinfo=NY))  # clocks went forward at 2:00
        second = await next_tick(ticks)
        for tick in (first, second):
            [run_id] = tick.run_ids
            assert (await runtime.wait_for_run(run_id)).status.value == "SUCCESS"  # type: ignore[union-attr]
        runs = {r.run_id: r for r in await runtime.runs()}
    assert first.status == second.status == "SUCCESS"
    assert [first.scheduled_time, second.scheduled_time] == [
        datetime(2024, 3, 9, 14, tzinfo=ZoneInfo("UTC")).timestamp(),  # 09:00 EST
        datetime(2024, 3, 10, 13, tzinfo=ZoneInfo("UTC")).timestamp(),  # 09:00 EDT
    ]
    run = runs[first.run_ids[0]]
    assert run.origin is RunOrigin.SCHEDULE and run.tags["dagster/schedule_name"] == "nine"
    assert run.selection == ("raw",)


def keyed_sensor(calls: list[str | None]) -> Any:
    @sensor(job=raw_job, minimum_interval_seconds=30)
    def keyed(context: Any) -> Any:
        calls.append(context.cursor)
        context.update_cursor(str(len(calls)))
        yield RunRequest(run_key="only-once")

    return keyed


async def test_a_run_key_launches_once_across_a_restart_and_the_cursor_is_kept(
    home: Path,
) -> None:
    calls: list[str | None] = []
    defs = Definitions(assets=[raw], jobs=[raw_job], sensors=[keyed_sensor(calls)])
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        first = await auto.tick("keyed")
        await runtime.wait_for_run(first.run_ids[0])
    async with automation(defs, home, clock) as (runtime, auto):
        assert auto.get("keyed").cursor == "1"
        again = await auto.tick("keyed")
        runs = await runtime.runs()
    assert first.status == "SUCCESS" and len(first.run_ids) == 1
    assert again.status == "SKIPPED"
    assert again.skip_reason == "run keys already requested: only-once"
    assert calls == [None, "1"]  # the cursor it moved came back after the restart
    [run] = runs
    assert run.origin is RunOrigin.SENSOR and run.tags["dagster/job_name"] == "raw_job"
    assert run.tags["dagster/run_key"] == "only-once"


async def test_a_raising_sensor_is_a_failed_tick_and_ticks_again_next_interval(
    home: Path,
) -> None:
    attempts: list[int] = []

    @sensor(target=[raw], minimum_interval_seconds=60, default_status=DefaultSensorStatus.RUNNING)
    def flaky(context: Any) -> Any:
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("the bucket is unreachable")
        return SkipReason("nothing new")

    start = datetime(2024, 1, 1, 12, tzinfo=NY)
    clock = ManualClock(start)
    async with automation(Definitions(assets=[raw], sensors=[flaky]), home, clock) as (rt, auto):
        ticks = rt.subscribe(kinds={"TICK_EVALUATED"})
        failed = await next_tick(ticks)  # due at once: it never ticked
        assert auto.get("flaky").next_due == start.timestamp() + 60
        clock.move_to(datetime(2024, 1, 1, 12, 1, tzinfo=NY))
        retried = await next_tick(ticks)
        stored = await rt.ticks("flaky")
    assert failed.status == "FAILURE"
    assert failed.error is not None
    assert failed.error.startswith("ConnectionError: the bucket is unreachable")
    assert 'raise ConnectionError("the bucket is unreachable")' in failed.error  # traceback
    assert retried.status == "SKIPPED" and retried.skip_reason == "nothing new"
    assert [t.status for t in stored] == ["SKIPPED", "FAILURE"]


async def test_an_asset_sensor_wakes_on_the_materialization_and_runs_its_target(
    home: Path,
) -> None:
    @asset_sensor(asset_key=AssetKey("raw"), target=[report])
    def on_raw(context: Any, asset_event: Any) -> Any:
        rows = asset_event.asset_materialization.metadata
        return RunRequest(run_key=f"raw-{asset_event.run_id}", tags={"seen": str(len(rows))})

    defs = Definitions(assets=[raw, report], sensors=[on_raw])
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        await auto.set_running("on_raw", True)
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        first = await next_tick(ticks)  # started: it looks once at once
        upstream = await runtime.materialize([raw])
        woken = await next_tick(ticks)  # no time passed: the materialization woke it
        done = await runtime.wait_for_run(woken.run_ids[0])
    assert first.status == "SKIPPED"
    assert woken.status == "SUCCESS"
    assert done is not None and done.status.value == "SUCCESS"
    assert done.tags["dagster/run_key"] == f"raw-{upstream.run_id}"
    assert done.selection == ("report",)


async def test_a_schedule_missed_while_down_runs_its_latest_tick_once_on_start(
    home: Path,
) -> None:
    hourly = ScheduleDefinition(
        name="hourly",
        cron_schedule="0 * * * *",
        target=[raw],
        default_status=DefaultScheduleStatus.RUNNING,
    )
    defs = Definitions(assets=[raw], schedules=[hourly])
    clock = ManualClock(datetime(2024, 1, 1, 10, 30, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        ticked = await auto.tick("hourly")  # 10:00
    clock.move_to(datetime(2024, 1, 1, 14, 30, tzinfo=NY))  # down from 10:30 to 14:30
    async with automation(defs, home, clock) as (runtime, auto):
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        caught_up = await next_tick(ticks)
        assert auto.get("hourly").next_due == datetime(2024, 1, 1, 15, tzinfo=NY).timestamp()
    assert ticked.scheduled_time == datetime(2024, 1, 1, 10, tzinfo=NY).timestamp()
    assert caught_up.scheduled_time == datetime(2024, 1, 1, 14, tzinfo=NY).timestamp()


async def test_a_file_dropped_into_the_watched_directory_starts_a_run_with_its_path(
    home: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    arrivals = file_arrival_sensor(
        landing,
        "*.csv",
        target=[raw],
        name="arrivals",
        minimum_interval_seconds=3600,
        default_status=DefaultSensorStatus.RUNNING,
    )
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(Definitions(assets=[raw], sensors=[arrivals]), home, clock) as (
        runtime,
        _,
    ):
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        assert (await next_tick(ticks)).status == "SKIPPED"  # nothing there yet
        (landing / "orders.csv").write_text("id\n1\n")
        landed = await next_tick(ticks)  # the file event woke it, the clock did not move
        while landed.status == "SKIPPED":  # a write can arrive as two file events
            landed = await next_tick(ticks)
        done = await runtime.wait_for_run(landed.run_ids[0])
    assert done is not None and done.status.value == "SUCCESS"
    assert done.tags["millrace/file_path"] == str(landing / "orders.csv")


@pytest.mark.parametrize("running", [True, False])
async def test_starting_and_stopping_persists_across_restarts(home: Path, running: bool) -> None:
    hourly = ScheduleDefinition(name="hourly", cron_schedule="0 * * * *", target=[raw])
    defs = Definitions(assets=[raw], schedules=[hourly])
    clock = ManualClock(datetime(2024, 1, 1, 10, 30, tzinfo=NY))
    async with automation(defs, home, clock) as (_, auto):
        assert not auto.get("hourly").running  # STOPPED by default, as Dagster
        await auto.set_running("hourly", True)
        if not running:
            await auto.set_running("hourly", False)
    async with automation(defs, home, clock) as (_, auto):
        assert auto.get("hourly").running is running


# -- declarative automation ------------------------------------------------------------------


async def automation_ticks(ticks: AsyncIterator[Any], wanted: int) -> list[TickEvaluated]:
    """The default automation condition sensor's ticks until ``wanted`` of them requested."""
    requested: list[TickEvaluated] = []
    while len(requested) < wanted:
        tick = await next_tick(ticks)
        if tick.name == "default_automation_condition_sensor" and tick.run_ids:
            requested.append(tick)
    return requested


async def test_eager_requests_the_downstream_once_after_its_upstream_updates(
    home: Path, db: Db
) -> None:
    @asset(automation_condition=AutomationCondition.eager())
    def summary(raw: int) -> int:
        return raw * 10

    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(Definitions(assets=[raw, summary]), home, clock) as (runtime, auto):
        assert auto.get("default_automation_condition_sensor").running  # on from the start
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        assert (await runtime.materialize([raw])).success
        [tick] = await automation_ticks(ticks, 1)
        done = await runtime.wait_for_run(tick.run_ids[0])
        # Its own run's events wake it again: nothing more to ask for.
        again = await next_tick(ticks)
        while again.name != "default_automation_condition_sensor":
            again = await next_tick(ticks)
        evaluations = await runtime.automation_evaluations()
    assert done is not None and done.status.value == "SUCCESS"
    assert done.origin is RunOrigin.AUTOMATION and done.selection == ("summary",)
    assert again.status == "SKIPPED"
    assert [r.origin for r in await _runs(home)].count(RunOrigin.AUTOMATION) == 1
    reason = evaluations["summary"]["reason"]
    assert reason.splitlines()[0].startswith("eager")
    assert evaluations["summary"]["requested"] == []  # its last evaluation requested nothing
    # The event history keeps what each evaluation requested; reasons and memory are kept
    # once, in automation_evaluations.
    stored = [
        json.loads(p)
        for (p,) in db.rows("SELECT payload FROM events WHERE type = 'AUTOMATION_EVALUATED'")
    ]
    assert {"summary": {"requested": [None]}} in [p["evaluations"] for p in stored]
    assert all("reason" not in e for p in stored for e in p["evaluations"].values())


async def test_eager_outputs_of_a_multi_asset_run_together_in_one_call(home: Path) -> None:
    calls: list[str] = []

    @multi_asset(
        outs={
            "low": AssetOut(),
            "high": AssetOut(automation_condition=AutomationCondition.eager()),
            "manual": AssetOut(automation_condition=AutomationCondition.on_cron("0 0 * * *")),
        },
        automation_condition=AutomationCondition.eager(),  # for the outputs without their own
    )
    def bands(raw: int) -> tuple[int, int, int]:
        calls.append("bands")
        return raw - 1, raw + 1, raw

    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(Definitions(assets=[raw, bands]), home, clock) as (runtime, _):
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        assert (await runtime.materialize([raw])).success
        [tick] = await automation_ticks(ticks, 1)
        done = await runtime.wait_for_run(tick.run_ids[0])
        evaluations = await runtime.automation_evaluations()

    assert done is not None and done.status.value == "SUCCESS"
    # Requested per output; the multi-asset cannot subset, so its run makes all three.
    assert set(done.selection) == {"low", "high", "manual"}
    assert calls == ["bands"]
    assert evaluations["low"]["reason"].splitlines()[0].startswith("eager")
    assert evaluations["manual"]["requested"] == []  # its cron has not ticked


async def _runs(home: Path) -> list[Any]:
    async with Runtime(Definitions(assets=[raw]), home=home, readonly=True) as runtime:
        return await runtime.runs()


async def test_on_cron_waits_for_its_tick_and_every_upstream_updated_since(home: Path) -> None:
    @asset(automation_condition=AutomationCondition.on_cron("0 9 * * *", "America/New_York"))
    def daily_report(raw: int) -> int:
        return raw

    clock = ManualClock(datetime(2024, 3, 10, 8, 0, tzinfo=NY))  # the day clocks go forward
    async with automation(Definitions(assets=[raw, daily_report]), home, clock) as (rt, auto):
        sensor = auto.get("default_automation_condition_sensor")
        first = await auto.tick(sensor.name)  # as at start: every condition once
        assert first.status == "SKIPPED"
        ticks = rt.subscribe(kinds={"TICK_EVALUATED"})  # from here on
        assert sensor.next_due == datetime(2024, 3, 10, 9, tzinfo=NY).timestamp()  # then cron
        clock.move_to(datetime(2024, 3, 10, 9, 0, tzinfo=NY))
        at_nine = await next_tick(ticks)
        while at_nine.name != sensor.name:
            at_nine = await next_tick(ticks)
        assert at_nine.status == "SKIPPED"  # raw has not updated since 09:00
        clock.move_to(datetime(2024, 3, 10, 9, 30, tzinfo=NY))
        assert (await rt.materialize([raw])).success
        [requested] = await automation_ticks(ticks, 1)
        done = await rt.wait_for_run(requested.run_ids[0])
    assert done is not None and done.selection == ("daily_report",)


# -- freshness -------------------------------------------------------------------------------


async def test_freshness_moves_pass_warn_fail_on_timers_and_back_on_a_materialization(
    home: Path,
) -> None:
    @asset(
        freshness_policy=FreshnessPolicy.time_window(
            fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
        )
    )
    def prices() -> int:
        return 1

    start = datetime(2024, 1, 1, 12, tzinfo=NY)
    clock = ManualClock(start)
    defs = Definitions(assets=[prices])
    async with Runtime(defs, home=home) as runtime:
        states = runtime.subscribe(kinds={"FRESHNESS_CHANGED"})
        made = await runtime.materialize()  # at the real time: the clock is moved onto it
        clock.move_to(datetime.fromtimestamp(made.all_events[-1].timestamp, NY))
        auto = await runtime.start_automation(clock=clock)
        changes = [await asyncio.wait_for(anext(states), TIMEOUT)]
        timer = auto.freshness[AssetKey("prices")][1]
        assert timer is not None and abs(timer - (clock.now() + 3600)) < 1  # an hour on
        clock.move_to(datetime.fromtimestamp(clock.now() + 3601, NY))
        changes.append(await asyncio.wait_for(anext(states), TIMEOUT))
        clock.move_to(datetime.fromtimestamp(clock.now() + 3600, NY))
        changes.append(await asyncio.wait_for(anext(states), TIMEOUT))
        catalog = {r.asset_key.to_user_string(): r for r in await runtime.catalog()}
    assert [(c.previous, c.state) for c in changes] == [
        (None, "PASS"),
        ("PASS", "WARN"),
        ("WARN", "FAIL"),
    ]
    assert changes[-1].asset_key == AssetKey("prices") and "over 2:00:00" in changes[-1].reason
    assert catalog["prices"].freshness is not None  # the catalog judges at the real time


async def test_eager_does_not_request_while_an_upstream_run_is_in_flight(home: Path) -> None:
    import threading

    release = threading.Event()

    @asset
    def slow_root() -> int:
        release.wait(TIMEOUT)
        return 1

    @asset(automation_condition=AutomationCondition.eager())
    def follower(slow_root: int, raw: int) -> int:
        return slow_root + raw

    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    defs = Definitions(assets=[raw, slow_root, follower])
    async with automation(defs, home, clock) as (runtime, auto):
        sensor = auto.get("default_automation_condition_sensor")
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        slow = runtime.submit([slow_root])  # in flight: follower must wait for it
        assert (await runtime.materialize([raw])).success  # raw updated meanwhile
        during = await auto.tick(sensor.name)
        release.set()
        assert (await slow).success
        [after] = await automation_ticks(ticks, 1)
        done = await runtime.wait_for_run(after.run_ids[0])
        evaluation = (await runtime.automation_evaluations())["follower"]
    assert during.status == "SKIPPED"  # an upstream in flight
    assert done is not None and done.selection == ("follower",)
    assert "any_deps_in_progress" in evaluation["reason"]


async def test_a_sensor_slower_than_the_tick_timeout_is_a_failed_tick(home: Path) -> None:
    import threading

    release = threading.Event()

    @sensor(target=[raw])
    def stuck(context: Any) -> Any:
        release.wait(TIMEOUT)
        return SkipReason("late")

    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    defs = Definitions(assets=[raw], sensors=[stuck])
    try:
        async with automation(defs, home, clock, tick_timeout=0.1) as (runtime, auto):
            tick = await auto.tick("stuck")
            # The loop was never blocked: a run goes on while the sensor's thread hangs.
            assert (await runtime.materialize([raw])).success
    finally:
        release.set()
    assert tick.status == "FAILURE"
    assert tick.error == "TimeoutError: sensor stuck took over 0.1s"


async def test_a_cron_condition_on_a_root_is_evaluated_by_the_timer_alone(home: Path) -> None:
    hourly = AutomationCondition.cron_tick_passed("0 * * * *", "UTC").since_last_handled()

    @asset(automation_condition=hourly & ~AutomationCondition.in_progress())
    def pulse() -> int:
        return 1

    utc = ZoneInfo("UTC")
    clock = ManualClock(datetime(2024, 1, 1, 10, 30, tzinfo=utc))
    async with automation(Definitions(assets=[pulse]), home, clock) as (runtime, auto):
        sensor = auto.get("default_automation_condition_sensor")
        first = await auto.tick(sensor.name)  # as at start
        assert sensor.next_due == datetime(2024, 1, 1, 11, tzinfo=utc).timestamp()
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        clock.move_to(datetime(2024, 1, 1, 11, 0, tzinfo=utc))  # no event: only the timer
        [requested] = await automation_ticks(ticks, 1)
        done = await runtime.wait_for_run(requested.run_ids[0])
    assert first.status == "SKIPPED"
    assert done is not None and done.selection == ("pulse",)
    assert done.origin is RunOrigin.AUTOMATION
