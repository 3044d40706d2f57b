import dagster as dg
import pandas as pd

from ..resources import NotifierResource


class ReportConfig(dg.Config):
    top: int = 2
    title: str = "Top customers"


@dg.asset(group_name="reports")
def top_customers(
    context: dg.AssetExecutionContext,
    config: ReportConfig,
    revenue: pd.DataFrame,
    notifier: NotifierResource,
) -> dg.MaterializeResult:
    best = revenue.sort_values("revenue", ascending=False).head(config.top)
    names = ", ".join(best["name"])
    notifier.send(f"{config.title}: {names}")
    return dg.MaterializeResult(
        metadata={"names": names, "preview": dg.MetadataValue.md(best.to_string(index=False))}
    )


@dg.op
def shares(revenue: pd.DataFrame) -> pd.DataFrame:
    return revenue.assign(share=revenue["revenue"] / revenue["revenue"].sum())


@dg.op
def largest(table: pd.DataFrame) -> float:
    return round(float(table["share"].max()), 4)


@dg.graph_asset(group_name="features")
def leader_share(revenue: pd.DataFrame) -> float:
    """The largest customer's share of revenue."""
    return largest(shares(revenue))
