"""One run, from its plan to RUN_FINISHED: history, leases, resources, the executor.

``RunHandle`` is what callers hold; ``drive`` is the task behind it. Everything a run needs
comes in a ``RunEnvironment`` built by the Runtime, so this module never reaches back up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..asset_graph import AssetGraph
from ..declarations.asset import DEFAULT_IO_MANAGER_KEY, AssetsDefinition, RetryPolicy
from ..declarations.keys import AssetKey
from ..errors import MillraceError, ResourceSetupError
from ..events import (
    Event,
    EventBus,
    LogMessage,
    RunFinished,
    RunOrigin,
    RunStarted,
    RunStatus,
    StepSkipped,
    StepWaiting,
)
from ..execution.executor import ExecutionSummary, Executor
from ..execution.failure import error_info
from ..execution.launcher import StepLauncher
from ..execution.locks import WriteLocks
from ..execution.plan import ExecutionPlan
from ..execution.result import RunResult
from ..execution.run_events import KeptEvents, StoredEvents
from ..execution.slots import StepSlots
from ..execution.step import RunServices
from ..storage.event_store import EventStore
from ..storage.records import MaterializationRecord
from .queue import RunQueue

LEASE_POLL = 0.1  # seconds between looks at another process's leases (no cross-process signal)


class RunHandle:
    """A submitted run: ``await handle`` for its RunResult, ``handle.cancel()`` to stop it."""

    def __init__(
        self,
        run_id: str,
        plan: ExecutionPlan,
        tags: Mapping[str, str],
        origin: RunOrigin = RunOrigin.MANUAL,
    ) -> None:
        self.run_id = run_id
        self.plan = plan
        self.tags = dict(tags)
        self.origin = origin
        self._task: asyncio.Task[RunResult] | None = None
        self._turn: asyncio.Future[None] | None = None  # its wait in the run queue
        self._executor: Executor | None = None
        self._bus: EventBus | None = None
        self._cancel_requested = False

    def cancel(self) -> None:
        """Launch no new step and store no new value; running async steps are canceled,
        threads finish what they compute and their values are discarded."""
        self._cancel_requested = True
        if self._turn is not None:
            self._turn.cancel()  # still queued: it never starts
        if self._executor is not None:
            self._executor.cancel()

    async def settle(self) -> None:
        """After ``cancel()``: wait until the run stores and publishes nothing more."""
        if self._executor is not None:
            await self._executor.settle()
        if self._bus is not None:
            self._bus.drain()  # what its workers published reaches subscribers before this returns

    @property
    def canceled(self) -> bool:
        return self._cancel_requested

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def __await__(self) -> Generator[Any, None, RunResult]:
        assert self._task is not None
        return self._task.__await__()

    def __repr__(self) -> str:
        state = "done" if self.done() else "running"
        return f"<RunHandle {self.run_id[:8]} {state}, {len(self.plan)} steps>"


@dataclass
class RunEnvironment:
    """What a run uses of the Runtime that started it."""

    graph: AssetGraph
    code_versions: Mapping[AssetKey, str]
    resources: Mapping[str, Any]
    bus: EventBus
    store: EventStore | None
    launcher: StepLauncher
    locks: WriteLocks
    max_concurrency: int
    queue: RunQueue
    slots: StepSlots
    capture_values: bool = False
    run_config: dict[str, Any] = field(default_factory=dict)
    configs: dict[AssetKey, Any] = field(default_factory=dict)
    instance: Any = None  # dynamic partitions, for ``context.instance``
    job_retry_policy: RetryPolicy | None = None  # the job's op_retry_policy


async def drive(handle: RunHandle, env: RunEnvironment) -> RunResult:
    run_id, plan, bus, store = handle.run_id, handle.plan, env.bus, env.store
    if not await _turn(handle, env.queue):
        return _canceled_in_queue(handle, env)
    # Where the store commits the run's events, its result reads them back from there.
    events = StoredEvents(store.path, run_id) if store is not None else KeptEvents(run_id)
    bus.bind(asyncio.get_running_loop())  # steps publish from worker threads
    handle._bus = bus
    unsubscribe = bus.subscribe(events.collect)
    publish = bus.publish
    try:
        publish(
            RunStarted(
                run_id=run_id,
                partition_key=plan.partition_key,
                selection=tuple(step.name for step in plan.steps),
                config=_resolved_run_config(env.run_config, env.configs),
                tags=handle.tags,
                origin=handle.origin,
            )
        )
        if store is not None:
            await store.flush()  # a run killed from here on is still in the history
        from ..execution.output import capturing_output

        try:
            with capturing_output():  # what the run's code prints is its log, not stdout's
                summary = await _execute(handle, env)
        except Exception as exc:  # resources failed to set up, or a Millrace bug
            message = str(exc) if isinstance(exc, MillraceError) else repr(exc)
            publish(RunFinished(run_id=run_id, status=RunStatus.FAILURE, message=message))
            raise
        finally:
            if store is not None:
                await store.flush()
    finally:
        unsubscribe()
        env.queue.release(run_id)
    if store is not None:
        await store.flush()  # what reached the result during the last flush is committed too
    steps = plan.steps
    capture = env.capture_values
    return RunResult(
        run_id,
        _status(summary),
        events,
        values={(steps[i].key, steps[i].partition_key): v for i, v in summary.values.items()}
        if capture
        else None,
        exceptions={
            (steps[i].key, steps[i].partition_key): e for i, e in summary.exceptions.items()
        },
    )


async def _turn(handle: RunHandle, queue: RunQueue) -> bool:
    """Wait for the run's turn in the queue: False if it was canceled while it waited."""
    if handle.canceled:  # canceled before its task first ran
        return False
    turn = handle._turn = asyncio.ensure_future(queue.admit(handle.run_id, handle.tags))
    try:
        await turn
        return True
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():  # the run's own task: not ours to absorb
            raise
        return False
    finally:
        handle._turn = None


def _canceled_in_queue(handle: RunHandle, env: RunEnvironment) -> RunResult:
    """A run canceled before it started is recorded as such, each step skipped as a run
    canceled later would report it, and nothing run."""
    run_id, steps = handle.run_id, handle.plan.steps
    events: list[Event] = [
        RunStarted(
            run_id=run_id,
            partition_key=handle.plan.partition_key,
            selection=tuple(step.name for step in steps),
            tags=handle.tags,
            origin=handle.origin,
        ),
        *(
            StepSkipped(
                run_id=run_id,
                asset_key=step.key,
                partition_key=step.partition_key,
                partition_keys=step.partitions if len(step.partitions) > 1 else (),
                check_name=step.check.name if step.check else None,
                reason="run canceled",
            )
            for step in steps
        ),
        RunFinished(
            run_id=handle.run_id,
            status=RunStatus.CANCELED,
            message="canceled while queued: nothing ran",
        ),
    ]
    for event in events:
        env.bus.publish(event)
    return RunResult(handle.run_id, RunStatus.CANCELED, events)


async def _execute(handle: RunHandle, env: RunEnvironment) -> ExecutionSummary:
    run_id, plan, publish = handle.run_id, handle.plan, env.bus.publish
    history = await _history(plan, env.store)
    await _lease(handle, env)
    async with _live_resources(plan, run_id, env) as resources:
        services = RunServices(
            run_id, resources, publish, history, env.configs, instance=env.instance
        )
        executor = Executor(
            plan,
            env.launcher,
            services,
            publish,
            max_concurrency=env.max_concurrency,
            code_versions=env.code_versions,
            early_cutoff=plan.early_cutoff,
            locks=env.locks,
            stage_value=env.store.stage_value if env.store is not None else None,
            capture_values=env.capture_values,
            slots=env.slots,
            job_retry_policy=env.job_retry_policy,
        )
        handle._executor = executor
        if handle.canceled:
            executor.cancel()
        summary = await executor.run()
    problems = [f"{plan.steps[i].name} failed" for i in summary.errors]
    problems += [f"check {c} blocked its downstream" for c in summary.blocking_failures]
    if env.store is not None:
        # Whoever sees the run end (a console line, the TUI) finds all it stored committed.
        await env.store.flush()
    publish(RunFinished(run_id=run_id, status=_status(summary), message="; ".join(problems)))
    return summary


async def _lease(handle: RunHandle, env: RunEnvironment) -> None:
    """Lease the assets the run writes against other processes sharing the home; while one
    holds some of them, say who, and wait (there is no signal across processes: poll)."""
    if env.store is None or not handle.plan.keys:
        return
    keys = [(k.to_user_string(), p) for k, p in handle.plan.writes]
    told: set[str] = set()
    while holders := await env.store.acquire_leases(handle.run_id, keys):
        if handle.canceled:
            return  # nothing will be written: the executor reports every step canceled
        for holder in holders:
            if holder.asset_key in told:
                continue
            told.add(holder.asset_key)
            env.bus.publish(
                StepWaiting(
                    run_id=handle.run_id,
                    asset_key=AssetKey.from_user_string(holder.asset_key),
                    partition_key=holder.partition_key,
                    holder_run_id=holder.run_id,
                    reason=(
                        f"waiting for {holder.asset_key}: run {holder.run_id[:8]}… is writing "
                        f"it (pid {holder.pid} on {holder.hostname})"
                    ),
                )
            )
        await asyncio.sleep(LEASE_POLL)


async def _history(
    plan: ExecutionPlan, store: EventStore | None
) -> dict[tuple[AssetKey, str | None], MaterializationRecord]:
    """Latest materializations from before this run: of the assets (partitions) it reads
    from storage (their versions are its provenance), of those it checks (a check may
    compare), and of those it materializes (early cutoff compares with them)."""
    if store is None:
        return {}
    # A backfill's plan has a step per partition: gathered off the loop.
    wanted = (
        await asyncio.to_thread(_reads_and_writes, plan)
        if len(plan) > 1000
        else (_reads_and_writes(plan))
    )
    if not wanted:
        return {}
    latest = await store.latest_partitions({(k.to_user_string(), p or "") for k, p in wanted})
    return {
        (k, p): r for k, p in wanted if (r := latest.get((k.to_user_string(), p or ""))) is not None
    }


def _reads_and_writes(plan: ExecutionPlan) -> set[tuple[AssetKey, str | None]]:
    wanted: set[tuple[AssetKey, str | None]] = set()
    for step in plan.steps:
        ups = step.node.upstream_keys
        parts = step.upstream_partitions or (None,) * len(ups)
        wanted.update((up, p) for up, keys in zip(ups, parts, strict=True) for p in keys or (None,))
        wanted.update((step.key, p) for p in step.partitions or (None,))
    return wanted


_RESOURCES = "millrace.declarations.resources"
_log = logging.getLogger("millrace.resources")


@contextlib.asynccontextmanager
async def _live_resources(
    plan: ExecutionPlan, run_id: str, env: RunEnvironment
) -> AsyncIterator[Mapping[str, Any]]:
    """The run's resources, set up before its first step and torn down after its last,
    also when it fails or is canceled. Only what the plan needs is set up."""
    run_config = env.run_config
    needed = needed_resources(plan, env.resources)
    if _RESOURCES not in sys.modules and not run_config.get("resources"):
        yield needed  # no ConfigurableResource or @resource exists: nothing to set up
        return
    from .resources import open_resources

    scoped = dict(run_config)
    if isinstance(run_config.get("resources"), Mapping):
        scoped["resources"] = {
            k: v
            for k, v in run_config["resources"].items()
            if k in needed or k not in env.resources  # unknown keys stay, to be reported
        }
    from ..execution.output import OutputCapture

    opened = open_resources(needed, run_id=run_id, run_config=scoped, log=_log)
    # Setup and teardown run in no step: what they print is the run's log, about no asset.
    publish = env.bus.publish
    output = OutputCapture(
        lambda level, message: publish(LogMessage(run_id=run_id, level=level, message=message))
    )

    try:
        try:
            live = await asyncio.to_thread(output.call, opened.__enter__)
        except MillraceError:
            raise
        except Exception as exc:  # the user's setup code failed: say so, with its frames
            raise ResourceSetupError(_setup_failure(exc)) from exc
        try:
            yield live
        except BaseException as exc:
            exited = await asyncio.to_thread(
                output.call, opened.__exit__, type(exc), exc, exc.__traceback__
            )
            if not exited:
                raise
        else:
            await asyncio.to_thread(output.call, opened.__exit__, None, None, None)
    finally:
        output.close()


def _setup_failure(exc: Exception) -> str:
    info = error_info(exc)
    frames = f"\n{info.traceback.rstrip()}" if info.traceback else ""
    return f"Setting up resources failed: {info}{frames}"


def needed_resources(plan: ExecutionPlan, resources: Mapping[str, Any]) -> dict[str, Any]:
    """Resources the plan's steps use (IO managers included), with those they require."""
    keys = {DEFAULT_IO_MANAGER_KEY}
    for step in plan.steps:
        keys |= step.node.required_resource_keys
        keys.update(i.io_manager_key for i in step.inputs)
        if step.materializes:
            keys.add(step.asset.io_manager_key)
    stack = list(keys)
    while stack:
        for dep in _resource_requires(resources, stack.pop()):
            if dep not in keys:
                keys.add(dep)
                stack.append(dep)
    return {k: resources[k] for k in keys if k in resources}


def _resource_requires(resources: Mapping[str, Any], key: str) -> Iterable[str]:
    """The keys the resource ``key`` requires: for a ConfigurableResource (or one configured at
    launch), the top-level resources it holds, which no asset need name."""
    value = resources.get(key)
    # A ConfigurableResource exists only once its module is loaded: never load pydantic here.
    loaded = sys.modules.get(_RESOURCES)
    if loaded is not None and isinstance(
        value, loaded.ConfigurableResource | loaded.PartialResource
    ):
        return loaded.required_resource_keys(value, resources)
    return getattr(value, "required_resource_keys", None) or ()


def as_run_config(run_config: Any) -> dict[str, Any]:
    """Dagster's RunConfig object or a plain mapping, as a dict; anything else is a
    ConfigError saying what fits, not a TypeError from ``dict()``."""
    if run_config is None:
        return {}
    to_dict = getattr(run_config, "to_config_dict", None)
    if callable(to_dict):
        run_config = to_dict()
    if not isinstance(run_config, Mapping):
        from ..declarations.config import ConfigError

        raise ConfigError(
            "run_config must be a mapping (Dagster's shape: {'ops': {...}}) or RunConfig, "
            f"got {type(run_config).__name__}"
        )
    return dict(run_config)


def resolve_configs(
    graph: AssetGraph, plan: ExecutionPlan, run_config: Mapping[str, Any]
) -> dict[AssetKey, Any]:
    """Each planned asset's Config object; every bad field of every asset in one error."""
    params = {
        step.key: step.asset.special.config
        for step in plan.steps
        if step.materializes and step.asset.special.config is not None
    }
    if not params and not run_config:
        return {}
    from ..declarations.config import resolve_asset_configs

    unselected = {
        key: node.special.config
        for key, node in graph.nodes.items()
        if key not in params and isinstance(node, AssetsDefinition) and node.special.config
    }
    return resolve_asset_configs(params, run_config, unselected=unselected)


def _resolved_run_config(
    run_config: Mapping[str, Any], configs: Mapping[AssetKey, Any]
) -> dict[str, Any]:
    """What the run record keeps: the config each asset really got, defaults included."""
    resolved = dict(run_config)
    if configs:
        resolved["ops"] = {
            key.to_python_identifier(): {"config": config.model_dump(mode="json")}
            for key, config in configs.items()
        }
    return resolved


def _status(summary: ExecutionSummary) -> RunStatus:
    if summary.canceled:
        return RunStatus.CANCELED
    return RunStatus.SUCCESS if summary.success else RunStatus.FAILURE
