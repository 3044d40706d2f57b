"""The context an asset function receives: the run, the asset, logging, resources, config,
metadata and the instance."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..declarations.checks import AssetChecksDefinition
from ..declarations.keys import AssetKey, coerce_key
from ..declarations.metadata import MetadataValue, normalize_metadata
from ..errors import MillraceError, UnknownResourceError
from ..partitions.key_range import PartitionKeyRange
from ..partitions.time_window import TimeWindow
from ..suggest import suggestion

if TYPE_CHECKING:
    from ..automation.run_status import DagsterRun
    from .cancel import CancelToken

_python_logger = logging.getLogger("millrace.assets")
T = TypeVar("T")

LogSink = Callable[[str, str], None]


class AssetLogger:
    """``context.log``: records become LOG events of the run (or Python logging outside one)."""

    __slots__ = ("_name", "_sink")

    def __init__(self, sink: LogSink | None, name: str) -> None:
        self._sink = sink
        self._name = name

    def log(self, level: str | int, msg: object, *args: object) -> None:
        name = level if isinstance(level, str) else logging.getLevelName(level)
        name = name.upper()
        text = str(msg) % args if args else str(msg)
        if self._sink is None:
            _python_logger.log(logging.getLevelName(name), "%s: %s", self._name, text)
        else:
            self._sink(name, text)

    def debug(self, msg: object, *args: object) -> None:
        self.log("DEBUG", msg, *args)

    def info(self, msg: object, *args: object) -> None:
        self.log("INFO", msg, *args)

    def warning(self, msg: object, *args: object) -> None:
        self.log("WARNING", msg, *args)

    warn = warning

    def error(self, msg: object, *args: object) -> None:
        self.log("ERROR", msg, *args)

    def critical(self, msg: object, *args: object) -> None:
        self.log("CRITICAL", msg, *args)

    def exception(self, msg: object, *args: object) -> None:
        import traceback

        self.log("ERROR", f"{str(msg) % args if args else msg}\n{traceback.format_exc()}")


class Resources:
    """``context.resources``: attribute access to the run's resources by key."""

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self._resources = dict(resources)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._resources[name]
        except KeyError:
            have = ", ".join(sorted(self._resources)) or "none"
            raise UnknownResourceError(
                name,
                f"no resource {name!r} in this run{suggestion(name, self._resources)} "
                f"(resources: {have}); add it to Definitions(resources=...) and to the asset's "
                "required_resource_keys",
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._resources

    def __iter__(self) -> Any:
        return iter(self._resources)


class AssetExecutionContext:
    """What ``def my_asset(context)`` receives; also built by ``build_asset_context``."""

    def __init__(
        self,
        *,
        run_id: str,
        asset_key: AssetKey | None,
        resources: Mapping[str, Any] | Resources | None = None,
        partition_key: str | None = None,
        log_sink: LogSink | None = None,
        retry_number: int = 0,
        assets_def: Any = None,
        previous_materialization: Any = None,
        cancel: CancelToken | None = None,
        partition_keys: Sequence[str] | None = None,
        # Per partitioned input: the upstream partitions it reads, and their definition.
        input_partitions: Mapping[str, tuple[tuple[str, ...] | None, Any]] | None = None,
        instance: Any = None,
        config: Any = None,
        run: DagsterRun | None = None,
        selected_asset_keys: Iterable[AssetKey] | None = None,
        selected_asset_check_keys: Iterable[Any] | None = None,
    ) -> None:
        self.run_id = run_id
        self._asset_key = asset_key
        self.resources = (
            resources if isinstance(resources, Resources) else Resources(resources or {})
        )
        if partition_keys is None:
            partition_keys = () if partition_key is None else (partition_key,)
        self._partition_keys = tuple(partition_keys)
        self._input_partitions = dict(input_partitions or {})
        self._instance = instance
        self._key_range: PartitionKeyRange | None = None  # build_asset_context's, until bound
        self.log = AssetLogger(log_sink, asset_key.to_user_string() if asset_key else "asset")
        self.retry_number = retry_number
        self.assets_def = assets_def
        self.output_metadata: dict[str, MetadataValue] = {}
        # add_asset_metadata(partition_key=...) while the step runs for several partitions.
        self.partition_metadata: dict[str, dict[str, MetadataValue]] = {}
        self._config = config  # the asset's Config (or build_asset_context's asset_config)
        self._run = run  # build_asset_context's; in a run, read from the instance
        self._built = run is not None
        self.logged_events: list[Any] = []  # AssetMaterializations, via log_event
        # A multi-asset's: metadata added for its other outputs, by output name.
        self.metadata_by_output: dict[str, dict[str, MetadataValue]] = {}
        self._selected = (
            frozenset(selected_asset_keys)
            if selected_asset_keys is not None
            else frozenset((asset_key,) if asset_key is not None else ())
        )
        self._selected_checks = (
            frozenset(selected_asset_check_keys) if selected_asset_check_keys is not None else None
        )
        # The asset's latest materialization from before this run (None if never, or for
        # assets this run neither checks nor reads from storage): what a check compares to.
        self.previous_materialization = previous_materialization
        self._cancel = cancel

    @property
    def is_canceled(self) -> bool:
        """True once the run is canceled: a long ``def`` asset may poll it and return early
        (what it returns is then discarded, never stored)."""
        return self._cancel is not None and self._cancel.requested

    @property
    def asset_key(self) -> AssetKey:
        if self._asset_key is None:
            raise MillraceError(
                "this context is not bound to an asset; pass it to an asset function, or "
                "build_asset_context(asset_key=...)"
            )
        return self._asset_key

    @property
    def has_partition_key(self) -> bool:
        """True for one partition (not for a range: that has ``partition_key_range``)."""
        return len(self._partition_keys) == 1

    @property
    def has_partition_key_range(self) -> bool:
        return bool(self._partition_keys)

    @property
    def partition_key(self) -> str:
        if len(self._partition_keys) != 1:
            self._require_partitions("partition_key")
            raise MillraceError(
                f"asset '{self._name}' runs for {len(self._partition_keys)} partitions at "
                "once: read context.partition_keys or context.partition_key_range"
            )
        return self._partition_keys[0]

    @property
    def partition_keys(self) -> list[str]:
        """Every partition this step materializes, in order."""
        self._require_partitions("partition_keys")
        return list(self._partition_keys)

    @property
    def partition_key_range(self) -> PartitionKeyRange:
        self._require_partitions("partition_key_range")
        return PartitionKeyRange(self._partition_keys[0], self._partition_keys[-1])

    @property
    def partition_time_window(self) -> TimeWindow:
        """From the start of the first partition to the end of the last."""
        self._require_partitions("partition_time_window")
        definition = self._time_definition(getattr(self.assets_def, "partitions_def", None), "")
        first = definition.time_window_for_partition_key(self._partition_keys[0])
        last = definition.time_window_for_partition_key(self._partition_keys[-1])
        return TimeWindow(first.start, last.end)

    def asset_partition_keys_for_input(self, input_name: str) -> list[str]:
        """The upstream partitions the input ``input_name`` reads."""
        return list(self._input_keys(input_name))

    def asset_partition_key_for_input(self, input_name: str) -> str:
        keys = self._input_keys(input_name)
        if len(keys) != 1:
            raise MillraceError(
                f"input '{input_name}' of asset '{self._name}' reads {len(keys)} partitions; "
                "use asset_partition_keys_for_input or asset_partition_key_range_for_input"
            )
        return keys[0]

    def asset_partition_key_range_for_input(self, input_name: str) -> PartitionKeyRange:
        keys = self._input_keys(input_name)
        if not keys:
            raise MillraceError(f"input '{input_name}' of asset '{self._name}' reads no partition")
        return PartitionKeyRange(keys[0], keys[-1])

    def asset_partitions_time_window_for_input(self, input_name: str) -> TimeWindow:
        """From the start of the first upstream partition read to the end of the last."""
        keys = self._input_keys(input_name)
        if not keys:
            raise MillraceError(f"input '{input_name}' of asset '{self._name}' reads no partition")
        definition = self._time_definition(self._input_partitions[input_name][1], input_name)
        first = definition.time_window_for_partition_key(keys[0])
        last = definition.time_window_for_partition_key(keys[-1])
        return TimeWindow(first.start, last.end)

    @property
    def instance(self) -> Any:
        """The ``DagsterInstance``: the history (``get_latest_materialization_event``,
        ``fetch_materializations``...) and the dynamic partitions' keys. A context built by
        ``build_asset_context()`` without one gets an instance in memory, as Dagster's
        ephemeral one."""
        if self._instance is None:
            from ..storage.instance import DagsterInstance

            self._instance = DagsterInstance(None)
        return self._instance

    @property
    def run(self) -> DagsterRun:
        """The run: ``run_id``, ``status``, ``tags``."""
        if self._run is None:
            status, tags, run_config = self._recorded_run()
            from ..automation.run_status import DagsterRun

            self._run = DagsterRun(self.run_id, status, None, tags, run_config)
        return self._run

    @property
    def dagster_run(self) -> DagsterRun:
        return self.run

    @property
    def run_tags(self) -> Mapping[str, str]:
        return self.run.tags

    def has_tag(self, key: str) -> bool:
        return key in self.run.tags

    def get_tag(self, key: str) -> str | None:
        return self.run.tags.get(key)

    @property
    def run_config(self) -> Mapping[str, Any]:
        """The run's config as its record keeps it: ``{"ops": {asset: {"config": {...}}}}``
        for the assets that take a Config, with the defaults they got."""
        if self._built:
            return self._built_run_config()
        return self._recorded_run()[2]

    @property
    def op_config(self) -> Any:
        """The asset's config as a dict (its Config's fields, defaults included); None for an
        asset that takes no config."""
        config = self._config
        if config is None or isinstance(config, Mapping):
            return config
        return config.model_dump()

    def asset_key_for_input(self, input_name: str) -> AssetKey:
        """The key of the upstream asset the parameter ``input_name`` receives."""
        inputs = getattr(self.assets_def, "inputs", None)
        if inputs is None:
            raise MillraceError(
                "this context is not bound to an asset, so it has no inputs; pass it to an "
                "asset function, or build_asset_context(asset_key=...)"
            )
        for spec in inputs:
            if spec.param == input_name:
                key: AssetKey = spec.key
                return key
        known = ", ".join(spec.param for spec in inputs) or "none"
        raise MillraceError(
            f"asset '{self._name}' has no input '{input_name}' (its inputs: {known})"
        )

    def _recorded_run(self) -> tuple[Any, dict[str, str], dict[str, Any]]:
        fields = self.instance.run_fields(self.run_id)
        if fields is None:
            raise MillraceError(f"run {self.run_id} is not in {self.instance!r}")
        return fields

    def _built_run_config(self) -> dict[str, Any]:
        """build_asset_context's: the asset's own config, as a run would record it."""
        config = self.op_config
        if config is None or self._asset_key is None:
            return {}
        return {"ops": {self._asset_key.to_python_identifier(): {"config": config}}}

    @property
    def _name(self) -> str:
        return self._asset_key.to_user_string() if self._asset_key else "asset"

    def _require_partitions(self, what: str) -> None:
        if not self._partition_keys:
            raise MillraceError(
                f"asset '{self._name}' is not running for a partition: context.{what} exists "
                "only in partitioned runs"
            )

    def _input_keys(self, input_name: str) -> tuple[str, ...]:
        if input_name not in self._input_partitions:
            known = ", ".join(sorted(self._input_partitions)) or "none"
            raise MillraceError(
                f"asset '{self._name}' has no partitioned input '{input_name}' "
                f"(its partitioned inputs: {known})"
            )
        keys = self._input_partitions[input_name][0]
        if keys is None:
            raise MillraceError(
                f"input '{input_name}' of asset '{self._name}' is not partitioned: it reads "
                "the whole upstream"
            )
        return keys

    def _time_definition(self, definition: Any, input_name: str) -> Any:
        if not hasattr(definition, "time_window_for_partition_key"):
            what = f"input '{input_name}' of " if input_name else ""
            raise MillraceError(
                f"{what}asset '{self._name}' is not time-partitioned ({definition}): it has no "
                "time window"
            )
        return definition

    def add_output_metadata(
        self, metadata: Mapping[str, Any], output_name: str | None = None
    ) -> None:
        where = self._asset_key.to_user_string() if self._asset_key else "asset"
        normalized = normalize_metadata(metadata, where=where)
        multi = getattr(self.assets_def, "multi", None)
        if output_name is None or multi is None or output_name == self.assets_def.output_name:
            self.output_metadata.update(normalized)
            return
        if output_name not in multi.keys_by_output_name:
            names = ", ".join(multi.keys_by_output_name)
            raise MillraceError(
                f"add_output_metadata: multi_asset '{multi.name}' has no output "
                f"'{output_name}' (outputs: {names})"
            )
        self.metadata_by_output.setdefault(output_name, {}).update(normalized)

    def log_event(self, event: Any) -> None:
        """Report an ``AssetMaterialization`` of another asset, recorded with this step's."""
        from ..declarations.outputs import AssetMaterialization

        if not isinstance(event, AssetMaterialization):
            raise MillraceError(
                f"log_event takes an AssetMaterialization, not {type(event).__name__}"
            )
        self.logged_events.append(event)

    @property
    def selected_asset_keys(self) -> frozenset[AssetKey]:
        """The assets this step materializes: a multi-asset's selected outputs."""
        return self._selected

    @property
    def selected_output_names(self) -> frozenset[str]:
        multi = getattr(self.assets_def, "multi", None)
        if multi is None:
            return frozenset(("result",)) if self._selected else frozenset()
        return frozenset(o.output_name for o in multi.outputs if o.key in self._selected)

    @property
    def selected_asset_check_keys(self) -> frozenset[Any]:
        """The checks reported by this step: those its selected assets declare, or those a
        check step evaluates."""
        if self._selected_checks is not None:
            return self._selected_checks
        node = self.assets_def
        multi = getattr(node, "multi", None)
        specs = multi.check_specs if multi is not None else getattr(node, "check_specs", ())
        return frozenset(spec.key for spec in specs if spec.asset_key in self._selected)

    def add_asset_metadata(
        self,
        metadata: Mapping[str, Any],
        asset_key: Any = None,
        partition_key: str | None = None,
    ) -> None:
        """Merge ``metadata`` into this step's materialization: of every partition it runs
        for, or only of ``partition_key``'s."""
        if isinstance(self.assets_def, AssetChecksDefinition):
            raise MillraceError(
                f"add_asset_metadata was called by check '{self.assets_def.name}': only assets "
                "materialize; a check reports metadata in its AssetCheckResult"
            )
        if asset_key is not None and self._asset_key is not None:
            wanted = coerce_key(asset_key)
            if wanted != self._asset_key:
                raise MillraceError(
                    f"add_asset_metadata: asset '{wanted.to_user_string()}' is not being "
                    f"materialized here (this step materializes '{self._name}')"
                )
        normalized = normalize_metadata(metadata, where=self._name)
        if partition_key is None:
            self.output_metadata.update(normalized)
            return
        if not self._partition_keys:
            raise MillraceError(
                f"add_asset_metadata: asset '{self._name}' is not running for partitions, so "
                f"partition_key {partition_key!r} means nothing here"
            )
        if partition_key not in self._partition_keys:
            running = ", ".join(repr(k) for k in self._partition_keys[:5])
            more = len(self._partition_keys) - 5
            raise MillraceError(
                f"add_asset_metadata: asset '{self._name}' is not materializing partition "
                f"{partition_key!r} in this step (it runs {running}"
                f"{f' and {more:,} more' if more > 0 else ''})"
            )
        if len(self._partition_keys) == 1:
            self.output_metadata.update(normalized)
        else:
            self.partition_metadata.setdefault(partition_key, {}).update(normalized)

    def bind(self, asset_key: AssetKey, assets_def: Any) -> None:
        """Attach a context built by build_asset_context to the asset it is passed to (of a
        multi-asset, its first output, with every output selected)."""
        if self._asset_key is None:
            self._asset_key = asset_key
            self.assets_def = assets_def
            self.log = AssetLogger(self.log._sink, asset_key.to_user_string())
            multi = getattr(assets_def, "multi", None)
            self._selected = multi.keys if multi is not None else frozenset((asset_key,))
        key_range = self._key_range
        if key_range is not None and not self._partition_keys:
            definition = getattr(assets_def, "partitions_def", None)
            if definition is None:
                raise MillraceError(
                    f"asset '{asset_key.to_user_string()}' is not partitioned: a "
                    "partition_key_range means nothing to it"
                )
            self._partition_keys = tuple(definition.get_partition_keys_in_range(key_range))


def build_asset_context(
    resources: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    asset_key: Any = None,
    run_id: str = "test-run",
    partition_key_range: PartitionKeyRange | None = None,
    instance: Any = None,
    *,
    run_tags: Mapping[str, str] | None = None,
    asset_config: Mapping[str, Any] | None = None,
) -> AssetExecutionContext:
    """A context for calling an asset function directly in a unit test: ``run_tags`` are
    ``context.run.tags``, ``asset_config`` is ``context.op_config``. A partition key range
    needs the asset's definition to list its keys, so its keys are filled in when the
    context is passed to the asset."""
    from ..automation.run_status import DagsterRun, DagsterRunStatus

    if partition_key is not None and partition_key_range is not None:
        raise MillraceError("build_asset_context takes partition_key or partition_key_range")
    context = AssetExecutionContext(
        run_id=run_id,
        asset_key=coerce_key(asset_key) if asset_key is not None else None,
        resources=resources,
        partition_key=partition_key,
        instance=instance,
        config=dict(asset_config) if asset_config is not None else None,
        run=DagsterRun(run_id, DagsterRunStatus.STARTED, None, dict(run_tags or {})),
    )
    context._key_range = partition_key_range
    return context


# Dagster's op context; for an asset it is the same object, so either annotation works.
OpExecutionContext = AssetExecutionContext


class AssetCheckExecutionContext(AssetExecutionContext):
    """What ``def my_check(context)`` receives: the asset context, for the checks it runs."""
