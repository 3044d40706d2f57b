"""Lineage: which materializations produced a materialization, down to the roots, and which
current downstream assets consumed it.

For an ML model asset this answers "which data version, code version and hyperparameters
produced this model". Trees are built from provenance records; the store is asked one level
of the tree at a time, so a deep pipeline costs one query per level, not one per node.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from ..asset_graph import AssetGraph
from ..declarations.keys import AssetKey
from ..events import InputVersion
from ..storage.records import MaterializationRecord

Fetch = Callable[[Iterable[int]], Awaitable[Mapping[int, MaterializationRecord]]]


async def upstream_lineage(
    record: MaterializationRecord, fetch: Fetch, observed: Fetch | None = None
) -> dict[str, Any]:
    """The tree under ``record``: each node a materialization, under it those it consumed;
    a source's observation it consumed (``observed`` finds those) is a leaf with its run."""
    records: dict[int, MaterializationRecord] = {}
    if record.event_id is not None:
        records[record.event_id] = record
    level = [record]
    while level:
        wanted = {
            i.event_id
            for r in level
            for i in r.inputs or ()
            if i.event_id is not None and i.event_id not in records
        }
        found = await fetch(wanted) if wanted else {}
        if observed is not None and len(found) < len(wanted):
            found = {**found, **await observed(wanted - found.keys())}
        records.update(found)
        level = list(found.values())
    return lineage_tree(record, records)


def lineage_tree(
    record: MaterializationRecord, records: Mapping[int, MaterializationRecord]
) -> dict[str, Any]:
    """Pure: nest ``records`` under ``record``. A materialization reached twice (a diamond)
    is spelled out once; later it appears with ``"repeated": true`` and no inputs."""
    seen: set[int] = set()

    def node(r: MaterializationRecord) -> dict[str, Any]:
        out = _fields(r)
        if r.event_id is not None and r.event_id in seen:
            return {**out, "repeated": True, "inputs": []}
        if r.event_id is not None:
            seen.add(r.event_id)
        out["inputs"] = [_input(i, records, node) for i in r.inputs or ()]
        if r.inputs is None:
            out["provenance"] = False  # recorded before Millrace kept provenance
        return out

    return node(record)


def _input(
    consumed: InputVersion,
    records: Mapping[int, MaterializationRecord],
    node: Callable[[MaterializationRecord], dict[str, Any]],
) -> dict[str, Any]:
    found = records.get(consumed.event_id) if consumed.event_id is not None else None
    if found is not None:
        return node(found)
    # Never materialized (an external asset), or its record is gone: what was consumed.
    return {
        "asset_key": consumed.asset_key.to_user_string(),
        "run_id": None,
        "timestamp": None,
        "code_version": None,
        "data_version": consumed.data_version,
        "config": None,
        "inputs": [],
    }


def _fields(r: MaterializationRecord) -> dict[str, Any]:
    return {
        "asset_key": r.asset_key,
        "event_id": r.event_id,
        "run_id": r.run_id,
        "timestamp": r.timestamp,
        "code_version": r.code_version,
        "data_version": r.data_version,
        "config": r.config,
    }


def downstream_lineage(
    graph: AssetGraph, key: AssetKey, latest: Mapping[str, MaterializationRecord]
) -> dict[str, Any] | None:
    """Pure: ``key``'s latest materialization and, under it, the current downstream assets,
    each with its latest materialization and whether that consumed its parent's current
    data (``consumed``: None when it was never materialized or kept no provenance)."""
    record = latest.get(key.to_user_string())
    if record is None:
        return None
    seen: set[AssetKey] = set()

    def node(at: AssetKey, parent: MaterializationRecord | None) -> dict[str, Any]:
        mine = latest.get(at.to_user_string())
        out: dict[str, Any] = (
            _fields(mine) if mine else {"asset_key": at.to_user_string(), "run_id": None}
        )
        if parent is not None:
            out["consumed"] = _consumed(mine, parent)
        if at in seen:
            return {**out, "repeated": True, "downstream": []}
        seen.add(at)
        out["downstream"] = [node(child, mine) for child in graph.downstream.get(at, ())]
        return out

    return node(key, None)


def _consumed(record: MaterializationRecord | None, parent: MaterializationRecord) -> bool | None:
    """Whether ``record`` consumed ``parent``'s data version: an older materialization of the
    same data (a re-run that reproduced it, early cutoff) counts as consumed."""
    if record is None or record.inputs is None:
        return None
    for consumed in record.inputs:
        if consumed.asset_key.to_user_string() == parent.asset_key:
            return consumed.data_version == parent.data_version
    return False
