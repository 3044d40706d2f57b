import dagster as dg
import pandas as pd


@dg.asset_check(asset="cleaned_orders", blocking=True)
def no_negative_amounts(cleaned_orders: pd.DataFrame) -> dg.AssetCheckResult:
    negative = int((cleaned_orders["amount"] < 0).sum())
    return dg.AssetCheckResult(passed=negative == 0, metadata={"negative": negative})


@dg.multi_asset_check(
    specs=[
        dg.AssetCheckSpec("has_rows", asset="order_counts"),
        dg.AssetCheckSpec("positive", asset="revenue"),
    ]
)
def stats_checks(order_counts: pd.DataFrame, revenue: pd.DataFrame):
    yield dg.AssetCheckResult(
        asset_key="order_counts", check_name="has_rows", passed=len(order_counts) > 0
    )
    yield dg.AssetCheckResult(
        asset_key="revenue",
        check_name="positive",
        passed=bool((revenue["revenue"] > 0).all()),
        severity=dg.AssetCheckSeverity.WARN,
    )
