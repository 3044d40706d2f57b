"""The brief's pipeline, in Polars: raw_transactions -> clean_transactions -> customer_features."""

from __future__ import annotations

import polars as pl
from millrace import AssetIn, MetadataValue, asset

from .warehouse import fetch_from_warehouse


@asset(description="Raw customer transaction data from warehouse", group_name="raw_data")
def raw_transactions() -> pl.DataFrame:
    return fetch_from_warehouse("SELECT * FROM transactions WHERE date > CURRENT_DATE - 30")


@asset(
    ins={"raw_transactions": AssetIn()},
    description="Cleaned transactions with outliers removed",
    group_name="features",
)
def clean_transactions(context, raw_transactions: pl.DataFrame) -> pl.DataFrame:
    df = raw_transactions.drop_nulls()
    df = df.filter(pl.col("amount") < pl.col("amount").quantile(0.99))
    context.log.info(f"kept {df.height:,} of {raw_transactions.height:,} transactions")
    return df


@asset(
    ins={"clean_transactions": AssetIn()},
    description="Customer lifetime value features for ML training",
    group_name="features",
    metadata={"feature_count": MetadataValue.int(5)},
)
def customer_features(clean_transactions: pl.DataFrame) -> pl.DataFrame:
    return (
        clean_transactions.group_by("customer_id")
        .agg(
            transaction_count=pl.len(),
            total_spend=pl.col("amount").sum(),
            avg_spend=pl.col("amount").mean(),
            last_transaction=pl.col("date").max(),
        )
        .sort("customer_id")
    )


@asset(
    description="The 100 customers who spent the most, for the sales team",
    group_name="reports",
)
def top_customers(customer_features: pl.DataFrame) -> pl.DataFrame:
    return customer_features.sort("total_spend", descending=True).head(100)
