"""Asset selection: the AssetSelection algebra and the ``--select`` string syntax.

Both resolve to a set of keys against an AssetGraph; resolution is pure. ``status:stale``
(``AssetSelection.status("stale")``) also needs each asset's status, which the runtime
computes from stored history and passes in.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from functools import cached_property
from typing import Any

from .asset_graph import AssetGraph
from .declarations.keys import AssetKey, coerce_key
from .errors import SelectionError
from .suggest import suggestion


class AssetSelection(ABC):
    """A set of assets described by keys, groups or tags and their lineage (Dagster's API)."""

    @property
    def operands(self) -> tuple[AssetSelection, ...]:
        """The selections this one is computed from (none: it reads the graph)."""
        return ()

    @abstractmethod
    def _apply(
        self,
        graph: AssetGraph,
        statuses: Mapping[AssetKey, str] | None,
        operands: list[set[AssetKey]],
    ) -> set[AssetKey]:
        """This node's keys, given its operands' keys (which it must not modify)."""

    def resolve(
        self, graph: AssetGraph, statuses: Mapping[AssetKey, str] | None = None
    ) -> set[AssetKey]:
        """The selected keys. Evaluated from an explicit stack, not by recursion, so a chain of
        thousands of ``|`` (a loop in Python, a long ``--select``) has no depth limit. A shared
        operand (``+key`` uses ``key`` twice) is resolved once, and every result is dropped as
        soon as its last user has it, so a long chain holds no tower of intermediate sets."""
        uses: dict[int, int] = {}  # operand slots naming each node
        stack: list[AssetSelection] = [self]
        while stack:
            for operand in stack.pop().operands:
                uses[id(operand)] = uses.get(id(operand), 0) + 1
                if uses[id(operand)] == 1:
                    stack.append(operand)
        done: dict[int, set[AssetKey]] = {}
        stack = [self]
        while stack:
            node = stack[-1]
            pending = [op for op in node.operands if id(op) not in done]
            if pending:
                stack.extend(reversed(pending))  # the first operand is resolved (and fails) first
                continue
            stack.pop()
            if id(node) in done:  # pushed twice (``s | s``), resolved the first time
                continue
            done[id(node)] = node._apply(graph, statuses, [done[id(op)] for op in node.operands])
            for operand in node.operands:
                uses[id(operand)] -= 1
                if not uses[id(operand)]:
                    del done[id(operand)]
        return done[id(self)]

    @property
    def needs_statuses(self) -> bool:
        """True if resolving needs each asset's status (``status:stale``)."""
        seen: set[int] = set()
        stack: list[AssetSelection] = [self]
        while stack:
            node = stack.pop()
            if isinstance(node, _Status):
                return True
            if id(node) not in seen:
                seen.add(id(node))
                stack.extend(node.operands)
        return False

    # -- constructors ----------------------------------------------------------------------

    @staticmethod
    def all(include_sources: bool = False) -> AssetSelection:
        return _All(include_sources)

    @staticmethod
    def assets(*defs: Any) -> AssetSelection:
        return _Keys(tuple(_key(d) for d in defs))

    @staticmethod
    def keys(*keys: Any) -> AssetSelection:
        return _Keys(tuple(_key(k) for k in keys))

    @staticmethod
    def groups(*names: str) -> AssetSelection:
        return _Groups(tuple(names))

    @staticmethod
    def tag(key: str, value: str | None = None) -> AssetSelection:
        """Assets tagged ``key`` (with ``value``, if given: ``""`` is the empty value, as in
        Dagster's ``tag:key=``). An empty key can match nothing, so it is an error."""
        if not isinstance(key, str) or not key or not isinstance(value, str | None):
            written = f"tag:{key}" if value is None else f"tag:{key}={value}"
            problem = "the tag key is empty" if key == "" else "tag keys and values are strings"
            raise SelectionError(
                f"Cannot select {written!r}: {problem}; expected tag:KEY or tag:KEY=VALUE"
            )
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
        return _Combine("|", (self, other)) if isinstance(other, AssetSelection) else NotImplemented

    def __and__(self, other: AssetSelection) -> AssetSelection:
        return _Combine("&", (self, other)) if isinstance(other, AssetSelection) else NotImplemented

    def __sub__(self, other: AssetSelection) -> AssetSelection:
        return _Combine("-", (self, other)) if isinstance(other, AssetSelection) else NotImplemented


def _key(value: Any) -> AssetKey:
    """An AssetKey, or a SelectionError naming the value (never a bare ValueError)."""
    try:
        return coerce_key(value)
    except (TypeError, ValueError) as exc:
        raise SelectionError(f"invalid asset key {value!r}: {exc}") from None


Operands = list[set[AssetKey]]
Statuses = Mapping[AssetKey, str] | None


class _All(AssetSelection):
    def __init__(self, include_sources: bool) -> None:
        self.include_sources = include_sources

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
        if self.include_sources:
            return set(graph.nodes)
        return {k for k, node in graph.nodes.items() if node.is_executable}


class _Keys(AssetSelection):
    def __init__(self, keys: tuple[AssetKey, ...]) -> None:
        self.keys_ = keys

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
        for key in self.keys_:
            if key not in graph:
                raise SelectionError(_unknown("asset", key.to_user_string(), _names(graph)))
        return set(self.keys_)


class _Groups(AssetSelection):
    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
        groups = graph.groups()
        for name in self.names:
            if name not in groups:
                raise SelectionError(_unknown("group", name, groups))
        return {k for name in self.names for k in groups[name]}


class _Tag(AssetSelection):
    def __init__(self, key: str, value: str | None) -> None:
        self.key, self.value = key, value

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
        return {
            k
            for k, node in graph.nodes.items()
            if self.key in node.tags and (self.value is None or node.tags[self.key] == self.value)
        }


class _Prefixes(AssetSelection):
    def __init__(self, prefixes: tuple[tuple[str, ...], ...]) -> None:
        self.prefixes = prefixes

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
        return {k for k in graph.nodes for p in self.prefixes if k.path[: len(p)] == p}


STATUSES = ("fresh", "stale", "missing", "failed", "running")


class _Status(AssetSelection):
    def __init__(self, statuses: tuple[str, ...]) -> None:
        self.statuses = statuses

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
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
        self.base = base
        self.direction, self.depth, self.include_self = direction, depth, include_self

    @property
    def operands(self) -> tuple[AssetSelection, ...]:
        return (self.base,)

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
        (start,) = operands
        if self.direction == "upstream":
            found = graph.upstream_closure(start, self.depth)
        else:
            found = graph.downstream_closure(start, self.depth)
        return found if self.include_self else found - start


class _Combine(AssetSelection):
    """``|``, ``&`` or ``-`` over any number of operands, left to right: the parser makes one
    node for a whole comma-separated list."""

    def __init__(self, op: str, given: tuple[AssetSelection, ...]) -> None:
        self.op, self.given = op, given

    @cached_property
    def operands(self) -> tuple[AssetSelection, ...]:
        """``given``, with a first operand of the same op spliced in, all the way down: ``a | b
        | c ...`` built in a loop is one node of n operands, resolved into one set (found in
        O(n), once; splicing in ``__or__`` would copy O(n^2))."""
        node: _Combine = self
        rest: list[AssetSelection] = []  # the later operands, last first
        while True:
            rest.extend(reversed(node.given[1:]))
            first = node.given[0]
            if not (isinstance(first, _Combine) and first.op == self.op):
                return (first, *reversed(rest))
            node = first

    def _apply(self, graph: AssetGraph, statuses: Statuses, operands: Operands) -> set[AssetKey]:
        first, *rest = operands
        result = set(first)
        for other in rest:
            if self.op == "|":
                result |= other
            elif self.op == "&":
                result &= other
            else:
                result -= other
        return result


def _names(graph: AssetGraph) -> list[str]:
    return [k.to_user_string() for k in graph.nodes]


def _unknown(what: str, wanted: str, candidates: Iterable[str]) -> str:
    return f"No {what} named '{wanted}'{suggestion(wanted, candidates)}"


_TERM = re.compile(r"^(?P<up>\*|\+*)(?P<body>[^*+]+?)(?P<down>\*|\+*)$")


def parse_selection(text: str) -> AssetSelection:
    """Parse ``--select``: ``*`` (every asset, as in Dagster), ``key``, ``*key``, ``key*``,
    ``+key``, ``key++``, ``group:g``, ``tag:k=v``, ``status:stale`` (or missing, failed, fresh,
    running), joined by commas for a union."""
    terms = [t.strip() for t in text.split(",") if t.strip()]
    if not terms:
        raise SelectionError(f"Empty selection {text!r}")
    parts: list[AssetSelection] = []
    for term in terms:
        if term == "*":
            parts.append(AssetSelection.all())
            continue
        match = _TERM.match(term)
        if match is None:
            raise SelectionError(
                f"Cannot parse selection term {term!r}: expected *, key, *key, key*, +key, key+, "
                "group:NAME, tag:KEY=VALUE or status:STATUS"
            )
        base = _parse_body(match["body"])
        parts.append(base)
        up, down = match["up"], match["down"]
        if up:
            parts.append(base.upstream(None if up == "*" else len(up)))
        if down:
            parts.append(base.downstream(None if down == "*" else len(down)))
    return parts[0] if len(parts) == 1 else _Combine("|", tuple(parts))


def _parse_body(body: str) -> AssetSelection:
    if body.startswith("group:"):
        return AssetSelection.groups(body[len("group:") :])
    if body.startswith("tag:"):
        key, equals, value = body[len("tag:") :].partition("=")
        return AssetSelection.tag(key, value if equals else None)
    if body.startswith("status:"):
        return AssetSelection.status(body[len("status:") :])
    return AssetSelection.keys(body.removeprefix("key:"))


def as_selection(selection: str | AssetSelection | Iterable[Any] | None) -> AssetSelection:
    """A string, an AssetSelection, or a list of keys/assets (None: all) as an AssetSelection."""
    if selection is None:
        return AssetSelection.all()
    if isinstance(selection, AssetSelection):
        return selection
    if isinstance(selection, str):
        return parse_selection(selection)
    if isinstance(selection, Iterable) and not isinstance(selection, bytes | bytearray):
        return AssetSelection.keys(*selection)
    raise SelectionError(
        "selection must be a string (--select syntax), an AssetSelection, or a list of asset "
        f"keys or assets; got {type(selection).__name__}"
    )


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
