"""Backfills: many partitions of the selected assets in one run, recorded and resumable.

A backfill is one run whose plan has a step per partition (or per chunk, under a
``BackfillPolicy``), so the executor runs partitions concurrently within the run's
concurrency, across assets in dependency order, and a failed partition skips only what reads
it. Its id and what it asked for travel as run tags; the store records the backfill from the
first run, and ``--resume`` plans again only what none of its runs materialized.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..asset_graph import AssetGraph
from ..declarations.keys import AssetKey
from ..errors import MillraceError, PartitionKeyError
from ..events import BACKFILL_SELECTION_TAG, BACKFILL_SPEC_TAG, BACKFILL_TAG, BACKFILL_TOTAL_TAG
from ..execution.partitioning import PartitionContext, Partitions, partitions_def_of
from ..execution.plan import ExecutionPlan
from ..partitions.key_range import PartitionKeyRange
from ..versions.partition_status import PartitionStatuses
from ..versions.staleness import Status


@dataclass(frozen=True)
class BackfillSpec:
    """What a backfill asks for: a range (``--from``/``--to``), keys, or, per asset, its
    missing (and failed) or stale partitions as they are when it is planned."""

    start: str | None = None
    end: str | None = None
    keys: tuple[str, ...] = ()
    missing: bool = False
    stale: bool = False

    def __post_init__(self) -> None:
        ranged = self.start is not None or self.end is not None
        if ranged and (self.start is None or self.end is None):
            raise MillraceError("a backfill range needs both --from and --to")
        if sum([ranged, bool(self.keys), self.missing or self.stale]) != 1:
            raise MillraceError(
                "say which partitions to backfill: --from KEY --to KEY, --partitions A,B,C, "
                "or --missing and/or --stale"
            )

    @property
    def by_status(self) -> frozenset[Status]:
        wanted = set()
        if self.missing:
            wanted |= {Status.MISSING, Status.FAILED}
        if self.stale:
            wanted.add(Status.STALE)
        return frozenset(wanted)

    def to_json(self) -> dict[str, Any]:
        return {
            "from": self.start,
            "to": self.end,
            "partitions": list(self.keys),
            "missing": self.missing,
            "stale": self.stale,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BackfillSpec:
        return cls(
            data.get("from"),
            data.get("to"),
            tuple(data.get("partitions") or ()),
            bool(data.get("missing")),
            bool(data.get("stale")),
        )


@dataclass(frozen=True)
class BackfillRequest:
    """A backfill ready to plan: its id, what it asked for, and the partitions it runs."""

    backfill_id: str
    selection: str
    spec: BackfillSpec
    partitions: Partitions
    resumed: bool = False
    tags: dict[str, str] = field(default_factory=dict)


def backfill_partitions(
    graph: AssetGraph,
    keys: Sequence[AssetKey],
    spec: BackfillSpec,
    context: PartitionContext,
    statuses: Mapping[AssetKey, PartitionStatuses] | None = None,
    done: set[tuple[str, str]] | None = None,
) -> Partitions:
    """The partitions a backfill runs: what ``spec`` asks for, less what ``done`` (the
    pairs its earlier runs materialized) already has. ``statuses`` are needed for
    ``missing`` and ``stale``."""
    partitioned = [k for k in keys if partitions_def_of(graph.nodes[k]) is not None]
    if not partitioned:
        raise MillraceError("nothing to backfill: none of the selected assets is partitioned")
    per_asset: dict[AssetKey, tuple[str, ...]] = {}
    asked: tuple[str, ...] | None = None
    if spec.by_status:
        assert statuses is not None, "a backfill by status needs the partitions' statuses"
        for key in partitioned:
            known = statuses[key]
            per_asset[key] = tuple(k for k in known.keys if known.of(k) in spec.by_status)
    elif spec.keys:
        asked = spec.keys
    else:
        asked = _range_keys(graph, partitioned, spec, context)
    if done:
        if asked is not None:  # resolve to each asset's own keys, then drop what is done
            resolved = Partitions(keys=asked, context=context)
            for key in partitioned:
                per_asset[key] = resolved.own_keys(key, graph.nodes[key])
            asked = None
        for key, wanted in per_asset.items():
            name = key.to_user_string()
            per_asset[key] = tuple(k for k in wanted if (name, k) not in done)
    return Partitions(keys=asked, per_asset=per_asset, backfill=True, context=context)


def _range_keys(
    graph: AssetGraph,
    partitioned: Sequence[AssetKey],
    spec: BackfillSpec,
    context: PartitionContext,
) -> tuple[str, ...]:
    """The keys from ``--from`` to ``--to`` of every selected definition that has both."""
    assert spec.start is not None and spec.end is not None
    key_range = PartitionKeyRange(spec.start, spec.end)
    found: dict[str, None] = {}
    first_problem = None
    for key in partitioned:
        definition = partitions_def_of(graph.nodes[key])
        assert definition is not None
        try:
            found.update(
                dict.fromkeys(
                    definition.get_partition_keys_in_range(
                        key_range, dynamic_partitions_store=context.dynamic
                    )
                )
            )
        except PartitionKeyError as exc:
            first_problem = first_problem or f"'{key.to_user_string()}': {exc}"
    if not found:
        raise PartitionKeyError(
            f"no selected asset has partitions {spec.start}..{spec.end}: {first_problem}"
        )
    return tuple(found)


def new_request(
    selection: str, spec: BackfillSpec, partitions: Partitions, *, backfill_id: str | None = None
) -> BackfillRequest:
    return BackfillRequest(
        backfill_id or uuid.uuid4().hex[:12],
        selection,
        spec,
        partitions,
        resumed=backfill_id is not None,
    )


def backfill_tags(request: BackfillRequest, plan: ExecutionPlan) -> dict[str, str]:
    """The run tags that record the backfill (the first run's say what it asked for)."""
    return {
        BACKFILL_TAG: request.backfill_id,
        BACKFILL_SELECTION_TAG: request.selection,
        BACKFILL_SPEC_TAG: json.dumps(request.spec.to_json()),
        BACKFILL_TOTAL_TAG: str(len(plan.writes)),
    }
