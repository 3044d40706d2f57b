"""ExecutionPlan: which steps a run executes and how they are wired, computed once, purely.

Everything the executor needs per step (upstream counts, children, where each input comes
from, how many steps consume a value) is precomputed here, so running a step is O(1) in the
size of the graph. A step materializes an asset, or a subset of its partitions (one key, or
a range under a single-run backfill policy), or evaluates an asset check.

An input reads the upstream partitions its partition mapping names: several of them (24
hours into a day, a 7-day window) arrive as ``{partition key: value}``, one as the value
itself (Dagster's rule), unless the parameter is annotated as a dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..asset_graph import AssetGraph
from ..declarations.asset import DEFAULT_IO_MANAGER_KEY, AssetsDefinition
from ..declarations.checks import AssetCheckKey, AssetChecksDefinition
from ..declarations.keys import AssetKey
from ..errors import SelectionError
from .partitioning import Partitions, StepPartitions, input_partitions, partitions_def_of

NOTHING_LEFT = "every partition asked for is already done"


@dataclass(frozen=True, slots=True)
class StepInput:
    param: str
    key: AssetKey
    sources: tuple[int, ...]  # in-plan steps producing what it reads; the rest loads from storage
    annotation: Any
    metadata: Any
    # What loads it: the input manager its AssetIn names, else the upstream's IO manager
    # (whoever stored a value loads it).
    io_manager_key: str
    partitions: tuple[str, ...] | None = None  # upstream partitions read; None: unpartitioned
    as_dict: bool = False  # arrives as {partition key: value}
    partitions_def: Any = None  # the upstream's
    upstream_metadata: Any = None  # the upstream's definition metadata
    dagster_type: Any = None  # AssetIn(dagster_type=...)


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    key: AssetKey  # the asset materialized, or the asset a check evaluates
    node: AssetsDefinition | AssetChecksDefinition
    inputs: tuple[StepInput, ...]
    upstream: tuple[int, ...]  # in-plan steps that must finish first (inputs, deps, gates)
    downstream: tuple[int, ...]
    consumers: int  # in-plan steps that take this step's value as an argument
    check: AssetCheckKey | None = None
    partitions: tuple[str, ...] = ()  # the partitions it materializes or checks; () if none
    problem: str | None = None  # why it cannot run (e.g. upstream partitions that don't exist)
    # Per ``node.upstream_keys``, the upstream partitions read (None: unpartitioned); ()
    # when nothing it reads is partitioned.
    upstream_partitions: tuple[tuple[str, ...] | None, ...] = ()
    # A step for several partitions: per partition, what it reads of each upstream (its
    # provenance), aligned like ``upstream_partitions``.
    partition_reads: tuple[tuple[tuple[str, ...] | None, ...], ...] = ()

    @property
    def name(self) -> str:
        base = self.check.to_user_string() if self.check else self.key.to_user_string()
        if not self.partitions:
            return base
        if len(self.partitions) == 1:
            return f"{base}[{self.partitions[0]}]"
        return f"{base}[{self.partitions[0]}...{self.partitions[-1]}]"

    @property
    def partition_key(self) -> str | None:
        """The one partition this step is for; None when unpartitioned or a range."""
        return self.partitions[0] if len(self.partitions) == 1 else None

    @property
    def asset(self) -> AssetsDefinition:
        assert isinstance(self.node, AssetsDefinition), f"{self.name} is a check step"
        return self.node


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    steps: tuple[Step, ...]
    partition_key: str | None = None  # the run's partition, as requested (a run tag)
    # Skip steps whose stored materialization already has their code and inputs (the
    # executor decides as the run goes, since upstream steps may reproduce their data).
    early_cutoff: bool = False

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """The assets this plan materializes (once each, in order)."""
        return tuple(dict.fromkeys(s.key for s in self.steps if s.check is None))

    @property
    def writes(self) -> tuple[tuple[AssetKey, str | None], ...]:
        """Every (asset, partition) this plan materializes."""
        return tuple(
            (s.key, p) for s in self.steps if s.check is None for p in s.partitions or (None,)
        )

    @property
    def check_keys(self) -> tuple[AssetCheckKey, ...]:
        return tuple(dict.fromkeys(s.check for s in self.steps if s.check is not None))

    def __len__(self) -> int:
        return len(self.steps)


def build_plan(
    graph: AssetGraph,
    keys: Iterable[AssetKey],
    partition_key: str | None = None,
    *,
    checks: Iterable[AssetCheckKey] | None = None,
    early_cutoff: bool = False,
    partitions: Partitions | None = None,
) -> ExecutionPlan:
    """Steps for the executable assets among ``keys``, in topological order, then their checks.

    ``checks`` defaults to every ``@asset_check`` of the selected assets; pass it with no keys
    to evaluate checks alone against stored data. A blocking check gates the in-plan
    consumers of its asset, so they wait for its verdict. ``partitions`` says which
    partitions of each partitioned asset to run (``partition_key`` alone: that one).
    """
    wanted = set(keys)
    external = sorted(k.to_user_string() for k in wanted if not graph.nodes[k].is_executable)
    ordered = [k for k in graph.toposorted(wanted) if graph.nodes[k].is_executable]
    check_nodes = [
        c
        for c in (graph.checks[k] for k in (graph.checks_of(ordered) if checks is None else checks))
        if isinstance(c, AssetChecksDefinition)
    ]
    if not ordered and not check_nodes:
        raise SelectionError(
            "Nothing to run: the selection holds only external assets (AssetSpec) "
            f"without checks: {', '.join(external) or 'none'}"
        )
    if partitions is None:
        partitions = Partitions.for_key(partition_key)
    subsets = partitions.steps_of(graph, ordered, check_nodes)
    # One entry per step: its node and its partitions, assets first (in order), then checks.
    planned: list[tuple[AssetsDefinition | AssetChecksDefinition, StepPartitions]] = []
    for k in ordered:
        asset = graph.nodes[k]
        assert isinstance(asset, AssetsDefinition)
        planned += [(asset, subset) for subset in subsets[k]]
    for check in check_nodes:
        planned += [(check, subset) for subset in subsets[check.key]]
    if not planned:
        raise SelectionError(f"nothing to run: {NOTHING_LEFT}")
    producers: dict[AssetKey, dict[str | None, int]] = {}
    for i, (node, subset) in enumerate(planned):
        if isinstance(node, AssetsDefinition):
            by_key = producers.setdefault(node.key, {})
            for p in subset.keys or (None,):
                by_key[p] = i
    upstream: list[list[int]] = []
    inputs: list[tuple[StepInput, ...]] = []
    problems: list[str | None] = []
    reads: list[tuple[tuple[str, ...] | None, ...]] = []
    per_partition: list[tuple[tuple[tuple[str, ...] | None, ...], ...]] = []
    consumers = [0] * len(planned)
    for node, subset in planned:
        wired: list[StepInput] = []
        waits: list[int] = []
        problem = subset.problem
        read_keys: list[tuple[str, ...] | None] = []
        data = {spec.key: spec for spec in node.inputs}
        for up_key in node.upstream_keys:
            up_node = graph.nodes[up_key]
            read = input_partitions(node, subset.keys, up_node, partitions.context)
            made = producers.get(up_key, {})
            found = (made.get(p) for p in (read.keys if read.keys is not None else (None,)))
            sources = tuple(dict.fromkeys(i for i in found if i is not None))
            problem = problem or read.problem
            read_keys.append(read.keys)
            waits += sources
            spec = data.get(up_key)
            if spec is None:
                continue  # an order-only dep: waited for, not loaded
            for source in sources:
                consumers[source] += 1
            named = getattr(spec, "input_manager_key", None)  # from AssetIn
            io_key = (
                named
                if named is not None
                else getattr(up_node, "io_manager_key", DEFAULT_IO_MANAGER_KEY)
            )
            wired.append(
                StepInput(
                    spec.param,
                    spec.key,
                    sources,
                    spec.annotation,
                    spec.metadata,
                    io_key,
                    read.keys,
                    read.keys is not None and (len(read.keys) != 1 or _wants_dict(spec.annotation)),
                    partitions_def_of(up_node),
                    upstream_metadata=getattr(up_node, "metadata", None),
                    dagster_type=getattr(spec, "dagster_type", None),
                )
            )
        inputs.append(tuple(wired))
        upstream.append(list(dict.fromkeys(waits)))
        problems.append(problem)
        reads.append(tuple(read_keys) if any(k is not None for k in read_keys) else ())
        per_partition.append(
            tuple(
                tuple(
                    input_partitions(node, (k,), graph.nodes[up], partitions.context).keys
                    for up in node.upstream_keys
                )
                for k in subset.keys
            )
            if len(subset.keys) > 1
            else ()
        )
    _gate_on_blocking_checks(planned, upstream)
    downstream: list[list[int]] = [[] for _ in planned]
    for i, ups in enumerate(upstream):
        for u in ups:
            downstream[u].append(i)
    steps = tuple(
        Step(
            i,
            node.asset_key if isinstance(node, AssetChecksDefinition) else node.key,
            node,
            inputs[i],
            tuple(upstream[i]),
            tuple(downstream[i]),
            consumers[i],
            node.key if isinstance(node, AssetChecksDefinition) else None,
            subset.keys,
            problems[i],
            reads[i],
            per_partition[i],
        )
        for i, (node, subset) in enumerate(planned)
    )
    return ExecutionPlan(steps, partition_key, early_cutoff)


def _wants_dict(annotation: Any) -> bool:
    """``dict[str, pl.DataFrame]`` (or Mapping): a parameter that always takes partitions by
    key, even when its mapping yields one."""
    origin = getattr(annotation, "__origin__", annotation)
    return (isinstance(origin, type) and issubclass(origin, Mapping)) or origin in (
        "dict",
        "Mapping",
    )


def _gate_on_blocking_checks(
    planned: Sequence[tuple[AssetsDefinition | AssetChecksDefinition, StepPartitions]],
    upstream: list[list[int]],
) -> None:
    """Make each in-plan consumer of a checked asset (partition) also wait for its blocking
    checks: those that wait for that very step."""
    blocking: dict[int, list[int]] = {}
    for i, (node, _) in enumerate(planned):
        if isinstance(node, AssetChecksDefinition) and node.blocking:
            for u in upstream[i]:
                if planned[u][0].key == node.asset_key:
                    blocking.setdefault(u, []).append(i)
    if not blocking:
        return
    for i, (node, _) in enumerate(planned):
        if isinstance(node, AssetChecksDefinition):
            continue
        for u in list(upstream[i]):
            for gate in blocking.get(u, ()):
                # A check that reads this very step (additional_ins) cannot also gate it.
                if i not in upstream[gate]:
                    upstream[i].append(gate)
