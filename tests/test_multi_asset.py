"""``@multi_asset``: one function, several assets, as Dagster documents it.

Each output is an asset of its own (key, IO manager, group, code version, metadata); the
function runs once for the outputs a run selects; a subsettable one runs for a subset.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import millrace as dg
import pytest
from conftest import stored_value
from millrace.errors import DefinitionsError
from millrace.runtime.runtime import Runtime


def keys(*names: str) -> set[dg.AssetKey]:
    return {dg.AssetKey(n) for n in names}


def materialized(result: dg.RunResult) -> list[str]:
    return sorted(k.to_user_string() for k in result.materialized_keys)


def by_key(result: dg.RunResult, kind: str) -> dict[str, object]:
    return {e.asset_key.to_user_string(): e for e in result.all_events if e.kind == kind}


@dg.asset
def numbers() -> list[int]:
    return [1, 2, 3, 4, 5]


calls: list[str] = []


@dg.multi_asset(
    outs={
        "evens": dg.AssetOut(group_name="split", code_version="e1", metadata={"parity": 0}),
        "odds": dg.AssetOut(key_prefix=["parts"], io_manager_key="memory", description="odd"),
    }
)
def split(context: dg.AssetExecutionContext, numbers: list[int]) -> tuple[list[int], list[int]]:
    calls.append("split")
    context.add_output_metadata({"count": 3}, output_name="odds")
    return [n for n in numbers if n % 2 == 0], [n for n in numbers if n % 2]


@dg.asset(ins={"odds": dg.AssetIn(key=["parts", "odds"])})
def total(evens: list[int], odds: list[int]) -> int:
    return sum(evens) * 100 + sum(odds)


def run(*assets: object, **kwargs: object) -> dg.RunResult:
    kwargs.setdefault("resources", {"memory": dg.InMemoryIOManager()})
    return dg.materialize(list(assets), **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def no_calls() -> None:
    calls.clear()


def test_each_output_is_an_asset_with_its_own_attributes():
    defs = dg.Definitions(
        assets=[numbers, split, total], resources={"memory": dg.InMemoryIOManager()}
    )
    graph = defs.get_asset_graph()
    evens, odds = graph.nodes[dg.AssetKey("evens")], graph.nodes[dg.AssetKey(["parts", "odds"])]

    assert split.keys == keys("evens") | {dg.AssetKey(["parts", "odds"])}
    assert (evens.group_name, evens.code_version, evens.io_manager_key) == (
        "split",
        "e1",
        "io_manager",
    )
    assert evens.metadata["parity"].value == 0
    assert (odds.group_name, odds.io_manager_key, odds.description) == ("default", "memory", "odd")
    assert graph.upstream[dg.AssetKey("evens")] == (dg.AssetKey("numbers"),)
    assert set(graph.upstream[dg.AssetKey("total")]) == {evens.key, odds.key}
    with pytest.raises(
        DefinitionsError, match=r"has several keys \(evens, parts/odds\); use \.keys"
    ):
        _ = split.key


def test_one_call_stores_each_output_through_its_own_io_manager(home: Path):
    memory = dg.InMemoryIOManager()
    result = run(numbers, split, total, resources={"memory": memory})

    assert result.success and calls == ["split"]
    assert materialized(result) == ["evens", "numbers", "parts/odds", "total"]
    assert stored_value(home, "evens") == [2, 4]  # the default IO manager, in the store
    with pytest.raises(AssertionError, match="no stored value for parts/odds"):
        stored_value(home, "parts/odds")  # the in-memory one kept it instead
    assert stored_value(home, "total") == 609
    events = by_key(result, "ASSET_MATERIALIZED")
    assert events["parts/odds"].metadata["count"].value == 3  # type: ignore[attr-defined]
    assert "count" not in events["evens"].metadata  # type: ignore[attr-defined]
    assert events["evens"].code_version == "e1"  # type: ignore[attr-defined]


def test_selecting_one_output_of_a_multi_asset_that_cannot_subset_runs_them_all():
    run(numbers)
    result = run(numbers, split, selection=["parts/odds"])

    assert result.success and calls == ["split"]
    assert materialized(result) == ["evens", "parts/odds"]


@dg.multi_asset(
    specs=[
        dg.AssetSpec("left", skippable=True),
        dg.AssetSpec("right", deps=["numbers"], skippable=True),
        dg.AssetSpec("both", deps=["left", "right"]),
    ],
    check_specs=[dg.AssetCheckSpec("positive", asset="left")],
    can_subset=True,
)
def subsettable(context: dg.AssetExecutionContext):
    calls.append(",".join(sorted(context.selected_output_names)))
    for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
        if key == dg.AssetKey("right"):
            continue  # optional: it may not be produced
        yield dg.MaterializeResult(key, metadata={"made": key.to_user_string()})
    if dg.AssetCheckKey(dg.AssetKey("left"), "positive") in context.selected_asset_check_keys:
        yield dg.AssetCheckResult(passed=True)


@dg.asset(deps=["right"])
def after_right() -> int:
    return 1


def test_a_subsettable_multi_asset_runs_for_the_selected_outputs_only():
    result = run(numbers, subsettable, after_right, selection=["left"])

    assert result.success and calls == ["left"]
    assert materialized(result) == ["left"]
    assert by_key(result, "ASSET_MATERIALIZED")["left"].metadata["made"].value == "left"  # type: ignore[attr-defined]
    [check] = result.get_asset_check_evaluations()
    assert (check.asset_key, check.check_name, check.passed) == (
        dg.AssetKey("left"),
        "positive",
        True,
    )


def test_an_optional_output_not_produced_skips_its_downstream_and_the_run_succeeds():
    run(numbers)
    result = run(numbers, subsettable, after_right, selection=["right", "both", "after_right"])

    assert result.success, result
    assert calls == ["both,right"]
    assert materialized(result) == ["both"]
    skipped = {e.asset_key.to_user_string(): e.reason for e in result.get_step_skipped_events()}
    assert skipped == {
        "right": "subsettable did not produce it (an optional output)",
        "after_right": "upstream right was not produced",
    }


def test_internal_asset_deps_narrow_each_outputs_lineage():
    @dg.asset
    def a() -> int:
        return 1

    @dg.asset
    def b() -> int:
        return 2

    @dg.multi_asset(
        outs={"from_a": dg.AssetOut(), "from_b": dg.AssetOut()},
        internal_asset_deps={"from_a": {dg.AssetKey("a")}, "from_b": {dg.AssetKey("b")}},
    )
    def pair(a: int, b: int):
        yield dg.Output(a * 10, output_name="from_a", metadata={"src": "a"})
        yield dg.Output(b * 10, output_name="from_b", data_version=dg.DataVersion("v-b"))

    graph = dg.Definitions(assets=[a, b, pair]).get_asset_graph()
    assert graph.upstream[dg.AssetKey("from_a")] == (dg.AssetKey("a"),)
    assert graph.upstream[dg.AssetKey("from_b")] == (dg.AssetKey("b"),)

    result = dg.materialize_to_memory([a, b, pair])
    assert (result.asset_value("from_a"), result.asset_value("from_b")) == (10, 20)
    events = by_key(result, "ASSET_MATERIALIZED")
    assert events["from_a"].metadata["src"].value == "a"  # type: ignore[attr-defined]
    [read] = events["from_a"].inputs  # type: ignore[attr-defined]
    assert read.asset_key == dg.AssetKey("a")  # its provenance names only what it depends on
    assert events["from_b"].data_version != events["from_a"].data_version  # type: ignore[attr-defined]


def test_a_required_output_not_produced_fails_every_output_and_keeps_earlier_data(home: Path):
    run(numbers, split, total)

    @dg.multi_asset(
        name="split", outs={"evens": dg.AssetOut(), "odds": dg.AssetOut(key_prefix=["parts"])}
    )
    def edited(numbers: list[int]):  # the edited function forgets one output
        yield dg.Output([0], output_name="evens")

    result = run(numbers, edited, total, raise_on_error=False)

    assert not result.success
    failed = {
        e.asset_key.to_user_string(): e.error.message for e in result.get_step_failure_events()
    }
    assert set(failed) == {"evens", "parts/odds"}
    assert "did not produce its output 'odds' (asset 'parts/odds')" in failed["evens"]
    assert failed["parts/odds"] == failed["evens"]
    assert {e.asset_key.to_user_string() for e in result.get_step_skipped_events()} == {"total"}
    assert stored_value(home, "evens") == [2, 4]  # the failed call stored nothing
    assert stored_value(home, "total") == 609


def test_outputs_are_type_checked_per_position_and_per_dagster_type():
    @dg.multi_asset(outs={"x": dg.AssetOut(), "y": dg.AssetOut()})
    def typed() -> tuple[int, dg.Output[str]]:
        return 1, dg.Output(2)  # type: ignore[arg-type]

    result = dg.materialize_to_memory([typed], raise_on_error=False)
    failures = {e.asset_key.to_user_string(): e.error for e in result.get_step_failure_events()}
    assert set(failures) == {"x", "y"}  # one call: both outputs fail with it
    assert "asset 'y': return value" in failures["x"].message
    assert "str" in failures["x"].message


def test_an_async_multi_asset_yields_its_outputs():
    @dg.multi_asset(outs={"first": dg.AssetOut(), "second": dg.AssetOut()})
    async def fetched():
        await asyncio.sleep(0)
        yield dg.Output("one", output_name="first")
        yield dg.Output("two", output_name="second")

    result = dg.materialize_to_memory([fetched])
    assert (result.asset_value("first"), result.asset_value("second")) == ("one", "two")


async def test_early_cutoff_skips_the_call_only_when_every_output_is_up_to_date(home: Path):
    defs = dg.Definitions(
        assets=[numbers, split, total], resources={"memory": dg.InMemoryIOManager()}
    )
    async with Runtime(defs, home=home) as rt:
        first = await rt.submit()
        again = await rt.submit(plan=rt.plan(early_cutoff=True))

    assert first.success and again.success
    assert calls == ["split"]  # the second run computed nothing
    cut = {e.asset_key.to_user_string() for e in again.all_events if e.kind == "STEP_UP_TO_DATE"}
    assert cut == {"numbers", "evens", "parts/odds", "total"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, r"pass outs=\{name: AssetOut\(...\)\} or specs=\[...\]"),
        ({"outs": {"a": dg.AssetOut()}, "specs": [dg.AssetSpec("a")]}, "pass outs="),
        ({"outs": {"a": "nope"}}, r"outs\['a'\] is str; expected AssetOut"),
        (
            {"outs": {"a": dg.AssetOut(key="k"), "b": dg.AssetOut(key="k")}},
            "two outputs have the key 'k'",
        ),
        ({"outs": {"a": dg.AssetOut(group_name="g")}, "group_name": "h"}, "set it in one place"),
        ({"outs": {"a": dg.AssetOut()}, "internal_asset_deps": {"b": set()}}, "names output 'b'"),
        (
            {"outs": {"a": dg.AssetOut()}, "check_specs": [dg.AssetCheckSpec("c", asset="z")]},
            "check_spec 'c' is for asset 'z', which is not one of its outputs",
        ),
    ],
)
def test_bad_declarations_name_the_function_and_line(kwargs: dict[str, object], message: str):
    with pytest.raises(DefinitionsError, match=message) as caught:

        @dg.multi_asset(**kwargs)  # type: ignore[arg-type]
        def bad() -> None: ...

    assert "multi_asset 'bad' (" in str(caught.value) and "test_multi_asset.py:" in str(
        caught.value
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return 1, 2, 3", "returned a tuple of 3 values for its 2 outputs (a, b)"),
        (
            "yield dg.Output(1, output_name='c')",
            "yielded Output(output_name='c'), which is not one",
        ),
        (
            "yield dg.MaterializeResult()",
            "has several outputs: give its MaterializeResult an asset_key",
        ),
        ("return 5", "returned a int: with several outputs"),
    ],
)
def test_what_a_call_produces_must_name_its_outputs(body: str, message: str):
    namespace: dict[str, object] = {"dg": dg}
    exec(f"def fn():\n    {body}\n", namespace)
    pair = dg.multi_asset(outs={"a": dg.AssetOut(), "b": dg.AssetOut()})(namespace["fn"])  # type: ignore[arg-type]

    result = dg.materialize_to_memory([pair], raise_on_error=False)

    [failure, _] = result.get_step_failure_events()
    assert message in failure.error.message


def test_a_multi_asset_called_directly_gets_a_context_with_every_output_selected():
    @dg.multi_asset(outs={"one": dg.AssetOut(), "two": dg.AssetOut()})
    def both(context: dg.AssetExecutionContext, base: int):
        keys = sorted(k.to_user_string() for k in context.selected_asset_keys)
        return keys, sorted(context.selected_output_names)

    assert both(dg.build_asset_context(), base=1) == (["one", "two"], ["one", "two"])
    with pytest.raises(dg.DagsterInvalidInvocationError, match="multi_asset 'both'"):
        both(dg.build_asset_context())  # its input is missing
