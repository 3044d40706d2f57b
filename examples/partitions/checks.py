"""A partitioned check: it runs for each partition of daily_features that is materialized."""

from __future__ import annotations

import polars as pl
from millrace import AssetCheckResult, MetadataValue, asset_check

from .assets import daily_features, daily_partitions


@asset_check(asset=daily_features, partitions_def=daily_partitions)
def features_have_no_null_minutes(context, daily_features: pl.DataFrame) -> AssetCheckResult:
    """Every active user has a minutes_active value."""
    nulls = daily_features["minutes_active"].null_count()
    return AssetCheckResult(
        passed=nulls == 0,
        metadata={
            "day": MetadataValue.text(context.partition_key),
            "null_minutes": MetadataValue.int(nulls),
            "rows": MetadataValue.int(daily_features.height),
        },
    )
