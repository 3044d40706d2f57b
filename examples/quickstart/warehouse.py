"""A deterministic stand-in for the warehouse: about a million synthetic transactions.

The pseudo-random numbers come from integer mixing in Polars expressions, not from a random
module, so the data are the same on every machine and every Polars version, and fast to make.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl

TODAY = date(2026, 1, 31)  # fixed, so every run produces the same data
_PRIME = 2_147_483_647  # 2**31 - 1: squares of residues still fit in Int64


def _uniform(index: pl.Expr, salt: int) -> pl.Expr:
    """A well-mixed number in (0, 1) for each index: two rounds of a quadratic map mod a prime."""
    x = (index * 48_271 + salt * 16_807 + 1) % _PRIME
    x = (x * x + salt + 12_345) % _PRIME
    x = (x * x + 2 * salt + 67_890) % _PRIME
    return (x + 1) / (_PRIME + 1)


def generate_transactions(
    rows: int = 1_000_000, customers: int = 50_000, seed: int = 7
) -> pl.DataFrame:
    """Transactions over 30 days: lognormal amounts, ~1% missing, ~0.05% huge outliers."""
    i = pl.col("transaction_id")
    u = [_uniform(i, seed * 10 + k) for k in range(6)]
    normal = (-2 * u[0].log()).sqrt() * (2 * math.pi * u[1]).cos()
    amount = (
        pl.when(u[3] < 0.01)
        .then(None)
        .when(u[3] > 0.9995)
        .then(50_000 + u[4] * 450_000)
        .otherwise((3.5 + normal).exp())
        .round(2)
    )
    return pl.select(transaction_id=pl.int_range(rows, dtype=pl.Int64)).with_columns(
        customer_id=(u[2] * customers).floor().cast(pl.Int64),
        amount=amount,
        date=pl.lit(TODAY) - pl.duration(days=(u[5] * 30).floor().cast(pl.Int64)),
    )


def fetch_from_warehouse(sql: str) -> pl.DataFrame:
    """Pretend to run ``sql``; the synthetic table is what any query of it returns."""
    return generate_transactions()
