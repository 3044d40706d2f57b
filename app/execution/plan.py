"""ExecutionPlan: which steps a run executes and how they are wired, computed once, purely.

Everything the executor needs per step (upstream counts, children, where each input comes
from, how many steps consume a value) is precomputed here, so running a step is O(1) in the
size of the graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..definitions.asset import AssetsDefinition
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


@dataclass(frozen=True, slots=True)
class Step:
    index: int
    key: AssetKey
    asset: AssetsDefinition
    inputs: tuple[StepInput, ...]
    upstream: tuple[int, ...]  # in-plan steps that must finish first (data inputs and deps)
    downstream: tuple[int, ...]
    consumers: int  # in-plan steps that take this step's value as an argument

    @property
    def name(self) -> str:
        return self.key.to_user_string()


@dataclass(frozen=True, slots=True)
class ExecutionPlan:
    steps: tuple[Step, ...]
    partition_key: str | None = None

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        return tuple(s.key for s in self.steps)

    def __len__(self) -> int:
        return len(self.steps)


def build_plan(
    graph: AssetGraph, keys: Iterable[AssetKey], partition_key: str | None = None
) -> ExecutionPlan:
    """Steps for the executable assets among ``keys``, in topological order."""
    wanted = set(keys)
    external = sorted(k.to_user_string() for k in wanted if not graph.nodes[k].is_executable)
    ordered = [k for k in graph.toposorted(wanted) if graph.nodes[k].is_executable]
    if not ordered:
        raise SelectionError(
            "Nothing to materialize: the selection holds only external assets "
            f"(AssetSpec): {', '.join(external)}"
        )
    index = {key: i for i, key in enumerate(ordered)}
    downstream: list[list[int]] = [[] for _ in ordered]
    consumers = [0] * len(ordered)
    partial: list[tuple[AssetKey, AssetsDefinition, tuple[StepInput, ...], tuple[int, ...]]] = []
    for i, key in enumerate(ordered):
        asset = graph.nodes[key]
        assert isinstance(asset, AssetsDefinition)
        inputs = []
        for spec in asset.inputs:
            source = index.get(spec.key, FROM_STORAGE)
            if source != FROM_STORAGE:
                consumers[source] += 1
            inputs.append(StepInput(spec.param, spec.key, source, spec.annotation, spec.metadata))
        upstream = tuple(dict.fromkeys(index[u] for u in asset.upstream_keys if u in index))
        for u in upstream:
            downstream[u].append(i)
        partial.append((key, asset, tuple(inputs), upstream))
    steps = tuple(
        Step(i, key, asset, inputs, upstream, tuple(downstream[i]), consumers[i])
        for i, (key, asset, inputs, upstream) in enumerate(partial)
    )
    return ExecutionPlan(steps, partition_key)
