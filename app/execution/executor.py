"""The asyncio scheduler: starts every step whose upstreams are done, up to a concurrency bound.

It is driven by completion callbacks, not polling: finishing a step decrements its children's
pending counts and launches whatever became ready, so each step costs O(its edges). A ``def``
step that succeeds is booked on the worker thread that ran it, which then takes the next ready
step itself: a chain runs without a hop to the loop per step. The bookkeeping is under one
lock; what needs the loop (failures and their retry timers, ``async def`` steps, waits for a
write lock, the end of the run) is handed to it.

With ``early_cutoff``, a step whose stored materialization already has its code version,
config and input data versions is not run ("up to date"): so an edit that does not change an
asset's output stops at that asset. An observation always runs: only it can tell whether its
source changed.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..declarations.asset import RetryPolicy
from ..declarations.keys import AssetKey
from ..declarations.metadata import normalize_metadata
from ..errors import MissingInputError
from ..events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    ErrorInfo,
    Event,
    InputVersion,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
    StepWaiting,
)
from ..versions.data import data_version
from ..versions.staleness import Read, own_causes
from .failure import NO_RETRY, decide_retry, failure_info, final_exception, user_failure
from .launcher import StepLauncher
from .locks import WriteLocks
from .plan import ExecutionPlan
from .slots import StepSlots
from .step import CheckOutcome, RunServices, StepOutcome, StepRequest

# The standard library's own default for thread pools: room for I/O-bound assets without
# oversubscribing CPU-bound ones, which Polars already parallelizes inside each asset.
DEFAULT_MAX_CONCURRENCY = min(32, (os.cpu_count() or 1) + 4)


class StepStatus(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    SKIPPED = "SKIPPED"
    UP_TO_DATE = "UP_TO_DATE"  # early cutoff: not run, its stored value stays current
    OMITTED = "OMITTED"  # an optional multi-asset output not produced, or downstream of one


_DONE = (StepStatus.SUCCESS, StepStatus.UP_TO_DATE, StepStatus.OMITTED)


@dataclass
class ExecutionSummary:
    statuses: list[StepStatus]
    errors: dict[int, ErrorInfo] = field(default_factory=dict)
    exceptions: dict[int, BaseException] = field(default_factory=dict)
    values: dict[int, Any] = field(default_factory=dict)
    blocking_failures: list[str] = field(default_factory=list)  # failed blocking checks
    canceled: bool = False

    @property
    def success(self) -> bool:
        return (
            not self.canceled
            and not self.blocking_failures
            and all(s in _DONE for s in self.statuses)
        )


class Executor:
    """Runs one plan to completion (or cancellation); publishes step events as it goes."""

    def __init__(
        self,
        plan: ExecutionPlan,
        launcher: StepLauncher,
        services: RunServices,
        publish: Callable[[Event], None],
        *,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        code_versions: Mapping[AssetKey, str] | None = None,
        early_cutoff: bool = False,
        locks: WriteLocks | None = None,
        stage_value: Callable[[Event, bytes], None] | None = None,
        capture_values: bool = False,
        slots: StepSlots | None = None,
        job_retry_policy: RetryPolicy | None = None,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.plan = plan
        self._launcher = launcher
        self._services = services
        self._publish = publish
        self._limit = max_concurrency
        self._slots = slots or StepSlots(max_concurrency)  # shared by the process's runs
        self._capture = capture_values
        self._code_versions = code_versions or {}
        self._cutoff = early_cutoff
        self._locks = locks
        self._stage_value = stage_value
        self._job_retry_policy = job_retry_policy  # for steps with no policy of their own
        steps = plan.steps
        self._status = [StepStatus.PENDING] * len(steps)
        self._pending = [len(s.upstream) for s in steps]
        self._consumers_left = [s.consumers for s in steps]
        self._values: dict[int, Any] = {}
        self._given: dict[int, Any] = {}  # a multi-asset follower's, from its leader's call
        # Every asset (partition)'s data as this run sees it: stored before the run, or made
        # by it (and its data version alone, which early cutoff compares for every step).
        self._current: dict[Read, InputVersion] = {
            read: InputVersion(read[0], read[1], record.data_version, record.event_id)
            for read, record in services.history.items()
        }
        self._data_versions = {read: c.data_version for read, c in self._current.items()}
        self._ready: deque[int] = deque(i for i, n in enumerate(self._pending) if n == 0)
        # Running steps: an interruptible one's future (async, a retry or lock wait), else None.
        self._running: dict[int, asyncio.Future[Any] | None] = {}
        self._requests: dict[int, StepRequest] = {}
        self._timers: set[int] = set()  # steps waiting out a retry delay, or for a write lock
        self._locked: set[int] = set()  # steps holding their asset's write lock
        self._fields: list[dict[str, Any] | None] = [None] * len(steps)
        self._read_lists: list[list[Read] | None] = [None] * len(steps)
        self._remaining = len(steps)
        self._summary = ExecutionSummary(self._status)
        self._finished: asyncio.Future[None] | None = None
        self._settled: asyncio.Future[None] | None = None  # while settle() waits
        self._canceled = False
        # Booking is flat-combined: a thread that finds another booking leaves its change in
        # ``_changes`` for that one to apply, so workers never queue up behind each other.
        self._mutex = threading.Lock()
        self._changes: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._booker: int | None = None  # the thread applying changes, while one is
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    async def run(self) -> ExecutionSummary:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._finished = self._loop.create_future()
        self._book(_nothing)
        try:
            await asyncio.shield(self._finished)
        except asyncio.CancelledError:
            # The caller was cancelled (Ctrl-C): stop launching, wait for what is in flight.
            self.cancel()
            await self._finished
        if self._capture:
            self._summary.values = self._values
        return self._summary

    def cancel(self) -> None:
        """Launch nothing more, store nothing more; cancel running async steps and waits.
        A thread finishes what it computes (``context.is_canceled`` lets it stop early), but
        its value is discarded unless it was already being stored."""
        self._book(self._cancel, wait=True)

    def _cancel(self) -> None:
        if self._canceled:
            return
        self._canceled = True
        self._summary.canceled = True
        self._services.cancel.request()
        for future in self._running.values():
            if future is not None:
                future.cancel()

    async def settle(self) -> None:
        """Wait until every value stored before a cancel has been reported: from then on the
        canceled run stores and publishes nothing."""
        await asyncio.to_thread(self._services.cancel.wait_for_commits)
        settled = asyncio.get_running_loop().create_future()
        self._book(self._await_storing, settled, wait=True)
        await settled

    def _await_storing(self, settled: asyncio.Future[None]) -> None:
        self._settled = settled  # resolved once no step is storing any more

    def _storing(self) -> bool:
        return any(self._requests[i].committed for i in self._running)

    # -- threads ---------------------------------------------------------------------------

    def _book(self, change: Callable[..., None], *args: Any, wait: bool = False) -> None:
        """Apply ``change`` to the run's state and launch what became ready, on any thread.
        If another thread is booking, it applies ``change`` too, in order, before it lets go;
        ``wait`` returns only once it has. A bug in the bookkeeping fails run() rather than
        leave it waiting forever."""
        changes, me = self._changes, threading.get_ident()
        changes.append((change, args))
        if self._booker == me:
            return  # a change made while booking: the loop below applies it next
        # A change appended just as the booker lets go is seen by its re-check or by ours.
        while (wait or changes) and self._mutex.acquire(blocking=wait):
            wait = False
            self._booker = me
            try:
                while changes:
                    while changes:
                        change, args = changes.popleft()
                        change(*args)
                    self._pump()
                if self._settled is not None and not self._storing():
                    self._resolve(self._settled)
                    self._settled = None
            except BaseException as exc:
                if self._finished is not None:
                    self._resolve(self._finished, exc)
                raise
            finally:
                self._booker = None
                self._mutex.release()

    def _on_loop_thread(self) -> bool:
        return threading.get_ident() == self._loop_thread

    def _resolve(self, future: asyncio.Future[None], error: BaseException | None = None) -> None:
        if not self._on_loop_thread():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_settle, future, error)
        else:
            _settle(future, error)

    def _on_loop(self, i: int, then: Callable[..., None], *args: Any) -> None:
        """Continue step ``i`` with ``then(i, *args)`` on the loop; it counts as running (so
        against the limit) until then."""
        assert self._loop is not None
        self._running[i] = None
        self._loop.call_soon_threadsafe(self._book, self._resume, i, then, args)

    def _resume(self, i: int, then: Callable[..., None], args: tuple[Any, ...]) -> None:
        del self._running[i]
        if self._canceled:
            self._fail(i, asyncio.CancelledError("canceled with the run"), retry=False)
        else:
            then(i, *args)

    # -- scheduling ------------------------------------------------------------------------

    def _pump(self) -> None:
        ready, running, slots = self._ready, self._running, self._slots
        while (
            ready
            and not self._canceled
            and len(running) < self._limit
            and slots.claim(self, len(running))
        ):
            self._launch(ready.popleft(), attempt=1)
        slots.hold(self, len(running))
        if ready and not self._canceled and len(running) < self._limit:
            slots.wait(self, self._wake)  # other runs hold every slot
        if not running and (self._canceled or not ready):
            self._finish()

    def _wake(self) -> None:
        """A slot was given back, on whichever thread gave it."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._book, _nothing)

    def _step_fields(self, i: int) -> dict[str, Any]:
        """The fields every event about step ``i`` carries (built once per step)."""
        fields = self._fields[i]
        if fields is None:
            step = self.plan.steps[i]
            fields = self._fields[i] = {
                "run_id": self._services.run_id,
                "asset_key": step.key,
                "partition_key": step.partition_key,
                "check_name": step.check.name if step.check else None,
            }
            if len(step.partitions) > 1:  # a range: its step events name every partition
                fields["partition_keys"] = step.partitions
        return fields

    def _launch(self, i: int, attempt: int) -> None:
        step = self.plan.steps[i]
        if step.leader is not None:  # cut off, omitted or stored as its leader was
            if self._status[step.leader] is StepStatus.UP_TO_DATE:
                self._cut_off(i)
                return
            if i not in self._given:
                self._omit(i, f"{step.asset.multi.name} did not produce it (an optional output)")
                return
        if attempt == 1:
            if self._cutoff and step.leader is None and not step.observes and self._up_to_date(i):
                self._cut_off(i)
                return
            self._requests[i] = self._bind(i)
            if self._locks is not None and step.materializes and not self._lock(i):
                return
        self._start(i, attempt)

    def _bind(self, i: int) -> StepRequest:
        """The step's request, with the values its in-plan upstreams handed over."""
        step = self.plan.steps[i]
        request = StepRequest(step, {}, given=self._given.pop(i, None))
        steps, values = self.plan.steps, self._values
        for spec in step.inputs:
            if spec.partitions is None:
                if spec.sources and spec.sources[0] in values:
                    request.args[spec.param] = values[spec.sources[0]]
            else:
                request.parts[spec.param] = {
                    steps[source].partitions[0]: values[source]
                    for source in spec.sources
                    if source in values and len(steps[source].partitions) == 1
                }
            for source in spec.sources:
                self._release(source)
        return request

    def _lock(self, i: int) -> bool:
        """Take the asset's write lock: True if held now, else the step waits for it."""
        assert self._locks is not None
        step = self.plan.steps[i]
        if not self._on_loop_thread():
            if self._locks.try_acquire(self._lock_key(i), self._services.run_id):
                self._locked.add(i)
                return True
            self._on_loop(i, self._lock_then_start)  # a wait is the loop's
            return False
        wait = self._locks.acquire(self._lock_key(i), self._services.run_id)
        self._locked.add(i)
        if wait is None:
            return True
        holder = self._locks.holder(self._lock_key(i)) or "?"
        self._status[i] = StepStatus.RUNNING
        self._publish(
            StepWaiting(
                **self._step_fields(i),
                holder_run_id=holder,
                reason=f"waiting for {step.name}: run {holder[:8]}… is writing it",
            )
        )
        self._running[i] = wait
        self._timers.add(i)
        wait.add_done_callback(functools.partial(self._book, self._on_lock, i))
        return False

    def _lock_then_start(self, i: int) -> None:
        if self._lock(i):
            self._start(i, 1)

    def _on_lock(self, i: int, wait: asyncio.Future[None]) -> None:
        del self._running[i]
        self._timers.discard(i)
        if wait.cancelled():
            self._locked.discard(i)  # never held: nothing to release
            self._fail(i, asyncio.CancelledError("canceled with the run"), retry=False)
        else:
            self._start(i, 1)

    def _start(self, i: int, attempt: int) -> None:
        step = self.plan.steps[i]
        if step.runs_on_loop and not self._on_loop_thread():
            self._on_loop(i, self._start, attempt)
            return
        request = self._requests[i]
        request.attempt, request.committed = attempt, False
        self._status[i] = StepStatus.RUNNING
        self._publish(StepStarted(**self._step_fields(i), attempt=attempt))
        try:
            if step.problem is not None:
                raise MissingInputError(f"'{step.name}' cannot run: {step.problem}")
            status, steps = self._status, self.plan.steps
            # An upstream that ran but stored nothing cannot be an input; one that was up to
            # date computed nothing, and its stored value is loaded instead.
            missing = [
                s
                for s in step.inputs
                for source in s.sources
                if status[source] is StepStatus.SUCCESS
                and (
                    s.param not in request.args
                    if s.partitions is None
                    else steps[source].partitions[0] not in request.parts[s.param]
                )
            ]
            if missing:
                raise MissingInputError(_no_value(step.name, missing[0].key))
            # Under the lock: a worker that finishes it first waits until it is recorded.
            self._running[i] = self._launcher.launch(
                self._services, request, functools.partial(self._done, i)
            )
        except Exception as exc:  # this step cannot start: it fails, the run goes on
            self._fail(i, exc, retry=False)

    def _done(self, i: int, outcome: StepOutcome | None, error: BaseException | None) -> None:
        """Step ``i`` ended, on the thread that ran it: a success is booked right there, a
        failure (which may wait out a retry delay) on the loop."""
        if error is not None and not self._on_loop_thread():
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._book, self._ended, i, outcome, error)
        else:
            self._book(self._ended, i, outcome, error)

    def _ended(self, i: int, outcome: StepOutcome | None, error: BaseException | None) -> None:
        del self._running[i]
        if isinstance(error, asyncio.CancelledError):
            self._fail(i, error, retry=False)
        elif error is not None:
            self._fail(i, error, retry=not self._canceled)
        else:
            assert outcome is not None
            self._succeed(i, outcome)

    def _succeed(self, i: int, outcome: StepOutcome) -> None:
        step = self.plan.steps[i]
        fields = self._step_fields(i)
        del self._requests[i]
        for f in step.followers:
            if (given := outcome.siblings.get(self.plan.steps[f].key)) is not None:
                self._given[f] = given
        if not outcome.produced:
            self._unlock(i)
            self._omit(i, f"{step.asset.multi.name} did not produce it (an optional output)")
            self._unblock(step.followers)  # what the call did produce is still theirs to store
            return
        if step.observes:
            for observed in outcome.observations:
                self._observed(observed)
        elif step.check is None:
            self._publish_materialization(i, outcome)
        for reported in outcome.reported:
            self._publish(
                AssetMaterialized(
                    run_id=self._services.run_id,
                    asset_key=reported.asset_key,
                    partition_key=reported.partition,
                    metadata=normalize_metadata(reported.metadata, where=step.name),
                )
            )
        self._publish(StepSucceeded(**fields, duration=outcome.duration))
        blocked_by = None
        for check in outcome.checks:
            self._publish(_evaluation(fields, check))
            if check.blocks:
                blocked_by = blocked_by or check.name
                checked = check.asset_key or step.key
                self._summary.blocking_failures.append(f"{checked.to_user_string()}:{check.name}")
        self._status[i] = StepStatus.SUCCESS
        self._remaining -= 1
        if outcome.stored and (self._capture or self._consumers_left[i] > 0):
            self._values[i] = outcome.value
        if blocked_by is not None:
            reason = f"blocked by check {blocked_by} on {step.key.to_user_string()}"
            self._skip_downstream(i, reason)
            return
        self._unblock(self.plan.steps[i].downstream)

    def _publish_materialization(self, i: int, outcome: StepOutcome) -> None:
        """Record what the step stored (each partition of a range), with its provenance,
        then let others write it."""
        step = self.plan.steps[i]
        if outcome.parts is None:
            self._materialized(
                i,
                step.partition_key,
                self._reads(i),
                outcome.metadata,
                outcome.data_version,
                outcome.content_version,
                outcome.inline,
            )
        else:
            ups = step.node.upstream_keys
            for part, reads in zip(outcome.parts, step.partition_reads, strict=True):
                self._materialized(
                    i,
                    part.partition_key,
                    [(up, p) for up, keys in zip(ups, reads, strict=True) for p in keys or (None,)],
                    part.metadata,
                    outcome.data_version,
                    part.content_version,
                    part.inline,
                )
        self._unlock(i)

    def _materialized(
        self,
        i: int,
        partition_key: str | None,
        reads: list[Read],
        metadata: dict[str, Any],
        returned: str | None,
        content: str | None,
        inline: bytes | None,
    ) -> None:
        step = self.plan.steps[i]
        code_version = self._code_version(i)
        inputs = tuple(
            self._current.get(read) or InputVersion(read[0], read[1], None, None) for read in reads
        )
        version = data_version(
            returned=returned,
            content=content,
            code_version=code_version,
            upstream=[consumed.data_version for consumed in inputs],
        )
        event = AssetMaterialized(
            run_id=self._services.run_id,
            asset_key=step.key,
            partition_key=partition_key,
            metadata=metadata,
            code_version=code_version,
            data_version=version,
            config=_config_json(self._services.configs.get(step.key)),
            inputs=inputs,
        )
        if inline is not None and self._stage_value is not None:
            self._stage_value(event, inline)
        self._publish(event)
        made = (step.key, partition_key)
        self._current[made] = InputVersion(step.key, partition_key, version, event.seq)
        self._data_versions[made] = version

    def _observed(self, event: AssetObserved) -> None:
        """The source's data version from now on: what in-plan steps reading it consume."""
        self._publish(event)
        key, partition = event.asset_key, event.partition_key
        assert key is not None
        version = event.data_version
        self._current[(key, partition)] = InputVersion(key, partition, version, event.seq)
        self._data_versions[(key, partition)] = version

    def _reads(self, i: int) -> list[Read]:
        """Every (upstream, partition) step ``i`` reads, inputs and order-only deps alike."""
        step = self.plan.steps[i]
        reads = self._read_lists[i]
        if reads is None:
            ups = step.node.upstream_keys
            parts = step.upstream_partitions or (None,) * len(ups)
            reads = self._read_lists[i] = [
                (up, partition)
                for up, keys in zip(ups, parts, strict=True)
                for partition in keys or (None,)
            ]
        return reads

    def _code_version(self, i: int) -> str:
        step = self.plan.steps[i]
        # Without a computed version (a bare Executor), every run is new code, as in Dagster.
        return (
            self._code_versions.get(step.key) or step.asset.code_version or (self._services.run_id)
        )

    def _up_to_date(self, i: int) -> bool:
        """Early cutoff: the stored materialization already has this code, this config and
        these inputs; a check, when its asset and other inputs were all up to date; a
        multi-asset's call, when every output it makes is."""
        followers = self.plan.steps[i].followers
        return self._own_up_to_date(i) and all(self._own_up_to_date(f) for f in followers)

    def _own_up_to_date(self, i: int) -> bool:
        step = self.plan.steps[i]
        if step.check is not None:
            return bool(step.upstream) and all(
                self._status[u] is StepStatus.UP_TO_DATE for u in step.upstream
            )
        stored = self._services.history.get((step.key, step.partition_key))
        if stored is None or stored.inputs is None:
            return False
        if stored.config != _config_json(self._services.configs.get(step.key)):
            return False
        return not own_causes(self._code_version(i), stored, self._reads(i), self._data_versions)

    def _cut_off(self, i: int) -> None:
        step = self.plan.steps[i]
        stored = self._services.history.get((step.key, step.partition_key))
        reason = "asset unchanged" if step.check is not None else "inputs unchanged"
        version = stored.data_version if stored is not None and step.check is None else None
        self._publish(StepUpToDate(**self._step_fields(i), reason=reason, data_version=version))
        self._status[i] = StepStatus.UP_TO_DATE
        self._remaining -= 1
        for spec in step.inputs:
            for source in spec.sources:
                self._release(source)
        self._unblock(self.plan.steps[i].downstream)

    def _unblock(self, children: Iterable[int]) -> None:
        pending = self._pending
        for child in children:
            pending[child] -= 1
            if pending[child] == 0 and self._status[child] is StepStatus.PENDING:
                self._ready.append(child)

    def _lock_key(self, i: int) -> tuple[AssetKey, str | None]:
        step = self.plan.steps[i]
        if len(step.partitions) > 1:  # a range: its own lock, apart from the run's other chunks
            return step.key, f"{step.partitions[0]}...{step.partitions[-1]}"
        return step.key, step.partition_key

    def _unlock(self, i: int) -> None:
        if i in self._locked:
            self._locked.discard(i)
            assert self._locks is not None
            self._locks.release(self._lock_key(i), self._services.run_id)

    def _fail(self, i: int, exc: BaseException, *, retry: bool) -> None:
        step = self.plan.steps[i]
        request = self._requests[i]
        # A step's own policy wins over its job's op_retry_policy, as in Dagster.
        policy = step.node.retry_policy or self._job_retry_policy
        decision = decide_retry(exc, policy, request.attempt) if retry else NO_RETRY
        will_retry = decision.retry
        info = failure_info(exc, decision)
        failure = user_failure(exc)
        metadata = dict(failure.metadata) if failure is not None else {}
        self._publish(
            StepFailed(**self._step_fields(i), error=info, will_retry=will_retry, metadata=metadata)
        )
        if will_retry:
            loop = asyncio.get_running_loop()  # failures are booked on the loop
            self._status[i] = StepStatus.PENDING
            # A future stands for the wait, so cancel() treats it like a running async step.
            timer: asyncio.Future[None] = loop.create_future()
            handle = loop.call_later(decision.delay, timer.set_result, None)
            timer.add_done_callback(functools.partial(self._book, self._retry, i, handle))
            self._running[i] = timer
            self._timers.add(i)
            return
        del self._requests[i]
        self._unlock(i)
        stopped = self._canceled and isinstance(exc, asyncio.CancelledError)
        # A multi-asset's call failed for every output it was making.
        followers = [f for f in step.followers if self._status[f] is StepStatus.PENDING]
        for f in followers:
            self._publish(StepFailed(**self._step_fields(f), error=info, metadata=metadata))
        for j in (*followers, i):
            self._status[j] = StepStatus.FAILURE
            if not stopped:
                # Steps stopped by a cancel are reported as such, not as failures of their own.
                self._summary.errors[j] = info
                self._summary.exceptions[j] = final_exception(step.name, exc, decision)
            self._remaining -= 1
        for j in (*followers, i):
            name = self.plan.steps[j].name
            self._skip_downstream(
                j, "run canceled" if self._canceled else f"upstream {name} failed"
            )

    def _retry(self, i: int, handle: asyncio.TimerHandle, timer: asyncio.Future[None]) -> None:
        handle.cancel()
        del self._running[i]
        self._timers.discard(i)
        if timer.cancelled():
            self._fail(i, asyncio.CancelledError("canceled with the run"), retry=False)
        else:
            self._launch(i, self._requests[i].attempt + 1)

    def _skip_downstream(self, i: int, reason: str) -> None:
        stack = list(self.plan.steps[i].downstream)
        while stack:
            child = stack.pop()
            if self._status[child] is not StepStatus.PENDING:
                continue
            self._skip(child, reason)
            stack.extend(self.plan.steps[child].downstream)

    def _omit(self, i: int, reason: str) -> None:
        """An optional output not produced: it and what reads it are skipped, and the run
        still succeeds (Dagster's rule); the leader's other outputs go on."""
        steps = self.plan.steps
        leader = steps[i].leader if steps[i].leader is not None else i
        stack = [i]
        while stack:
            j = stack.pop()
            if self._status[j] not in (StepStatus.PENDING, StepStatus.RUNNING):
                continue
            self._skip(j, reason if j == i else f"upstream {steps[i].name} was not produced")
            self._status[j] = StepStatus.OMITTED
            stack.extend(d for d in steps[j].downstream if steps[d].leader != leader)

    def _skip(self, i: int, reason: str) -> None:
        step = self.plan.steps[i]
        self._status[i] = StepStatus.SKIPPED
        self._remaining -= 1
        for spec in step.inputs:
            for source in spec.sources:
                self._release(source)
        self._publish(StepSkipped(**self._step_fields(i), reason=reason))

    def _release(self, source: int) -> None:
        """One consumer took (or will never take) this value; drop it when none is left."""
        self._consumers_left[source] -= 1
        if self._consumers_left[source] == 0 and not self._capture:
            self._values.pop(source, None)

    def _finish(self) -> None:
        if self._finished is None or self._finished.done():
            return
        # Steps still pending can never start: the run was canceled, or (a plan bug) they
        # wait on each other; either way they are reported, never left hanging.
        reason = "run canceled" if self._canceled else "its upstream steps never finished"
        for i, status in enumerate(self._status):
            if status is StepStatus.PENDING:
                self._skip(i, reason)
        self._resolve(self._finished)


def _nothing() -> None:
    """A change of no state: ``_book(_nothing)`` only launches what is ready."""


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _no_value(name: str, upstream: AssetKey) -> str:
    up = upstream.to_user_string()
    return (
        f"'{name}' takes '{up}' as an input, but '{up}' stored no value (it returned "
        f"MaterializeResult, or None under '-> None'); depend on it with deps=['{up}'] instead"
    )


def _config_json(config: Any) -> dict[str, Any] | None:
    return None if config is None else config.model_dump(mode="json")


def _evaluation(fields: dict[str, Any], check: CheckOutcome) -> AssetCheckEvaluated:
    result = check.result
    about = {k: v for k, v in fields.items() if k != "partition_keys"}
    if check.asset_key is not None:
        about["asset_key"] = check.asset_key
    return AssetCheckEvaluated(
        **{**about, "check_name": check.name},
        passed=result.passed,
        severity=result.severity.value,
        blocking=check.blocking,
        description=result.description,
        metadata=result.metadata,
        error=check.error,
    )
