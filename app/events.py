"""Typed events and the in-memory bus that carries them to storage and to every view.

One frozen dataclass per kind; each event is created in one place and published once. The bus
numbers every event as it is published (``seq``) and the store keeps that number, so a view
can read history and then follow the live stream with no gap and no duplicate.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import operator
import reprlib
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, ClassVar

from .declarations.keys import AssetKey
from .declarations.metadata import MetadataValue, metadata_from_json, metadata_to_json


class RunStatus(StrEnum):
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELED = "CANCELED"


class RunOrigin(StrEnum):
    """What started a run, stored with it: automation decides by it (a sensor's runs are not
    a person's) and ``millrace runs`` shows it."""

    MANUAL = "manual"  # the CLI, the TUI, code calling materialize or the Runtime
    DEV = "dev"  # the dev loop, rerunning what a save made stale
    BACKFILL = "backfill"
    SCHEDULE = "schedule"
    SENSOR = "sensor"
    AUTOMATION = "automation"  # a declarative automation condition


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An exception as data: safe to store, print and send across processes."""

    type: str
    message: str
    traceback: str = ""  # the user-code frames only
    cause: str | None = None

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True, slots=True)
class InputVersion:
    """What one materialization consumed of one upstream asset: its provenance, per input."""

    asset_key: AssetKey
    partition_key: str | None
    data_version: str | None  # None: the upstream has never been materialized
    event_id: int | None  # the upstream materialization's event, when there is one

    def to_json(self) -> dict[str, Any]:
        return {
            "asset_key": self.asset_key.to_user_string(),
            "partition_key": self.partition_key,
            "data_version": self.data_version,
            "event_id": self.event_id,
        }

    @staticmethod
    def from_json(
        data: dict[str, Any], key_of: Callable[[str], AssetKey] = AssetKey.from_user_string
    ) -> InputVersion:
        return InputVersion(
            key_of(data["asset_key"]),
            data.get("partition_key"),
            data.get("data_version"),
            data.get("event_id"),
        )


# Every kind compares, hashes and prints as a frozen dataclass does (eq, repr), by methods
# Event defines once: generating them for each of some twenty kinds was a third of what
# importing this module cost, which every run's start-up pays.
@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Event:
    kind: ClassVar[str] = "EVENT"

    run_id: str = ""  # empty for events of the runtime itself (reloads, code errors)
    asset_key: AssetKey | None = None
    partition_key: str | None = None
    check_name: str | None = None  # set on the steps and results of asset checks
    timestamp: float = field(default_factory=time.time)
    seq: int = 0  # set by the bus when published; the event's id in the store

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        values = _field_values(self.__class__)
        return values(self) == values(other)

    def __hash__(self) -> int:
        return hash(_field_values(self.__class__)(self))

    @reprlib.recursive_repr()
    def __repr__(self) -> str:
        cls = self.__class__
        shown = ", ".join(f"{f}={getattr(self, f)!r}" for f in _field_names(cls))
        return f"{cls.__qualname__}({shown})"

    def payload(self) -> dict[str, Any]:
        """The kind-specific fields, as JSON-ready data."""
        return {f: _to_json(getattr(self, f)) for f in _payload_fields(type(self))}

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "seq": self.seq,
            "run_id": self.run_id,
            "asset_key": self.asset_key.to_user_string() if self.asset_key else None,
            "partition_key": self.partition_key,
            "check_name": self.check_name,
            "timestamp": self.timestamp,
            **self.payload(),
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RunStarted(Event):
    kind: ClassVar[str] = "RUN_STARTED"
    selection: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    origin: RunOrigin = RunOrigin.MANUAL


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class RunFinished(Event):
    kind: ClassVar[str] = "RUN_FINISHED"
    status: RunStatus = RunStatus.SUCCESS
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StepEvent(Event):
    """An event about one step. A step for several partitions at once (a single-run
    backfill) has no ``partition_key``: ``partition_keys`` names them all."""

    partition_keys: tuple[str, ...] = ()

    def payload(self) -> dict[str, Any]:
        out = Event.payload(self)
        if not self.partition_keys:  # nearly every step: keep its stored row as it was
            del out["partition_keys"]
        return out


def partitions_of(event: Event) -> tuple[str | None, ...]:
    """The partitions an event is about: its one key (None if unpartitioned), or a range's."""
    return getattr(event, "partition_keys", ()) or (event.partition_key,)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StepStarted(StepEvent):
    kind: ClassVar[str] = "STEP_STARTED"
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StepSucceeded(StepEvent):
    kind: ClassVar[str] = "STEP_SUCCEEDED"
    duration: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StepFailed(StepEvent):
    kind: ClassVar[str] = "STEP_FAILED"
    error: ErrorInfo = ErrorInfo("Error", "")
    duration: float = 0.0
    will_retry: bool = False
    metadata: dict[str, MetadataValue] = field(default_factory=dict)  # a Failure's

    def payload(self) -> dict[str, Any]:
        out = StepEvent.payload(self)
        if not self.metadata:  # most failures raise no Failure: keep their stored row as it was
            del out["metadata"]
        return out


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StepSkipped(StepEvent):
    kind: ClassVar[str] = "STEP_SKIPPED"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StepUpToDate(StepEvent):
    """Early cutoff: the stored materialization already has this code and these inputs."""

    kind: ClassVar[str] = "STEP_UP_TO_DATE"
    reason: str = "inputs unchanged"
    data_version: str | None = None  # the stored materialization's, which stays current


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class StepWaiting(StepEvent):
    """The step waits for another run that is writing the same asset."""

    kind: ClassVar[str] = "STEP_WAITING"
    holder_run_id: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AssetMaterialized(Event):
    kind: ClassVar[str] = "ASSET_MATERIALIZED"
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    code_version: str | None = None
    data_version: str | None = None
    config: dict[str, Any] | None = None  # the asset's resolved Config: part of its lineage
    inputs: tuple[InputVersion, ...] = ()  # provenance: what of each upstream it consumed
    # Recorded on recovery, from the file a killed run stored but never recorded: its code
    # and inputs are unknown, so it has no provenance (and shows as stale).
    recovered: bool = False


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AssetObserved(Event):
    """An external asset (an observable source) was observed: the data version it has now,
    which its downstream assets' provenance is compared with. Never a materialization."""

    kind: ClassVar[str] = "ASSET_OBSERVATION"
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    data_version: str | None = None
    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    code_version: ClassVar[None] = None  # read beside materializations' by the partition index


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AssetCheckEvaluated(Event):
    kind: ClassVar[str] = "ASSET_CHECK_EVALUATED"
    passed: bool = True
    severity: str = "ERROR"
    blocking: bool = False
    description: str | None = None
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    error: ErrorInfo | None = None  # the check raised instead of returning a result

    @property
    def check_key(self) -> str:
        return f"{self.asset_key.to_user_string() if self.asset_key else '?'}:{self.check_name}"


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class LogMessage(Event):
    kind: ClassVar[str] = "LOG"
    level: str = "INFO"
    message: str = ""


@dataclass(frozen=True, slots=True)
class AssetChange:
    """How one asset differs between two loads of the code."""

    asset_key: AssetKey
    attributes: tuple[str, ...]  # e.g. ("code_version", "deps")
    code_changed: bool
    old_code_version: str | None = None
    new_code_version: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "asset_key": self.asset_key.to_user_string(),
            "attributes": list(self.attributes),
            "code_changed": self.code_changed,
            "old_code_version": self.old_code_version,
            "new_code_version": self.new_code_version,
        }


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class ReloadApplied(Event):
    """New code is loaded and serving; what changed against the graph it replaced."""

    kind: ClassVar[str] = "RELOAD_APPLIED"
    added: tuple[AssetKey, ...] = ()
    removed: tuple[AssetKey, ...] = ()
    changed: tuple[AssetChange, ...] = ()
    duration: float = 0.0  # seconds spent importing and diffing


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class Watching(Event):
    """The dev runtime watches the code: a file saved from now on is reloaded."""

    kind: ClassVar[str] = "WATCHING"
    directory: str = ""
    assets: int = 0


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class CodeError(Event):
    """A save broke the code; the last good graph keeps serving."""

    kind: ClassVar[str] = "CODE_ERROR"
    file: str | None = None
    line: int | None = None
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class CodeRecovered(Event):
    """The code loads again after a CodeError."""

    kind: ClassVar[str] = "CODE_RECOVERED"
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class TickEvaluated(Event):
    """A schedule or sensor evaluated once: what it decided, the runs it started (with
    their run keys, which it never launches again) and a sensor's cursor after it."""

    kind: ClassVar[str] = "TICK_EVALUATED"
    name: str = ""
    instigator: str = ""  # "schedule" or "sensor"
    status: str = ""  # SUCCESS (runs requested), SKIPPED, FAILURE
    scheduled_time: float | None = None  # a schedule's tick instant
    run_ids: tuple[str, ...] = ()
    run_keys: tuple[str, ...] = ()  # of run_ids, "" where a request had none
    skip_reason: str | None = None
    error: str | None = None
    cursor: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class AutomationEvaluated(Event):
    """Declarative automation evaluated some assets' conditions (for ``sensor``): per asset
    key, ``{"requested": [partition or None...], "reason": text, "state": memory}``. The
    event history stores only what it requested; the rest is kept per asset, latest only."""

    kind: ClassVar[str] = "AUTOMATION_EVALUATED"
    sensor: str = ""
    evaluations: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class FreshnessChanged(Event):
    """An asset's freshness policy now evaluates to another state (PASS, WARN, FAIL,
    UNKNOWN): at a deadline passing, or at a materialization."""

    kind: ClassVar[str] = "FRESHNESS_CHANGED"
    state: str = ""
    previous: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True, eq=False, repr=False)
class InstigatorChanged(Event):
    """A schedule or sensor started or stopped (from the CLI, the TUI or code); it stays so
    across restarts."""

    kind: ClassVar[str] = "INSTIGATOR_CHANGED"
    name: str = ""
    instigator: str = ""
    running: bool = False


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        RunFinished,
        StepStarted,
        StepSucceeded,
        StepFailed,
        StepSkipped,
        StepUpToDate,
        StepWaiting,
        AssetMaterialized,
        AssetObserved,
        AssetCheckEvaluated,
        LogMessage,
        ReloadApplied,
        Watching,
        CodeError,
        CodeRecovered,
        TickEvaluated,
        InstigatorChanged,
        AutomationEvaluated,
        FreshnessChanged,
    )
}

_BASE_FIELDS = {"run_id", "asset_key", "partition_key", "check_name", "timestamp", "seq"}
_FIELDS_CACHE: dict[type, tuple[str, ...]] = {}
_NAMES: dict[type, tuple[str, ...]] = {}
_VALUES: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _NAMES.get(cls)
    if names is None:
        names = _NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return names


def _field_values(cls: type) -> Callable[[Any], tuple[Any, ...]]:
    """A kind's field values as a tuple: what its equality and hash compare, as a
    dataclass's do (every field of every kind compares; there are always several)."""
    values = _VALUES.get(cls)
    if values is None:
        values = _VALUES[cls] = operator.attrgetter(*_field_names(cls))
    return values


def _payload_fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS_CACHE.get(cls)
    if fields is None:
        fields = tuple(f.name for f in dataclasses.fields(cls) if f.name not in _BASE_FIELDS)
        _FIELDS_CACHE[cls] = fields
    return fields


_PLAIN = (str, int, float, bool, type(None))


def _to_json(value: Any) -> Any:
    if type(value) in _PLAIN:  # most fields of most events: no conversion to look for
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, ErrorInfo):
        return {
            "type": value.type,
            "message": value.message,
            "traceback": value.traceback,
            "cause": value.cause,
        }
    if isinstance(value, dict) and value and isinstance(next(iter(value.values())), MetadataValue):
        return metadata_to_json(value)
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    if isinstance(value, AssetKey):
        return value.to_user_string()
    if isinstance(value, InputVersion | AssetChange):
        return value.to_json()
    return value


def event_from_record(
    kind: str,
    run_id: str,
    asset_key: str | None,
    partition_key: str | None,
    check_name: str | None,
    timestamp: float,
    payload: dict[str, Any],
    seq: int = 0,
    key_of: Callable[[str], AssetKey] = AssetKey.from_user_string,
) -> Event:
    """Rebuild a stored event; the inverse of ``Event.payload``. ``key_of`` makes the
    AssetKey of a stored key (a reader of many events remembers those it made)."""
    cls = EVENT_TYPES[kind]
    if cls is RunFinished:
        payload["status"] = RunStatus(payload["status"])
    elif cls is StepFailed:
        payload["error"] = ErrorInfo(**payload["error"])
        payload["metadata"] = metadata_from_json(payload.get("metadata"))
    elif cls is AssetMaterialized:
        payload["metadata"] = metadata_from_json(payload["metadata"])
        payload["inputs"] = tuple(
            InputVersion.from_json(i, key_of) for i in payload.get("inputs", ())
        )
    elif cls is ReloadApplied:
        payload["added"] = tuple(AssetKey.from_user_string(k) for k in payload["added"])
        payload["removed"] = tuple(AssetKey.from_user_string(k) for k in payload["removed"])
        payload["changed"] = tuple(
            AssetChange(
                AssetKey.from_user_string(c["asset_key"]),
                tuple(c["attributes"]),
                c["code_changed"],
                c.get("old_code_version"),
                c.get("new_code_version"),
            )
            for c in payload["changed"]
        )
    elif cls is AssetObserved:
        payload["metadata"] = metadata_from_json(payload["metadata"])
    elif cls is AssetCheckEvaluated:
        payload["metadata"] = metadata_from_json(payload["metadata"])
        if payload.get("error"):
            payload["error"] = ErrorInfo(**payload["error"])
    elif cls is RunStarted:
        payload["selection"] = tuple(payload["selection"])
        payload["origin"] = RunOrigin(payload.get("origin", RunOrigin.MANUAL))
    elif cls is TickEvaluated:
        payload["run_ids"] = tuple(payload["run_ids"])
        payload["run_keys"] = tuple(payload["run_keys"])
    if "partition_keys" in payload:
        payload["partition_keys"] = tuple(payload["partition_keys"])
    return cls(
        run_id=run_id,
        asset_key=key_of(asset_key) if asset_key else None,
        partition_key=partition_key or None,  # stored as '' when unpartitioned
        check_name=check_name,
        timestamp=timestamp,
        seq=seq,
        **payload,
    )


def step_name(event: Event) -> str:
    """The asset key of a step's event, ``asset:check`` for a check's (``-`` for neither),
    with its partition as the plan names it: ``daily[2024-01-02]``."""
    name = event.asset_key.to_user_string() if event.asset_key else "-"
    if event.check_name:
        name = f"{name}:{event.check_name}"
    keys: tuple[str, ...] = getattr(event, "partition_keys", ())
    if len(keys) > 1:
        return f"{name}[{keys[0]}...{keys[-1]}]"
    return f"{name}[{event.partition_key}]" if event.partition_key is not None else name


def is_check_step(name: str) -> bool:
    """A check step's name has ``:`` before any partition (an hour's key has its own)."""
    return ":" in name.partition("[")[0]


# A backfill's runs carry its id, and its first run what it asked for, as run tags (Dagster
# tags a backfill's runs with ``dagster/backfill``); the store records the backfill from them.
BACKFILL_TAG = "dagster/backfill"
BACKFILL_SELECTION_TAG = "millrace/backfill_selection"
BACKFILL_SPEC_TAG = "millrace/backfill_spec"
BACKFILL_TOTAL_TAG = "millrace/backfill_total"


Subscriber = Callable[[Event], None]
# How long events published off the loop may wait to be delivered together. Waking the loop
# for each step's events made the worker and the loop trade the GIL twice a step; views
# redraw far more slowly than this, and the store batches its writes for longer anyway.
DELIVERY_DELAY = 0.002
_log = logging.getLogger("millrace")


class EventBus:
    """Fan-out to subscribers, always on the event loop's thread, in id order.

    ``publish`` may be called from any thread: the event gets its id at once, under a lock, so
    ids follow the order events happen in; it is delivered on the loop the bus is bound to
    (``bind``): at once when published there, with whatever other threads queued before it;
    from another thread, within ``DELIVERY_DELAY``, together with what that thread and others
    publish meanwhile. Subscribers must not block.

    ``ids`` numbers the events: by default a counter from 1; the event store replaces it with
    ids reserved in its database, so numbers stay unique across processes sharing a home.
    """

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []
        self._at_publish: list[Subscriber] = []
        self.ids: Iterator[int] = _counter()
        self._lock = threading.Lock()
        self._queued: list[Event] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._drain_scheduled = False
        self._delivering = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver on ``loop`` (called on its thread): what other threads publish hops there."""
        self._loop, self._loop_thread = loop, threading.get_ident()

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def subscribe_at_publish(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` at once, on the publishing thread, in id order: for what a step
        must read back right away (``context.instance`` sees its upstream's materialization
        before the loop has delivered it). It must be thread-safe, quick, and never publish."""
        self._at_publish.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._at_publish:
                self._at_publish.remove(subscriber)

        return unsubscribe

    def publish(self, event: Event) -> None:
        here = self._loop_thread is None or threading.get_ident() == self._loop_thread
        with self._lock:
            object.__setattr__(event, "seq", next(self.ids))
            for subscriber in tuple(self._at_publish):
                _call(subscriber, event, self._at_publish)
            self._queued.append(event)
            wake = not here and not self._drain_scheduled
            if wake:
                self._drain_scheduled = True
        if here:
            if not self._delivering:  # else the drain under way delivers it, in order
                self._drain()
        elif wake:
            assert self._loop is not None
            try:
                self._loop.call_soon_threadsafe(
                    self._loop.call_later, DELIVERY_DELAY, self._scheduled_drain
                )
            except RuntimeError:  # the loop has closed: nobody is left to tell
                with self._lock:
                    self._queued.clear()
                    self._drain_scheduled = False

    def _scheduled_drain(self) -> None:
        with self._lock:
            self._drain_scheduled = False
        self.drain()

    def drain(self) -> None:
        """On the loop's thread: deliver now what other threads have published."""
        if not self._delivering:
            self._drain()

    def _drain(self) -> None:
        self._delivering = True
        try:
            while True:
                with self._lock:
                    if not self._queued:
                        return
                    # Published while these are delivered: a later batch, so order holds.
                    batch, self._queued = self._queued, []
                for event in batch:
                    self._deliver(event)
        finally:
            self._delivering = False

    def _deliver(self, event: Event) -> None:
        for subscriber in tuple(self._subscribers):
            _call(subscriber, event, self._subscribers)

    def stream(
        self, kinds: Collection[str] | None = None, run_id: str | None = None
    ) -> Subscription:
        """Every event published from this call on (of ``kinds``, of run ``run_id``)."""
        return Subscription(self, kinds, run_id)


def _call(subscriber: Subscriber, event: Event, subscribers: list[Subscriber]) -> None:
    try:
        subscriber(event)
    except Exception:
        # A broken view (a closed pipe, a UI bug) must not stop the run or the store.
        _log.exception("event subscriber %r failed; unsubscribing it", subscriber)
        if subscriber in subscribers:
            subscribers.remove(subscriber)


def _counter() -> Iterator[int]:
    n = 0
    while True:
        n += 1
        yield n


class Subscription:
    """An async iterator over live events; subscribed from creation, so nothing published in
    between is missed, and unsubscribed by ``aclose()`` (or ``async with``) even if it was
    never iterated."""

    def __init__(self, bus: EventBus, kinds: Collection[str] | None, run_id: str | None) -> None:
        self.closed = False
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue()
        wanted = frozenset(kinds) if kinds is not None else None
        put = self._queue.put_nowait

        def deliver(event: Event) -> None:
            if (wanted is None or event.kind in wanted) and (
                run_id is None or event.run_id == run_id
            ):
                put(event)

        self._unsubscribe = bus.subscribe(deliver)

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        event = None if self.closed else await self._queue.get()
        if event is None:  # closed, also while a reader was waiting
            raise StopAsyncIteration
        return event

    def pending(self) -> int:
        """Events received and not yet read."""
        return self._queue.qsize()

    async def aclose(self) -> None:
        self.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._unsubscribe()
            self._queue.put_nowait(None)

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        if hasattr(self, "_unsubscribe"):  # construction completed
            self.close()
