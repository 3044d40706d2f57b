"""Partition definitions as Dagster defines them: keys, bounds, offsets, DST, indices,
invalid keys with their nearest valid ones, and sets of keys as runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from millrace import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    StaticPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from millrace.errors import DefinitionsError, MillraceError, PartitionKeyError
from millrace.partitions import (
    PartitionKeyRun,
    ScheduleType,
    contiguous_runs,
    index_runs,
    partition_key_runs,
)

NEW_YORK = ZoneInfo("America/New_York")


def hours(window: TimeWindow) -> float:
    return (window.end.timestamp() - window.start.timestamp()) / 3600


class DictStore:
    """The smallest DynamicPartitionsStore: keys per name, in the order added."""

    def __init__(self, **keys: list[str]) -> None:
        self.keys = keys

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        return self.keys.get(partitions_def_name, [])

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        return partition_key in self.keys.get(partitions_def_name, [])


# --- time windows: keys, formats, bounds ---------------------------------------------------


def test_default_formats_and_first_keys() -> None:
    now = datetime(2024, 2, 1)
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    assert hourly.fmt == "%Y-%m-%d-%H:%M"
    assert hourly.get_partition_keys(current_time=datetime(2024, 1, 1, 3))[:3] == [
        "2024-01-01-00:00",
        "2024-01-01-01:00",
        "2024-01-01-02:00",
    ]
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    assert daily.fmt == "%Y-%m-%d"
    assert daily.get_partition_keys(current_time=datetime(2024, 1, 4)) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]
    # Dagster's docstring examples: a week starts on Sunday, a month on the 1st.
    weekly = WeeklyPartitionsDefinition(start_date="2022-03-12")
    assert weekly.get_partition_keys(current_time=datetime(2022, 4, 1))[:2] == [
        "2022-03-13",
        "2022-03-20",
    ]
    monthly = MonthlyPartitionsDefinition(start_date="2022-03-12")
    assert monthly.fmt == "%Y-%m-%d"
    assert monthly.get_partition_keys(current_time=datetime(2022, 7, 1)) == [
        "2022-04-01",
        "2022-05-01",
        "2022-06-01",
    ]
    assert [d.schedule_type for d in (hourly, daily, weekly, monthly)] == list(ScheduleType)
    assert daily.get_num_partitions(current_time=now) == 31
    assert daily.get_first_partition_key(current_time=now) == "2024-01-01"
    assert daily.get_last_partition_key(current_time=now) == "2024-01-31"


def test_a_datetime_start_and_a_custom_format() -> None:
    daily = DailyPartitionsDefinition(start_date=datetime(2021, 5, 5), fmt="%Y/%m/%d")
    assert daily.get_partition_keys(current_time=datetime(2021, 5, 7)) == [
        "2021/05/05",
        "2021/05/06",
    ]
    assert daily.start == datetime(2021, 5, 5, tzinfo=UTC)


def test_the_end_is_excluded_and_overrides_now() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-05")
    later = datetime(2030, 1, 1)
    assert daily.get_partition_keys(current_time=later) == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
    ]
    assert daily.get_partition_keys(current_time=datetime(2024, 1, 3, 12)) == [
        "2024-01-01",
        "2024-01-02",
    ]
    assert daily.end == datetime(2024, 1, 5, tzinfo=UTC)
    # end_offset never reaches past the end
    extended = DailyPartitionsDefinition("2024-01-01", end_date="2024-01-05", end_offset=3)
    assert extended.get_last_partition_key(current_time=datetime(2024, 1, 4, 12)) == "2024-01-04"


@pytest.mark.parametrize(
    ("end_offset", "last"),
    [(0, "2024-01-04"), (1, "2024-01-05"), (2, "2024-01-06"), (-1, "2024-01-03")],
)
def test_end_offset_moves_the_last_partition_relative_to_now(end_offset: int, last: str) -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01", end_offset=end_offset)
    keys = daily.get_partition_keys(current_time=datetime(2024, 1, 5, 12))
    assert keys[0] == "2024-01-01" and keys[-1] == last
    assert daily.get_num_partitions(current_time=datetime(2024, 1, 5, 12)) == len(keys)


def test_a_start_in_the_future_has_no_partitions_until_end_offset_reaches_it() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-10")
    before = datetime(2024, 1, 10, 12)
    assert daily.get_partition_keys(current_time=before) == []
    assert daily.get_first_partition_key(current_time=before) is None
    assert daily.get_last_partition_key(current_time=before) is None
    ahead = DailyPartitionsDefinition(start_date="2024-01-10", end_offset=1)
    assert ahead.get_partition_keys(current_time=datetime(2024, 1, 9, 12)) == []
    assert ahead.get_partition_keys(current_time=before) == ["2024-01-10"]


def test_a_naive_now_is_in_the_definitions_timezone() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
    # 2024-01-03 02:00 UTC is still 2024-01-02 in New York: only the 1st has ended there.
    assert daily.get_partition_keys(current_time=datetime(2024, 1, 3, 2, tzinfo=UTC)) == [
        "2024-01-01"
    ]
    assert daily.get_partition_keys(current_time=datetime(2024, 1, 3, 2)) == [
        "2024-01-01",
        "2024-01-02",
    ]


def test_minute_and_hour_offsets() -> None:
    hourly = HourlyPartitionsDefinition(start_date="2022-03-12-00:00", minute_offset=15)
    assert hourly.get_partition_keys(current_time=datetime(2022, 3, 12, 2, 20)) == [
        "2022-03-12-00:15",
        "2022-03-12-01:15",
    ]
    daily = DailyPartitionsDefinition(start_date="2022-03-12", minute_offset=15, hour_offset=16)
    assert daily.cron_schedule == "15 16 * * *"
    window = daily.time_window_for_partition_key("2022-03-12")
    assert window == TimeWindow(
        datetime(2022, 3, 12, 16, 15, tzinfo=UTC), datetime(2022, 3, 13, 16, 15, tzinfo=UTC)
    )
    # the 13th's window has not ended at 16:00 on the 14th
    assert daily.get_partition_keys(current_time=datetime(2022, 3, 14, 16)) == ["2022-03-12"]


def test_weekly_and_monthly_day_offsets() -> None:
    weekly = WeeklyPartitionsDefinition(
        start_date="2022-03-12", minute_offset=15, hour_offset=3, day_offset=6
    )
    assert weekly.get_partition_keys(current_time=datetime(2022, 3, 27)) == [
        "2022-03-12",
        "2022-03-19",
    ]
    assert weekly.time_window_for_partition_key("2022-03-12").start == datetime(
        2022, 3, 12, 3, 15, tzinfo=UTC
    )
    monday = WeeklyPartitionsDefinition(start_date="2024-01-01", day_offset=1)
    assert monday.get_partition_keys(current_time=datetime(2024, 1, 22)) == [
        "2024-01-01",
        "2024-01-08",
        "2024-01-15",
    ]
    monthly = MonthlyPartitionsDefinition(
        start_date="2022-03-12", minute_offset=15, hour_offset=3, day_offset=5
    )
    assert monthly.get_partition_keys(current_time=datetime(2022, 6, 6)) == [
        "2022-04-05",
        "2022-05-05",
    ]
    # past the 28th, months without the day have no window (cron's way, and Dagster's)
    last_day = MonthlyPartitionsDefinition(start_date="2024-01-01", day_offset=31)
    assert last_day.get_partition_keys(current_time=datetime(2024, 9, 1)) == [
        "2024-01-31",
        "2024-03-31",
        "2024-05-31",
        "2024-07-31",  # to 2024-08-31
    ]


def test_a_generic_cron_schedule() -> None:
    every_4h = TimeWindowPartitionsDefinition(
        start="2021-05-05_00", cron_schedule="0 */4 * * *", fmt="%Y-%m-%d_%H"
    )
    assert every_4h.get_partition_keys(current_time=datetime(2021, 5, 5, 13)) == [
        "2021-05-05_00",
        "2021-05-05_04",
        "2021-05-05_08",
    ]
    weekdays = TimeWindowPartitionsDefinition(
        start=datetime(2024, 1, 5), cron_schedule="30 9 * * 1-5", fmt="%Y-%m-%d %H:%M"
    )
    assert weekdays.get_partition_keys(current_time=datetime(2024, 1, 11)) == [
        "2024-01-05 09:30",
        "2024-01-08 09:30",
        "2024-01-09 09:30",
    ]
    # the window of a Friday runs to Monday
    assert hours(weekdays.time_window_for_partition_key("2024-01-05 09:30")) == 72
    assert weekdays.has_partition_key("2024-01-09 09:30", current_time=datetime(2024, 1, 11))
    assert not weekdays.has_partition_key("2024-01-06 09:30", current_time=datetime(2024, 1, 11))
    assert weekdays.partition_index("2024-01-09 09:30", current_time=datetime(2024, 1, 11)) == 2
    assert weekdays.schedule_type is None


def test_definition_errors() -> None:
    with pytest.raises(DefinitionsError, match="invalid cron_schedule '0 0 31 2 \\*'"):
        TimeWindowPartitionsDefinition(
            start="2024-01-01", fmt="%Y-%m-%d", cron_schedule="0 0 31 2 *"
        )
    with pytest.raises(DefinitionsError, match="not both"):
        TimeWindowPartitionsDefinition(
            start="2024-01-01",
            fmt="%Y-%m-%d",
            cron_schedule="0 0 * * *",
            schedule_type=ScheduleType.DAILY,
        )
    with pytest.raises(DefinitionsError, match="does not match fmt '%Y-%m-%d-%H:%M'"):
        HourlyPartitionsDefinition(start_date="2024-01-01")
    with pytest.raises(DefinitionsError, match="did you mean 'America/New_York'"):
        DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_Yrok")
    with pytest.raises(DefinitionsError, match="the same key"):
        HourlyPartitionsDefinition(start_date="2024-01-01", fmt="%Y-%m-%d")


def test_equal_definitions() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    same = TimeWindowPartitionsDefinition(
        start="2024-01-01", fmt="%Y-%m-%d", cron_schedule="0 0 * * *"
    )
    assert daily == same and hash(daily) == hash(same)
    assert daily != DailyPartitionsDefinition(start_date="2024-01-02")
    assert repr(daily) == "DailyPartitionsDefinition(start 2024-01-01)"
    assert repr(same) == "TimeWindowPartitionsDefinition(cron '0 0 * * *', start 2024-01-01)"


# --- time windows across daylight saving time -------------------------------------------


def test_hourly_keys_skip_the_spring_hour_and_repeat_the_fall_hour() -> None:
    hourly = HourlyPartitionsDefinition(start_date="2024-03-10-00:00", timezone="America/New_York")
    spring = hourly.get_partition_keys(current_time=datetime(2024, 3, 10, 5))
    assert spring == [
        "2024-03-10-00:00",
        "2024-03-10-01:00",
        "2024-03-10-03:00",  # 02:00 does not exist that day
        "2024-03-10-04:00",
    ]
    assert not hourly.has_partition_key("2024-03-10-02:00", current_time=datetime(2024, 3, 11))
    fall_def = HourlyPartitionsDefinition(
        start_date="2024-11-03-00:00", timezone="America/New_York"
    )
    fall = fall_def.get_partition_keys(current_time=datetime(2024, 11, 3, 3))
    assert fall == [
        "2024-11-03-00:00",
        "2024-11-03-01:00",  # EDT
        "2024-11-03-01:00-0500",  # the same wall time again, EST: Dagster appends the offset
        "2024-11-03-02:00",
    ]
    first, second = (fall_def.time_window_for_partition_key(k) for k in fall[1:3])
    assert first.end == second.start and hours(first) == hours(second) == 1
    assert second.start.utcoffset() == timedelta(hours=-5)
    assert (
        fall_def.partition_index("2024-11-03-01:00-0500", current_time=datetime(2024, 11, 4)) == 2
    )
    day = [k for k in fall_def.get_partition_keys(current_time=datetime(2024, 11, 4))]
    assert len(day) == 25


def test_daily_windows_are_23_and_25_hours_on_change_days() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-03-09", timezone="America/New_York")
    assert [
        hours(daily.time_window_for_partition_key(k)) for k in ("2024-03-09", "2024-03-10")
    ] == [
        24,
        23,
    ]
    assert hours(daily.time_window_for_partition_key("2024-11-03")) == 25
    berlin = DailyPartitionsDefinition(start_date="2024-03-30", timezone="Europe/Berlin")
    assert hours(berlin.time_window_for_partition_key("2024-03-31")) == 23
    assert hours(berlin.time_window_for_partition_key("2024-10-27")) == 25


def test_a_daily_start_in_a_skipped_or_repeated_hour_resolves_as_dagster_does() -> None:
    at_two = DailyPartitionsDefinition(
        start_date="2024-03-09", hour_offset=2, timezone="America/New_York"
    )
    spring = at_two.time_window_for_partition_key("2024-03-10")
    assert spring.start == datetime(2024, 3, 10, 3, tzinfo=NEW_YORK)  # 02:00 is skipped: 03:00
    assert hours(spring) == 23
    at_one = DailyPartitionsDefinition(
        start_date="2024-11-01", hour_offset=1, timezone="America/New_York"
    )
    fall = at_one.time_window_for_partition_key("2024-11-03")
    assert fall.start.utcoffset() == timedelta(hours=-5)  # 01:00 happens twice: the later one
    assert hours(fall) == 24 and hours(at_one.time_window_for_partition_key("2024-11-02")) == 25


def test_a_generic_hourly_cron_across_dst() -> None:
    half_hours = TimeWindowPartitionsDefinition(
        start="2024-11-03 00:00",
        fmt="%Y-%m-%d %H:%M",
        cron_schedule="*/30 * * * *",
        timezone="America/New_York",
    )
    assert half_hours.get_partition_keys(current_time=datetime(2024, 11, 3, 7, 1, tzinfo=UTC)) == [
        "2024-11-03 00:00",
        "2024-11-03 00:30",
        "2024-11-03 01:00",
        "2024-11-03 01:30",
        "2024-11-03 01:00-0500",
        "2024-11-03 01:30-0500",
    ]


# --- indices, ranges, timestamps --------------------------------------------------------


def test_index_and_key_at_are_inverse_without_a_list() -> None:
    now = datetime(2025, 1, 1)
    hourly = HourlyPartitionsDefinition(start_date="2015-01-01-00:00", timezone="America/New_York")
    assert hourly.partition_index("2015-01-01-00:00", current_time=now) == 0
    assert hourly.partition_index("2015-01-02-00:00", current_time=now) == 24
    assert hourly.key_at(24, current_time=now) == "2015-01-02-00:00"
    keys = hourly.get_partition_keys(current_time=now)
    assert len(keys) == hourly.get_num_partitions(current_time=now) == 87672
    assert keys[-1] == "2024-12-31-23:00"
    assert hourly.partition_indices(keys[::1000], current_time=now) == list(range(0, 87672, 1000))
    assert [hourly.key_at(i, current_time=now) for i in (0, 87671)] == [keys[0], keys[-1]]
    with pytest.raises(IndexError):
        hourly.key_at(87672, current_time=now)
    with pytest.raises(PartitionKeyError):
        hourly.partition_index("2025-01-01-00:00", current_time=now)


def test_keys_in_a_range() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    assert daily.get_partition_keys_in_range(
        PartitionKeyRange("2024-01-30", "2024-02-02"), current_time=datetime(2024, 3, 1)
    ) == ["2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"]
    static = StaticPartitionsDefinition(["a", "b", "c", "d"])
    assert static.get_partition_keys_in_range(PartitionKeyRange("b", "c")) == ["b", "c"]
    with pytest.raises(PartitionKeyError, match='"e" is not a partition'):
        static.get_partition_keys_in_range(PartitionKeyRange("b", "e"))


def test_the_key_of_an_instant() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
    midnight = datetime(2024, 1, 5, tzinfo=NEW_YORK).timestamp()
    assert daily.get_partition_key_for_timestamp(midnight) == "2024-01-05"
    assert daily.get_partition_key_for_timestamp(midnight, end_closed=True) == "2024-01-04"
    assert daily.get_partition_key_for_timestamp(midnight + 3600) == "2024-01-05"


# --- static, multi, dynamic ---------------------------------------------------------------


def test_static_partitions() -> None:
    regions = StaticPartitionsDefinition(["north", "south", "east"])
    assert regions.get_partition_keys() == ["north", "south", "east"]
    assert regions.has_partition_key("east") and not regions.has_partition_key("west")
    assert regions.partition_index("south") == 1 and regions.key_at(2) == "east"
    assert regions.get_num_partitions() == 3
    assert regions == StaticPartitionsDefinition(["north", "south", "east"])
    with pytest.raises(DefinitionsError, match=r"unique; repeated: \['a'\]"):
        StaticPartitionsDefinition(["a", "b", "a"])
    with pytest.raises(DefinitionsError, match="contains"):
        StaticPartitionsDefinition(["a...b"])


def test_multi_partitions_order_dimensions_by_name() -> None:
    regions = StaticPartitionsDefinition(["eu", "us"])
    multi = MultiPartitionsDefinition(
        {"region": regions, "date": DailyPartitionsDefinition(start_date="2024-01-01")}
    )
    assert multi.partition_dimension_names == ["date", "region"]
    now = datetime(2024, 1, 3)
    keys = multi.get_partition_keys(current_time=now)
    assert keys == ["2024-01-01|eu", "2024-01-01|us", "2024-01-02|eu", "2024-01-02|us"]
    key = keys[1]
    assert isinstance(key, MultiPartitionKey)
    assert key.keys_by_dimension == {"date": "2024-01-01", "region": "us"}
    assert [(d.dimension_name, d.partition_key) for d in key.dimension_keys] == [
        ("date", "2024-01-01"),
        ("region", "us"),
    ]
    assert MultiPartitionKey({"region": "us", "date": "2024-01-01"}) == "2024-01-01|us"
    assert multi.get_num_partitions(current_time=now) == 4
    assert multi.partition_index("2024-01-02|eu", current_time=now) == 2
    assert multi.key_at(3, current_time=now) == "2024-01-02|us"
    assert multi.has_partition_key("2024-01-02|us", current_time=now)
    assert not multi.has_partition_key("2024-01-03|us", current_time=now)
    assert not multi.has_partition_key("us|2024-01-02", current_time=now)
    assert multi.get_last_partition_key(current_time=now) == "2024-01-02|us"
    assert multi.time_window_for_partition_key("2024-01-02|us").start == datetime(
        2024, 1, 2, tzinfo=UTC
    )
    assert multi.get_partition_keys_in_range(
        PartitionKeyRange("2024-01-01|eu", "2024-01-02|eu"), current_time=now
    ) == ["2024-01-01|eu", "2024-01-02|eu"]
    with pytest.raises(DefinitionsError, match="exactly 2 dimensions"):
        MultiPartitionsDefinition({"a": regions})
    with pytest.raises(DefinitionsError, match="cannot contain"):
        MultiPartitionsDefinition({"a": regions, "b": StaticPartitionsDefinition(["x|y"])})


def test_dynamic_partitions_come_from_the_store() -> None:
    fruits = DynamicPartitionsDefinition(name="fruits")
    store = DictStore(fruits=["apple", "banana"])
    assert fruits.name == "fruits"
    assert fruits.get_partition_keys(dynamic_partitions_store=store) == ["apple", "banana"]
    assert fruits.has_partition_key("banana", dynamic_partitions_store=store)
    assert fruits.partition_index("banana", dynamic_partitions_store=store) == 1
    with pytest.raises(MillraceError, match="pass dynamic_partitions_store="):
        fruits.get_partition_keys()
    with pytest.raises(PartitionKeyError, match="nearest valid keys: banana"):
        fruits.validate_partition_key("bananna", dynamic_partitions_store=store)
    multi = MultiPartitionsDefinition({"fruit": fruits, "size": StaticPartitionsDefinition(["s"])})
    assert multi.get_partition_keys(dynamic_partitions_store=store) == ["apple|s", "banana|s"]


# --- invalid keys: why, and the nearest valid ones ---------------------------------------


def test_an_invalid_time_key_names_its_neighbours_by_time() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    now = datetime(2025, 6, 1)

    def message(key: str, definition: TimeWindowPartitionsDefinition = daily) -> str:
        with pytest.raises(PartitionKeyError) as raised:
            definition.validate_partition_key(key, current_time=now)
        return str(raised.value)

    assert message("2024-13-01") == (
        '"2024-13-01" is not a partition of DailyPartitionsDefinition(start 2024-01-01): '
        "nearest valid keys: 2024-12-31, 2025-01-01"
    )
    assert message("2023-12-31").endswith("it is before the first partition, 2024-01-01")
    assert message("2025-06-01").endswith("it is after the last partition, 2025-05-31")
    assert message("yesterday").endswith(
        "keys look like 2024-01-01 (fmt '%Y-%m-%d'); they run from 2024-01-01 to 2025-05-31"
    )
    weekly = WeeklyPartitionsDefinition(start_date="2024-01-07")
    assert message("2024-01-10", weekly).endswith("nearest valid keys: 2024-01-07, 2024-01-14")


def test_an_invalid_static_or_multi_key_names_the_closest_spellings() -> None:
    regions = StaticPartitionsDefinition(["north", "south", "east"])
    with pytest.raises(PartitionKeyError) as raised:
        regions.validate_partition_key("Nroth")
    assert str(raised.value) == (
        "\"Nroth\" is not a partition of StaticPartitionsDefinition(['north', 'south', 'east']): "
        "nearest valid keys: north"
    )
    assert regions.invalid_key_message("zzz").endswith("its keys are north, south, east")
    multi = MultiPartitionsDefinition(
        {"region": regions, "size": StaticPartitionsDefinition(["s"])}
    )
    assert multi.invalid_key_message("sooth|s").endswith(
        "its region key \"sooth\" is not one of StaticPartitionsDefinition(['north', 'south', "
        "'east']): nearest valid keys: south"
    )
    assert multi.invalid_key_message("north").endswith(
        "its keys join a region key and a size key with '|', in that order, like north|s"
    )


# --- sets of keys as runs -------------------------------------------------------------------


def test_keys_compact_to_runs_in_definition_order() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    now = datetime(2024, 4, 1)
    keys = daily.get_partition_keys(current_time=now)
    chosen = [*keys[59:], *keys[:31], "2024-02-15"]  # out of order, March first
    assert partition_key_runs(daily, chosen, current_time=now) == [
        PartitionKeyRun("2024-01-01", "2024-01-31", 31),
        PartitionKeyRun("2024-02-15", "2024-02-15", 1),
        PartitionKeyRun("2024-02-29", "2024-03-31", 32),
    ]
    assert contiguous_runs(
        daily, ["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-05"], current_time=now
    ) == [
        ["2024-01-01", "2024-01-02", "2024-01-03"],
        ["2024-01-05"],
    ]
    assert index_runs([7, 1, 2, 3, 3]) == [(1, 3), (7, 7)]
    statics = StaticPartitionsDefinition(["a", "b", "c", "d"])
    assert partition_key_runs(statics, {"d", "a", "b"}) == [
        PartitionKeyRun("a", "b", 2),
        PartitionKeyRun("d", "d", 1),
    ]
    with pytest.raises(PartitionKeyError):
        partition_key_runs(statics, ["a", "x"])


def test_ten_years_of_hours_compact_to_one_run() -> None:
    now = datetime(2025, 1, 1)
    hourly = HourlyPartitionsDefinition(start_date="2015-01-01-00:00", timezone="Europe/Berlin")
    keys = hourly.get_partition_keys(current_time=now)
    missing = keys[1000]
    runs = partition_key_runs(hourly, [k for k in keys if k != missing], current_time=now)
    assert runs == [
        PartitionKeyRun(keys[0], keys[999], 1000),
        PartitionKeyRun(keys[1001], keys[-1], len(keys) - 1001),
    ]
