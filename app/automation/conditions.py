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
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol, Self

from ..definitions.keys import AssetKey, coerce_key

if TYPE_CHECKING:
    from ..graph import AssetGraph

PartitionKey = str | None
Subset = frozenset[PartitionKey]
_EMPTY: Subset = frozenset()


class AutomationView(Protocol):
    """The snapshot a condition reads: what the runtime's status cache knows at ``now``."""

    @property
    def now(self) -> datetime:
        """Aware: the instant of this evaluation."""
        ...

    @property
    def graph(self) -> AssetGraph: ...

    def partition_keys(self, key: AssetKey) -> Sequence[str] | None:
        """The asset's partitions now, in order (the last is the latest); None: unpartitioned."""
        ...

    def upstream_partition_keys(
        self, key: AssetKey, partition_key: PartitionKey, upstream: AssetKey
    ) -> Collection[PartitionKey]:
        """Which partitions of ``upstream`` the partition of ``key`` reads (``{None}`` for an
        unpartitioned upstream): the partition mapping, applied."""
        ...

    def latest_materialization_id(self, key: AssetKey, partition_key: PartitionKey) -> int | None:
        """The event id of the latest materialization; None: missing. An external asset
        (``AssetSpec``) should report a constant id (0) unless it may really be missing."""
        ...

    def in_progress(self, key: AssetKey, partition_key: PartitionKey) -> bool:
        """Part of a run that has not finished (queued or started)."""
        ...

    def execution_failed(self, key: AssetKey, partition_key: PartitionKey) -> bool:
        """Its latest attempt failed (and nothing materialized it since)."""
        ...

    def code_version(self, key: AssetKey) -> str | None:
        """The asset's current code version (declared or computed)."""
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
    """One node's outcome: its label, the candidates it saw and those it held for."""

    label: str
    candidates: Subset
    true: Subset
    children: tuple[ConditionEvaluation, ...] = ()
    detail: str = ""

    @property
    def is_true(self) -> bool:
        return bool(self.true)

    def lines(self, depth: int = 0) -> Iterator[str]:
        mark = "true" if self.true else "false"
        if len(self.candidates) > 1 or (self.candidates and None not in self.candidates):
            mark += f" ({len(self.true)}/{len(self.candidates)} partitions)"
        detail = f" ({self.detail})" if self.detail else ""
        yield f"{'  ' * depth}{self.label}{detail}: {mark}"
        for child in self.children:
            yield from child.lines(depth + 1)

    def reason(self) -> str:
        """The tree as indented text: each node's label, detail and truth."""
        return "\n".join(self.lines())


class _Context:
    """One evaluation of one asset: the view, the old and new memory, this tick's requests."""

    __slots__ = ("key", "new", "old", "prev_states", "requested_now", "state", "view")

    def __init__(
        self,
        view: AutomationView,
        key: AssetKey,
        state: ConditionState | None,
        prev_states: Mapping[AssetKey, ConditionState],
        requested_now: Mapping[AssetKey, Subset],
    ) -> None:
        self.view = view
        self.key = key
        self.state = state
        self.old: dict[str, dict[str, Any]] = state.memory if state else {}
        self.new: dict[str, dict[str, Any]] = {}
        self.prev_states = prev_states
        self.requested_now = requested_now

    def remember(self, path: str, candidates: Subset, values: Mapping[PartitionKey, Any]) -> None:
        """Replace the memory of ``candidates`` at ``path``; keep the other partitions'."""
        kept = {p: v for p, v in self.old.get(path, {}).items() if _from_str(p) not in candidates}
        kept.update((_to_str(p), v) for p, v in values.items())
        if kept:
            self.new[path] = kept

    def recalled(self, path: str) -> dict[str, Any]:
        return self.old.get(path, {})


class AutomationCondition:
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

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        raise NotImplementedError

    def evaluate_node(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        result = self._evaluate(ctx, key, candidates, path)
        if self._label is not None:
            return ConditionEvaluation(
                self._label, result.candidates, result.true, result.children, result.detail
            )
        return result

    def with_label(self, label: str | None) -> Self:
        """The same condition, named ``label`` in reason trees (Dagster's ``with_label``)."""
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._label = label
        return clone

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

    # -- operands --------------------------------------------------------------------------

    @staticmethod
    def missing() -> AutomationCondition:
        return MissingCondition()

    @staticmethod
    def in_progress() -> AutomationCondition:
        return InProgressCondition()

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
    def eager() -> AutomationCondition:
        """Request when an upstream updates (or the asset goes missing), once all upstreams
        are present and none is running, and the asset itself is not running."""
        return (
            InLatestTimeWindowCondition(None)
            & (
                AutomationCondition.newly_missing() | AutomationCondition.any_deps_updated()
            ).since_last_handled()
            & ~AutomationCondition.any_deps_missing()
            & ~AutomationCondition.any_deps_in_progress()
            & ~InProgressCondition()
        ).with_label("eager")

    @staticmethod
    def on_cron(cron_schedule: str, cron_timezone: str = "UTC") -> AutomationCondition:
        """Request once per cron tick, after every upstream has updated since that tick."""
        return (
            InLatestTimeWindowCondition(None)
            & CronTickPassedCondition(cron_schedule, cron_timezone).since_last_handled()
            & AutomationCondition.all_deps_updated_since_cron(cron_schedule, cron_timezone)
        ).with_label(f"on_cron({cron_schedule}, {cron_timezone})")

    @staticmethod
    def on_missing() -> AutomationCondition:
        """Request a partition that goes missing (not those missing when first evaluated),
        once its upstreams are present."""
        return (
            InLatestTimeWindowCondition(None)
            & AutomationCondition.newly_missing().since_last_handled()
            & ~AutomationCondition.any_deps_missing()
        ).with_label("on_missing")


def _check(conditions: Iterable[Any]) -> tuple[AutomationCondition, ...]:
    out = tuple(conditions)
    for c in out:
        if not isinstance(c, AutomationCondition):
            raise TypeError(f"expected an AutomationCondition, got {type(c).__name__}: {c!r}")
    return out


def _handled() -> AutomationCondition:
    return (
        NewlyRequestedCondition() | NewlyUpdatedCondition() | InitialEvaluationCondition()
    ).with_label("handled")


# -- operands ------------------------------------------------------------------------------


class _Operand(AutomationCondition):
    """A leaf: holds per partition by a predicate over the view."""

    def holds(self, ctx: _Context, key: AssetKey, partition: PartitionKey) -> bool:
        raise NotImplementedError

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        true = frozenset(p for p in candidates if self.holds(ctx, key, p))
        return ConditionEvaluation(self.name, candidates, true)


class MissingCondition(_Operand):
    name = "missing"

    def holds(self, ctx: _Context, key: AssetKey, partition: PartitionKey) -> bool:
        return ctx.view.latest_materialization_id(key, partition) is None


class InProgressCondition(_Operand):
    name = "in_progress"

    def holds(self, ctx: _Context, key: AssetKey, partition: PartitionKey) -> bool:
        return ctx.view.in_progress(key, partition)


class ExecutionFailedCondition(_Operand):
    name = "execution_failed"

    def holds(self, ctx: _Context, key: AssetKey, partition: PartitionKey) -> bool:
        return ctx.view.execution_failed(key, partition)


class NewlyRequestedCondition(_Operand):
    """Requested by the previous evaluation of that asset's condition."""

    name = "newly_requested"

    def holds(self, ctx: _Context, key: AssetKey, partition: PartitionKey) -> bool:
        state = ctx.state if key == ctx.key else ctx.prev_states.get(key)
        return state is not None and partition in state.requested


class WillBeRequestedCondition(_Operand):
    """Requested by this evaluation (an upstream evaluated before this asset)."""

    name = "will_be_requested"

    def holds(self, ctx: _Context, key: AssetKey, partition: PartitionKey) -> bool:
        return partition in ctx.requested_now.get(key, _EMPTY)


class InitialEvaluationCondition(_Operand):
    name = "initial_evaluation"

    def holds(self, ctx: _Context, key: AssetKey, partition: PartitionKey) -> bool:
        return ctx.state is None


class NewlyUpdatedCondition(AutomationCondition):
    """Materialized since the previous evaluation (false on the first: nothing to compare)."""

    name = "newly_updated"

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        seen = ctx.recalled(path)
        first = ctx.state is None
        ids = {p: ctx.view.latest_materialization_id(key, p) for p in candidates}
        true = frozenset(
            p for p, i in ids.items() if i is not None and not first and seen.get(_to_str(p)) != i
        )
        ctx.remember(path, candidates, {p: i for p, i in ids.items() if i is not None})
        return ConditionEvaluation(self.name, candidates, true)


class CodeVersionChangedCondition(AutomationCondition):
    name = "code_version_changed"

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        version = ctx.view.code_version(key)
        before = ctx.recalled(path).get("")
        changed = ctx.state is not None and path in ctx.old and before != version
        new = {p: v for p, v in ctx.old.get(path, {}).items()}
        new[""] = version
        ctx.new[path] = new
        return ConditionEvaluation(self.name, candidates, candidates if changed else _EMPTY)


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
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        before = ctx.state.evaluated_at if ctx.state else None
        now = ctx.view.now
        tick = latest_tick(self.cron_schedule, self.cron_timezone, now)
        passed = before is not None and tick.timestamp() > before
        detail = f"tick {tick.isoformat()}" if passed else ""
        return ConditionEvaluation(
            self.name, candidates, candidates if passed else _EMPTY, (), detail
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
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        definition = getattr(ctx.view.graph.nodes.get(key), "partitions_def", None)
        windows = getattr(definition, "time_window_for_partition_key", None)
        keys = ctx.view.partition_keys(key) if windows is not None else None
        if windows is None or not keys:
            return ConditionEvaluation(self.name, candidates, candidates)
        latest = keys[-1]
        if self.lookback_delta is None:
            true = frozenset(p for p in candidates if p == latest)
        else:
            floor = windows(latest).end - self.lookback_delta
            true = frozenset(p for p in candidates if p is not None and windows(p).end > floor)
        return ConditionEvaluation(self.name, candidates, true, (), f"latest {latest}")


# -- operators -----------------------------------------------------------------------------


class AndCondition(AutomationCondition):
    def __init__(self, operands: tuple[AutomationCondition, ...]) -> None:
        self.operands = operands

    @property
    def name(self) -> str:
        return " and ".join(c.label or c.name for c in self.operands)

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return self.operands

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        results = []
        remaining = candidates
        for i, child in enumerate(self.operands):
            result = child.evaluate_node(ctx, key, remaining, f"{path}.{i}")
            results.append(result)
            remaining = result.true
        return ConditionEvaluation(self.name, candidates, remaining, tuple(results))


class OrCondition(AutomationCondition):
    def __init__(self, operands: tuple[AutomationCondition, ...]) -> None:
        self.operands = operands

    @property
    def name(self) -> str:
        return " or ".join(c.label or c.name for c in self.operands)

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return self.operands

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        results = tuple(
            c.evaluate_node(ctx, key, candidates, f"{path}.{i}")
            for i, c in enumerate(self.operands)
        )
        true = frozenset().union(*(r.true for r in results)) if results else _EMPTY
        return ConditionEvaluation(self.name, candidates, true, results)


class NotCondition(AutomationCondition):
    def __init__(self, operand: AutomationCondition) -> None:
        self.operand = operand

    @property
    def name(self) -> str:
        return f"not {self.operand.label or self.operand.name}"

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        inner = self.operand.evaluate_node(ctx, key, candidates, f"{path}.0")
        return ConditionEvaluation(self.name, candidates, candidates - inner.true, (inner,))


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

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        trigger = self.trigger.evaluate_node(ctx, key, candidates, f"{path}.0")
        reset = self.reset.evaluate_node(ctx, key, candidates, f"{path}.1")
        before = frozenset(_from_str(p) for p in ctx.recalled(path)) & candidates
        true = (before | trigger.true) - reset.true
        ctx.remember(path, candidates, dict.fromkeys(true, 1))
        return ConditionEvaluation(self.name, candidates, true, (trigger, reset))


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

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        inner = self.operand.evaluate_node(ctx, key, candidates, f"{path}.0")
        before = frozenset(_from_str(p) for p in ctx.recalled(path))
        ctx.remember(path, candidates, dict.fromkeys(inner.true, 1))
        return ConditionEvaluation(self.name, candidates, inner.true - before, (inner,))


class DepsCondition(AutomationCondition):
    """``any_deps_match`` / ``all_deps_match``: the operand, evaluated on each upstream's
    partitions that a candidate reads; ``allow``/``ignore`` narrow which upstreams count."""

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

    def _deps(self, graph: AssetGraph, key: AssetKey) -> list[AssetKey]:
        deps = list(dict.fromkeys(graph.upstream.get(key, ())))
        if self.allowed is not None:
            allowed = _resolve(self.allowed, graph)
            deps = [d for d in deps if d in allowed]
        if self.ignored is not None:
            ignored = _resolve(self.ignored, graph)
            deps = [d for d in deps if d not in ignored]
        return deps

    def _evaluate(
        self, ctx: _Context, key: AssetKey, candidates: Subset, path: str
    ) -> ConditionEvaluation:
        view = ctx.view
        deps = self._deps(view.graph, key) if candidates else []
        results = []
        per_dep: list[Subset] = []  # per dep: the candidates it matches for
        matched_deps = []
        for dep in deps:
            reads = {p: view.upstream_partition_keys(key, p, dep) for p in candidates}
            wanted = frozenset(u for ups in reads.values() for u in ups)
            child = self.operand.evaluate_node(ctx, dep, wanted, f"{path}[{dep.to_user_string()}]")
            results.append(
                ConditionEvaluation(
                    f"{dep.to_user_string()}: {child.label}",
                    child.candidates,
                    child.true,
                    child.children,
                    child.detail,
                )
            )
            hits = frozenset(p for p, ups in reads.items() if any(u in child.true for u in ups))
            per_dep.append(hits)
            if hits:
                matched_deps.append(dep.to_user_string())
        if self.require_all:
            true = candidates
            for hits in per_dep:
                true = true & hits
        else:
            true = frozenset().union(*per_dep) if per_dep else _EMPTY
        detail = f"matched: {', '.join(matched_deps)}" if matched_deps else ""
        return ConditionEvaluation(self.name, candidates, true, tuple(results), detail)


def _resolve(selection: Any, graph: AssetGraph) -> set[AssetKey]:
    resolve = getattr(selection, "resolve", None)
    if callable(resolve):
        return set(resolve(graph))
    if isinstance(selection, str | AssetKey):
        selection = [selection]
    return {coerce_key(getattr(s, "key", s)) for s in selection}


# -- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationResult:
    """What one tick decided: the partitions to request per asset (only non-empty ones), each
    evaluated asset's reason tree, and the states to store (merge them into the old)."""

    requests: dict[AssetKey, Subset]
    evaluations: dict[AssetKey, ConditionEvaluation]
    states: dict[AssetKey, ConditionState]


def to_evaluate(
    conditions: Mapping[AssetKey, AutomationCondition],
    graph: AssetGraph,
    states: Mapping[AssetKey, ConditionState],
    changed: Iterable[AssetKey] | None,
) -> list[AssetKey]:
    """The assets whose condition could have a new answer, upstream first: what changed and
    everything downstream of it, those requested last time (``newly_requested`` now holds),
    and those never evaluated. ``changed=None`` means everything (a timer, a reload)."""
    if changed is None:
        wanted = set(conditions)
    else:
        wanted = graph.downstream_closure(k for k in changed if k in graph)
        wanted.update(k for k, s in states.items() if s.requested)
        wanted.update(k for k in conditions if k not in states)
        wanted &= conditions.keys()
    return graph.toposorted(wanted)


def evaluate(
    conditions: Mapping[AssetKey, AutomationCondition],
    view: AutomationView,
    states: Mapping[AssetKey, ConditionState],
    changed: Iterable[AssetKey] | None = None,
) -> EvaluationResult:
    """Evaluate the conditions of the assets ``changed`` could affect (see ``to_evaluate``)
    over ``view``, upstream first so ``will_be_requested`` sees this tick's requests."""
    graph = view.graph
    now = view.now.timestamp()
    requests: dict[AssetKey, Subset] = {}
    evaluations: dict[AssetKey, ConditionEvaluation] = {}
    new_states: dict[AssetKey, ConditionState] = {}
    for key in to_evaluate(conditions, graph, states, changed):
        condition = conditions[key]
        fingerprint = _fingerprint(condition)
        state = states.get(key)
        if state is not None and state.fingerprint != fingerprint:
            state = None  # the condition changed: start afresh, as a first evaluation
        keys = view.partition_keys(key)
        candidates: Subset = frozenset(keys) if keys is not None else frozenset((None,))
        ctx = _Context(view, key, state, states, requests)
        result = condition.evaluate_node(ctx, key, candidates, "0")
        evaluations[key] = result
        if result.true:
            requests[key] = result.true
        new_states[key] = ConditionState(now, fingerprint, result.true, ctx.new)
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


class AutomationConditionSensorDefinition:
    """Scopes automation conditions: the runtime evaluates the conditions of ``target``'s
    assets at most every ``minimum_interval_seconds`` (Dagster's class; a plain definition)."""

    def __init__(
        self,
        name: str,
        *,
        target: Any,
        tags: Mapping[str, str] | None = None,
        run_tags: Mapping[str, Any] | None = None,
        default_status: Any = "STOPPED",
        minimum_interval_seconds: int | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        emit_backfills: bool = True,
        use_user_code_server: bool = False,
        default_condition: AutomationCondition | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise TypeError("AutomationConditionSensorDefinition needs a name (a string)")
        if default_condition is not None:
            _check((default_condition,))
        interval = 30 if minimum_interval_seconds is None else minimum_interval_seconds
        if interval <= 0:
            raise ValueError(f"sensor {name!r}: minimum_interval_seconds must be positive")
        self.name = name
        self.target = target
        self.tags = dict(tags or {})
        self.run_tags = dict(run_tags or {})
        self.default_status = default_status
        self.minimum_interval_seconds = interval
        self.description = description
        self.metadata = dict(metadata or {})
        self.emit_backfills = emit_backfills
        self.use_user_code_server = use_user_code_server
        self.default_condition = default_condition

    def __repr__(self) -> str:
        return f"AutomationConditionSensorDefinition({self.name!r})"
