"""AssetGraph: the validated dependency graph of every declared asset."""

from __future__ import annotations

import os
import warnings
import weakref
from collections.abc import Iterable, Mapping, Sequence

from .declarations.asset import AssetsDefinition, AssetSpec
from .declarations.checks import AssetCheckKey, AssetChecksDefinition, AssetCheckSpec
from .declarations.keys import AssetKey
from .declarations.metadata_sets import AUTO_CREATED_STUB_ASSET
from .errors import DefinitionsError
from .partitions.mapping import default_partition_mapping
from .suggest import suggestion

AssetNode = AssetsDefinition | AssetSpec
CheckNode = AssetChecksDefinition | AssetCheckSpec


def describe(node: AssetNode | CheckNode) -> str:
    if isinstance(node, AssetCheckSpec):
        return repr(node)
    where = f" ({node.source})" if node.source else ""
    kind = "check" if isinstance(node, AssetChecksDefinition) else "asset"
    return f"{kind} '{node.key.to_user_string()}'{where}"


# Set to 1 (or true, yes): a dependency on a key no asset defines is an error, not an
# external asset; for CI, where a typo in ``deps=[...]`` should fail the build.
STRICT_DEPS_ENV = "MILLRACE_STRICT_DEPS"


class ExternalDependencyWarning(UserWarning):
    """A dependency on an undefined key that is close to a defined one: likely a typo."""


def strict_from_env() -> bool:
    return os.environ.get(STRICT_DEPS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


class AssetGraph:
    """Assets and their edges, in one topological order computed once at build time.

    As in Dagster, a key that something depends on without reading its value (``deps=``,
    an AssetSpec's deps, a check's ``additional_deps``) but that no asset defines becomes an
    external asset (an AssetSpec marked ``dagster/auto_created_stub_asset``): shown, never
    materialized. ``strict`` (default: ``$MILLRACE_STRICT_DEPS``) makes it an error instead.
    A value read from an undefined key (a parameter, ``AssetIn``) stays an error here, at
    load (Dagster makes it external too, and fails the run when its IO manager finds nothing):
    declare it with ``AssetSpec`` or ``SourceAsset`` and its ``io_manager_key`` to load it.
    """

    def __init__(
        self,
        nodes: Iterable[AssetNode],
        checks: Iterable[AssetChecksDefinition] = (),
        *,
        strict: bool | None = None,
    ) -> None:
        strict = strict_from_env() if strict is None else strict
        problems: list[str] = []
        self.nodes: dict[AssetKey, AssetNode] = {}
        for node in (
            one
            for item in nodes
            for one in (item.asset_nodes if isinstance(item, AssetsDefinition) else (item,))
        ):
            seen = self.nodes.get(node.key)
            if seen is not None:
                problems.append(_duplicate(node, seen))
                continue
            self.nodes[node.key] = node
        checks = [one for check in checks for one in check.check_nodes]  # multi checks too
        # The keys made external here, each with what referenced it first.
        self.stubs: dict[AssetKey, AssetNode | CheckNode] = {}
        self._strict = strict
        same = None if problems else _same_shape(self.nodes, strict)
        if same is not None:
            self._build_like(same, checks)
            return
        if not strict:
            self.stubs = _unresolved_order_only(self.nodes, checks)
            names = [k.to_user_string() for k in self.nodes] if self.stubs else []
            for key, referrer in self.stubs.items():
                self.nodes[key] = external_stub(key, referrer)
                _warn_if_typo(referrer, key, names)

        self.upstream: dict[AssetKey, tuple[AssetKey, ...]] = {}
        downstream: dict[AssetKey, list[AssetKey]] = {k: [] for k in self.nodes}
        for key, node in self.nodes.items():
            ups = node.upstream_keys
            for up in ups:
                if up in downstream:
                    downstream[up].append(key)
                else:
                    problems.append(_unknown_dependency(node, up, self.nodes))
            self.upstream[key] = ups
        self.downstream: dict[AssetKey, tuple[AssetKey, ...]] = {
            k: tuple(v) for k, v in downstream.items()
        }
        self.checks, self.checks_by_asset = self._add_checks(checks, problems)
        if not problems:
            problems += _partition_problems(self.nodes, self.checks)
        if problems:
            raise DefinitionsError("Invalid definitions:\n  - " + "\n  - ".join(problems))
        self.toposort: tuple[AssetKey, ...] = self._toposort()
        self.position: dict[AssetKey, int] = {k: i for i, k in enumerate(self.toposort)}
        _built(self)

    def _build_like(self, same: AssetGraph, checks: Sequence[CheckNode]) -> None:
        """The rest of the build, for nodes of the keys and edges of ``same``: its edges and
        order are this graph's, and only the nodes that are not ``same``'s, with what reads
        them, have partitions to check again."""
        self.upstream, self.downstream = same.upstream, same.downstream
        self.toposort, self.position = same.toposort, same.position
        problems: list[str] = []
        self.checks, self.checks_by_asset = self._add_checks(checks, problems)
        changed = [k for k, n in self.nodes.items() if same.nodes[k] is not n]
        affected = {*changed, *(d for k in changed for d in self.downstream[k])}
        if not problems:
            problems += _partition_problems(
                self.nodes,
                self.checks,
                [self.nodes[k] for k in affected],
                [
                    c
                    for k, c in self.checks.items()
                    if same.checks.get(k) is not c or k.asset_key in affected
                ],
            )
        if problems:
            raise DefinitionsError("Invalid definitions:\n  - " + "\n  - ".join(problems))
        _built(self)

    def _add_checks(
        self, checks: Sequence[CheckNode], problems: list[str]
    ) -> tuple[dict[AssetCheckKey, CheckNode], dict[AssetKey, list[AssetCheckKey]]]:
        """Every check (the assets' check specs, then ``checks``) by key, and by asset."""
        found: dict[AssetCheckKey, CheckNode] = {}
        by_asset: dict[AssetKey, list[AssetCheckKey]] = {}
        specs = [s for n in self.nodes.values() for s in getattr(n, "check_specs", ())]
        for check in [*specs, *checks]:
            if check.key in found:
                problems.append(
                    f"{describe(check)}: a check of that name is already defined for the asset"
                )
                continue
            missing = [u for u in _check_upstream(check) if u not in self.nodes]
            for up in missing:
                problems.append(_unknown_dependency(check, up, self.nodes))
            if not missing:
                found[check.key] = check
                by_asset.setdefault(check.asset_key, []).append(check.key)
        return found, by_asset

    def is_stub(self, key: AssetKey) -> bool:
        """Whether ``key`` was made external here, for being depended on but not defined."""
        return key in self.stubs

    def checks_of(self, keys: Iterable[AssetKey]) -> list[AssetCheckKey]:
        return [c for k in keys for c in self.checks_by_asset.get(k, ())]

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


def _partition_problems(
    nodes: Mapping[AssetKey, AssetNode],
    checks: Mapping[AssetCheckKey, CheckNode],
    of_nodes: Iterable[AssetNode] | None = None,
    of_checks: Iterable[CheckNode] | None = None,
) -> list[str]:
    """Partition mappings that cannot map their two definitions, mappings of keys that are
    not upstreams, and partitioned checks whose definition is not their asset's: of every
    node and check, or of ``of_nodes`` and ``of_checks``."""
    problems = []
    for node in nodes.values() if of_nodes is None else of_nodes:
        declared = getattr(node, "partition_mappings", {})
        for up in declared:
            if up not in node.upstream_keys:
                problems.append(
                    f"{describe(node)}: partition_mapping given for '{up.to_user_string()}', "
                    "which it does not depend on"
                )
        down_def = getattr(node, "partitions_def", None)
        for up in node.upstream_keys:
            up_def = getattr(nodes[up], "partitions_def", None)
            if up_def is None and down_def is None:
                continue
            mapping = declared.get(up) or default_partition_mapping(up_def, down_def)
            try:
                mapping.validate_partition_mapping(up_def, down_def)
            except DefinitionsError as exc:
                problems.append(f"{describe(node)} reading '{up.to_user_string()}': {exc}")
    for check in checks.values() if of_checks is None else of_checks:
        check_def = getattr(check, "partitions_def", None)
        asset_def = getattr(nodes[check.asset_key], "partitions_def", None)
        if check_def is not None and check_def != asset_def:
            problems.append(
                f"{describe(check)}: partitions_def {check_def!r} is not its asset's "
                f"({asset_def!r}); a partitioned check runs per partition of its asset"
            )
    return problems


# The last graph built, whose edges and order a graph of the same keys and edges shares: a
# reload that changed a function body rebuilds the graph of every asset, but its shape is
# the last one's (the edges and the order are most of building 10,000 assets' graph).
_last: weakref.ref[AssetGraph] | None = None


def _built(graph: AssetGraph) -> None:
    global _last
    _last = weakref.ref(graph)


def _same_shape(nodes: Mapping[AssetKey, AssetNode], strict: bool) -> AssetGraph | None:
    """The last graph built, if ``nodes`` have its keys in its order (the order breaks ties
    in the topological one) and each reads the same upstreams, under the same rule for
    undefined keys, and it made none external (stubs name who referred to them)."""
    last = _last() if _last is not None else None
    if last is None or last._strict != strict or last.stubs or len(last.nodes) != len(nodes):
        return None
    upstream = last.upstream
    for (key, node), (was_key, was) in zip(nodes.items(), last.nodes.items(), strict=True):
        if key != was_key or (node is not was and node.upstream_keys != upstream[key]):
            return None
    return last


def _unresolved_order_only(
    nodes: Mapping[AssetKey, AssetNode], checks: Iterable[AssetChecksDefinition]
) -> dict[AssetKey, AssetNode | CheckNode]:
    """Undefined keys depended on without a value read, by the first node referring to each.
    A key some node also reads as a value is left out: that read is the error to report."""
    read: set[AssetKey] = set()
    order_only: dict[AssetKey, AssetNode | CheckNode] = {}
    specs = [s for n in nodes.values() for s in getattr(n, "check_specs", ())]
    referrers: list[AssetNode | CheckNode] = [*nodes.values(), *specs, *checks]
    for node in referrers:
        if isinstance(node, AssetSpec):
            deps: tuple[AssetKey, ...] = node.deps
        elif isinstance(node, AssetCheckSpec):
            deps = (node.asset_key, *node.additional_deps)
        else:
            read.update(i.key for i in getattr(node, "inputs", ()))
            deps = tuple(getattr(node, "deps", ()))
            if isinstance(node, AssetChecksDefinition):
                deps = (node.asset_key, *deps)
        for key in deps:
            if key not in nodes:
                order_only.setdefault(key, node)
    return {k: v for k, v in order_only.items() if k not in read}


def external_stub(key: AssetKey, referrer: AssetNode | CheckNode) -> AssetSpec:
    """The external asset Dagster makes for an undefined key; it lives where its first
    referrer does, so messages about it point at the line that named it."""
    stub = AssetSpec(key, metadata={AUTO_CREATED_STUB_ASSET: True})
    object.__setattr__(stub, "source", getattr(referrer, "source", None))
    return stub


def _warn_if_typo(referrer: AssetNode | CheckNode, key: AssetKey, names: list[str]) -> None:
    wanted = key.to_user_string()
    hint = suggestion(wanted, names)
    if hint:
        warnings.warn(
            f"{describe(referrer)} depends on '{wanted}'{hint}, which these Definitions do not "
            f"define: it is an external asset, never materialized here. Set "
            f"{STRICT_DEPS_ENV}=1 to make this an error.",
            ExternalDependencyWarning,
            stacklevel=2,
        )


def _check_upstream(check: CheckNode) -> tuple[AssetKey, ...]:
    if isinstance(check, AssetChecksDefinition):
        return check.upstream_keys
    return (check.asset_key, *check.additional_deps)


def _duplicate(node: AssetNode, seen: AssetNode) -> str:
    """Two places, or one place that made the key twice: naming it twice would say nothing."""
    key = node.key.to_user_string()
    if node is seen:
        return f"{describe(node)} is listed twice in these Definitions"
    if node.source == seen.source:
        return (
            f"asset key '{key}' is defined twice by the same code, at {node.source or '?'}: "
            "is its module imported under two names, or does a factory there make the key twice?"
        )
    where = f"at {seen.source or '?'} and at {node.source or '?'}"
    return f"asset key '{key}' is defined twice: {where}"


def _unknown_dependency(
    node: AssetNode | CheckNode, wanted_key: AssetKey, known: Iterable[AssetKey]
) -> str:
    """An asset is never its own suggestion: ``orders`` depending on a missing ``order``.
    The names to suggest from are made here, on an error, not for every graph."""
    wanted = wanted_key.to_user_string()
    own = node.key.to_user_string() if isinstance(node, AssetsDefinition | AssetSpec) else None
    names = (k.to_user_string() for k in known)
    hint = suggestion(wanted, (name for name in names if name != own))
    return (
        f"{describe(node)} depends on '{wanted}'{hint}, which these Definitions do not define. "
        f"Add the asset to Definitions(assets=[...]), or declare it with "
        f"AssetSpec('{wanted}') if it is produced outside Millrace."
    )


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
