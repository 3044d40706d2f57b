"""ingest -> clean -> report. Only ``ingest`` is the sensor's target; ``clean`` and
``report`` follow by declarative automation (``AutomationCondition.eager()``): each is
requested when its upstream was updated and none of its upstreams is missing or running."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from millrace import AutomationCondition, Config, MetadataValue, Output, asset

ORDERS_SCHEMA = {"order_id": pl.String, "region": pl.String, "amount": pl.Float64}


class IngestConfig(Config):
    """The file to read: the sensor fills it in (``config_op="ingest"``)."""

    path: str


@asset(group_name="landing")
def ingest(config: IngestConfig) -> Output[pl.DataFrame]:
    """The landed CSV as it is (columns order_id, region, amount), plus the file's name."""
    df = pl.read_csv(config.path, schema_overrides=ORDERS_SCHEMA).with_columns(
        source_file=pl.lit(Path(config.path).name)
    )
    return Output(
        df,
        metadata={
            "path": MetadataValue.path(config.path),
            "rows": MetadataValue.int(df.height),
        },
    )


@asset(group_name="landing", automation_condition=AutomationCondition.eager())
def clean(ingest: pl.DataFrame) -> pl.DataFrame:
    """Regions trimmed and lowercased; rows without an amount, or with a negative one,
    dropped; a repeated order_id kept once (its first row)."""
    return (
        ingest.with_columns(region=pl.col("region").str.strip_chars().str.to_lowercase())
        .filter(pl.col("amount").is_not_null() & (pl.col("amount") >= 0))
        .unique(subset="order_id", keep="first", maintain_order=True)
    )


@asset(group_name="landing", automation_condition=AutomationCondition.eager())
def report(clean: pl.DataFrame) -> pl.DataFrame:
    """Orders and revenue per region, by region."""
    return (
        clean.group_by("region")
        .agg(orders=pl.len(), revenue=pl.col("amount").sum().round(2))
        .sort("region")
    )
