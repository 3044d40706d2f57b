"""Reports for the command line: the asset list, the status table and lineage trees."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

# Types only: ``when`` serves every command, and --help loads no graph, store or query.
if TYPE_CHECKING:
    from .asset_graph import AssetGraph
    from .declarations.keys import AssetKey
    from .runtime.queries import AssetState
    from .storage.records import CheckResultRecord, MaterializationRecord


def when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def asset_list(
    graph: AssetGraph,
    latest: Mapping[str, MaterializationRecord],
    checks: Mapping[str, list[CheckResultRecord]],
) -> list[dict[str, Any]]:
    """``millrace list --json``: every asset as declared, with its last materialization."""
    rows: list[dict[str, Any]] = []
    for key in graph.keys:
        node = graph.nodes[key]
        name = key.to_user_string()
        record = latest.get(name)
        rows.append(
            {
                "key": name,
                "group": node.group_name,
                "deps": [u.to_user_string() for u in graph.upstream[key]],
                "description": node.description,
                "kinds": sorted(node.kinds),
                "tags": dict(node.tags),
                "code_version": node.code_version,
                "materializable": node.is_executable,
                "source": str(node.source) if node.source else None,
                "last_materialized": record.timestamp if record else None,
                "last_run_id": record.run_id if record else None,
                "last_config": record.config if record else None,
                "checks": _checks_of(graph, key, checks.get(name, [])),
            }
        )
    return rows


def _checks_of(
    graph: AssetGraph, key: AssetKey, results: list[CheckResultRecord]
) -> list[dict[str, Any]]:
    by_name = {r.check_name: r for r in results}
    out = []
    for check_key in graph.checks_by_asset.get(key, ()):
        node, last = graph.checks[check_key], by_name.get(check_key.name)
        out.append(
            {
                "name": check_key.name,
                "blocking": node.blocking,
                "description": node.description,
                "passed": last.passed if last else None,
                "severity": last.severity if last else None,
                "last_run_id": last.run_id if last else None,
                "last_evaluated": last.timestamp if last else None,
            }
        )
    return out


def list_text(graph: AssetGraph, rows: list[dict[str, Any]]) -> str:
    """``millrace list``: assets by group, with dependencies, last run, config and checks."""
    by_key = {row["key"]: row for row in rows}
    lines = []
    for group, keys in graph.groups().items():
        lines.append(group)
        for key in keys:
            row = by_key[key.to_user_string()]
            deps = f" <- {', '.join(row['deps'])}" if row["deps"] else ""
            last = when(row["last_materialized"]) if row["last_materialized"] else "never"
            kind = "" if row["materializable"] else " (external)"
            lines.append(f"  {row['key']}{kind}{deps}   [last: {last}]")
            if row["last_config"]:
                lines.append(f"    config: {json.dumps(row['last_config'])}")
            for check in row["checks"]:
                state = {True: "passed", False: "FAILED", None: "not run"}[check["passed"]]
                gate = ", blocking" if check["blocking"] else ""
                lines.append(f"    check {check['name']}{gate}: {state}")
    return "\n".join(lines)


def status_table(rows: Iterable[AssetState]) -> str:
    """One line per asset: key, status, last materialized and the first cause (with a count
    of the others)."""
    rows = list(rows)
    width = max([len(r.asset_key.to_user_string()) for r in rows] + [5])
    lines = [f"{'ASSET':{width}}  {'STATUS':8} {'MATERIALIZED':19}  WHY"]
    for row in rows:
        last = when(row.last_materialized) if row.last_materialized else "never"
        why = row.causes[0].message if row.causes else ""
        if row.status.value == "failed" and row.failure:
            why = f"last attempt failed: {row.failure.splitlines()[0]}"
        if len(row.causes) > 1:
            why += f" (+{len(row.causes) - 1} more)"
        if row.partitions is not None:
            total = sum(row.partitions.values())
            fresh = f"{row.partitions['fresh']:,}/{total:,} partitions fresh"
            why = f"{fresh}; {why}" if why else fresh
        if row.freshness is not None and row.freshness[0] != "PASS":
            stale = f"freshness {row.freshness[0]}: {row.freshness[1]}"
            why = f"{stale}; {why}" if why else stale
        if not row.materializable:
            why = "external: produced outside Millrace"
        elif row.code_version_note:
            why = f"{why}; {row.code_version_note}" if why else row.code_version_note
        key = row.asset_key.to_user_string()
        lines.append(f"{key:{width}}  {row.status.value:8} {last:19}  {why}")
    return "\n".join(lines)


def lineage_text(tree: dict[str, Any], *, downstream: bool = False) -> str:
    """A lineage tree as indented lines, one per materialization."""
    lines: list[str] = []
    children = "downstream" if downstream else "inputs"

    def walk(node: dict[str, Any], prefix: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        lines.append(prefix + branch + _describe(node, downstream))
        below = node.get(children) or []
        extension = "" if top else ("   " if last else "│  ")
        for n, child in enumerate(below):
            walk(child, prefix + extension, n == len(below) - 1, False)

    walk(tree, "", True, True)
    return "\n".join(lines)


def _describe(node: dict[str, Any], downstream: bool) -> str:
    from .versions.staleness import short

    parts = [node["asset_key"]]
    if node.get("run_id") is None:
        parts.append("never materialized" if downstream else "(not materialized by Millrace)")
    else:
        parts.append(f"run {node['run_id'][:8]}")
        parts.append(when(node["timestamp"]))
        parts.append(f"code {short(node.get('code_version'))}")
        parts.append(f"data {short(node.get('data_version'))}")
        if node.get("config"):
            parts.append(f"config {json.dumps(node['config'], sort_keys=True)}")
    if downstream and "consumed" in node:
        consumed = node["consumed"]
        parts.append({True: "consumed it", False: "did not consume it", None: "unknown"}[consumed])
    if node.get("repeated"):
        parts.append("(shown above)")
    if node.get("provenance") is False:
        parts.append("(recorded before provenance: inputs unknown)")
    return "  ".join(parts)
