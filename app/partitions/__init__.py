"""Partitions, as Dagster defines them: definitions, keys, ranges and mappings (pure)."""

from .definition import DynamicPartitionsStore, PartitionsDefinition, StaticPartitionsDefinition
from .dynamic import DynamicPartitionsDefinition
from .key_range import PartitionKeyRange
from .multi import MultiPartitionKey, MultiPartitionsDefinition, PartitionDimensionDefinition
from .ranges import PartitionKeyRun, contiguous_runs, index_runs, partition_key_runs
from .time_window import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    ScheduleType,
    TimeWindow,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)

__all__ = [
    "DailyPartitionsDefinition",
    "DynamicPartitionsDefinition",
    "DynamicPartitionsStore",
    "HourlyPartitionsDefinition",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionsDefinition",
    "PartitionDimensionDefinition",
    "PartitionKeyRange",
    "PartitionKeyRun",
    "PartitionsDefinition",
    "ScheduleType",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
    "contiguous_runs",
    "index_runs",
    "partition_key_runs",
]
