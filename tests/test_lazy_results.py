"""A result of a run kept in a home reads its events back from the home's database when asked,
instead of holding them: the same events, in the same order, as the run published."""

from __future__ import annotations

import dataclasses
import gc
import shutil
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import millrace as dg
import polars as pl
import pytest
from millrace import (
    AssetCheckResult,
    Definitions,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    asset,
    asset_check,
    materialize,
    materialize_to_memory,
)
from millrace.errors import StorageError
from millrace.events import Event
from millrace.runtime.runtime import Runtime

MANY = 300


def many_assets() -> list[Any]:
    def one(i: int) -> Any:
        @asset(name=f"n{i:03d}")
        def made() -> int:
            return i

        return made

    return [one(i) for i in range(MANY)]


def alive(run_id: str) -> Counter[str]:
    """The events of run ``run_id`` that something still holds, by kind."""
    gc.collect()
    return Counter(o.kind for o in gc.get_objects() if isinstance(o, Event) and o.run_id == run_id)


def test_a_stored_runs_result_holds_none_of_its_events(home: Path) -> None:
    result = materialize(many_assets(), home=home)

    assert result.success
    assert alive(result.run_id) == Counter()
    events = result.get_asset_materialization_events()
    names = sorted(e.asset_key.to_user_string() for e in events)
    assert names == [f"n{i:03d}" for i in range(MANY)]
    assert [e.seq for e in events] == sorted(e.seq for e in events)
    assert len(result.get_step_success_events()) == MANY
    assert alive(result.run_id)["ASSET_MATERIALIZED"] == MANY  # those handed out, no more
    del events
    assert alive(result.run_id) == Counter()  # nor kept once read


def test_a_run_in_memory_keeps_its_events_as_dagster_does() -> None:
    result = materialize_to_memory(many_assets())

    held = alive(result.run_id)
    assert held["ASSET_MATERIALIZED"] == held["STEP_SUCCEEDED"] == MANY
    assert len(result.get_asset_materialization_events()) == MANY


# -- the same events as published ----------------------------------------------------------------


@asset
def wide() -> pl.DataFrame:
    """A schema too long for the event's compact metadata (its latest row has it whole)."""
    return pl.DataFrame({f"column_{i}": [i] for i in range(20)})


@asset
def odd() -> MaterializeResult:
    return MaterializeResult(
        metadata={
            "n": 3,
            "nan": float("nan"),  # JSON would give back the text 'nan'
            "pair": MetadataValue.json((1, 2)),  # JSON would give back a list
            "long": "x" * 500,  # too long for the compact form
            "accents": "é" * 30,
            "text": "short",
        }
    )


@asset_check(asset=odd)
def odd_is_odd() -> AssetCheckResult:
    return AssetCheckResult(passed=False, metadata={"ratio": float("inf"), "rows": 2})


ATTEMPTS: list[int] = []


@asset(deps=[odd], retry_policy=RetryPolicy(max_retries=1))
def flaky() -> int:
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise ValueError("first attempt fails")
    return 1


@asset
def broken() -> int:
    raise dg.Failure(description="no", metadata={"why": MetadataValue.json({"k": (1,)})})


@asset
def after_broken(broken: int) -> int:
    return broken


def fields(event: Any) -> tuple[Any, ...]:
    """An event's kind and fields: a result's events are copies of another class (views)."""
    return (event.kind, *(getattr(event, f.name) for f in dataclasses.fields(event)))


async def test_a_stored_result_has_the_events_the_run_published(home: Path) -> None:
    ATTEMPTS.clear()
    defs = Definitions(assets=[wide, odd, flaky, broken, after_broken], asset_checks=[odd_is_odd])
    published: list[Event] = []
    async with Runtime(defs, home=home) as runtime:
        runtime.listen(published.append)
        result = await runtime.materialize(tags={"team": "data"})
        later = await runtime.materialize(["wide"])  # not part of the first result

    assert not result.success and later.success
    own = [e for e in published if e.run_id == result.run_id and e.kind != "LOG"]
    assert [fields(e) for e in result.all_events] == [fields(e) for e in own]
    assert [e.seq for e in result.all_events] == sorted(e.seq for e in own)

    by_key = {e.asset_key.to_user_string(): e for e in result.get_asset_materialization_events()}
    assert len(by_key["wide"].materialization.metadata["dagster/column_schema"].value.columns) == 20
    assert by_key["odd"].materialization.metadata["pair"] == MetadataValue.json((1, 2))
    assert len(by_key["odd"].materialization.metadata["long"].value) == 500
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.metadata["ratio"].value == float("inf")
    (failure,) = result.get_step_failure_events()  # the retried attempt is not one
    assert failure.step_key == "broken"
    assert failure.step_failure_data.user_failure_data.metadata["why"].value == {"k": (1,)}
    assert result.failures[dg.AssetKey("broken")].type == "Failure"
    assert result.get_failed_step_keys() == {"broken"}
    assert [e.step_key for e in result.get_step_skipped_events()] == ["after_broken"]
    assert [e.event_type_value for e in result.events_for_node("flaky")] == [
        "STEP_START",
        "STEP_UP_FOR_RETRY",
        "STEP_START",
        "ASSET_MATERIALIZATION",
        "STEP_SUCCESS",
    ]
    assert result.dagster_run.tags["team"] == "data"
    assert result.get_job_failure_event().run_id == result.run_id
    assert set(result.materialized_keys) == {dg.AssetKey(k) for k in ("wide", "odd", "flaky")}
    assert {e.run_id for e in later.all_events} == {later.run_id}


# -- read after the run ---------------------------------------------------------------------------


def test_a_result_reads_its_events_from_another_thread_after_its_runtime_closed(
    home: Path,
) -> None:
    result = materialize([wide], home=home)
    found: list[Any] = []
    reader = threading.Thread(target=lambda: found.extend(result.get_step_success_events()))
    reader.start()
    reader.join()
    assert [e.step_key for e in found] == ["wide"]
    assert result.asset_materializations_for_node("wide")[0].asset_key == dg.AssetKey("wide")


def test_an_ephemeral_instance_lives_as_long_as_the_result_that_reads_it() -> None:
    result = materialize([wide], instance=dg.DagsterInstance.ephemeral())
    gc.collect()  # the instance given is referenced by nothing else
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == dg.AssetKey("wide")


def test_a_result_whose_home_was_removed_says_so(home: Path) -> None:
    result = materialize([wide], home=home)
    shutil.rmtree(home)
    assert result.success  # what it keeps needs no home
    with pytest.raises(StorageError, match="no longer exists"):
        result.get_asset_materialization_events()
