"""examples/quickstart's work as a plain Polars script: no orchestrator.

Run:  .venv/bin/python bench/quickstart_plain.py OUT_DIR

The same data (examples/quickstart/warehouse.py, loaded by path so that Millrace is not
imported), the same four assets computed the same way and written where ``millrace
materialize examples/quickstart`` writes them (``OUT_DIR/<asset>.parquet``, as its home's
``storage/``, with Polars' default Parquet settings, as its IO manager writes them), and the
three checks evaluated. What a plain script does not do, and Millrace does, is part of what
bench/quickstart.py measures: reading each input back from its Parquet file, hashing what it
writes, the frame metadata, the history in SQLite.
"""

from __future__ import annotations

import importlib.util
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import polars as pl

WAREHOUSE = Path(__file__).resolve().parent.parent / "examples" / "quickstart" / "warehouse.py"


def load_warehouse() -> ModuleType:
    """examples/quickstart/warehouse.py on its own: its package __init__ imports Millrace."""
    spec = importlib.util.spec_from_file_location("quickstart_warehouse", WAREHOUSE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(out: Path) -> dict[str, object]:
    """Compute and write the four frames; the checks' verdicts."""
    warehouse = load_warehouse()
    out.mkdir(parents=True, exist_ok=True)

    raw = warehouse.fetch_from_warehouse(
        "SELECT * FROM transactions WHERE date > CURRENT_DATE - 30"
    )
    raw.write_parquet(out / "raw_transactions.parquet")

    clean = raw.drop_nulls()
    clean = clean.filter(pl.col("amount") < pl.col("amount").quantile(0.99))
    print(f"kept {clean.height:,} of {raw.height:,} transactions")
    clean.write_parquet(out / "clean_transactions.parquet")

    features = (
        clean.group_by("customer_id")
        .agg(
            transaction_count=pl.len(),
            total_spend=pl.col("amount").sum(),
            avg_spend=pl.col("amount").mean(),
            last_transaction=pl.col("date").max(),
        )
        .sort("customer_id")
    )
    features.write_parquet(out / "customer_features.parquet")

    verdicts = {
        "check_no_nulls": features.null_count().sum_horizontal().item() == 0,
        "spend_is_positive": features.filter(pl.col("total_spend") <= 0).height == 0,
        "customers_are_recent": features.filter(
            pl.col("last_transaction") < warehouse.TODAY - timedelta(days=7)
        ).height
        == 0,
    }
    if verdicts["spend_is_positive"]:  # the blocking check gates top_customers, as in Millrace
        top = features.sort("total_spend", descending=True).head(100)
        top.write_parquet(out / "top_customers.parquet")
    return verdicts


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUT_DIR")
    for name, passed in run(Path(sys.argv[1])).items():
        print(f"{'✓' if passed else '✗'} check {name}")
