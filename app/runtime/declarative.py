"""Declarative automation in the Runtime: which assets' conditions each automation condition
sensor evaluates, the ``AutomationView`` they read (the status cache, never SQL), and the
runs one evaluation asks for.

Dagster evaluates every asset with an ``automation_condition`` through
``default_automation_condition_sensor`` unless an ``AutomationConditionSensorDefinition``
targets it. Here that default sensor runs from the start (in Dagster it must be turned on):
a local user who writes ``eager()`` expects it to act.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from ..automation.conditions import (
    AutomationCondition,
    AutomationConditionSensorDefinition,
    CronTickPassedCondition,
    EvaluationResult,
)
from ..automation.cron import CronSchedule
from ..definitions.asset import AssetsDefinition
from ..definitions.keys import AssetKey
from ..definitions.run_request import RunRequest
from ..execution.partitioning import PartitionContext, resolved_mapping
from ..graph import AssetGraph
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
    covered: set[AssetKey] = set()
    for sensor in declared:
        covered |= scope(sensor, graph).keys()
    rest = [k for k in conditions_of(graph) if k not in covered]
    if not rest:
        return declared
    default = AutomationConditionSensorDefinition(
        DEFAULT_SENSOR, target=AssetSelection.keys(*rest), default_status="RUNNING"
    )
    return [*declared, default]


def conditions_of(graph: AssetGraph) -> dict[AssetKey, AutomationCondition]:
    return {
        key: node.automation_condition
        for key, node in graph.nodes.items()
        if getattr(node, "automation_condition", None) is not None
    }


def scope(
    sensor: AutomationConditionSensorDefinition, graph: AssetGraph
) -> dict[AssetKey, AutomationCondition]:
    """The conditions ``sensor`` evaluates: its target's assets' own, else its default."""
    keys = resolve_selection(as_selection(sensor.target), graph, None)
    default = getattr(sensor, "default_condition", None)
    out = {}
    for key in keys:
        condition = getattr(graph.nodes[key], "automation_condition", None) or default
        if condition is not None:
            out[key] = condition
    return out


def next_deadline(
    conditions: Mapping[AssetKey, AutomationCondition], graph: AssetGraph, now: float
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
        partitions = getattr(graph.nodes[key], "partitions_def", None)
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


def requests_of(result: EvaluationResult, sensor_name: str) -> list[RunRequest]:
    """One run for the unpartitioned assets requested, one per partition key for the
    partitioned ones (every asset requesting that key in the same run)."""
    by_partition: dict[str | None, list[AssetKey]] = {}
    for key, partitions in result.requests.items():
        for partition in partitions:
            by_partition.setdefault(partition, []).append(key)
    tags = {AUTOMATION_TAG: sensor_name}
    return [
        RunRequest(asset_selection=keys, partition_key=partition, tags=tags)
        for partition, keys in sorted(by_partition.items(), key=lambda item: item[0] or "")
    ]


class CacheView:
    """``AutomationView`` over the status cache at ``now``."""

    def __init__(
        self,
        graph: AssetGraph,
        cache: StatusCache,
        now: datetime,
        code_versions: Mapping[AssetKey, Any],
        queued: Collection[tuple[AssetKey, str | None]],
        dynamic: Any,
    ) -> None:
        self._graph = graph
        self._cache = cache
        self._now = now
        self._code_versions = code_versions
        self._queued = queued
        self._dynamic = dynamic
        self._keys: dict[AssetKey, Sequence[str] | None] = {}
        self._context = PartitionContext(dynamic=dynamic)

    @property
    def now(self) -> datetime:
        return self._now

    @property
    def graph(self) -> AssetGraph:
        return self._graph

    def partition_keys(self, key: AssetKey) -> Sequence[str] | None:
        if key not in self._keys:
            definition = getattr(self._graph.nodes.get(key), "partitions_def", None)
            self._keys[key] = (
                None
                if definition is None
                else definition.get_partition_keys(self._now, self._dynamic)
            )
        return self._keys[key]

    def upstream_partition_keys(
        self, key: AssetKey, partition_key: str | None, upstream: AssetKey
    ) -> Collection[str | None]:
        nodes = self._graph.nodes
        node, up_node = nodes[key], nodes.get(upstream)
        up_def = getattr(up_node, "partitions_def", None)
        if up_def is None:
            return {None}
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

    def latest_materialization_id(self, key: AssetKey, partition_key: str | None) -> int | None:
        found = self._cache.latest.get((key, partition_key))
        if found is None and not isinstance(self._graph.nodes.get(key), AssetsDefinition):
            return 0  # an external asset: it exists, outside of what Millrace runs
        return found

    def in_progress(self, key: AssetKey, partition_key: str | None) -> bool:
        cell = (key, partition_key)
        return cell in self._queued or self._cache.running(cell)

    def execution_failed(self, key: AssetKey, partition_key: str | None) -> bool:
        return (key, partition_key) in self._cache.failed

    def code_version(self, key: AssetKey) -> str | None:
        version = self._code_versions.get(key)
        return None if version is None else str(version)

