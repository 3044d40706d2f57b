"""``Output[T]`` and ``MaterializeResult[T]`` as return annotations (issue: "type 'Output' is
not subscriptable" at import): ``T`` is checked at run time like any other annotation."""

from __future__ import annotations

import sys
from pathlib import Path

import millrace as dg
import pytest
from millrace.runtime.loader import load_code_location


@dg.asset
def numbers() -> dg.Output[list[int]]:
    return dg.Output([1, 2, 3], metadata={"n": 3})


def test_output_of_t_stores_the_value_and_its_metadata():
    result = dg.materialize_to_memory([numbers])

    assert result.asset_value("numbers") == [1, 2, 3]
    [event] = result.get_asset_materialization_events()
    assert event.metadata["n"].value == 3


def test_a_value_that_is_not_t_fails_the_step_naming_the_annotation():
    @dg.asset
    def wrong() -> dg.Output[list[int]]:
        return dg.Output(["a"])  # type: ignore[list-item]

    result = dg.materialize_to_memory([wrong], raise_on_error=False)

    [failure] = result.get_step_failure_events()
    assert failure.error.type == "TypeCheckError"
    assert "asset 'wrong': return value" in failure.error.message
    assert "int" in failure.error.message


def test_materialize_result_of_t_is_an_annotation_that_stores_nothing():
    @dg.asset
    def external_table() -> dg.MaterializeResult[None]:
        return dg.MaterializeResult(metadata={"rows": 10})

    result = dg.materialize_to_memory([external_table])

    assert result.success
    [event] = result.get_asset_materialization_events()
    assert event.metadata["rows"].value == 10


def test_the_annotation_survives_postponed_evaluation_in_a_user_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "typed", raising=False)  # and forgotten after the test

    (tmp_path / "typed.py").write_text(
        "from __future__ import annotations\n"
        "import millrace as dg\n\n"
        "@dg.asset\n"
        "def counts() -> dg.Output[dict[str, int]]:\n"
        "    return dg.Output({'a': 1})\n"
    )
    defs = load_code_location(tmp_path / "typed.py").defs
    monkeypatch.delitem(sys.modules, "typed")

    assert defs.get_assets_def("counts").output_annotation == dict[str, int]
