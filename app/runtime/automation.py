"""Schedules and sensors, evaluated inside the Runtime's event loop: no daemon, no poll loop.

Each running schedule sleeps until its next cron tick; each sensor until its minimum interval
has passed, or until something it watches happens: a materialization of an asset sensor's
assets, a run finishing for a run-status sensor, a file landing in a file-arrival sensor's
directory (watchfiles). User code runs on a small pool of its own with a timeout, so a long
step never starves a tick and a tick never blocks the loop. Every tick is a ``TickEvaluated``
event, which the store records with the run keys it used and the sensor's cursor in one
transaction: a run key launches once, across restarts. Time comes from a ``Clock``, so tests
move it instead of waiting for cron.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from ..automation.asset_sensors import (
    AssetSensorDefinition,
    MultiAssetSensorDefinition,
    evaluate_asset_sensor,
    evaluate_multi_asset_sensor,
)
from ..automation.condition_sensor import AutomationConditionSensorDefinition
from ..automation.conditions import (
    ConditionState,
    EntityKey,
    evaluate,
)
from ..automation.file_sensor import FileArrivalSensorDefinition
from ..automation.freshness import freshness_state
from ..automation.run_status import (
    RunStatusSensorDefinition,
    evaluate_run_status_sensor,
    run_status_event,
)
from ..automation.schedules import ScheduleDefinition, evaluate_schedule
from ..automation.sensors import (
    SensorDefinition,
    build_sensor_context,
    evaluate_sensor,
)
from ..automation.tick import TickResult, TickStatus, failed
from ..declarations.checks import AssetCheckKey
from ..declarations.job import JOB_NAME_TAG
from ..declarations.keys import AssetKey
from ..declarations.run_request import RunRequest
from ..errors import DefinitionsError
from ..events import (
    AssetMaterialized,
    AutomationEvaluated,
    Event,
    FreshnessChanged,
    InstigatorChanged,
    ReloadApplied,
    RunFinished,
    RunOrigin,
    RunStarted,
    TickEvaluated,
)
from ..selection import resolve_selection
from ..storage.records import InstigatorState
from .declarative import CacheView, condition_sensors, next_deadline, requests_of, scope
from .status_cache import StatusCache

if TYPE_CHECKING:
    from .runtime import Runtime

SCHEDULE, SENSOR = "schedule", "sensor"
TICK_TIMEOUT = 60.0  # seconds a schedule's or sensor's function may take (Dagster's default)
CONTROL_CHECK = 2.0  # seconds between looks for another process starting or stopping one


class Clock(Protocol):
    """Where automation reads the time and waits for it."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.time()))


@dataclass
class Instigator:
    """A schedule or sensor as automation tracks it."""

    name: str
    kind: str  # SCHEDULE or SENSOR
    definition: Any
    running: bool
    next_due: float | None = None  # when it ticks next (None: only when triggered)
    cursor: str | None = None
    last_tick: Any = None  # a TickRecord or a TickEvaluated
    triggered: bool = False  # something it watches happened: tick at once
    # An automation condition sensor's assets whose facts changed since it last evaluated
    # (None: evaluate every one, as at start).
    pending: set[EntityKey] | None = None


def instigators_of(defs: Any) -> dict[str, tuple[str, Any]]:
    """Every schedule and sensor of ``defs`` by name (with the default automation condition
    sensor when an asset's condition needs it); two with one name is an error."""
    found: dict[str, tuple[str, Any]] = {}
    sensors = [s for s in defs.sensors if not isinstance(s, AutomationConditionSensorDefinition)]
    for kind, items in (
        (SCHEDULE, defs.schedules),
        (SENSOR, [*sensors, *condition_sensors(defs)]),
    ):
        for item in items:
            if not isinstance(
                item, ScheduleDefinition | SensorDefinition | AutomationConditionSensorDefinition
            ):
                raise DefinitionsError(
                    f"Definitions({kind}s=...) got {item!r}; expected @{kind} or "
                    f"{'ScheduleDefinition' if kind == SCHEDULE else 'SensorDefinition'}"
                )
            if item.name in found:
                raise DefinitionsError(f"two schedules or sensors are named {item.name!r}")
            found[item.name] = (kind, item)
    return found


def plan_cells(plan: Any) -> set[tuple[EntityKey, str | None]]:
    """Every (asset, partition) a plan materializes and (check, partition) it evaluates."""
    return {
        (step.key if step.check is None else step.check, partition)
        for step in plan.steps
        for partition in (step.partitions or (None,))
    }


def entity_key(text: str) -> EntityKey:
    """An asset's user string (``a/b``), or a check's (``a/b:check``): no asset key
    component holds a ``:``."""
    asset, colon, check = text.partition(":")
    if colon:
        return AssetCheckKey(AssetKey.from_user_string(asset), check)
    return AssetKey.from_user_string(text)


def _origin(definition: Any) -> RunOrigin:
    if isinstance(definition, ScheduleDefinition):
        return RunOrigin.SCHEDULE
    if isinstance(definition, AutomationConditionSensorDefinition):
        return RunOrigin.AUTOMATION
    return RunOrigin.SENSOR


def _watched_assets(sensor: Any) -> tuple[Any, ...]:
    """The assets whose materializations tick an asset or multi-asset sensor."""
    if isinstance(sensor, AssetSensorDefinition):
        return (sensor.asset_key,)
    if isinstance(sensor, MultiAssetSensorDefinition):
        return sensor.monitored_assets
    return ()


def default_running(definition: Any) -> bool:
    status = definition.default_status
    return str(getattr(status, "value", status)).upper() == "RUNNING"


class Automation:
    """The schedules and sensors of a Runtime's code, ticking while it runs."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Clock | None = None,
        catch_up: bool = True,
        tick_timeout: float = TICK_TIMEOUT,
    ) -> None:
        self.runtime = runtime
        self.clock = clock or SystemClock()
        self.catch_up = catch_up  # a schedule missed while down runs its latest tick once
        self.tick_timeout = tick_timeout
        self._items: dict[str, Instigator] = {}
        self._ticking: dict[str, asyncio.Task[TickEvaluated]] = {}
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="millrace-tick")
        self._wake = asyncio.Event()
        self._main: asyncio.Task[None] | None = None
        self._watchers: dict[str, asyncio.Task[None]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._launched: dict[str, set[str]] = {}  # run keys used, not yet in the store
        self._data_version: int | None = None
        self.cache = StatusCache()  # what declarative automation reads
        self._reseeding: list[Event] | None = None  # events while a new cache is built
        # Each asset with a freshness policy: (its state, when it changes with no update).
        self.freshness: dict[AssetKey, tuple[str, float | None]] = {}
        self._states: dict[EntityKey, ConditionState] = {}  # each condition's memory

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        await self._seed()
        await self._load(self.runtime.code.defs)
        self._check_freshness(None)
        self._unsubscribe = self.runtime.listen(self._on_event)
        self._main = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        tasks = [t for t in (self._main, *self._watchers.values(), *self._ticking.values()) if t]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- what it shows ---------------------------------------------------------------------

    def instigators(self) -> list[Instigator]:
        return sorted(self._items.values(), key=lambda i: (i.kind, i.name))

    def get(self, name: str) -> Instigator:
        item = self._items.get(name)
        if item is None:
            known = ", ".join(sorted(self._items)) or "none"
            raise DefinitionsError(f"no schedule or sensor named {name!r} (these: {known})")
        return item

    # -- control ---------------------------------------------------------------------------

    async def set_running(self, name: str, running: bool) -> None:
        """Start or stop a schedule or sensor; it stays so across restarts."""
        item = self.get(name)
        self.runtime.bus.publish(
            InstigatorChanged(name=name, instigator=item.kind, running=running)
        )
        self._apply_status(item, running)
        if self.runtime.store is not None:
            await self.runtime.store.flush()

    async def tick(self, name: str, scheduled_time: float | None = None) -> TickEvaluated:
        """Evaluate one schedule or sensor now (a schedule at ``scheduled_time``, default its
        latest tick), whether it is running or not; returns the recorded tick."""
        item = self.get(name)
        if item.kind == SCHEDULE and scheduled_time is None:
            scheduled_time = item.definition.schedule.previous_tick(self.clock.now()).timestamp()
        while (ticking := self._ticking.get(name)) is not None:  # one tick at a time
            await asyncio.wait({ticking})
        return await self._start_tick(item, scheduled_time)

    # -- the loop --------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            now = self.clock.now()
            changing = [k for k, (_, at) in self.freshness.items() if at and at <= now]
            if changing:
                self._check_freshness(changing)
            for item in list(self._items.values()):
                timely = item.next_due is not None and item.next_due <= now
                due = item.triggered or timely
                if item.running and due and item.name not in self._ticking:
                    if timely and isinstance(item.definition, AutomationConditionSensorDefinition):
                        item.pending = None  # time moved, not facts: every condition looks
                    self._start_tick(item, item.next_due if item.kind == SCHEDULE else None)
            deadlines = [
                i.next_due
                for i in self._items.values()
                if i.running and i.next_due is not None and i.name not in self._ticking
            ]
            deadlines += [change for _, change in self.freshness.values() if change is not None]
            if self.runtime.store is not None:
                deadlines.append(now + CONTROL_CHECK)
            await self._sleep(min(deadlines, default=None))
            await self._look_for_control()

    async def _sleep(self, deadline: float | None) -> None:
        self._wake.clear()
        waits: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._wake.wait())}
        if deadline is not None:
            waits.add(asyncio.ensure_future(self.clock.sleep_until(deadline)))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    def _start_tick(self, item: Instigator, scheduled: float | None) -> asyncio.Task[TickEvaluated]:
        item.triggered = False
        task = asyncio.get_running_loop().create_task(self._tick(item, scheduled))
        self._ticking[item.name] = task

        def done(_: asyncio.Task[TickEvaluated]) -> None:
            self._ticking.pop(item.name, None)
            self._wake.set()

        task.add_done_callback(done)
        return task

    async def _tick(self, item: Instigator, scheduled: float | None) -> TickEvaluated:
        result = await self._evaluate(item, scheduled)
        run_ids, run_keys, error = [], [], result.error
        skipped: list[str] = []
        if error is None:
            try:
                requests = await self._new_requests(item, result.run_requests, skipped)
                origin = _origin(item.definition)
                for request in requests:
                    handle = await self.runtime.run_request(self._targeted(item, request), origin)
                    run_ids.append(handle.run_id)
                    run_keys.append(request.run_key or "")
                    if request.run_key:
                        self._launched.setdefault(item.name, set()).add(request.run_key)
            except Exception as exc:  # a request the code cannot run: the tick failed
                error = f"{type(exc).__name__}: {exc}"
        status = TickStatus.FAILURE if error else result.status
        skip_reason = result.skip_reason
        if error is None and not run_ids:
            status = TickStatus.SKIPPED
            if skipped:
                skip_reason = f"run keys already requested: {', '.join(skipped)}"
        cursor = item.cursor if error else result.cursor
        tick = TickEvaluated(
            name=item.name,
            instigator=item.kind,
            status=status.value,
            scheduled_time=scheduled,
            run_ids=tuple(run_ids),
            run_keys=tuple(run_keys),
            skip_reason=skip_reason,
            error=f"{error}\n\n{result.traceback}" if error and result.traceback else error,
            cursor=cursor,
        )
        self.runtime.bus.publish(tick)
        item.cursor, item.last_tick = cursor, tick
        self._schedule_next(item, scheduled)
        return tick

    async def _evaluate(self, item: Instigator, scheduled: float | None) -> TickResult:
        """The user's function on the tick pool, under the timeout; never raises."""
        definition, resources = item.definition, self.runtime.defs.resources
        if isinstance(definition, AutomationConditionSensorDefinition):
            return self._evaluate_conditions(item)
        instance = self.runtime.instance
        if item.kind == SCHEDULE:
            assert scheduled is not None

            def call() -> TickResult:
                return evaluate_schedule(definition, scheduled, resources, instance)
        else:
            call = await self._sensor_call(item, resources, instance)
        try:
            return await asyncio.wait_for(
                asyncio.get_running_loop().run_in_executor(self._pool, call), self.tick_timeout
            )
        except TimeoutError:
            return TickResult(
                cursor=item.cursor,
                error=f"TimeoutError: {item.kind} {item.name} took over {self.tick_timeout:g}s",
            )

    def _evaluate_conditions(self, item: Instigator) -> TickResult:
        """One evaluation of the conditions ``item`` scopes, over the status cache (pure and
        quick: on the loop, so the cache cannot change under it); its outcome per asset is
        published, to be stored and shown."""
        runtime = self.runtime
        graph = runtime.code.graph
        conditions = scope(item.definition, graph)
        if not conditions:
            return TickResult(skip_reason="no asset in its target has an automation_condition")
        queued = {cell for handle in runtime.queued_runs() for cell in plan_cells(handle.plan)}
        view = CacheView(
            graph,
            self.cache,
            datetime.fromtimestamp(self.clock.now(), UTC),
            runtime.code.code_versions(),
            queued,
            runtime.instance,
        )
        changed, item.pending = item.pending, set()
        states = {k: self._states[k] for k in conditions if k in self._states}
        try:
            result = evaluate(conditions, view, states, changed)
        except Exception as exc:  # a condition Millrace cannot evaluate: the tick failed
            return failed(exc, None)
        self._states.update(result.states)
        runtime.bus.publish(
            AutomationEvaluated(
                sensor=item.name,
                evaluations={
                    key.to_user_string(): {
                        "requested": sorted(
                            result.requests.get(key, ()), key=lambda p: (p is not None, p)
                        ),
                        "reason": result.evaluations.reason(key),
                        "state": result.states[key].to_json(),
                    }
                    for key in result.evaluations
                },
            )
        )
        requests = requests_of(result, item.name, graph)
        skip = None if requests else f"{len(result.evaluations)} evaluated, none requested"
        return TickResult(run_requests=tuple(requests), skip_reason=skip)

    async def _sensor_call(
        self, item: Instigator, resources: Any, instance: Any
    ) -> Callable[[], TickResult]:
        """What evaluating ``item`` calls, with the events it reads fetched first (on the loop,
        from the store) so the pool thread only runs the user's code."""
        sensor, store = item.definition, self.runtime.store
        last = getattr(item.last_tick, "timestamp", None)
        context = build_sensor_context(
            cursor=item.cursor,
            instance=instance,
            resources=resources,
            sensor_name=item.name,
            last_tick_completion_time=last,
        )
        if isinstance(sensor, AssetSensorDefinition | MultiAssetSensorDefinition):
            keys = _watched_assets(sensor)
            events: list[AssetMaterialized] = []
            if store is not None:
                await store.flush()
                names = [k.to_user_string() for k in keys]
                events = await store.materializations_after(names, sensor.events_after(item.cursor))
            if isinstance(sensor, AssetSensorDefinition):
                return lambda: evaluate_asset_sensor(sensor, context, events)
            return lambda: evaluate_multi_asset_sensor(sensor, context, events)
        if isinstance(sensor, RunStatusSensorDefinition):
            finished = []
            if store is not None:
                await store.flush()
                finished = await store.runs_finished_after(sensor.events_after(item.cursor))
            statuses = [
                run_status_event(f, record.tags, record.tags.get(JOB_NAME_TAG), record.config)
                for f, record in finished
            ]
            return lambda: evaluate_run_status_sensor(sensor, context, statuses)
        return lambda: evaluate_sensor(sensor, context)

    async def _new_requests(
        self, item: Instigator, requests: Iterable[RunRequest], skipped: list[str]
    ) -> list[RunRequest]:
        """The requests whose run key this schedule or sensor never used (in this process or,
        through the store, before a restart)."""
        requests = list(requests)
        keys = [r.run_key for r in requests if r.run_key]
        used = set(self._launched.get(item.name, ()))
        if keys and self.runtime.store is not None:
            used |= await self.runtime.store.used_run_keys(item.name, keys)
        fresh, seen = [], set()
        for request in requests:
            key = request.run_key
            if key is not None and (key in used or key in seen):
                skipped.append(key)
                continue
            if key is not None:
                seen.add(key)
            fresh.append(request)
        return fresh

    def _targeted(self, item: Instigator, request: RunRequest) -> RunRequest:
        """A request that names neither a job nor assets runs its definition's target."""
        if request.job_name is not None or request.asset_selection is not None:
            return request
        target = item.definition.target
        if target is None:
            raise DefinitionsError(
                f"{item.kind} {item.name} has no target and its RunRequest names no job_name"
            )
        if target.job_name is not None:
            return replace(request, job_name=target.job_name)
        keys = resolve_selection(target.selection, self.runtime.code.graph, None)
        return replace(request, asset_selection=tuple(keys))

    def _schedule_next(self, item: Instigator, scheduled: float | None) -> None:
        now = self.clock.now()
        if item.kind == SCHEDULE:
            cron = item.definition.schedule
            next_tick = cron.next_tick_after(now if scheduled is None else scheduled).timestamp()
            if next_tick <= now:  # ticks missed while this one ran are not run late
                next_tick = cron.next_tick_after(now).timestamp()
            item.next_due = next_tick
        elif isinstance(item.definition, AutomationConditionSensorDefinition):
            graph = self.runtime.code.graph
            item.next_due = next_deadline(scope(item.definition, graph), graph, now)
        else:
            item.next_due = now + self._interval(item.definition)

    @staticmethod
    def _interval(sensor: Any) -> float:
        poll = getattr(sensor, "poll_interval_seconds", None)
        return float(poll if poll is not None else sensor.minimum_interval_seconds)

    # -- events ----------------------------------------------------------------------------

    def _feed(self, cache: StatusCache, event: Event) -> None:
        if isinstance(event, RunStarted):
            handle = self.runtime.run_handle(event.run_id)
            if handle is not None:
                cache.start_run(event.run_id, plan_cells(handle.plan))
        cache.on_event(event)

    def _on_event(self, event: Event) -> None:
        self._feed(self.cache, event)
        if self._reseeding is not None:
            self._reseeding.append(event)  # for the cache being built from the store
        changed = self.cache.drain()
        if changed:
            for item in self._items.values():
                if isinstance(item.definition, AutomationConditionSensorDefinition):
                    if item.pending is not None:
                        item.pending |= changed
                    self._trigger(item)
        if isinstance(event, ReloadApplied):
            asyncio.get_running_loop().create_task(self._load(self.runtime.code.defs))
            return
        if isinstance(event, AssetMaterialized):
            if event.asset_key in self.freshness:
                self._check_freshness([event.asset_key])
            for item in self._items.values():
                if event.asset_key in _watched_assets(item.definition):
                    self._trigger(item)
        elif isinstance(event, RunFinished):
            for item in self._items.values():
                if isinstance(item.definition, RunStatusSensorDefinition):
                    self._trigger(item)

    async def _seed(self) -> None:
        """The status cache and the conditions' memory, from the store."""
        store = self.runtime.store
        if store is None:
            return
        await store.flush()
        # Built off the loop (876,720 partitions take a second or more) while the current
        # cache keeps serving; the events published meanwhile are applied to it after.
        arrived: list[Event] = []
        self._reseeding = arrived
        try:
            rows, checks = await store.status_rows(), await store.check_status_rows()
            fresh = StatusCache()
            await asyncio.to_thread(fresh.seed, *rows, checks, self.cache.backfill_runs)
        finally:
            self._reseeding = None
        for event in arrived:
            self._feed(fresh, event)
        fresh.drain()
        self.cache = fresh
        self._states = {
            entity_key(key): ConditionState.from_json(evaluation["state"])
            for key, evaluation in (await store.condition_states()).items()
        }

    def _trigger(self, item: Instigator) -> None:
        if item.running:
            item.triggered = True
            self._wake.set()

    # -- state -----------------------------------------------------------------------------

    async def _load(self, defs: Any) -> None:
        """Build the instigators of ``defs``, each with its stored state (status, cursor, last
        tick) and its next tick; a schedule that missed ticks while down runs its latest."""
        store = self.runtime.store
        states: dict[str, InstigatorState] = {}
        if store is not None:
            await store.flush()
            states = await store.instigator_states()
            self._data_version = await store.data_version()
        now = self.clock.now()
        items: dict[str, Instigator] = {}
        for name, (kind, definition) in instigators_of(defs).items():
            state = states.get(name)
            old = self._items.get(name)
            running = default_running(definition)
            if state is not None and state.status is not None:
                running = state.status == "RUNNING"
            item = Instigator(
                name,
                kind,
                definition,
                running,
                cursor=state.cursor if state else None,
                last_tick=state.last_tick if state else None,
            )
            if old is not None and old.kind == kind:
                item.next_due, item.triggered = old.next_due, old.triggered
            else:
                item.next_due = await self._first_due(item, now)
            items[name] = item
        self._items = items
        if self._main is not None:  # a reload: policies may have come or gone
            self._check_freshness(None)
        self._watch_files()
        self._wake.set()

    async def _first_due(self, item: Instigator, now: float) -> float:
        definition = item.definition
        if item.kind == SENSOR:
            last = getattr(item.last_tick, "timestamp", None)
            return now if last is None else min(now, last + self._interval(definition))
        cron = definition.schedule
        store = self.runtime.store
        last = await store.last_scheduled(item.name) if store is not None else None
        latest = cron.previous_tick(now).timestamp()
        if self.catch_up and last is not None and latest > last:
            return latest  # missed while the process was down: its latest tick, once
        return cron.next_tick_after(now).timestamp()

    def _apply_status(self, item: Instigator, running: bool) -> None:
        if item.running == running:
            return
        item.running = running
        now = self.clock.now()
        if running:
            item.next_due = (
                item.definition.schedule.next_tick_after(now).timestamp()
                if item.kind == SCHEDULE
                else now
            )
        self._watch_files()
        self._wake.set()

    async def _look_for_control(self) -> None:
        """Another process (``millrace schedules start NAME``) may have started or stopped
        one: its commit changes SQLite's data_version, a cheap check."""
        store = self.runtime.store
        if store is None:
            return
        version = await store.data_version()
        if version == self._data_version:
            return
        self._data_version = version
        await self._seed()  # another process ran something: read the facts again
        for each in self._items.values():
            if isinstance(each.definition, AutomationConditionSensorDefinition):
                each.pending = None
                self._trigger(each)
        for name, state in (await store.instigator_states()).items():
            item = self._items.get(name)
            if item is not None and state.status is not None:
                self._apply_status(item, state.status == "RUNNING")

    def _check_freshness(self, keys: Iterable[AssetKey] | None) -> None:
        """Evaluate the freshness policies of ``keys`` (None: every asset with one) at the
        clock's now; a state that changed is published. Each keeps the instant its state
        would change next, which the loop sleeps until: a timer, not a poll."""
        graph = self.runtime.code.graph
        now = datetime.fromtimestamp(self.clock.now(), UTC)
        for key in graph.nodes if keys is None else keys:
            policy = getattr(graph.nodes.get(key), "freshness_policy", None)
            if policy is None:
                self.freshness.pop(key, None)
                continue
            last = self.cache.last_time.get(key)
            when = datetime.fromtimestamp(last, UTC) if last is not None else None
            state, reason, change = freshness_state(policy, when, now)
            previous = self.freshness.get(key, (None, None))[0]
            self.freshness[key] = (state.value, change.timestamp() if change else None)
            if state.value != previous:
                self.runtime.bus.publish(
                    FreshnessChanged(
                        asset_key=key, state=state.value, previous=previous, reason=reason
                    )
                )

    def _watch_files(self) -> None:
        """A watchfiles task per running file-arrival sensor: a file landing ticks it."""
        wanted = {
            i.name: i
            for i in self._items.values()
            if i.running and isinstance(i.definition, FileArrivalSensorDefinition)
        }
        for name in list(self._watchers):
            if name not in wanted:
                self._watchers.pop(name).cancel()
        for name, item in wanted.items():
            if name not in self._watchers:
                self._watchers[name] = asyncio.get_running_loop().create_task(self._watch(item))

    async def _watch(self, item: Instigator) -> None:
        from watchfiles import awatch

        directory = item.definition.directory
        while not directory.is_dir():  # not there yet: the poll fallback looks meanwhile
            await self.clock.sleep_until(self.clock.now() + self._interval(item.definition))
        # A short debounce: a landing file should start its run at once (watchfiles: 1600 ms).
        async for _ in awatch(directory, recursive=item.definition.recursive, debounce=20, step=10):
            current = self._items.get(item.name)
            if current is not None:
                self._trigger(current)
