"""Deterministic stand-ins for the day's feeds: the same partition key always makes the same
rows, on every machine, with no downloads.

Each generator seeds ``random.Random`` with a string naming the feed and the partition key;
seeding with a string is stable across Python versions, so a partition reproduces exactly.
"""

from __future__ import annotations

import random
from datetime import datetime

import polars as pl

USERS = 500  # user ids 0..499; a few hundred of them are active on any day
EVENT_TYPES = ("view", "click", "add_to_cart", "purchase")
PRODUCTS = ("widget", "gadget", "gizmo", "doohickey")


def user_activity(day: str) -> pl.DataFrame:
    """One row per user active on ``day`` (``YYYY-MM-DD``): 250 to 350 rows."""
    rng = random.Random(f"activity-{day}")
    users = sorted(rng.sample(range(USERS), rng.randint(250, 350)))
    sessions = [rng.randint(1, 8) for _ in users]
    return pl.DataFrame(
        {
            "feature_date": [datetime.strptime(day, "%Y-%m-%d").date()] * len(users),
            "user_id": users,
            "sessions": sessions,
            "minutes_active": [round(s * rng.uniform(2.0, 15.0), 1) for s in sessions],
            "purchases": [rng.choices((0, 1, 2), weights=(80, 15, 5))[0] for _ in users],
        },
        schema_overrides={"user_id": pl.Int64, "sessions": pl.Int64, "purchases": pl.Int64},
    )


def events(hour: str) -> pl.DataFrame:
    """The events of one hour (``YYYY-MM-DD-HH:MM``): 20 to 80 rows."""
    rng = random.Random(f"events-{hour}")
    start = datetime.strptime(hour, "%Y-%m-%d-%H:%M")
    n = rng.randint(20, 80)
    return pl.DataFrame(
        {
            "hour": [start] * n,
            "user_id": [rng.randrange(USERS) for _ in range(n)],
            "event_type": rng.choices(EVENT_TYPES, weights=(60, 25, 10, 5), k=n),
        },
        schema_overrides={"user_id": pl.Int64},
    )


def sales(region: str) -> pl.DataFrame:
    """One region's orders: 150 to 250 rows."""
    rng = random.Random(f"sales-{region}")
    n = rng.randint(150, 250)
    return pl.DataFrame(
        {
            "order_id": [f"{region[0]}{i:05d}" for i in range(n)],
            "region": [region] * n,
            "product": rng.choices(PRODUCTS, k=n),
            "amount": [round(rng.lognormvariate(3.5, 0.6), 2) for _ in range(n)],
        }
    )
