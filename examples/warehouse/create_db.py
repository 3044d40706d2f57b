"""Create the example's SQLite warehouse: customers and their orders, the same on every machine.

    python examples/warehouse/create_db.py /tmp/prod.sqlite --orders 20000 --seed 2

The numbers come from ``random.Random(seed).random()``, whose sequence Python keeps stable
across versions for a given seed (its other helpers may change).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date, timedelta
from pathlib import Path

START = date(2025, 1, 1)
REGIONS = ("north", "south", "east", "west")

SCHEMA = """
CREATE TABLE customers (
    customer_id INTEGER PRIMARY KEY,
    region TEXT NOT NULL,
    signup_date TEXT NOT NULL
);
CREATE TABLE orders (
    order_id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (customer_id),
    ordered_at TEXT NOT NULL,
    amount REAL NOT NULL,
    status TEXT NOT NULL
);
"""


def create_warehouse(
    path: str | os.PathLike[str], *, customers: int = 400, orders: int = 5_000, seed: int = 1
) -> Path:
    """Write a fresh database at ``path``: beside it first, then renamed into place, so a
    half-written file is never found there."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    rng = random.Random(seed)
    try:
        with closing(sqlite3.connect(tmp)) as db:
            db.executescript(SCHEMA)
            db.executemany("INSERT INTO customers VALUES (?, ?, ?)", _customers(rng, customers))
            db.executemany(
                "INSERT INTO orders VALUES (?, ?, ?, ?, ?)", _orders(rng, orders, customers)
            )
            db.commit()
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return final


def ensure_warehouse(path: str | os.PathLike[str], **options: int) -> Path:
    """``path``, created with ``create_warehouse(path, **options)`` if it does not exist."""
    final = Path(path)
    if not final.exists():
        create_warehouse(final, **options)
    return final


def _customers(rng: random.Random, count: int) -> Iterator[tuple[int, str, str]]:
    for customer_id in range(1, count + 1):
        region = REGIONS[int(rng.random() * len(REGIONS))]
        yield customer_id, region, _day(rng.random()).isoformat()


def _orders(
    rng: random.Random, count: int, customers: int
) -> Iterator[tuple[int, int, str, float, str]]:
    for order_id in range(1, count + 1):
        # squared, so a few customers place many orders, as in real shops
        customer_id = 1 + int(rng.random() ** 2 * customers)
        ordered_at = _day(rng.random()).isoformat()
        # lognormal amounts (Box-Muller from two uniforms): mostly 10-60, a long tail above
        normal = math.sqrt(-2 * math.log(1 - rng.random())) * math.cos(2 * math.pi * rng.random())
        amount = round(math.exp(3.2 + 0.6 * normal), 2)
        roll = rng.random()
        status = "completed" if roll < 0.9 else "refunded" if roll < 0.95 else "canceled"
        yield order_id, customer_id, ordered_at, amount, status


def _day(fraction: float) -> date:
    return START + timedelta(days=int(fraction * 365))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--orders", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    path = create_warehouse(args.path, customers=args.customers, orders=args.orders, seed=args.seed)
    print(f"created {path} ({args.customers} customers, {args.orders} orders)")
    print(f"use it: WAREHOUSE_URL=sqlite:///{path.resolve()}")


if __name__ == "__main__":
    main()
