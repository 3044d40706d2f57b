"""Millrace: a local, asset-centric data orchestrator with Dagster's API.

Port Dagster code by changing ``from dagster import ...`` to ``from millrace import ...``.
"""

from .automation.asset_sensors import (
    AssetSensorDefinition,
    MultiAssetSensorDefinition,
    MultiAssetSensorEvaluationContext,
    asset_sensor,
    build_multi_asset_sensor_context,
    multi_asset_sensor,
)
from .automation.condition_sensor import AutomationConditionSensorDefinition
from .automation.conditions import AutomationCondition
from .automation.event_log import (
    AssetMaterialization,
    DagsterEventType,
    EventLogEntry,
    EventLogRecord,
)
from .automation.file_sensor import file_arrival_sensor
from .automation.freshness import (
    FreshnessPolicy,
    FreshnessState,
    build_last_update_freshness_checks,
    build_sensor_for_freshness_checks,
)
from .automation.run_status import (
    DagsterRunStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    RunStatusSensorDefinition,
    build_run_status_sensor_context,
    run_failure_sensor,
    run_status_sensor,
)
from .automation.schedules import (
    DefaultScheduleStatus,
    ScheduleDefinition,
    ScheduleEvaluationContext,
    build_schedule_context,
    build_schedule_from_partitioned_job,
    schedule,
)
from .automation.sensors import (
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    build_sensor_context,
    sensor,
)
from .automation.tick import SkipReason
from .declarations.asset import (
    AssetDep,
    AssetIn,
    AssetsDefinition,
    AssetSpec,
    Backoff,
    Jitter,
    RetryPolicy,
    asset,
)
from .declarations.backfill_policy import BackfillPolicy, BackfillPolicyType
from .declarations.checks import (
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    asset_check,
)
from .declarations.definitions import Definitions
from .declarations.job import JobDefinition, UnresolvedAssetJobDefinition, define_asset_job
from .declarations.keys import AssetKey
from .declarations.lazy_definitions import LazyDefinitions, definitions
from .declarations.loading import (
    load_asset_checks_from_current_module,
    load_asset_checks_from_modules,
    load_asset_checks_from_package_module,
    load_asset_checks_from_package_name,
    load_assets_from_current_module,
    load_assets_from_modules,
    load_assets_from_package_module,
    load_assets_from_package_name,
    load_definitions_from_current_module,
    load_definitions_from_module,
    load_definitions_from_modules,
    load_definitions_from_package_module,
    load_definitions_from_package_name,
    map_asset_specs,
    with_source_code_references,
)
from .declarations.metadata import MetadataValue, TableColumn, TableRecord, TableSchema
from .declarations.outputs import DataVersion, MaterializeResult, Output
from .declarations.run_request import RunRequest
from .errors import (
    CodeLoadError,
    DefinitionsError,
    MillraceError,
    MissingInputError,
    PartitionKeyError,
    RunFailedError,
    SelectionError,
)
from .execution.context import AssetExecutionContext, OpExecutionContext, build_asset_context
from .execution.python_logging import get_dagster_logger
from .partitions import (
    AllPartitionMapping,
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    LastPartitionMapping,
    MonthlyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    PartitionKeyRange,
    PartitionMapping,
    PartitionsDefinition,
    SpecificPartitionsPartitionMapping,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindow,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from .selection import AssetSelection
from .storage.io_managers import (
    InMemoryIOManager,
    InputContext,
    IOManager,
    OutputContext,
    ParquetIOManager,
)

__version__ = "0.1.0"

# What runs assets (asyncio, SQLite) and what validates resources and config (pydantic) loads
# on first use: a module that only declares assets imports none of it.
_LAZY = {
    "materialize": "materialization",
    "materialize_to_memory": "materialization",
    "Runtime": "runtime.runtime",
    "RunResult": "execution.result",
    "RunStatus": "events",
    "ConfigurableResource": "declarations.resources",
    "EnvVar": "declarations.resources",
    "InitResourceContext": "declarations.resources",
    "ResourceDefinition": "declarations.resources",
    "ResourceParam": "declarations.resources",
    "build_init_resource_context": "declarations.resources",
    "resource": "declarations.resources",
    "Config": "declarations.config",
    "RunConfig": "declarations.config",
    "ConfigurableIOManager": "storage.configurable_io",
    "FilesystemIOManager": "storage.configurable_io",
    "AssetRecordsFilter": "storage.instance",
    "DagsterInstance": "storage.instance",
    "EventRecordsFilter": "storage.instance",
    "EventRecordsResult": "storage.instance",
    "load_defs": "runtime.defs_folder",
    "load_from_defs_folder": "runtime.defs_folder",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'millrace' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AllPartitionMapping",
    "AssetCheckKey",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetCheckSpec",
    "AssetChecksDefinition",
    "AssetDep",
    "AssetExecutionContext",
    "AssetIn",
    "AssetKey",
    "AssetMaterialization",
    "AssetRecordsFilter",
    "AssetSelection",
    "AssetSensorDefinition",
    "AssetSpec",
    "AssetsDefinition",
    "AutomationCondition",
    "AutomationConditionSensorDefinition",
    "BackfillPolicy",
    "BackfillPolicyType",
    "Backoff",
    "CodeLoadError",
    "Config",
    "ConfigurableIOManager",
    "ConfigurableResource",
    "DagsterEventType",
    "DagsterInstance",
    "DagsterRunStatus",
    "DailyPartitionsDefinition",
    "DataVersion",
    "DefaultScheduleStatus",
    "DefaultSensorStatus",
    "Definitions",
    "DefinitionsError",
    "DimensionPartitionMapping",
    "DynamicPartitionsDefinition",
    "EnvVar",
    "EventLogEntry",
    "EventLogRecord",
    "EventRecordsFilter",
    "EventRecordsResult",
    "FilesystemIOManager",
    "FreshnessPolicy",
    "FreshnessState",
    "HourlyPartitionsDefinition",
    "IOManager",
    "IdentityPartitionMapping",
    "InMemoryIOManager",
    "InitResourceContext",
    "InputContext",
    "Jitter",
    "JobDefinition",
    "LastPartitionMapping",
    "LazyDefinitions",
    "MaterializeResult",
    "MetadataValue",
    "MillraceError",
    "MissingInputError",
    "MonthlyPartitionsDefinition",
    "MultiAssetSensorDefinition",
    "MultiAssetSensorEvaluationContext",
    "MultiPartitionKey",
    "MultiPartitionMapping",
    "MultiPartitionsDefinition",
    "MultiToSingleDimensionPartitionMapping",
    "OpExecutionContext",
    "Output",
    "OutputContext",
    "ParquetIOManager",
    "PartitionKeyError",
    "PartitionKeyRange",
    "PartitionMapping",
    "PartitionsDefinition",
    "ResourceDefinition",
    "ResourceParam",
    "RetryPolicy",
    "RunConfig",
    "RunFailedError",
    "RunFailureSensorContext",
    "RunRequest",
    "RunResult",
    "RunStatus",
    "RunStatusSensorContext",
    "RunStatusSensorDefinition",
    "Runtime",
    "ScheduleDefinition",
    "ScheduleEvaluationContext",
    "SelectionError",
    "SensorDefinition",
    "SensorEvaluationContext",
    "SensorResult",
    "SkipReason",
    "SpecificPartitionsPartitionMapping",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "TableColumn",
    "TableRecord",
    "TableSchema",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "UnresolvedAssetJobDefinition",
    "WeeklyPartitionsDefinition",
    "__version__",
    "asset",
    "asset_check",
    "asset_sensor",
    "build_asset_context",
    "build_init_resource_context",
    "build_last_update_freshness_checks",
    "build_multi_asset_sensor_context",
    "build_run_status_sensor_context",
    "build_schedule_context",
    "build_schedule_from_partitioned_job",
    "build_sensor_context",
    "build_sensor_for_freshness_checks",
    "define_asset_job",
    "definitions",
    "file_arrival_sensor",
    "get_dagster_logger",
    "load_asset_checks_from_current_module",
    "load_asset_checks_from_modules",
    "load_asset_checks_from_package_module",
    "load_asset_checks_from_package_name",
    "load_assets_from_current_module",
    "load_assets_from_modules",
    "load_assets_from_package_module",
    "load_assets_from_package_name",
    "load_definitions_from_current_module",
    "load_definitions_from_module",
    "load_definitions_from_modules",
    "load_definitions_from_package_module",
    "load_definitions_from_package_name",
    "load_defs",
    "load_from_defs_folder",
    "map_asset_specs",
    "materialize",
    "materialize_to_memory",
    "multi_asset_sensor",
    "resource",
    "run_failure_sensor",
    "run_status_sensor",
    "schedule",
    "sensor",
    "with_source_code_references",
]
