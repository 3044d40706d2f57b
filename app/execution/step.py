"""The body of one step, in one implementation for ``def`` and ``async def`` functions.

A step loads the inputs no upstream handed over in memory, calls the user's function, checks
what it returned against its annotations, stores the value through its IO manager and
gathers metadata; a check step turns whatever its function did into a verdict. Launchers
(in-process threads and loop, later Dask) decide only *where* this runs.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..declarations.asset import AssetsDefinition, returns_none
from ..declarations.checks import (
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    truth,
)
from ..declarations.control_flow import RetryRequested
from ..declarations.keys import AssetKey
from ..declarations.metadata import MetadataValue, normalize_metadata
from ..declarations.outputs import AssetMaterialization, MaterializeResult, Output
from ..errors import MillraceError, MissingInputError, TypeCheckError
from ..events import AssetObserved, ErrorInfo, Event, LogMessage
from ..frames.kind import frame_kind
from ..frames.metadata import frame_metadata
from ..storage.io_context import DEFAULT_OUTPUT, InputContext, OutputContext
from ..storage.io_managers import InputManager, IOManager
from .cancel import CancelToken
from .context import AssetCheckExecutionContext, AssetExecutionContext, LogSink, Resources
from .failure import error_info
from .multi_outputs import AddedMetadata, Yielded, split_outputs
from .output import OutputCapture
from .plan import Step, StepInput
from .typecheck import column_schema_differences, type_mismatch


@dataclass(slots=True)
class RunServices:
    """What every step of one run shares: its id, resources and a thread-safe event sink."""

    run_id: str
    resources: Mapping[str, Any]
    emit: Callable[[Event], None]
    # The latest materializations from before this run, of the assets (partitions) it reads,
    # checks or writes, by (asset key, partition key or None).
    history: Mapping[tuple[AssetKey, str | None], Any] = field(default_factory=dict)
    configs: Mapping[AssetKey, Any] = field(default_factory=dict)  # each asset's Config
    cancel: CancelToken = field(default_factory=CancelToken)
    instance: Any = None  # ``context.instance``: dynamic partitions
    view: Resources = field(init=False)  # ``context.resources``, one per run

    def __post_init__(self) -> None:
        self.view = Resources(self.resources)


@dataclass(slots=True)
class StepRequest:
    step: Step
    args: dict[str, Any]  # values handed over in memory; every other input loads from storage
    # Partitioned inputs: the partitions handed over in memory, by parameter and key.
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    attempt: int = 1
    committed: bool = False  # its value is stored: its outcome must be reported, canceled or not
    # A multi-asset follower's: what its leader's call produced for its output.
    given: Any = None


@dataclass(slots=True)
class CheckOutcome:
    name: str
    result: AssetCheckResult
    blocking: bool
    error: ErrorInfo | None = None  # the check raised; ``result`` then says it failed
    asset_key: AssetKey | None = None  # a multi-asset check's: the asset it checks

    @property
    def blocks(self) -> bool:
        """A failed ERROR check that gates its asset's downstream."""
        return (
            self.blocking
            and not self.result.passed
            and (self.result.severity is AssetCheckSeverity.ERROR)
        )


@dataclass(slots=True)
class PartOutcome:
    """What a step for several partitions stored of one of them."""

    partition_key: str
    metadata: dict[str, MetadataValue]
    content_version: str | None = None
    inline: bytes | None = None
    stored: bool = False


@dataclass(slots=True)
class StepOutcome:
    value: Any = None
    stored: bool = False  # False for checks, MaterializeResult and ``-> None``: nothing to pass
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    data_version: str | None = None  # a DataVersion the asset returned
    content_version: str | None = None  # the hash of the stored bytes, from the IO manager
    duration: float = 0.0
    checks: list[CheckOutcome] = field(default_factory=list)
    inline: bytes | None = None  # the stored value's bytes, for the event store to commit
    parts: list[PartOutcome] | None = None  # a step for several partitions: each one's
    # A multi-asset leader's: what its call produced for each follower's output (absent: not
    # produced, an optional output), and False if it did not produce its own.
    siblings: dict[AssetKey, Yielded] = field(default_factory=dict)
    produced: bool = True
    # Materializations of other assets the function reported (yielded, or log_event-ed).
    reported: list[AssetMaterialization] = field(default_factory=list)
    observations: list[AssetObserved] = field(default_factory=list)  # an observation step's


def run_step(services: RunServices, request: StepRequest) -> StepOutcome:
    """One attempt of a ``def`` step, on a worker thread; what it prints is its log."""
    body = StepBody(services, request)
    try:
        with body.output.capturing():
            body.load_inputs()
            try:
                result = body.invoke()
                fn = body.step.definition.fn
                if body.step.leader is None and inspect.isgeneratorfunction(fn):
                    result = Yielded(result)
            except Exception as exc:
                return body.check_failed(exc)
            return body.finish(result)
    finally:
        body.output.close()


async def run_async_step(
    services: RunServices,
    request: StepRequest,
    offload: Callable[..., Awaitable[Any]],
) -> StepOutcome:
    """One attempt of an ``async def`` step: computed on the loop, storage I/O ``offload``-ed;
    what it prints, there or offloaded, is its log."""
    body = StepBody(services, request)
    try:
        if body.needs_inputs:
            await offload(body.output.call, body.load_inputs)
        try:
            with body.output.capturing():
                produced = body.invoke()
                if inspect.isasyncgenfunction(body.step.definition.fn):
                    result: Any = Yielded([item async for item in produced])
                else:
                    result = await produced
        except Exception as exc:
            return body.check_failed(exc)
        if body.step.check is not None:
            return body.finish(result)
        finishing = asyncio.ensure_future(offload(body.output.call, body.finish, result))
        try:
            return await asyncio.shield(finishing)
        except asyncio.CancelledError:
            # Canceled while storing: the store refuses unless it had begun, and a value that
            # was stored must be reported, or the history would not match the storage.
            return await finishing
    finally:
        body.output.close()


class StepBody:
    """One attempt of one step; ``load_inputs`` and ``finish`` do I/O, ``invoke`` calls
    the user's function."""

    __slots__ = (
        "computing",
        "context",
        "kwargs",
        "output",
        "request",
        "services",
        "started",
        "step",
    )

    def __init__(self, services: RunServices, request: StepRequest) -> None:
        self.started = time.perf_counter()
        self.services, self.request, self.step = services, request, request.step
        self.kwargs = request.args
        self.output = OutputCapture(log_sink(services, request))
        self.context = step_context(services, request, self.output.log)
        self.computing = 0.0

    @property
    def needs_inputs(self) -> bool:
        return needs_loading(self.services, self.request)

    def load_inputs(self) -> None:
        self.services.cancel.check()  # queued behind other work: a canceled run starts nothing
        if self.needs_inputs:
            self.kwargs = _load_inputs(self.services, self.request, self.context.log)

    def invoke(self) -> Any:
        """Check the inputs against their annotations and call the function."""
        step = self.step
        if step.leader is not None:
            return self.request.given
        _check_inputs(step, self.kwargs)
        call = _call_args(self.services, step, self.kwargs, self.context)
        self.computing = time.perf_counter()
        return step.definition.fn(**call)

    def check_failed(self, exc: Exception) -> StepOutcome:
        """A check whose function raised is a failed check; an asset's error, and a
        RetryRequested from either, propagates (the executor decides on retries)."""
        if self.step.check is None or isinstance(exc, RetryRequested):
            raise exc
        return _check_outcome(self.step, None, exc, self.started)

    def finish(self, result: Any) -> StepOutcome:
        compute = time.perf_counter() - self.computing
        if self.step.check is not None:
            return _check_outcome(self.step, result, None, self.started)
        if self.step.group:
            produced = split_outputs(self.step, result, self.context)
            own = produced.pop(self.step.key, None)
            if own is None:
                return StepOutcome(siblings=produced, produced=False)
            outcome = _store(self.services, self.request, self.context, own, self.started, compute)
            outcome.siblings = produced
            return outcome
        return _store(self.services, self.request, self.context, result, self.started, compute)


def log_sink(services: RunServices, request: StepRequest) -> LogSink:
    """Where the step's log records go: LOG events of the run, about its asset or check."""
    step = request.step
    emit, run_id, key, partition = services.emit, services.run_id, step.key, step.partition_key
    check_name = step.check.name if step.check else None

    def sink(level: str, message: str) -> None:
        emit(
            LogMessage(
                run_id=run_id,
                asset_key=key,
                partition_key=partition,
                check_name=check_name,
                level=level,
                message=message,
            )
        )

    return sink


def step_context(
    services: RunServices, request: StepRequest, sink: LogSink
) -> AssetExecutionContext:
    step = request.step
    kind = AssetExecutionContext if step.check is None else AssetCheckExecutionContext
    return kind(
        run_id=services.run_id,
        asset_key=step.key,
        resources=services.view,
        partition_key=step.partition_key,
        log_sink=sink,
        retry_number=request.attempt - 1,
        assets_def=step.node,
        previous_materialization=services.history.get((step.key, step.partition_key)),
        cancel=services.cancel,
        partition_keys=step.partitions,
        input_partitions={
            spec.param: (spec.partitions, spec.partitions_def)
            for spec in step.inputs
            if spec.partitions is not None
        },
        instance=services.instance,
        config=services.configs.get(step.key),
        selected_asset_keys=step.group or (step.key,),
        selected_asset_check_keys=None if step.check is None else step.check_group or (step.check,),
    )


def _call_args(
    services: RunServices,
    step: Step,
    kwargs: dict[str, Any],
    context: AssetExecutionContext,
) -> dict[str, Any]:
    """Upstream values plus what the signature asks for: context, resources, config."""
    special = step.definition.special
    if special.context is None and not special.resources and special.config is None:
        return kwargs
    call = dict(kwargs)
    if special.context is not None:
        call[special.context] = context
    for name in special.resources:
        call[name] = services.resources[name]
    if special.config is not None:
        call[special.config[0]] = services.configs[step.key]
    return call


def _io_manager(services: RunServices, key: str) -> IOManager:
    manager = services.resources[key]
    if not isinstance(manager, IOManager):
        raise MillraceError(
            f"resource {key!r} is used as an IO manager but is {manager!r}: an IO manager "
            "is an IOManager (or what an @io_manager function or ConfigurableIOManagerFactory "
            "makes)"
        )
    return manager


def _input_manager(services: RunServices, step: Step, spec: StepInput) -> InputManager:
    manager = services.resources.get(spec.io_manager_key)
    if manager is None:
        have = ", ".join(sorted(services.resources)) or "none"
        raise MillraceError(
            f"{_kind(step)}'{step.name}': input '{spec.param}' is loaded by "
            f"'{spec.io_manager_key}', which is not a resource of this run (resources: {have})"
        )
    if not isinstance(manager, InputManager):
        raise MillraceError(
            f"resource {spec.io_manager_key!r} loads input '{spec.param}' but is {manager!r}: "
            "it must be an InputManager or IOManager"
        )
    return manager


def _loads_handed(services: RunServices, spec: StepInput) -> bool:
    """A value handed over in memory stands for a load only with a manager that gives back
    what it stored; any other manager is asked, as Dagster always asks."""
    manager = services.resources.get(spec.io_manager_key)
    return bool(getattr(manager, "returns_what_it_stored", False))


def needs_loading(services: RunServices, request: StepRequest) -> bool:
    """Some input of the step is to be loaded by its manager."""
    return any(
        spec.param not in request.args or not _loads_handed(services, spec)
        for spec in request.step.inputs
    )


def _load_inputs(services: RunServices, request: StepRequest, log: Any) -> dict[str, Any]:
    """Inputs from their managers, but values handed over in memory where the manager gives
    back what it stored (the upstream ran earlier in this run). Under Millrace's own
    managers several partitions of one input load one by one and arrive as ``{partition
    key: value}``, in the upstream's order; any other manager loads them in one call, its
    context's ``asset_partition_keys``, and returns what the input receives."""
    step = request.step
    kwargs = dict(request.args)
    for spec in step.inputs:
        own = _loads_handed(services, spec)
        if own and spec.param in kwargs:
            continue
        if spec.partitions is None or not own:
            try:
                kwargs[spec.param] = _load(services, step, spec, spec.partitions, log)
            except FileNotFoundError as exc:
                error = _never_materialized(step, spec, list(spec.partitions or ()))
                if not own:  # the manager's own words say what it looked for
                    error.add_note(f"input manager '{spec.io_manager_key}': {exc}")
                raise error from None
            continue
        handed = request.parts.get(spec.param, {})
        values, missing = {}, []
        for key in spec.partitions:
            try:
                values[key] = (
                    handed[key] if key in handed else _load(services, step, spec, (key,), log)
                )
            except FileNotFoundError:
                missing.append(key)
        if missing:
            raise _never_materialized(step, spec, missing)
        if spec.as_dict:
            kwargs[spec.param] = values
        else:
            kwargs[spec.param] = next(iter(values.values()))
    return kwargs


def _load(
    services: RunServices,
    step: Step,
    spec: StepInput,
    partitions: tuple[str, ...] | None,
    log: Any,
) -> Any:
    """What the input's manager loads of ``partitions`` of the upstream (None: it is not
    partitioned); FileNotFoundError if it finds nothing stored."""
    upstream = OutputContext(
        spec.key,
        name=DEFAULT_OUTPUT,
        asset_partition_keys=partitions,
        asset_partitions_def=spec.partitions_def,
        definition_metadata=spec.upstream_metadata,
        log=log,
    )
    context = InputContext(
        spec.key,
        name=spec.param,
        annotation=None if spec.annotation is _EMPTY else spec.annotation,
        dagster_type=_type_of(spec.dagster_type, spec.annotation),
        partition_key=step.partition_key,
        asset_partition_keys=partitions,
        asset_partitions_def=spec.partitions_def,
        metadata=spec.metadata,
        upstream_output=upstream,
        resources=services.view,
        log=log,
        instance=services.instance,
    )
    return _input_manager(services, step, spec).load_input(context)


def _never_materialized(step: Step, spec: StepInput, partitions: list[str]) -> MissingInputError:
    """What was never stored, and the command that stores it."""
    kind = "check" if step.check else "asset"
    up = spec.key.to_user_string()
    if not partitions:
        return MissingInputError(
            f"{kind} '{step.name}' needs '{up}', which has never been materialized. "
            f"Materialize it first, or select it too (e.g. --select +{step.key.to_user_string()})."
        )
    shown = ", ".join(repr(p) for p in partitions[:5])
    if len(partitions) > 5:
        shown += f" and {len(partitions) - 5:,} more"
    what = "partition" if len(partitions) == 1 else f"{len(partitions):,} partitions"
    return MissingInputError(
        f"{kind} '{step.name}' needs '{up}' {what} {shown}, never materialized. "
        f"Materialize {'it' if len(partitions) == 1 else 'them'} first: "
        f"`millrace materialize --select {up} --partition "
        f"{partitions[0]}`, or `millrace backfill --select {up} --missing`."
    )


def _check_outcome(
    step: Step, result: Any, exc: BaseException | None, started: float
) -> StepOutcome:
    """A check's verdict; a check that raised or returned nonsense is a failed check."""
    node = step.node
    assert isinstance(node, AssetChecksDefinition)
    if step.check_group:
        return StepOutcome(
            checks=_group_outcomes(step, result, exc), duration=time.perf_counter() - started
        )
    error = None
    if exc is None:
        try:
            result = _as_check_result(result, node.name)
        except Exception as bad:
            exc = bad
    if exc is not None:
        error = error_info(exc)
        result = AssetCheckResult(passed=False, description=f"the check raised {error}")
    outcome = CheckOutcome(node.name, result, node.blocking, error)
    return StepOutcome(checks=[outcome], duration=time.perf_counter() - started)


def _group_outcomes(step: Step, result: Any, exc: BaseException | None) -> list[CheckOutcome]:
    """Each selected check of a multi-asset check: what the call reported for it, matched by
    asset key and check name; a check it did not report, or a call that raised, fails."""
    multi = step.definition.multi
    label = f"multi_asset_check '{multi.name}' ({multi.source})"
    reported: dict[AssetCheckKey, AssetCheckResult] = {}
    error = error_info(exc) if exc is not None else None
    if exc is None:
        items = result if isinstance(result, list) else [result]
        try:
            for item in items:
                if not isinstance(item, AssetCheckResult):
                    raise TypeError(
                        f"{label} produced {type(item).__name__}; yield AssetCheckResult"
                    )
                reported[_check_key_of(item, step.check_group, label)] = item
        except Exception as bad:
            error = error_info(bad)
    outcomes = []
    checks = {c.key: c for c in multi.checks}
    for key in step.check_group:
        node = checks[key]
        got = reported.get(key)
        if got is None:
            why = f"the check raised {error}" if error else "the function did not report it"
            got = AssetCheckResult(passed=False, description=why)
        outcomes.append(CheckOutcome(key.name, got, node.blocking, error, key.asset_key))
    return outcomes


def _check_key_of(
    result: AssetCheckResult, selected: tuple[AssetCheckKey, ...], label: str
) -> AssetCheckKey:
    matches = [
        k
        for k in selected
        if (result.asset_key is None or k.asset_key == result.asset_key)
        and (result.check_name is None or k.name == result.check_name)
    ]
    if len(matches) != 1:
        said = f"asset_key={result.asset_key}, check_name={result.check_name!r}"
        which = "matches none" if not matches else "matches several"
        raise MillraceError(
            f"{label} reported AssetCheckResult({said}), which {which} of the checks this run "
            f"selected ({', '.join(k.to_user_string() for k in selected)}); name its "
            "asset_key and check_name"
        )
    return matches[0]


def _as_check_result(result: Any, name: str) -> AssetCheckResult:
    if isinstance(result, AssetCheckResult):
        return result
    if isinstance(result, bool) or type(result).__module__ == "numpy":
        return AssetCheckResult(passed=truth(result, where=f"check {name}"))
    raise TypeError(f"check '{name}' returned {type(result).__name__}; return AssetCheckResult")


def _store(
    services: RunServices,
    request: StepRequest,
    context: AssetExecutionContext,
    result: Any,
    started: float,
    compute: float,
) -> StepOutcome:
    """Unpack what the asset returned, check it against its declared types, hand its value
    to the IO manager, gather metadata (the asset's own wins over the automatic).

    Storing is the last thing that can fail: once a value is stored, its materialization is
    reported, so the history always names what the storage holds."""
    step = request.step
    asset = step.asset
    outcome = StepOutcome(metadata=dict(context.output_metadata), reported=context.logged_events)
    has_value, value, check_results = _unpack(step, result, outcome)
    automatic = {"millrace/compute_seconds": MetadataValue.float(round(compute, 6))}
    outcome.checks = _match_checks(asset, check_results)
    if len(step.partitions) > 1:
        _store_parts(services, request, context, has_value, value, outcome, automatic)
        for part in outcome.parts or ():  # add_asset_metadata(partition_key=...)'s
            part.metadata.update(context.partition_metadata.get(part.partition_key, {}))
        outcome.duration = time.perf_counter() - started
        return outcome
    as_range = (
        has_value
        and takes_ranges(asset)
        and isinstance(value, Mapping)
        and set(value) == set(step.partitions)
    )
    if as_range:  # an asset that can run for a range returns {key: value}, for one key too
        _check_output(step, value)
        value = value[step.partitions[0]]
    if has_value:
        _check_output(step, value, annotation_too=not as_range)
        if frame_kind(value) == "lazy":
            value = value.collect()
        if value is not None or not returns_none(asset.output_annotation):
            automatic.update(frame_metadata(value) or {})
            out = _output_context(services, step, step.partition_key, context)
            manager = _io_manager(services, asset.io_manager_key)
            with services.cancel.committing():
                try:
                    manager.handle_output(out, value)
                except Exception as exc:
                    if inspect.isgenerator(value) or inspect.isasyncgen(value):
                        raise MillraceError(
                            f"asset '{step.name}' returned a generator object, which cannot be "
                            "stored; return a list, or make the asset a generator function "
                            "that yields Output(...)"
                        ) from exc
                    exc.add_note(
                        f"while storing the value of asset '{step.name}' "
                        f"({type(value).__name__}) with IO manager '{asset.io_manager_key}'"
                    )
                    raise
                request.committed = True
            automatic.update(out.output_metadata)
            warning = out.output_metadata.get("millrace/storage_warning")
            if warning is not None:  # e.g. a frame Parquet cannot hold, pickled instead
                context.log.warning(str(warning.value))
            outcome.inline = out.inline_value
            outcome.content_version = out.data_version
            outcome.value, outcome.stored = value, True
    outcome.metadata = {**automatic, **outcome.metadata}
    outcome.duration = time.perf_counter() - started
    return outcome


def _output_context(
    services: RunServices, step: Step, partition_key: str | None, context: AssetExecutionContext
) -> OutputContext:
    """What the IO manager is told about the value of ``partition_key`` (or the asset)."""
    asset = step.asset
    return OutputContext(
        step.key,
        step_key=step.name,
        name=DEFAULT_OUTPUT,
        run_id=services.run_id,
        partition_key=partition_key,
        asset_partitions_def=asset.partitions_def,
        definition_metadata=asset.metadata,
        dagster_type=_type_of(None, asset.output_annotation),
        resources=services.view,
        log=context.log,
    )


def _type_of(declared: Any, annotation: Any) -> Any:
    """An IO context's dagster_type: the declared one, else the annotation, else Any."""
    if declared is not None:
        return declared
    return Any if annotation is _EMPTY or annotation is None else annotation


def _store_parts(
    services: RunServices,
    request: StepRequest,
    context: AssetExecutionContext,
    has_value: bool,
    value: Any,
    outcome: StepOutcome,
    automatic: dict[str, MetadataValue],
) -> None:
    """A step for several partitions returns ``{partition key: value}`` for exactly its
    partitions, each stored as that partition (or no value: MaterializeResult, None)."""
    step = request.step
    asset = step.asset
    shared = {**automatic, **outcome.metadata}
    if not has_value or (value is None and returns_none(asset.output_annotation)):
        outcome.parts = [PartOutcome(k, dict(shared)) for k in step.partitions]
        return
    if not isinstance(value, Mapping) or set(value) != set(step.partitions):
        got = (
            f"keys {sorted(map(str, value))[:3]}..."
            if isinstance(value, Mapping)
            else type(value).__name__
        )
        raise MillraceError(
            f"asset '{step.name}' runs for {len(step.partitions)} partitions at once "
            f"(context.partition_keys): return {{partition key: value}} with exactly those "
            f"keys, or MaterializeResult; got {got}"
        )
    _check_output(step, value)
    manager = _io_manager(services, asset.io_manager_key)
    values = []
    for key in step.partitions:
        part = value[key]
        _check_output(step, part, annotation_too=False)
        values.append(part.collect() if frame_kind(part) == "lazy" else part)
    parts = []
    # All the partitions or none: once the first is stored, the rest are, canceled or not.
    with services.cancel.committing():
        for key, part in zip(step.partitions, values, strict=True):
            out = _output_context(services, step, key, context)
            manager.handle_output(out, part)
            request.committed = True
            metadata = {**automatic, **(frame_metadata(part) or {}), **out.output_metadata}
            parts.append(
                PartOutcome(
                    key,
                    {**metadata, **outcome.metadata},
                    out.data_version,
                    out.inline_value,
                    True,
                )
            )
    outcome.parts = parts


def takes_ranges(asset: AssetsDefinition) -> bool:
    """Its backfill policy lets one step materialize several partitions."""
    policy = asset.backfill_policy
    return policy is not None and policy.max_partitions_per_run != 1


def _check_inputs(step: Step, kwargs: dict[str, Any]) -> None:
    for spec in step.inputs:
        if spec.annotation is not _EMPTY:
            problem = type_mismatch(kwargs[spec.param], spec.annotation)
            if problem is not None:
                raise TypeCheckError(_kind(step) + f"'{step.name}': input '{spec.param}' {problem}")


def _check_output(step: Step, value: Any, *, annotation_too: bool = True) -> None:
    """The value against the return annotation, a frame against a declared column schema."""
    asset = step.asset
    annotation = asset.output_annotation
    if annotation_too and annotation is not _EMPTY and annotation not in _RESULT_TYPES:
        problem = type_mismatch(value, annotation)
        if problem is not None:
            raise TypeCheckError(f"asset '{step.name}': return value {problem}")
    declared = asset.metadata.get("dagster/column_schema")
    if declared is not None and frame_kind(value) is not None:
        differences = column_schema_differences(value, declared.value)
        if differences:
            raise TypeCheckError(
                f"asset '{step.name}' does not match its declared dagster/column_schema:\n  - "
                + "\n  - ".join(differences)
            )


def _kind(step: Step) -> str:
    return "check " if step.check else "asset "


_EMPTY = inspect.Parameter.empty
# Annotations that describe the wrapper, not the value inside.
_RESULT_TYPES = (Output, MaterializeResult, AssetCheckResult)


def _unpack(
    step: Step, result: Any, outcome: StepOutcome
) -> tuple[bool, Any, list[AssetCheckResult]]:
    """(has a value, the value, check results) from a return value or a generator's items."""
    items = result if isinstance(result, Yielded) else [result]
    has_value, value, checks = False, None, []
    for item in items:
        if isinstance(item, AssetCheckResult):
            checks.append(item)
        elif isinstance(item, MaterializeResult):
            outcome.metadata.update(normalize_metadata(item.metadata, where=step.name))
            outcome.data_version = _version(item.data_version)
            checks.extend(item.check_results)
        elif isinstance(item, Output):
            has_value, value = True, item.value
            outcome.metadata.update(normalize_metadata(item.metadata, where=step.name))
            outcome.data_version = _version(item.data_version)
        elif isinstance(item, AddedMetadata):
            outcome.metadata.update(item)
        elif isinstance(item, AssetMaterialization):
            outcome.reported.append(item)
        else:
            has_value, value = True, item
    return has_value, value, checks


def _version(data_version: Any) -> str | None:
    return str(data_version) if data_version is not None else None


def _match_checks(asset: AssetsDefinition, results: list[AssetCheckResult]) -> list[CheckOutcome]:
    """Pair results an asset reported with its check_specs; a declared, unreported check fails."""
    if not results and not asset.check_specs:
        return []
    specs = {spec.name: spec for spec in asset.check_specs}
    outcomes: dict[str, CheckOutcome] = {}
    for result in results:
        name = result.check_name or (next(iter(specs)) if len(specs) == 1 else None)
        if name is None or name not in specs:
            declared = ", ".join(specs) or "none"
            raise MillraceError(
                f"asset '{asset.key.to_user_string()}' reported a result for check "
                f"{result.check_name!r}, which its check_specs do not declare "
                f"(declared: {declared})"
            )
        outcomes[name] = CheckOutcome(name, result, specs[name].blocking)
    for name, spec in specs.items():
        if name not in outcomes:
            missing = AssetCheckResult(
                passed=False, description="the asset did not report a result for this check"
            )
            outcomes[name] = CheckOutcome(name, missing, spec.blocking)
    return list(outcomes.values())
