"""Dagster's event-log records as asset sensors see them, built from our ``AssetMaterialized``
events: ``EventLogRecord`` (``storage_id`` = the event's ``seq``) wraps an ``EventLogEntry``
whose ``asset_materialization`` has the key, metadata and partition."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from ..declarations.keys import AssetKey
from ..declarations.outputs import AssetMaterialization

if TYPE_CHECKING:
    from ..events import AssetMaterialized


class DagsterEventType(StrEnum):
    """The kinds of event a run's results and a sensor's records are (those of Dagster's that
    Millrace has). The run events' values are Dagster's stored ``PIPELINE_*`` strings, also
    reachable under those names, as in Dagster."""

    STEP_START = "STEP_START"
    STEP_SUCCESS = "STEP_SUCCESS"
    STEP_FAILURE = "STEP_FAILURE"
    STEP_SKIPPED = "STEP_SKIPPED"
    STEP_UP_FOR_RETRY = "STEP_UP_FOR_RETRY"
    ASSET_MATERIALIZATION = "ASSET_MATERIALIZATION"
    ASSET_OBSERVATION = "ASSET_OBSERVATION"
    ASSET_CHECK_EVALUATION = "ASSET_CHECK_EVALUATION"
    RUN_START = "PIPELINE_START"
    RUN_SUCCESS = "PIPELINE_SUCCESS"
    RUN_FAILURE = "PIPELINE_FAILURE"
    RUN_CANCELED = "PIPELINE_CANCELED"
    PIPELINE_START = RUN_START
    PIPELINE_SUCCESS = RUN_SUCCESS
    PIPELINE_FAILURE = RUN_FAILURE
    PIPELINE_CANCELED = RUN_CANCELED
    ENGINE_EVENT = "ENGINE_EVENT"


@dataclass(frozen=True)
class EventLogEntry:
    """One event of the log: who wrote it (``run_id``), when, and what."""

    run_id: str
    timestamp: float
    asset_materialization: AssetMaterialization | None = None
    dagster_event_type: DagsterEventType | None = DagsterEventType.ASSET_MATERIALIZATION
    step_key: str | None = None
    job_name: str | None = None

    @property
    def is_dagster_event(self) -> bool:
        return self.dagster_event_type is not None


@dataclass(frozen=True)
class EventLogRecord:
    """An entry with its id in the store: sensors' cursors count these ids."""

    storage_id: int
    event_log_entry: EventLogEntry

    @property
    def asset_key(self) -> AssetKey | None:
        materialization = self.event_log_entry.asset_materialization
        return None if materialization is None else materialization.asset_key

    @property
    def partition_key(self) -> str | None:
        materialization = self.event_log_entry.asset_materialization
        return None if materialization is None else materialization.partition

    @property
    def timestamp(self) -> float:
        return self.event_log_entry.timestamp

    @property
    def run_id(self) -> str:
        return self.event_log_entry.run_id


def record_of(event: AssetMaterialized) -> EventLogRecord:
    """The record of one of our materialization events."""
    assert event.asset_key is not None
    entry = EventLogEntry(
        run_id=event.run_id,
        timestamp=event.timestamp,
        asset_materialization=AssetMaterialization(
            asset_key=event.asset_key, metadata=dict(event.metadata), partition=event.partition_key
        ),
        step_key=event.asset_key.to_user_string(),
    )
    return EventLogRecord(storage_id=event.seq, event_log_entry=entry)
