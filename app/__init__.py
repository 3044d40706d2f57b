"""Millrace: a local, asset-centric data orchestrator with Dagster's API.

Port Dagster code by changing ``from dagster import ...`` to ``from millrace import ...``.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
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
    from .automation.event_log import DagsterEventType, EventLogEntry, EventLogRecord
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
    from .declarations.asset_copies import map_asset_specs, with_source_code_references
    from .declarations.backfill_policy import BackfillPolicy, BackfillPolicyType
    from .declarations.checks import (
        AssetCheckKey,
        AssetCheckResult,
        AssetChecksDefinition,
        AssetCheckSeverity,
        AssetCheckSpec,
        asset_check,
    )
    from .declarations.config import Config, PermissiveConfig, RunConfig
    from .declarations.config_schema import (
        Array,
        BoolSource,
        Field,
        IntSource,
        Map,
        Noneable,
        Permissive,
        Shape,
        StringSource,
    )
    from .declarations.control_flow import Failure, RetryRequested
    from .declarations.definitions import Definitions
    from .declarations.graph_asset import graph_asset
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
    )
    from .declarations.metadata import (
        MetadataValue,
        TableColumn,
        TableColumnDep,
        TableColumnLineage,
        TableRecord,
        TableSchema,
    )
    from .declarations.metadata_sets import TableMetadataSet, UriMetadataSet
    from .declarations.multi_asset import AssetOut, MultiAssetsDefinition, multi_asset
    from .declarations.multi_check import MultiAssetChecksDefinition, multi_asset_check
    from .declarations.observations import AssetObservation, DataVersionsByPartition, ObserveResult
    from .declarations.ops import In, OpDefinition, Out, op
    from .declarations.outputs import AssetMaterialization, DataVersion, MaterializeResult, Output
    from .declarations.resources import (
        ConfigurableResource,
        EnvVar,
        InitResourceContext,
        ResourceDefinition,
        ResourceDependency,
        ResourceParam,
        build_init_resource_context,
        resource,
    )
    from .declarations.run_request import RunRequest
    from .declarations.source_asset import SourceAsset, observable_source_asset
    from .errors import (
        CodeLoadError,
        ConfigError,
        DagsterAssetCheckFailedError,
        DagsterError,
        DagsterExecutionStepExecutionError,
        DagsterInvalidConfigError,
        DagsterInvalidDefinitionError,
        DagsterInvalidInvocationError,
        DagsterInvalidMetadata,
        DagsterInvalidSubsetError,
        DagsterInvariantViolationError,
        DagsterMaxRetriesExceededError,
        DagsterResourceFunctionError,
        DagsterTypeCheckDidNotPass,
        DagsterUnknownPartitionError,
        DagsterUnknownResourceError,
        DagsterUserCodeExecutionError,
        DefinitionsError,
        MillraceError,
        MissingInputError,
        PartitionKeyError,
        RunFailedError,
        SelectionError,
    )
    from .events import RunStatus
    from .execution.context import (
        AssetCheckExecutionContext,
        AssetExecutionContext,
        OpExecutionContext,
        build_asset_context,
    )
    from .execution.python_logging import get_dagster_logger
    from .execution.result import RunResult
    from .materialization import materialize, materialize_to_memory
    from .observation import observe
    from .partitions.definition import PartitionsDefinition, StaticPartitionsDefinition
    from .partitions.dynamic import DynamicPartitionsDefinition
    from .partitions.key_range import PartitionKeyRange
    from .partitions.mapping import (
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
    )
    from .partitions.multi import MultiPartitionKey, MultiPartitionsDefinition
    from .partitions.time_window import (
        DailyPartitionsDefinition,
        HourlyPartitionsDefinition,
        MonthlyPartitionsDefinition,
        TimeWindow,
        TimeWindowPartitionsDefinition,
        WeeklyPartitionsDefinition,
    )
    from .runtime.build_resources import build_input_context, build_output_context, build_resources
    from .runtime.defs_folder import load_defs, load_from_defs_folder
    from .runtime.runtime import Runtime
    from .selection import AssetSelection
    from .storage.configurable_io import (
        ConfigurableIOManager,
        ConfigurableIOManagerFactory,
        FilesystemIOManager,
    )
    from .storage.instance import (
        AssetRecordsFilter,
        DagsterInstance,
        EventRecordsFilter,
        EventRecordsResult,
    )
    from .storage.io_context import InputContext, OutputContext
    from .storage.io_manager_definition import (
        InputManagerDefinition,
        IOManagerDefinition,
        fs_io_manager,
        input_manager,
        io_manager,
        mem_io_manager,
    )
    from .storage.io_managers import InMemoryIOManager, InputManager, IOManager, ParquetIOManager
    from .storage.upath_io_manager import UPathIOManager

# Every public name loads on first use, from the module that defines it: ``import millrace``
# imports nothing else, and ``from millrace import asset`` loads what ``asset`` needs and no
# runtime (asyncio, SQLite), no pydantic, no automation.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "automation.asset_sensors": (
        "AssetSensorDefinition",
        "MultiAssetSensorDefinition",
        "MultiAssetSensorEvaluationContext",
        "asset_sensor",
        "build_multi_asset_sensor_context",
        "multi_asset_sensor",
    ),
    "automation.condition_sensor": ("AutomationConditionSensorDefinition",),
    "automation.conditions": ("AutomationCondition",),
    "automation.event_log": ("DagsterEventType", "EventLogEntry", "EventLogRecord"),
    "automation.file_sensor": ("file_arrival_sensor",),
    "automation.freshness": (
        "FreshnessPolicy",
        "FreshnessState",
        "build_last_update_freshness_checks",
        "build_sensor_for_freshness_checks",
    ),
    "automation.run_status": (
        "DagsterRunStatus",
        "RunFailureSensorContext",
        "RunStatusSensorContext",
        "RunStatusSensorDefinition",
        "build_run_status_sensor_context",
        "run_failure_sensor",
        "run_status_sensor",
    ),
    "automation.schedules": (
        "DefaultScheduleStatus",
        "ScheduleDefinition",
        "ScheduleEvaluationContext",
        "build_schedule_context",
        "build_schedule_from_partitioned_job",
        "schedule",
    ),
    "automation.sensors": (
        "DefaultSensorStatus",
        "SensorDefinition",
        "SensorEvaluationContext",
        "SensorResult",
        "build_sensor_context",
        "sensor",
    ),
    "automation.tick": ("SkipReason",),
    "declarations.asset": (
        "AssetDep",
        "AssetIn",
        "AssetSpec",
        "AssetsDefinition",
        "Backoff",
        "Jitter",
        "RetryPolicy",
        "asset",
    ),
    "declarations.asset_copies": ("map_asset_specs", "with_source_code_references"),
    "declarations.backfill_policy": ("BackfillPolicy", "BackfillPolicyType"),
    "declarations.checks": (
        "AssetCheckKey",
        "AssetCheckResult",
        "AssetCheckSeverity",
        "AssetCheckSpec",
        "AssetChecksDefinition",
        "asset_check",
    ),
    "declarations.config": ("Config", "PermissiveConfig", "RunConfig"),
    "declarations.config_schema": (
        "Array",
        "BoolSource",
        "Field",
        "IntSource",
        "Map",
        "Noneable",
        "Permissive",
        "Shape",
        "StringSource",
    ),
    "declarations.control_flow": ("Failure", "RetryRequested"),
    "declarations.definitions": ("Definitions",),
    "declarations.job": ("JobDefinition", "UnresolvedAssetJobDefinition", "define_asset_job"),
    "declarations.keys": ("AssetKey",),
    "declarations.lazy_definitions": ("LazyDefinitions", "definitions"),
    "declarations.loading": (
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
    ),
    "declarations.metadata": (
        "MetadataValue",
        "TableColumn",
        "TableColumnDep",
        "TableColumnLineage",
        "TableRecord",
        "TableSchema",
    ),
    "declarations.metadata_sets": ("TableMetadataSet", "UriMetadataSet"),
    "declarations.graph_asset": ("graph_asset",),
    "declarations.multi_asset": ("AssetOut", "MultiAssetsDefinition", "multi_asset"),
    "declarations.multi_check": ("MultiAssetChecksDefinition", "multi_asset_check"),
    "declarations.observations": ("AssetObservation", "DataVersionsByPartition", "ObserveResult"),
    "declarations.ops": ("In", "OpDefinition", "Out", "op"),
    "declarations.outputs": ("AssetMaterialization", "DataVersion", "MaterializeResult", "Output"),
    "declarations.resources": (
        "ConfigurableResource",
        "EnvVar",
        "InitResourceContext",
        "ResourceDefinition",
        "ResourceDependency",
        "ResourceParam",
        "build_init_resource_context",
        "resource",
    ),
    "declarations.run_request": ("RunRequest",),
    "declarations.source_asset": ("SourceAsset", "observable_source_asset"),
    "errors": (
        "CodeLoadError",
        "ConfigError",
        "DagsterAssetCheckFailedError",
        "DagsterError",
        "DagsterExecutionStepExecutionError",
        "DagsterInvalidConfigError",
        "DagsterInvalidDefinitionError",
        "DagsterInvalidInvocationError",
        "DagsterInvalidMetadata",
        "DagsterInvalidSubsetError",
        "DagsterInvariantViolationError",
        "DagsterMaxRetriesExceededError",
        "DagsterResourceFunctionError",
        "DagsterTypeCheckDidNotPass",
        "DagsterUnknownPartitionError",
        "DagsterUnknownResourceError",
        "DagsterUserCodeExecutionError",
        "DefinitionsError",
        "MillraceError",
        "MissingInputError",
        "PartitionKeyError",
        "RunFailedError",
        "SelectionError",
    ),
    "events": ("RunStatus",),
    "execution.context": (
        "AssetCheckExecutionContext",
        "AssetExecutionContext",
        "OpExecutionContext",
        "build_asset_context",
    ),
    "execution.python_logging": ("get_dagster_logger",),
    "execution.result": ("RunResult",),
    "materialization": ("materialize", "materialize_to_memory"),
    "observation": ("observe",),
    "partitions.definition": ("PartitionsDefinition", "StaticPartitionsDefinition"),
    "partitions.dynamic": ("DynamicPartitionsDefinition",),
    "partitions.key_range": ("PartitionKeyRange",),
    "partitions.mapping": (
        "AllPartitionMapping",
        "DimensionPartitionMapping",
        "IdentityPartitionMapping",
        "LastPartitionMapping",
        "MultiPartitionMapping",
        "MultiToSingleDimensionPartitionMapping",
        "PartitionMapping",
        "SpecificPartitionsPartitionMapping",
        "StaticPartitionMapping",
        "TimeWindowPartitionMapping",
    ),
    "partitions.multi": ("MultiPartitionKey", "MultiPartitionsDefinition"),
    "partitions.time_window": (
        "DailyPartitionsDefinition",
        "HourlyPartitionsDefinition",
        "MonthlyPartitionsDefinition",
        "TimeWindow",
        "TimeWindowPartitionsDefinition",
        "WeeklyPartitionsDefinition",
    ),
    "runtime.build_resources": ("build_input_context", "build_output_context", "build_resources"),
    "runtime.defs_folder": ("load_defs", "load_from_defs_folder"),
    "runtime.runtime": ("Runtime",),
    "selection": ("AssetSelection",),
    "storage.configurable_io": (
        "ConfigurableIOManager",
        "ConfigurableIOManagerFactory",
        "FilesystemIOManager",
    ),
    "storage.instance": (
        "AssetRecordsFilter",
        "DagsterInstance",
        "EventRecordsFilter",
        "EventRecordsResult",
    ),
    "storage.io_context": ("InputContext", "OutputContext"),
    "storage.io_manager_definition": (
        "IOManagerDefinition",
        "InputManagerDefinition",
        "fs_io_manager",
        "input_manager",
        "io_manager",
        "mem_io_manager",
    ),
    "storage.io_managers": ("IOManager", "InMemoryIOManager", "InputManager", "ParquetIOManager"),
    "storage.upath_io_manager": ("UPathIOManager",),
}
_LAZY = {name: module for module, names in _EXPORTS.items() for name in names}


# Dagster names Millrace deliberately does not have, and why (README: Porting from Dagster).
_NOT_PORTED = {
    **dict.fromkeys(
        ("graph", "job", "graph_multi_asset", "GraphOut"),
        "ops and graphs beyond @graph_asset: declare assets (@asset, @multi_asset, "
        "@graph_asset) instead",
    ),
    **dict.fromkeys(
        ("success_hook", "failure_hook", "HookContext"),
        "hooks: use @run_status_sensor / @run_failure_sensor",
    ),
    **dict.fromkeys(("repository", "RepositoryDefinition"), "repositories: use Definitions"),
    **dict.fromkeys(
        ("Component", "ComponentLoadContext"), "components: declare assets in Python modules"
    ),
}


def __getattr__(name: str) -> object:
    # A name resolves through the table to the module that defines it, never to whatever a
    # package happens to hold under that name (a submodule an import set as its attribute).
    module = _LAZY.get(name)
    if module is None:
        why = _NOT_PORTED.get(name)
        if why is not None:
            raise AttributeError(f"Millrace does not port Dagster's {name!r}: {why}")
        raise AttributeError(f"module 'millrace' has no attribute {name!r}")
    from importlib import import_module

    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AllPartitionMapping",
    "Array",
    "AssetCheckExecutionContext",
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
    "AssetObservation",
    "AssetOut",
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
    "BoolSource",
    "CodeLoadError",
    "Config",
    "ConfigError",
    "ConfigurableIOManager",
    "ConfigurableIOManagerFactory",
    "ConfigurableResource",
    "DagsterAssetCheckFailedError",
    "DagsterError",
    "DagsterEventType",
    "DagsterExecutionStepExecutionError",
    "DagsterInstance",
    "DagsterInvalidConfigError",
    "DagsterInvalidDefinitionError",
    "DagsterInvalidInvocationError",
    "DagsterInvalidMetadata",
    "DagsterInvalidSubsetError",
    "DagsterInvariantViolationError",
    "DagsterMaxRetriesExceededError",
    "DagsterResourceFunctionError",
    "DagsterRunStatus",
    "DagsterTypeCheckDidNotPass",
    "DagsterUnknownPartitionError",
    "DagsterUnknownResourceError",
    "DagsterUserCodeExecutionError",
    "DailyPartitionsDefinition",
    "DataVersion",
    "DataVersionsByPartition",
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
    "Failure",
    "Field",
    "FilesystemIOManager",
    "FreshnessPolicy",
    "FreshnessState",
    "HourlyPartitionsDefinition",
    "IOManager",
    "IOManagerDefinition",
    "IdentityPartitionMapping",
    "In",
    "InMemoryIOManager",
    "InitResourceContext",
    "InputContext",
    "InputManager",
    "InputManagerDefinition",
    "IntSource",
    "Jitter",
    "JobDefinition",
    "LastPartitionMapping",
    "LazyDefinitions",
    "Map",
    "MaterializeResult",
    "MetadataValue",
    "MillraceError",
    "MissingInputError",
    "MonthlyPartitionsDefinition",
    "MultiAssetChecksDefinition",
    "MultiAssetSensorDefinition",
    "MultiAssetSensorEvaluationContext",
    "MultiAssetsDefinition",
    "MultiPartitionKey",
    "MultiPartitionMapping",
    "MultiPartitionsDefinition",
    "MultiToSingleDimensionPartitionMapping",
    "Noneable",
    "ObserveResult",
    "OpDefinition",
    "OpExecutionContext",
    "Out",
    "Output",
    "OutputContext",
    "ParquetIOManager",
    "PartitionKeyError",
    "PartitionKeyRange",
    "PartitionMapping",
    "PartitionsDefinition",
    "Permissive",
    "PermissiveConfig",
    "ResourceDefinition",
    "ResourceDependency",
    "ResourceParam",
    "RetryPolicy",
    "RetryRequested",
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
    "Shape",
    "SkipReason",
    "SourceAsset",
    "SpecificPartitionsPartitionMapping",
    "StaticPartitionMapping",
    "StaticPartitionsDefinition",
    "StringSource",
    "TableColumn",
    "TableColumnDep",
    "TableColumnLineage",
    "TableMetadataSet",
    "TableRecord",
    "TableSchema",
    "TimeWindow",
    "TimeWindowPartitionMapping",
    "TimeWindowPartitionsDefinition",
    "UPathIOManager",
    "UnresolvedAssetJobDefinition",
    "UriMetadataSet",
    "WeeklyPartitionsDefinition",
    "__version__",
    "asset",
    "asset_check",
    "asset_sensor",
    "build_asset_context",
    "build_init_resource_context",
    "build_input_context",
    "build_last_update_freshness_checks",
    "build_multi_asset_sensor_context",
    "build_output_context",
    "build_resources",
    "build_run_status_sensor_context",
    "build_schedule_context",
    "build_schedule_from_partitioned_job",
    "build_sensor_context",
    "build_sensor_for_freshness_checks",
    "define_asset_job",
    "definitions",
    "file_arrival_sensor",
    "fs_io_manager",
    "get_dagster_logger",
    "graph_asset",
    "input_manager",
    "io_manager",
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
    "mem_io_manager",
    "multi_asset",
    "multi_asset_check",
    "multi_asset_sensor",
    "observable_source_asset",
    "observe",
    "op",
    "resource",
    "run_failure_sensor",
    "run_status_sensor",
    "schedule",
    "sensor",
    "with_source_code_references",
]
