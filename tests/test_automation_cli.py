"""``millrace serve`` in a real process (sensor ticks as lines, SIGTERM stopping it cleanly
with the run in flight recorded canceled) and ``millrace schedules`` / ``sensors`` listing,
starting and stopping (stored: the next process sees it)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from conftest import Db, Spawned, run_cli, write_source

PROJECT = """
    import time
    from pathlib import Path

    from millrace import (
        DefaultSensorStatus, Definitions, RunRequest, ScheduleDefinition, SkipReason, asset,
        sensor,
    )

    GATE = Path(__file__).with_name("gate")

    @asset
    def raw() -> int:
        return 1

    @asset
    def slow() -> int:
        GATE.write_text("entered")
        while GATE.exists():  # the test removes it never: SIGTERM must cancel this run
            time.sleep(0.01)
        return 1

    @sensor(target=[raw], minimum_interval_seconds=1, default_status=DefaultSensorStatus.RUNNING)
    def every_second(context):
        n = int(context.cursor or 0) + 1
        context.update_cursor(str(n))
        return RunRequest(run_key=f"k{n}")

    @sensor(target=[slow], minimum_interval_seconds=3600)
    def slow_once(context):
        return RunRequest(run_key="once")

    nightly = ScheduleDefinition(name="nightly", cron_schedule="0 2 * * *", target=[raw],
                                 execution_timezone="Europe/Berlin")
    defs = Definitions(assets=[raw, slow], sensors=[every_second, slow_once],
                       schedules=[nightly])
"""


def test_serve_prints_ticks_and_sigterm_stops_it_with_the_run_in_flight_canceled(
    tmp_path: Path, home: Path, db: Db
) -> None:
    write_source(tmp_path / "proj" / "defs.py", PROJECT)
    started = run_cli("sensors", "start", "slow_once", "proj", cwd=tmp_path, home=home)
    assert started.returncode == 0, started.stderr
    assert started.stdout == "sensor slow_once started\n"

    env = {"MILLRACE_HOME": str(home)}
    with Spawned("serve", "proj", "--grace", "0.2", cwd=tmp_path, env=env) as serve:
        serve.wait_for_line(lambda line: "sensor every_second requested 1 run" in line, "a tick")
        serve.wait_for_line(lambda line: line.startswith("slow started"), "the slow run")
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.finish() == 0

    statuses = dict(db.rows("SELECT origin || ':' || run_id, status FROM runs"))
    assert "STARTED" not in statuses.values()
    [slow_run] = db.rows(
        "SELECT status FROM runs WHERE json_extract(tags, '$.\"dagster/sensor_name\"')"
        " = 'slow_once'"
    )
    assert slow_run == ("CANCELED",)
    assert all(key.startswith("sensor:") for key in statuses)
    ticks = db.rows("SELECT name, status FROM ticks WHERE name = 'every_second'")
    assert ("every_second", "SUCCESS") in ticks


def test_schedules_lists_and_a_stop_is_kept(tmp_path: Path, home: Path) -> None:
    write_source(tmp_path / "proj" / "defs.py", PROJECT)

    listed = run_cli("schedules", "proj", "--json", cwd=tmp_path, home=home)
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert row["name"] == "nightly" and row["status"] == "STOPPED" and row["next_tick"] is None
    assert row["cron_schedule"] == "0 2 * * *" and row["execution_timezone"] == "Europe/Berlin"

    assert run_cli("schedules", "start", "nightly", "proj", cwd=tmp_path, home=home).returncode == 0
    text = run_cli("schedules", "proj", cwd=tmp_path, home=home).stdout
    assert "nightly                  RUNNING" in text and "0 2 * * * (Europe/Berlin)" in text
    sensors = json.loads(run_cli("sensors", "proj", "--json", cwd=tmp_path, home=home).stdout)
    assert {s["name"]: s["status"] for s in sensors} == {
        "every_second": "RUNNING",  # its default
        "slow_once": "STOPPED",
    }
    stopped = run_cli("sensors", "stop", "every_second", "proj", cwd=tmp_path, home=home)
    assert stopped.returncode == 0
    sensors = json.loads(run_cli("sensors", "proj", "--json", cwd=tmp_path, home=home).stdout)
    assert {s["name"]: s["status"] for s in sensors}["every_second"] == "STOPPED"

    unknown = run_cli("schedules", "start", "nighty", "proj", cwd=tmp_path, home=home)
    assert unknown.returncode != 0
    assert "no schedule named 'nighty' in proj (these: nightly)" in unknown.stderr
