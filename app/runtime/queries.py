"""The catalog: every asset as the code declares it now, joined with what the store knows.

Pure functions over the loaded code and store records, so a UI query costs two SQL reads
and one pass over the graph.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..automation.freshness import freshness_state
from ..declarations.keys import AssetKey
from ..execution.partitioning import PartitionContext, partitions_def_of, resolved_mapping
from ..storage.records import (
    CheckResultRecord,
    FailureRecord,
    MaterializationRecord,
    PartitionRows,
)
from ..versions.partition_status import (
    PartitionFacts,
    PartitionStatuses,
    Upstream,
    asset_status,
    decode_keys,
    partition_statuses,
)
from ..versions.staleness import Assessment, Category, Cause, Status, assess, short

if TYPE_CHECKING:
    from .loaded_code import LoadedCode


@dataclass(frozen=True, slots=True)
class CheckSummary:
    passed: int = 0
    warned: int = 0  # failed with severity WARN
    failed: int = 0  # failed with severity ERROR
    not_run: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "passed": self.passed,
            "warned": self.warned,
            "failed": self.failed,
            "not_run": self.not_run,
        }


@dataclass(frozen=True, slots=True)
class AssetState:
    """One row of the catalog."""

    asset_key: AssetKey
    group: str
    kinds: tuple[str, ...]
    materializable: bool
    status: Status
    causes: tuple[Cause, ...]
    code_version: str | None
    code_version_note: str | None  # e.g. why the version comes from bytecode
    data_version: str | None
    last_materialized: float | None
    last_run_id: str | None
    row_count: int | None
    checks: CheckSummary
    failure: str | None  # the error of the last attempt, when it failed
    partitions: dict[str, int] | None = None  # per status, for a partitioned asset
    freshness: tuple[str, str] | None = None  # (PASS/WARN/FAIL/UNKNOWN, why) under a policy

    def to_json(self) -> dict[str, Any]:
        return {
            "asset_key": self.asset_key.to_user_string(),
            "status": self.status.value,
            "causes": [c.to_json() for c in self.causes],
            "code_version": self.code_version,
            "code_version_note": self.code_version_note,
            "data_version": self.data_version,
            "last_materialized": self.last_materialized,
            "last_run_id": self.last_run_id,
            "group": self.group,
            "kinds": list(self.kinds),
            "materializable": self.materializable,
            "row_count": self.row_count,
            "checks": self.checks.to_json(),
            "failure": self.failure,
            "partitions": self.partitions,
            "freshness": (
                {"state": self.freshness[0], "reason": self.freshness[1]}
                if self.freshness
                else None
            ),
        }


class PartitionAssessor:
    """One partitioned asset's partitions, assessed in the catalog's topological pass."""

    def __init__(
        self,
        asset: AssetKey,
        code: LoadedCode,
        rows: PartitionRows,
        shared: dict[AssetKey, dict[str, Any]],
        context: PartitionContext,
    ) -> None:
        graph = code.graph
        node = graph.nodes[asset]
        definition = partitions_def_of(node)
        assert definition is not None, f"{asset.to_user_string()} is not partitioned"
        self.asset = asset
        self.definition = definition
        self.context = context
        self.keys = self.definition.get_partition_keys(
            current_time=context.current_time, dynamic_partitions_store=context.dynamic
        )
        self.upstreams = (
            [
                Upstream(
                    up,
                    resolved_mapping(node, up, graph.nodes[up], context),
                    partitions_def_of(graph.nodes[up]),
                )
                for up in node.upstream_keys
            ]
            if node.is_executable
            else []
        )
        version = code.versions.get(asset)
        code_version = version.value if version is not None else None
        self.facts = _facts(rows, code_version, definition, self.keys)
        self.newest_event_id = rows.newest_event_id
        self.newest_timestamp = rows.newest_timestamp
        self.shared = shared
        self.statuses: PartitionStatuses | None = None

    def assess(self, roots: Mapping[AssetKey, Cause]) -> Assessment:
        self.statuses = partition_statuses(
            self.asset,
            self.definition,
            self.keys,
            self.upstreams,
            self.facts,
            self.shared,
            roots,
            current_time=self.context.current_time,
            dynamic=self.context.dynamic,
        )
        status, causes = asset_status(self.statuses)
        return Assessment(status, causes)


def _facts(
    rows: PartitionRows, code_version: str | None, definition: Any, keys: Sequence[str]
) -> PartitionFacts:
    """The partitions' own first causes: code, then data, then dependencies."""
    own: dict[str, Cause] = {}
    for key, stored in rows.code:
        if code_version is not None:
            message = f"has a new code version ({short(stored)} -> {short(code_version)})"
            own.setdefault(key, Cause(Category.CODE, message))
    for key, up, partition in rows.data:
        name = up + (f" partition {partition}" if partition is not None else "")
        up_key = AssetKey.from_user_string(up)
        own.setdefault(key, Cause(Category.DATA, f"upstream {name} has a new data version", up_key))
    for key, up in rows.new_dependencies:
        up_key = AssetKey.from_user_string(up)
        own.setdefault(key, Cause(Category.DEPENDENCIES, f"has a new dependency on {up}", up_key))
    materialized, complete = decode_keys(rows.keys, definition, keys)
    return PartitionFacts(materialized, rows.failed, rows.running, own, complete)


def assess_code(
    code: LoadedCode,
    latest: Mapping[str, MaterializationRecord],
    failures: Mapping[str, FailureRecord],
    running: Collection[AssetKey],
    partitioned: Mapping[AssetKey, PartitionAssessor] | None = None,
) -> dict[AssetKey, Assessment]:
    graph = code.graph
    by_key = {k: r for k in graph.nodes if (r := latest.get(k.to_user_string())) is not None}
    return assess(
        graph.toposort,
        graph.upstream,
        {k for k, node in graph.nodes.items() if node.is_executable},
        code.code_versions(),
        by_key,
        failed={k for k in graph.nodes if k.to_user_string() in failures},
        running=running,
        partitioned=partitioned,
    )


def build_catalog(
    code: LoadedCode,
    latest: Mapping[str, MaterializationRecord],
    failures: Mapping[str, FailureRecord],
    checks: Mapping[str, list[CheckResultRecord]],
    running: Collection[AssetKey],
    partitioned: Mapping[AssetKey, PartitionAssessor] | None = None,
    now: float | None = None,
) -> list[AssetState]:
    graph = code.graph
    now = time.time() if now is None else now
    partitioned = partitioned or {}
    assessments = assess_code(code, latest, failures, running, partitioned)
    rows = []
    for key in graph.toposort:
        node = graph.nodes[key]
        name = key.to_user_string()
        record = latest.get(name)
        version = code.versions.get(key)
        assessment = assessments[key]
        failure = failures.get(name)
        row_count = record.metadata.get("dagster/row_count") if record else None
        last = record.timestamp if record else _newest(partitioned.get(key))
        rows.append(
            AssetState(
                asset_key=key,
                group=node.group_name,
                kinds=tuple(sorted(node.kinds)),
                materializable=node.is_executable,
                status=assessment.status,
                causes=assessment.causes,
                code_version=version.value if version else node.code_version,
                code_version_note=version.note if version else None,
                data_version=record.data_version if record else None,
                last_materialized=last,
                last_run_id=record.run_id if record else None,
                row_count=row_count.value if row_count is not None else None,
                checks=_summary(graph.checks_by_asset.get(key, ()), checks.get(name, [])),
                failure=failure.error if failure else None,
                partitions=_partition_counts(partitioned.get(key)),
                freshness=freshness_of(getattr(node, "freshness_policy", None), last, now),
            )
        )
    return rows


def freshness_of(
    policy: Any, last_materialized: float | None, now: float
) -> tuple[str, str] | None:
    """An asset's freshness state and why, at ``now`` (None without a policy)."""
    if policy is None:
        return None
    last = datetime.fromtimestamp(last_materialized, UTC) if last_materialized else None
    state, reason, _ = freshness_state(policy, last, datetime.fromtimestamp(now, UTC))
    return state.value, reason


def _summary(declared: Collection[Any], results: list[CheckResultRecord]) -> CheckSummary:
    """The latest result of each check the code declares now (renamed checks drop out)."""
    names = {check.name for check in declared}
    results = [r for r in results if r.check_name in names]
    passed = sum(r.passed for r in results)
    warned = sum(not r.passed and r.severity == "WARN" for r in results)
    failed = sum(not r.passed and r.severity != "WARN" for r in results)
    return CheckSummary(passed, warned, failed, len(names) - len(results))


def _partition_counts(assessor: PartitionAssessor | None) -> dict[str, int] | None:
    if assessor is None or assessor.statuses is None:
        return None
    return assessor.statuses.summary()


def _newest(assessor: PartitionAssessor | None) -> float | None:
    return assessor.newest_timestamp if assessor is not None else None
