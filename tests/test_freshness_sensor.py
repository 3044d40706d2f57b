"""build_sensor_for_freshness_checks: which checks are due (pure, explicit instants, the sensor
called directly), and one real tick in a Runtime that runs the check and records its result,
then skips when nothing changed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from conftest import ManualClock
from millrace import (
    AssetKey,
    DefaultSensorStatus,
    Definitions,
    DefinitionsError,
    RunRequest,
    SkipReason,
    asset,
    asset_check,
    build_last_update_freshness_checks,
    build_sensor_context,
    build_sensor_for_freshness_checks,
    materialize,
)
from millrace.automation.freshness import FreshnessPolicy, freshness_check_due
from millrace.automation.sensors import evaluate_sensor
from millrace.runtime.runtime import Runtime

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@asset
def orders() -> int:
    return 1


@asset
def daily() -> int:
    return 2


class Instance:
    """An instance that knows the latest materializations (Dagster's method)."""

    def __init__(self, **times: datetime) -> None:
        self.times = times

    def get_latest_materialization_event(self, key: AssetKey) -> Any:
        when = self.times.get(key.to_user_string())
        return None if when is None else SimpleNamespace(timestamp=when.timestamp())


def at(moment: datetime) -> Any:
    return lambda: moment.timestamp()


def test_due_with_materializations_known() -> None:
    window = FreshnessPolicy.time_window(HOUR)
    due = freshness_check_due
    assert due(window, None, T0, None, True)[0]  # never run
    # Ran at T0 when the asset was materialized at T0 - 10 min: it fails at T0 + 50 min.
    m = T0 - timedelta(minutes=10)
    assert not due(window, T0, T0 + timedelta(minutes=49), m, True)[0]
    assert due(window, T0, T0 + timedelta(minutes=50), m, True)[0]
    # Materialized after the run: due at once.
    assert due(window, T0, T0 + timedelta(minutes=1), T0 + timedelta(seconds=30), True)[0]
    # Failed (or never materialized) at the run: cannot change until a materialization.
    stale = T0 - timedelta(hours=3)
    is_due, why = due(window, T0, T0 + timedelta(days=5), stale, True)
    assert not is_due and "until the asset materializes" in why
    assert not due(window, T0, T0 + timedelta(days=5), None, True)[0]
    # A cron deadline: passing after the 12:00 deadline, due when the next one passes.
    cron = FreshnessPolicy.cron("0 12 * * *", HOUR)
    fresh = T0 - timedelta(minutes=30)
    assert not due(cron, T0, T0 + timedelta(hours=23, minutes=59), fresh, True)[0]
    assert due(cron, T0, T0 + timedelta(hours=24), fresh, True)[0]


def test_due_from_the_launch_time_alone() -> None:
    window = FreshnessPolicy.time_window(HOUR)
    assert not freshness_check_due(window, T0, T0 + timedelta(minutes=59))[0]
    assert freshness_check_due(window, T0, T0 + HOUR)[0]
    cron = FreshnessPolicy.cron("0 9 * * *", HOUR, timezone="America/New_York")
    ran = datetime(2024, 3, 9, 15, tzinfo=UTC)  # 10:00 EST
    # The next deadline is 09:00 EDT on the 10th (13:00 UTC): the spring-forward day.
    assert not freshness_check_due(cron, ran, datetime(2024, 3, 10, 12, 59, tzinfo=UTC))[0]
    assert freshness_check_due(cron, ran, datetime(2024, 3, 10, 13, 0, tzinfo=UTC))[0]


def test_the_sensor_requests_due_checks_and_keeps_launch_times_in_its_cursor() -> None:
    (o_check,) = build_last_update_freshness_checks(assets=[orders], lower_bound_delta=HOUR)
    (d_check,) = build_last_update_freshness_checks(
        assets=[daily], lower_bound_delta=HOUR, deadline_cron="0 12 * * *"
    )
    instance = Instance(orders=T0 - timedelta(minutes=10), daily=T0 - timedelta(minutes=30))

    def sensor_at(moment: datetime) -> Any:
        return build_sensor_for_freshness_checks(
            freshness_checks=[o_check, d_check], clock=at(moment), tags={"team": "data"}
        )

    sensor = sensor_at(T0)
    assert sensor.name == "freshness_checks_sensor"
    assert sensor.default_status is DefaultSensorStatus.STOPPED
    context = build_sensor_context(instance=instance)
    request = sensor(context)
    assert isinstance(request, RunRequest)
    assert request.asset_check_keys == (d_check.key, o_check.key)
    assert request.asset_selection == ()
    cursor = context.cursor
    assert json.loads(cursor or "{}") == {
        "daily:freshness_check": T0.timestamp(),
        "orders:freshness_check": T0.timestamp(),
    }

    # Ten minutes on, nothing changed: skipped, the cursor kept.
    context = build_sensor_context(cursor=cursor, instance=instance)
    skip = sensor_at(T0 + timedelta(minutes=10))(context)
    assert isinstance(skip, SkipReason)
    assert "orders:freshness_check: PASS until" in (skip.skip_message or "")
    assert context.cursor == cursor

    # 50 minutes on, orders' window lapsed; daily's deadline is tomorrow.
    context = build_sensor_context(cursor=cursor, instance=instance)
    later = T0 + timedelta(minutes=50)
    result = evaluate_sensor(sensor_at(later), context)
    [request] = result.run_requests
    assert request.asset_check_keys == (o_check.key,)
    assert request.tags["dagster/sensor_name"] == "freshness_checks_sensor"
    assert json.loads(result.cursor or "{}")["orders:freshness_check"] == later.timestamp()
    assert json.loads(result.cursor or "{}")["daily:freshness_check"] == T0.timestamp()


def test_only_freshness_checks() -> None:
    @asset_check(asset=orders)
    def positive() -> bool:
        return True

    with pytest.raises(DefinitionsError, match="not a freshness check"):
        build_sensor_for_freshness_checks(freshness_checks=[positive])


async def test_a_tick_in_a_runtime_runs_the_check_then_skips(home: Path) -> None:
    (check,) = build_last_update_freshness_checks(assets=[orders], lower_bound_delta=HOUR)
    sensor = build_sensor_for_freshness_checks(
        freshness_checks=[check], default_status=DefaultSensorStatus.RUNNING
    )
    materialize([orders])  # the asset's materialization, without its check
    defs = Definitions(assets=[orders], asset_checks=[check], sensors=[sensor])
    clock = ManualClock(datetime.now(UTC))

    async with Runtime(defs, home=home) as runtime:
        auto = await runtime.start_automation(clock=clock)
        first = await auto.tick("freshness_checks_sensor")
        assert first.status == "SUCCESS", first
        [run_id] = first.run_ids
        run = await runtime.wait_for_run(run_id)
        assert run is not None and run.status.value == "SUCCESS"
        [verdict] = await runtime.check_history("orders")
        assert verdict.check_name == "freshness_check" and verdict.passed
        assert verdict.run_id == run_id
        assert "dagster/last_updated_timestamp" in verdict.metadata
        second = await auto.tick("freshness_checks_sensor")
        assert second.status == "SKIPPED" and not second.run_ids
        # The runtime's instance gives the latest materialization: it passes until then.
        assert "orders:freshness_check: PASS until" in (second.skip_reason or "")
        assert len(await runtime.check_history("orders")) == 1
