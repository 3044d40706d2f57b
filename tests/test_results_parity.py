"""Dagster's accessors on run results (``materialize``, ``execute_in_process``) and on
Definitions (``load_asset_value``, ``get_assets_def``, ``merge``, ``validate_loadable``)."""

from __future__ import annotations

import millrace as dg
import pandas as pd
import polars as pl
import pytest
from millrace import (
    AssetCheckKey,
    AssetCheckResult,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    Output,
    StaticPartitionsDefinition,
    asset,
    asset_check,
    define_asset_job,
    materialize,
    materialize_to_memory,
)
from millrace.events import AssetMaterialized, StepFailed

REGIONS = StaticPartitionsDefinition(["north", "south"])


@asset(key_prefix=["sales", "eu"])
def totals() -> Output[pl.DataFrame]:
    frame = pl.DataFrame({"region": ["a", "b"], "amount": [3, 4]})
    return Output(frame, metadata={"rows": MetadataValue.int(frame.height)})


@asset(deps=[totals])
def report() -> MaterializeResult:
    return MaterializeResult(metadata={"pages": 2})


@asset(partitions_def=REGIONS)
def regional(context) -> str:
    return f"sales of {context.partition_key}"


def test_materialization_events_are_shaped_as_dagsters() -> None:
    result = materialize([totals, report])

    first, second = result.get_asset_materialization_events()
    assert isinstance(first, AssetMaterialized)  # still ours, for Millrace's own code
    assert first.event_type_value == "ASSET_MATERIALIZATION"
    assert first.is_step_materialization and not first.is_step_failure
    assert first.asset_key == AssetKey(["sales", "eu", "totals"])
    assert first.step_key == "sales__eu__totals"
    assert first.materialization.metadata["rows"] == MetadataValue.int(2)
    assert first.step_materialization_data.materialization.asset_key == first.asset_key
    assert first.event_specific_data.materialization.partition is None
    assert second.step_key == "report"
    assert second.materialization.metadata["pages"].value == 2


def test_a_partitions_materialization_names_its_partition() -> None:
    result = materialize([regional], partition_key="south")

    (event,) = result.get_asset_materialization_events()
    assert event.partition == "south"
    assert event.materialization.partition == "south"
    assert result.asset_value("regional") == "sales of south"
    assert result.asset_value("regional", partition_key="south") == "sales of south"


def test_all_events_and_the_run() -> None:
    result = materialize([totals, report])

    kinds = [e.event_type_value for e in result.all_events if e.event_type_value != "ENGINE_EVENT"]
    assert kinds[0] == "PIPELINE_START" and kinds[-1] == "PIPELINE_SUCCESS"
    assert kinds.count("STEP_START") == kinds.count("STEP_SUCCESS") == 2
    assert kinds.count("ASSET_MATERIALIZATION") == 2
    assert {e.run_id for e in result.all_events} == {result.run_id}
    assert result.dagster_run.run_id == result.run_id
    assert result.dagster_run.status is dg.DagsterRunStatus.SUCCESS
    assert [e.step_key for e in result.get_step_success_events()] == ["sales__eu__totals", "report"]
    assert result.get_job_success_event().is_job_success
    with pytest.raises(dg.DagsterInvariantViolationError, match="ended SUCCESS"):
        result.get_job_failure_event()
    report_kinds = [e.event_type_value for e in result.events_for_node("report")]
    assert report_kinds == ["STEP_START", "ASSET_MATERIALIZATION", "STEP_SUCCESS"]
    failures = result.filter_events(lambda e: e.is_step_failure)
    assert failures == []


def test_a_failed_run() -> None:
    @asset
    def broken() -> int:
        raise ValueError("bad input")

    @asset
    def after(broken: int) -> int:
        return broken

    result = materialize([broken, after], raise_on_error=False)

    assert not result.success
    assert result.dagster_run.status is dg.DagsterRunStatus.FAILURE
    (failure,) = result.get_step_failure_events()
    assert isinstance(failure, StepFailed)
    assert failure.step_failure_data.error.message == "ValueError: bad input\n"
    assert failure.step_failure_data.user_failure_data is None
    assert result.get_failed_step_keys() == {"broken"}
    (skipped,) = result.get_step_skipped_events()
    assert skipped.is_step_skipped and skipped.message == "upstream broken failed"
    assert result.all_events[-1].is_job_failure


def test_output_for_node_and_asset_materializations_for_node() -> None:
    result = materialize([totals, report])

    frame = result.output_for_node("sales__eu__totals")
    assert frame.to_dict(as_series=False) == {"region": ["a", "b"], "amount": [3, 4]}
    assert result.output_for_node("sales__eu__totals", output_name="result") is frame
    with pytest.raises(dg.DagsterInvariantViolationError, match="no output 'other'"):
        result.output_for_node("sales__eu__totals", output_name="other")
    with pytest.raises(dg.DagsterInvariantViolationError, match="'report'"):
        result.output_for_node("report")  # MaterializeResult: no value to hand back

    (materialization,) = result.asset_materializations_for_node("sales__eu__totals")
    assert isinstance(materialization, dg.AssetMaterialization)
    assert materialization.asset_key == AssetKey(["sales", "eu", "totals"])
    assert materialization.metadata["rows"].value == 2
    assert result.asset_materializations_for_node("nope") == []


def test_asset_check_evaluations() -> None:
    @asset
    def stock() -> int:
        return 5

    @asset_check(asset=stock)
    def non_negative(stock: int) -> AssetCheckResult:
        return AssetCheckResult(passed=stock >= 0, metadata={"stock": stock})

    result = materialize_to_memory([stock, non_negative])

    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.event_type_value == "ASSET_CHECK_EVALUATION"
    assert evaluation.asset_check_key == AssetCheckKey(AssetKey("stock"), "non_negative")
    assert evaluation.passed and evaluation.metadata["stock"].value == 5
    assert evaluation.step_key == "stock_non_negative"


def test_execute_in_process_gives_the_same_result() -> None:
    job = define_asset_job("nightly", selection=[totals])
    defs = Definitions(assets=[totals, report], jobs=[job])

    result = defs.get_job_def("nightly").execute_in_process()

    assert result.success
    assert result.dagster_run.job_name == "nightly"
    assert result.dagster_run.tags["dagster/job_name"] == "nightly"
    assert result.output_for_node("sales__eu__totals")["amount"].to_list() == [3, 4]
    assert [e.step_key for e in result.get_asset_materialization_events()] == ["sales__eu__totals"]


# -- Definitions -------------------------------------------------------------------------------


def test_load_asset_value_reads_what_materialize_stored() -> None:
    defs = Definitions(assets=[totals, report, regional])
    materialize([totals])
    materialize([regional], partition_key="north")

    frame = defs.load_asset_value(["sales", "eu", "totals"])
    assert isinstance(frame, pl.DataFrame) and frame["amount"].to_list() == [3, 4]
    as_pandas = defs.load_asset_value(AssetKey(["sales", "eu", "totals"]), python_type=pd.DataFrame)
    assert isinstance(as_pandas, pd.DataFrame) and list(as_pandas["amount"]) == [3, 4]
    assert defs.load_asset_value("regional", partition_key="north") == "sales of north"


def test_load_asset_value_says_what_is_missing() -> None:
    defs = Definitions(assets=[totals, regional])
    with pytest.raises(dg.DagsterInvariantViolationError, match="regional' is partitioned"):
        defs.load_asset_value("regional")
    with pytest.raises(dg.DagsterInvariantViolationError, match="not partitioned"):
        defs.load_asset_value(["sales", "eu", "totals"], partition_key="north")
    with pytest.raises(dg.DagsterInvariantViolationError, match="materialize it first"):
        defs.load_asset_value("regional", partition_key="south")
    with pytest.raises(dg.DagsterInvariantViolationError, match="did you mean 'regional'"):
        defs.load_asset_value("regionl")


def test_get_assets_def() -> None:
    defs = Definitions(assets=[totals, dg.AssetSpec("outside")])
    assert defs.get_assets_def(["sales", "eu", "totals"]) is totals
    with pytest.raises(KeyError, match="'outside' is external"):
        defs.get_assets_def("outside")
    with pytest.raises(dg.DagsterInvariantViolationError, match="did you mean 'sales/eu/totals'"):
        defs.get_assets_def("sales/eu/total")


def test_merge() -> None:
    shared = object()
    left = Definitions(assets=[totals], resources={"db": shared}, metadata={"team": "sales"})
    right = Definitions(assets=[report], resources={"db": shared}, metadata={"tier": 1})

    merged = Definitions.merge(left, right)

    assert merged.asset_keys == (AssetKey(["sales", "eu", "totals"]), AssetKey("report"))
    assert merged.resources == {"db": shared}
    assert merged.metadata == {"team": "sales", "tier": 1}
    with pytest.raises(dg.DagsterInvariantViolationError, match="0 and 1 have different resources"):
        Definitions.merge(left, Definitions(resources={"db": object()}))
    with pytest.raises(dg.DagsterInvariantViolationError, match="both have an executor"):
        Definitions.merge(Definitions(executor=object()), Definitions(executor=object()))
    with pytest.raises(TypeError, match="argument 1"):
        Definitions.merge(left, [report])  # type: ignore[arg-type]


def test_validate_loadable() -> None:
    Definitions.validate_loadable(Definitions(assets=[totals, report]))
    with pytest.raises(TypeError, match="takes a Definitions"):
        Definitions.validate_loadable([totals])  # type: ignore[arg-type]

    @dg.sensor(job=define_asset_job("j", selection=[totals]))
    def watch(context):
        return None

    @dg.sensor(name="watch", job=define_asset_job("j", selection=[totals]))
    def watch_again(context):
        return None

    with pytest.raises(dg.DagsterInvalidDefinitionError, match="two sensors are named 'watch'"):
        Definitions(assets=[totals], sensors=[watch, watch_again])


# -- materialize's arguments -------------------------------------------------------------------


def test_materialize_takes_dagsters_arguments_in_dagsters_order() -> None:
    result = materialize([totals], None, None, None, None, True, {"team": "sales"})
    assert result.dagster_run.tags["team"] == "sales"


def test_materialize_records_the_run_in_the_instance_it_is_given() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize([totals], instance=instance)

        entry = instance.get_latest_materialization_event(["sales", "eu", "totals"])
        assert entry is not None and entry.run_id == result.run_id
        assert instance.get_run_by_id(result.run_id).status is dg.DagsterRunStatus.SUCCESS
        defs = Definitions(assets=[totals])
        assert defs.load_asset_value(["sales", "eu", "totals"], instance=instance).height == 2
    with pytest.raises(TypeError, match="pass home="):
        materialize([totals], instance=object())


def test_materialize_to_memory_keeps_every_io_manager_key_in_memory(home) -> None:
    @asset(io_manager_key="warehouse")
    def staged() -> list[int]:
        return [1, 2]

    @asset
    def counted(staged: list[int]) -> int:
        return len(staged)

    result = materialize_to_memory([staged, counted])
    assert result.asset_value("counted") == 2
    assert not home.exists()  # nothing written, not even a history

    with pytest.raises(dg.DagsterInvariantViolationError, match="resource 'warehouse', an IO"):
        materialize_to_memory([staged, counted], resources={"warehouse": dg.InMemoryIOManager()})


def test_materialize_to_memory_records_the_run_in_a_given_instance() -> None:
    with dg.DagsterInstance.ephemeral() as instance:
        result = materialize_to_memory([totals], instance=instance)
        assert instance.get_run_by_id(result.run_id).status is dg.DagsterRunStatus.SUCCESS
        assert instance.get_latest_materialization_event(["sales", "eu", "totals"]) is not None
        assert not (instance.home / "storage").exists()  # the value stayed in memory


def test_observations_are_shaped_as_dagsters() -> None:
    @dg.observable_source_asset
    def landing_file() -> dg.DataVersion:
        return dg.DataVersion("v7")

    result = dg.observe([landing_file])

    (event,) = result.get_asset_observation_events()
    assert event.event_type_value == "ASSET_OBSERVATION" and event.is_asset_observation
    observation = event.asset_observation_data.asset_observation
    assert isinstance(observation, dg.AssetObservation)
    assert observation.asset_key == AssetKey("landing_file")
    assert observation.data_version == "v7"
    assert result.asset_observations_for_node("landing_file") == [observation]
