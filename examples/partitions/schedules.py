"""A daily schedule: each day, shortly after midnight UTC, the day that just closed."""

from __future__ import annotations

from millrace import AssetSelection, build_schedule_from_partitioned_job, define_asset_job

from .assets import daily_partitions

# The daily-partitioned features and their 7-day window (the "features" group). The daily
# event counts are left out: they read hourly partitions, which a daily run does not make.
daily_features_job = define_asset_job(
    "daily_features_job",
    selection=AssetSelection.groups("features"),
    partitions_def=daily_partitions,
)

# Cron "10 0 * * *" in the partitions' timezone (UTC): the tick of 2024-01-04 00:10 runs
# partition 2024-01-03 (run key = partition key, so a day never runs twice). Stopped until
# started: millrace schedules start daily_features_job_schedule examples/partitions.
daily_features_schedule = build_schedule_from_partitioned_job(daily_features_job, minute_of_hour=10)
