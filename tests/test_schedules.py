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
    Definitions,
    DefinitionsError,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    MultiPartitionsDefinition,
    RunRequest,
    ScheduleDefinition,
    SkipReason,
    StaticPartitionsDefinition,
    asset,
    build_schedule_context,
    build_schedule_from_partitioned_job,
    define_asset_job,
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


UTC = ZoneInfo("UTC")


def test_a_job_resolved_from_its_assets_partitions_schedules_daily() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")

    @asset(partitions_def=days)
    def sales() -> None: ...

    declared = define_asset_job("sales_job", selection=[sales])
    defs = Definitions(assets=[sales], jobs=[declared])
    s = build_schedule_from_partitioned_job(defs.get_job_def("sales_job"), hour_of_day=1)
    assert (s.name, s.job_name) == ("sales_job_schedule", "sales_job")
    assert (s.cron_schedule, s.execution_timezone) == ("0 1 * * *", "America/New_York")
    (request,) = evaluate_schedule(s, datetime(2024, 11, 3, 1, tzinfo=NY)).run_requests
    assert (request.partition_key, request.run_key) == ("2024-11-02", "2024-11-02")


def test_a_job_whose_partitions_are_its_assets_is_scheduled_once_definitions_resolve_it() -> None:
    from millrace import Definitions, asset

    days = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")

    @asset(partitions_def=days)
    def sales() -> int:
        return 1

    declared = define_asset_job("sales_job", selection="sales")  # no partitions_def
    pending = build_schedule_from_partitioned_job(declared, hour_of_day=3)
    # Not in Definitions(jobs=...): a schedule's job is defined with it, as in Dagster.
    defs = Definitions(assets=[sales], schedules=[pending])
    [schedule] = defs.schedules
    assert isinstance(schedule, ScheduleDefinition) and schedule.name == "sales_job_schedule"
    assert (schedule.cron_schedule, schedule.execution_timezone) == (
        "0 3 * * *",
        "America/New_York",
    )
    [request] = evaluate_schedule(schedule, datetime(2024, 3, 10, 3, tzinfo=NY)).run_requests
    assert request.partition_key == "2024-03-09" and schedule.job_name == "sales_job"
    assert defs.get_job_def("sales_job").partitions_def == days
    given = define_asset_job("sales_job", selection="sales", partitions_def=days)
    assert build_schedule_from_partitioned_job(given).cron_schedule == "0 0 * * *"


def test_static_partitions_request_every_key_each_tick_with_a_run_key_per_tick() -> None:
    regions = StaticPartitionsDefinition(["eu", "us"])
    s = build_schedule_from_partitioned_job(
        job("regions", regions), cron_schedule="30 2 * * *", execution_timezone="Europe/Berlin"
    )
    assert (s.cron_schedule, s.execution_timezone) == ("30 2 * * *", "Europe/Berlin")
    ticks = s.schedule.ticks_between(datetime(2024, 3, 30, 12), datetime(2024, 4, 1, 0))
    assert stamps(ticks) == ["2024-03-31T03:00:00+02:00"]  # 02:30 does not exist that day
    first = evaluate_schedule(s, ticks[0]).run_requests
    assert [r.partition_key for r in first] == ["eu", "us"]
    assert [r.run_key for r in first] == [
        "eu@2024-03-31T03:00:00+02:00",
        "us@2024-03-31T03:00:00+02:00",
    ]
    later = evaluate_schedule(s, datetime(2024, 4, 1, 2, 30, tzinfo=BERLIN)).run_requests
    assert {r.run_key for r in later}.isdisjoint(r.run_key for r in first)
    assert all(r.tags["dagster/schedule_name"] == "regions_schedule" for r in later)


def test_static_partitions_need_a_cron_schedule() -> None:
    regions = StaticPartitionsDefinition(["eu", "us"])
    with pytest.raises(DefinitionsError, match="requires a cron schedule"):
        build_schedule_from_partitioned_job(job("regions", regions))
    with pytest.raises(DefinitionsError, match="Cannot provide both cron_schedule"):
        build_schedule_from_partitioned_job(
            job("regions", regions), cron_schedule="0 0 * * *", hour_of_day=2
        )


def test_time_partitions_refuse_a_cron_schedule_or_timezone() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")
    for given in ({"cron_schedule": "0 3 * * *"}, {"execution_timezone": "Europe/Berlin"}):
        with pytest.raises(DefinitionsError, match="time-partitioned job"):
            build_schedule_from_partitioned_job(job("daily", days), **given)


def test_multi_partitions_request_the_closed_hour_with_every_other_key_berlin_fall_back() -> None:
    hours = HourlyPartitionsDefinition(start_date="2024-10-01-00:00", timezone="Europe/Berlin")
    grid = MultiPartitionsDefinition(
        {"hour": hours, "region": StaticPartitionsDefinition(["eu", "us"])}
    )
    s = build_schedule_from_partitioned_job(job("grid", grid), minute_of_hour=5)
    assert (s.cron_schedule, s.execution_timezone) == ("5 * * * *", "Europe/Berlin")
    ticks = s.schedule.ticks_between(datetime(2024, 10, 27, 1, 30), datetime(2024, 10, 27, 3, 10))
    assert stamps(ticks) == [
        "2024-10-27T02:05:00+02:00",
        "2024-10-27T02:05:00+01:00",
        "2024-10-27T03:05:00+01:00",
    ]
    keys = [[r.partition_key for r in evaluate_schedule(s, t).run_requests] for t in ticks]
    assert keys == [
        ["2024-10-27-01:00|eu", "2024-10-27-01:00|us"],
        ["2024-10-27-02:00|eu", "2024-10-27-02:00|us"],
        ["2024-10-27-02:00+0100|eu", "2024-10-27-02:00+0100|us"],
    ]
    (first, _) = evaluate_schedule(s, ticks[0]).run_requests
    assert first.run_key == first.partition_key == "2024-10-27-01:00|eu"
    early = evaluate_schedule(s, datetime(2024, 10, 1, 0, 5, tzinfo=BERLIN))
    assert early.status is TickStatus.SKIPPED


def test_multi_partitions_with_a_dynamic_dimension_read_the_instance() -> None:
    days = DailyPartitionsDefinition(start_date="2024-01-01")
    grid = MultiPartitionsDefinition(
        {"day": days, "shop": DynamicPartitionsDefinition(name="shops")}
    )
    s = build_schedule_from_partitioned_job(job("grid", grid))
    store = SimpleNamespace(
        get_dynamic_partitions=lambda name: ["a", "b"] if name == "shops" else [],
        has_dynamic_partition=lambda name, key: key in ("a", "b"),
    )
    tick = datetime(2024, 2, 1, tzinfo=UTC)
    requests = evaluate_schedule(s, tick, instance=store).run_requests
    assert [r.partition_key for r in requests] == ["2024-01-31|a", "2024-01-31|b"]
    without = evaluate_schedule(s, tick)  # no store: a failed tick that says so
    assert without.status is TickStatus.FAILURE
    assert "dynamic_partitions_store" in (without.error or "")


def test_dynamic_and_doubly_timed_partitions_are_refused() -> None:
    shops = DynamicPartitionsDefinition(name="shops")
    with pytest.raises(DefinitionsError, match="permitted partitions definitions"):
        build_schedule_from_partitioned_job(job("shops", shops), cron_schedule="0 0 * * *")
    days = DailyPartitionsDefinition(start_date="2024-01-01")
    hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    grid = MultiPartitionsDefinition({"day": days, "hour": hours})
    with pytest.raises(DefinitionsError, match="single TimeWindowPartitionsDefinition"):
        build_schedule_from_partitioned_job(job("grid", grid))
    with pytest.raises(DefinitionsError, match="day_of_month and day_of_week"):
        build_schedule_from_partitioned_job(job("daily", days), day_of_week=1, day_of_month=1)
