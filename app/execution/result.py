"""RunResult: what ``materialize()``, ``execute_in_process`` and ``Runtime.submit()`` give
back once a run ends, with the accessors of Dagster's ``ExecuteInProcessResult``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..declarations.asset import AssetsDefinition
from ..declarations.job import JOB_NAME_TAG
from ..declarations.keys import AssetKey, coerce_key
from ..declarations.observations import AssetObservation
from ..declarations.source_asset import SourceAsset
from ..errors import InvariantViolationError, MaxRetriesExceededError
from ..events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    ErrorInfo,
    Event,
    RunFinished,
    RunStarted,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepSucceeded,
    partitions_of,
)
from .run_events import KeptEvents, RunEvents

# Dagster's views of events and runs load when first asked for: the CLI's report and
# Millrace's own accessors read Millrace's events, so a plain run never imports them.
if TYPE_CHECKING:
    from ..automation.event_log import AssetMaterialization
    from ..automation.run_status import DagsterRun

# Dagster's output name of an asset's one value.
DEFAULT_OUTPUT = "result"

NodeOutputs = Mapping[str, Mapping[str, AssetKey]]


def node_outputs(nodes: Iterable[Any]) -> dict[str, dict[str, AssetKey]]:
    """Each node's outputs by name, as Dagster names them: an ``@asset`` is the node named
    for its key (``a__b`` for ``a/b``) with the one output ``result``; a ``@multi_asset`` is
    its function's, with its outputs' names; an observable source asset is its observation's
    node, named for its key; other external assets are no node."""
    outputs: dict[str, dict[str, AssetKey]] = {}
    for node in nodes:
        if isinstance(node, SourceAsset) and node.is_observable:
            outputs[node.key.to_python_identifier()] = {DEFAULT_OUTPUT: node.key}
        if not isinstance(node, AssetsDefinition):
            continue
        for one in node.asset_nodes:  # a multi-asset's outputs share its op's name
            name = one.multi.name if one.multi is not None else one.key.to_python_identifier()
            outputs.setdefault(name, {})[one.output_name] = one.key
    return outputs


class RunResult:
    """The outcome of one run: status, events, and (when captured) each asset's value.

    The events it hands out (``all_events``, ``get_*_events()``) are ours with Dagster's
    ``DagsterEvent`` accessors added (``event_type_value``, ``step_key``, ...), copied at
    each call; a run kept in a store has them read from it then, not held in memory."""

    def __init__(
        self,
        run_id: str,
        status: RunStatus,
        events: Sequence[Event] | RunEvents,
        values: dict[tuple[AssetKey, str | None], Any] | None = None,
        exceptions: dict[tuple[AssetKey, str | None], BaseException] | None = None,
        nodes: NodeOutputs | None = None,
    ) -> None:
        self.run_id = run_id
        self.status = status
        # Where the run's events are read from: memory, or the store that committed them.
        self.recorded: RunEvents = (
            KeptEvents(run_id, events) if isinstance(events, Sequence) else events
        )
        self._values = values
        # By (asset key, partition key or None): what each failed step raised, or the
        # MaxRetriesExceededError it ended with.
        self.partition_exceptions = exceptions or {}
        # By node name and output name, the asset each output is; set by materialize() from
        # the definitions. Without it, each materialized key is its own node.
        self.nodes: NodeOutputs | None = nodes
        self._retained: Any = None

    def retain(self, owner: Any) -> None:
        """Keep ``owner`` alive as long as this result: what removes the home its events are
        read from once dropped (an ephemeral instance's temporary directory)."""
        self._retained = owner

    # -- Dagster's accessors ---------------------------------------------------------------

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCESS

    @property
    def dagster_run(self) -> DagsterRun:
        """The run as Dagster describes it: id, status, job name, tags and config."""
        from ..automation.run_status import DagsterRun, DagsterRunStatus

        found = self.recorded.events([RunStarted])
        started = found[0] if found and isinstance(found[0], RunStarted) else None
        tags = dict(started.tags) if started is not None else {}
        config = dict(started.config) if started is not None else {}
        status = DagsterRunStatus.of(self.status)
        return DagsterRun(self.run_id, status, tags.get(JOB_NAME_TAG), tags, config)

    @property
    def all_events(self) -> list[Any]:
        """Every event of the run, in order (log lines too, which Dagster keeps apart)."""
        return [self._view(e) for e in self.recorded.events()]

    def asset_value(self, asset_key: Any, partition_key: str | None = None) -> Any:
        """An asset's value; of a partitioned asset, the one partition this run made, or
        ``partition_key``'s."""
        key = coerce_key(asset_key)
        values = self._kept_values()
        if partition_key is not None:
            if (key, partition_key) not in values:
                raise InvariantViolationError(
                    f"no value for asset '{key.to_user_string()}' partition {partition_key!r} "
                    f"in run {self.run_id}"
                )
            return values[(key, partition_key)]
        made = [p for k, p in values if k == key]
        if not made:
            raise InvariantViolationError(
                f"no value for asset '{key.to_user_string()}' in run {self.run_id}"
            )
        if len(made) > 1:
            shown = ", ".join(repr(p) for p in made[:3]) + (", ..." if len(made) > 3 else "")
            raise InvariantViolationError(
                f"asset '{key.to_user_string()}' has {len(made)} partitions in run "
                f"{self.run_id} ({shown}): pass asset_value(key, partition_key=...)"
            )
        return values[(key, made[0])]

    def output_for_node(self, node_str: str, output_name: str = DEFAULT_OUTPUT) -> Any:
        """The value of output ``output_name`` of node ``node_str`` (an asset's node is named
        for its key: ``a__b`` for ``a/b``)."""
        outputs = self._node_outputs().get(node_str)
        if outputs is None:
            known = ", ".join(sorted(self._node_outputs())) or "none"
            raise InvariantViolationError(
                f"no node {node_str!r} in run {self.run_id} (nodes: {known})"
            )
        key = outputs.get(output_name)
        if key is None:
            raise InvariantViolationError(
                f"node {node_str!r} has no output {output_name!r} (outputs: "
                f"{', '.join(sorted(outputs))})"
            )
        return self.asset_value(key)

    def filter_events(self, event_filter: Callable[[Any], bool]) -> list[Any]:
        return [e for e in self.all_events if event_filter(e)]

    @property
    def all_node_events(self) -> list[Any]:
        """The step events (starts, successes, failures, materializations, check results)."""
        return [e for e in self.all_events if e.is_step_event]

    def events_for_node(self, node_name: str) -> list[Any]:
        """The step events of node ``node_name`` (each partition's, each attempt's)."""
        keys = set(self._node_outputs().get(node_name, {}).values())
        about = [self._view(e) for e in self.recorded.events(asset_keys=keys)]
        return [e for e in about if e.is_step_event and not e.check_name]

    def get_job_success_event(self) -> Any:
        return self._run_end("PIPELINE_SUCCESS")

    def get_job_failure_event(self) -> Any:
        return self._run_end("PIPELINE_FAILURE")

    def get_asset_materialization_events(self) -> list[Any]:
        return self._views_of(AssetMaterialized)

    def asset_materializations_for_node(self, node_name: str) -> list[AssetMaterialization]:
        """The ``AssetMaterialization`` of each asset node ``node_name`` materialized."""
        keys = set(self._node_outputs().get(node_name, {}).values())
        return [e.materialization for e in self._views_of(AssetMaterialized, keys)]

    def get_asset_observation_events(self) -> list[Any]:
        return self._views_of(AssetObserved)

    def asset_observations_for_node(self, node_name: str) -> list[AssetObservation]:
        """The ``AssetObservation`` of each observation node ``node_name`` made."""
        keys = set(self._node_outputs().get(node_name, {}).values())
        return [
            e.asset_observation_data.asset_observation for e in self._views_of(AssetObserved, keys)
        ]

    def get_asset_check_evaluations(self) -> list[Any]:
        return self._views_of(AssetCheckEvaluated)

    def get_step_success_events(self) -> list[Any]:
        return self._views_of(StepSucceeded)

    def get_step_failure_events(self) -> list[Any]:
        """The failures that ended a step (not those it was retried after)."""
        return [self._view(e) for e in self.step_failures()]

    def get_failed_step_keys(self) -> set[str]:
        return {e.step_key for e in self.get_step_failure_events()}

    def get_step_skipped_events(self) -> list[Any]:
        return self._views_of(StepSkipped)

    # -- Millrace's ------------------------------------------------------------------------

    def step_failures(self) -> list[StepFailed]:
        """The failures that ended a step, as Millrace's events (``get_step_failure_events``
        without Dagster's accessors)."""
        return [
            e
            for e in self.recorded.events([StepFailed])
            if isinstance(e, StepFailed) and not e.will_retry
        ]

    @property
    def exceptions(self) -> dict[AssetKey, BaseException]:
        """What each failed asset raised (its first failed partition's, if partitioned)."""
        out: dict[AssetKey, BaseException] = {}
        for (key, _), exc in self.partition_exceptions.items():
            raised = exc.__cause__ if isinstance(exc, MaxRetriesExceededError) else exc
            out.setdefault(key, raised or exc)
        return out

    @property
    def failures(self) -> dict[AssetKey, ErrorInfo]:
        """Each failed asset's error (its first failed partition's, if partitioned)."""
        out: dict[AssetKey, ErrorInfo] = {}
        for e in self.step_failures():
            if e.asset_key is not None:
                out.setdefault(e.asset_key, e.error)
        return out

    @property
    def failed_partitions(self) -> dict[AssetKey, list[str]]:
        """The partitions whose step failed, per asset."""
        out: dict[AssetKey, list[str]] = {}
        for e in self.step_failures():
            if e.asset_key is not None and not e.check_name:
                keys = [p for p in partitions_of(e) if p is not None]
                if keys:
                    out.setdefault(e.asset_key, []).extend(keys)
        return out

    @property
    def materialized_keys(self) -> list[AssetKey]:
        return [e.asset_key for e in self.recorded.events([AssetMaterialized]) if e.asset_key]

    def __repr__(self) -> str:
        return f"<RunResult {self.run_id} {self.status.value}>"

    # -- helpers ---------------------------------------------------------------------------

    def _view(self, event: Event) -> Any:
        """``event`` with Dagster's accessors."""
        from .dagster_events import dagster_view

        raised = None
        if isinstance(event, StepFailed) and not event.will_retry and event.asset_key:
            raised = self.partition_exceptions.get((event.asset_key, event.partition_key))
            if isinstance(raised, MaxRetriesExceededError):
                raised = raised.__cause__  # what the last attempt raised
        return dagster_view(event, raised)

    def _run_end(self, event_type_value: str) -> Any:
        for e in self.recorded.events([RunFinished]):
            view = self._view(e)
            if view.event_type_value == event_type_value:
                return view
        raise InvariantViolationError(
            f"run {self.run_id} has no {event_type_value} event: it ended {self.status.value}"
        )

    def _views_of(
        self, kind: type[Event], asset_keys: Collection[AssetKey] | None = None
    ) -> list[Any]:
        return [self._view(e) for e in self.recorded.events([kind], asset_keys)]

    def _kept_values(self) -> dict[tuple[AssetKey, str | None], Any]:
        if self._values is None:
            raise InvariantViolationError(
                f"run {self.run_id} did not keep values in memory; load them from storage "
                "instead (Definitions.load_asset_value)"
            )
        return self._values

    def _node_outputs(self) -> NodeOutputs:
        if self.nodes is not None:
            return self.nodes
        made = {k for k, _ in self._values or {}}
        made.update(
            e.asset_key
            for e in self.recorded.events([AssetMaterialized, AssetObserved])
            if e.asset_key
        )
        return {key.to_python_identifier(): {DEFAULT_OUTPUT: key} for key in made}
