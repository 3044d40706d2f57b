"""Declarative automation conditions, evaluated purely over a view built from plain dicts."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from millrace import AssetKey, AssetSpec, DailyPartitionsDefinition, DefinitionsError, asset
from millrace.asset_graph import AssetGraph
from millrace.automation.conditions import (
    AutomationCondition,
    ConditionState,
    EvaluationResult,
    evaluate,
)
from millrace.declarations.checks import AssetCheckKey

A = AutomationCondition
T0 = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class DictView:
    """The AutomationView protocol over dicts: the data a status cache would hold."""

    graph: AssetGraph
    now: datetime = T0
    materialized: dict[tuple[AssetKey, str | None], int] = field(default_factory=dict)
    running: set[tuple[AssetKey, str | None]] = field(default_factory=set)
    backfilling: set[tuple[AssetKey, str | None]] = field(default_factory=set)
    # a check's latest evaluation: (its event id, whether it passed)
    check_results: dict[tuple[AssetCheckKey, str | None], tuple[int, bool]] = field(
        default_factory=dict
    )
    failed: set[tuple[AssetKey, str | None]] = field(default_factory=set)
    versions: dict[AssetKey, str] = field(default_factory=dict)
    partitions: dict[AssetKey, list[str]] = field(default_factory=dict)
    next_id: int = 1

    def partition_keys(self, key: AssetKey) -> Sequence[str] | None:
        return self.partitions.get(key)

    def upstream_partition_keys(
        self, key: AssetKey, partition_key: str | None, upstream: AssetKey
    ) -> Collection[str | None]:
        ups = self.partitions.get(upstream)
        if ups is None:
            return {None}
        return {partition_key} if partition_key is not None else set(ups)

    def latest_materialization_id(self, key: AssetKey, partition_key: str | None) -> int | None:
        return self.materialized.get((key, partition_key))

    def run_in_progress(self, key: AssetKey, partition_key: str | None) -> bool:
        return (key, partition_key) in self.running

    def backfill_in_progress(self, key: AssetKey, partition_key: str | None) -> bool:
        return (key, partition_key) in self.backfilling

    def check_passed(self, key: Any, partition_key: str | None) -> bool | None:
        found = self.check_results.get((key, partition_key))
        if found is None:
            return None
        materialized = self.materialized.get((key.asset_key, partition_key))
        return None if materialized is not None and found[0] < materialized else found[1]

    def evaluate_check(self, check: AssetCheckKey, passed: bool, p: str | None = None) -> None:
        self.check_results[(check, p)] = (self.next_id, passed)
        self.materialized[(check, p)] = self.next_id  # a check's "materialization"
        self.next_id += 1

    def execution_failed(self, key: AssetKey, partition_key: str | None) -> bool:
        return (key, partition_key) in self.failed

    def code_version(self, key: AssetKey) -> str | None:
        return self.versions.get(key)

    def materialize(self, name: str, partition: str | None = None) -> None:
        self.materialized[(AssetKey(name), partition)] = self.next_id
        self.next_id += 1


class Ticker:
    """Evaluates repeatedly, storing states between evaluations as the runtime would."""

    def __init__(self, view: DictView, conditions: dict[str, AutomationCondition]) -> None:
        self.view = view
        self.conditions = {AssetKey(k): c for k, c in conditions.items()}
        self.states: dict[AssetKey, ConditionState] = {}
        self.last: EvaluationResult | None = None

    def tick(self, changed: Collection[str] | None = None) -> dict[str, set[str | None]]:
        keys = None if changed is None else {AssetKey(k) for k in changed}
        result = evaluate(self.conditions, self.view, self.states, keys)
        # Round trip through JSON, as the runtime stores it.
        for key, state in result.states.items():
            self.states[key] = ConditionState.from_json(state.to_json())
        self.last = result
        return {k.to_user_string(): set(v) for k, v in result.requests.items()}

    def reason(self, name: str) -> str:
        """The reason as the runtime renders it, checked against the reason tree's."""
        assert self.last is not None
        rendered = self.last.evaluations.reason(AssetKey(name))
        assert rendered == self.last.evaluations[AssetKey(name)].reason()
        return rendered


def chain_graph() -> AssetGraph:
    return AssetGraph(
        [AssetSpec("raw"), AssetSpec("other"), AssetSpec("clean", deps=["raw", "other"])]
    )


def eager_ticker() -> Ticker:
    view = DictView(chain_graph())
    view.materialize("raw")
    view.materialize("other")
    view.materialize("clean")
    ticker = Ticker(view, {"clean": A.eager()})
    assert ticker.tick() == {}  # the first evaluation only takes note
    return ticker


def test_eager_requests_once_after_an_upstream_update() -> None:
    t = eager_ticker()
    assert t.tick({"raw"}) == {}  # nothing new
    t.view.materialize("raw")
    assert t.tick({"raw"}) == {"clean": {None}}
    reason = t.reason("clean")
    assert reason.startswith("eager: true")
    assert "any_deps_updated (matched: raw): true" in reason
    assert t.tick({"raw"}) == {}  # newly_requested resets it
    t.view.running.add((AssetKey("clean"), None))
    assert t.tick({"clean"}) == {}
    t.view.running.clear()
    t.view.materialize("clean")
    assert t.tick({"clean"}) == {}
    t.view.materialize("other")
    assert t.tick({"other"}) == {"clean": {None}}


def test_eager_waits_for_an_upstream_in_flight_and_for_itself() -> None:
    t = eager_ticker()
    t.view.running.add((AssetKey("other"), None))
    t.view.materialize("raw")
    assert t.tick({"raw"}) == {}
    assert "any_deps_in_progress (matched: other): true" in t.reason("clean")
    t.view.running.clear()
    t.view.materialize("other")
    assert t.tick({"other"}) == {"clean": {None}}
    t.view.materialize("clean")
    t.tick({"clean"})

    t.view.running.add((AssetKey("clean"), None))
    t.view.materialize("raw")
    assert t.tick({"raw"}) == {}  # the asset itself is running: the update stays pending
    t.view.running.clear()
    assert t.tick({"clean"}) == {"clean": {None}}


def test_eager_does_not_run_with_a_missing_upstream() -> None:
    view = DictView(chain_graph())
    view.materialize("clean")
    t = Ticker(view, {"clean": A.eager()})
    t.tick()
    view.materialize("raw")
    assert t.tick({"raw"}) == {}
    assert "any_deps_missing (matched: other): true" in t.reason("clean")
    view.materialize("other")
    assert t.tick({"other"}) == {"clean": {None}}


def test_eager_chains_through_will_be_requested() -> None:
    graph = AssetGraph([AssetSpec("a"), AssetSpec("b", deps=["a"]), AssetSpec("c", deps=["b"])])
    view = DictView(graph)
    for name in "abc":
        view.materialize(name)
    t = Ticker(view, {"b": A.eager(), "c": A.eager()})
    t.tick()
    view.materialize("a")
    assert t.tick({"a"}) == {"b": {None}, "c": {None}}


def test_untouched_assets_are_not_evaluated() -> None:
    graph = AssetGraph([AssetSpec("a"), AssetSpec("b", deps=["a"]), AssetSpec("x")])
    view = DictView(graph)
    for name in "abx":
        view.materialize(name)
    t = Ticker(view, {"b": A.eager(), "x": A.missing()})
    t.tick()
    t.tick({"a"})
    assert t.last is not None and set(t.last.evaluations) == {AssetKey("b")}


def test_on_missing_requests_a_partition_that_goes_missing_once() -> None:
    view = DictView(AssetGraph([AssetSpec("raw"), AssetSpec("t", deps=["raw"])]))
    view.materialize("raw")
    view.materialize("t")
    t = Ticker(view, {"t": A.on_missing()})
    t.tick()
    del view.materialized[(AssetKey("t"), None)]  # wiped
    assert t.tick({"t"}) == {"t": {None}}
    assert t.tick({"t"}) == {}  # requested: handled
    assert t.tick({"t"}) == {}


def test_on_missing_ignores_what_was_missing_at_first_evaluation() -> None:
    view = DictView(AssetGraph([AssetSpec("t")]))
    t = Ticker(view, {"t": A.on_missing()})
    assert t.tick() == {}
    assert t.tick({"t"}) == {}


def test_on_cron_fires_once_per_tick_after_upstreams_updated_on_a_dst_day() -> None:
    ny = ZoneInfo("America/New_York")
    graph = AssetGraph([AssetSpec("raw"), AssetSpec("daily", deps=["raw"])])
    # 2024-03-10: clocks jump from 02:00 to 03:00 in New York; the tick is 09:00 local.
    view = DictView(graph, now=datetime(2024, 3, 10, 8, 0, tzinfo=ny))
    view.materialize("raw")
    t = Ticker(view, {"daily": A.on_cron("0 9 * * *", "America/New_York")})
    assert t.tick() == {}
    view.now = datetime(2024, 3, 10, 9, 5, tzinfo=ny)
    assert view.now.utcoffset() == timedelta(hours=-4)
    assert t.tick() == {}  # tick passed, but raw has not updated since
    assert "cron_tick_passed" in t.reason("daily")
    view.now += timedelta(minutes=10)
    view.materialize("raw")
    assert t.tick() == {"daily": {None}}
    view.now += timedelta(minutes=10)
    view.materialize("raw")
    assert t.tick() == {}  # once per tick
    # The runtime evaluates at the tick (a timer); an update seen in the same evaluation as
    # the tick counts as before it, as in Dagster.
    view.now = datetime(2024, 3, 11, 9, 0, tzinfo=ny)
    assert t.tick() == {}
    view.now += timedelta(minutes=1)
    view.materialize("raw")
    assert t.tick() == {"daily": {None}}


def test_on_cron_for_a_root_asset() -> None:
    view = DictView(AssetGraph([AssetSpec("root")]), now=T0)
    t = Ticker(view, {"root": A.on_cron("0 * * * *")})
    t.tick()
    view.now = T0 + timedelta(minutes=30)
    assert t.tick() == {}
    view.now = T0 + timedelta(minutes=61)
    assert t.tick() == {"root": {None}}


def test_combinators_since_newly_true_and_labels() -> None:
    view = DictView(AssetGraph([AssetSpec("t")]))
    failed = A.execution_failed().newly_true().with_label("just failed")
    cond = (failed | A.code_version_changed()) & ~A.in_progress()
    t = Ticker(view, {"t": cond})
    view.versions[AssetKey("t")] = "v1"
    assert t.tick() == {}
    view.failed.add((AssetKey("t"), None))
    assert t.tick({"t"}) == {"t": {None}}
    assert "just failed: true" in t.reason("t")
    assert t.tick({"t"}) == {}  # newly_true: not again
    view.versions[AssetKey("t")] = "v2"
    assert t.tick({"t"}) == {"t": {None}}
    assert "code_version_changed: true" in t.reason("t")

    since = A.newly_updated().since(A.execution_failed())
    t2 = Ticker(view, {"t": since})
    view.failed.clear()
    t2.tick()
    view.materialize("t")
    assert t2.tick({"t"}) == {"t": {None}}
    assert t2.tick({"t"}) == {"t": {None}}  # a status now, until the reset
    view.failed.add((AssetKey("t"), None))
    assert t2.tick({"t"}) == {}


def test_allow_and_ignore_narrow_the_deps() -> None:
    t = eager_ticker()
    t.conditions[AssetKey("clean")] = A.any_deps_match(A.newly_updated()).ignore(["raw"])
    t.states.clear()
    t.tick()
    t.view.materialize("raw")
    assert t.tick({"raw"}) == {}
    t.view.materialize("other")
    assert t.tick({"other"}) == {"clean": {None}}
    t.conditions[AssetKey("clean")] = A.all_deps_match(A.missing().newly_true()).allow(["raw"])
    t.states.clear()
    t.tick()
    del t.view.materialized[(AssetKey("raw"), None)]
    assert t.tick({"raw"}) == {"clean": {None}}


def test_eager_keeps_to_the_latest_daily_partition() -> None:
    days = DailyPartitionsDefinition(start_date="2024-06-01")

    @asset(partitions_def=days)
    def upstream() -> None: ...

    @asset(partitions_def=days, automation_condition=A.eager())
    def daily(upstream: None) -> None: ...

    keys = ["2024-06-01", "2024-06-02", "2024-06-03"]
    view = DictView(AssetGraph([upstream, daily]))
    view.partitions = {upstream.key: keys, daily.key: keys}
    for k in keys:
        view.materialize("upstream", k)
        view.materialize("daily", k)
    t = Ticker(view, {"daily": daily.automation_condition})
    t.tick()
    for k in keys:
        view.materialize("upstream", k)
    assert t.tick({"upstream"}) == {"daily": {"2024-06-03"}}
    assert "in_latest_time_window (latest 2024-06-03): true (1/3 partitions)" in t.reason("daily")

    lookback = A.in_latest_time_window(timedelta(days=2)) & A.missing()
    view.materialized.clear()
    t2 = Ticker(view, {"daily": lookback})
    assert t2.tick() == {"daily": {"2024-06-02", "2024-06-03"}}


def test_automation_condition_is_type_checked_and_stored() -> None:
    with pytest.raises(DefinitionsError, match=r"asset .bad.*automation_condition"):

        @asset(automation_condition="eager")  # type: ignore[arg-type]
        def bad() -> None: ...

    with pytest.raises(DefinitionsError, match="asset spec 'ext'"):
        AssetSpec("ext", automation_condition=object())
    spec = AssetSpec("ext", automation_condition=A.on_missing())
    assert spec.automation_condition is not None

    from millrace import AssetCheckSpec, asset_check

    @asset_check(asset="ext", automation_condition=A.eager())
    def ok() -> None: ...

    assert ok.automation_condition is not None
    assert AssetCheckSpec("c", asset="ext", automation_condition=A.eager()).automation_condition
    with pytest.raises(DefinitionsError, match="check spec 'ext:c'"):
        AssetCheckSpec("c", asset="ext", automation_condition=1)


def test_the_condition_does_not_change_the_code_version() -> None:
    from millrace.versions.code import code_version_of

    def make(condition: AutomationCondition | None) -> object:
        @asset(automation_condition=condition)
        def same() -> int:
            return 1

        return same

    none, eager = make(None), make(A.eager())
    assert code_version_of(none, root=None) == code_version_of(eager, root=None)  # type: ignore[arg-type]


def test_state_is_json() -> None:
    import json

    t = eager_ticker()
    t.view.materialize("raw")
    t.tick({"raw"})
    for state in t.states.values():
        json.dumps(state.to_json())


def test_sensor_definition() -> None:
    from millrace import AutomationConditionSensorDefinition, DefaultSensorStatus, DefinitionsError

    sensor = AutomationConditionSensorDefinition("auto", target="*")
    assert sensor.minimum_interval_seconds == 30
    assert sensor.default_status is DefaultSensorStatus.STOPPED
    with pytest.raises(DefinitionsError, match="minimum_interval_seconds"):
        AutomationConditionSensorDefinition("auto", target="*", minimum_interval_seconds=0)


RAW_OK = AssetCheckKey(AssetKey("raw"), "raw_ok")


def _fan_in_ticker(
    partitions: list[str] | None, condition: AutomationCondition | None = None
) -> Ticker:
    """raw (with a blocking check, raw_ok) -> three assets under one condition (eager by
    default); all one-partition (the same key) or all unpartitioned."""
    from millrace import asset_check

    @asset_check(asset="raw", blocking=True)
    def raw_ok() -> None: ...

    graph = AssetGraph(
        [AssetSpec("raw"), *(AssetSpec(n, deps=["raw"]) for n in ("x", "y", "z"))],
        checks=[raw_ok],
    )
    view = DictView(graph)
    if partitions is not None:
        view.partitions = {k: partitions for k in [*graph.nodes, *graph.checks]}
    for name in ("raw", "x", "y", "z"):
        view.materialize(name, partitions[0] if partitions else None)
    # one object: dep outcomes are shared per condition node
    t = Ticker(view, dict.fromkeys("xyz", condition or A.eager()))
    t.tick()
    return t


def _scrub(reason: str) -> str:
    """A reason without the partition counts a partitioned asset's reasons add."""
    return re.sub(r" \([01]/1 partitions\)", "", reason)


FAST_PATH_CONDITIONS = [
    A.eager(),
    A.eager().without(A.in_latest_time_window()).replace("in_progress", A.run_in_progress()),
    A.any_deps_match(A.backfill_in_progress()) | A.in_progress().newly_true(),
    A.all_deps_blocking_checks_passed() & A.any_deps_updated().since_last_handled(),
    A.any_deps_match(A.any_checks_match(A.check_failed())),
    A.asset_matches("raw", A.newly_updated()) | A.asset_matches("x", A.in_progress()),
]


@pytest.mark.parametrize("condition", FAST_PATH_CONDITIONS, ids=repr)
def test_unpartitioned_fast_path_agrees_with_one_partition(condition: AutomationCondition) -> None:
    """Unpartitioned assets take a fast path (no partition sets): the same decisions, memory
    and reasons as assets with a single partition."""
    plain, one = _fan_in_ticker(None, condition), _fan_in_ticker(["p"], condition)
    steps: list[tuple[str, str | None]] = [
        ("raw", "update"),
        ("x", "run"),
        ("raw", "update"),
        ("raw", "pass"),
        ("raw", "missing"),
        ("x", "backfill"),
        ("raw", "update"),
        ("raw", "fail check"),
        ("y", "fail"),
        ("z", "missing"),
        ("raw", "update"),
        ("raw", "pass"),
    ]
    for name, what in steps:
        for t, p in ((plain, None), (one, "p")):
            key = (AssetKey(name), p)
            t.view.running.discard(key)
            t.view.backfilling.discard(key)
            if what == "update":
                t.view.materialize(name, p)
            elif what == "run":
                t.view.running.add(key)
            elif what == "backfill":
                t.view.backfilling.add(key)
            elif what in ("pass", "fail check"):
                t.view.evaluate_check(RAW_OK, what == "pass", p)
            elif what == "missing":
                t.view.materialized.pop(key, None)
            else:
                t.view.failed.add(key)
        got_plain = plain.tick({name})
        got_one = one.tick({name})
        assert {k: {"p" if v is None else v for v in vs} for k, vs in got_plain.items()} == got_one
        assert plain.last is not None and one.last is not None
        assert set(plain.last.evaluations) == set(one.last.evaluations)
        for n in "xyz":
            if AssetKey(n) in plain.last.evaluations:
                assert _scrub(plain.reason(n)) == _scrub(one.reason(n)), n
            memory = plain.states[AssetKey(n)].memory
            assert memory == {
                path: {"" if k == "p" else k: v for k, v in values.items()}
                for path, values in one.states[AssetKey(n)].memory.items()
            }


def test_a_dep_outcome_shared_by_its_readers_is_right_for_each() -> None:
    t = _fan_in_ticker(None)
    t.view.running.add((AssetKey("raw"), None))
    t.view.materialize("raw")
    assert t.tick({"raw"}) == {}
    for n in "xyz":
        assert "any_deps_in_progress (matched: raw): true" in t.reason(n)
    t.view.running.clear()
    assert t.tick({"raw"}) == {n: {None} for n in "xyz"}
    assert t.last is not None
    shared = [t.last.evaluations[AssetKey(n)].children[3].children[0].children[0] for n in "xyz"]
    assert all(s is shared[0] for s in shared)  # evaluated once for the three readers
    assert shared[0].label == "raw: in_progress" and not shared[0].true


# -- asset checks ----------------------------------------------------------------------------


def checks_graph() -> tuple[AssetGraph, AssetCheckKey, AssetCheckKey]:
    from millrace import asset_check

    @asset_check(asset="raw", blocking=True)
    def raw_fresh() -> None: ...

    @asset_check(asset="raw")
    def raw_rows() -> None: ...

    graph = AssetGraph([AssetSpec("raw")], checks=[raw_fresh, raw_rows])
    return graph, raw_fresh.key, raw_rows.key


class EntityTicker:
    """Evaluates conditions keyed by assets and checks, keeping states as the runtime does."""

    def __init__(self, view: DictView, conditions: dict[Any, AutomationCondition]) -> None:
        self.view = view
        self.conditions = conditions
        self.states: dict[Any, ConditionState] = {}
        self.last: EvaluationResult | None = None

    def tick(self, changed: Collection[Any] | None = None) -> dict[str, set[str | None]]:
        result = evaluate(self.conditions, self.view, self.states, changed)
        for key, state in result.states.items():
            self.states[key] = ConditionState.from_json(state.to_json())
        self.last = result
        return {k.to_user_string(): set(v) for k, v in result.requests.items()}


def test_an_eager_check_is_requested_once_after_its_asset_updates() -> None:
    graph, fresh, _ = checks_graph()
    view = DictView(graph)
    view.materialize("raw")
    t = EntityTicker(view, {fresh: A.eager()})
    assert t.tick() == {}  # the first evaluation takes note
    view.materialize("raw")
    assert t.tick({AssetKey("raw")}) == {"raw:raw_fresh": {None}}
    assert t.tick({AssetKey("raw")}) == {}  # newly_requested resets it
    view.running.add((fresh, None))
    view.materialize("raw")
    assert t.tick({AssetKey("raw")}) == {}  # the check is in progress: it waits
    view.running.clear()
    view.materialized[(fresh, None)] = 99  # it ran (in the asset's run): handled
    assert t.tick({fresh}) == {}


def test_a_check_on_a_cron_is_requested_at_each_tick() -> None:
    graph, fresh, _ = checks_graph()
    view = DictView(graph)
    t = EntityTicker(view, {fresh: A.cron_tick_passed("0 * * * *")})
    assert t.tick() == {}
    view.now = T0 + timedelta(minutes=30)
    assert t.tick() == {}
    view.now = T0 + timedelta(hours=1)
    assert t.tick() == {"raw:raw_fresh": {None}}
    view.now = T0 + timedelta(hours=1, minutes=5)
    assert t.tick() == {}


def test_any_and_all_checks_match_over_an_assets_checks() -> None:
    graph, fresh, rows = checks_graph()
    view = DictView(graph)
    view.materialize("raw")
    conditions: dict[Any, AutomationCondition] = {
        AssetKey("raw"): A.any_checks_match(A.execution_failed()),
    }
    t = EntityTicker(view, conditions)
    assert t.tick() == {}
    view.failed.add((rows, None))
    assert t.tick({rows}) == {"raw": {None}}  # a check's change re-evaluates its asset
    assert t.last is not None
    reason = t.last.evaluations[AssetKey("raw")].reason()
    assert "any_checks_match(execution_failed) (matched: raw:raw_rows): true" in reason
    assert "raw:raw_fresh: execution_failed: false" in reason

    blocking = EntityTicker(view, {AssetKey("raw"): A.any_checks_match(A.execution_failed(), True)})
    assert blocking.tick() == {}  # raw_rows is not blocking
    every = EntityTicker(view, {AssetKey("raw"): A.all_checks_match(A.execution_failed())})
    assert every.tick() == {}
    view.failed.add((fresh, None))
    assert every.tick() == {"raw": {None}}
    assert blocking.tick() == {"raw": {None}}


def test_checks_match_on_an_asset_without_checks_as_in_dagster() -> None:
    view = DictView(chain_graph())
    t = EntityTicker(
        view,
        {
            AssetKey("raw"): A.any_checks_match(A.missing()),  # none: false
            AssetKey("other"): A.all_checks_match(A.missing()),  # none: true
        },
    )
    assert t.tick() == {"other": {None}}


def test_a_partitioned_check_is_evaluated_per_partition() -> None:
    from millrace import asset_check

    daily = DailyPartitionsDefinition(start_date="2024-05-30")

    @asset(partitions_def=daily)
    def events() -> None: ...

    @asset_check(asset=events, partitions_def=daily)
    def events_ok() -> None: ...

    view = DictView(AssetGraph([events], checks=[events_ok]))
    days = ["2024-05-30", "2024-05-31"]
    view.partitions = {AssetKey("events"): days, events_ok.key: days}
    for day in days:
        view.materialize("events", day)
    t = EntityTicker(view, {events_ok.key: A.any_deps_match(A.newly_updated())})
    assert t.tick() == {}
    view.materialize("events", "2024-05-31")
    assert t.tick({AssetKey("events")}) == {"events:events_ok": {"2024-05-31"}}
    asset_level = EntityTicker(view, {AssetKey("events"): A.any_checks_match(A.missing())})
    assert asset_level.tick() == {"events": set(days)}
    view.materialized[(events_ok.key, "2024-05-30")] = 50
    assert asset_level.tick() == {"events": {"2024-05-31"}}


# -- check results, blocking checks, in progress, asset_matches, without, replace ----------


def test_check_passed_and_failed_hold_against_the_latest_materialization_only() -> None:
    graph, fresh, rows = checks_graph()
    view = DictView(graph)
    view.materialize("raw")
    passed = EntityTicker(view, {fresh: A.check_passed(), rows: A.check_failed()})
    assert passed.tick() == {}  # never evaluated: neither
    view.evaluate_check(fresh, True)
    view.evaluate_check(rows, False)
    assert passed.tick() == {"raw:raw_fresh": {None}, "raw:raw_rows": {None}}
    view.materialize("raw")  # the evaluations checked the previous materialization
    assert passed.tick() == {}
    view.evaluate_check(fresh, False)
    view.evaluate_check(rows, True)
    assert passed.tick() == {}
    swapped = EntityTicker(view, {fresh: A.check_failed(), rows: A.check_passed()})
    assert swapped.tick() == {"raw:raw_fresh": {None}, "raw:raw_rows": {None}}
    del view.check_results[(fresh, None)]  # its latest execution raised: neither
    assert swapped.tick() == {"raw:raw_rows": {None}}
    on_asset = EntityTicker(view, {AssetKey("raw"): A.check_passed() | A.check_failed()})
    assert on_asset.tick() == {}  # an asset has no check result


def blocking_graph() -> tuple[AssetGraph, AssetCheckKey, AssetCheckKey]:
    from millrace import asset_check

    @asset_check(asset="raw", blocking=True)
    def raw_fresh() -> None: ...

    @asset_check(asset="raw")
    def raw_rows() -> None: ...

    graph = AssetGraph(
        [AssetSpec("raw"), AssetSpec("clean", deps=["raw"])], checks=[raw_fresh, raw_rows]
    )
    return graph, raw_fresh.key, raw_rows.key


def test_all_deps_blocking_checks_passed_as_dagster_composes_it() -> None:
    condition = A.all_deps_blocking_checks_passed()
    assert condition.label == "all_deps_blocking_checks_passed"
    (blocking,) = condition.children
    assert blocking.label == "all_blocking_checks_passed"
    assert repr(blocking.children[0]) == repr(A.check_passed() | A.will_be_requested())

    graph, fresh, rows = blocking_graph()
    view = DictView(graph)
    view.materialize("raw")
    t = EntityTicker(view, {AssetKey("clean"): condition})
    assert t.tick() == {}
    view.evaluate_check(rows, False)  # not blocking: it does not count
    assert t.tick({rows}) == {}
    view.evaluate_check(fresh, True)
    assert t.tick({fresh}) == {"clean": {None}}  # a check's change reaches its downstream
    assert t.last is not None
    reason = t.last.evaluations[AssetKey("clean")].reason()
    assert reason.splitlines()[0] == "all_deps_blocking_checks_passed (matched: raw): true"
    assert "raw: all_blocking_checks_passed (matched: raw:raw_fresh): true" in reason
    view.materialize("raw")  # raw_fresh checked the previous materialization
    assert t.tick({AssetKey("raw")}) == {}


def test_a_blocking_check_requested_this_tick_counts_as_passed() -> None:
    graph, fresh, _ = blocking_graph()
    view = DictView(graph)
    view.materialize("raw")
    conditions: dict[Any, AutomationCondition] = {
        fresh: A.any_deps_match(A.newly_updated()),
        AssetKey("clean"): A.all_deps_blocking_checks_passed(),
    }
    t = EntityTicker(view, conditions)
    assert t.tick() == {}
    view.materialize("raw")
    # The check is evaluated before clean, which sees its request (will_be_requested).
    assert t.tick({AssetKey("raw")}) == {"raw:raw_fresh": {None}, "clean": {None}}


def test_in_progress_is_a_run_or_a_backfill_in_progress() -> None:
    cond = A.in_progress()
    assert cond.label == "in_progress"
    assert repr(cond) == repr(
        (A.run_in_progress() | A.backfill_in_progress()).with_label("in_progress")
    )
    view = DictView(chain_graph())
    t = Ticker(
        view,
        {
            "raw": A.in_progress(),
            "other": A.run_in_progress(),
            "clean": A.backfill_in_progress() & ~A.run_in_progress(),
        },
    )
    assert t.tick() == {}
    for name in ("raw", "other", "clean"):
        view.backfilling.add((AssetKey(name), None))
    assert t.tick() == {"raw": {None}, "clean": {None}}
    assert t.reason("raw").splitlines() == [
        "in_progress: true",
        "  run_in_progress: false",
        "  backfill_in_progress: true",
    ]
    view.backfilling.clear()
    view.running.add((AssetKey("raw"), None))
    view.running.add((AssetKey("other"), None))
    assert t.tick() == {"raw": {None}, "other": {None}}
    assert "  run_in_progress: true" in t.reason("raw").splitlines()


def test_eager_waits_for_an_upstream_backfill() -> None:
    t = eager_ticker()
    t.view.backfilling.add((AssetKey("other"), None))
    t.view.materialize("raw")
    assert t.tick({"raw"}) == {}
    assert "any_deps_in_progress (matched: other): true" in t.reason("clean")
    t.view.backfilling.clear()
    t.view.materialize("other")
    assert t.tick({"other"}) == {"clean": {None}}


def test_asset_matches_evaluates_the_condition_on_another_asset() -> None:
    view = DictView(chain_graph())
    view.materialize("raw")
    cond = A.asset_matches("other", A.missing())
    assert cond.children[0].name == "missing"
    t = Ticker(view, {"raw": cond, "clean": A.asset_matches(AssetKey("raw"), A.missing())})
    assert t.tick() == {"raw": {None}}
    assert t.reason("raw").splitlines() == ["other: true", "  missing: true"]
    view.materialize("other")
    # other is not upstream of raw: its change still re-evaluates raw's condition
    assert t.tick({"other"}) == {}
    assert t.last is not None and AssetKey("raw") in t.last.evaluations


def test_asset_matches_maps_partitions_along_the_dependency() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-05-30")

    @asset(partitions_def=daily)
    def events() -> None: ...

    @asset(partitions_def=daily, deps=[events])
    def daily_report() -> None: ...

    @asset(deps=[events])
    def summary() -> None: ...

    @asset(partitions_def=daily)
    def same_days() -> None: ...

    @asset(partitions_def=DailyPartitionsDefinition(start_date="2024-05-31"))
    def fewer_days() -> None: ...

    days = ["2024-05-30", "2024-05-31"]
    view = DictView(AssetGraph([events, daily_report, summary, same_days, fewer_days]))
    view.partitions = {AssetKey(n): days for n in ("events", "daily_report", "same_days")}
    view.partitions[AssetKey("fewer_days")] = days[1:]
    view.materialize("events", "2024-05-31")
    missing_events = A.asset_matches("events", A.missing())
    t = Ticker(
        view,
        {"daily_report": missing_events, "summary": missing_events, "same_days": missing_events},
    )
    # per partition along the mapping or the identity; an unpartitioned target reads them all
    assert t.tick() == {
        "daily_report": {"2024-05-30"},
        "summary": {None},
        "same_days": {"2024-05-30"},
    }
    view.materialize("events", "2024-05-30")
    assert t.tick() == {}
    with pytest.raises(ValueError, match="is not one of its upstreams"):
        Ticker(view, {"fewer_days": missing_events}).tick()
    with pytest.raises(ValueError, match="no such asset"):
        Ticker(view, {"summary": A.asset_matches("nowhere", A.missing())}).tick()


def test_without_removes_operands_and_keeps_the_label() -> None:
    eager = A.eager()
    lenient = eager.without(A.in_latest_time_window())
    assert lenient.label == "eager"
    assert len(lenient.operands) == 4 and len(eager.operands) == 5
    assert repr(lenient.operands[0]) == repr(eager.operands[1])
    both = eager.without(~A.any_deps_missing(), ~A.in_progress())
    assert [o.title for o in both.operands] == [
        "in_latest_time_window",
        "(newly_missing or any_deps_updated) since (handled)",
        "not any_deps_in_progress",
    ]
    with pytest.raises(ValueError, match="Condition not found in operands"):
        eager.without(A.missing())
    with pytest.raises(ValueError, match="fewer than 2 operands"):
        (A.missing() & A.in_progress()).without(A.missing())

    # without in_latest_time_window, eager requests every updated partition, not the latest
    daily = DailyPartitionsDefinition(start_date="2024-05-30")

    @asset(partitions_def=daily)
    def raw() -> None: ...

    @asset(partitions_def=daily, deps=[raw])
    def clean() -> None: ...

    days = ["2024-05-30", "2024-05-31"]
    view = DictView(AssetGraph([raw, clean]))
    view.partitions = {AssetKey("raw"): days, AssetKey("clean"): days}
    for name in ("raw", "clean"):
        for day in days:
            view.materialize(name, day)
    t = Ticker(view, {"clean": lenient})
    latest = Ticker(view, {"clean": A.eager()})
    assert t.tick() == {} and latest.tick() == {}
    for day in days:
        view.materialize("raw", day)
    assert t.tick({"raw"}) == {"clean": set(days)}
    assert latest.tick({"raw"}) == {"clean": {"2024-05-31"}}


def test_replace_swaps_nodes_by_condition_label_or_name() -> None:
    on_missing = A.on_missing()
    wider = on_missing.replace(A.in_latest_time_window(), A.in_latest_time_window(timedelta(2)))
    assert wider.label == "on_missing"
    assert wider.children[0].name == "in_latest_time_window(2 days, 0:00:00)"
    assert repr(wider.children[1:]) == repr(on_missing.children[1:])
    assert on_missing.replace(A.code_version_changed(), A.missing()) is on_missing

    by_label = A.eager().replace("in_progress", A.run_in_progress())
    assert "backfill_in_progress" not in repr(by_label)
    assert "backfill_in_progress" in repr(A.eager())
    assert by_label.label == "eager"

    by_name = (A.missing() & ~A.missing()).replace("missing", A.in_progress())
    assert repr(by_name) == repr(A.in_progress() & ~A.in_progress())
    # an operator's name is not what replace matches (Dagster's: "AND", "OR", "NOT")
    cond = A.missing() | A.in_progress()
    assert cond.replace(cond.name, A.missing()) is cond
    assert cond.replace(cond, A.missing()).name == "missing"

    # replacing inside since(), deps and the preset's memory still works when evaluated
    t = eager_ticker()
    t.conditions[AssetKey("clean")] = A.eager().replace("any_deps_updated", A.any_deps_missing())
    t.tick()
    t.view.materialized.pop((AssetKey("raw"), None))
    assert t.tick({"raw"}) == {}  # the trigger holds; "not any_deps_missing" does not
    assert "(newly_missing or any_deps_missing) since (handled)" in t.reason("clean")


def test_the_runtime_view_tells_backfill_runs_from_other_runs() -> None:
    from millrace.events import RunFinished, RunOrigin, RunStarted, StepStarted
    from millrace.runtime.declarative import CacheView
    from millrace.runtime.status_cache import StatusCache

    raw, clean = AssetKey("raw"), AssetKey("clean")
    cache = StatusCache()
    cache.start_run("b", [(raw, None)])  # the runtime holds a run's plan, then feeds its start
    cache.on_event(RunStarted(run_id="b", origin=RunOrigin.BACKFILL))
    cache.on_event(StepStarted(run_id="b", asset_key=clean))
    cache.start_run("m", [(raw, None)])
    cache.on_event(RunStarted(run_id="m", origin=RunOrigin.MANUAL))

    def view() -> CacheView:
        return CacheView(chain_graph(), cache, T0, {}, {(AssetKey("other"), None)}, None)

    assert [view().run_in_progress(k, None) for k in (raw, clean, AssetKey("other"))] == [
        True,
        True,
        True,  # queued
    ]
    assert [view().backfill_in_progress(k, None) for k in (raw, clean)] == [True, True]
    assert not view().backfill_in_progress(AssetKey("other"), None)  # queued: origin unknown
    # Re-seeded from the store's rows, the backfill runs the old cache knew stay backfills.
    reseeded = StatusCache()
    reseeded.seed([], [], [("b", "raw", ""), ("m", "clean", "")], [], cache.backfill_runs)
    assert reseeded.in_backfill == {(raw, None): 1}
    cache.on_event(RunFinished(run_id="b"))
    assert not view().backfill_in_progress(raw, None) and view().run_in_progress(raw, None)
    assert not view().run_in_progress(clean, None)
    assert cache.backfill_runs == frozenset()
