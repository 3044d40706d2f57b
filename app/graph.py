"""AssetGraph: the validated dependency graph of every declared asset."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from .definitions.asset import AssetsDefinition, AssetSpec
from .definitions.keys import AssetKey
from .errors import DefinitionsError

AssetNode = AssetsDefinition | AssetSpec


def describe(node: AssetNode) -> str:
    where = f" ({node.source})" if node.source else ""
    return f"asset '{node.key.to_user_string()}'{where}"


def closest_keys(wanted: str, candidates: Iterable[str], n: int = 1) -> list[str]:
    return difflib.get_close_matches(wanted, list(candidates), n=n, cutoff=0.5)


class AssetGraph:
    """Assets and their edges, in one topological order computed once at build time."""

    def __init__(self, nodes: Iterable[AssetNode]) -> None:
        problems: list[str] = []
        self.nodes: dict[AssetKey, AssetNode] = {}
        for node in nodes:
            seen = self.nodes.get(node.key)
            if seen is not None:
                problems.append(
                    f"asset key '{node.key.to_user_string()}' is defined twice: "
                    f"at {seen.source or '?'} and at {node.source or '?'}"
                )
                continue
            self.nodes[node.key] = node

        self.upstream: dict[AssetKey, tuple[AssetKey, ...]] = {}
        downstream: dict[AssetKey, list[AssetKey]] = {k: [] for k in self.nodes}
        names = [k.to_user_string() for k in self.nodes]
        for key, node in self.nodes.items():
            ups = node.upstream_keys
            for up in ups:
                if up in downstream:
                    downstream[up].append(key)
                    continue
                wanted = up.to_user_string()
                hint = closest_keys(wanted, names)
                suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
                problems.append(
                    f"{describe(node)} depends on '{wanted}', which these Definitions do not "
                    f"define.{suggestion} Add the asset to Definitions(assets=[...]), or declare "
                    f"it with AssetSpec('{wanted}') if it is produced outside Millrace."
                )
            self.upstream[key] = ups
        self.downstream: dict[AssetKey, tuple[AssetKey, ...]] = {
            k: tuple(v) for k, v in downstream.items()
        }
        if problems:
            raise DefinitionsError("Invalid definitions:\n  - " + "\n  - ".join(problems))
        self.toposort: tuple[AssetKey, ...] = self._toposort()
        self.position: dict[AssetKey, int] = {k: i for i, k in enumerate(self.toposort)}

    def _toposort(self) -> tuple[AssetKey, ...]:
        pending = {k: len(set(ups)) for k, ups in self.upstream.items()}
        ready = [k for k, n in pending.items() if n == 0]
        order: list[AssetKey] = []
        while ready:
            key = ready.pop()
            order.append(key)
            for child in dict.fromkeys(self.downstream[key]):
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)
        if len(order) < len(self.nodes):
            raise DefinitionsError(self._describe_cycle({k for k, n in pending.items() if n}))
        return tuple(order)

    def _describe_cycle(self, stuck: set[AssetKey]) -> str:
        # Every stuck node has a stuck upstream, so walking upstream must revisit a node.
        start = min(stuck)
        walk: list[AssetKey] = [start]
        index = {start: 0}
        while True:
            nxt = next(u for u in self.upstream[walk[-1]] if u in stuck)
            if nxt in index:
                cycle = walk[index[nxt] :]
                break
            index[nxt] = len(walk)
            walk.append(nxt)
        cycle.reverse()  # upstream walk -> dependency direction
        first = cycle.index(min(cycle))  # start at the smallest key: a stable, readable path
        cycle = cycle[first:] + cycle[:first]
        path = " -> ".join(k.to_user_string() for k in [*cycle, cycle[0]])
        where = "\n".join(f"    {describe(self.nodes[k])}" for k in cycle)
        return f"Cycle in the asset graph: {path}\n{where}"

    # -- queries ---------------------------------------------------------------------------

    def __contains__(self, key: object) -> bool:
        return key in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def keys(self) -> tuple[AssetKey, ...]:
        return self.toposort

    def executable_keys(self) -> tuple[AssetKey, ...]:
        return tuple(k for k in self.toposort if self.nodes[k].is_executable)

    def groups(self) -> dict[str, list[AssetKey]]:
        out: dict[str, list[AssetKey]] = {}
        for key in self.toposort:
            out.setdefault(self.nodes[key].group_name, []).append(key)
        return out

    def upstream_closure(self, keys: Iterable[AssetKey], depth: int | None = None) -> set[AssetKey]:
        return _closure(keys, self.upstream, depth)

    def downstream_closure(
        self, keys: Iterable[AssetKey], depth: int | None = None
    ) -> set[AssetKey]:
        return _closure(keys, self.downstream, depth)

    def toposorted(self, keys: Iterable[AssetKey]) -> list[AssetKey]:
        return sorted(keys, key=self.position.__getitem__)


def _closure(
    keys: Iterable[AssetKey], edges: Mapping[AssetKey, tuple[AssetKey, ...]], depth: int | None
) -> set[AssetKey]:
    """Keys plus everything reachable along ``edges``, at most ``depth`` steps (None: all)."""
    seen = set(keys)
    frontier = list(seen)
    level = 0
    while frontier and (depth is None or level < depth):
        nxt: list[AssetKey] = []
        for key in frontier:
            for other in edges[key]:
                if other not in seen:
                    seen.add(other)
                    nxt.append(other)
        frontier = nxt
        level += 1
    return seen
