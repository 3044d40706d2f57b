"""``@graph_asset`` composing ``@op``s, as Dagster documents it: the ops run in order inside
the asset's one step, an op's outputs feed the next, and the asset's code version covers every
op it calls."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import millrace as dg
import pytest
from conftest import Db, stored_value, write_source
from millrace.versions.code import code_versions


@dg.asset
def raw_numbers() -> list[int]:
    return [3, -1, 4, -1, 5]


@dg.op
def drop_negative(numbers: list[int]) -> list[int]:
    return [n for n in numbers if n >= 0]


@dg.op(out={"low": dg.Out(), "high": dg.Out()})
def split_at_four(numbers: list[int]) -> tuple[list[int], list[int]]:
    return [n for n in numbers if n < 4], [n for n in numbers if n >= 4]


class Scale(dg.Config):
    factor: int = 10


@dg.op
def combine(context: dg.OpExecutionContext, config: Scale, low: list[int], high: list[int]):
    context.log.info(f"combining {len(low)} and {len(high)}")
    return sum(low) + config.factor * sum(high)


@dg.graph_asset(group_name="graphs")
def score(raw_numbers: list[int]) -> int:
    """Low numbers count once, high ones ten times."""
    low, high = split_at_four(drop_negative(raw_numbers))
    return combine(low, high)


def test_the_ops_run_in_order_in_one_step_and_the_asset_stores_the_last_output(home: Path, db: Db):
    result = dg.materialize([raw_numbers, score])

    assert result.success
    assert stored_value(home, "score") == 3 + 10 * (4 + 5)
    steps = [e.asset_key.to_user_string() for e in result.all_events if e.kind == "STEP_STARTED"]
    assert steps == ["raw_numbers", "score"]
    logs = [
        json.loads(p)["message"]
        for (p,) in db.rows("SELECT payload FROM events WHERE type = 'LOG'")
    ]
    assert "combining 1 and 2" in logs  # an op's context.log is its asset's log
    node = dg.Definitions(assets=[raw_numbers, score]).graph.nodes[dg.AssetKey("score")]
    assert node.group_name == "graphs" and node.description.startswith("Low numbers")
    assert node.upstream_keys == (dg.AssetKey("raw_numbers"),)
    assert node.source is not None and node.source.file == __file__


class Counter(dg.ConfigurableResource):
    start: int


class Needed(dg.Config):
    threshold: int


def test_an_op_called_twice_runs_twice_and_resources_reach_the_ops():
    calls: list[str] = []

    @dg.op
    def bump(counter: Counter, value: int) -> int:
        calls.append("bump")
        return value + counter.start

    @dg.asset
    def one() -> int:
        return 1

    @dg.graph_asset
    def twice(one: int) -> int:
        return bump(bump(one))

    result = dg.materialize_to_memory([one, twice], resources={"counter": Counter(start=5)})

    assert result.asset_value("twice") == 11 and calls == ["bump", "bump"]


def test_an_op_retries_under_its_policy_inside_the_step():
    attempts: list[int] = []

    @dg.op(retry_policy=dg.RetryPolicy(max_retries=2))
    def flaky() -> int:
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionError("not yet")
        return 7

    @dg.graph_asset
    def fetched() -> int:
        return flaky()

    result = dg.materialize_to_memory([fetched])

    assert result.asset_value("fetched") == 7 and len(attempts) == 3


def test_a_failing_op_fails_the_asset_naming_the_error():
    @dg.op
    def broken(numbers: list[int]) -> int:
        raise ValueError("bad numbers")

    @dg.graph_asset
    def failing(raw_numbers: list[int]) -> int:
        return broken(raw_numbers)

    result = dg.materialize([raw_numbers, failing], raise_on_error=False)

    [failure] = result.get_step_failure_events()
    assert failure.asset_key == dg.AssetKey("failing") and "bad numbers" in failure.error.message


def test_an_op_called_directly_is_its_function():
    assert drop_negative([1, -2]) == [1]
    assert score(dg.build_asset_context(), raw_numbers=[5]) == 50


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("return 3", "must return one op's output (the asset's value), got int"),
        ("return drop_negative(5)", "input 'numbers' got int: inside a graph asset"),
        ("return drop_negative()", "needs its input 'numbers'"),
        ("return drop_negative(raw, raw)", "takes 1 inputs (numbers), got 2"),
    ],
)
def test_a_bad_composition_names_the_graph_asset(body: str, message: str):
    namespace: dict[str, Any] = {"drop_negative": drop_negative}
    exec(f"def composed(raw):\n    {body}\n", namespace)

    with pytest.raises(dg.DefinitionsError, match="graph_asset 'composed'") as caught:
        dg.graph_asset(namespace["composed"])
    assert message in str(caught.value)


def test_an_op_with_required_config_is_refused():
    @dg.op
    def gated(config: Needed) -> int:
        return config.threshold

    with pytest.raises(dg.DefinitionsError, match="Config with required fields"):

        @dg.graph_asset
        def gated_asset() -> int:
            return gated()


GRAPH = """
    from millrace import graph_asset, op

    @op
    def step(x):
        return x + {increment}

    @op
    def other(x):
        return x

    @graph_asset
    def composed(upstream):
        return other(step(upstream))
"""


def test_an_edit_to_an_op_changes_the_graph_assets_code_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    package = f"graphs_{uuid.uuid4().hex[:8]}"
    write_source(tmp_path / package / "__init__.py", "")

    def version(increment: int) -> str:
        write_source(tmp_path / package / "g.py", GRAPH.format(increment=increment))
        for name in [n for n in sys.modules if n.startswith(package + ".")]:
            del sys.modules[name]
        importlib.invalidate_caches()
        module = importlib.import_module(f"{package}.g")
        found = code_versions([module.composed], root=tmp_path)
        return found[module.composed.key].value

    first, same, edited = version(1), version(1), version(2)
    assert first == same and edited != first
