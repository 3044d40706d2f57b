"""Retries, failures and run shapes as Dagster has them: ``RetryPolicy``'s delays (Dagster's
``calculate_delay``, jitter included), a job's ``op_retry_policy`` in every way a job's run
starts, a ``Failure``'s metadata in the store, the console and the TUI's log, and
``DagsterRun`` / ``DagsterEventType`` as Dagster code reads them."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import millrace as dg
import pytest
from conftest import Db, ManualClock, run_cli, write_source
from millrace import (
    AssetExecutionContext,
    Backoff,
    DagsterEventType,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    Failure,
    Jitter,
    MetadataValue,
    RetryPolicy,
    RunRequest,
    asset,
    define_asset_job,
    materialize,
    sensor,
)
from millrace.automation.run_status import DagsterRun
from millrace.console import describe_event, summarize
from millrace.declarations.job import JOB_NAME_TAG
from millrace.errors import DefinitionsError
from millrace.events import StepFailed, StepStarted
from millrace.runtime.runtime import Runtime

# -- RetryPolicy's delays ------------------------------------------------------------------


def test_exponential_backoff_is_two_to_the_attempt_less_one_times_the_delay() -> None:
    policy = RetryPolicy(max_retries=4, delay=2, backoff=Backoff.EXPONENTIAL)
    assert [policy.delay_before(n) for n in (1, 2, 3, 4)] == [2, 6, 14, 30]


def test_full_jitter_scales_the_backed_off_delay_by_a_random_fraction() -> None:
    policy = RetryPolicy(delay=1.0, backoff=Backoff.EXPONENTIAL, jitter=Jitter.FULL)
    assert policy.delay_before(2, random=lambda: 0.25) == 0.75  # 0.25 * (2**2 - 1)
    assert policy.delay_before(2, random=lambda: 0.0) == 0.0


def test_plus_minus_jitter_moves_the_delay_by_up_to_the_base_delay() -> None:
    policy = RetryPolicy(delay=2.0, backoff=Backoff.LINEAR, jitter=Jitter.PLUS_MINUS)
    # attempt 3: 6s backed off, then 6 + (2 * r * 2 - 2)
    assert [policy.delay_before(3, random=lambda r=r: r) for r in (0.0, 0.5, 1.0)] == [4, 6, 8]
    flat = RetryPolicy(delay=1.0, jitter=Jitter.PLUS_MINUS)
    assert flat.delay_before(1, random=lambda: 0.0) == 0.0  # 1 + (0 - 1): never below zero
    assert flat.delay_before(0, random=lambda: 0.0) == 0.0


def test_jitter_draws_from_random_by_default() -> None:
    random.seed(7)
    policy = RetryPolicy(delay=1.0, jitter=Jitter.FULL)
    delays = {policy.delay_before(1) for _ in range(20)}
    assert len(delays) > 1 and all(0.0 <= d <= 1.0 for d in delays)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backoff": Backoff.LINEAR}, "backoff needs a delay"),
        ({"jitter": Jitter.FULL}, "jitter needs a delay"),
        ({"delay": -1}, "must not be negative"),
        ({"delay": 1, "backoff": "LINEAR"}, r"backoff=...\) must be a Backoff"),
        ({"max_retries": "3"}, r"max_retries=...\) must be an int"),
    ],
)
def test_a_policy_that_cannot_work_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionsError, match=message):
        RetryPolicy(**kwargs)


# -- a job's op_retry_policy ---------------------------------------------------------------


def flaky_assets(fails: int) -> tuple[list[int], list[int], Any, Any]:
    """``flaky`` fails its first ``fails`` calls; ``strict`` always fails, with a policy of
    its own that retries nothing."""
    calls: list[int] = []
    strict_calls: list[int] = []

    @asset
    def flaky() -> int:
        calls.append(1)
        if len(calls) <= fails:
            raise ConnectionError(f"attempt {len(calls)} timed out")
        return len(calls)

    @asset(retry_policy=RetryPolicy(max_retries=0))
    def strict() -> int:
        strict_calls.append(1)
        raise ValueError("no")

    return calls, strict_calls, flaky, strict


def attempts(events: list[Any], name: str) -> list[int]:
    key = dg.AssetKey(name)
    return [e.attempt for e in events if isinstance(e, StepStarted) and e.asset_key == key]


def test_execute_in_process_retries_steps_without_a_policy_under_the_jobs(db: Db) -> None:
    calls, strict_calls, flaky, strict = flaky_assets(fails=2)
    job = define_asset_job("nightly", [flaky, strict], op_retry_policy=RetryPolicy(max_retries=2))
    defs = Definitions(assets=[flaky, strict], jobs=[job])

    result = defs.get_job_def("nightly").execute_in_process(raise_on_error=False)

    assert attempts(result.all_events, "flaky") == [1, 2, 3]
    assert len(calls) == 3 and len(strict_calls) == 1  # its own policy wins over the job's
    retried = [e for e in result.all_events if e.is_step_up_for_retry]
    assert [e.step_key for e in retried] == ["flaky", "flaky"]
    stored = db.rows(
        "SELECT json_extract(payload, '$.will_retry') FROM events"
        " WHERE type = 'STEP_FAILED' AND asset_key = 'flaky' ORDER BY id"
    )
    assert stored == [(1,), (1,)]
    assert job.op_retry_policy == RetryPolicy(max_retries=2)
    assert defs.get_job_def("nightly").op_retry_policy == RetryPolicy(max_retries=2)


def test_the_jobs_policy_is_only_for_runs_of_the_job() -> None:
    calls, _, flaky, _ = flaky_assets(fails=1)
    define_asset_job("nightly", [flaky], op_retry_policy=RetryPolicy(max_retries=2))

    result = materialize([flaky], raise_on_error=False)

    assert not result.success and len(calls) == 1


def test_a_job_takes_a_retry_policy_or_nothing() -> None:
    with pytest.raises(DefinitionsError, match=r"job 'nightly': op_retry_policy must be a Ret"):
        define_asset_job("nightly", op_retry_policy={"max_retries": 2})


CLI_CODE = """
    from pathlib import Path

    from millrace import Definitions, Failure, RetryPolicy, asset, define_asset_job

    @asset
    def flaky() -> int:
        marks = Path(__file__).with_name("calls")
        calls = int(marks.read_text()) + 1 if marks.exists() else 1
        marks.write_text(str(calls))
        if calls < 2:
            raise Failure("the API said 503", metadata={"status": 503})
        return calls

    defs = Definitions(
        assets=[flaky],
        jobs=[define_asset_job("nightly", [flaky], op_retry_policy=RetryPolicy(max_retries=1))],
    )
"""


def test_materialize_job_retries_under_the_jobs_policy(tmp_path: Path) -> None:
    code = write_source(tmp_path / "pipeline.py", CLI_CODE)
    done = run_cli("materialize", code, "--job", "nightly", cwd=tmp_path, home=tmp_path / "h")
    assert done.returncode == 0, done.stderr
    assert "✗ flaky: Failure: the API said 503 [status=503] (will retry)" in done.stdout
    assert "✓ flaky" in done.stdout


async def test_a_sensor_targeting_the_job_runs_under_its_policy(home: Path) -> None:
    calls, _, flaky, _ = flaky_assets(fails=1)
    job = define_asset_job("nightly", [flaky], op_retry_policy=RetryPolicy(max_retries=1))

    @sensor(job=job, default_status=DefaultSensorStatus.RUNNING)
    def every_tick(context: Any) -> Any:
        return RunRequest(run_key="once")

    defs = Definitions(assets=[flaky], jobs=[job], sensors=[every_tick])
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")))
    async with Runtime(defs, home=home) as runtime:
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        await runtime.start_automation(clock=clock)
        tick = await asyncio.wait_for(anext(ticks), 10)
        record = await runtime.wait_for_run(tick.run_ids[0])
        events = await runtime.run_events(tick.run_ids[0])
    assert record is not None and record.status.value == "SUCCESS"
    assert record.tags[JOB_NAME_TAG] == "nightly"
    assert attempts(events, "flaky") == [1, 2] and len(calls) == 2


# -- a Failure's metadata ------------------------------------------------------------------


@asset
def orders() -> int:
    raise Failure(
        "3 orders have no customer",
        metadata={"bad_rows": 3, "sample": MetadataValue.text("order 17")},
    )


@asset
def broken() -> int:
    raise KeyError("customer_id")


def test_failure_metadata_is_stored_and_read_back(home: Path, db: Db) -> None:
    result = materialize([orders, broken], raise_on_error=False)

    (payload,) = db.rows(
        "SELECT json_extract(payload, '$.metadata') FROM events"
        " WHERE type = 'STEP_FAILED' AND asset_key = 'orders'"
    )
    assert json.loads(payload[0])["bad_rows"]["value"] == 3
    (plain,) = db.rows(
        "SELECT payload FROM events WHERE type = 'STEP_FAILED' AND asset_key = 'broken'"
    )
    assert "metadata" not in json.loads(plain[0])  # a plain error's row is as it was

    async def read() -> list[Any]:
        async with Runtime(Definitions(assets=[orders, broken]), home=home) as runtime:
            return await runtime.run_events(result.run_id)

    failed = {
        e.asset_key.to_user_string(): e for e in asyncio.run(read()) if isinstance(e, StepFailed)
    }
    assert failed["orders"].metadata == {
        "bad_rows": MetadataValue.int(3),
        "sample": MetadataValue.text("order 17"),
    }
    assert failed["broken"].metadata == {}


def test_the_dagster_view_reads_the_failures_metadata_from_its_event() -> None:
    result = materialize([orders], raise_on_error=False)
    (failure,) = result.get_step_failure_events()
    assert failure.metadata["bad_rows"] == MetadataValue.int(3)
    data = failure.step_failure_data.user_failure_data
    assert data.description == "3 orders have no customer"
    assert data.metadata == failure.metadata


def test_the_console_and_the_tui_log_show_the_failures_metadata() -> None:
    from millrace.tui.widgets.log_view import event_lines

    result = materialize([orders], raise_on_error=False)
    (failure,) = result.get_step_failure_events()

    line = "✗ orders: Failure: 3 orders have no customer [bad_rows=3, sample=order 17]"
    assert describe_event(failure) == line
    report = summarize(result, 0.5, width=None)
    assert (
        "✗ asset 'orders' failed: Failure: 3 orders have no customer "
        "[bad_rows=3, sample=order 17]" in report
    )
    first, *_ = event_lines(failure, failure.timestamp)
    assert first.text == "orders failed: Failure: 3 orders have no customer " + (
        "[bad_rows=3, sample=order 17]"
    )
    assert first.level == "ERROR"


# -- DagsterRun and DagsterEventType ---------------------------------------------------------


def test_dagster_run_says_how_it_finished() -> None:
    def run(status: DagsterRunStatus) -> DagsterRun:
        return DagsterRun("r1", status)

    success, failure, canceled = (
        run(DagsterRunStatus.SUCCESS),
        run(DagsterRunStatus.FAILURE),
        run(DagsterRunStatus.CANCELED),
    )
    started = run(DagsterRunStatus.STARTED)
    assert success.is_success and success.is_finished and not success.is_failure
    assert failure.is_failure and failure.is_finished and failure.is_failure_or_canceled
    assert canceled.is_finished and canceled.is_failure_or_canceled and not canceled.is_failure
    assert not started.is_finished and not started.is_success
    assert started.run_config == {}


class Scale(dg.Config):
    factor: int = 1


def test_a_runs_config_is_on_its_dagster_run(db: Db) -> None:
    seen: list[Any] = []

    @asset
    def scaled(context: AssetExecutionContext, config: Scale) -> int:
        seen.append(context.run.run_config)
        return config.factor

    job = define_asset_job(
        "scaling", [scaled], config={"ops": {"scaled": {"config": {"factor": 4}}}}
    )
    defs = Definitions(assets=[scaled], jobs=[job])

    result = defs.get_job_def("scaling").execute_in_process()

    expected = {"ops": {"scaled": {"config": {"factor": 4}}}}
    assert result.dagster_run.run_config == expected
    assert result.dagster_run.is_success and result.dagster_run.job_name == "scaling"
    assert seen == [expected]


def test_event_views_speak_dagsters_event_types() -> None:
    result = materialize([orders], raise_on_error=False)
    kinds = [e.dagster_event_type for e in result.all_events]
    assert kinds[0] is DagsterEventType.RUN_START
    assert DagsterEventType.STEP_START in kinds and DagsterEventType.STEP_FAILURE in kinds
    assert kinds[-1] is DagsterEventType.RUN_FAILURE
    end = result.all_events[-1]
    assert end.event_type_value == "PIPELINE_FAILURE" and type(end.event_type_value) is str
    assert DagsterEventType.PIPELINE_FAILURE is DagsterEventType.RUN_FAILURE
    assert DagsterEventType("PIPELINE_START") is DagsterEventType.RUN_START
    assert end.is_job_failure and end.is_failure


async def test_a_run_status_sensor_reads_the_finished_runs_config(home: Path) -> None:
    seen: list[DagsterRun] = []

    @asset
    def scaled_again(config: Scale) -> int:
        return config.factor

    job = define_asset_job(
        "scaling", [scaled_again], config={"ops": {"scaled_again": {"config": {"factor": 2}}}}
    )

    @dg.run_status_sensor(
        DagsterRunStatus.SUCCESS,
        monitored_jobs=[job],
        minimum_interval_seconds=30,
        default_status=DefaultSensorStatus.RUNNING,
    )
    def on_success(context: Any) -> Any:
        seen.append(context.dagster_run)

    defs = Definitions(assets=[scaled_again], jobs=[job], sensors=[on_success])
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=ZoneInfo("UTC")))
    async with Runtime(defs, home=home) as runtime:
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        await runtime.start_automation(clock=clock)
        # The first tick starts watching: on a home where no run has finished yet, from its
        # start, so the job's first run is seen.
        await asyncio.wait_for(anext(ticks), 10)
        await (await runtime.run_request(RunRequest(job_name="scaling")))
        clock.move_to(datetime(2024, 1, 1, 0, 1, tzinfo=ZoneInfo("UTC")))
        await asyncio.wait_for(anext(ticks), 10)
    (run,) = seen
    assert run.is_success and run.is_finished and run.job_name == "scaling"
    assert run.run_config == {"ops": {"scaled_again": {"config": {"factor": 2}}}}
