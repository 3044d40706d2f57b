"""Declarative automation: Dagster's ``AutomationCondition``, evaluated as a pure function.

A condition is a tree. ``evaluate`` walks it for each asset that could have changed, per
partition, over a snapshot (``AutomationView``) and the previous evaluation's
``ConditionState``: it returns what to request, why (a tree of labels, true or false), and
the states to store for next time. It does no I/O and reads no clock: the runtime builds
the view from its status cache and calls it when events arrive and at timers.

Each node evaluates a set of *candidate* partitions (``None`` stands for an unpartitioned
asset) and returns the subset it holds for; ``&`` narrows the candidates child by child, as
Dagster's does, so ``in_latest_time_window()`` first leaves one partition to the rest.
Stateful nodes (``since``, ``newly_true``, ``newly_updated``, ``code_version_changed``)
remember per partition, keyed by their path in the tree; partitions that were not
candidates keep what they remembered.

An unpartitioned asset, the common case, takes a fast path (``_fast``): each node answers
true or false and appends a small trace entry instead of building partition sets and its
outcome; the reason tree is built from the trace (``_rebuild``) only when it is read.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, Self
from weakref import WeakKeyDictionary

from ..declarations.checks import AssetCheckKey
from ..declarations.keys import AssetKey, coerce_key

if TYPE_CHECKING:
    from ..asset_graph import AssetGraph

PartitionKey = str | None
#: What a condition is about: an asset, or an asset check (whose facts are its executions).
EntityKey = AssetKey | AssetCheckKey
Subset = frozenset[PartitionKey]
_EMPTY: Subset = frozenset()
_NONE: Subset = frozenset((None,))  # an unpartitioned asset's only "partition"


class AutomationView(Protocol):
    """The snapshot a condition reads: what the runtime's status cache knows at ``now``.

    Every method taking a key answers for an asset and for an asset check alike: a check's
    partitions are its own (``partitions_def``, its asset's, or None), its upstreams are its
    asset and its additional deps, its "materialization" is its latest evaluation (an event
    id: None if it never ran), in progress while a run with it has not finished, failed if
    its latest execution errored; its code version is None. ``check_passed`` is about checks
    only."""

    @property
    def now(self) -> datetime:
        """Aware: the instant of this evaluation."""
        ...

    @property
    def graph(self) -> AssetGraph: ...

    def partition_keys(self, key: EntityKey) -> Sequence[str] | None:
        """The asset's partitions now, in order (the last is the latest); None: unpartitioned."""
        ...

    def upstream_partition_keys(
        self, key: EntityKey, partition_key: PartitionKey, upstream: AssetKey
    ) -> Collection[PartitionKey]:
        """Which partitions of ``upstream`` the partition of ``key`` reads (``{None}`` for an
        unpartitioned upstream): the partition mapping, applied."""
        ...

    def latest_materialization_id(self, key: EntityKey, partition_key: PartitionKey) -> int | None:
        """The event id of the latest materialization; None: missing. An external asset
        (``AssetSpec``) should report a constant id (0) unless it may really be missing."""
        ...

    def run_in_progress(self, key: EntityKey, partition_key: PartitionKey) -> bool:
        """Part of a run that has not finished (queued or started), a backfill's included."""
        ...

    def backfill_in_progress(self, key: EntityKey, partition_key: PartitionKey) -> bool:
        """Part of a backfill's run (``RunOrigin.BACKFILL``) that has not finished."""
        ...

    def execution_failed(self, key: EntityKey, partition_key: PartitionKey) -> bool:
        """Its latest attempt failed (and nothing materialized it since)."""
        ...

    def code_version(self, key: EntityKey) -> str | None:
        """The asset's current code version (declared or computed)."""
        ...

    def check_passed(self, key: EntityKey, partition_key: PartitionKey) -> bool | None:
        """Whether the check's latest evaluation passed, if it was made after its asset's
        (partition's) latest materialization (or the asset has none, e.g. an external asset).
        None: no such evaluation (never, only before that materialization, or its execution
        raised or failed since). None for an asset."""
        ...


@dataclass
class ConditionState:
    """What one asset's condition remembers between evaluations (JSON-able via ``to_json``).

    ``memory``: per node path, per partition (``""`` for an unpartitioned asset), a value;
    ``requested``: the partitions requested by the previous evaluation (``newly_requested``);
    ``fingerprint``: the condition's repr, so a changed condition starts afresh."""

    evaluated_at: float | None = None
    fingerprint: str = ""
    requested: frozenset[PartitionKey] = frozenset()
    memory: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "evaluated_at": self.evaluated_at,
            "fingerprint": self.fingerprint,
            "requested": sorted(_to_str(p) for p in self.requested),
            "memory": self.memory,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConditionState:
        return cls(
            evaluated_at=data.get("evaluated_at"),
            fingerprint=data.get("fingerprint", ""),
            requested=frozenset(_from_str(p) for p in data.get("requested", ())),
            memory={k: dict(v) for k, v in data.get("memory", {}).items()},
        )


def _to_str(partition: PartitionKey) -> str:
    return "" if partition is None else partition


def _from_str(text: str) -> PartitionKey:
    return None if text == "" else text


@dataclass(slots=True)
class ConditionEvaluation:
    """One node's outcome: its label, the candidates it saw and those it held for. Treat it
    as immutable: reason trees share the outcomes of leaves."""

    label: str
    candidates: Subset
    true: Subset
    children: tuple[ConditionEvaluation, ...] = ()
    detail: str = ""

    @property
    def is_true(self) -> bool:
        return bool(self.true)

    def lines(self, out: list[str], depth: int = 0) -> None:
        """Append the tree's lines to ``out``: each node's label, detail and truth."""
        mark = "true" if self.true else "false"
        if len(self.candidates) > 1 or (self.candidates and None not in self.candidates):
            mark += f" ({len(self.true)}/{len(self.candidates)} partitions)"
        detail = f" ({self.detail})" if self.detail else ""
        out.append(f"{'  ' * depth}{self.label}{detail}: {mark}")
        for child in self.children:
            child.lines(out, depth + 1)

    def reason(self) -> str:
        """The tree as indented text: each node's label, detail and truth."""
        out: list[str] = []
        self.lines(out)
        return "\n".join(out)


#: An upstream as a node reads it: its key, its user string (which names it in reasons and
#: memory paths), and whether it is partitioned (if not, it has the one partition None).
Dep = tuple[AssetKey, str, bool]


@dataclass(frozen=True, slots=True)
class _AssetFacts:
    """What the graph says about one asset, as its nodes need it: its upstreams (once each,
    in order) and its ``time_window_for_partition_key`` (None: not time-partitioned)."""

    deps: tuple[Dep, ...]
    windows: Any


class _GraphFacts:
    """``_AssetFacts`` per asset, and the deps ``allow``/``ignore`` leave, computed on first
    use and kept for the graph's lifetime: an AssetGraph does not change once built (a reload
    builds a new one), so no evaluation needs to look them up again."""

    __slots__ = ("assets", "checks", "filtered")

    def __init__(self) -> None:
        self.assets: dict[EntityKey, _AssetFacts] = {}
        self.filtered: dict[tuple[DepsCondition, EntityKey], tuple[Dep, ...]] = {}
        self.checks: dict[tuple[bool, EntityKey], tuple[tuple[AssetCheckKey, str], ...]] = {}

    def asset(self, graph: AssetGraph, key: EntityKey) -> _AssetFacts:
        facts = self.assets.get(key)
        if facts is None:
            ups = dict.fromkeys(upstream_of(graph, key))
            definition = getattr(node_of(graph, key), "partitions_def", None)
            facts = self.assets[key] = _AssetFacts(
                tuple((u, u.to_user_string(), _partitioned(graph, u)) for u in ups),
                getattr(definition, "time_window_for_partition_key", None),
            )
        return facts

    def deps(self, graph: AssetGraph, condition: DepsCondition, key: EntityKey) -> tuple[Dep, ...]:
        """The deps of ``key`` that ``condition`` counts, its allow/ignore resolved."""
        deps = self.asset(graph, key).deps
        filtered = self.filtered.get((condition, key))
        if filtered is None:
            counted = condition._deps(graph, key)
            filtered = self.filtered[(condition, key)] = tuple(d for d in deps if d[0] in counted)
        return filtered

    def checks_of(
        self, graph: AssetGraph, key: EntityKey, blocking_only: bool
    ) -> tuple[tuple[AssetCheckKey, str], ...]:
        """The checks of asset ``key`` (only the blocking ones if ``blocking_only``), sorted,
        with their user strings."""
        found = self.checks.get((blocking_only, key))
        if found is None:
            keys = graph.checks_by_asset.get(key, ()) if isinstance(key, AssetKey) else ()
            if blocking_only:
                keys = [k for k in keys if getattr(graph.checks[k], "blocking", False)]
            found = self.checks[(blocking_only, key)] = tuple(
                (k, k.to_user_string()) for k in sorted(keys)
            )
        return found


def _partitioned(graph: AssetGraph, key: AssetKey) -> bool:
    return getattr(graph.nodes.get(key), "partitions_def", None) is not None


def node_of(graph: AssetGraph, key: EntityKey) -> Any:
    """The definition of an asset or an asset check (None: not in the graph)."""
    if isinstance(key, AssetCheckKey):
        return graph.checks.get(key)
    return graph.nodes.get(key)


def upstream_of(graph: AssetGraph, key: EntityKey) -> tuple[AssetKey, ...]:
    """An asset's upstreams; a check's: its asset, its inputs and its additional deps."""
    if not isinstance(key, AssetCheckKey):
        return graph.upstream.get(key, ())
    check = graph.checks.get(key)
    if check is None:
        return (key.asset_key,)
    found = getattr(check, "upstream_keys", None)
    if found is None:
        found = (check.asset_key, *getattr(check, "additional_deps", ()))
    return tuple(dict.fromkeys(found))


_GRAPH_FACTS: WeakKeyDictionary[AssetGraph, _GraphFacts] = WeakKeyDictionary()


def _graph_facts(graph: AssetGraph) -> _GraphFacts:
    try:
        facts = _GRAPH_FACTS.get(graph)
        if facts is None:
            facts = _GRAPH_FACTS[graph] = _GraphFacts()
    except TypeError:  # a graph that cannot be weakly referenced: facts for this tick only
        facts = _GraphFacts()
    return facts


class _Tick:
    """What one ``evaluate`` call shares across its assets: the previous states, this tick's
    requests, the graph's facts, and the cron ticks at ``now`` (computed once per tick, not
    once per asset)."""

    __slots__ = ("_ticks", "dep_outcomes", "facts", "graph", "prev_states", "requested_now")

    def __init__(
        self,
        view: AutomationView,
        prev_states: Mapping[EntityKey, ConditionState],
        requested_now: Mapping[EntityKey, Subset],
    ) -> None:
        self.graph = view.graph
        self.facts = _graph_facts(self.graph)
        self.prev_states = prev_states
        self.requested_now = requested_now
        self._ticks: dict[tuple[str, str], datetime] = {}
        # A dep's outcome under a condition that reads nothing of the downstream asset (see
        # ``AutomationCondition.same_for_every_reader``), shared by every asset reading it.
        self.dep_outcomes: dict[tuple[int, str], ConditionEvaluation] = {}

    def asset(self, key: EntityKey) -> _AssetFacts:
        return self.facts.asset(self.graph, key)

    def deps(self, condition: DepsCondition, key: EntityKey) -> tuple[Dep, ...]:
        return self.facts.deps(self.graph, condition, key)

    def latest_tick(self, schedule: str, timezone: str, now: datetime) -> datetime:
        """``latest_tick`` at the tick's ``now``: cron parsing is the costly part of it."""
        tick = self._ticks.get((schedule, timezone))
        if tick is None:
            tick = self._ticks[(schedule, timezone)] = latest_tick(schedule, timezone, now)
        return tick


class _Context:
    """One evaluation of one asset: the view, the old and new memory, this tick's requests."""

    __slots__ = (
        "asset",
        "key",
        "new",
        "old",
        "prev_states",
        "requested_now",
        "state",
        "tick",
        "trace",
        "view",
    )

    def __init__(
        self,
        view: AutomationView,
        key: EntityKey,
        state: ConditionState | None,
        tick: _Tick,
    ) -> None:
        self.view = view
        self.key = key
        self.state = state
        self.old: dict[str, dict[str, Any]] = state.memory if state else {}
        self.new: dict[str, dict[str, Any]] = {}
        self.tick = tick
        self.asset = tick.asset(key)  # the graph's facts about ``key``, at hand for its nodes
        self.prev_states = tick.prev_states
        self.requested_now = tick.requested_now
        self.trace: list[Any] = []  # the fast path's entries (see ``AutomationCondition._fast``)

    def remember(self, path: str, candidates: Subset, values: Mapping[PartitionKey, Any]) -> None:
        """Replace the memory of ``candidates`` at ``path``; keep the other partitions'."""
        old = self.old.get(path)
        kept = {p: v for p, v in old.items() if _from_str(p) not in candidates} if old else {}
        kept.update((_to_str(p), v) for p, v in values.items())
        if kept:
            self.new[path] = kept

    def remember_unpartitioned(self, path: str, value: Any) -> None:
        """``remember(path, {None}, {None: value})`` (nothing for a None value), without the
        comprehensions: the common case of an unpartitioned asset."""
        old = self.old.get(path)
        if old is not None and len(old) == 1 and value is not None and old.get("") == value:
            self.new[path] = old  # unchanged: the same dict (never mutated once stored)
            return
        kept = {}
        if old and (len(old) > 1 or "" not in old):  # it was partitioned once
            kept = {p: v for p, v in old.items() if p != ""}
        if value is not None:
            kept[""] = value
        if kept:
            self.new[path] = kept

    def facts(self, key: EntityKey) -> _AssetFacts:
        return self.asset if key is self.key else self.tick.asset(key)

    def recalled(self, path: str) -> dict[str, Any]:
        return self.old.get(path, _NO_MEMORY)


_NO_MEMORY: dict[str, Any] = {}  # read-only: what ``recalled`` returns for a new path


def _rebuilt(node: AutomationCondition, trace: Iterator[Any]) -> ConditionEvaluation:
    """``node``'s outcome from its entries in a fast-path trace."""
    entry = next(trace)
    return entry if isinstance(entry, ConditionEvaluation) else node._rebuild(entry, trace)


def _rendered(node: AutomationCondition, trace: Iterator[Any], out: list[str], depth: int) -> None:
    """``_rebuilt(node, trace).lines(out, depth)``, building no outcome."""
    entry = next(trace)
    if isinstance(entry, ConditionEvaluation):
        entry.lines(out, depth)
    else:
        node._render(entry, trace, out, depth, "")


class AutomationCondition(ABC):
    """A condition on an asset (partition): Dagster's operands, operators and presets."""

    _label: str | None = None

    # -- the tree --------------------------------------------------------------------------

    @property
    def label(self) -> str | None:
        return self._label

    @property
    def name(self) -> str:
        """What the reason tree calls this node without a label."""
        return type(self).__name__

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return ()

    @cached_property
    def title(self) -> str:
        """What the reason tree calls this node: its label, else its name. Computed once per
        node, not per asset: a condition does not change once built (``with_label`` and
        ``allow``/``ignore`` make new ones)."""
        return self._label or self.name

    #: Whether this node's outcome on an upstream (under ``any_deps_match``) is the same for
    #: every downstream asset that reads it within a tick: it reads no memory and not the
    #: evaluated asset's state, only the view, the previous states and this tick's requests
    #: (an upstream's requests are final before any of its downstream assets is evaluated).
    reads_only_the_upstream: bool = False

    @cached_property
    def same_for_every_reader(self) -> bool:
        """``reads_only_the_upstream``, for this node and all below it."""
        return self.reads_only_the_upstream and all(c.same_for_every_reader for c in self.children)

    @cached_property
    def matched_keys(self) -> frozenset[AssetKey]:
        """The assets this condition's ``asset_matches`` nodes read (computed once: to tell
        which conditions an asset's change may affect)."""
        own = {self.key} if isinstance(self, EntityMatchesCondition) else set()
        return frozenset(own.union(*(c.matched_keys for c in self.children)))

    @cached_property
    def _unpartitioned_outcomes(self) -> tuple[ConditionEvaluation, ConditionEvaluation]:
        """A leaf's two outcomes over ``_NONE``, false and true, built once per node: the
        reason trees of all unpartitioned assets share them (so no one may change them)."""
        return (
            ConditionEvaluation(self.title, _NONE, _EMPTY),
            ConditionEvaluation(self.title, _NONE, _NONE),
        )

    @abstractmethod
    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        """The node's outcome (labelled ``self.title``) over ``candidates`` of ``key``; its
        memory, if any, at ``path``. ``_fast`` answers for ``_NONE`` where a node has one."""

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        """Whether the node holds for unpartitioned ``key`` (the candidates ``_NONE``). It
        appends to ``ctx.trace`` its entry (what ``_rebuild`` needs), then its children's, in
        order. This default traces the general outcome whole: an outcome entry stands for a
        node and everything below it."""
        outcome = self._evaluate(ctx, key, _NONE, path)
        ctx.trace.append(outcome)
        return bool(outcome.true)

    def _rebuild(self, entry: Any, trace: Iterator[Any]) -> ConditionEvaluation:
        """The outcome ``_fast`` traced as ``entry`` (here: its truth), with its children's
        from the rest of ``trace``."""
        children = tuple(_rebuilt(c, trace) for c in self.children)
        if not children:
            return self._unpartitioned_outcomes[entry]
        return ConditionEvaluation(self.title, _NONE, _NONE if entry else _EMPTY, children)

    def _render(
        self, entry: Any, trace: Iterator[Any], out: list[str], depth: int, prefix: str
    ) -> None:
        """``_rebuild(entry, trace).lines(out, depth)`` (its label after ``prefix``), directly:
        the runtime renders every reason it records."""
        out.append(f"{'  ' * depth}{prefix}{self.title}: {'true' if entry else 'false'}")
        for child in self.children:
            _rendered(child, trace, out, depth + 1)

    def _run(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        """The outcome over any candidates: over ``_NONE``, the fast path's, rebuilt."""
        if candidates is not _NONE:
            return self._evaluate(ctx, key, candidates, path)
        outer, ctx.trace = ctx.trace, []
        try:
            self._fast(ctx, key, path)
            return _rebuilt(self, iter(ctx.trace))
        finally:
            ctx.trace = outer

    def with_label(self, label: str | None) -> Self:
        """The same condition, named ``label`` in reason trees (Dagster's ``with_label``)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        for name in list(clone.__dict__):  # cached properties were computed for the old label
            if isinstance(getattr(type(clone), name, None), cached_property):
                del clone.__dict__[name]
        clone._label = label
        return clone

    #: Whether ``replace`` matches this node by its name, as well as by its label (Dagster's
    #: boolean operators match by label only: their names are "AND", "OR", "NOT").
    replaced_by_name: bool = True

    def replace(
        self, old: AutomationCondition | str, new: AutomationCondition
    ) -> AutomationCondition:
        """This condition with every node equal to ``old`` (a condition, or a label or name)
        replaced by ``new``, at any depth (Dagster's ``replace``); the nodes above a replaced
        one are copies, keeping their labels."""
        (new,) = _check((new,))
        if isinstance(old, str):
            if old == self._label or (self.replaced_by_name and old == self.name):
                return new
        elif _same(old, self):
            return new
        children = tuple(c.replace(old, new) for c in self.children)
        if all(a is b for a, b in zip(children, self.children, strict=True)):
            return self
        clone = self._with_children(children)
        clone._label = self._label
        return clone

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        """A node like this one (unlabelled) over ``children``: what ``replace`` builds."""
        raise TypeError(f"{type(self).__name__} has no children to replace")

    def __repr__(self) -> str:
        inner = ", ".join(repr(c) for c in self.children)
        own = self._params()
        args = ", ".join(a for a in (own, inner) if a)
        label = f"@{self._label}" if self._label else ""
        return f"{self.name}({args}){label}"

    def _params(self) -> str:
        return ""

    def __and__(self, other: AutomationCondition) -> AutomationCondition:
        left = self.operands if isinstance(self, AndCondition) and not self._label else (self,)
        right = other.operands if isinstance(other, AndCondition) and not other._label else (other,)
        return AndCondition((*left, *_check(right)))

    def __or__(self, other: AutomationCondition) -> AutomationCondition:
        left = self.operands if isinstance(self, OrCondition) and not self._label else (self,)
        right = other.operands if isinstance(other, OrCondition) and not other._label else (other,)
        return OrCondition((*left, *_check(right)))

    def __invert__(self) -> AutomationCondition:
        return NotCondition(self)

    def since(self, reset_condition: AutomationCondition) -> AutomationCondition:
        """True once this became true, until ``reset_condition`` becomes true."""
        return SinceCondition(self, *_check((reset_condition,)))

    def since_last_handled(self) -> AutomationCondition:
        """Since the asset was last requested or updated (or first evaluated)."""
        return self.since(_handled())

    def newly_true(self) -> AutomationCondition:
        """True on the evaluation where this became true, not after."""
        return NewlyTrueCondition(self)

    @staticmethod
    def asset_matches(key: Any, condition: AutomationCondition) -> AutomationCondition:
        """True where ``condition`` holds for the asset ``key`` (Dagster's ``asset_matches``):
        a partition of the target, where it holds for a partition of ``key`` it reads."""
        (operand,) = _check((condition,))
        return EntityMatchesCondition(coerce_key(key), operand)

    # -- operands --------------------------------------------------------------------------

    @staticmethod
    def missing() -> AutomationCondition:
        return MissingCondition()

    @staticmethod
    def run_in_progress() -> AutomationCondition:
        """Part of a run that has not finished: queued or started, a backfill's included."""
        return RunInProgressCondition()

    @staticmethod
    def backfill_in_progress() -> AutomationCondition:
        """Part of a backfill (a run started by ``backfill``) that has not finished."""
        return BackfillInProgressCondition()

    @staticmethod
    def in_progress() -> AutomationCondition:
        """``(run_in_progress() | backfill_in_progress()).with_label("in_progress")``."""
        return InProgressCondition()

    @staticmethod
    def check_passed() -> AutomationCondition:
        """An asset check whose latest evaluation, against its asset's latest
        materialization, passed."""
        return CheckResultCondition(passed=True)

    @staticmethod
    def check_failed() -> AutomationCondition:
        """An asset check whose latest evaluation, against its asset's latest
        materialization, failed (not raised: that is ``execution_failed``)."""
        return CheckResultCondition(passed=False)

    @staticmethod
    def execution_failed() -> AutomationCondition:
        return ExecutionFailedCondition()

    @staticmethod
    def newly_updated() -> AutomationCondition:
        return NewlyUpdatedCondition()

    @staticmethod
    def newly_requested() -> AutomationCondition:
        return NewlyRequestedCondition()

    @staticmethod
    def will_be_requested() -> AutomationCondition:
        return WillBeRequestedCondition()

    @staticmethod
    def code_version_changed() -> AutomationCondition:
        return CodeVersionChangedCondition()

    @staticmethod
    def initial_evaluation() -> AutomationCondition:
        return InitialEvaluationCondition()

    @staticmethod
    def cron_tick_passed(cron_schedule: str, cron_timezone: str = "UTC") -> AutomationCondition:
        return CronTickPassedCondition(cron_schedule, cron_timezone)

    @staticmethod
    def in_latest_time_window(lookback_delta: timedelta | None = None) -> AutomationCondition:
        return InLatestTimeWindowCondition(lookback_delta)

    @staticmethod
    def newly_missing() -> AutomationCondition:
        return MissingCondition().newly_true().with_label("newly_missing")

    # -- dependencies ----------------------------------------------------------------------

    @staticmethod
    def any_deps_match(condition: AutomationCondition) -> DepsCondition:
        return DepsCondition(*_check((condition,)), require_all=False)

    @staticmethod
    def all_deps_match(condition: AutomationCondition) -> DepsCondition:
        return DepsCondition(*_check((condition,)), require_all=True)

    @staticmethod
    def any_checks_match(
        condition: AutomationCondition, blocking_only: bool = False
    ) -> AutomationCondition:
        """True where the condition holds for at least one of the asset's checks."""
        (operand,) = _check((condition,))
        return ChecksCondition(operand, require_all=False, blocking_only=blocking_only)

    @staticmethod
    def all_checks_match(
        condition: AutomationCondition, blocking_only: bool = False
    ) -> AutomationCondition:
        """True where the condition holds for every one of the asset's checks (true if it
        has none)."""
        (operand,) = _check((condition,))
        return ChecksCondition(operand, require_all=True, blocking_only=blocking_only)

    @staticmethod
    def any_deps_updated() -> DepsCondition:
        updated = (NewlyUpdatedCondition() | WillBeRequestedCondition()).with_label(
            "newly_updated or will_be_requested"
        )
        return AutomationCondition.any_deps_match(updated).with_label("any_deps_updated")

    @staticmethod
    def any_deps_missing() -> DepsCondition:
        missing = (MissingCondition() & ~WillBeRequestedCondition()).with_label(
            "missing and not will_be_requested"
        )
        return AutomationCondition.any_deps_match(missing).with_label("any_deps_missing")

    @staticmethod
    def any_deps_in_progress() -> DepsCondition:
        return AutomationCondition.any_deps_match(InProgressCondition()).with_label(
            "any_deps_in_progress"
        )

    @staticmethod
    def all_deps_blocking_checks_passed() -> DepsCondition:
        """Every upstream's blocking checks passed against its latest materialization, or will
        be requested this tick (so a run can hold a parent, its checks and this asset)."""
        passed = CheckResultCondition(passed=True) | WillBeRequestedCondition()
        blocking = AutomationCondition.all_checks_match(passed, blocking_only=True)
        return AutomationCondition.all_deps_match(
            blocking.with_label("all_blocking_checks_passed")
        ).with_label("all_deps_blocking_checks_passed")

    @staticmethod
    def all_deps_updated_since_cron(
        cron_schedule: str, cron_timezone: str = "UTC"
    ) -> DepsCondition:
        tick = CronTickPassedCondition(cron_schedule, cron_timezone)
        updated = (NewlyUpdatedCondition().since(tick) | WillBeRequestedCondition()).with_label(
            "updated since cron tick or will_be_requested"
        )
        return AutomationCondition.all_deps_match(updated).with_label(
            f"all_deps_updated_since_cron({cron_schedule}, {cron_timezone})"
        )

    # -- presets ---------------------------------------------------------------------------

    @staticmethod
    def eager() -> AndCondition:
        """Request when an upstream updates (or the asset goes missing), once all upstreams
        are present and none is running, and the asset itself is not running."""
        updated = AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()
        return AndCondition(
            (
                InLatestTimeWindowCondition(None),
                updated.since_last_handled(),
                ~AutomationCondition.any_deps_missing(),
                ~AutomationCondition.any_deps_in_progress(),
                ~InProgressCondition(),
            )
        ).with_label("eager")

    @staticmethod
    def on_cron(cron_schedule: str, cron_timezone: str = "UTC") -> AndCondition:
        """Request once per cron tick, after every upstream has updated since that tick."""
        return AndCondition(
            (
                InLatestTimeWindowCondition(None),
                CronTickPassedCondition(cron_schedule, cron_timezone).since_last_handled(),
                AutomationCondition.all_deps_updated_since_cron(cron_schedule, cron_timezone),
            )
        ).with_label(f"on_cron({cron_schedule}, {cron_timezone})")

    @staticmethod
    def on_missing() -> AndCondition:
        """Request a partition that goes missing (not those missing when first evaluated),
        once its upstreams are present."""
        return AndCondition(
            (
                InLatestTimeWindowCondition(None),
                AutomationCondition.newly_missing().since_last_handled(),
                ~AutomationCondition.any_deps_missing(),
            )
        ).with_label("on_missing")


def _check(conditions: Iterable[Any]) -> tuple[AutomationCondition, ...]:
    out = tuple(conditions)
    for c in out:
        if not isinstance(c, AutomationCondition):
            raise TypeError(f"expected an AutomationCondition, got {type(c).__name__}: {c!r}")
    return out


def _same(a: AutomationCondition, b: AutomationCondition) -> bool:
    """Whether two conditions are the same tree (Dagster compares conditions as records): their
    reprs name every node, parameter and label."""
    return a is b or repr(a) == repr(b)


def _handled() -> AutomationCondition:
    return (
        NewlyRequestedCondition() | NewlyUpdatedCondition() | InitialEvaluationCondition()
    ).with_label("handled")


# -- operands ------------------------------------------------------------------------------


class _Operand(AutomationCondition):
    """A leaf: holds per partition by a predicate over the view."""

    @abstractmethod
    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        """Whether the leaf holds for one partition of ``key``."""

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        holds = self.holds(ctx, key, None)
        ctx.trace.append(holds)
        return holds

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        true = frozenset(p for p in candidates if self.holds(ctx, key, p)) if candidates else _EMPTY
        return ConditionEvaluation(self.title, candidates, true)


class MissingCondition(_Operand):
    reads_only_the_upstream = True
    name = "missing"

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        return ctx.view.latest_materialization_id(key, partition) is None


class RunInProgressCondition(_Operand):
    reads_only_the_upstream = True
    name = "run_in_progress"

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        return ctx.view.run_in_progress(key, partition)


class BackfillInProgressCondition(_Operand):
    reads_only_the_upstream = True
    name = "backfill_in_progress"

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        return ctx.view.backfill_in_progress(key, partition)


class CheckResultCondition(_Operand):
    """Dagster's ``check_passed`` / ``check_failed``: false for an asset."""

    reads_only_the_upstream = True

    def __init__(self, passed: bool) -> None:
        self.passed = passed

    @property
    def name(self) -> str:
        return "check_passed" if self.passed else "check_failed"

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        return ctx.view.check_passed(key, partition) is self.passed


class ExecutionFailedCondition(_Operand):
    reads_only_the_upstream = True
    name = "execution_failed"

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        return ctx.view.execution_failed(key, partition)


class NewlyRequestedCondition(_Operand):
    """Requested by the previous evaluation of that asset's condition."""

    name = "newly_requested"
    reads_only_the_upstream = True  # on an upstream: the previous state of that upstream

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        state = ctx.state if key is ctx.key or key == ctx.key else ctx.prev_states.get(key)
        return state is not None and partition in state.requested


class WillBeRequestedCondition(_Operand):
    """Requested by this evaluation (an upstream evaluated before this asset)."""

    name = "will_be_requested"
    reads_only_the_upstream = True

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        return partition in ctx.requested_now.get(key, _EMPTY)


class InitialEvaluationCondition(_Operand):
    name = "initial_evaluation"

    def holds(self, ctx: _Context, key: EntityKey, partition: PartitionKey) -> bool:
        return ctx.state is None


class NewlyUpdatedCondition(AutomationCondition):
    """Materialized since the previous evaluation (false on the first: nothing to compare)."""

    name = "newly_updated"

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        id_ = ctx.view.latest_materialization_id(key, None)
        updated = id_ is not None and ctx.state is not None and ctx.recalled(path).get("") != id_
        ctx.remember_unpartitioned(path, id_)
        ctx.trace.append(updated)
        return updated

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        seen = ctx.recalled(path)
        first = ctx.state is None
        ids = {p: ctx.view.latest_materialization_id(key, p) for p in candidates}
        true = frozenset(
            p for p, i in ids.items() if i is not None and not first and seen.get(_to_str(p)) != i
        )
        ctx.remember(path, candidates, {p: i for p, i in ids.items() if i is not None})
        return ConditionEvaluation(self.title, candidates, true)


class CodeVersionChangedCondition(AutomationCondition):
    name = "code_version_changed"

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        version = ctx.view.code_version(key)
        before = ctx.recalled(path).get("")
        changed = ctx.state is not None and path in ctx.old and before != version
        new = {p: v for p, v in ctx.old.get(path, {}).items()}
        new[""] = version
        ctx.new[path] = new
        return ConditionEvaluation(self.title, candidates, candidates if changed else _EMPTY)


class CronTickPassedCondition(AutomationCondition):
    """A tick of the schedule fell after the previous evaluation, up to now."""

    def __init__(self, cron_schedule: str, cron_timezone: str = "UTC") -> None:
        from .freshness import zone

        zone(cron_timezone, "cron_tick_passed")  # a bad name fails where the condition is declared
        latest_tick(cron_schedule, cron_timezone, datetime.now().astimezone())
        self.cron_schedule = cron_schedule
        self.cron_timezone = cron_timezone

    @property
    def name(self) -> str:
        return f"cron_tick_passed({self.cron_schedule}, {self.cron_timezone})"

    def _params(self) -> str:
        return f"{self.cron_schedule!r}, {self.cron_timezone!r}"

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        before = ctx.state.evaluated_at if ctx.state else None
        tick = ctx.tick.latest_tick(self.cron_schedule, self.cron_timezone, ctx.view.now)
        passed = before is not None and tick.timestamp() > before
        detail = f"tick {tick.isoformat()}" if passed else ""
        return ConditionEvaluation(
            self.title, candidates, candidates if passed else _EMPTY, (), detail
        )


def latest_tick(cron_schedule: str, cron_timezone: str, now: datetime) -> datetime:
    """The last tick at or before ``now``, aware in the schedule's zone (DST: cronsim's wall
    clock). One function, so ``app/automation/cron.py`` can replace it."""
    from cronsim import CronSim, CronSimError

    from .freshness import zone

    local = now.astimezone(zone(cron_timezone, "cron schedule"))
    try:
        # cronsim's reverse walk starts strictly before its start: add a second for "at".
        return next(CronSim(cron_schedule, local + timedelta(seconds=1), reverse=True))
    except CronSimError as exc:
        raise ValueError(f"invalid cron schedule {cron_schedule!r}: {exc}") from None


class InLatestTimeWindowCondition(AutomationCondition):
    """The latest time partition (or those within ``lookback_delta`` of its end); every
    partition of an asset that is not time-partitioned."""

    reads_only_the_upstream = True

    def __init__(self, lookback_delta: timedelta | None = None) -> None:
        self.lookback_delta = lookback_delta

    @property
    def name(self) -> str:
        if self.lookback_delta is None:
            return "in_latest_time_window"
        return f"in_latest_time_window({self.lookback_delta})"

    def _params(self) -> str:
        return "" if self.lookback_delta is None else repr(self.lookback_delta)

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        windows = ctx.facts(key).windows
        keys = ctx.view.partition_keys(key) if windows is not None else None
        if windows is None or not keys:
            if candidates is _NONE:
                return self._unpartitioned_outcomes[True]
            return ConditionEvaluation(self.title, candidates, candidates)
        latest = keys[-1]
        if self.lookback_delta is None:
            true = frozenset(p for p in candidates if p == latest)
        else:
            floor = windows(latest).end - self.lookback_delta
            true = frozenset(p for p in candidates if p is not None and windows(p).end > floor)
        return ConditionEvaluation(self.title, candidates, true, (), f"latest {latest}")


# -- operators -----------------------------------------------------------------------------


class AndCondition(AutomationCondition):
    reads_only_the_upstream = True
    replaced_by_name = False

    def __init__(self, operands: tuple[AutomationCondition, ...]) -> None:
        self.operands = operands
        self.suffixes = _suffixes(len(operands))

    @property
    def name(self) -> str:
        return " and ".join(c.label or c.name for c in self.operands)

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return self.operands

    def without(self, *conditions: AutomationCondition) -> AndCondition:
        """This condition without the operands equal to ``conditions``, keeping its label
        (Dagster's ``without``): each must be an operand, and two operands must remain."""
        operands = self.operands
        for condition in _check(conditions):
            kept = tuple(o for o in operands if not _same(o, condition))
            if len(kept) == len(operands):
                raise ValueError(f"Condition not found in operands: {condition!r}")
            operands = kept
        if len(operands) < 2:
            raise ValueError("Cannot have fewer than 2 operands in an AndAutomationCondition")
        clone = AndCondition(operands)
        clone._label = self._label
        return clone

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        return AndCondition(children)

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        trace = ctx.trace
        at = len(trace)
        trace.append(None)
        holds = True
        for child, suffix in zip(self.operands, self.suffixes, strict=True):
            if holds:
                holds = child._fast(ctx, key, path + suffix)
            else:  # narrowed to no candidate: the rest keep their memory
                trace.append(child._evaluate(ctx, key, _EMPTY, path + suffix))
        trace[at] = holds
        return holds

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        results = []
        remaining = candidates
        for child, suffix in zip(self.operands, self.suffixes, strict=True):
            result = child._evaluate(ctx, key, remaining, path + suffix)
            results.append(result)
            remaining = result.true
        return ConditionEvaluation(self.title, candidates, remaining, tuple(results))


class OrCondition(AutomationCondition):
    reads_only_the_upstream = True
    replaced_by_name = False

    def __init__(self, operands: tuple[AutomationCondition, ...]) -> None:
        self.operands = operands
        self.suffixes = _suffixes(len(operands))

    @property
    def name(self) -> str:
        return " or ".join(c.label or c.name for c in self.operands)

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return self.operands

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        return OrCondition(children)

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        trace = ctx.trace
        at = len(trace)
        trace.append(None)
        holds = False
        for child, suffix in zip(self.operands, self.suffixes, strict=True):
            if child._fast(ctx, key, path + suffix):  # every child runs: they may remember
                holds = True
        trace[at] = holds
        return holds

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        results = [
            child._evaluate(ctx, key, candidates, path + suffix)
            for child, suffix in zip(self.operands, self.suffixes, strict=True)
        ]
        trues = [r.true for r in results if r.true]
        if not trues:
            true = _EMPTY
        elif len(trues) == 1:
            true = trues[0]
        else:
            true = frozenset().union(*trues)
        return ConditionEvaluation(self.title, candidates, true, tuple(results))


class InProgressCondition(OrCondition):
    """``in_progress()``: ``(run_in_progress() | backfill_in_progress())`` labelled
    "in_progress", as in Dagster, with a fast path of its own: eager() reads it on every asset
    and every upstream, each tick."""

    def __init__(self) -> None:
        super().__init__((RunInProgressCondition(), BackfillInProgressCondition()))
        self._label = "in_progress"

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        view = ctx.view
        run = view.run_in_progress(key, None)
        backfill = view.backfill_in_progress(key, None)
        holds = run or backfill
        ctx.trace.extend((holds, run, backfill))  # an OrCondition's entry, then its leaves'
        return holds

    @cached_property
    def _outcomes(self) -> dict[tuple[bool, bool], ConditionEvaluation]:
        """Its four outcomes over ``_NONE``, by (run, backfill), built once: every upstream's
        ``any_deps_in_progress`` builds one per tick otherwise."""
        run, backfill = (c._unpartitioned_outcomes for c in self.operands)
        return {
            (r, b): ConditionEvaluation(
                self.title, _NONE, _NONE if r or b else _EMPTY, (run[r], backfill[b])
            )
            for r in (False, True)
            for b in (False, True)
        }

    def _rebuild(self, entry: Any, trace: Iterator[Any]) -> ConditionEvaluation:
        run = next(trace)  # its leaves' entries: ``_fast`` traces them as two bools
        return self._outcomes[(run, next(trace))]


def _suffixes(count: int) -> tuple[str, ...]:
    """``(".0", ".1", ...)``: the paths of an operator's children below its own, built once
    per arity rather than formatted per asset."""
    suffixes = _SUFFIXES.get(count)
    if suffixes is None:
        suffixes = _SUFFIXES[count] = tuple(f".{i}" for i in range(count))
    return suffixes


_SUFFIXES: dict[int, tuple[str, ...]] = {}


class NotCondition(AutomationCondition):
    reads_only_the_upstream = True
    replaced_by_name = False

    def __init__(self, operand: AutomationCondition) -> None:
        self.operand = operand

    @property
    def name(self) -> str:
        return f"not {self.operand.label or self.operand.name}"

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        return NotCondition(*children)

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        trace = ctx.trace
        at = len(trace)
        trace.append(None)
        holds = not self.operand._fast(ctx, key, path + ".0")
        trace[at] = holds
        return holds

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        inner = self.operand._evaluate(ctx, key, candidates, path + ".0")
        true = candidates - inner.true if inner.true else candidates
        return ConditionEvaluation(self.title, candidates, true, (inner,))


class SinceCondition(AutomationCondition):
    """Dagster's ``since``: (previously true | trigger) minus reset, per partition."""

    def __init__(self, trigger: AutomationCondition, reset: AutomationCondition) -> None:
        self.trigger = trigger
        self.reset = reset

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.trigger, self.reset)

    @property
    def name(self) -> str:
        t = self.trigger.label or self.trigger.name
        r = self.reset.label or self.reset.name
        return f"({t}) since ({r})"

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        return SinceCondition(*children)

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        trace = ctx.trace
        at = len(trace)
        trace.append(None)
        trigger = self.trigger._fast(ctx, key, path + ".0")
        reset = self.reset._fast(ctx, key, path + ".1")
        holds = (trigger or "" in ctx.recalled(path)) and not reset
        ctx.remember_unpartitioned(path, 1 if holds else None)
        trace[at] = holds
        return holds

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        trigger = self.trigger._evaluate(ctx, key, candidates, path + ".0")
        reset = self.reset._evaluate(ctx, key, candidates, path + ".1")
        before = frozenset(_from_str(p) for p in ctx.recalled(path)) & candidates
        true = (before | trigger.true) - reset.true
        ctx.remember(path, candidates, dict.fromkeys(true, 1))
        return ConditionEvaluation(self.title, candidates, true, (trigger, reset))


class NewlyTrueCondition(AutomationCondition):
    """True where the operand is true now and was not at the previous evaluation."""

    def __init__(self, operand: AutomationCondition) -> None:
        self.operand = operand

    @property
    def name(self) -> str:
        return f"newly_true({self.operand.label or self.operand.name})"

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        return NewlyTrueCondition(*children)

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        trace = ctx.trace
        at = len(trace)
        trace.append(None)
        inner = self.operand._fast(ctx, key, path + ".0")
        holds = inner and "" not in ctx.recalled(path)
        ctx.remember_unpartitioned(path, 1 if inner else None)
        trace[at] = holds
        return holds

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        inner = self.operand._evaluate(ctx, key, candidates, path + ".0")
        before = frozenset(_from_str(p) for p in ctx.recalled(path))
        ctx.remember(path, candidates, dict.fromkeys(inner.true, 1))
        return ConditionEvaluation(self.title, candidates, inner.true - before, (inner,))


def _rebuild_each(
    self: DepsCondition | ChecksCondition, entry: Any, trace: Iterator[Any]
) -> ConditionEvaluation:
    """A deps or checks node's outcome from its trace: its entry is (truth, the names that
    matched, the (key, name) it evaluated its operand on), each followed by that outcome."""
    holds, matched, entities = entry
    children = []
    for entity in entities:
        item = next(trace)
        if not isinstance(item, ConditionEvaluation):  # traced inline, not yet named
            item = _named(entity[1], self.operand._rebuild(item, trace))
        children.append(item)
    true = _NONE if holds else _EMPTY
    return ConditionEvaluation(self.title, _NONE, true, tuple(children), _matched(matched))


def _render_each(
    self: DepsCondition | ChecksCondition,
    entry: Any,
    trace: Iterator[Any],
    out: list[str],
    depth: int,
    prefix: str,
) -> None:
    """``_rebuild_each(...).lines(out, depth)``, directly."""
    holds, matched, entities = entry
    detail = f" ({_matched(matched)})" if matched else ""
    out.append(f"{'  ' * depth}{prefix}{self.title}{detail}: {'true' if holds else 'false'}")
    for entity in entities:
        item = next(trace)
        if isinstance(item, ConditionEvaluation):
            item.lines(out, depth + 1)
        else:
            self.operand._render(item, trace, out, depth + 1, f"{entity[1]}: ")


def _matched(names: Sequence[str]) -> str:
    return f"matched: {', '.join(names)}" if names else ""


class DepsCondition(AutomationCondition):
    """``any_deps_match`` / ``all_deps_match``: the operand, evaluated on each upstream's
    partitions that a candidate reads; ``allow``/``ignore`` narrow which upstreams count."""

    reads_only_the_upstream = True

    def __init__(
        self,
        operand: AutomationCondition,
        *,
        require_all: bool,
        allowed: Any = None,
        ignored: Any = None,
    ) -> None:
        self.operand = operand
        self.require_all = require_all
        self.allowed = allowed
        self.ignored = ignored

    @property
    def name(self) -> str:
        which = "all" if self.require_all else "any"
        return f"{which}_deps_match({self.operand.label or self.operand.name})"

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _params(self) -> str:
        return f"allow={self.allowed!r}, ignore={self.ignored!r}"

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        (operand,) = children
        return DepsCondition(
            operand, require_all=self.require_all, allowed=self.allowed, ignored=self.ignored
        )

    def allow(self, selection: Any) -> DepsCondition:
        """Only upstreams in ``selection`` (an AssetSelection, or asset keys) count."""
        return self._replace(allowed=selection)

    def ignore(self, selection: Any) -> DepsCondition:
        """Upstreams in ``selection`` (an AssetSelection, or asset keys) do not count."""
        return self._replace(ignored=selection)

    def _replace(self, **changes: Any) -> DepsCondition:
        clone = DepsCondition(
            self.operand,
            require_all=self.require_all,
            allowed=changes.get("allowed", self.allowed),
            ignored=changes.get("ignored", self.ignored),
        )
        clone._label = self._label
        return clone

    def _deps(self, graph: AssetGraph, key: EntityKey) -> tuple[AssetKey, ...]:
        """The upstreams that count, in order (``_GraphFacts.deps`` caches them)."""
        deps = list(dict.fromkeys(upstream_of(graph, key)))
        if self.allowed is not None:
            allowed = _resolve(self.allowed, graph)
            deps = [d for d in deps if d in allowed]
        if self.ignored is not None:
            ignored = _resolve(self.ignored, graph)
            deps = [d for d in deps if d not in ignored]
        return tuple(deps)

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        trace = ctx.trace
        at = len(trace)
        trace.append(None)
        if self.allowed is None and self.ignored is None:
            deps = ctx.facts(key).deps
        else:
            deps = ctx.tick.deps(self, key)
        view, operand = ctx.view, self.operand
        matched = []
        for dep, dep_name, partitioned in deps:
            sub_path = f"{path}[{dep_name}]"
            if partitioned:  # the partitions ``key`` reads
                ups = view.upstream_partition_keys(key, None, dep)
                child = _named(dep_name, operand._run(ctx, dep, _subset(ups), sub_path))
                trace.append(child)
                hit = not child.true.isdisjoint(ups)
            elif operand.same_for_every_reader:
                child = self._shared(ctx, dep, dep_name, sub_path)
                trace.append(child)
                hit = bool(child.true)
            else:
                hit = operand._fast(ctx, dep, sub_path)
            if hit:
                matched.append(dep_name)
        holds = len(matched) == len(deps) if self.require_all else bool(matched)
        trace[at] = (holds, matched, deps)
        return holds

    def _shared(
        self, ctx: _Context, dep: AssetKey, dep_name: str, path: str
    ) -> ConditionEvaluation:
        """The operand on unpartitioned ``dep`` once per tick for all the assets reading it:
        it reads nothing of theirs (``any_deps_missing``, ``any_deps_in_progress``)."""
        shared = ctx.tick.dep_outcomes
        outcome = shared.get((id(self.operand), dep_name))  # a str hashes faster than a key
        if outcome is None:
            child = self.operand._run(ctx, dep, _NONE, path)
            outcome = shared[(id(self.operand), dep_name)] = _named(dep_name, child)
        return outcome

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        view = ctx.view
        if not candidates:
            deps: tuple[Dep, ...] = ()
        elif self.allowed is None and self.ignored is None:
            deps = ctx.facts(key).deps
        else:
            deps = ctx.tick.deps(self, key)
        results = []
        per_dep: list[Subset] = []  # per dep: the candidates it matches for
        matched = []
        for dep, dep_name, _ in deps:
            reads = {p: view.upstream_partition_keys(key, p, dep) for p in candidates}
            wanted = frozenset(u for ups in reads.values() for u in ups)
            child = self.operand._evaluate(ctx, dep, wanted, f"{path}[{dep_name}]")
            hits = frozenset(p for p, ups in reads.items() if not child.true.isdisjoint(ups))
            results.append(_named(dep_name, child))
            per_dep.append(hits)
            if hits:
                matched.append(dep_name)
        if self.require_all:
            true = candidates
            for hits in per_dep:
                true = true & hits
        else:
            true = frozenset().union(*per_dep) if per_dep else _EMPTY
        return ConditionEvaluation(self.title, candidates, true, tuple(results), _matched(matched))

    _rebuild = _rebuild_each
    _render = _render_each


class ChecksCondition(AutomationCondition):
    """``any_checks_match`` / ``all_checks_match``: the operand, evaluated on each of the
    asset's checks (only the blocking ones with ``blocking_only``), over the candidates (an
    unpartitioned check over all of them). With no checks, ``any`` is false and ``all`` true,
    as in Dagster."""

    def __init__(
        self, operand: AutomationCondition, *, require_all: bool, blocking_only: bool = False
    ) -> None:
        self.operand = operand
        self.require_all = require_all
        self.blocking_only = blocking_only

    @property
    def name(self) -> str:
        which = "all" if self.require_all else "any"
        blocking = ", blocking_only" if self.blocking_only else ""
        return f"{which}_checks_match({self.operand.label or self.operand.name}{blocking})"

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _params(self) -> str:
        return f"blocking_only={self.blocking_only!r}"

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        (operand,) = children
        return ChecksCondition(
            operand, require_all=self.require_all, blocking_only=self.blocking_only
        )

    def _fast(self, ctx: _Context, key: EntityKey, path: str) -> bool:
        trace = ctx.trace
        at = len(trace)
        trace.append(None)
        checks = ctx.tick.facts.checks_of(ctx.tick.graph, key, self.blocking_only)
        # Over ``_NONE``, a check's outcome is the asset's, whether the check is partitioned or not.
        operand = self.operand
        matched = [n for check, n in checks if operand._fast(ctx, check, f"{path}[{n}]")]
        holds = len(matched) == len(checks) if self.require_all else bool(matched)
        trace[at] = (holds, matched, checks)
        return holds

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        checks = ctx.tick.facts.checks_of(ctx.tick.graph, key, self.blocking_only)
        true = candidates if self.require_all else _EMPTY
        results = []
        matched = []
        for check, name in checks if candidates else ():
            own = ctx.view.partition_keys(check)
            # A partitioned check has its asset's partitions; an unpartitioned one checks the
            # whole asset: its outcome holds for every candidate.
            wanted = _NONE if own is None else candidates
            child = self.operand._run(ctx, check, wanted, f"{path}[{name}]")
            results.append(_named(name, child))
            hits = (candidates if child.true else _EMPTY) if own is None else child.true
            if hits:
                matched.append(name)
            if self.require_all:
                if hits is not candidates:
                    true = true & hits
            elif hits:
                true = hits if not true else true | hits
        return ConditionEvaluation(self.title, candidates, true, tuple(results), _matched(matched))

    _rebuild = _rebuild_each
    _render = _render_each


class EntityMatchesCondition(AutomationCondition):
    """``asset_matches(key, condition)``: the operand evaluated on asset ``key``, over the
    partitions of it that the candidates read (Dagster maps the candidates "up" to ``key``,
    then its true partitions back "down"). Supported: ``key`` or the target unpartitioned (an
    unpartitioned side reads every partition of the other), the same partitions on both (the
    identity), or ``key`` one of the target's upstreams (its partition mapping)."""

    def __init__(self, key: AssetKey, operand: AutomationCondition) -> None:
        self.key = key
        self.operand = operand

    @property
    def name(self) -> str:
        return self.key.to_user_string()

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _params(self) -> str:
        return repr(self.name)

    def _with_children(self, children: tuple[AutomationCondition, ...]) -> AutomationCondition:
        (operand,) = children
        return EntityMatchesCondition(self.key, operand)

    def _evaluate(
        self, ctx: _Context, key: EntityKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        other, view, operand, sub_path = self.key, ctx.view, self.operand, path + ".0"
        graph = ctx.tick.graph
        if other not in graph.nodes:
            raise ValueError(f"asset_matches({self.name!r}): no such asset in the definitions")
        theirs, mine = view.partition_keys(other), view.partition_keys(key)
        if theirs is None or mine is None:
            wanted = (_NONE if theirs is None else frozenset(theirs)) if candidates else _EMPTY
            child = operand._run(ctx, other, wanted, sub_path)
            true = candidates if child.true else _EMPTY
        elif other == key or theirs == mine:  # Dagster's default mapping: the identity
            child = operand._evaluate(ctx, other, candidates, sub_path)
            true = child.true
        elif other in upstream_of(graph, key):
            reads = {p: view.upstream_partition_keys(key, p, other) for p in candidates}
            wanted = frozenset(u for ups in reads.values() for u in ups)
            child = operand._evaluate(ctx, other, wanted, sub_path)
            true = frozenset(p for p, ups in reads.items() if not child.true.isdisjoint(ups))
        else:
            raise ValueError(
                f"asset_matches({self.name!r}) on {key.to_user_string()}: their partitions"
                f" differ and {self.name} is not one of its upstreams; Millrace maps"
                " partitions only along a dependency, or between the same partitions"
            )
        return ConditionEvaluation(self.title, candidates, true, (child,))


def _named(dep_name: str, child: ConditionEvaluation) -> ConditionEvaluation:
    """The operand's outcome on a dep, labelled with the dep's name."""
    return ConditionEvaluation(
        f"{dep_name}: {child.label}", child.candidates, child.true, child.children, child.detail
    )


def _subset(partitions: Collection[PartitionKey]) -> Subset:
    """``partitions`` as a Subset; ``{None}`` (an unpartitioned upstream) as ``_NONE``, so the
    dep's nodes take the fast path."""
    if len(partitions) == 1 and None in partitions:
        return _NONE
    return partitions if isinstance(partitions, frozenset) else frozenset(partitions)


def _resolve(selection: Any, graph: AssetGraph) -> set[AssetKey]:
    resolve = getattr(selection, "resolve", None)
    if callable(resolve):
        return set(resolve(graph))
    if isinstance(selection, str | AssetKey):
        selection = [selection]
    return {coerce_key(getattr(s, "key", s)) for s in selection}


# -- evaluation ----------------------------------------------------------------------------


class Evaluations(Mapping[EntityKey, ConditionEvaluation]):
    """Each evaluated asset's reason tree, built from its fast-path trace when first read:
    a tick that nobody asks why costs no trees."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[EntityKey, Any] = {}  # an outcome, or (condition, trace)

    def add(self, key: EntityKey, outcome: ConditionEvaluation) -> None:
        self._items[key] = outcome

    def add_trace(self, key: EntityKey, condition: AutomationCondition, trace: list[Any]) -> None:
        self._items[key] = (condition, trace)

    def reason(self, key: EntityKey) -> str:
        """``self[key].reason()``, rendered from the trace without building the tree."""
        item = self._items[key]
        if isinstance(item, ConditionEvaluation):
            return item.reason()
        condition, trace = item
        out: list[str] = []
        _rendered(condition, iter(trace), out, 0)
        return "\n".join(out)

    def __getitem__(self, key: EntityKey) -> ConditionEvaluation:
        item = self._items[key]
        if not isinstance(item, ConditionEvaluation):
            condition, trace = item
            item = self._items[key] = _rebuilt(condition, iter(trace))
        return item

    def __iter__(self) -> Iterator[EntityKey]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


@dataclass(frozen=True)
class EvaluationResult:
    """What one tick decided: the partitions to request per asset (only non-empty ones), each
    evaluated asset's reason tree, and the states to store (merge them into the old)."""

    requests: dict[EntityKey, Subset]
    evaluations: Evaluations
    states: dict[EntityKey, ConditionState]


def to_evaluate(
    conditions: Mapping[EntityKey, AutomationCondition],
    graph: AssetGraph,
    states: Mapping[EntityKey, ConditionState],
    changed: Iterable[EntityKey] | None,
) -> list[EntityKey]:
    """The assets and checks whose condition could have a new answer, upstream first: what
    changed and everything downstream of it (a check is downstream of its asset and its other
    deps; an asset, of its checks: ``any_checks_match``), those requested last time
    (``newly_requested`` now holds), and those never evaluated. ``changed=None`` means
    everything (a timer, a reload). Checks come after every asset: nothing reads their
    requests."""
    wanted: set[EntityKey]
    if changed is None:
        wanted = set(conditions)
    else:
        changed = set(changed)
        checked = {k.asset_key for k in changed if isinstance(k, AssetCheckKey)}
        # A check's asset's downstream assets read it (all_deps_blocking_checks_passed).
        assets = graph.downstream_closure(
            k for k in changed | checked if isinstance(k, AssetKey) and k in graph
        )
        assets.update(checked)
        matching = [
            k
            for k, c in conditions.items()
            if c.matched_keys and not c.matched_keys.isdisjoint(assets)
        ]
        if matching:  # asset_matches: an asset that need not be upstream of them changed
            assets |= graph.downstream_closure(k for k in matching if isinstance(k, AssetKey))
        wanted = set(assets)
        wanted.update(matching)
        for key in conditions:
            if isinstance(key, AssetCheckKey) and (
                key in changed or not assets.isdisjoint(upstream_of(graph, key))
            ):
                wanted.add(key)
        wanted.update(k for k, s in states.items() if s.requested)
        wanted.update(k for k in conditions if k not in states)
        wanted &= conditions.keys()
    checks = sorted(k for k in wanted if isinstance(k, AssetCheckKey))
    order: list[EntityKey] = list(graph.toposorted(k for k in wanted if isinstance(k, AssetKey)))
    if not checks:
        return order
    # Each check right after the last of its upstreams: downstream assets may read its
    # requests (``all_deps_blocking_checks_passed``'s ``will_be_requested``).
    at = {k: i for i, k in enumerate(order)}
    after: dict[int, list[EntityKey]] = {}
    for check in checks:
        last = max((at[u] for u in upstream_of(graph, check) if u in at), default=-1)
        after.setdefault(last, []).append(check)
    ordered = after.get(-1, [])
    for i, key in enumerate(order):
        ordered.append(key)
        ordered.extend(after.get(i, ()))
    return ordered


def evaluate(
    conditions: Mapping[EntityKey, AutomationCondition],
    view: AutomationView,
    states: Mapping[EntityKey, ConditionState],
    changed: Iterable[EntityKey] | None = None,
) -> EvaluationResult:
    """Evaluate the conditions of the assets ``changed`` could affect (see ``to_evaluate``)
    over ``view``, upstream first so ``will_be_requested`` sees this tick's requests."""
    now = view.now.timestamp()
    requests: dict[EntityKey, Subset] = {}
    evaluations = Evaluations()
    new_states: dict[EntityKey, ConditionState] = {}
    tick = _Tick(view, states, requests)
    for key in to_evaluate(conditions, view.graph, states, changed):
        condition = conditions[key]
        fingerprint = _fingerprint(condition)
        state = states.get(key)
        if state is not None and state.fingerprint != fingerprint:
            state = None  # the condition changed: start afresh, as a first evaluation
        keys = view.partition_keys(key)
        ctx = _Context(view, key, state, tick)
        if keys is None:
            true = _NONE if condition._fast(ctx, key, "0") else _EMPTY
            evaluations.add_trace(key, condition, ctx.trace)
        else:
            result = condition._evaluate(ctx, key, frozenset(keys), "0")
            evaluations.add(key, result)
            true = result.true
        if true:
            requests[key] = true
        new_states[key] = ConditionState(now, fingerprint, true, ctx.new)
    return EvaluationResult(requests, evaluations, new_states)


_FINGERPRINTS: dict[int, tuple[AutomationCondition, str]] = {}


def _fingerprint(condition: AutomationCondition) -> str:
    """The condition's repr, computed once per condition object."""
    cached = _FINGERPRINTS.get(id(condition))
    if cached is None or cached[0] is not condition:
        cached = (condition, repr(condition))
        _FINGERPRINTS[id(condition)] = cached
    return cached[1]


# -- the sensor ----------------------------------------------------------------------------
