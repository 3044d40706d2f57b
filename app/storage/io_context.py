"""What an IO manager is told when it stores or loads a value: Dagster's OutputContext and
InputContext, with the attributes Dagster's IO managers read.

An asset's partition is two things here, as in Dagster: ``partition_key`` is the partition of
the step that runs (of the downstream asset, when loading), ``asset_partition_key(s)`` the
partitions of the asset being stored or loaded. They differ when a partition mapping reads
another partition of the upstream, or a partitioned asset reads an unpartitioned one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Self

from ..declarations.keys import AssetKey, CoercibleToAssetKey, coerce_key
from ..declarations.metadata import MetadataValue, normalize_metadata
from ..errors import MillraceError
from ..partitions.key_range import PartitionKeyRange
from ..partitions.time_window import TimeWindow

RUN_ID_PLACEHOLDER = "__EPHEMERAL_RUN_ID"  # Dagster's run id of a context built in a test
DEFAULT_OUTPUT = "result"  # the name of an asset's one output

_log = logging.getLogger("millrace.io_managers")
_UNSET: Any = object()


class IOContextError(MillraceError):
    """An IO manager asked its context for something this load or store does not have."""


@dataclass(frozen=True, slots=True)
class ValueType:
    """What IO managers read of Dagster's DagsterType: the Python type of the value
    (``context.dagster_type.typing_type``), from ``AssetIn(dagster_type=...)`` or the
    annotation (``Any`` without one)."""

    typing_type: Any

    @property
    def display_name(self) -> str:
        return str(getattr(self.typing_type, "__name__", self.typing_type))


def value_type(given: Any) -> Any:
    """A DagsterType-like value as it is; a Python type (or annotation) as a ValueType."""
    return given if given is None or hasattr(given, "typing_type") else ValueType(given)


class _IOContext:
    """What InputContext and OutputContext share: the asset, its partitions, the resources."""

    _kind = "context"

    def __init__(
        self,
        asset_key: CoercibleToAssetKey | None,
        *,
        name: str | None,
        partition_key: str | None,
        asset_partition_keys: Sequence[str] | None,
        asset_partitions_def: Any,
        definition_metadata: Mapping[str, Any] | None,
        dagster_type: Any,
        config: Any,
        resource_config: Mapping[str, Any] | None,
        resources: Any,
        log: Any,
    ) -> None:
        self._asset_key = coerce_key(asset_key) if asset_key is not None else None
        self._name = name
        self._partition_key = partition_key
        self._asset_partition_keys = (
            tuple(asset_partition_keys) if asset_partition_keys is not None else None
        )
        self._asset_partitions_def = asset_partitions_def
        self._definition_metadata = dict(definition_metadata or {})
        self._dagster_type = value_type(dagster_type)
        self.config = config
        self.resource_config = dict(resource_config) if resource_config is not None else None
        self.resources = (
            SimpleNamespace(**resources) if isinstance(resources, Mapping) else resources
        ) or SimpleNamespace()
        self.log = log if log is not None else _log
        self._close: Callable[[], None] | None = None  # tears down resources built for it

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        close, self._close = self._close, None
        if close is not None:
            close()

    @property
    def _label(self) -> str:
        key = self._asset_key.to_user_string() if self._asset_key else None
        return f"{self._kind} of asset '{key}'" if key else f"this {self._kind}"

    @property
    def has_asset_key(self) -> bool:
        return self._asset_key is not None

    @property
    def asset_key(self) -> AssetKey:
        if self._asset_key is None:
            raise IOContextError(f"{self._label} has no asset_key: it is for no asset")
        return self._asset_key

    @property
    def has_input_name(self) -> bool:
        return self._name is not None

    @property
    def name(self) -> str:
        if self._name is None:
            raise IOContextError(f"{self._label} was built without a name")
        return self._name

    @property
    def definition_metadata(self) -> dict[str, Any]:
        return self._definition_metadata

    @property
    def metadata(self) -> dict[str, Any]:
        """Dagster's older name for ``definition_metadata``."""
        return self._definition_metadata

    @property
    def dagster_type(self) -> Any:
        """The value's type: ``.typing_type`` is the Python type (see ValueType)."""
        if self._dagster_type is None:
            raise IOContextError(f"{self._label} was built without a dagster_type")
        return self._dagster_type

    @property
    def has_partition_key(self) -> bool:
        return self._partition_key is not None

    @property
    def partition_key(self) -> str:
        """The partition of the step that runs."""
        if self._partition_key is None:
            raise IOContextError(
                f"{self._label}: tried to access partition_key on a non-partitioned run "
                "(check has_partition_key first)"
            )
        return self._partition_key

    @property
    def has_asset_partitions(self) -> bool:
        return self._asset_partition_keys is not None

    @property
    def asset_partition_keys(self) -> list[str]:
        return list(self._asset_keys("asset_partition_keys"))

    @property
    def asset_partition_key(self) -> str:
        keys = self._asset_keys("asset_partition_key")
        if len(keys) != 1:
            raise IOContextError(
                f"{self._label}: asset_partition_key needs exactly one partition, this one has "
                f"{len(keys)}; use asset_partition_keys or asset_partition_key_range"
            )
        return keys[0]

    @property
    def asset_partition_key_range(self) -> PartitionKeyRange:
        keys = self._asset_keys("asset_partition_key_range")
        if not keys:
            raise IOContextError(f"{self._label} has no asset partitions: no range")
        return PartitionKeyRange(keys[0], keys[-1])

    @property
    def asset_partitions_def(self) -> Any:
        if self._asset_partitions_def is None:
            raise IOContextError(
                f"{self._label}: tried to access asset_partitions_def, but the asset is not "
                "partitioned (or the context was built without one)"
            )
        return self._asset_partitions_def

    @property
    def asset_partitions_time_window(self) -> TimeWindow:
        """From the start of the first asset partition to the end of the last."""
        start, end = self.asset_partition_key_range
        definition = self.asset_partitions_def
        if not hasattr(definition, "time_window_for_partition_key"):
            raise IOContextError(
                f"{self._label}: asset_partitions_time_window needs time partitions, the asset "
                f"has {type(definition).__name__}"
            )
        first = definition.time_window_for_partition_key(start)
        last = definition.time_window_for_partition_key(end)
        return TimeWindow(first.start, last.end)

    def get_asset_identifier(self) -> list[str]:
        """The asset key's path, then the asset partition if there is one."""
        path = list(self.asset_key.path)
        return [*path, self.asset_partition_key] if self.has_asset_partitions else path

    def _asset_keys(self, what: str) -> tuple[str, ...]:
        if self._asset_partition_keys is None:
            raise IOContextError(
                f"{self._label}: tried to access {what}, but the asset is not partitioned "
                "(check has_asset_partitions first)"
            )
        return self._asset_partition_keys


class OutputContext(_IOContext):
    """What an IO manager knows about the value it is asked to store (Dagster's
    OutputContext). The first argument may be the asset key, and a ``partition_key`` given
    without ``asset_partition_keys`` is also the asset partition stored, as Millrace always
    allowed."""

    _kind = "output"

    def __init__(
        self,
        asset_key: CoercibleToAssetKey | None = None,
        *,
        step_key: str | None = None,
        name: str | None = None,
        run_id: str | None = None,
        partition_key: str | None = None,
        asset_partition_keys: Sequence[str] | None = _UNSET,
        asset_partitions_def: Any = None,
        definition_metadata: Mapping[str, Any] | None = None,
        output_metadata: Mapping[str, Any] | None = None,
        mapping_key: str | None = None,
        version: str | None = None,
        dagster_type: Any = None,
        config: Any = None,
        resource_config: Mapping[str, Any] | None = None,
        resources: Any = None,
        log: Any = None,
    ) -> None:
        if asset_partition_keys is _UNSET:  # the step's partition is the asset's
            asset_partition_keys = (partition_key,) if partition_key is not None else None
        super().__init__(
            asset_key,
            name=name,
            partition_key=partition_key,
            asset_partition_keys=asset_partition_keys,
            asset_partitions_def=asset_partitions_def,
            definition_metadata=definition_metadata,
            dagster_type=dagster_type,
            config=config,
            resource_config=resource_config,
            resources=resources,
            log=log,
        )
        self.step_key = step_key
        self.run_id = run_id
        self.mapping_key = mapping_key
        self.version = version
        self.output_metadata: dict[str, MetadataValue] = {}
        if output_metadata:
            self.add_output_metadata(output_metadata)
        # Set by the default IO manager for a small value: bytes the runtime commits to the
        # event store in the same transaction as the materialization, instead of a file.
        self.inline_value: bytes | None = None
        # A fingerprint of what was stored (``millrace.versions.data``), set by IO managers
        # that can tell; otherwise the data version follows from the code and the inputs.
        self.data_version: str | None = None

    def add_output_metadata(self, metadata: Mapping[str, Any]) -> None:
        """Metadata for the materialization; adding a key twice is an error, as in Dagster."""
        where = self._asset_key.to_user_string() if self._asset_key else "output"
        twice = sorted(set(self.output_metadata) & set(metadata))
        if twice:
            raise IOContextError(
                f"{self._label}: tried to add metadata for key(s) that already have metadata: "
                f"{', '.join(twice)}"
            )
        self.output_metadata.update(normalize_metadata(metadata, where=where))

    def get_logged_metadata(self) -> dict[str, MetadataValue]:
        return self.output_metadata

    def get_identifier(self) -> list[str]:
        """Dagster's identifier of a step output: run id (or version), step key, name."""
        if self.step_key is None or (self.run_id is None and self.version is None):
            raise IOContextError(
                f"{self._label}: get_identifier needs a step_key and a run_id (or a version)"
            )
        head = ["versioned_outputs", self.version] if self.version is not None else [self.run_id]
        identifier = [*head, self.step_key, self.name]
        if self.mapping_key:
            identifier.append(self.mapping_key)
        return [str(part) for part in identifier]


class InputContext(_IOContext):
    """What an IO manager knows about the value it is asked to load (Dagster's InputContext).

    ``metadata`` is the input's own (``AssetIn(metadata=...)``); the upstream asset's is
    ``upstream_output.definition_metadata``. The first argument may be the asset key, and a
    ``partition_key`` given without ``asset_partition_keys`` is also the asset partition to
    load, as Millrace always allowed."""

    _kind = "input"

    def __init__(
        self,
        asset_key: CoercibleToAssetKey | None = None,
        *,
        name: str | None = None,
        annotation: Any = None,
        partition_key: str | None = None,
        asset_partition_keys: Sequence[str] | None = _UNSET,
        asset_partitions_def: Any = None,
        metadata: Mapping[str, Any] | None = None,
        upstream_output: OutputContext | None = None,
        dagster_type: Any = None,
        config: Any = None,
        resource_config: Mapping[str, Any] | None = None,
        resources: Any = None,
        log: Any = None,
        instance: Any = None,
    ) -> None:
        if asset_partition_keys is _UNSET:
            asset_partition_keys = (partition_key,) if partition_key is not None else None
        super().__init__(
            asset_key,
            name=name,
            partition_key=partition_key,
            asset_partition_keys=asset_partition_keys,
            asset_partitions_def=asset_partitions_def,
            definition_metadata=metadata,
            dagster_type=dagster_type if dagster_type is not None else annotation,
            config=config,
            resource_config=resource_config,
            resources=resources,
            log=log,
        )
        self.annotation = annotation
        self._instance = instance
        self.upstream_output = upstream_output
        if upstream_output is None and asset_key is not None:
            self.upstream_output = OutputContext(
                asset_key,
                name=DEFAULT_OUTPUT,
                asset_partition_keys=self._asset_partition_keys,
                asset_partitions_def=asset_partitions_def,
                log=self.log,
            )

    @property
    def instance(self) -> Any:
        if self._instance is None:
            raise IOContextError(f"{self._label} was built without an instance")
        return self._instance

    def get_identifier(self) -> list[str]:
        """The identifier of the upstream output this input loads."""
        if self.upstream_output is None:
            raise IOContextError(f"{self._label} has no upstream_output: no identifier")
        return self.upstream_output.get_identifier()


def stored_partition(context: InputContext | OutputContext) -> str | None:
    """The one partition of the asset a built-in manager stores or loads (None: the asset is
    not partitioned); several at once is an error naming the asset."""
    if not context.has_asset_partitions:
        return None
    return context.asset_partition_key
