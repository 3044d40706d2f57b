"""Asset jobs end to end: define_asset_job resolved by Definitions, its validation errors,
execute_in_process on a real home, job_selection (what RunRequest(job_name=...) runs), and the
``jobs`` and ``materialize --job`` commands in real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import Db, run_cli, write_source
from millrace import (
    AssetCheckResult,
    AssetSelection,
    Config,
    DailyPartitionsDefinition,
    Definitions,
    DefinitionsError,
    JobDefinition,
    Runtime,
    SelectionError,
    StaticPartitionsDefinition,
    UnresolvedAssetJobDefinition,
    asset,
    asset_check,
    define_asset_job,
)
from millrace.declarations.job import JOB_NAME_TAG, job_selection

REGIONS = StaticPartitionsDefinition(["eu", "us"])
DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-05")


class ScaleConfig(Config):
    factor: int = 1


@asset(group_name="raw")
def numbers() -> list[int]:
    return [1, 2, 3]


@asset
def scaled(config: ScaleConfig, numbers: list[int]) -> list[int]:
    return [n * config.factor for n in numbers]


@asset_check(asset=scaled)
def scaled_is_positive(scaled: list[int]) -> AssetCheckResult:
    return AssetCheckResult(passed=all(n > 0 for n in scaled))


@asset(partitions_def=REGIONS)
def sales(context, numbers: list[int]) -> str:  # type: ignore[no-untyped-def]
    return f"{context.partition_key}:{sum(numbers)}"


@asset(partitions_def=DAYS)
def visits(context) -> str:  # type: ignore[no-untyped-def]
    return context.partition_key


ASSETS = [numbers, scaled, sales, visits]


def defs_with(*jobs: UnresolvedAssetJobDefinition) -> Definitions:
    return Definitions(assets=ASSETS, asset_checks=[scaled_is_positive], jobs=list(jobs))


def names(job: JobDefinition) -> list[str]:
    return [k.to_user_string() for k in job.asset_keys]


def run_tags(db: Db, run_id: str) -> dict[str, str]:
    return json.loads(db.value("SELECT tags FROM runs WHERE run_id = ?", (run_id,)))


# -- resolving ---------------------------------------------------------------------------------


def test_every_kind_of_selection_resolves_to_keys_in_topological_order() -> None:
    defs = defs_with(
        define_asset_job("by_string", "*scaled"),
        define_asset_job("by_list", [scaled, "numbers"]),
        define_asset_job("by_selection", AssetSelection.groups("raw").downstream()),
    )
    assert names(defs.get_job_def("by_string")) == ["numbers", "scaled"]
    assert names(defs.get_job_def("by_list")) == ["numbers", "scaled"]
    selected = names(defs.get_job_def("by_selection"))
    assert selected[0] == "numbers" and set(selected) == {"numbers", "scaled", "sales"}
    every = Definitions(assets=[numbers, scaled, sales], jobs=[define_asset_job("by_default")])
    assert set(names(every.get_job_def("by_default"))) == {"numbers", "scaled", "sales"}
    job = defs.get_job_def("by_string")
    assert [c.to_user_string() for c in job.asset_check_keys] == ["scaled:scaled_is_positive"]
    assert job.partitions_def is None
    assert defs.get_job_def("by_selection").partitions_def == REGIONS


def test_the_implicit_asset_job_selects_every_asset() -> None:
    defs = defs_with()
    job = defs.get_implicit_global_asset_job_def()
    assert job.name == "__ASSET_JOB"
    assert set(names(job)) == {"numbers", "scaled", "sales", "visits"}
    assert defs.get_job_def("__ASSET_JOB") is job
    assert job.partitions_def is None  # two partitions definitions: each asset runs its own


def test_an_unknown_job_is_a_key_error_listing_the_jobs() -> None:
    defs = defs_with(define_asset_job("daily_sales", "sales"), define_asset_job("raw", "numbers"))
    with pytest.raises(KeyError) as caught:
        defs.get_job_def("daily_sale")
    assert str(caught.value) == (
        "no job named 'daily_sale' (did you mean 'daily_sales'?) (jobs: daily_sales, raw)"
    )


def test_merge_carries_the_jobs() -> None:
    left = Definitions(assets=[numbers], jobs=[define_asset_job("raw", "numbers")])
    right = Definitions(assets=[visits])
    merged = Definitions.merge(left, right)
    assert names(merged.get_job_def("raw")) == ["numbers"]


# -- validation --------------------------------------------------------------------------------


def test_an_unknown_asset_names_the_job() -> None:
    with pytest.raises(DefinitionsError) as caught:
        defs_with(define_asset_job("nightly", ["scaled", "scaeld_more"]))
    assert str(caught.value) == "job 'nightly': No asset named 'scaeld_more'"
    with pytest.raises(DefinitionsError, match=r"^job 'typo': No asset named 'scald' \(did you"):
        defs_with(define_asset_job("typo", "scald*"))


def test_a_selection_of_nothing_names_the_job() -> None:
    with pytest.raises(DefinitionsError) as caught:
        defs_with(define_asset_job("empty", AssetSelection.tag("team", "nobody")))
    assert str(caught.value) == "job 'empty': its selection matches no asset"


def test_job_names_are_unique_and_valid() -> None:
    with pytest.raises(DefinitionsError) as caught:
        defs_with(define_asset_job("twice", "numbers"), define_asset_job("twice", "scaled"))
    assert str(caught.value) == "two jobs are named 'twice'; job names must be unique"
    with pytest.raises(DefinitionsError, match=r"name 'my job' must be letters, digits"):
        define_asset_job("my job")
    with pytest.raises(DefinitionsError, match=r"expected define_asset_job\(\.\.\.\)"):
        Definitions(assets=[numbers], jobs=["numbers"])


def test_a_job_cannot_mix_partitions_definitions() -> None:
    with pytest.raises(DefinitionsError) as caught:
        defs_with(define_asset_job("mixed", ["sales", "visits"]))
    message = str(caught.value)
    assert message.startswith("job 'mixed' selects assets with different partitions definitions")
    assert "StaticPartitionsDefinition(['eu', 'us']): sales" in message
    assert ": visits" in message


def test_a_declared_partitions_def_must_be_the_assets_one() -> None:
    with pytest.raises(DefinitionsError) as caught:
        defs_with(define_asset_job("wrong", "sales", partitions_def=DAYS))
    assert str(caught.value).startswith(
        f"job 'wrong': partitions_def {DAYS!r} is not that of the assets it selects"
    )
    with pytest.raises(DefinitionsError, match="none of the assets it selects is partitioned"):
        defs_with(define_asset_job("unpartitioned", "numbers", partitions_def=REGIONS))
    same = StaticPartitionsDefinition(["eu", "us"])  # equal, not the same object
    defs = defs_with(define_asset_job("right", "sales", partitions_def=same))
    assert defs.get_job_def("right").partitions_def == REGIONS


# -- what a run of a job is ----------------------------------------------------------------------


def test_job_selection_merges_tags_and_config_under_the_callers() -> None:
    job = define_asset_job(
        "scaling",
        "*scaled",
        tags={"team": "data", "tier": 1},
        config={"ops": {"scaled": {"config": {"factor": 2}}, "numbers": {}}},
    )
    run = job_selection(
        defs_with(job),
        "scaling",
        tags={"tier": "gold", JOB_NAME_TAG: "other"},
        run_config={"ops": {"scaled": {"config": {"factor": 3}}}},
    )
    assert [k.to_user_string() for k in run.asset_keys] == ["numbers", "scaled"]
    assert run.tags == {"team": "data", "tier": "gold", JOB_NAME_TAG: "scaling"}
    assert run.run_config == {"ops": {"scaled": {"config": {"factor": 3}}, "numbers": {}}}


def test_run_tags_replace_tags_on_runs() -> None:
    job = define_asset_job("split", "numbers", tags={"owner": "me"}, run_tags={"kind": "nightly"})
    resolved = defs_with(job).get_job_def("split")
    assert resolved.tags == {"owner": "me"}
    assert resolved.run_tags == {"kind": "nightly", JOB_NAME_TAG: "split"}


def test_job_selection_narrows_to_the_jobs_own_assets() -> None:
    defs = defs_with(define_asset_job("scaling", "*scaled"))
    run = job_selection(defs, "scaling", asset_selection=["scaled"])
    assert [k.to_user_string() for k in run.asset_keys] == ["scaled"]
    assert [c.to_user_string() for c in run.asset_check_keys] == ["scaled:scaled_is_positive"]
    with pytest.raises(SelectionError) as caught:
        job_selection(defs, "scaling", asset_selection=["sales"])
    assert str(caught.value) == "job 'scaling' does not include sales (it runs: numbers, scaled)"


# -- execute_in_process ---------------------------------------------------------------------------


def test_execute_in_process_runs_a_partition_with_config_and_tags(home: Path, db: Db) -> None:
    job = define_asset_job(
        "regional",
        ["numbers", "scaled", "sales"],
        tags={"team": "data"},
        config={"ops": {"scaled": {"config": {"factor": 2}}}},
    )
    result = (
        defs_with(job)
        .get_job_def("regional")
        .execute_in_process(
            partition_key="us",
            run_config={"ops": {"scaled": {"config": {"factor": 10}}}},
            tags={"team": "ops", "why": "test"},
        )
    )
    assert result.success
    assert result.output_for_node("scaled") == [10, 20, 30]
    assert result.output_for_node("sales") == "us:6"
    assert run_tags(db, result.run_id) == {"team": "ops", "why": "test", JOB_NAME_TAG: "regional"}
    check_runs = db.value(
        "SELECT count(*) FROM events WHERE run_id = ? AND type = 'ASSET_CHECK_EVALUATED'",
        (result.run_id,),
    )
    assert check_runs == 1
    partitions = db.rows(
        "SELECT partition_key FROM materializations WHERE run_id = ? AND asset_key = 'sales'",
        (result.run_id,),
    )
    assert partitions == [("us",)]


def test_execute_in_process_uses_the_job_config_and_a_subset(home: Path, db: Db) -> None:
    job = define_asset_job(
        "scaling", "*scaled", config={"ops": {"scaled": {"config": {"factor": 4}}}}
    )
    jobdef = defs_with(job).get_job_def("scaling")
    jobdef.execute_in_process()
    result = jobdef.execute_in_process(asset_selection=["scaled"])
    assert result.output_for_node("scaled") == [4, 8, 12]
    assert db.rows("SELECT asset_key FROM materializations WHERE run_id = ?", (result.run_id,)) == [
        ("scaled",)
    ]


def test_execute_in_process_raises_the_assets_error_unless_told_not_to(home: Path) -> None:
    @asset
    def broken() -> int:
        raise ValueError("no data today")

    job = Definitions(assets=[broken], jobs=[define_asset_job("b")]).get_job_def("b")
    with pytest.raises(ValueError, match="no data today"):
        job.execute_in_process()
    assert not job.execute_in_process(raise_on_error=False).success


def test_execute_in_process_keeps_history_in_the_instances_home(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    defs = defs_with(define_asset_job("raw", "numbers"))
    instance = Runtime(defs, home=other).instance
    result = defs.get_job_def("raw").execute_in_process(instance=instance)
    assert run_tags(Db(other / "millrace.db"), result.run_id) == {JOB_NAME_TAG: "raw"}
    with pytest.raises(TypeError, match="instance must be None or a Runtime's instance"):
        defs.get_job_def("raw").execute_in_process(instance=object())


# -- the command line --------------------------------------------------------------------------

CODE = """
    from millrace import Config, Definitions, StaticPartitionsDefinition, asset, define_asset_job

    REGIONS = StaticPartitionsDefinition(["eu", "us"])

    class Factor(Config):
        factor: int = 1

    @asset
    def base(config: Factor) -> int:
        return 2 * config.factor

    @asset(partitions_def=REGIONS)
    def regional(context, base: int) -> str:
        return f"{context.partition_key}={base}"

    @asset
    def other() -> int:
        return 0

    defs = Definitions(
        assets=[base, regional, other],
        jobs=[
            define_asset_job(
                "regional_job",
                "*regional",
                description="per region",
                tags={"team": "geo"},
                config={"ops": {"base": {"config": {"factor": 5}}}},
            ),
            define_asset_job("other_job", ["other"]),
        ],
    )
"""


def test_jobs_lists_each_job_with_its_assets_partitions_and_tags(tmp_path: Path) -> None:
    code = write_source(tmp_path / "pipeline.py", CODE)
    done = run_cli("jobs", code, "--json", cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        {
            "name": "regional_job",
            "description": "per region",
            "assets": ["base", "regional"],
            "checks": [],
            "partitions": "StaticPartitionsDefinition(['eu', 'us'])",
            "tags": {"team": "geo"},
            "run_tags": {"team": "geo", JOB_NAME_TAG: "regional_job"},
        },
        {
            "name": "other_job",
            "description": None,
            "assets": ["other"],
            "checks": [],
            "partitions": None,
            "tags": {},
            "run_tags": {JOB_NAME_TAG: "other_job"},
        },
    ]
    text = run_cli("jobs", code, cwd=tmp_path, home=tmp_path / "h").stdout
    assert "regional_job  per region\n  assets: base, regional\n" in text


def test_materialize_job_runs_its_assets_with_its_tags_and_config(tmp_path: Path) -> None:
    code = write_source(tmp_path / "pipeline.py", CODE)
    home = tmp_path / "h"
    done = run_cli(
        "materialize", code, "--job", "regional_job", "--partition", "eu", "--tag", "who=ci",
        cwd=tmp_path, home=home,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "✓ base" in done.stdout and "✓ regional[eu]" in done.stdout
    assert "other" not in done.stdout
    (run,) = json.loads(run_cli("runs", "--json", cwd=tmp_path, home=home).stdout)
    assert run["tags"] == {"team": "geo", "who": "ci", JOB_NAME_TAG: "regional_job"}
    value = Db(home / "millrace.db").value(
        "SELECT count(*) FROM materializations WHERE run_id = ?", (run["run_id"],)
    )
    assert value == 2


def test_materialize_job_refuses_select_and_unknown_jobs(tmp_path: Path) -> None:
    code = write_source(tmp_path / "pipeline.py", CODE)
    both = run_cli("materialize", code, "--job", "other_job", "-s", "base", cwd=tmp_path)
    assert both.returncode == 2
    assert "argument --select/-s: not allowed with argument --job" in both.stderr
    unknown = run_cli("materialize", code, "--job", "other", cwd=tmp_path, home=tmp_path / "h")
    assert unknown.returncode == 2
    assert unknown.stderr == "error: no job named 'other' (jobs: other_job, regional_job)\n"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"executor_def": object()}, "cannot take executor_def: every job runs on Millrace's"),
        ({"hooks": {object()}}, "cannot take hooks: Millrace has none"),
    ],
)
def test_a_job_refuses_what_millrace_does_not_run(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionsError, match=message):
        define_asset_job("nightly", **kwargs)
