"""Millrace: a local, asset-centric data orchestrator with Dagster's API.

Port Dagster code by changing ``from dagster import ...`` to ``from millrace import ...``.
"""

from .definitions.asset import (
    AssetDep,
    AssetIn,
    AssetsDefinition,
    AssetSpec,
    Backoff,
    Jitter,
    RetryPolicy,
    asset,
)
from .definitions.checks import (
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    asset_check,
)
from .definitions.definitions import Definitions
from .definitions.keys import AssetKey
from .definitions.metadata import MetadataValue, TableColumn, TableRecord, TableSchema
from .definitions.outputs import DataVersion, MaterializeResult, Output
from .errors import (
    CodeLoadError,
    DefinitionsError,
    MillraceError,
    MissingInputError,
    RunFailedError,
    SelectionError,
)
from .execution.context import AssetExecutionContext, build_asset_context
from .execution.events import RunStatus
from .execution.result import RunResult
from .materialize import materialize, materialize_to_memory
from .runtime.runtime import Runtime
from .selection import AssetSelection
from .storage.io_managers import (
    InMemoryIOManager,
    InputContext,
    IOManager,
    OutputContext,
    ParquetIOManager,
)

__version__ = "0.1.0"

__all__ = [
    "AssetCheckKey",
    "AssetCheckResult",
    "AssetCheckSeverity",
    "AssetCheckSpec",
    "AssetChecksDefinition",
    "AssetDep",
    "AssetExecutionContext",
    "AssetIn",
    "AssetKey",
    "AssetSelection",
    "AssetSpec",
    "AssetsDefinition",
    "Backoff",
    "CodeLoadError",
    "DataVersion",
    "Definitions",
    "DefinitionsError",
    "IOManager",
    "InMemoryIOManager",
    "InputContext",
    "Jitter",
    "MaterializeResult",
    "MetadataValue",
    "MillraceError",
    "MissingInputError",
    "Output",
    "OutputContext",
    "ParquetIOManager",
    "RetryPolicy",
    "RunFailedError",
    "RunResult",
    "RunStatus",
    "Runtime",
    "SelectionError",
    "TableColumn",
    "TableRecord",
    "TableSchema",
    "__version__",
    "asset",
    "asset_check",
    "build_asset_context",
    "materialize",
    "materialize_to_memory",
]
