"""Declarative automation in the Runtime: which assets' conditions each automation condition
sensor evaluates, the ``AutomationView`` they read (the status cache, never SQL), and the
runs one evaluation asks for.

Dagster evaluates every asset with an ``automation_condition`` through
``default_automation_condition_sensor`` unless an ``AutomationConditionSensorDefinition``
targets it. Here that default sensor runs from the start (in Dagster it must be turned on):
a local user who writes ``eager()`` expects it to act.

Asset checks with an ``automation_condition`` are evaluated by the sensor whose target holds
their asset (Dagster's selections include an asset's checks): their requests become runs of
the checks alone, unless their asset runs in the same request (its run includes its checks).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..asset_graph import AssetGraph
from ..automation.condition_sensor import AutomationConditionSensorDefinition
from ..automation.conditions import (
    AutomationCondition,
    CronTickPassedCondition,
    EntityKey,
    EvaluationResult,
    node_of,
)
from ..automation.cron import CronSchedule
from ..declarations.asset import AssetsDefinition
from ..declarations.checks import AssetCheckKey, AssetChecksDefinition
from ..declarations.keys import AssetKey
from ..declarations.run_request import RunRequest
from ..execution.partitioning import PartitionContext, resolved_mapping
from ..partitions.time_window import TimeWindowPartitionsDefinition
from ..selection import AssetSelection, as_selection, resolve_selection
from .status_cache import StatusCache

DEFAULT_SENSOR = "default_automation_condition_sensor"  # Dagster's name
AUTOMATION_TAG = "millrace/automation_condition"  # on runs: the sensor that asked


def condition_sensors(defs: Any) -> list[AutomationConditionSensorDefinition]:
    """The code's automation condition sensors, and the default one when some asset with a
    condition is in none of their targets."""
    declared = [s for s in defs.sensors if isinstance(s, AutomationConditionSensorDefinition)]
    graph = defs.graph
    covered: set[EntityKey] = set()
    for sensor in declared:
        covered |= scope(sensor, graph).keys()
    rest = [k for k in conditions_of(graph) if k not in covered]
    if not rest:
        return declared
    assets = dict.fromkeys(k.asset_key if isinstance(k, AssetCheckKey) else k for k in rest)
    default = AutomationConditionSensorDefinition(
        DEFAULT_SENSOR, target=AssetSelection.keys(*assets), default_status="RUNNING"
    )
    # Its target holds the assets of the checks it evaluates, not their conditions, which
    # another sensor may evaluate: it evaluates only what no other sensor does.
    default.covers = frozenset(rest)  # type: ignore[attr-defined]
    return [*declared, default]


def conditions_of(graph: AssetGraph) -> dict[EntityKey, AutomationCondition]:
    """Every asset's and every asset check's own condition."""
    found: dict[EntityKey, AutomationCondition] = {
        key: node.automation_condition
        for key, node in graph.nodes.items()
        if getattr(node, "automation_condition", None) is not None
    }
    for check_key, check in graph.checks.items():
        if getattr(check, "automation_condition", None) is not None:
            found[check_key] = check.automation_condition
    return found


def scope(
    sensor: AutomationConditionSensorDefinition, graph: AssetGraph
) -> dict[EntityKey, AutomationCondition]:
    """The conditions ``sensor`` evaluates: its target's assets' and their checks' own, else
    its default (Dagster's ``default_condition``: for the assets and checks without one)."""
    keys = resolve_selection(as_selection(sensor.target), graph, None)
    default = getattr(sensor, "default_condition", None)
    covers = getattr(sensor, "covers", None)
    out: dict[EntityKey, AutomationCondition] = {}
    entities: list[EntityKey] = [*keys, *graph.checks_of(keys)]
    for key in entities:
        if covers is not None and key not in covers:
            continue
        condition = getattr(node_of(graph, key), "automation_condition", None) or default
        if condition is not None:
            out[key] = condition
    return out


def next_deadline(
    conditions: Mapping[EntityKey, AutomationCondition], graph: AssetGraph, now: float
) -> float | None:
    """When the conditions must be evaluated again though no event comes: the soonest cron
    tick after ``now`` of their ``cron_tick_passed`` nodes, and of the time windows of their
    assets' partitions (a new partition appears then: ``newly_missing``, the latest window)."""
    crons: set[tuple[str, str]] = set()
    # Assets often share one condition object (``eager = AutomationCondition.eager()``).
    for condition in {id(c): c for c in conditions.values()}.values():
        for node in _nodes(condition):
            if isinstance(node, CronTickPassedCondition):
                crons.add((node.cron_schedule, node.cron_timezone))
    for key in conditions:
        partitions = getattr(node_of(graph, key), "partitions_def", None)
        if isinstance(partitions, TimeWindowPartitionsDefinition):
            crons.add((partitions.cron_schedule, partitions.timezone))
    deadlines = [CronSchedule(*cron).next_tick_after(now).timestamp() for cron in crons]
    return min(deadlines, default=None)


def _nodes(condition: AutomationCondition) -> list[AutomationCondition]:
    found, todo = [], [condition]
    while todo:
        node = todo.pop()
        found.append(node)
        todo.extend(node.children)
    return found


def requests_of(
    result: EvaluationResult, sensor_name: str, graph: AssetGraph | None = None
) -> list[RunRequest]:
    """One run for the unpartitioned assets and checks requested, one per partition key for
    the partitioned ones (every asset and check requesting that key in the same run). A
    check whose asset runs too is in that run already; the others run alone, against the
    stored asset (``asset_selection=()``), except a check an asset reports itself
    (``AssetCheckSpec``): only its asset's run evaluates it, so its asset runs."""
    by_partition: dict[str | None, tuple[list[AssetKey], list[AssetCheckKey]]] = {}
    for key, partitions in result.requests.items():
        for partition in partitions:
            assets, checks = by_partition.setdefault(partition, ([], []))
            if isinstance(key, AssetCheckKey):
                checks.append(key)
            else:
                assets.append(key)
    tags = {AUTOMATION_TAG: sensor_name}
    requests = []
    for partition, (assets, checks) in sorted(by_partition.items(), key=lambda item: item[0] or ""):
        alone = []
        for check in checks:
            node = graph.checks.get(check) if graph is not None else None
            if node is not None and not isinstance(node, AssetChecksDefinition):
                if check.asset_key not in assets:
                    assets.append(check.asset_key)  # a spec: its asset reports it
            elif check.asset_key not in assets:
                alone.append(check)
        if not alone:
            requests.append(RunRequest(asset_selection=assets, partition_key=partition, tags=tags))
            continue
        with_assets = graph.checks_of(assets) if graph is not None and assets else []
        requests.append(
            RunRequest(
                asset_selection=tuple(assets),
                asset_check_keys=[*with_assets, *alone],
                partition_key=partition,
                tags=tags,
            )
        )
    return requests


_UNPARTITIONED: frozenset[str | None] = frozenset({None})
_UNKNOWN: Any = object()


class CacheView:
    """``AutomationView`` over the status cache at ``now``."""

    def __init__(
        self,
        graph: AssetGraph,
        cache: StatusCache,
        now: datetime,
        code_versions: Mapping[AssetKey, Any],
        queued: Collection[tuple[EntityKey, str | None]],
        dynamic: Any,
    ) -> None:
        self._graph = graph
        self._cache = cache
        self._now = now
        self._code_versions = code_versions
        self._queued = queued
        self._dynamic = dynamic
        self._keys: dict[EntityKey, Sequence[str] | None] = {}
        self._context = PartitionContext(dynamic=dynamic)
        # The cache's tables, bound once: the hot methods are dict lookups. An asset's cell
        # is never in a check's table, nor the reverse.
        self._latest: Mapping[Any, int] = cache.latest
        self._failed: Collection[Any] = cache.failed
        self._check_failed: Collection[Any] = cache.check_failed
        self._in_flight = cache.in_flight
        self._in_backfill = cache.in_backfill
        self._up_defs: dict[AssetKey, Any] = {}

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def graph(self) -> AssetGraph:
        return self._graph

    def partition_keys(self, key: EntityKey) -> Sequence[str] | None:
        if key not in self._keys:
            definition = getattr(node_of(self._graph, key), "partitions_def", None)
            self._keys[key] = (
                None
                if definition is None
                else definition.get_partition_keys(self._now, self._dynamic)
            )
        return self._keys[key]

    def upstream_partition_keys(
        self, key: EntityKey, partition_key: str | None, upstream: AssetKey
    ) -> Collection[str | None]:
        up_def = self._up_defs.get(upstream, _UNKNOWN)
        if up_def is _UNKNOWN:
            up_def = self._up_defs[upstream] = getattr(
                self._graph.nodes.get(upstream), "partitions_def", None
            )
        if up_def is None:
            return _UNPARTITIONED
        up_node = self._graph.nodes.get(upstream)
        node = node_of(self._graph, key)
        mapping = resolved_mapping(node, upstream, up_node, self._context)
        down_def = getattr(node, "partitions_def", None)
        found = mapping.upstream_keys(
            [partition_key] if partition_key is not None else [],
            down_def,
            up_def,
            current_time=self._now,
            dynamic=self._dynamic,
        )
        return set(found.keys)

    def latest_materialization_id(self, key: EntityKey, partition_key: str | None) -> int | None:
        found = self._latest.get((key, partition_key))
        if found is not None:
            return found
        if isinstance(key, AssetCheckKey):  # a check: its latest evaluation
            return self._cache.check_latest.get((key, partition_key))
        if not isinstance(self._graph.nodes.get(key), AssetsDefinition):
            return 0  # an external asset: it exists, outside of what Millrace runs
        return None

    def run_in_progress(self, key: EntityKey, partition_key: str | None) -> bool:
        cell = (key, partition_key)
        return cell in self._in_flight or cell in self._queued

    def backfill_in_progress(self, key: EntityKey, partition_key: str | None) -> bool:
        # A queued run's origin is not in ``queued``: a backfill counts once it starts.
        return (key, partition_key) in self._in_backfill

    def execution_failed(self, key: EntityKey, partition_key: str | None) -> bool:
        cell = (key, partition_key)
        return cell in self._failed or cell in self._check_failed

    def check_passed(self, key: EntityKey, partition_key: str | None) -> bool | None:
        if not isinstance(key, AssetCheckKey):
            return None
        cell = (key, partition_key)
        passed = self._cache.check_passed.get(cell)
        if passed is None:
            return None
        asset = key.asset_key
        materialized = self._latest.get((asset, partition_key))
        if materialized is None and partition_key is None:  # an unpartitioned check
            materialized = self._cache.newest.get(asset)
        if materialized is not None and self._cache.check_latest[cell] < materialized:
            return None  # it checked an older materialization
        return passed

    def code_version(self, key: EntityKey) -> str | None:
        if isinstance(key, AssetCheckKey):
            return None
        version = self._code_versions.get(key)
        return None if version is None else str(version)
