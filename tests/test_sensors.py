"""Sensors: cursors, run keys, failures, asset, multi-asset, run-status and file sensors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

from millrace import (
    AssetKey,
    DagsterRunStatus,
    DefinitionsError,
    EventLogEntry,
    RunRequest,
    SensorResult,
    SkipReason,
    asset_sensor,
    build_sensor_context,
    define_asset_job,
    file_arrival_sensor,
    multi_asset_sensor,
    run_failure_sensor,
    run_status_sensor,
    sensor,
)
from millrace.automation.asset_sensors import evaluate_asset_sensor, evaluate_multi_asset_sensor
from millrace.automation.file_sensor import FileState, file_arrival_requests
from millrace.automation.run_status import DagsterRun, RunStatusEvent, evaluate_run_status_sensor
from millrace.automation.sensors import evaluate_sensor
from millrace.automation.tick import TickStatus
from millrace.declarations.metadata import MetadataValue
from millrace.events import AssetMaterialized

JOB = SimpleNamespace(name="refresh", selection="*", partitions_def=None, tags={})


def materialized(key: str, seq: int, rows: int = 0) -> AssetMaterialized:
    return AssetMaterialized(
        run_id=f"run{seq}",
        asset_key=AssetKey(key),
        seq=seq,
        timestamp=100.0 + seq,
        metadata={"rows": MetadataValue.int(rows)},
    )


@sensor(job=JOB, minimum_interval_seconds=5)
def counter(context):  # type: ignore[no-untyped-def]
    n = int(context.cursor or 0) + 1
    context.update_cursor(str(n))
    yield RunRequest(run_key=f"n{n}")


def test_sensor_cursor_and_run_key_go_through() -> None:
    result = evaluate_sensor(counter, build_sensor_context(cursor="4"))
    assert result.status is TickStatus.SUCCESS
    assert result.cursor == "5"
    (request,) = result.run_requests
    assert request.run_key == "n5"
    assert request.tags["dagster/sensor_name"] == "counter"
    assert counter.minimum_interval_seconds == 5 and counter.job_name == "refresh"


def test_sensor_result_and_skip_and_direct_call() -> None:
    @sensor(target="*")
    def with_result(context):  # type: ignore[no-untyped-def]
        if context.last_run_key == "done":
            return SensorResult(skip_reason="already done", cursor="x")
        return SensorResult(run_requests=[RunRequest(run_key="k")], cursor="y")

    skipped = evaluate_sensor(with_result, build_sensor_context(last_run_key="done"))
    assert (skipped.status, skipped.skip_reason, skipped.cursor) == (
        TickStatus.SKIPPED,
        "already done",
        "x",
    )
    assert evaluate_sensor(with_result, build_sensor_context()).cursor == "y"
    assert counter(build_sensor_context(cursor="1")) == [RunRequest(run_key="n2")]


def test_a_raising_sensor_is_a_failed_tick_with_its_cursor_unmoved() -> None:
    @sensor(target="*")
    def broken(context):  # type: ignore[no-untyped-def]
        context.update_cursor("moved")
        raise KeyError("bucket")

    result = evaluate_sensor(broken, build_sensor_context(cursor="kept"))
    assert result.status is TickStatus.FAILURE
    assert result.error == "KeyError: 'bucket'"
    assert result.cursor == "kept"
    assert 'raise KeyError("bucket")' in result.traceback


def test_a_sensor_returning_garbage_fails_the_tick() -> None:
    @sensor(target="*")
    def wrong(context):  # type: ignore[no-untyped-def]
        return 42

    assert "expected RunRequest" in (evaluate_sensor(wrong, build_sensor_context()).error or "")


def test_asset_sensor_gets_the_newest_materialization_with_metadata() -> None:
    seen: list[EventLogEntry] = []

    @asset_sensor(asset_key=AssetKey("orders"), job=JOB)
    def on_orders(context, asset_event):  # type: ignore[no-untyped-def]
        seen.append(asset_event)
        rows = asset_event.asset_materialization.metadata["rows"].value
        return RunRequest(run_key=f"{asset_event.run_id}:{rows}")

    events = [
        materialized("orders", 3, 10),
        materialized("other", 4),
        materialized("orders", 7, 12),
    ]
    result = evaluate_asset_sensor(on_orders, build_sensor_context(cursor="3"), events)
    assert [r.run_key for r in result.run_requests] == ["run7:12"]
    assert result.cursor == "7"
    assert seen[0].asset_materialization is not None
    assert seen[0].asset_materialization.asset_key == AssetKey("orders")
    assert seen[0].timestamp == 107.0
    again = evaluate_asset_sensor(on_orders, build_sensor_context(cursor="7"), events)
    assert again.status is TickStatus.SKIPPED and again.cursor == "7"


def test_multi_asset_sensor_waits_for_both_and_advances() -> None:
    @multi_asset_sensor(monitored_assets=[AssetKey("a"), AssetKey("b")], job=JOB)
    def both(context):  # type: ignore[no-untyped-def]
        latest = context.latest_materialization_records_by_key()
        if all(latest.values()):
            context.advance_all_cursors()
            return RunRequest(run_key=f"{latest[AssetKey('a')].storage_id}")
        return SkipReason("waiting")

    only_a = evaluate_multi_asset_sensor(both, build_sensor_context(), [materialized("a", 1)])
    assert only_a.status is TickStatus.SKIPPED and only_a.cursor is None
    events = [materialized("a", 1), materialized("b", 2), materialized("a", 3)]
    result = evaluate_multi_asset_sensor(both, build_sensor_context(), events)
    assert [r.run_key for r in result.run_requests] == ["3"]
    assert json.loads(result.cursor or "") == {"a": 3, "b": 2}
    assert both.events_after(result.cursor) == 2


def run_event(
    seq: int, status: DagsterRunStatus, job_name: str, message: str = ""
) -> RunStatusEvent:
    return RunStatusEvent(seq, DagsterRun(f"r{seq}", status, job_name, {"t": "v"}), message)


def test_run_status_sensor_reacts_to_each_matching_run_after_the_cursor() -> None:
    @run_status_sensor(run_status=DagsterRunStatus.SUCCESS, monitored_jobs=[JOB], request_job=JOB)
    def after_refresh(context):  # type: ignore[no-untyped-def]
        return RunRequest(run_key=context.dagster_run.run_id, tags=dict(context.dagster_run.tags))

    events = [
        run_event(5, DagsterRunStatus.SUCCESS, "refresh"),
        run_event(6, DagsterRunStatus.SUCCESS, "other"),
        run_event(7, DagsterRunStatus.FAILURE, "refresh"),
        run_event(8, DagsterRunStatus.SUCCESS, "refresh"),
    ]
    result = evaluate_run_status_sensor(after_refresh, build_sensor_context(cursor="5"), events)
    assert [r.run_key for r in result.run_requests] == ["r8"]
    assert result.cursor == "8"
    first = evaluate_run_status_sensor(after_refresh, build_sensor_context(), events)
    assert first.run_requests == () and first.cursor == "8"


def test_run_failure_sensor_reads_the_failure_message() -> None:
    messages: list[str] = []

    @run_failure_sensor
    def alert(context):  # type: ignore[no-untyped-def]
        messages.append(f"{context.dagster_run.run_id}: {context.failure_event.message}")

    events = [run_event(3, DagsterRunStatus.FAILURE, "refresh", "step orders failed")]
    result = evaluate_run_status_sensor(alert, build_sensor_context(cursor="1"), events)
    assert messages == ["r3: step orders failed"]
    assert result.status is TickStatus.SKIPPED and result.cursor == "3"
    assert alert.name == "alert" and alert.run_status is DagsterRunStatus.FAILURE


def test_file_arrival_requests_new_and_changed_files_once(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("1\n")
    b.write_text("2\n")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".partial.csv").write_text("x")
    files_sensor = file_arrival_sensor(tmp_path, target=["raw"], config_op="raw")
    first = evaluate_sensor(files_sensor, build_sensor_context())
    assert [r.tags["millrace/file_path"] for r in first.run_requests] == [str(a), str(b)]
    assert first.run_requests[0].run_config == {"ops": {"raw": {"config": {"path": str(a)}}}}
    assert first.run_requests[0].run_key == f"{a}@{a.stat().st_mtime_ns}"

    same = evaluate_sensor(files_sensor, build_sensor_context(cursor=first.cursor))
    assert same.status is TickStatus.SKIPPED

    b.write_text("2\n3\n")
    os.utime(b, ns=(b.stat().st_atime_ns, b.stat().st_mtime_ns + 10**9))
    (tmp_path / "c.csv").write_text("4\n")
    changed = evaluate_sensor(files_sensor, build_sensor_context(cursor=same.cursor))
    assert [Path(r.tags["millrace/file_path"]).name for r in changed.run_requests] == [
        "b.csv",
        "c.csv",
    ]
    assert files_sensor.name == f"{tmp_path.name}_files".replace("-", "_")


def test_file_arrival_pure_comparison_forgets_deleted_files() -> None:
    cursor = json.dumps({"/in/a.csv": [1, 10], "/in/gone.csv": [1, 5]})
    requests, new = file_arrival_requests(
        [FileState("/in/a.csv", 10, 1), FileState("/in/b.csv", 3, 2)], cursor
    )
    assert [r.run_key for r in requests] == ["/in/b.csv@2"]
    assert requests[0].run_config == {}
    assert json.loads(new) == {"/in/a.csv": [1, 10], "/in/b.csv": [2, 3]}


def test_a_sensor_of_several_jobs_runs_the_job_each_request_names() -> None:
    daily, weekly = define_asset_job("daily", "*"), define_asset_job("weekly", "*")

    @sensor(jobs=[daily, weekly])
    def both(context):
        yield RunRequest(run_key="d", job_name="daily")
        yield RunRequest(run_key="w", job_name="weekly")

    assert both.target is None and both.job is None and both.job_names == ("daily", "weekly")
    result = evaluate_sensor(both, build_sensor_context())
    assert result.status is TickStatus.SUCCESS
    assert [r.job_name for r in result.run_requests] == ["daily", "weekly"]
    assert result.run_requests[0].tags["dagster/sensor_name"] == "both"


def test_a_sensor_of_several_jobs_fails_a_request_without_or_with_another_job() -> None:
    daily, weekly = define_asset_job("daily", "*"), define_asset_job("weekly", "*")

    @sensor(jobs=[daily, weekly])
    def unnamed(context):
        return RunRequest(run_key="x")

    @sensor(jobs=[daily, weekly])
    def other(context):
        return [RunRequest(run_key="a", job_name="daily"), RunRequest(job_name="monthly")]

    missing = evaluate_sensor(unnamed, build_sensor_context(cursor="c"))
    assert missing.status is TickStatus.FAILURE and missing.cursor == "c"
    assert "must name its job_name" in (missing.error or "")
    assert "'daily', 'weekly'" in (missing.error or "")
    wrong = evaluate_sensor(other, build_sensor_context())
    assert wrong.status is TickStatus.FAILURE and not wrong.run_requests
    assert "'monthly', which is not one of its jobs" in (wrong.error or "")
    for clash in ({"job": daily}, {"target": "*"}, {"job_name": "daily"}):
        try:
            sensor(jobs=[daily, weekly], **clash)(lambda context: None)
        except DefinitionsError as exc:
            assert "jobs=" in str(exc)
        else:
            raise AssertionError(f"jobs= with {clash} was accepted")


def test_a_sensor_of_one_job_in_jobs_is_a_job_sensor() -> None:
    @sensor(jobs=[JOB])
    def one(context):
        return RunRequest(run_key="x")

    assert one.job is JOB and one.target is not None and one.job_names == ()
    assert evaluate_sensor(one, build_sensor_context()).status is TickStatus.SUCCESS
