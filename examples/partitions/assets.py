"""Partitioned assets: daily features and their 7-day rolling window, hours rolled up into
days, and sales split by region with an unpartitioned summary over every region."""

from __future__ import annotations

import polars as pl
from millrace import (
    AssetIn,
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MetadataValue,
    Output,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
)

from . import synthetic

# One definition per partitioning, shared by every asset (and check) that uses it.
daily_partitions = DailyPartitionsDefinition(start_date="2024-01-01")
hourly_partitions = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
region_partitions = StaticPartitionsDefinition(["north", "south", "east", "west"])


# -- daily features and a rolling window over them --------------------------------------------


@asset(partitions_def=daily_partitions, group_name="features")
def daily_features(context) -> pl.DataFrame:
    """Per-user activity features for one day: one row per user active that day."""
    day = context.partition_key  # "2024-01-03"
    df = synthetic.user_activity(day)
    context.log.info(f"{day}: {df.height} active users")
    return df


@asset(
    partitions_def=daily_partitions,
    group_name="features",
    ins={
        # Day D reads days D-6..D; days before the start date (2024-01-01) do not exist
        # and are left out instead of failing the run.
        "daily_features": AssetIn(
            partition_mapping=TimeWindowPartitionMapping(
                start_offset=-6, allow_nonexistent_upstream_partitions=True
            )
        )
    },
)
def weekly_rolling_features(
    context, daily_features: dict[str, pl.DataFrame]
) -> Output[pl.DataFrame]:
    """Per-user totals over the 7 days ending on this partition's day."""
    # Several upstream partitions arrive as {partition key: frame}; stack them into one frame.
    window = pl.concat(daily_features.values())
    df = (
        window.group_by("user_id")
        .agg(
            days_active=pl.col("feature_date").n_unique(),
            sessions_7d=pl.col("sessions").sum(),
            minutes_active_7d=pl.col("minutes_active").sum().round(1),
            purchases_7d=pl.col("purchases").sum(),
            first_day=pl.col("feature_date").min(),
            last_day=pl.col("feature_date").max(),
        )
        .sort("user_id")
    )
    days = sorted(daily_features)
    context.log.info(f"rolled {len(days)} days: {days[0]}..{days[-1]}")
    return Output(
        df,
        metadata={
            "days_in_window": MetadataValue.int(len(days)),
            "window": MetadataValue.text(f"{days[0]}..{days[-1]}"),
        },
    )


# -- hours rolled up into days ----------------------------------------------------------------


@asset(partitions_def=hourly_partitions, group_name="events")
def hourly_events(context) -> pl.DataFrame:
    """Raw events of one hour (partition keys like 2024-01-03-14:00)."""
    return synthetic.events(context.partition_key)


@asset(partitions_def=daily_partitions, group_name="events")
def daily_event_counts(hourly_events: dict[str, pl.DataFrame]) -> Output[pl.DataFrame]:
    """Events per type for one day. The default mapping from hourly to daily gives each day
    its 24 hours, as {hour key: frame}."""
    events = pl.concat(hourly_events.values())
    df = (
        events.group_by("event_type")
        .agg(events=pl.len(), users=pl.col("user_id").n_unique())
        .sort("event_type")
    )
    return Output(
        df,
        metadata={
            "hours": MetadataValue.int(len(hourly_events)),
            "events": MetadataValue.int(events.height),
        },
    )


# -- sales split by region --------------------------------------------------------------------


@asset(partitions_def=region_partitions, group_name="sales")
def regional_sales(context) -> pl.DataFrame:
    """One region's orders; the partition key is the region."""
    return synthetic.sales(context.partition_key)


@asset(group_name="sales")
def sales_summary(regional_sales: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Revenue per region. Unpartitioned: it reads every region's partition, as
    {region: frame}, so each region must have been materialized first."""
    return (
        pl.concat(regional_sales.values())
        .group_by("region")
        .agg(orders=pl.len(), revenue=pl.col("amount").sum().round(2))
        .sort("region")
    )
