"""Runtime: the long-lived object the CLI, ``materialize()`` and (later) the TUI all drive.

It owns the loaded definitions, the event bus, the event store and the step launcher:
``plan`` a selection, ``submit`` a run (a handle to await or cancel), ``subscribe`` to events,
and query history.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..definitions.asset import DEFAULT_IO_MANAGER_KEY, AssetsDefinition
from ..definitions.checks import AssetChecksDefinition
from ..definitions.definitions import Definitions
from ..definitions.keys import AssetKey
from ..errors import MillraceError, ResourceSetupError, SelectionError
from ..events import Event, EventBus, RunFinished, RunStarted, RunStatus
from ..execution.executor import DEFAULT_MAX_CONCURRENCY, ExecutionSummary, Executor
from ..execution.failure import error_info
from ..execution.launcher import InProcessLauncher, RunServices, StepLauncher
from ..execution.plan import ExecutionPlan, build_plan
from ..execution.result import RunResult
from ..graph import AssetGraph
from ..selection import AssetSelection, resolve_selection
from ..storage.event_store import DATABASE, EventStore, MaterializationRecord
from ..storage.io_managers import InMemoryIOManager, ParquetIOManager

HOME_ENV = "MILLRACE_HOME"
HOME_DIRNAME = ".millrace"

Selection = str | AssetSelection | Iterable[Any] | None


def resolve_home(code_dir: Path | None, home: str | os.PathLike[str] | None = None) -> Path:
    """``home`` if given, else $MILLRACE_HOME, else ``.millrace`` beside the code."""
    if home is not None:
        return Path(home)
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    return (code_dir or Path.cwd()) / HOME_DIRNAME


class RunHandle:
    """A submitted run: ``await handle`` for its RunResult, ``handle.cancel()`` to stop it."""

    def __init__(self, run_id: str, plan: ExecutionPlan) -> None:
        self.run_id = run_id
        self.plan = plan
        self._task: asyncio.Task[RunResult] | None = None
        self._executor: Executor | None = None
        self._cancel_requested = False

    def cancel(self) -> None:
        """Launch no new step, cancel running async steps; threads finish what they started."""
        self._cancel_requested = True
        if self._executor is not None:
            self._executor.cancel()

    def done(self) -> bool:
        return self._task is not None and self._task.done()

    def __await__(self) -> Generator[Any, None, RunResult]:
        assert self._task is not None
        return self._task.__await__()


class Runtime:
    """Use as ``async with Runtime(defs, home=...) as rt: result = await rt.submit("a*")``."""

    def __init__(
        self,
        defs: Definitions,
        *,
        home: str | os.PathLike[str] | None = None,
        persist: bool = True,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        launcher: StepLauncher | None = None,
    ) -> None:
        self.defs = defs
        self.home = resolve_home(None, home)
        self.persist = persist
        self.max_concurrency = max_concurrency
        self.bus = EventBus()
        self.store: EventStore | None = None
        self._launcher = launcher
        self._resources = dict(defs.resources)
        if DEFAULT_IO_MANAGER_KEY not in self._resources:
            self._resources[DEFAULT_IO_MANAGER_KEY] = (
                ParquetIOManager(self.home / "storage", inline_db=self.home / DATABASE)
                if persist
                else InMemoryIOManager()
            )

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if self.persist and self.store is None:
            self.store = await EventStore.open(self.home)
            self.bus.subscribe(self.store.append)

    async def close(self) -> None:
        if self.store is not None:
            await self.store.close()
            self.store = None
        if self._launcher is not None:
            self._launcher.close()
            self._launcher = None

    @property
    def launcher(self) -> StepLauncher:
        if self._launcher is None:
            self._launcher = InProcessLauncher(max_workers=max(self.max_concurrency, 1))
        return self._launcher

    def subscribe(self, subscriber: Callable[[Event], None]) -> Callable[[], None]:
        return self.bus.subscribe(subscriber)

    def plan(
        self,
        selection: Selection = None,
        partition_key: str | None = None,
        *,
        checks_only: bool = False,
    ) -> ExecutionPlan:
        """Steps for the selected assets and their checks; ``checks_only`` evaluates the
        checks of the selected assets against stored data, materializing nothing."""
        graph = self.defs.graph
        keys = resolve_selection(selection, graph)
        if not checks_only:
            return build_plan(graph, keys, partition_key)
        declared = graph.checks_of(graph.toposorted(keys))
        checks = [c for c in declared if isinstance(graph.checks[c], AssetChecksDefinition)]
        if not checks:
            if declared:
                names = ", ".join(c.to_user_string() for c in declared)
                raise SelectionError(
                    f"the selected assets report their checks themselves ({names}, declared in "
                    "check_specs); those run when the asset is materialized"
                )
            raise SelectionError("the selected assets have no checks")
        return build_plan(graph, (), partition_key, checks=checks)

    def submit(
        self,
        selection: Selection = None,
        *,
        tags: Mapping[str, str] | None = None,
        run_config: Mapping[str, Any] | None = None,
        partition_key: str | None = None,
        max_concurrency: int | None = None,
        capture_values: bool = False,
        plan: ExecutionPlan | None = None,
    ) -> RunHandle:
        """Plan and resolve config now (so a bad selection or config raises here, before
        anything runs), run in a task; returns at once."""
        plan = plan or self.plan(selection, partition_key)
        raw_config = _as_dict(run_config)
        configs = _resolve_configs(self.defs.graph, plan, raw_config)
        handle = RunHandle(uuid.uuid4().hex, plan)
        handle._task = asyncio.get_running_loop().create_task(
            self._run(
                handle,
                tags=dict(tags or {}),
                run_config=raw_config,
                configs=configs,
                max_concurrency=max_concurrency or self.max_concurrency,
                capture_values=capture_values,
            )
        )
        return handle

    async def materialize(self, selection: Selection = None, **kwargs: Any) -> RunResult:
        return await self.submit(selection, **kwargs)

    async def _run(
        self,
        handle: RunHandle,
        *,
        tags: dict[str, str],
        run_config: dict[str, Any],
        configs: dict[AssetKey, Any],
        max_concurrency: int,
        capture_values: bool,
    ) -> RunResult:
        run_id, plan = handle.run_id, handle.plan
        events: list[Event] = []

        def collect(event: Event) -> None:
            if event.run_id == run_id:
                events.append(event)

        unsubscribe = self.bus.subscribe(collect)
        publish = self.bus.publish
        try:
            publish(
                RunStarted(
                    run_id=run_id,
                    partition_key=plan.partition_key,
                    selection=tuple(step.name for step in plan.steps),
                    config=_resolved_run_config(run_config, configs),
                    tags=tags,
                )
            )
            if self.store is not None:
                await self.store.flush()  # a run killed from here on is still in the history
            try:
                summary = await self._execute(
                    handle, run_config, configs, max_concurrency, capture_values
                )
            except Exception as exc:  # resources failed to set up, or a Millrace bug
                message = str(exc) if isinstance(exc, MillraceError) else repr(exc)
                publish(RunFinished(run_id=run_id, status=RunStatus.FAILURE, message=message))
                raise
            finally:
                if self.store is not None:
                    await self.store.flush()
        finally:
            unsubscribe()
        steps = plan.steps
        return RunResult(
            run_id,
            _status(summary),
            events,
            values={steps[i].key: v for i, v in summary.values.items()} if capture_values else None,
            exceptions={steps[i].key: e for i, e in summary.exceptions.items()},
        )

    async def _execute(
        self,
        handle: RunHandle,
        run_config: dict[str, Any],
        configs: dict[AssetKey, Any],
        max_concurrency: int,
        capture_values: bool,
    ) -> ExecutionSummary:
        run_id, plan, publish = handle.run_id, handle.plan, self.bus.publish
        history = await self._history(plan)
        async with self._live_resources(plan, run_id, run_config) as resources:
            services = RunServices(
                run_id, resources, _threadsafe(publish), plan.partition_key, history, configs
            )
            executor = Executor(
                plan,
                self.launcher,
                services,
                publish,
                max_concurrency=max_concurrency,
                data_versions={k: r.data_version for k, r in history.items() if r.data_version},
                capture_values=capture_values,
            )
            handle._executor = executor
            if handle._cancel_requested:
                executor.cancel()
            summary = await executor.run()
        problems = [f"{plan.steps[i].name} failed" for i in summary.errors]
        problems += [f"check {c} blocked its downstream" for c in summary.blocking_failures]
        publish(RunFinished(run_id=run_id, status=_status(summary), message="; ".join(problems)))
        return summary

    @contextlib.asynccontextmanager
    async def _live_resources(
        self, plan: ExecutionPlan, run_id: str, run_config: Mapping[str, Any]
    ) -> AsyncIterator[Mapping[str, Any]]:
        """The run's resources, set up before its first step and torn down after its last,
        also when it fails or is canceled. Only what the plan needs is set up."""
        needed = _needed_resources(plan, self._resources)
        if _RESOURCES not in sys.modules and not run_config.get("resources"):
            yield needed  # no ConfigurableResource or @resource exists: nothing to set up
            return
        from .resources import open_resources

        scoped = dict(run_config)
        if isinstance(run_config.get("resources"), Mapping):
            scoped["resources"] = {
                k: v
                for k, v in run_config["resources"].items()
                if k in needed or k not in self._resources  # unknown keys stay, to be reported
            }
        opened = open_resources(needed, run_id=run_id, run_config=scoped, log=_log)
        try:
            live = await asyncio.to_thread(opened.__enter__)
        except MillraceError:
            raise
        except Exception as exc:  # the user's setup code failed: say so, with its frames
            raise ResourceSetupError(_setup_failure(exc)) from exc
        try:
            yield live
        except BaseException as exc:
            if not await asyncio.to_thread(opened.__exit__, type(exc), exc, exc.__traceback__):
                raise
        else:
            await asyncio.to_thread(opened.__exit__, None, None, None)

    async def _history(self, plan: ExecutionPlan) -> dict[AssetKey, MaterializationRecord]:
        """Latest materializations from before this run, of the assets the run reads from
        storage (their data versions feed this run's) or checks (a check may compare)."""
        if self.store is None:
            return {}
        in_plan = set(plan.keys)
        wanted = {
            up
            for step in plan.steps
            if step.check is None
            for up in step.asset.upstream_keys
            if up not in in_plan
        }
        wanted.update(step.key for step in plan.steps if step.check is not None)
        if not wanted:
            return {}
        latest = await self.store.latest_materializations()
        return {k: r for k in wanted if (r := latest.get(k.to_user_string())) is not None}


_RESOURCES = "millrace.definitions.resources"
_log = logging.getLogger("millrace.resources")


def _setup_failure(exc: Exception) -> str:
    info = error_info(exc)
    frames = f"\n{info.traceback.rstrip()}" if info.traceback else ""
    return f"Setting up resources failed: {info}{frames}"


def _needed_resources(plan: ExecutionPlan, resources: Mapping[str, Any]) -> dict[str, Any]:
    """Resources the plan's steps use (IO managers included), with those they require."""
    keys = {DEFAULT_IO_MANAGER_KEY}
    for step in plan.steps:
        keys |= step.node.required_resource_keys
        keys.update(i.io_manager_key for i in step.inputs)
        if step.check is None:
            keys.add(step.asset.io_manager_key)
    stack = list(keys)
    while stack:
        for dep in getattr(resources.get(stack.pop()), "required_resource_keys", None) or ():
            if dep not in keys:
                keys.add(dep)
                stack.append(dep)
    return {k: resources[k] for k in keys if k in resources}


def _as_dict(run_config: Any) -> dict[str, Any]:
    """Dagster's RunConfig object or a plain dict, as a dict."""
    if run_config is None:
        return {}
    to_dict = getattr(run_config, "to_config_dict", None)
    return dict(to_dict() if callable(to_dict) else run_config)


def _resolve_configs(
    graph: AssetGraph, plan: ExecutionPlan, run_config: Mapping[str, Any]
) -> dict[AssetKey, Any]:
    """Each planned asset's Config object; every bad field of every asset in one error."""
    params = {
        step.key: step.node.special.config
        for step in plan.steps
        if step.check is None and step.node.special.config is not None
    }
    if not params and not run_config:
        return {}
    from ..definitions.config import resolve_asset_configs

    unselected = [
        key
        for key, node in graph.nodes.items()
        if key not in params and isinstance(node, AssetsDefinition) and node.special.config
    ]
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


def _threadsafe(publish: Callable[[Event], None]) -> Callable[[Event], None]:
    """Publish from any thread: worker threads hop onto the loop, the loop thread goes direct."""
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    def emit(event: Event) -> None:
        if threading.get_ident() == loop_thread:
            publish(event)
        else:
            loop.call_soon_threadsafe(publish, event)

    return emit
