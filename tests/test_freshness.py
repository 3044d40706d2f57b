"""Freshness policies (pure, explicit instants) and last-update freshness checks (real runs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from millrace import (
    AssetCheckSeverity,
    AssetSpec,
    DefinitionsError,
    FreshnessPolicy,
    FreshnessState,
    asset,
    build_last_update_freshness_checks,
    materialize,
)
from millrace.automation.freshness import freshness_state

T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
NY = ZoneInfo("America/New_York")


def test_time_window_passes_then_warns_then_fails() -> None:
    policy = FreshnessPolicy.time_window(
        fail_window=timedelta(hours=2), warn_window=timedelta(hours=1)
    )
    state, reason, change = freshness_state(policy, T0, T0 + timedelta(minutes=30))
    assert (state, change) == (FreshnessState.PASS, T0 + timedelta(hours=1))
    assert "within 1:00:00" in reason
    state, _, change = freshness_state(policy, T0, T0 + timedelta(minutes=90))
    assert (state, change) == (FreshnessState.WARN, T0 + timedelta(hours=2))
    state, _, change = freshness_state(policy, T0, T0 + timedelta(hours=3))
    assert (state, change) == (FreshnessState.FAIL, None)


def test_time_window_without_warn_goes_straight_to_fail() -> None:
    policy = FreshnessPolicy.time_window(fail_window=timedelta(hours=2))
    assert freshness_state(policy, T0, T0)[2] == T0 + timedelta(hours=2)
    assert freshness_state(policy, T0, T0 + timedelta(hours=2, seconds=1))[0] is FreshnessState.FAIL


def test_never_materialized_is_unknown() -> None:
    policy = FreshnessPolicy.time_window(fail_window=timedelta(hours=2))
    assert freshness_state(policy, None, T0) == (FreshnessState.UNKNOWN, "never materialized", None)


def test_validation() -> None:
    with pytest.raises(ValueError, match=r"warn_window .* must be less than fail_window"):
        FreshnessPolicy.time_window(fail_window=timedelta(hours=1), warn_window=timedelta(hours=1))
    with pytest.raises(ValueError, match="at least 1 minute"):
        FreshnessPolicy.time_window(fail_window=timedelta(seconds=30))
    with pytest.raises(ValueError, match="smallest interval"):
        FreshnessPolicy.cron(deadline_cron="0 * * * *", lower_bound_delta=timedelta(hours=2))
    with pytest.raises(ValueError, match="invalid cron"):
        FreshnessPolicy.cron(deadline_cron="61 * * * *", lower_bound_delta=timedelta(hours=1))
    with pytest.raises(ValueError, match="IANA"):
        FreshnessPolicy.cron("0 9 * * *", timedelta(hours=1), timezone="Mars/Olympus")


def test_cron_deadline_across_spring_forward() -> None:
    # Deadline 09:00 New York, 2 hours to materialize; clocks jump forward on 2024-03-10.
    policy = FreshnessPolicy.cron("0 9 * * *", timedelta(hours=2), timezone="America/New_York")
    last = datetime(2024, 3, 9, 8, 0, tzinfo=NY)  # inside the 07:00-09:00 window of the 9th
    state, _, change = freshness_state(policy, last, datetime(2024, 3, 9, 10, 0, tzinfo=NY))
    assert state is FreshnessState.PASS
    assert change == datetime(2024, 3, 10, 9, 0, tzinfo=NY)
    assert change is not None and change.utcoffset() == timedelta(hours=-4)  # EDT already
    # 23 hours later in absolute time, the next deadline has passed unmet.
    after = datetime(2024, 3, 10, 9, 0, 1, tzinfo=NY)
    assert freshness_state(policy, last, after)[:3:2] == (FreshnessState.FAIL, None)
    # A materialization at 07:30 EDT (11:30 UTC) is inside the window: the bound is
    # 09:00 EDT - 2 h = 07:00 EDT, computed in absolute time.
    fresh = datetime(2024, 3, 10, 7, 30, tzinfo=NY)
    state, _, change = freshness_state(policy, fresh, after)
    assert state is FreshnessState.PASS
    assert change == datetime(2024, 3, 11, 9, 0, tzinfo=NY)


def test_cron_deadline_across_fall_back() -> None:
    policy = FreshnessPolicy.cron("0 9 * * *", timedelta(hours=2), timezone="America/New_York")
    fresh = datetime(2024, 11, 3, 7, 0, 1, tzinfo=NY)  # EST: the day was 25 hours long
    state, _, change = freshness_state(policy, fresh, datetime(2024, 11, 3, 9, 0, tzinfo=NY))
    assert state is FreshnessState.PASS
    assert change == datetime(2024, 11, 4, 9, 0, tzinfo=NY)
    late = datetime(2024, 11, 3, 6, 59, tzinfo=NY)
    assert freshness_state(policy, late, datetime(2024, 11, 3, 9, 0, tzinfo=NY))[0] is (
        FreshnessState.FAIL
    )


def test_materialized_inside_the_coming_window_skips_to_the_next_deadline() -> None:
    policy = FreshnessPolicy.cron("0 9 * * *", timedelta(hours=2))
    last = datetime(2024, 6, 2, 8, 0, tzinfo=UTC)
    state, _, change = freshness_state(policy, last, datetime(2024, 6, 2, 8, 30, tzinfo=UTC))
    assert state is FreshnessState.PASS
    assert change == datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def test_freshness_policy_is_stored_and_type_checked() -> None:
    policy = FreshnessPolicy.time_window(fail_window=timedelta(hours=1))

    @asset(freshness_policy=policy)
    def fresh() -> int:
        return 1

    assert fresh.freshness_policy is policy
    assert AssetSpec("ext", freshness_policy=policy).freshness_policy is policy
    with pytest.raises(DefinitionsError, match="asset spec 'ext': freshness_policy"):
        AssetSpec("ext", freshness_policy=timedelta(hours=1))


def test_last_update_freshness_checks_run(home: Path) -> None:
    @asset
    def orders() -> int:
        return 1

    (check,) = build_last_update_freshness_checks(
        assets=[orders], lower_bound_delta=timedelta(hours=1)
    )
    assert check.key.name == "freshness_check"

    first = materialize([orders, check])
    (verdict,) = first.get_asset_check_evaluations()
    assert not verdict.passed and verdict.description == "never materialized"
    assert verdict.severity == AssetCheckSeverity.WARN.value

    # The check reads the materialization from before its run: the first run's.
    second = materialize([orders, check])
    (verdict,) = second.get_asset_check_evaluations()
    assert verdict.passed, verdict.description
    assert "dagster/last_updated_timestamp" in verdict.metadata


def test_last_update_freshness_checks_with_a_deadline_fail_when_stale(home: Path) -> None:
    @asset
    def daily() -> int:
        return 1

    # A deadline every minute, a minute's bound: a materialization from 2 minutes before
    # the latest deadline would be stale; one from just now is fresh.
    (check,) = build_last_update_freshness_checks(
        assets=[daily],
        lower_bound_delta=timedelta(minutes=1),
        deadline_cron="* * * * *",
        severity=AssetCheckSeverity.ERROR,
    )
    materialize([daily])
    result = materialize([daily, check])
    (verdict,) = result.get_asset_check_evaluations()
    assert verdict.passed, verdict.description
