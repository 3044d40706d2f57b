"""How long one evaluation of 1,000 eager() assets takes after one upstream update.

Run: .venv/bin/python bench/automation_conditions.py
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from millrace import AssetKey, AssetSpec
from millrace.asset_graph import AssetGraph
from millrace.automation.conditions import AutomationCondition, ConditionState, evaluate


class View:
    """A status cache's answers, from dicts."""

    def __init__(self, graph: AssetGraph) -> None:
        self.graph = graph
        self.now = datetime(2024, 6, 1, tzinfo=UTC)
        self.ids = {k: 1 for k in graph.nodes}

    def partition_keys(self, key: AssetKey) -> Sequence[str] | None:
        return None

    def upstream_partition_keys(
        self, key: AssetKey, partition_key: str | None, upstream: AssetKey
    ) -> Collection[str | None]:
        return (None,)

    def latest_materialization_id(self, key: AssetKey, partition_key: str | None) -> int | None:
        return self.ids.get(key)

    def run_in_progress(self, key: AssetKey, partition_key: str | None) -> bool:
        return False

    def backfill_in_progress(self, key: AssetKey, partition_key: str | None) -> bool:
        return False

    def execution_failed(self, key: AssetKey, partition_key: str | None) -> bool:
        return False

    def code_version(self, key: AssetKey) -> str | None:
        return None

    def check_passed(self, key: AssetKey, partition_key: str | None) -> bool | None:
        return None


def graph_of(roots: int, per_root: int, fan: int) -> AssetGraph:
    """``roots`` sources, each with a tree of ``per_root`` assets (each reading its parent
    and, ``fan`` wide, its siblings' parent)."""
    specs = []
    for r in range(roots):
        specs.append(AssetSpec(f"r{r}"))
        for i in range(per_root):
            parent = f"r{r}" if i < fan else f"a{r}_{(i - fan) // fan}"
            specs.append(AssetSpec(f"a{r}_{i}", deps=[parent]))
    return AssetGraph(specs)


def run(label: str, graph: AssetGraph) -> None:
    view = View(graph)
    eager = AutomationCondition.eager()
    conditions = {k: eager for k, n in graph.nodes.items() if n.upstream_keys}
    states: dict[AssetKey, ConditionState] = {}
    states.update(evaluate(conditions, view, states).states)
    root = AssetKey("r0")
    best = float("inf")
    requested = 0
    for _ in range(5):
        view.ids[root] += 1
        start = time.perf_counter()
        result = evaluate(conditions, view, states, {root})
        best = min(best, time.perf_counter() - start)
        requested = len(result.requests)
        states.update(result.states)
        for key in result.requests:  # their runs finish before the next update
            view.ids[key] += 1
        states.update(evaluate(conditions, view, states, set(result.requests)).states)
    per_asset = best / max(requested, 1) * 1e6
    print(
        f"{label}: {len(conditions)} eager assets, {requested} requested: "
        f"{best * 1000:.2f} ms ({per_asset:.1f} us per requested asset; target: under 20 ms)"
    )


if __name__ == "__main__":
    run("10 trees of 99, one root updated", graph_of(10, 99, 3))
    run("one tree of 999 (all downstream of the update)", graph_of(1, 999, 3))
