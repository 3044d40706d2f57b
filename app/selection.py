"""Asset selection: the AssetSelection algebra and the ``--select`` string syntax.

Both resolve to a set of keys against an AssetGraph; resolution is pure. ``status:stale``
(``AssetSelection.status("stale")``) also needs each asset's status, which the runtime
computes from stored history and passes in.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any

from .definitions.keys import AssetKey, coerce_key
from .errors import SelectionError
from .graph import AssetGraph, closest_keys


class AssetSelection(ABC):
    """A set of assets described by keys, groups or tags and their lineage (Dagster's API)."""

    @abstractmethod
    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]: ...

    @property
    def needs_statuses(self) -> bool:
        """True if resolving needs each asset's status (``status:stale``)."""
        return False

    # -- constructors ----------------------------------------------------------------------

    @staticmethod
    def all(include_sources: bool = False) -> AssetSelection:
        return _All(include_sources)

    @staticmethod
    def assets(*defs: Any) -> AssetSelection:
        return _Keys(tuple(coerce_key(d) for d in defs))

    @staticmethod
    def keys(*keys: Any) -> AssetSelection:
        return _Keys(tuple(coerce_key(k) for k in keys))

    @staticmethod
    def groups(*names: str) -> AssetSelection:
        return _Groups(tuple(names))

    @staticmethod
    def tag(key: str, value: str | None = None) -> AssetSelection:
        return _Tag(key, value)

    @staticmethod
    def key_prefixes(*prefixes: str | Iterable[str]) -> AssetSelection:
        return _Prefixes(tuple((p,) if isinstance(p, str) else tuple(p) for p in prefixes))

    @staticmethod
    def status(*statuses: str) -> AssetSelection:
        """Materializable assets whose status is one of ``statuses``: ``"stale"``,
        ``"missing"``, ``"failed"``, ``"fresh"``, ``"running"``."""
        unknown = [s for s in statuses if s not in STATUSES]
        if unknown or not statuses:
            raise SelectionError(
                f"Unknown status {', '.join(map(repr, unknown)) or '(none given)'}: "
                f"use {', '.join(STATUSES)}"
            )
        return _Status(tuple(statuses))

    # -- lineage and set algebra -----------------------------------------------------------

    def upstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        return _Lineage(self, "upstream", depth, include_self)

    def downstream(self, depth: int | None = None, include_self: bool = True) -> AssetSelection:
        return _Lineage(self, "downstream", depth, include_self)

    def __or__(self, other: AssetSelection) -> AssetSelection:
        return _Combine(self, other, "|")

    def __and__(self, other: AssetSelection) -> AssetSelection:
        return _Combine(self, other, "&")

    def __sub__(self, other: AssetSelection) -> AssetSelection:
        return _Combine(self, other, "-")


class _All(AssetSelection):
    def __init__(self, include_sources: bool) -> None:
        self.include_sources = include_sources

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        if self.include_sources:
            return set(graph.nodes)
        return {k for k, node in graph.nodes.items() if node.is_executable}


class _Keys(AssetSelection):
    def __init__(self, keys: tuple[AssetKey, ...]) -> None:
        self.keys_ = keys

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        for key in self.keys_:
            if key not in graph:
                raise SelectionError(_unknown("asset", key.to_user_string(), _names(graph)))
        return set(self.keys_)


class _Groups(AssetSelection):
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        groups = graph.groups()
        for name in self.names:
            if name not in groups:
                raise SelectionError(_unknown("group", name, groups))
        return {k for name in self.names for k in groups[name]}


class _Tag(AssetSelection):
    def __init__(self, key: str, value: str | None) -> None:
        self.key, self.value = key, value

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        return {
            k
            for k, node in graph.nodes.items()
            if self.key in node.tags and (self.value is None or node.tags[self.key] == self.value)
        }


class _Prefixes(AssetSelection):
    def __init__(self, prefixes: tuple[tuple[str, ...], ...]) -> None:
        self.prefixes = prefixes

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        return {k for k in graph.nodes for p in self.prefixes if k.path[: len(p)] == p}


STATUSES = ("fresh", "stale", "missing", "failed", "running")


class _Status(AssetSelection):
    def __init__(self, statuses: tuple[str, ...]) -> None:
        self.statuses = statuses

    @property
    def needs_statuses(self) -> bool:
        return True

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        if statuses is None:
            raise SelectionError(
                "status: selections need stored history; resolve them through the Runtime"
            )
        return {
            k
            for k, node in graph.nodes.items()
            if node.is_executable and statuses.get(k) in self.statuses
        }


class _Lineage(AssetSelection):
    def __init__(
        self, base: AssetSelection, direction: str, depth: int | None, include_self: bool
    ) -> None:
        self.base, self.direction, self.depth, self.include_self = (
            base,
            direction,
            depth,
            include_self,
        )

    @property
    def needs_statuses(self) -> bool:
        return self.base.needs_statuses

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        start = self.base.resolve(graph, statuses)
        if self.direction == "upstream":
            found = graph.upstream_closure(start, self.depth)
        else:
            found = graph.downstream_closure(start, self.depth)
        return found if self.include_self else found - start


class _Combine(AssetSelection):
    def __init__(self, left: AssetSelection, right: AssetSelection, op: str) -> None:
        self.left, self.right, self.op = left, right, op

    @property
    def needs_statuses(self) -> bool:
        return self.left.needs_statuses or self.right.needs_statuses

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        a, b = self.left.resolve(graph, statuses), self.right.resolve(graph, statuses)
        if self.op == "|":
            return a | b
        if self.op == "&":
            return a & b
        return a - b


def _names(graph: AssetGraph) -> list[str]:
    return [k.to_user_string() for k in graph.nodes]


def _unknown(what: str, wanted: str, candidates: Iterable[str]) -> str:
    hint = closest_keys(wanted, candidates)
    suggestion = f" Did you mean '{hint[0]}'?" if hint else ""
    return f"No {what} named '{wanted}'.{suggestion}"


_TERM = re.compile(r"^(?P<up>\*|\+*)(?P<body>[^*+]+?)(?P<down>\*|\+*)$")


def parse_selection(text: str) -> AssetSelection:
    """Parse ``--select``: ``key``, ``*key``, ``key*``, ``+key``, ``key++``, ``group:g``,
    ``tag:k=v``, ``status:stale`` (or missing, failed, fresh, running), joined by commas for
    a union."""
    terms = [t.strip() for t in text.split(",") if t.strip()]
    if not terms:
        raise SelectionError(f"Empty selection {text!r}")
    result: AssetSelection | None = None
    for term in terms:
        match = _TERM.match(term)
        if match is None:
            raise SelectionError(
                f"Cannot parse selection term {term!r}: expected key, *key, key*, +key, key+, "
                "group:NAME, tag:KEY=VALUE or status:STATUS"
            )
        base = _parse_body(match["body"])
        selection = base
        up, down = match["up"], match["down"]
        if up:
            selection = selection | base.upstream(None if up == "*" else len(up))
        if down:
            selection = selection | base.downstream(None if down == "*" else len(down))
        result = selection if result is None else result | selection
    assert result is not None
    return result


def _parse_body(body: str) -> AssetSelection:
    if body.startswith("group:"):
        return AssetSelection.groups(body[len("group:") :])
    if body.startswith("tag:"):
        key, _, value = body[len("tag:") :].partition("=")
        return AssetSelection.tag(key, value if _ else None)
    if body.startswith("status:"):
        return AssetSelection.status(body[len("status:") :])
    if body.startswith("key:"):
        body = body[len("key:") :]
    return AssetSelection.keys(AssetKey.from_user_string(body))


def as_selection(selection: str | AssetSelection | Iterable[Any] | None) -> AssetSelection:
    """A string, an AssetSelection, or a list of keys/assets (None: all) as an AssetSelection."""
    if selection is None:
        sel: AssetSelection = AssetSelection.all()
    elif isinstance(selection, AssetSelection):
        sel = selection
    elif isinstance(selection, str):
        sel = parse_selection(selection)
    else:
        sel = AssetSelection.keys(*selection)
    return sel


def resolve_selection(
    selection: str | AssetSelection | Iterable[Any] | None,
    graph: AssetGraph,
    statuses: Mapping[AssetKey, str] | None = None,
) -> set[AssetKey]:
    """Keys selected by a string, an AssetSelection, or a list of keys/assets (None: all).

    A selection that matches nothing is an error, so a typo never runs an empty plan.
    """
    keys = as_selection(selection).resolve(graph, statuses)
    if not keys:
        described = selection if isinstance(selection, str) else "the selection"
        raise SelectionError(f"{described!s} matches no asset")
    return keys
