"""ExecutionPlan: which steps a run executes and how they are wired, computed once, purely.

Everything the executor needs per step (upstream counts, children, where each input comes
from, how many steps consume a value) is precomputed here, so running a step is O(1) in the
size of the graph. A step materializes an asset, or a subset of its partitions (one key, or
a range under a single-run backfill policy), evaluates an asset check, or observes an
observable source asset (as Dagster puts observations in runs: what reads the source waits
for it, and loads the source from storage, since an observation stores no value).

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
from ..declarations.source_asset import SourceAsset
from ..errors import SelectionError
from .partitioning import Partitions, StepPartitions, input_partitions, partitions_def_of

NOTHING_LEFT = "every partition asked for is already done"

Node = AssetsDefinition | AssetChecksDefinition | SourceAsset


# A plan's steps and inputs are built once, by build_plan, and never changed; not frozen,
# as a frozen dataclass sets each field through object.__setattr__ (~1.5 us a step, 10%
# of planning 10,000 assets). Compared and hashed by value all the same.
@dataclass(slots=True, unsafe_hash=True)
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


@dataclass(slots=True, unsafe_hash=True)
class Step:
    index: int
    key: AssetKey  # the asset materialized or observed, or the asset a check evaluates
    node: Node
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
    # A @multi_asset's outputs selected together run as one call of its function: the first
    # step (the leader) calls it, for the ``group`` of keys; each other output's step (a
    # follower) waits for the leader and stores the value it handed over.
    group: tuple[AssetKey, ...] = ()
    leader: int | None = None
    followers: tuple[int, ...] = ()
    # A @multi_asset_check's checks selected together: one step reports them all.
    check_group: tuple[AssetCheckKey, ...] = ()

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
    def runs_on_loop(self) -> bool:
        """An ``async def`` step; a follower only stores what its leader computed."""
        return self.node.is_async and self.leader is None

    @property
    def observes(self) -> bool:
        """An observation step: it records the source's data version and stores nothing."""
        return isinstance(self.node, SourceAsset)

    @property
    def definition(self) -> AssetsDefinition | AssetChecksDefinition:
        """The asset or check whose function the step calls (an observation has neither)."""
        assert not isinstance(self.node, SourceAsset), f"{self.name} is an observation step"
        return self.node

    @property
    def materializes(self) -> bool:
        return self.check is None and not self.observes

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
        return tuple(dict.fromkeys(s.key for s in self.steps if s.materializes))

    @property
    def writes(self) -> tuple[tuple[AssetKey, str | None], ...]:
        """Every (asset, partition) this plan materializes."""
        return tuple(
            (s.key, p) for s in self.steps if s.materializes for p in s.partitions or (None,)
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
    """Steps for the observable source assets among ``keys`` (observations), then for the
    executable ones in topological order, then for their checks.

    ``checks`` defaults to every ``@asset_check`` of the selected assets; pass it with no keys
    to evaluate checks alone against stored data. A blocking check gates the in-plan
    consumers of its asset, so they wait for its verdict. ``partitions`` says which
    partitions of each partitioned asset to run (``partition_key`` alone: that one).
    """
    wanted = _with_siblings(graph, keys)
    in_order = graph.toposorted(wanted)
    observed = [k for k in in_order if _observable(graph.nodes[k])]
    ordered = [k for k in in_order if graph.nodes[k].is_executable]
    external = sorted(
        k.to_user_string() for k in wanted if not graph.nodes[k].is_executable and k not in observed
    )
    check_nodes = [
        c
        for c in (
            graph.checks[k]
            for k in (graph.checks_of([*observed, *ordered]) if checks is None else checks)
        )
        if isinstance(c, AssetChecksDefinition)
    ]
    check_nodes, check_groups = _one_step_per_multi_check(check_nodes)
    if not ordered and not check_nodes and not observed:
        raise SelectionError(
            "Nothing to run: the selection holds only external assets (AssetSpec) "
            f"without checks: {', '.join(external) or 'none'}"
        )
    if partitions is None:
        partitions = Partitions.for_key(partition_key)
    subsets = partitions.steps_of(graph, ordered, check_nodes)
    # One entry per step: its node and its partitions; observations, assets (in order), checks.
    planned: list[tuple[Node, StepPartitions]] = []
    for k in observed:
        source = graph.nodes[k]
        assert isinstance(source, SourceAsset)
        planned.append((source, partitions.observation_of(k, source)))
    for k in ordered:
        asset = graph.nodes[k]
        assert isinstance(asset, AssetsDefinition)
        planned += [(asset, subset) for subset in subsets[k]]
    for check in check_nodes:
        planned += [(check, subset) for subset in subsets[check.key]]
    if not planned:
        raise SelectionError(f"nothing to run: {NOTHING_LEFT}")
    producers: dict[AssetKey, dict[str | None, int]] = {}
    observers = {n.key: i for i, (n, _) in enumerate(planned) if isinstance(n, SourceAsset)}
    for i, (node, subset) in enumerate(planned):
        if isinstance(node, AssetsDefinition):
            by_key = producers.setdefault(node.key, {})
            for p in subset.keys or (None,):
                by_key[p] = i
    groups, leaders = _multi_asset_groups(planned)
    group_keys = {
        i: tuple(n.key for n, _ in (planned[m] for m in members) if isinstance(n, AssetsDefinition))
        for i, members in groups.items()
    }
    upstream: list[list[int]] = []
    inputs: list[tuple[StepInput, ...]] = []
    problems: list[str | None] = []
    reads: list[tuple[tuple[str, ...] | None, ...]] = []
    per_partition: list[tuple[tuple[tuple[str, ...] | None, ...], ...]] = []
    consumers = [0] * len(planned)

    def read_of(node: Any, subset: StepPartitions, up_key: AssetKey) -> tuple[Any, list[int]]:
        """What the step reads of ``up_key``, and the in-plan steps that produce it."""
        read = input_partitions(node, subset.keys, graph.nodes[up_key], partitions.context)
        made = producers.get(up_key, {})
        found = (made.get(p) for p in (read.keys if read.keys is not None else (None,)))
        return read, list(dict.fromkeys(i for i in found if i is not None))

    def wire(spec: Any, read: Any, sources: list[int]) -> StepInput:
        for source in sources:
            consumers[source] += 1
        up_node = graph.nodes[spec.key]
        return StepInput(
            spec.param,
            spec.key,
            tuple(sources),
            spec.annotation,
            spec.metadata,
            spec.input_manager_key or getattr(up_node, "io_manager_key", DEFAULT_IO_MANAGER_KEY),
            read.keys,
            read.keys is not None and (len(read.keys) != 1 or _wants_dict(spec.annotation)),
            partitions_def_of(up_node),
            upstream_metadata=getattr(up_node, "metadata", None),
            dagster_type=spec.dagster_type,
        )

    for i, (node, subset) in enumerate(planned):
        wired: list[StepInput] = []
        waits: list[int] = []
        problem = subset.problem
        read_keys: list[tuple[str, ...] | None] = []
        if isinstance(node, SourceAsset):  # an observation reads nothing
            inputs.append(())
            upstream.append([])
            problems.append(problem)
            reads.append(())
            per_partition.append(())
            continue
        # A follower loads nothing: its leader calls the function with every input.
        data = {} if i in leaders else {spec.key: spec for spec in node.inputs}
        for up_key in node.upstream_keys:
            read, sources = read_of(node, subset, up_key)
            problem = problem or read.problem
            read_keys.append(read.keys)
            waits += sources
            spec = data.pop(up_key, None)
            if spec is not None:  # else an order-only dep: waited for, not loaded
                wired.append(wire(spec, read, sources))
        members = groups.get(i)
        if members is not None:
            # The leader calls the function for them all: every input (outside this output's
            # internal_asset_deps too), and everything the others wait for.
            for spec in data.values():
                read, sources = read_of(node, subset, spec.key)
                problem = problem or read.problem
                waits += sources
                wired.append(wire(spec, read, sources))
            for m in members[1:]:
                for up_key in planned[m][0].upstream_keys:
                    waits += read_of(planned[m][0], subset, up_key)[1]
            waits = [w for w in waits if w not in members]
        elif i in leaders:
            waits.append(leaders[i])
        if isinstance(node, AssetChecksDefinition):  # and the checks it reports with it
            for other in check_groups.get(node.key, ())[1:]:
                other_node = graph.checks[other]
                assert isinstance(other_node, AssetChecksDefinition)
                for up_key in other_node.upstream_keys:
                    waits += read_of(node, subset, up_key)[1]
        # A source observed in this run: what reads it waits for its new data version.
        sources_read = [*node.upstream_keys, *(spec.key for spec in data.values())]
        for m in members or ():
            sources_read += planned[m][0].upstream_keys
        waits += [observers[k] for k in sources_read if k in observers]
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
            group_keys.get(i, ()),
            leaders.get(i),
            tuple(groups.get(i, ())[1:]),
            check_groups.get(node.key, ()) if isinstance(node, AssetChecksDefinition) else (),
        )
        for i, (node, subset) in enumerate(planned)
    )
    return ExecutionPlan(steps, partition_key, early_cutoff)


def _observable(node: Any) -> bool:
    return isinstance(node, SourceAsset) and node.is_observable


def _with_siblings(graph: AssetGraph, keys: Iterable[AssetKey]) -> set[AssetKey]:
    """The keys, and every output of a multi-asset that cannot run for a subset of them."""
    wanted = set(keys)
    for key in list(wanted):
        multi = getattr(graph.nodes[key], "multi", None)
        if multi is not None and not multi.can_subset:
            wanted |= multi.keys
    return wanted


def _one_step_per_multi_check(
    checks: list[AssetChecksDefinition],
) -> tuple[list[AssetChecksDefinition], dict[AssetCheckKey, tuple[AssetCheckKey, ...]]]:
    """The checks to plan a step for: of a multi-asset check's, the first stands for the
    others selected with it; and by that first one, the keys its step reports."""
    kept: list[AssetChecksDefinition] = []
    groups: dict[AssetCheckKey, list[AssetCheckKey]] = {}
    first: dict[int, AssetCheckKey] = {}
    for check in checks:
        if check.multi is None:
            kept.append(check)
            continue
        lead = first.setdefault(id(check.multi), check.key)
        if lead == check.key:
            kept.append(check)
        groups.setdefault(lead, []).append(check.key)
    return kept, {k: tuple(v) for k, v in groups.items()}


def _multi_asset_groups(
    planned: Sequence[tuple[Node, StepPartitions]],
) -> tuple[dict[int, list[int]], dict[int, int]]:
    """The steps of each multi-asset's outputs for the same partitions: by leader (the first,
    in topological order) its members, leader first; and each follower's leader."""
    groups: dict[int, list[int]] = {}
    leaders: dict[int, int] = {}
    first: dict[tuple[int, tuple[str, ...]], int] = {}
    for i, (node, subset) in enumerate(planned):
        multi = getattr(node, "multi", None)  # a check step has none
        if multi is None:
            continue
        leader = first.setdefault((id(multi), subset.keys), i)
        groups.setdefault(leader, []).append(i)
        if leader != i:
            leaders[i] = leader
    return groups, leaders


def _wants_dict(annotation: Any) -> bool:
    """``dict[str, pl.DataFrame]`` (or Mapping): a parameter that always takes partitions by
    key, even when its mapping yields one."""
    origin = getattr(annotation, "__origin__", annotation)
    return (isinstance(origin, type) and issubclass(origin, Mapping)) or origin in (
        "dict",
        "Mapping",
    )


def _gate_on_blocking_checks(
    planned: Sequence[tuple[Node, StepPartitions]],
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
