"""Schedules: cron ticks across DST, @schedule results, direct calls, partitioned schedules."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from millrace import (
    AssetSelection,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    DefinitionsError,
    HourlyPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    SkipReason,
    build_schedule_context,
    build_schedule_from_partitioned_job,
    schedule,
)
from millrace.automation.cron import CronSchedule
from millrace.automation.schedules import evaluate_schedule
from millrace.automation.tick import TickStatus

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def job(name: str, partitions_def: object = None) -> SimpleNamespace:
    return SimpleNamespace(name=name, selection="*", partitions_def=partitions_def, tags={})


def stamps(ticks: list[datetime]) -> list[str]:
    return [tick.isoformat() for tick in ticks]


def test_daily_0230_runs_at_0300_on_spring_forward_new_york() -> None:
    cron = CronSchedule("30 2 * * *", "America/New_York")
    ticks = cron.ticks_between(datetime(2024, 3, 9, 12, tzinfo=NY), datetime(2024, 3, 11, 12))
    assert stamps(ticks) == ["2024-03-10T03:00:00-04:00", "2024-03-11T02:30:00-04:00"]


def test_daily_0130_runs_once_at_the_later_instant_on_fall_back_new_york() -> None:
    cron = CronSchedule("30 1 * * *", "America/New_York")
    ticks = cron.ticks_between(datetime(2024, 11, 2, 12), datetime(2024, 11, 3, 12))
    assert stamps(ticks) == ["2024-11-03T01:30:00-05:00"]


def test_hourly_skips_the_missing_hour_and_repeats_the_doubled_one_berlin() -> None:
    cron = CronSchedule("15 * * * *", "Europe/Berlin")
    spring = cron.ticks_between(datetime(2024, 3, 31, 1, 0), datetime(2024, 3, 31, 3, 30))
    assert stamps(spring) == ["2024-03-31T01:15:00+01:00", "2024-03-31T03:15:00+02:00"]
    autumn = cron.ticks_between(datetime(2024, 10, 27, 1, 30), datetime(2024, 10, 27, 3, 0))
    assert stamps(autumn) == [
        "2024-10-27T02:15:00+02:00",
        "2024-10-27T02:15:00+01:00",
    ]


def test_next_and_previous_tick_and_a_list_of_crons() -> None:
    cron = CronSchedule(["0 9 * * *", "0 17 * * *"], "Europe/Berlin")
    at = datetime(2024, 3, 31, 9, 0, tzinfo=BERLIN)
    assert cron.next_tick_after(at).isoformat() == "2024-03-31T17:00:00+02:00"
    assert cron.previous_tick(at).isoformat() == "2024-03-31T09:00:00+02:00"
    assert cron.previous_tick(at.timestamp() - 1).isoformat() == "2024-03-30T17:00:00+01:00"


def test_invalid_cron_and_timezone_are_definition_errors() -> None:
    with pytest.raises(DefinitionsError, match="cron"):
        ScheduleDefinition(name="s", cron_schedule="61 * * * *", target="*")
    with pytest.raises(DefinitionsError, match="IANA"):
        ScheduleDefinition(
            name="s", cron_schedule="0 * * * *", target="*", execution_timezone="Mars/Olympus"
        )


def test_exactly_one_of_job_and_target() -> None:
    with pytest.raises(DefinitionsError, match="not both"):
        ScheduleDefinition(cron_schedule="0 0 * * *", job=job("j"), target="*")
    with pytest.raises(DefinitionsError, match="job= or target="):
        ScheduleDefinition(name="s", cron_schedule="0 0 * * *")
    by_job = ScheduleDefinition(cron_schedule="0 0 * * *", job=job("nightly"))
    assert by_job.name == "nightly_schedule"
    assert by_job.job_name == "nightly"
    by_keys = ScheduleDefinition(name="s", cron_schedule="0 0 * * *", target=["a", "b/c"])
    assert isinstance(by_keys.target and by_keys.target.selection, AssetSelection)


def test_plain_schedule_requests_its_run_config_and_tags() -> None:
    s = ScheduleDefinition(
        name="s",
        cron_schedule="0 6 * * *",
        target="*",
        run_config={"ops": {}},
        tags={"t": "1"},
        default_status=DefaultScheduleStatus.RUNNING,
    )
    result = evaluate_schedule(s, datetime(2024, 1, 2, 6, tzinfo=ZoneInfo("UTC")))
    assert result.status is TickStatus.SUCCESS
    (request,) = result.run_requests
    assert request.run_config == {"ops": {}}
    assert request.tags == {"t": "1", "dagster/schedule_name": "s"}
    assert s.default_status is DefaultScheduleStatus.RUNNING


def test_schedule_function_returns_yields_skips_and_gets_resources() -> None:
    @schedule("0 * * * *", target="*", execution_timezone="America/New_York")
    def hourly(context, warehouse):  # type: ignore[no-untyped-def]
        hour = context.scheduled_execution_time.hour
        if hour % 2:
            return SkipReason(f"odd hour {hour}")
        yield RunRequest(run_key=f"{warehouse}-{hour}")

    even = evaluate_schedule(hourly, datetime(2024, 1, 2, 4, tzinfo=NY), {"warehouse": "w"})
    assert [r.run_key for r in even.run_requests] == ["w-4"]
    odd = evaluate_schedule(hourly, datetime(2024, 1, 2, 5, tzinfo=NY), {"warehouse": "w"})
    assert odd.status is TickStatus.SKIPPED and odd.run_requests == ()

    @schedule("0 0 * * *", target="*", tags={"from": "dict"})
    def as_config(context):  # type: ignore[no-untyped-def]
        return {"ops": {"a": {"config": {"day": context.scheduled_execution_time.day}}}}

    (request,) = evaluate_schedule(as_config, datetime(2024, 5, 7)).run_requests
    assert request.run_config == {"ops": {"a": {"config": {"day": 7}}}}
    assert request.tags["from"] == "dict"


def test_schedule_called_directly_returns_what_it_returns() -> None:
    @schedule("0 0 * * *", target="*")
    def daily(context):  # type: ignore[no-untyped-def]
        yield RunRequest(run_key=context.scheduled_execution_time.date().isoformat())

    context = build_schedule_context(scheduled_execution_time=datetime(2024, 2, 29))
    assert daily(context) == [RunRequest(run_key="2024-02-29")]


def test_a_raising_schedule_is_a_failed_tick() -> None:
    @schedule("0 0 * * *", target="*")
    def broken(context):  # type: ignore[no-untyped-def]
        raise ValueError("no upstream today")

    result = evaluate_schedule(broken, datetime(2024, 1, 1))
    assert result.status is TickStatus.FAILURE
    assert result.error == "ValueError: no upstream today"
    assert "raise ValueError" in result.traceback and "automation" not in result.traceback


def test_partitioned_daily_schedule_requests_the_day_that_just_closed() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
    s = build_schedule_from_partitioned_job(job("daily", days), hour_of_day=2, minute_of_hour=30)
    assert s.name == "daily_schedule"
    assert s.cron_schedule == "30 2 * * *" and s.execution_timezone == "America/New_York"
    (tick,) = s.schedule.ticks_between(datetime(2024, 3, 9, 12), datetime(2024, 3, 10, 12))
    assert tick.isoformat() == "2024-03-10T03:00:00-04:00"
    (request,) = evaluate_schedule(s, tick).run_requests
    assert (request.partition_key, request.run_key) == ("2024-03-09", "2024-03-09")


def test_partitioned_hourly_schedule_across_fall_back_berlin() -> None:
    hours = HourlyPartitionsDefinition(start_date="2024-10-01-00:00", timezone="Europe/Berlin")
    s = build_schedule_from_partitioned_job(job("hourly", hours))
    assert s.cron_schedule == "0 * * * *"
    ticks = s.schedule.ticks_between(datetime(2024, 10, 27, 1, 30), datetime(2024, 10, 27, 3, 0))
    keys = [evaluate_schedule(s, t).run_requests[0].partition_key for t in ticks]
    assert keys == ["2024-10-27-01:00", "2024-10-27-02:00", "2024-10-27-02:00+0100"]


def test_partitioned_schedule_before_the_first_partition_skips() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")
    s = build_schedule_from_partitioned_job(job("daily", days))
    result = evaluate_schedule(s, datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")))
    assert result.status is TickStatus.SKIPPED and "no partitions" in (result.skip_reason or "")


def test_partitioned_schedule_needs_time_partitions() -> None:
    with pytest.raises(DefinitionsError, match="time-window"):
        build_schedule_from_partitioned_job(job("plain"))
