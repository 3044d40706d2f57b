"""What the event store answers with: plain, frozen records, one per kind of row."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..declarations.keys import AssetKey
from ..declarations.metadata import MetadataValue
from ..events import InputVersion, RunOrigin, RunStatus


@dataclass(frozen=True, slots=True)
class RunRecord:
    run_id: str
    status: RunStatus
    selection: tuple[str, ...]
    config: dict[str, Any]
    tags: dict[str, str]
    start_time: float
    end_time: float | None
    message: str
    origin: RunOrigin = RunOrigin.MANUAL

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status.value,
            "selection": list(self.selection),
            "config": self.config,
            "tags": self.tags,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "message": self.message,
            "origin": self.origin.value,
        }


RUN_COLUMNS = "run_id, status, selection, config, tags, start_time, end_time, message, origin"


def run_record(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        run_id=row[0],
        status=RunStatus(row[1]),
        selection=tuple(json.loads(row[2])),
        config=json.loads(row[3]),
        tags=json.loads(row[4]),
        start_time=row[5],
        end_time=row[6],
        message=row[7],
        origin=RunOrigin(row[8]),
    )


@dataclass(frozen=True, slots=True)
class MaterializationRecord:
    """One materialization with its provenance: ``inputs`` is None for one recorded before
    provenance existed (schema v5), else what it consumed of each upstream asset."""

    asset_key: str
    partition_key: str | None
    run_id: str
    timestamp: float
    code_version: str | None
    data_version: str | None
    metadata: dict[str, MetadataValue]
    config: dict[str, Any] | None = None
    event_id: int | None = None
    inputs: tuple[InputVersion, ...] | None = None

    @property
    def key(self) -> AssetKey:
        return AssetKey.from_user_string(self.asset_key)

    def input_versions(self) -> dict[AssetKey, str | None] | None:
        """Upstream key -> the data version consumed; None without provenance."""
        if self.inputs is None:
            return None
        return {i.asset_key: i.data_version for i in self.inputs}


@dataclass(frozen=True, slots=True)
class CheckResultRecord:
    asset_key: str
    check_name: str
    run_id: str
    timestamp: float
    passed: bool
    severity: str
    blocking: bool
    description: str | None
    metadata: dict[str, MetadataValue]
    error: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class FailureRecord:
    """The asset's last attempt failed (and nothing materialized it since)."""

    asset_key: str
    partition_key: str | None
    run_id: str
    event_id: int
    timestamp: float
    error: str


@dataclass(frozen=True, slots=True)
class LeaseHolder:
    """A run of another process that is writing an asset this run wants to write."""

    asset_key: str
    partition_key: str | None
    run_id: str
    pid: int
    hostname: str


@dataclass(frozen=True, slots=True)
class PartitionRows:
    """A partitioned asset's partitions as the history knows them (``History.partition_facts``)."""

    # The partitions with a latest materialization, "\x1f"-joined in no set order: decoded
    # by who knows the definition's keys (often all of them: then no set is built).
    keys: str
    failed: frozenset[str]
    running: frozenset[str]
    code: list[tuple[str, str | None]]  # (partition, stored code version) other than now's
    data: list[tuple[str, str, str | None]]  # (partition, upstream, its partition) changed since
    new_dependencies: list[tuple[str, str]]  # (partition, upstream it never read)
    newest_event_id: int | None
    newest_timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class BackfillRecord:
    """A backfill: what it asked for and how far its runs got (counted from the history,
    so it is live while a run is going)."""

    backfill_id: str
    selection: str
    spec: dict[str, Any]
    created: float
    total: int  # (asset, partition) pairs its first run planned
    run_ids: tuple[str, ...]  # oldest first
    status: str  # of its latest run
    done: int  # pairs its runs materialized
    failed: int  # pairs whose last attempt, in one of its runs, failed

    @property
    def remaining(self) -> int:
        return max(self.total - self.done - self.failed, 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "backfill_id": self.backfill_id,
            "selection": self.selection,
            "spec": self.spec,
            "created": self.created,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "remaining": self.remaining,
            "run_ids": list(self.run_ids),
        }


@dataclass(frozen=True, slots=True)
class TickRecord:
    """One stored evaluation of a schedule or sensor (``TickEvaluated``)."""

    id: int
    name: str
    instigator: str
    timestamp: float
    scheduled_time: float | None
    status: str
    run_ids: tuple[str, ...]
    skip_reason: str | None
    error: str | None
    cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "instigator": self.instigator,
            "timestamp": self.timestamp,
            "scheduled_time": self.scheduled_time,
            "status": self.status,
            "run_ids": list(self.run_ids),
            "skip_reason": self.skip_reason,
            "error": self.error,
            "cursor": self.cursor,
        }


@dataclass(frozen=True, slots=True)
class InstigatorState:
    """A schedule's or sensor's stored state: ``status`` RUNNING, STOPPED or None (never
    set: its ``default_status`` holds), a sensor's ``cursor``, its ``last_tick``."""

    name: str
    instigator: str
    status: str | None = None
    cursor: str | None = None
    last_tick: TickRecord | None = None
