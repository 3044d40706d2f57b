"""Partitioned assets. Run: millrace materialize examples/partitions --partition 2024-01-03
--select daily_features+ (see README.md in this directory)."""

from millrace import Definitions

from .assets import (
    daily_event_counts,
    daily_features,
    hourly_events,
    regional_sales,
    sales_summary,
    weekly_rolling_features,
)
from .checks import features_have_no_null_minutes
from .schedules import daily_features_job, daily_features_schedule

defs = Definitions(
    assets=[
        daily_features,
        weekly_rolling_features,
        hourly_events,
        daily_event_counts,
        regional_sales,
        sales_summary,
    ],
    asset_checks=[features_have_no_null_minutes],
    jobs=[daily_features_job],
    schedules=[daily_features_schedule],
)
