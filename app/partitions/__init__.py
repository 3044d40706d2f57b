"""Partitions, as Dagster defines them: definitions, keys, ranges and mappings (pure)."""

from .definition import DynamicPartitionsStore, PartitionsDefinition, StaticPartitionsDefinition
from .dynamic import DynamicPartitionsDefinition
from .key_range import PartitionKeyRange
from .mapping import (
    AllPartitionMapping,
    DimensionPartitionMapping,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MultiPartitionMapping,
    MultiToSingleDimensionPartitionMapping,
    PartitionMapping,
    SpecificPartitionsPartitionMapping,
    StaticPartitionMapping,
    TimeWindowPartitionMapping,
    UpstreamKeys,
    default_partition_mapping,
)
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
    "AllPartitionMapping",
    "DailyPartitionsDefinition",
    "DimensionPartitionMapping",
    "DynamicPartitionsDefinition",
    "DynamicPartitionsStore",
    "HourlyPartitionsDefinition",
    "IdentityPartitionMapping",
    "LastPartitionMapping",
    "MonthlyPartitionsDefinition",
    "MultiPartitionKey",
    "MultiPartitionMapping",
    "MultiPartitionsDefinition",
    "MultiToSingleDimensionPartitionMapping",
    "PartitionDimensionDefinition",
    "PartitionKeyRange",
    "PartitionKeyRun",
    "PartitionMapping",
    "PartitionsDefinition",
    "ScheduleType",
    "SpecificPartitionsPartitionMapping",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "UpstreamKeys",
    "WeeklyPartitionsDefinition",
    "contiguous_runs",
    "default_partition_mapping",
    "index_runs",
    "partition_key_runs",
]
