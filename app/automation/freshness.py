"""Freshness: Dagster's ``FreshnessPolicy`` and ``build_last_update_freshness_checks``.

``freshness_state`` is pure: given a policy, the last materialization and now, it says the
state, why, and when the state would change if nothing materializes (``next_change``), so
the runtime sets one timer instead of polling.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import Enum
from typing import Any
from weakref import WeakKeyDictionary
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..declarations.checks import (
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    asset_check,
)
from ..declarations.keys import AssetKey, coerce_key
from ..declarations.run_request import RunRequest
from ..errors import DefinitionsError
from .sensors import DefaultSensorStatus, SensorDefinition, SkipReason

_MINUTE = timedelta(minutes=1)


class FreshnessState(Enum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    UNKNOWN = "UNKNOWN"
    NOT_APPLICABLE = "NOT_APPLICABLE"


def zone(name: str, where: str) -> tzinfo:
    """The IANA zone ``name``; a clear error naming ``where`` otherwise."""
    if name in ("UTC", "utc"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{where}: timezone {name!r} is not an IANA time zone") from None


class FreshnessPolicy:
    """How recent an asset's last materialization must be. Build one with
    ``FreshnessPolicy.time_window(...)`` or ``FreshnessPolicy.cron(...)``."""

    @staticmethod
    def time_window(
        fail_window: timedelta, warn_window: timedelta | None = None
    ) -> TimeWindowFreshnessPolicy:
        """FAIL when the last materialization is older than ``fail_window``; WARN when older
        than ``warn_window``."""
        return TimeWindowFreshnessPolicy(fail_window, warn_window)

    @staticmethod
    def cron(
        deadline_cron: str, lower_bound_delta: timedelta, timezone: str = "UTC"
    ) -> CronFreshnessPolicy:
        """By each tick of ``deadline_cron``, the asset must have materialized within
        ``lower_bound_delta`` before it (or after); FAIL until it does."""
        return CronFreshnessPolicy(deadline_cron, lower_bound_delta, timezone)


@dataclass(frozen=True)
class TimeWindowFreshnessPolicy(FreshnessPolicy):
    fail_window: timedelta
    warn_window: timedelta | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.fail_window, timedelta):
            raise TypeError("FreshnessPolicy.time_window: fail_window must be a timedelta")
        if self.fail_window < _MINUTE:
            raise ValueError("FreshnessPolicy.time_window: fail_window must be at least 1 minute")
        if self.warn_window is not None:
            if not isinstance(self.warn_window, timedelta):
                raise TypeError("FreshnessPolicy.time_window: warn_window must be a timedelta")
            if self.warn_window < _MINUTE:
                raise ValueError(
                    "FreshnessPolicy.time_window: warn_window must be at least 1 minute"
                )
            if self.warn_window >= self.fail_window:
                raise ValueError(
                    f"FreshnessPolicy.time_window: warn_window ({self.warn_window}) must be "
                    f"less than fail_window ({self.fail_window})"
                )


@dataclass(frozen=True)
class CronFreshnessPolicy(FreshnessPolicy):
    deadline_cron: str
    lower_bound_delta: timedelta
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        where = "FreshnessPolicy.cron"
        tz = zone(self.timezone, where)
        if not isinstance(self.lower_bound_delta, timedelta):
            raise TypeError(f"{where}: lower_bound_delta must be a timedelta")
        if self.lower_bound_delta < _MINUTE:
            raise ValueError(f"{where}: lower_bound_delta must be at least 1 minute")
        smallest = smallest_interval(self.deadline_cron, tz)
        if self.lower_bound_delta > smallest:
            raise ValueError(
                f"{where}: lower_bound_delta ({self.lower_bound_delta}) must be at most the "
                f"smallest interval between ticks of {self.deadline_cron!r} ({smallest})"
            )


def _ticks(cron: str, start: datetime, reverse: bool = False) -> Any:
    from cronsim import CronSim, CronSimError

    try:
        return CronSim(cron, start, reverse=reverse)
    except CronSimError as exc:
        raise ValueError(f"invalid cron schedule {cron!r}: {exc}") from None


def previous_tick(cron: str, tz: tzinfo, now: datetime) -> datetime:
    """The last tick at or before ``now`` (cronsim's reverse walk starts strictly before)."""
    return next(_ticks(cron, now.astimezone(tz) + timedelta(seconds=1), reverse=True))


def next_tick(cron: str, tz: tzinfo, now: datetime) -> datetime:
    """The first tick strictly after ``now``."""
    return next(_ticks(cron, now.astimezone(tz)))


def smallest_interval(cron: str, tz: tzinfo, samples: int = 400) -> timedelta:
    """The shortest gap between consecutive ticks over a sample spanning a year's DST days
    (daily schedules: the 23-hour spring-forward day)."""
    walk = _ticks(cron, datetime(2023, 1, 1, tzinfo=tz))
    previous = next(walk)
    smallest = timedelta.max
    for _ in range(samples):
        tick = next(walk)
        smallest = min(smallest, tick.astimezone(UTC) - previous.astimezone(UTC))
        previous = tick
    return smallest


def freshness_state(
    policy: FreshnessPolicy, last_materialized: datetime | None, now: datetime
) -> tuple[FreshnessState, str, datetime | None]:
    """The state at ``now``, why, and when it changes if nothing materializes (None: never).
    Times are aware; differences are in absolute time, so DST shifts no deadline's bound."""
    if last_materialized is None:
        return FreshnessState.UNKNOWN, "never materialized", None
    if isinstance(policy, TimeWindowFreshnessPolicy):
        return _time_window_state(policy, last_materialized, now)
    if isinstance(policy, CronFreshnessPolicy):
        return _cron_state(policy, last_materialized, now)
    raise TypeError(f"not a FreshnessPolicy: {policy!r}")


def _time_window_state(
    policy: TimeWindowFreshnessPolicy, last: datetime, now: datetime
) -> tuple[FreshnessState, str, datetime | None]:
    age = now - last
    fails_at = last + policy.fail_window
    if age > policy.fail_window:
        return FreshnessState.FAIL, f"last materialized {age} ago, over {policy.fail_window}", None
    warn = policy.warn_window
    if warn is not None and age > warn:
        return FreshnessState.WARN, f"last materialized {age} ago, over {warn}", fails_at
    next_change = last + warn if warn is not None else fails_at
    limit = warn if warn is not None else policy.fail_window
    return FreshnessState.PASS, f"last materialized {age} ago, within {limit}", next_change


def _cron_state(
    policy: CronFreshnessPolicy, last: datetime, now: datetime
) -> tuple[FreshnessState, str, datetime | None]:
    tz = zone(policy.timezone, "FreshnessPolicy.cron")
    deadline = previous_tick(policy.deadline_cron, tz, now)
    bound = deadline.astimezone(UTC) - policy.lower_bound_delta
    if last < bound:
        return (
            FreshnessState.FAIL,
            f"not materialized since {bound.astimezone(tz).isoformat()}, "
            f"{policy.lower_bound_delta} before the deadline {deadline.isoformat()}",
            None,
        )
    # The first later deadline whose window starts after the last materialization fails.
    upcoming = next_tick(policy.deadline_cron, tz, now)
    while upcoming.astimezone(UTC) - policy.lower_bound_delta <= last:
        upcoming = next_tick(policy.deadline_cron, tz, upcoming)
    return (
        FreshnessState.PASS,
        f"materialized at {last.astimezone(tz).isoformat()}, after {bound.astimezone(tz)} "
        f"(deadline {deadline.isoformat()})",
        upcoming,
    )


def build_last_update_freshness_checks(
    *,
    assets: Sequence[Any],
    lower_bound_delta: timedelta,
    deadline_cron: str | None = None,
    timezone: str = "UTC",
    severity: AssetCheckSeverity = AssetCheckSeverity.WARN,
) -> Sequence[AssetChecksDefinition]:
    """One ``freshness_check`` per asset: passes when the asset's latest materialization is
    within ``lower_bound_delta`` of now (or, with ``deadline_cron``, of the latest deadline).
    It reads the materialization from before the check's run
    (``context.previous_materialization``)."""
    if deadline_cron is not None:
        policy: FreshnessPolicy = FreshnessPolicy.cron(deadline_cron, lower_bound_delta, timezone)
    else:
        policy = FreshnessPolicy.time_window(lower_bound_delta)
    return [_freshness_check(key, policy, severity) for key in _asset_keys(assets)]


def _asset_keys(assets: Iterable[Any]) -> list[AssetKey]:
    keys: list[AssetKey] = []
    for a in assets:
        many = getattr(a, "keys", None)
        if many is not None and not callable(many):
            keys.extend(many)
        else:
            keys.append(coerce_key(getattr(a, "key", a)))
    return list(dict.fromkeys(keys))


def _freshness_check(
    key: AssetKey, policy: FreshnessPolicy, severity: AssetCheckSeverity
) -> AssetChecksDefinition:
    def freshness_check(context: Any) -> AssetCheckResult:
        record = context.previous_materialization
        now = datetime.now(UTC)
        last = datetime.fromtimestamp(record.timestamp, UTC) if record is not None else None
        state, reason, next_change = freshness_state(policy, last, now)
        metadata: dict[str, Any] = {"dagster/freshness_state": state.value}
        if last is not None:
            metadata["dagster/last_updated_timestamp"] = last.timestamp()
        if next_change is not None:
            metadata["dagster/next_change_timestamp"] = next_change.timestamp()
        return AssetCheckResult(
            passed=state is FreshnessState.PASS,
            asset_key=key,
            check_name="freshness_check",
            metadata=metadata,
            severity=severity,
            description=reason,
        )

    check = asset_check(
        freshness_check,
        asset=key,
        name="freshness_check",
        description=f"{key.to_user_string()} is fresh: {policy}",
    )
    _POLICIES[check] = policy
    return check


# The policy of each check ``build_last_update_freshness_checks`` made (the sensor reads it).
_POLICIES: WeakKeyDictionary[AssetChecksDefinition, FreshnessPolicy] = WeakKeyDictionary()

FRESHNESS_SENSOR_NAME = "freshness_checks_sensor"  # Dagster's default name


def freshness_check_due(
    policy: FreshnessPolicy,
    last_ran: datetime | None,
    now: datetime,
    last_materialized: datetime | None = None,
    knows_materializations: bool = False,
) -> tuple[bool, str]:
    """Whether a freshness check last launched at ``last_ran`` could give another result at
    ``now``, and why. With ``knows_materializations`` (the sensor reads the asset's latest
    materialization), it is exact: due when never run, when the asset materialized since, or
    when the state it saw then (``freshness_state`` at ``last_ran``) changes by ``now``; a
    FAIL or never-materialized state cannot change until a materialization. Without it, only
    ``last_ran`` is known and the asset materialized at or before it, so the earliest the
    result can flip is bounded: a cron policy's next deadline after ``last_ran`` (exact: the
    state changes only at deadlines), a time window's ``last_ran + fail_window`` (the latest
    instant a materialization seen then goes stale)."""
    if last_ran is None:
        return True, "never evaluated by this sensor"
    if knows_materializations:
        if last_materialized is not None and last_materialized > last_ran:
            return True, f"materialized at {last_materialized.isoformat()}, after the last run"
        state, _, change = freshness_state(policy, last_materialized, last_ran)
        if change is None:
            return False, f"{state.value} until the asset materializes"
        if change <= now:
            return True, f"{state.value} changed at {change.isoformat()}"
        return False, f"{state.value} until {change.isoformat()}"
    if isinstance(policy, CronFreshnessPolicy):
        tz = zone(policy.timezone, "FreshnessPolicy.cron")
        change = next_tick(policy.deadline_cron, tz, last_ran)
    elif isinstance(policy, TimeWindowFreshnessPolicy):
        change = last_ran + policy.fail_window
    else:
        raise TypeError(f"not a FreshnessPolicy: {policy!r}")
    if change <= now:
        return True, f"may have changed by {change.astimezone(UTC).isoformat()}"
    return False, f"cannot change before {change.astimezone(UTC).isoformat()}"


def build_sensor_for_freshness_checks(
    *,
    freshness_checks: Sequence[AssetChecksDefinition],
    minimum_interval_seconds: int | None = None,
    name: str = FRESHNESS_SENSOR_NAME,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    tags: Mapping[str, str] | None = None,
    clock: Callable[[], float] | None = None,
) -> SensorDefinition:
    """A sensor that, each tick, requests one run of the freshness checks whose result could
    have changed since it last launched them (``freshness_check_due``), as Dagster's; a tick
    with none due is skipped.

    The times: the cursor is JSON ``{"<asset>:<check>": <when this sensor last launched it,
    epoch seconds>}``, kept by the runtime across ticks and restarts. The asset's latest
    materialization is read through ``context.instance.get_latest_materialization_event(key)``
    (Dagster's instance method, which the runtime's instance has); a context without an
    instance (``build_sensor_context()``) leaves the sensor to decide from the launch times
    alone (a bounded wait, see ``freshness_check_due``); a run that materializes the asset
    runs its check anyway.
    ``clock`` (epoch seconds; default ``time.time``, the clock the check itself reads) is
    a Millrace extension for tests."""
    policies: dict[AssetCheckKey, FreshnessPolicy] = {}
    for check in freshness_checks:
        policy = _POLICIES.get(check) if isinstance(check, AssetChecksDefinition) else None
        if policy is None:
            raise DefinitionsError(
                f"build_sensor_for_freshness_checks: {check!r} is not a freshness check "
                "(build them with build_last_update_freshness_checks)"
            )
        policies[check.key] = policy
    if not policies:
        raise DefinitionsError("build_sensor_for_freshness_checks: pass some freshness_checks")
    now_of = clock or time.time

    def freshness_checks_sensor(context: Any) -> Any:
        now = datetime.fromtimestamp(now_of(), UTC)
        ran: dict[str, float] = json.loads(context.cursor) if context.cursor else {}
        latest = getattr(context.instance, "get_latest_materialization_event", None)
        due: list[AssetCheckKey] = []
        waits: list[str] = []
        for key, policy in sorted(policies.items()):
            last = ran.get(key.to_user_string())
            materialized = None
            if latest is not None:
                event = latest(key.asset_key)
                if event is not None:
                    materialized = datetime.fromtimestamp(event.timestamp, UTC)
            is_due, why = freshness_check_due(
                policy,
                datetime.fromtimestamp(last, UTC) if last is not None else None,
                now,
                materialized,
                knows_materializations=latest is not None,
            )
            if is_due:
                due.append(key)
                ran[key.to_user_string()] = now.timestamp()
            else:
                waits.append(f"{key.to_user_string()}: {why}")
        if not due:
            return SkipReason("no freshness check can change: " + "; ".join(waits))
        context.update_cursor(json.dumps(ran, sort_keys=True))
        return RunRequest(asset_selection=(), asset_check_keys=tuple(due))

    return SensorDefinition(
        name=name,
        evaluation_fn=freshness_checks_sensor,
        minimum_interval_seconds=minimum_interval_seconds,
        description="Launches the freshness checks whose result could have changed",
        default_status=default_status,
        tags=tags,
    )
