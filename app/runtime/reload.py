"""What changed between two loads of the code: assets added, removed, and changed (with
which attributes, and whether the code version moved). Pure, so it is tested without I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..declarations.asset import AssetsDefinition
from ..declarations.keys import AssetKey
from ..declarations.metadata import metadata_to_json
from ..events import AssetChange

if TYPE_CHECKING:
    from .loaded_code import LoadedCode


def diff_code(
    old: LoadedCode, new: LoadedCode
) -> tuple[tuple[AssetKey, ...], tuple[AssetKey, ...], tuple[AssetChange, ...]]:
    """(added, removed, changed), each in the new graph's order (removed: the old one's)."""
    before, after = old.graph, new.graph
    added = tuple(k for k in after.toposort if k not in before.nodes)
    removed = tuple(k for k in before.toposort if k not in after.nodes)
    changed = []
    for key in after.toposort:
        if key not in before.nodes or _kept(old, new, key):
            continue
        was, now = _facts(old, key), _facts(new, key)
        attributes = tuple(name for name in now if now[name] != was.get(name))
        if attributes:
            changed.append(
                AssetChange(
                    key,
                    attributes,
                    code_changed="code" in attributes,
                    old_code_version=was["code"],
                    new_code_version=now["code"],
                )
            )
    return added, removed, tuple(changed)


def _kept(old: LoadedCode, new: LoadedCode, key: AssetKey) -> bool:
    """The same definition object (its module was kept by the reload), with the same code
    version, upstreams and checks: none of its facts can differ."""
    return (
        old.graph.nodes[key] is new.graph.nodes[key]
        and old.versions.get(key) == new.versions.get(key)
        and old.graph.upstream[key] == new.graph.upstream[key]
        and _checks(old, key) == _checks(new, key)
    )


def _checks(code: LoadedCode, key: AssetKey) -> tuple[tuple[str, str | None], ...]:
    checks = code.graph.checks_by_asset.get(key, ())
    return tuple((c.name, v.value if (v := code.versions.get(c)) else None) for c in checks)


def _facts(code: LoadedCode, key: AssetKey) -> dict[str, Any]:
    """The attributes of an asset a reload reports on, by the names the reload line uses."""
    graph = code.graph
    node = graph.nodes[key]
    version = code.versions.get(key)
    return {
        "code": version.value if version else node.code_version,
        "deps": tuple(graph.upstream[key]),
        "checks": _checks(code, key),
        "group": node.group_name,
        "description": node.description,
        "metadata": metadata_to_json(dict(node.metadata)),
        "tags": dict(node.tags),
        "kinds": tuple(sorted(node.kinds)),
        "io_manager": node.io_manager_key,
        "materializable": isinstance(node, AssetsDefinition),
    }
