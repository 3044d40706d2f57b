"""ExecutionPlan: which steps a run executes and how they are wired, computed once, purely.

Everything the executor needs per step (upstream counts, children, where each input comes
from, how many steps consume a value) is precomputed here, so running a step is O(1) in the
size of the graph. A step materializes an asset or evaluates an asset check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..definitions.asset import DEFAULT_IO_MANAGER_KEY, AssetsDefinition
from ..definitions.checks import AssetCheckKey, AssetChecksDefinition
from ..definitions.keys import AssetKey
from ..errors import SelectionError
from ..graph import AssetGraph

FROM_STORAGE = -1


@dataclass(frozen=True, slots=True)
class StepInput:
    param: str
    key: AssetKey
    source: int  # index of the producing step in this plan, or FROM_STORAGE
    annotation: Any
    metadata: Any
    io_manager_key: str  # the upstream's IO manager: whoever stored a value loads it


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

    @property
    def name(self) -> str:
        return self.check.to_user_string() if self.check else self.key.to_user_string()

    @property
    def asset(self) -> AssetsDefinition:
        assert isinstance(self.node, AssetsDefinition), f"{self.name} is a check step"
        return self.node


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    steps: tuple[Step, ...]
    partition_key: str | None = None
    # Skip steps whose stored materialization already has their code and inputs (the
    # executor decides as the run goes, since upstream steps may reproduce their data).
    early_cutoff: bool = False

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        """The assets this plan materializes."""
        return tuple(s.key for s in self.steps if s.check is None)

    @property
    def check_keys(self) -> tuple[AssetCheckKey, ...]:
        return tuple(s.check for s in self.steps if s.check is not None)

    def __len__(self) -> int:
        return len(self.steps)


def build_plan(
    graph: AssetGraph,
    keys: Iterable[AssetKey],
    partition_key: str | None = None,
    *,
    checks: Iterable[AssetCheckKey] | None = None,
    early_cutoff: bool = False,
) -> ExecutionPlan:
    """Steps for the executable assets among ``keys``, in topological order, then their checks.

    ``checks`` defaults to every ``@asset_check`` of the selected assets; pass it with no keys
    to evaluate checks alone against stored data. A blocking check gates the in-plan
    consumers of its asset, so they wait for its verdict.
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
    nodes: list[AssetsDefinition | AssetChecksDefinition] = [
        asset for k in ordered if isinstance(asset := graph.nodes[k], AssetsDefinition)
    ]
    nodes += check_nodes
    index = {key: i for i, key in enumerate(ordered)}
    upstream: list[list[int]] = []
    inputs: list[tuple[StepInput, ...]] = []
    consumers = [0] * len(nodes)
    for node in nodes:
        wired = []
        for spec in node.inputs:
            source = index.get(spec.key, FROM_STORAGE)
            if source != FROM_STORAGE:
                consumers[source] += 1
            up_node = graph.nodes[spec.key]
            io_key = getattr(up_node, "io_manager_key", DEFAULT_IO_MANAGER_KEY)
            wired.append(
                StepInput(spec.param, spec.key, source, spec.annotation, spec.metadata, io_key)
            )
        inputs.append(tuple(wired))
        upstream.append(list(dict.fromkeys(index[u] for u in node.upstream_keys if u in index)))
    _gate_on_blocking_checks(nodes, index, upstream)
    downstream: list[list[int]] = [[] for _ in nodes]
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
        )
        for i, node in enumerate(nodes)
    )
    return ExecutionPlan(steps, partition_key, early_cutoff)


def _gate_on_blocking_checks(
    nodes: list[AssetsDefinition | AssetChecksDefinition],
    index: dict[AssetKey, int],
    upstream: list[list[int]],
) -> None:
    """Make each in-plan consumer of a checked asset also wait for its blocking checks."""
    blocking: dict[int, list[int]] = {}
    for i, node in enumerate(nodes):
        if isinstance(node, AssetChecksDefinition) and node.blocking and node.asset_key in index:
            blocking.setdefault(index[node.asset_key], []).append(i)
    if not blocking:
        return
    for i, node in enumerate(nodes):
        if isinstance(node, AssetChecksDefinition):
            continue
        for u in list(upstream[i]):
            for gate in blocking.get(u, ()):
                # A check that reads this very step (additional_ins) cannot also gate it.
                if i not in upstream[gate]:
                    upstream[i].append(gate)
