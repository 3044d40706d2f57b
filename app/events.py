"""Typed run events and the in-memory bus that carries them to storage and to every view.

One frozen dataclass per kind; each event is created in one place and published once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, ClassVar

from .definitions.keys import AssetKey
from .definitions.metadata import MetadataValue, metadata_from_json, metadata_to_json


class RunStatus(StrEnum):
    STARTED = "STARTED"
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    CANCELED = "CANCELED"


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An exception as data: safe to store, print and send across processes."""

    type: str
    message: str
    traceback: str = ""  # the user-code frames only
    cause: str | None = None

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    kind: ClassVar[str] = "EVENT"

    run_id: str
    asset_key: AssetKey | None = None
    partition_key: str | None = None
    check_name: str | None = None  # set on the steps and results of asset checks
    timestamp: float = field(default_factory=time.time)

    def payload(self) -> dict[str, Any]:
        """The kind-specific fields, as JSON-ready data."""
        return {f: _to_json(getattr(self, f)) for f in _payload_fields(type(self))}

    def to_json(self) -> dict[str, Any]:
        return {
            "type": self.kind,
            "run_id": self.run_id,
            "asset_key": self.asset_key.to_user_string() if self.asset_key else None,
            "partition_key": self.partition_key,
            "check_name": self.check_name,
            "timestamp": self.timestamp,
            **self.payload(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    kind: ClassVar[str] = "RUN_STARTED"
    selection: tuple[str, ...] = ()
    config: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    kind: ClassVar[str] = "RUN_FINISHED"
    status: RunStatus = RunStatus.SUCCESS
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(Event):
    kind: ClassVar[str] = "STEP_STARTED"
    attempt: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSucceeded(Event):
    kind: ClassVar[str] = "STEP_SUCCEEDED"
    duration: float = 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed(Event):
    kind: ClassVar[str] = "STEP_FAILED"
    error: ErrorInfo = ErrorInfo("Error", "")
    duration: float = 0.0
    will_retry: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSkipped(Event):
    kind: ClassVar[str] = "STEP_SKIPPED"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AssetMaterialized(Event):
    kind: ClassVar[str] = "ASSET_MATERIALIZED"
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    code_version: str | None = None
    data_version: str | None = None
    config: dict[str, Any] | None = None  # the asset's resolved Config: part of its lineage
    # A small stored value, committed with this event (never part of its JSON payload).
    value: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
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


@dataclass(frozen=True, slots=True, kw_only=True)
class LogMessage(Event):
    kind: ClassVar[str] = "LOG"
    level: str = "INFO"
    message: str = ""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        RunStarted,
        RunFinished,
        StepStarted,
        StepSucceeded,
        StepFailed,
        StepSkipped,
        AssetMaterialized,
        AssetCheckEvaluated,
        LogMessage,
    )
}

_BASE_FIELDS = {"run_id", "asset_key", "partition_key", "check_name", "timestamp"}
_NOT_IN_PAYLOAD = {*_BASE_FIELDS, "value"}
_FIELDS_CACHE: dict[type, tuple[str, ...]] = {}


def _payload_fields(cls: type) -> tuple[str, ...]:
    fields = _FIELDS_CACHE.get(cls)
    if fields is None:
        fields = tuple(f.name for f in dataclasses.fields(cls) if f.name not in _NOT_IN_PAYLOAD)
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
        return list(value)
    return value


def event_from_record(
    kind: str,
    run_id: str,
    asset_key: str | None,
    partition_key: str | None,
    check_name: str | None,
    timestamp: float,
    payload: dict[str, Any],
) -> Event:
    """Rebuild a stored event; the inverse of ``Event.payload``."""
    cls = EVENT_TYPES[kind]
    if cls is RunFinished:
        payload["status"] = RunStatus(payload["status"])
    elif cls is StepFailed:
        payload["error"] = ErrorInfo(**payload["error"])
    elif cls is AssetMaterialized:
        payload["metadata"] = metadata_from_json(payload["metadata"])
    elif cls is AssetCheckEvaluated:
        payload["metadata"] = metadata_from_json(payload["metadata"])
        if payload.get("error"):
            payload["error"] = ErrorInfo(**payload["error"])
    elif cls is RunStarted:
        payload["selection"] = tuple(payload["selection"])
    return cls(
        run_id=run_id,
        asset_key=AssetKey.from_user_string(asset_key) if asset_key else None,
        partition_key=partition_key,
        check_name=check_name,
        timestamp=timestamp,
        **payload,
    )


Subscriber = Callable[[Event], None]
_log = logging.getLogger("millrace")


class EventBus:
    """Synchronous fan-out on the event loop's thread; subscribers must not block."""

    def __init__(self) -> None:
        self._subscribers: list[Subscriber] = []

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def publish(self, event: Event) -> None:
        for subscriber in tuple(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                # A broken view (a closed pipe, a UI bug) must not stop the run or the store.
                _log.exception("event subscriber %r failed; unsubscribing it", subscriber)
                self._subscribers.remove(subscriber)

    def stream(self) -> AsyncGenerator[Event, None]:
        """Every event published from this call on, for async consumers (a UI, a test).

        Subscribes at once, not at the first ``async for``, so nothing published in between
        is missed; ``aclose()`` the iterator (or let it be collected) to unsubscribe.
        """
        queue: asyncio.Queue[Event] = asyncio.Queue()
        unsubscribe = self.subscribe(queue.put_nowait)

        async def events() -> AsyncGenerator[Event, None]:
            try:
                while True:
                    yield await queue.get()
            finally:
                unsubscribe()

        return events()
