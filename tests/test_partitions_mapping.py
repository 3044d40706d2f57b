"""Partition mappings: which upstream partitions a downstream partition reads (and which it
needs that do not exist), which downstream partitions read an upstream one, Dagster's
default mapping, and mappings that cannot map two definitions."""

from __future__ import annotations

from datetime import datetime

import pytest
from millrace import (
    AllPartitionMapping,
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    SpecificPartitionsPartitionMapping,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from millrace.errors import DefinitionsError
from millrace.partitions import UpstreamKeys, default_partition_mapping

NOW = datetime(2024, 12, 1)
DAYS = DailyPartitionsDefinition(start_date="2024-01-01")
REGIONS = StaticPartitionsDefinition(["eu", "us"])
DAYS_BY_REGION = MultiPartitionsDefinition({"region": REGIONS, "date": DAYS})


def days(first: str, last: str) -> tuple[str, ...]:
    start, end = DAYS.partition_index(first, NOW), DAYS.partition_index(last, NOW)
    return tuple(DAYS.key_at(i, NOW) for i in range(start, end + 1))


def test_identity() -> None:
    mapping = IdentityPartitionMapping()
    assert mapping.upstream_keys(["eu"], REGIONS, REGIONS) == UpstreamKeys(("eu",))
    more = StaticPartitionsDefinition(["eu", "us", "asia"])
    assert mapping.upstream_keys(["asia", "eu"], more, REGIONS) == UpstreamKeys(("eu",), ("asia",))
    assert mapping.downstream_keys(["eu", "asia"], more, REGIONS) == ["eu"]
    mapping.validate_partition_mapping(more, REGIONS)  # the downstream's keys all exist upstream
    with pytest.raises(DefinitionsError) as raised:
        mapping.validate_partition_mapping(REGIONS, more)
    assert str(raised.value) == (
        "IdentityPartitionMapping cannot map the partitions of "
        "StaticPartitionsDefinition(['eu', 'us', 'asia']) to those of its upstream "
        "StaticPartitionsDefinition(['eu', 'us']): the upstream has no partitions asia"
    )
    with pytest.raises(DefinitionsError, match="partitioned the same way"):
        mapping.validate_partition_mapping(REGIONS, DAYS)


def test_a_partitioned_upstream_into_an_unpartitioned_downstream_reads_all() -> None:
    mapping = default_partition_mapping(DAYS, None)
    assert mapping == AllPartitionMapping()
    read = mapping.upstream_keys((), None, DAYS, current_time=datetime(2024, 1, 4))
    assert read == UpstreamKeys(("2024-01-01", "2024-01-02", "2024-01-03"))
    with pytest.raises(ValueError, match=r"upstream_keys\(\(\), None, upstream_def\)"):
        mapping.downstream_keys(["2024-01-01"], DAYS, None)


def test_an_unpartitioned_upstream_is_read_whole_by_every_partition() -> None:
    mapping = default_partition_mapping(None, DAYS)
    assert mapping == AllPartitionMapping()
    assert mapping.upstream_keys(["2024-01-02"], DAYS, None) == UpstreamKeys(())
    assert mapping.downstream_keys((), None, DAYS, current_time=datetime(2024, 1, 3)) == [
        "2024-01-01",
        "2024-01-02",
    ]


def test_last_and_specific_partitions() -> None:
    now = datetime(2024, 1, 4)
    last = LastPartitionMapping()
    assert last.upstream_keys((), None, DAYS, current_time=now) == UpstreamKeys(("2024-01-03",))
    assert last.downstream_keys(["2024-01-03"], DAYS, REGIONS, current_time=now) == ["eu", "us"]
    assert last.downstream_keys(["2024-01-02"], DAYS, REGIONS, current_time=now) == []
    specific = SpecificPartitionsPartitionMapping(["2024-01-02", "2024-01-01", "2025-01-01"])
    assert specific.upstream_keys(["eu"], REGIONS, DAYS, current_time=now) == UpstreamKeys(
        ("2024-01-01", "2024-01-02"), ("2025-01-01",)
    )
    assert specific.downstream_keys(["2024-01-02"], DAYS, REGIONS, current_time=now) == [
        "eu",
        "us",
    ]
    assert specific.downstream_keys(["2024-01-03"], DAYS, REGIONS, current_time=now) == []


def test_a_7_day_rolling_window_at_the_start() -> None:
    strict = TimeWindowPartitionMapping(start_offset=-6)
    assert strict.upstream_keys(["2024-01-03"], DAYS, DAYS, current_time=NOW) == UpstreamKeys(
        ("2024-01-01", "2024-01-02", "2024-01-03"),
        ("2023-12-28", "2023-12-29", "2023-12-30", "2023-12-31"),
    )
    lenient = TimeWindowPartitionMapping(
        start_offset=-6, allow_nonexistent_upstream_partitions=True
    )
    assert lenient.upstream_keys(["2024-01-03"], DAYS, DAYS, current_time=NOW) == UpstreamKeys(
        ("2024-01-01", "2024-01-02", "2024-01-03")
    )
    assert strict.upstream_keys(["2024-01-10"], DAYS, DAYS, current_time=NOW) == UpstreamKeys(
        days("2024-01-04", "2024-01-10")
    )
    # which partitions read 2024-01-02: the seven days from it (those that exist by now)
    assert strict.downstream_keys(["2024-01-02"], DAYS, DAYS, current_time=NOW) == list(
        days("2024-01-02", "2024-01-08")
    )
    assert strict.downstream_keys(
        ["2024-01-02"], DAYS, DAYS, current_time=datetime(2024, 1, 5)
    ) == ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_a_lag_of_one_day_in_both_directions() -> None:
    lag = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
    assert lag.upstream_keys(["2024-01-07"], DAYS, DAYS, current_time=NOW).keys == ("2024-01-06",)
    assert lag.upstream_keys(
        ["2024-01-07", "2024-01-08", "2024-01-09"], DAYS, DAYS, current_time=NOW
    ).keys == (
        "2024-01-06",
        "2024-01-07",
        "2024-01-08",
    )
    assert lag.downstream_keys(["2024-01-06"], DAYS, DAYS, current_time=NOW) == ["2024-01-07"]
    assert lag.upstream_keys(["2024-01-01"], DAYS, DAYS, current_time=NOW) == UpstreamKeys(
        (), ("2023-12-31",)
    )


def test_hours_into_days_across_dst() -> None:
    hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone="America/New_York")
    local_days = DailyPartitionsDefinition(start_date="2024-01-01", timezone="America/New_York")
    mapping = default_partition_mapping(hours, local_days)
    assert mapping == TimeWindowPartitionMapping()
    ordinary = mapping.upstream_keys(["2024-01-02"], local_days, hours, current_time=NOW)
    assert ordinary.keys == tuple(f"2024-01-02-{h:02d}:00" for h in range(24))
    spring = mapping.upstream_keys(["2024-03-10"], local_days, hours, current_time=NOW).keys
    assert len(spring) == 23 and "2024-03-10-02:00" not in spring
    assert spring[:3] == ("2024-03-10-00:00", "2024-03-10-01:00", "2024-03-10-03:00")
    fall = mapping.upstream_keys(["2024-11-03"], local_days, hours, current_time=NOW)
    assert len(fall.keys) == 25 and fall.missing == ()
    assert fall.keys[1:4] == ("2024-11-03-01:00", "2024-11-03-01:00-0500", "2024-11-03-02:00")
    assert mapping.downstream_keys(
        ["2024-11-03-01:00-0500"], hours, local_days, current_time=NOW
    ) == ["2024-11-03"]
    two_days = mapping.upstream_keys(
        ["2024-03-10", "2024-03-11"], local_days, hours, current_time=NOW
    )
    assert len(two_days.keys) == 47


def test_days_into_hours_need_a_day_that_has_ended() -> None:
    hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    mapping = TimeWindowPartitionMapping()
    assert mapping.upstream_keys(
        ["2024-01-02-05:00"], hours, DAYS, current_time=datetime(2024, 1, 3, 1)
    ) == UpstreamKeys(("2024-01-02",))
    # at 06:00 on the 2nd the day is not over: its partition does not exist yet
    assert mapping.upstream_keys(
        ["2024-01-02-05:00"], hours, DAYS, current_time=datetime(2024, 1, 2, 6)
    ) == UpstreamKeys((), ("2024-01-02",))
    after = datetime(2024, 1, 2, 3)
    assert mapping.downstream_keys(["2024-01-01"], DAYS, hours, current_time=after) == [
        f"2024-01-01-{h:02d}:00" for h in range(24)
    ]
    three = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-01-03:00")
    assert mapping.downstream_keys(["2024-01-01"], DAYS, three, current_time=after) == [
        "2024-01-01-00:00",
        "2024-01-01-01:00",
        "2024-01-01-02:00",
    ]


def test_windows_that_do_not_align_and_starts_that_differ() -> None:
    at_11 = TimeWindowPartitionsDefinition(
        start="2021-01-01", fmt="%Y-%m-%d", cron_schedule="0 11 * * *"
    )
    midnights = DailyPartitionsDefinition(start_date="2021-01-01")
    mapping = TimeWindowPartitionMapping()
    now = datetime(2021, 6, 1)
    assert mapping.upstream_keys(
        ["2021-05-02", "2021-05-03", "2021-05-04"], midnights, at_11, current_time=now
    ).keys == (
        "2021-05-01",
        "2021-05-02",
        "2021-05-03",
        "2021-05-04",
    )
    later = DailyPartitionsDefinition(start_date="2023-06-01")
    earlier = DailyPartitionsDefinition(start_date="2023-05-01")
    assert mapping.upstream_keys(
        ["2023-05-10", "2023-05-30", "2023-06-01"],
        earlier,
        later,
        current_time=datetime(2023, 6, 5),
    ) == UpstreamKeys(("2023-06-01",), ("2023-05-10", "2023-05-30"))
    weeks = WeeklyPartitionsDefinition(start_date="2024-01-07")
    assert mapping.upstream_keys(["2024-01-07"], weeks, DAYS, current_time=NOW).keys == days(
        "2024-01-07", "2024-01-13"
    )
    assert mapping.downstream_keys(["2024-01-09"], DAYS, weeks, current_time=NOW) == ["2024-01-07"]


def test_time_windows_must_share_a_timezone() -> None:
    mapping = TimeWindowPartitionMapping()
    berlin = DailyPartitionsDefinition(start_date="2024-01-01", timezone="Europe/Berlin")
    with pytest.raises(DefinitionsError, match="timezones UTC and Europe/Berlin differ"):
        mapping.validate_partition_mapping(DAYS, berlin)
    with pytest.raises(DefinitionsError, match="both must be time-window partitioned"):
        mapping.upstream_keys(["eu"], REGIONS, DAYS)


def test_static_mapping() -> None:
    sizes = StaticPartitionsDefinition(["small", "large"])
    letters = StaticPartitionsDefinition(["a", "b", "c"])
    mapping = StaticPartitionMapping({"a": "small", "b": ["small", "large"], "c": "large"})
    assert mapping.upstream_keys(["small"], sizes, letters) == UpstreamKeys(("a", "b"))
    assert mapping.upstream_keys(["large", "small"], sizes, letters) == UpstreamKeys(
        ("a", "b", "c")
    )
    assert mapping.downstream_keys(["b"], letters, sizes) == ["small", "large"]
    mapping.validate_partition_mapping(letters, sizes)
    with pytest.raises(DefinitionsError, match=r"the downstream has no partitions \['large'\]"):
        mapping.validate_partition_mapping(letters, StaticPartitionsDefinition(["small"]))
    with pytest.raises(DefinitionsError, match="both must be StaticPartitionsDefinitions"):
        mapping.validate_partition_mapping(letters, DAYS)


def test_multi_to_single_dimension() -> None:
    now = datetime(2024, 1, 4)
    inferred = default_partition_mapping(DAYS_BY_REGION, DAYS)
    assert inferred == MultiToSingleDimensionPartitionMapping()
    assert inferred.upstream_keys(["2024-01-02"], DAYS, DAYS_BY_REGION, current_time=now) == (
        UpstreamKeys(("2024-01-02|eu", "2024-01-02|us"))
    )
    assert inferred.downstream_keys(["2024-01-02|us"], DAYS_BY_REGION, DAYS, current_time=now) == [
        "2024-01-02"
    ]
    # the other way round: a single-dimensional upstream of a multi-partitioned asset
    back = default_partition_mapping(DAYS, DAYS_BY_REGION)
    assert back.upstream_keys(["2024-01-03|eu"], DAYS_BY_REGION, DAYS, current_time=now) == (
        UpstreamKeys(("2024-01-03",))
    )
    assert back.downstream_keys(["2024-01-01"], DAYS, DAYS_BY_REGION, current_time=now) == [
        "2024-01-01|eu",
        "2024-01-01|us",
    ]
    by_region = MultiToSingleDimensionPartitionMapping(partition_dimension_name="region")
    assert by_region.upstream_keys(
        ["us"], REGIONS, DAYS_BY_REGION, current_time=now
    ) == UpstreamKeys(("2024-01-01|us", "2024-01-02|us", "2024-01-03|us"))
    # a time window like the multi's time dimension: hours read through their day
    hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    assert (
        default_partition_mapping(hours, DAYS_BY_REGION) == MultiToSingleDimensionPartitionMapping()
    )
    read = back.upstream_keys(["2024-01-02|eu"], DAYS_BY_REGION, hours, current_time=now)
    assert read.keys == tuple(f"2024-01-02-{h:02d}:00" for h in range(24))
    with pytest.raises(DefinitionsError, match="must be a dimension of"):
        MultiToSingleDimensionPartitionMapping().validate_partition_mapping(
            StaticPartitionsDefinition(["x"]), DAYS_BY_REGION
        )


def test_multi_to_multi_mapping() -> None:
    now = datetime(2023, 1, 20)
    weekly_abc = MultiPartitionsDefinition(
        {
            "abc": StaticPartitionsDefinition(["a", "b", "c"]),
            "weekly": WeeklyPartitionsDefinition("2023-01-01"),
        }
    )
    daily_123 = MultiPartitionsDefinition(
        {
            "123": StaticPartitionsDefinition(["1", "2", "3"]),
            "daily": DailyPartitionsDefinition("2023-01-01"),
        }
    )
    mapping = MultiPartitionMapping(
        {
            "abc": DimensionPartitionMapping(
                dimension_name="123",
                partition_mapping=StaticPartitionMapping({"a": "1", "b": "2", "c": "3"}),
            ),
            "weekly": DimensionPartitionMapping(
                dimension_name="daily", partition_mapping=TimeWindowPartitionMapping()
            ),
        }
    )
    mapping.validate_partition_mapping(weekly_abc, daily_123)
    assert mapping.upstream_keys(["2|2023-01-03"], daily_123, weekly_abc, current_time=now) == (
        UpstreamKeys(("b|2023-01-01",))
    )
    assert mapping.downstream_keys(["c|2023-01-08"], weekly_abc, daily_123, current_time=now) == [
        f"3|2023-01-{d:02d}" for d in range(8, 15)
    ]
    # a dimension not named maps all to all
    abc_daily = MultiPartitionsDefinition(
        {
            "abc": StaticPartitionsDefinition(["a", "b", "c"]),
            "daily": DailyPartitionsDefinition("2023-01-01"),
        }
    )
    shared_day = MultiPartitionMapping(
        {"daily": DimensionPartitionMapping("daily", IdentityPartitionMapping())}
    )
    assert shared_day.upstream_keys(["1|2023-01-01"], daily_123, abc_daily, current_time=now) == (
        UpstreamKeys(("a|2023-01-01", "b|2023-01-01", "c|2023-01-01"))
    )
    with pytest.raises(DefinitionsError, match="the upstream has no dimension 'weekly'"):
        mapping.validate_partition_mapping(abc_daily, daily_123)


def test_default_mappings() -> None:
    hours = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    assert default_partition_mapping(None, None) == AllPartitionMapping()
    assert default_partition_mapping(hours, DAYS) == TimeWindowPartitionMapping()
    assert default_partition_mapping(REGIONS, REGIONS) == IdentityPartitionMapping()
    assert default_partition_mapping(DAYS_BY_REGION, DAYS_BY_REGION) == IdentityPartitionMapping()
    mismatched = default_partition_mapping(REGIONS, DAYS)
    assert mismatched == IdentityPartitionMapping()
    with pytest.raises(DefinitionsError, match="cannot map the partitions of DailyPartitions"):
        mismatched.validate_partition_mapping(REGIONS, DAYS)
