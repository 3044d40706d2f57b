"""The catalog: every asset as the code declares it now, joined with what the store knows.

Pure functions over the loaded code and store records, so a UI query costs two SQL reads
and one pass over the graph.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..definitions.keys import AssetKey
from ..storage.records import CheckResultRecord, FailureRecord, MaterializationRecord
from ..versions.staleness import Assessment, Cause, Status, assess

if TYPE_CHECKING:
    from .runtime import LoadedCode


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
        }


def assess_code(
    code: LoadedCode,
    latest: Mapping[str, MaterializationRecord],
    failures: Mapping[str, FailureRecord],
    running: Collection[AssetKey],
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
    )


def build_catalog(
    code: LoadedCode,
    latest: Mapping[str, MaterializationRecord],
    failures: Mapping[str, FailureRecord],
    checks: Mapping[str, list[CheckResultRecord]],
    running: Collection[AssetKey],
) -> list[AssetState]:
    graph = code.graph
    assessments = assess_code(code, latest, failures, running)
    rows = []
    for key in graph.toposort:
        node = graph.nodes[key]
        name = key.to_user_string()
        record = latest.get(name)
        version = code.versions.get(key)
        assessment = assessments[key]
        failure = failures.get(name)
        row_count = record.metadata.get("dagster/row_count") if record else None
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
                last_materialized=record.timestamp if record else None,
                last_run_id=record.run_id if record else None,
                row_count=row_count.value if row_count is not None else None,
                checks=_summary(graph.checks_by_asset.get(key, ()), checks.get(name, [])),
                failure=failure.error if failure else None,
            )
        )
    return rows


def _summary(declared: Collection[Any], results: list[CheckResultRecord]) -> CheckSummary:
    """The latest result of each check the code declares now (renamed checks drop out)."""
    names = {check.name for check in declared}
    results = [r for r in results if r.check_name in names]
    passed = sum(r.passed for r in results)
    warned = sum(not r.passed and r.severity == "WARN" for r in results)
    failed = sum(not r.passed and r.severity != "WARN" for r in results)
    return CheckSummary(passed, warned, failed, len(names) - len(results))
