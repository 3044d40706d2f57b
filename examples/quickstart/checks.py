"""Data quality: the brief's null check, a blocking gate, and a warning that fires."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
from millrace import AssetCheckResult, AssetCheckSeverity, MetadataValue, asset_check

from .assets import customer_features
from .warehouse import TODAY


@asset_check(asset=customer_features)
def check_no_nulls(customer_features: pl.DataFrame) -> AssetCheckResult:
    null_count = customer_features.null_count().sum_horizontal().item()
    return AssetCheckResult(
        passed=null_count == 0,
        metadata={"null_count": MetadataValue.int(int(null_count))},
    )


@asset_check(asset=customer_features, blocking=True)
def spend_is_positive(customer_features: pl.DataFrame) -> AssetCheckResult:
    """Reports must never go out with negative or zero spend: this gates top_customers."""
    bad = customer_features.filter(pl.col("total_spend") <= 0).height
    return AssetCheckResult(passed=bad == 0, metadata={"bad_rows": bad})


@asset_check(asset=customer_features)
def customers_are_recent(customer_features: pl.DataFrame) -> AssetCheckResult:
    """Warns when some customers have not bought anything for a week: worth a look, not a stop."""
    cutoff = TODAY - timedelta(days=7)
    stale = customer_features.filter(pl.col("last_transaction") < cutoff).height
    return AssetCheckResult(
        passed=stale == 0,
        severity=AssetCheckSeverity.WARN,
        description=f"{stale:,} customers have not bought anything since {cutoff}",
        metadata={"stale_customers": stale},
    )
