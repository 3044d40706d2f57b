"""Runtime: the long-lived object the CLI, ``materialize()``, the dev loop and the TUI drive.

It owns the loaded code (definitions and their code versions, swapped atomically on reload),
the event bus, the event store, the step launcher and the write locks. Everything it offers
is async and non-blocking: ``reload``, ``submit`` (a handle to await or cancel), ``cancel``,
``subscribe``, and queries of the catalog, statuses, history, runs, events and lineage.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..declarations.asset import DEFAULT_IO_MANAGER_KEY, RetryPolicy
from ..declarations.checks import AssetChecksDefinition
from ..declarations.definitions import Definitions
from ..declarations.job import JOB_NAME_TAG, job_selection
from ..declarations.keys import AssetKey, coerce_key
from ..declarations.run_queue import RunQueueConfig
from ..declarations.run_request import RunRequest
from ..errors import CodeLoadError, MillraceError, SelectionError
from ..events import (
    AssetCheckEvaluated,
    CodeError,
    CodeRecovered,
    Event,
    EventBus,
    ReloadApplied,
    RunFinished,
    RunOrigin,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
    StepWaiting,
    Subscription,
)
from ..execution.executor import DEFAULT_MAX_CONCURRENCY
from ..execution.launcher import InProcessLauncher, StepLauncher
from ..execution.locks import WriteLocks
from ..execution.partitioning import PartitionContext, Partitions
from ..execution.plan import ExecutionPlan, build_plan
from ..execution.result import RunResult
from ..execution.slots import StepSlots
from ..selection import AssetSelection, as_selection, resolve_selection
from ..storage.event_store import DATABASE, EventStore
from ..storage.instance import DagsterInstance
from ..storage.io_managers import InMemoryIOManager, ParquetIOManager
from ..storage.records import (
    BackfillRecord,
    MaterializationRecord,
    PartitionRows,
    RunRecord,
    TickRecord,
)
from ..versions.staleness import Status
from .loaded_code import LoadedCode
from .loader import CodeLocation, aload_code_location, project_root
from .partition_facts import PartitionFactsCache
from .queue import RunQueue
from .runs import RunEnvironment, RunHandle, as_run_config, drive, resolve_configs

# What only statuses, backfills, lineage, previews and reloads use is imported by the
# method that needs it: a plain run (millrace materialize) loads none of it.
if TYPE_CHECKING:
    from ..versions.partition_status import PartitionStatuses
    from ..versions.staleness import Assessment
    from .automation import Automation
    from .backfill import BackfillSpec
    from .preview import Preview
    from .queries import AssetState, PartitionAssessor

HOME_ENV = "MILLRACE_HOME"
HOME_DIRNAME = ".millrace"
# Past this many assets, pure work (staleness, planning) moves off the loop so a UI never
# freezes while it runs.
_INLINE_LIMIT = 200

Selection = str | AssetSelection | Iterable[Any] | None
NOT_FRESH = (Status.STALE, Status.MISSING, Status.FAILED)


def resolve_home(root: Path | None, home: str | os.PathLike[str] | None = None) -> Path:
    """``home`` if given, else $MILLRACE_HOME, else ``.millrace`` in the project root."""
    if home is not None:
        return Path(home)
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    return (root or Path.cwd()) / HOME_DIRNAME


class Runtime:
    """Use as ``async with Runtime(defs, home=...) as rt: result = await rt.submit("a*")``.

    Built from a ``CodeLocation`` (``load_code_location(path)``), it can ``reload()``.
    """

    def __init__(
        self,
        code: Definitions | CodeLocation,
        *,
        home: str | os.PathLike[str] | None = None,
        persist: bool = True,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        launcher: StepLauncher | None = None,
        readonly: bool = False,
        run_queue: RunQueueConfig | Mapping[str, Any] | None = None,
    ) -> None:
        location = code if isinstance(code, CodeLocation) else None
        defs = code.defs if isinstance(code, CodeLocation) else code
        self.home = resolve_home(location.root if location else None, home)
        self.persist = persist
        self.readonly = readonly  # queries only: the history is opened read-only, if any
        self.max_concurrency = max_concurrency
        # Every run waits its turn in one queue, and its steps share one limit.
        self.queue = RunQueue(
            RunQueueConfig.coerce(run_queue) if run_queue is not None else defs.run_queue
        )
        self._queue_given = run_queue is not None  # else a reload may change it
        self.slots = StepSlots(max_concurrency)
        self.bus = EventBus()
        self.store: EventStore | None = None
        self.locks = WriteLocks()
        # Dagster's instance, as assets and sensors use it: the history read synchronously,
        # what this process published but has not committed yet, dynamic partitions' keys.
        self.instance = DagsterInstance(
            self.home / DATABASE if persist else None, readonly=readonly
        )
        self.bus.subscribe_at_publish(self.instance.on_event)  # read back by running steps
        self.code_error: CodeError | None = None  # set while the last save does not load
        self.automation: Automation | None = None  # schedules and sensors, once started
        self.abandoned = False  # close(grace=...) left step threads running
        self._launcher = launcher
        self._default_io = (
            ParquetIOManager(self.home / "storage", inline_db=self.home / DATABASE)
            if persist
            else InMemoryIOManager()
        )
        self._code = LoadedCode.of(defs, location, self._source_cache())
        self._resources = self._resources_of(defs)
        self._runs: dict[str, RunHandle] = {}
        self._running: set[tuple[str, AssetKey]] = set()  # (run, asset) steps under way
        self._reloading = asyncio.Lock()
        self.bus.subscribe(self._track_steps)
        self._facts = PartitionFactsCache(lambda key: self._code.graph.downstream.get(key, ()))
        self.bus.subscribe(self._facts.on_event)

    def _source_cache(self) -> Path | None:
        """Where versioning keeps what it read of each file, for the next process; only in a
        home that exists: a command that stops at a typo creates nothing."""
        return self.home / "cache" / "code" if self.persist and self.home.is_dir() else None

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> Runtime:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        if not self.persist or self.store is not None:
            return
        if self.readonly:
            nothing_yet = not self.home.exists() or (
                self.home.is_dir() and not (self.home / DATABASE).exists()
            )
            if not nothing_yet:  # a home that is a file is an error, said by the store
                self.store = await EventStore.open(self.home, readonly=True)
            return
        self.store = await EventStore.open(self.home)
        self.bus.ids = self.store.ids
        self.bus.subscribe(self.store.append)

    async def close(self, grace: float | None = None) -> None:
        """Stop automation, cancel the runs still going (recorded as canceled), then close
        the store. With ``grace``, a run whose step has not returned that many seconds after
        the cancel (a thread cannot be stopped) is recorded canceled without it, and its
        result is discarded; ``abandoned`` then says threads may still be running."""
        if self.automation is not None:
            await self.automation.close()
            self.automation = None
        for handle in self.active_runs():
            handle.cancel()
        pending = [h for h in self._runs.values() if not h.done()]
        if pending:
            waits = {asyncio.ensure_future(_quietly(h)): h for h in pending}
            _, stuck = await asyncio.wait(waits, timeout=grace)
            for wait in stuck:
                wait.cancel()
                self._abandon(waits[wait], grace or 0.0)
        if self.store is not None:
            await self.store.close()
            self.store = None
        if self._launcher is not None:
            if not self.abandoned:  # else its workers wait on a thread that never returns
                self._launcher.close()
            self._launcher = None

    async def start_automation(self, **options: Any) -> Automation:
        """Tick the code's schedules and sensors in this Runtime's loop until it closes
        (``options``: ``clock``, ``catch_up``, ``tick_timeout``; see ``Automation``)."""
        if self.automation is None:
            from .automation import Automation

            self.automation = Automation(self, **options)
            await self.automation.start()
        return self.automation

    def _abandon(self, handle: RunHandle, grace: float) -> None:
        """Record a canceled run whose step thread did not return, and stop waiting for it
        (the process should exit soon: the thread may still run)."""
        self.abandoned = True
        self._runs.pop(handle.run_id, None)
        self.bus.publish(
            RunFinished(
                run_id=handle.run_id,
                status=RunStatus.CANCELED,
                message=f"canceled: a step did not return within {grace:g}s of the cancel; "
                "whatever it computes is discarded",
            )
        )

    @property
    def launcher(self) -> StepLauncher:
        if self._launcher is None:
            self._launcher = InProcessLauncher(max_workers=max(self.max_concurrency, 1))
        return self._launcher

    # -- the code --------------------------------------------------------------------------

    @property
    def defs(self) -> Definitions:
        return self._code.defs

    @property
    def code(self) -> LoadedCode:
        return self._code

    @property
    def location(self) -> CodeLocation | None:
        return self._code.location

    def _resources_of(self, defs: Definitions) -> dict[str, Any]:
        resources = dict(defs.resources)
        resources.setdefault(DEFAULT_IO_MANAGER_KEY, self._default_io)
        return resources

    async def reload(self) -> ReloadApplied | CodeError:
        """Import the code afresh off the loop and swap it in if it loads; else keep serving
        the last good code and publish the error. Runs in flight keep the code they started
        with. The published event is returned."""
        from .reload import diff_code

        location = self.location
        if location is None:
            raise MillraceError("this Runtime was built from Definitions; reloading needs a path")
        async with self._reloading:
            started = time.perf_counter()
            try:
                loaded = await aload_code_location(
                    location.target, attribute=location.attribute, previous=location
                )
                new = await asyncio.to_thread(
                    LoadedCode.of, loaded.defs, loaded, self._source_cache(), self._code
                )
            except CodeLoadError as exc:
                return self._code_failed(CodeError(file=exc.file, line=exc.line, message=str(exc)))
            except Exception as exc:  # a Millrace bug on unusual code: still, keep serving
                message = f"Versioning {location.target} failed: {type(exc).__name__}: {exc}"
                return self._code_failed(CodeError(message=message))
            added, removed, changed = diff_code(self._code, new)
            self._code = new
            self._resources = self._resources_of(new.defs)
            if not self._queue_given:
                self.queue.reconfigure(new.defs.run_queue)
            if self.code_error is not None:
                self.code_error = None
                self.bus.publish(CodeRecovered(message="the code loads again"))
            applied = ReloadApplied(
                added=added,
                removed=removed,
                changed=changed,
                duration=time.perf_counter() - started,
            )
            self.bus.publish(applied)
            return applied

    def _code_failed(self, error: CodeError) -> CodeError:
        self.code_error = error
        self.bus.publish(error)
        return error

    # -- events ----------------------------------------------------------------------------

    def listen(self, listener: Callable[[Event], None]) -> Callable[[], None]:
        """Call ``listener`` with every event, on the loop's thread; returns unsubscribe."""
        return self.bus.subscribe(listener)

    def subscribe(
        self, kinds: Collection[str] | None = None, run_id: str | None = None
    ) -> Subscription:
        """Live events (of ``kinds``, of ``run_id``) from now on, as an async iterator.

        To read history and then follow with no gap and no duplicate: subscribe first, then
        ``run_events(...)``, then skip live events whose ``seq`` is not above the last one
        read."""
        return self.bus.stream(kinds, run_id)

    def _track_steps(self, event: Event) -> None:
        if event.asset_key is None or event.check_name is not None:
            return
        key = (event.run_id, event.asset_key)
        if isinstance(event, StepStarted | StepWaiting):
            self._running.add(key)
        elif isinstance(event, StepSucceeded | StepFailed | StepSkipped | StepUpToDate):
            self._running.discard(key)

    def running_assets(self) -> set[AssetKey]:
        return {key for _, key in self._running}

    # -- planning and running --------------------------------------------------------------

    def plan(
        self,
        selection: Selection = None,
        partition_key: str | None = None,
        *,
        checks_only: bool = False,
        statuses: Mapping[AssetKey, str] | None = None,
        early_cutoff: bool = False,
        partitions: Partitions | None = None,
    ) -> ExecutionPlan:
        """Steps for the selected assets and their checks; ``checks_only`` evaluates the
        checks of the selected assets against stored data, materializing nothing.
        ``status:`` selections need ``statuses``: use ``resolve_plan`` for those."""
        graph = self._code.graph
        keys = resolve_selection(selection, graph, statuses)
        if partitions is None:
            partitions = Partitions.for_key(partition_key, dynamic=self.instance)
        if not checks_only:
            return build_plan(
                graph, keys, partition_key, early_cutoff=early_cutoff, partitions=partitions
            )
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
        return build_plan(graph, (), partition_key, checks=checks, partitions=partitions)

    async def resolve_plan(
        self,
        selection: Selection = None,
        partition_key: str | None = None,
        *,
        checks_only: bool = False,
    ) -> ExecutionPlan:
        """``plan`` for any selection: a ``status:`` one is resolved against the assets'
        current statuses, and then runs with early cutoff (``--select status:stale`` re-runs
        what is stale, and stops where a re-run reproduces its data)."""
        needs = as_selection(selection).needs_statuses
        statuses = None
        partitions = None
        if needs:
            partitioned = await self._partition_assessors()
            statuses = {k: a.status.value for k, a in (await self._assess(partitioned)).items()}
            if partition_key is None and not checks_only:
                # A partitioned asset's stale, missing and failed partitions, not all of them.
                keys = resolve_selection(selection, self._code.graph, statuses)
                partitions = self.partitions_in(partitioned, keys, NOT_FRESH)
        return await self._off_loop(
            self.plan,
            selection,
            partition_key,
            checks_only=checks_only,
            statuses=statuses,
            early_cutoff=needs,
            partitions=partitions,
        )

    async def partitions_by_status(
        self, keys: Iterable[AssetKey], statuses: Collection[Status]
    ) -> Partitions | None:
        """``partitions_in`` as things are now; None if no asset among ``keys`` is
        partitioned (a plan then needs no partitions)."""
        keys = list(keys)
        graph = self._code.graph
        if all(getattr(graph.nodes[k], "partitions_def", None) is None for k in keys):
            return None
        partitioned = await self._partition_assessors()
        await self._assess(partitioned)
        return self.partitions_in(partitioned, keys, statuses)

    def partitions_in(
        self,
        partitioned: Mapping[AssetKey, PartitionAssessor],
        keys: Iterable[AssetKey],
        statuses: Collection[Status],
    ) -> Partitions:
        """The partitions of each partitioned asset among ``keys`` that are in ``statuses``
        (as last assessed), for a run of what is stale, say."""
        per_asset = {}
        for key in keys:
            assessor = partitioned.get(key)
            if assessor is not None and assessor.statuses is not None:
                found = assessor.statuses
                per_asset[key] = tuple(k for k in found.keys if found.of(k) in statuses)
        return Partitions(
            per_asset=per_asset, backfill=True, context=PartitionContext(dynamic=self.instance)
        )

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
        origin: RunOrigin = RunOrigin.MANUAL,
    ) -> RunHandle:
        """Plan and resolve config now (so a bad selection or config raises here, before
        anything runs), run in a task; returns at once."""
        if self.readonly:
            raise MillraceError("this Runtime only reads the history: it cannot run anything")
        code = self._code
        plan = plan or self.plan(selection, partition_key)
        raw_config = as_run_config(run_config)
        handle = RunHandle(uuid.uuid4().hex, plan, tags or {}, origin)
        env = RunEnvironment(
            graph=code.graph,
            code_versions=code.code_versions(),
            resources=self._resources,
            bus=self.bus,
            store=self.store,
            launcher=self.launcher,
            locks=self.locks,
            max_concurrency=max_concurrency or self.max_concurrency,
            queue=self.queue,
            slots=self.slots,
            capture_values=capture_values,
            run_config=raw_config,
            configs=resolve_configs(code.graph, plan, raw_config),
            instance=self.instance,
            job_retry_policy=self._job_retry_policy(tags),
        )
        handle._task = asyncio.get_running_loop().create_task(drive(handle, env))
        self._runs[handle.run_id] = handle
        handle._task.add_done_callback(lambda _: self._runs.pop(handle.run_id, None))
        return handle

    def _job_retry_policy(self, tags: Mapping[str, str] | None) -> RetryPolicy | None:
        """The op_retry_policy of the job a run is of: every way of starting a job's run
        (``execute_in_process``, ``--job``, a RunRequest) tags it with the job's name."""
        name = (tags or {}).get(JOB_NAME_TAG)
        if name is None:
            return None
        try:
            return self._code.defs.get_job_def(name).op_retry_policy
        except KeyError:  # a tag naming no job of this code: a plain run
            return None

    async def materialize(self, selection: Selection = None, **kwargs: Any) -> RunResult:
        return await self.submit(selection, **kwargs)

    async def run_request(
        self, request: RunRequest, origin: RunOrigin = RunOrigin.MANUAL
    ) -> RunHandle:
        """Start the run a ``RunRequest`` asks for: its job's assets or its own (all if
        none), partition, config, tags and checks; ``stale_assets_only`` keeps the stale and
        missing ones; ``origin``: what asked (a schedule, a sensor...)."""
        graph = self._code.graph
        tags, run_config = request.run_tags, request.run_config
        # No asset_selection: every asset (as Dagster's all, no external one), or the job's.
        selection: Selection = list(request.asset_selection) if request.asset_selection else None
        if request.job_name is not None:
            job = job_selection(
                self._code.defs,
                request.job_name,
                asset_selection=request.asset_selection,
                tags=tags,
                run_config=run_config,
            )
            selection, tags, run_config = list(job.asset_keys), job.tags, job.run_config
        if request.stale_assets_only:
            selection = as_selection(selection) & AssetSelection.status("stale", "missing")
        if request.asset_check_keys is not None:
            keys = resolve_selection(selection, graph, None) if request.asset_selection else ()
            plan = build_plan(
                graph,
                keys,
                request.partition_key,
                checks=request.asset_check_keys,
                partitions=Partitions.for_key(request.partition_key, dynamic=self.instance),
            )
        else:
            plan = await self.resolve_plan(selection, request.partition_key)
        return self.submit(plan=plan, tags=tags, run_config=run_config, origin=origin)

    async def backfill(
        self,
        selection: Selection = None,
        spec: BackfillSpec | None = None,
        *,
        resume: str | None = None,
        tags: Mapping[str, str] | None = None,
        max_concurrency: int | None = None,
    ) -> tuple[str, RunHandle]:
        """Start a backfill of ``spec``'s partitions of the selected assets (or resume one:
        only what its runs did not materialize); returns its id and its run."""
        from .backfill import BackfillSpec, backfill_partitions, backfill_tags, new_request

        done = None
        backfill_id = None
        if resume is not None:
            if self.store is None:
                raise MillraceError("resuming a backfill needs the history (persist=True)")
            await self.store.flush()
            record = await self.store.backfill(resume)
            if record is None:
                raise MillraceError(f"no backfill {resume!r} (millrace backfills lists them)")
            backfill_id, spec = record.backfill_id, BackfillSpec.from_json(record.spec)
            selection = record.selection or None
            done = await self.store.backfill_done(backfill_id)
        if spec is None:
            raise MillraceError("say which partitions to backfill, or resume one")
        graph = self._code.graph
        needs_statuses = as_selection(selection).needs_statuses
        statuses = (
            {k: a.status.value for k, a in (await self.status()).items()}
            if needs_statuses
            else None
        )
        keys = graph.toposorted(resolve_selection(selection, graph, statuses))
        context = PartitionContext(dynamic=self.instance)
        by_partition = await self.partition_status() if spec.by_status else None
        partitions = backfill_partitions(graph, keys, spec, context, by_partition, done)
        plan = await self._off_loop(build_plan, graph, keys, None, partitions=partitions)
        request = new_request(
            _selection_text(selection, keys), spec, partitions, backfill_id=backfill_id
        )
        handle = self.submit(
            plan=plan,
            tags={**(tags or {}), **backfill_tags(request, plan)},
            max_concurrency=max_concurrency,
            origin=RunOrigin.BACKFILL,
        )
        return request.backfill_id, handle

    async def backfills(self, limit: int = 50) -> list[BackfillRecord]:
        if self.store is None:
            return []
        await self.store.flush()
        return await self.store.backfills(limit)

    async def automation_evaluations(self) -> dict[str, dict[str, Any]]:
        """Each asset's last declarative automation evaluation: ``requested`` partitions,
        ``reason`` (the condition tree, true or false per node) and its memory."""
        if self.store is None:
            return {}
        await self.store.flush()
        return await self.store.condition_states()

    async def ticks(self, name: str, limit: int = 20) -> list[TickRecord]:
        """A schedule's or sensor's ticks, newest first."""
        if self.store is None:
            return []
        await self.store.flush()
        return await self.store.ticks(name, limit)

    async def wait_for_run(self, run_id: str) -> RunRecord | None:
        """The record of a run once it has finished (at once if it already has)."""
        handle = self._runs.get(run_id)
        if handle is not None:
            await _quietly(handle)
        if self.store is None:
            return None
        await self.store.flush()
        return await self.store.run(run_id)

    def run_handle(self, run_id: str) -> RunHandle | None:
        """The handle of a run of this Runtime that has not finished."""
        return self._runs.get(run_id)

    def queued_runs(self) -> list[RunHandle]:
        """The runs waiting for their turn (``run_queue`` limits), in the order they start."""
        return [self._runs[run_id] for run_id in self.queue.queued if run_id in self._runs]

    def active_runs(self) -> list[RunHandle]:
        return [h for h in self._runs.values() if not h.done()]

    async def cancel(self, run_id: str) -> bool:
        """Cancel a run of this runtime; returns once it stores and publishes nothing more
        (False if no such run is active)."""
        handle = self._runs.get(run_id)
        if handle is None or handle.done():
            return False
        handle.cancel()
        await handle.settle()
        return True

    # -- queries ---------------------------------------------------------------------------

    async def _latest(self) -> dict[str, MaterializationRecord]:
        if self.store is None:
            return {}
        await self.store.flush()  # answers include everything published before the query
        return await self.store.latest_materializations()

    async def status(self) -> dict[AssetKey, Assessment]:
        """Every asset's status (fresh, stale, missing, failed, running) and its causes; a
        partitioned asset's from its partitions (``partition_status`` has them each)."""
        return await self._assess(await self._partition_assessors())

    async def partition_status(self, key: Any = None) -> dict[AssetKey, PartitionStatuses]:
        """Every partitioned asset's partitions (or ``key``'s alone, assessing only what it
        depends on), each fresh, stale (with its cause), missing, failed or running."""
        only = None
        if key is not None:
            asset_key = coerce_key(key)
            if asset_key not in self._code.graph:
                return {}
            only = self._code.graph.upstream_closure([asset_key])
        partitioned = await self._partition_assessors(only)
        await self._assess(partitioned)
        found = {k: a.statuses for k, a in partitioned.items() if a.statuses is not None}
        return found if key is None else {k: v for k, v in found.items() if k == asset_key}

    async def _assess(
        self, partitioned: Mapping[AssetKey, PartitionAssessor]
    ) -> dict[AssetKey, Assessment]:
        from .queries import assess_code

        latest = await self._latest()
        failures = await self.store.failures() if self.store is not None else {}
        return await self._off_loop(
            assess_code, self._code, latest, failures, self.running_assets(), partitioned
        )

    async def _partition_assessors(
        self, only: Collection[AssetKey] | None = None
    ) -> dict[AssetKey, PartitionAssessor]:
        from .queries import PartitionAssessor

        code = self._code
        graph = code.graph
        context = PartitionContext(dynamic=self.instance)
        shared: dict[AssetKey, dict[str, Any]] = {}
        if self.store is not None:
            await self.store.flush()
        wanted = {}
        for key in graph.toposort:
            node = graph.nodes[key]
            if node.partitions_def is None or (only is not None and key not in only):
                continue
            version = code.versions.get(key)
            upstream = tuple(u.to_user_string() for u in node.upstream_keys)
            wanted[key] = (version.value if version is not None else None, upstream)
        if self.store is None:
            empty = PartitionRows("", frozenset(), frozenset(), [], [], [], None)
            facts = dict.fromkeys(wanted, empty)
        else:
            facts = await self._facts.rows(self.store, wanted)
        return {key: PartitionAssessor(key, code, facts[key], shared, context) for key in wanted}

    async def catalog(self) -> list[AssetState]:
        """Every asset with its status and causes, last materialization and check summary."""
        from .queries import build_catalog

        latest = await self._latest()
        failures, checks = {}, {}
        if self.store is not None:
            failures = await self.store.failures()
            checks = await self.store.latest_check_results()
        partitioned = await self._partition_assessors()
        return await self._off_loop(
            build_catalog,
            self._code,
            latest,
            failures,
            checks,
            self.running_assets(),
            partitioned,
        )

    async def asset_history(self, key: Any, limit: int = 20) -> list[MaterializationRecord]:
        if self.store is None:
            return []
        await self.store.flush()
        return await self.store.asset_history(coerce_key(key).to_user_string(), limit)

    async def latest_materialization(
        self, key: Any, partition_key: str | None = None
    ) -> MaterializationRecord | None:
        """The asset's latest materialization, with all its metadata and what it consumed;
        of a partitioned asset, ``partition_key``'s, or the newest of its partitions'."""
        if self.store is None:
            return None
        await self.store.flush()
        name = coerce_key(key).to_user_string()
        if partition_key is not None:
            wanted = (name, partition_key)
            return (await self.store.latest_partitions([wanted])).get(wanted)
        found = (await self.store.latest_materializations([name])).get(name)
        return found or await self.store.newest_materialization(name)

    async def check_history(self, key: Any, limit: int = 20) -> list[AssetCheckEvaluated]:
        """The evaluations of the asset's checks, newest first."""
        if self.store is None:
            return []
        await self.store.flush()
        events = await self.store.check_history(coerce_key(key).to_user_string(), limit)
        return [e for e in events if isinstance(e, AssetCheckEvaluated)]

    async def runs(self, limit: int = 50, status: RunStatus | str | None = None) -> list[RunRecord]:
        """The newest runs first, of one ``status`` if given (``"FAILURE"`` or RunStatus)."""
        if self.store is None:
            return []
        await self.store.flush()
        return await self.store.runs(limit, RunStatus(status) if status is not None else None)

    async def run_events(
        self,
        run_id: str,
        after_seq: int = 0,
        limit: int | None = None,
        kinds: Iterable[str] | None = None,
    ) -> list[Event]:
        """A run's stored events after ``after_seq``, in publication order."""
        if self.store is None:
            return []
        await self.store.flush()
        return await self.store.events(run_id, kinds, after_seq=after_seq, limit=limit)

    async def lineage(self, key: Any, *, downstream: bool = False) -> dict[str, Any] | None:
        """The tree of materializations behind ``key``'s latest one (None if it has none),
        or with ``downstream`` the current downstream assets and whether each consumed it."""
        from .lineage import downstream_lineage, upstream_lineage

        asset_key = coerce_key(key)
        if asset_key not in self._code.graph:
            raise SelectionError(f"No asset named '{asset_key.to_user_string()}'")
        if self.store is None:
            return None
        latest = await self._latest()
        if downstream:
            return downstream_lineage(self._code.graph, asset_key, latest)
        record = latest.get(asset_key.to_user_string())
        if record is None or record.event_id is None:
            return None
        store = self.store
        return await upstream_lineage(record, store.materializations, store.observations)

    async def preview(
        self, key: Any, limit: int = 100, partition_key: str | None = None
    ) -> Preview | None:
        """The first ``limit`` rows of the asset's latest stored value (``partition_key``'s,
        or the newest partition's) as a Polars frame, or a short text of a value that is no
        frame; None if it was never materialized."""
        from .preview import read_preview

        asset_key = coerce_key(key)
        node = self._code.graph.nodes.get(asset_key)
        record = await self.latest_materialization(asset_key, partition_key)
        if node is None or record is None:
            return None
        manager = self._resources.get(getattr(node, "io_manager_key", DEFAULT_IO_MANAGER_KEY))
        return await asyncio.to_thread(read_preview, asset_key, record, manager, limit)

    async def _off_loop(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if len(self._code.graph) <= _INLINE_LIMIT and not self._code.partitioned:
            return fn(*args, **kwargs)
        return await asyncio.to_thread(fn, *args, **kwargs)


async def _quietly(handle: RunHandle) -> None:
    try:
        await handle
    except Exception:  # already reported as the run's failure
        return


def code_root(assets: Iterable[Any]) -> Path | None:
    """The project root of the first asset defined in a file (where ``materialize()`` keeps
    its home, as the CLI would for that code)."""
    for item in assets:
        source = getattr(item, "source", None)
        if source is not None and os.path.isfile(source.file):
            return project_root(Path(source.file).resolve().parent)
    return None


def _selection_text(selection: Selection, keys: Iterable[AssetKey]) -> str:
    """A selection as the --select text a resumed backfill resolves again: as typed, or
    the keys it resolved to."""
    if selection is None or isinstance(selection, str):
        return selection or ""
    return ",".join(k.to_user_string() for k in keys)
