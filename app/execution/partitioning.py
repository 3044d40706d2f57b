"""Which partitions each planned step runs, and which upstream partitions each input reads.

Pure: the graph, the partitions a run asks for, and each asset's partition mappings. A run
asks for keys (``partition_key``, a range, a list) or, per asset, for its own keys (a
backfill of what is missing). An asset whose definition holds none of the keys asked for
takes them through its mappings: from in-plan upstreams (an hour asked for: its day), else
from in-plan downstreams (a day asked for: its 24 hours).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..asset_graph import AssetGraph
from ..declarations.asset import AssetsDefinition, AssetSpec
from ..declarations.backfill_policy import BackfillPolicy
from ..declarations.checks import AssetCheckKey, AssetChecksDefinition
from ..declarations.keys import AssetKey
from ..errors import PartitionKeyError
from ..partitions.definition import DynamicPartitionsStore, PartitionsDefinition
from ..partitions.mapping import PartitionMapping, default_partition_mapping
from ..partitions.ranges import contiguous_runs

Node = AssetsDefinition | AssetChecksDefinition


@dataclass(frozen=True, slots=True)
class StepPartitions:
    keys: tuple[str, ...] = ()  # () for an unpartitioned step
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class Read:
    """What one input reads: the upstream's partition keys (None: it is unpartitioned)."""

    keys: tuple[str, ...] | None
    problem: str | None = None


UNPARTITIONED = StepPartitions()
_WHOLE = Read(None)


@dataclass(frozen=True, slots=True)
class PartitionContext:
    current_time: datetime | None = None
    dynamic: DynamicPartitionsStore | None = None
    # (id of node, upstream key) -> the mapping in force, resolved once per plan
    mappings: dict[tuple[int, AssetKey], PartitionMapping] = field(default_factory=dict)


@dataclass(frozen=True)
class Partitions:
    """The partitions a run asks for: ``keys`` for every partitioned asset whose definition
    has them, ``per_asset`` for some assets by name; ``backfill`` splits them by each
    asset's BackfillPolicy (otherwise a step per partition)."""

    keys: tuple[str, ...] | None = None
    per_asset: Mapping[AssetKey, tuple[str, ...]] = field(default_factory=dict)
    backfill: bool = False
    context: PartitionContext = field(default_factory=PartitionContext)

    @classmethod
    def for_key(
        cls,
        partition_key: str | None,
        *,
        current_time: datetime | None = None,
        dynamic: DynamicPartitionsStore | None = None,
    ) -> Partitions:
        return cls(
            keys=None if partition_key is None else (partition_key,),
            context=PartitionContext(current_time, dynamic),
        )

    def steps_of(
        self,
        graph: AssetGraph,
        ordered: Sequence[AssetKey],
        checks: Sequence[AssetChecksDefinition],
    ) -> dict[AssetKey | AssetCheckKey, list[StepPartitions]]:
        """Each planned asset's and check's steps, as partition subsets."""
        targets = self._targets(graph, ordered)
        out: dict[AssetKey | AssetCheckKey, list[StepPartitions]] = {}
        for key in ordered:
            node = graph.nodes[key]
            wanted = targets.get(key)
            if wanted is None:
                out[key] = [UNPARTITIONED]
                continue
            assert isinstance(node, AssetsDefinition)
            out[key] = [StepPartitions(chunk) for chunk in self._chunks(node, wanted)]
        for check in checks:
            definition = check.partitions_def
            if definition is None:
                out[check.key] = [UNPARTITIONED]
            elif check.asset_key in targets:
                out[check.key] = [StepPartitions((k,)) for k in targets[check.asset_key]]
            else:  # checking stored partitions: the keys asked for
                own = self._own(check.asset_key, definition)
                if not own:
                    raise PartitionKeyError(
                        self._none_asked(check.key.to_user_string(), definition)
                    )
                out[check.key] = [StepPartitions((k,)) for k in own]
        return out

    def _targets(
        self, graph: AssetGraph, ordered: Sequence[AssetKey]
    ) -> dict[AssetKey, tuple[str, ...]]:
        in_plan = set(ordered)
        targets: dict[AssetKey, tuple[str, ...]] = {}
        pending: list[AssetKey] = []
        for key in ordered:
            node = graph.nodes[key]
            definition = partitions_def_of(node)
            if definition is None:
                continue
            if key in self.per_asset:  # named, even if none: those and no others
                targets[key] = self.per_asset[key]
                continue
            own = self._own(key, definition)
            if own:
                targets[key] = own
                continue
            assert isinstance(node, AssetsDefinition)
            derived: dict[str, None] = {}
            for up in node.upstream_keys:
                if up in targets:
                    mapping = self.mapping(node, up, graph.nodes[up])
                    up_def = partitions_def_of(graph.nodes[up])
                    derived.update(
                        dict.fromkeys(
                            mapping.downstream_keys(
                                targets[up],
                                up_def,
                                definition,
                                current_time=self.context.current_time,
                                dynamic=self.context.dynamic,
                            )
                        )
                    )
            if derived:
                targets[key] = self._in_order(definition, derived)
            else:
                pending.append(key)
        for key in reversed(pending):
            node = graph.nodes[key]
            definition = partitions_def_of(node)
            assert definition is not None
            derived = {}
            for down in graph.downstream.get(key, ()):
                down_node = graph.nodes[down]
                if down not in in_plan or down not in targets:
                    continue
                assert isinstance(down_node, AssetsDefinition)
                read = input_partitions(down_node, targets[down], node, self.context)
                derived.update(dict.fromkeys(read.keys or ()))
            if not derived:
                raise PartitionKeyError(self._none_asked(key.to_user_string(), definition))
            targets[key] = self._in_order(definition, derived)
        return targets

    def observation_of(self, key: AssetKey, node: Any) -> StepPartitions:
        """An observation step's partition: the one asked for, as Dagster gives a run's
        partition to its observation; none for several or none asked (the function reports
        the partitions it sees, as a DataVersionsByPartition)."""
        definition = partitions_def_of(node)
        if definition is None:
            return UNPARTITIONED
        own = self._own(key, definition)
        if len(own) == 1:
            return StepPartitions(own)
        if not own and self.keys is not None and key not in self.per_asset:
            raise PartitionKeyError(self._none_asked(key.to_user_string(), definition))
        return UNPARTITIONED

    def own_keys(self, key: AssetKey, node: Any) -> tuple[str, ...]:
        """The keys asked for that ``node``'s definition has (none if unpartitioned)."""
        definition = partitions_def_of(node)
        return () if definition is None else self._own(key, definition)

    def _own(self, key: AssetKey, definition: PartitionsDefinition) -> tuple[str, ...]:
        """The keys asked for that ``definition`` has: by name, or from ``keys``."""
        named = self.per_asset.get(key)
        if named is not None:
            return named
        if self.keys is None:
            return ()
        context = self.context
        if len(self.keys) > 64:  # a backfill's range: one set of the keys, not a parse each
            valid = set(
                definition.get_partition_keys(
                    current_time=context.current_time, dynamic_partitions_store=context.dynamic
                )
            )
            return tuple(k for k in self.keys if k in valid)
        return tuple(
            k
            for k in self.keys
            if definition.has_partition_key(
                k, current_time=context.current_time, dynamic_partitions_store=context.dynamic
            )
        )

    def _none_asked(self, name: str, definition: PartitionsDefinition) -> str:
        if self.keys is None:
            return (
                f"'{name}' is partitioned ({definition}): choose its partitions, e.g. "
                "materialize(..., partition_key=KEY), `millrace materialize --partition KEY`, "
                "or `millrace backfill --from KEY --to KEY`"
            )
        shown = ", ".join(self.keys[:3]) + (", ..." if len(self.keys) > 3 else "")
        message = definition.invalid_key_message(
            self.keys[0],
            current_time=self.context.current_time,
            dynamic_partitions_store=self.context.dynamic,
        )
        return f"'{name}' has none of the partitions asked for ({shown}): {message}"

    def _in_order(
        self, definition: PartitionsDefinition, keys: Mapping[str, None]
    ) -> tuple[str, ...]:
        if len(keys) < 2:
            return tuple(keys)
        order = {
            k: i
            for i, k in enumerate(
                definition.get_partition_keys(
                    current_time=self.context.current_time,
                    dynamic_partitions_store=self.context.dynamic,
                )
            )
        }
        return tuple(sorted(keys, key=lambda k: order.get(k, len(order))))

    def _chunks(self, node: AssetsDefinition, keys: tuple[str, ...]) -> list[tuple[str, ...]]:
        """A step per partition, unless a backfill and the asset's policy groups them (a
        single run takes each contiguous range whole)."""
        policy: BackfillPolicy | None = node.backfill_policy
        if not self.backfill or policy is None or len(keys) == 1:
            return [(k,) for k in keys]
        definition = node.partitions_def
        context = self.context
        runs = contiguous_runs(
            definition,
            keys,
            current_time=context.current_time,
            dynamic_partitions_store=context.dynamic,
        )
        size = policy.max_partitions_per_run
        if size is None:
            return [tuple(run) for run in runs]
        return [tuple(run[i : i + size]) for run in runs for i in range(0, len(run), size)]

    def mapping(self, node: Node, up_key: AssetKey, up_node: Any) -> PartitionMapping:
        return resolved_mapping(node, up_key, up_node, self.context)


def partitions_def_of(node: Any) -> PartitionsDefinition | None:
    return getattr(node, "partitions_def", None)


def resolved_mapping(
    node: Node | AssetSpec, up_key: AssetKey, up_node: Any, context: PartitionContext
) -> PartitionMapping:
    """The mapping ``node`` reads ``up_key`` through: declared, else Dagster's default."""
    cache_key = (id(node), up_key)
    found = context.mappings.get(cache_key)
    if found is None:
        declared = getattr(node, "partition_mappings", {}).get(up_key)
        found = declared or default_partition_mapping(
            partitions_def_of(up_node), partitions_def_of(node)
        )
        context.mappings[cache_key] = found
    return found


def input_partitions(
    node: Node, keys: tuple[str, ...], up_node: Any, context: PartitionContext
) -> Read:
    """The upstream partitions a step of ``node`` for ``keys`` reads of ``up_node``."""
    up_def = partitions_def_of(up_node)
    if up_def is None:
        return _WHOLE
    mapping = resolved_mapping(node, up_node.key, up_node, context)
    result = mapping.upstream_keys(
        keys,
        partitions_def_of(node),
        up_def,
        current_time=context.current_time,
        dynamic=context.dynamic,
    )
    problem = None
    if result.missing:
        shown = ", ".join(result.missing[:3]) + (", ..." if len(result.missing) > 3 else "")
        problem = (
            f"it reads partitions of '{up_node.key.to_user_string()}' that do not exist "
            f"({shown}; {up_def}); pass allow_nonexistent_upstream_partitions=True to the "
            "partition mapping to read only those that do"
        )
    return Read(tuple(result.keys), problem)
