"""The sensor: one run of ``ingest`` per CSV that lands in (or changes in) ``landing/``."""

from __future__ import annotations

from pathlib import Path

from millrace import DefaultSensorStatus, file_arrival_sensor

from .assets import ingest

# Next to this file, wherever the project is copied; made here so the sensor has
# something to watch on the very first start.
LANDING = Path(__file__).resolve().parent / "landing"
LANDING.mkdir(exist_ok=True)

# Woken by file events in LANDING (watchfiles); the interval is only the fallback look.
# config_op="ingest" puts {"ops": {"ingest": {"config": {"path": "<file>"}}}} in each run's
# config, which IngestConfig receives. The run also carries the path as tag
# millrace/file_path, and its run key is "<path>@<mtime>": each version of a file runs once.
landing_files = file_arrival_sensor(
    LANDING,
    "*.csv",
    target=[ingest],
    name="landing_files",
    minimum_interval_seconds=30,
    config_op="ingest",
    default_status=DefaultSensorStatus.RUNNING,
)
