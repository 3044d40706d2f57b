"""One load of the user's code: its Definitions and the code version of each node, computed
once per load (off the loop for a reload) and read by planning, staleness and the views."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..asset_graph import AssetGraph
from ..declarations.asset import AssetsDefinition
from ..declarations.checks import AssetCheckKey, AssetChecksDefinition
from ..declarations.definitions import Definitions
from ..declarations.keys import AssetKey
from ..versions.code import CodeVersion, code_versions
from .loader import CodeLocation


@dataclass(frozen=True, eq=False)
class LoadedCode:
    """One load of the user's code: what it declares and the code version of each node."""

    defs: Definitions
    versions: Mapping[AssetKey | AssetCheckKey, CodeVersion]
    location: CodeLocation | None = None

    @property
    def graph(self) -> AssetGraph:
        return self.defs.graph

    @functools.cached_property
    def partitioned(self) -> bool:
        """Some asset is partitioned: pure work over it (statuses, plans) can be long."""
        nodes = self.graph.nodes.values()
        return any(getattr(n, "partitions_def", None) is not None for n in nodes)

    def code_versions(self) -> dict[AssetKey, str]:
        return {k: v.value for k, v in self.versions.items() if isinstance(k, AssetKey)}

    @staticmethod
    def of(
        defs: Definitions,
        location: CodeLocation | None = None,
        cache: Path | None = None,
        previous: LoadedCode | None = None,
    ) -> LoadedCode:
        """``cache``: where code versioning keeps what it read of each file (see
        versions/source_cache.py), if anywhere. ``previous``: the load this one reloads."""
        graph = defs.graph
        nodes = [
            node
            for node in (*graph.nodes.values(), *graph.checks.values())
            if isinstance(node, AssetsDefinition | AssetChecksDefinition)  # not external specs
        ]
        kept = _kept_versions(nodes, previous)
        root = location.directory if location is not None else None
        sources = location.sources if location is not None else None
        fresh = [n for n in nodes if n.key not in kept]
        versions = {**kept, **code_versions(fresh, root=root, sources=sources, cache=cache)}
        return LoadedCode(defs, {n.key: versions[n.key] for n in nodes}, location)


def _kept_versions(
    nodes: list[AssetsDefinition | AssetChecksDefinition], previous: LoadedCode | None
) -> dict[AssetKey | AssetCheckKey, CodeVersion]:
    """The versions of the nodes a reload kept: the very objects of the last load. A reload
    runs again every module an edit can reach (kept_modules), so a kept one's code, and
    the code it reaches, are what they were; only the edited modules are versioned again
    (versioning 10,000 kept assets was most of a reload)."""
    if previous is None:
        return {}
    graph = previous.graph
    kept: dict[AssetKey | AssetCheckKey, CodeVersion] = {}
    for node in nodes:
        key = node.key
        was = graph.checks.get(key) if isinstance(key, AssetCheckKey) else graph.nodes.get(key)
        if was is node and key in previous.versions:
            kept[key] = previous.versions[key]
    return kept
