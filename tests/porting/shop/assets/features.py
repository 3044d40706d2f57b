import dagster as dg
import pandas as pd
from dagster import AssetIn, AssetOut, MetadataValue, Output, multi_asset

daily = dg.DailyPartitionsDefinition(start_date="2024-03-01", end_date="2024-03-04")


@dg.asset(
    group_name="features",
    ins={"orders": AssetIn(key="raw_orders")},
    metadata={"owner": "analytics"},
)
def cleaned_orders(orders: pd.DataFrame) -> Output[pd.DataFrame]:
    cleaned = orders.dropna(subset=["amount"])
    return Output(cleaned, metadata={"dropped": MetadataValue.int(len(orders) - len(cleaned))})


@multi_asset(
    outs={
        "order_counts": AssetOut(group_name="features", code_version="1"),
        "revenue": AssetOut(group_name="features", metadata={"unit": "EUR"}),
    }
)
def customer_stats(
    cleaned_orders: pd.DataFrame, raw_customers: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    joined = cleaned_orders.merge(raw_customers, on="customer_id")
    counts = joined.groupby("name", as_index=False).agg(orders=("order_id", "count"))
    revenue = joined.groupby("name", as_index=False).agg(revenue=("amount", "sum"))
    return counts, revenue


@dg.asset(partitions_def=daily, group_name="features", deps=["cleaned_orders"])
def daily_revenue(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    day = context.partition_key
    return dg.MaterializeResult(metadata={"day": day})
