"""Partitions at scale: ten years of hourly partitions (87,672 keys) for a chain of assets.

Run:  .venv/bin/python bench/partitions.py [--assets 10] [--years 10] [--backfill 10000]

1. The history is generated as runs would leave it: one AssetMaterialized per (asset,
   partition), each with its provenance (the upstream partition it read, with that one's
   data version and event id), written by the event store's own batch writer into a real
   ``millrace.db`` (so the tables, indexes and compact metadata are the real ones). One
   upstream partition in a thousand then gets a new data version, as a re-run would leave it.
2. Status: ``Runtime.partition_status()`` (every partition of every asset, with the causes of
   the stale ones, transitively through the mappings) and ``Runtime.catalog()`` (the summary
   row of each asset), best of 3, and the event loop's worst stall meanwhile.
3. Planning: a backfill of every partition of the first asset (``--missing`` after deleting
   its history would be the same plan), ``build_plan`` timed alone and through
   ``Runtime.backfill`` with a 10 ms ticker measuring the loop's worst stall.
4. Per-partition overhead: a real backfill of ``--backfill`` partitions of a no-op daily
   asset, against ``materialize`` of as many no-op unpartitioned assets (each its own root),
   both persisted on a fresh home; microseconds per step.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from millrace import (
    AssetIn,
    AssetKey,
    DailyPartitionsDefinition,
    Definitions,
    HourlyPartitionsDefinition,
    Runtime,
    asset,
)
from millrace.declarations.metadata import MetadataValue
from millrace.events import AssetMaterialized, InputVersion, RunFinished, RunStarted, RunStatus
from millrace.execution.partitioning import PartitionContext, Partitions
from millrace.execution.plan import build_plan
from millrace.runtime.backfill import BackfillSpec
from millrace.storage.batch import write_batch
from millrace.storage.event_store import EventStore
from millrace.versions.staleness import Status

BATCH = 20_000  # events per transaction while generating


def _root() -> int:
    return 0


def _step(up: int) -> int:
    return up


def chain(n: int, hours: HourlyPartitionsDefinition) -> list[Any]:
    """h0 <- h1 <- ... : each hour of h{i} reads the same hour of h{i-1} (identity)."""
    return [
        asset(
            name=f"h{i}",
            partitions_def=hours,
            ins={"up": AssetIn(key=f"h{i - 1}")} if i else None,
            code_version="1",
        )(_step if i else _root)
        for i in range(n)
    ]


async def generate(home: Path, n: int, hours: HourlyPartitionsDefinition) -> tuple[float, int]:
    """Write the history of ``n`` assets over every hourly key; returns (seconds, events)."""
    keys = hours.get_partition_keys()
    store = await EventStore.open(home)
    await store.close()
    db = sqlite3.connect(home / "millrace.db", isolation_level=None)
    started = time.perf_counter()
    seq = 1
    run_id = "generated"
    write_batch(db, [_at(RunStarted(run_id=run_id, selection=("h*",)), seq)], {})
    seq += 1
    latest: dict[str, tuple[str, int]] = {}  # the previous asset's (version, event) per key
    count = 0
    for i in range(n):
        batch: list[Any] = []
        current: dict[str, tuple[str, int]] = {}
        for k in keys:
            version = f"v{i}-{k}"
            if i == 1 and hash(k) % 1000 == 0:
                version += "-new"  # a re-run gave this upstream partition new data
            inputs = ()
            if i:
                up_version, up_event = latest[k]
                read = up_version.removesuffix("-new")  # what the reader consumed then
                inputs = (InputVersion(AssetKey(f"h{i - 1}"), k, read, up_event),)
            event = AssetMaterialized(
                run_id=run_id,
                asset_key=AssetKey(f"h{i}"),
                partition_key=k,
                metadata={"dagster/row_count": MetadataValue.int(1)},
                code_version="1",
                data_version=version,
                inputs=inputs,
            )
            batch.append(_at(event, seq))
            current[k] = (version, seq)
            seq += 1
            if len(batch) >= BATCH:
                write_batch(db, batch, {})
                count += len(batch)
                batch = []
        if batch:
            write_batch(db, batch, {})
            count += len(batch)
        latest = current
    done = RunFinished(run_id=run_id, status=RunStatus.SUCCESS)
    write_batch(db, [_at(done, seq)], {})
    db.execute("UPDATE meta SET value = ? WHERE name = 'next_event_id'", (seq + 1,))
    db.close()
    return time.perf_counter() - started, count


def _at(event: Any, seq: int) -> Any:
    object.__setattr__(event, "seq", seq)
    return event


async def stall_while(work: Callable[[], Awaitable[Any]]) -> tuple[Any, float, float]:
    """(result, seconds, worst event-loop stall in seconds) of awaiting ``work()``."""
    late: list[float] = []
    stop = asyncio.Event()

    async def ticker() -> None:
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            late.append(time.perf_counter() - before - 0.01)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    result = await work()
    elapsed = time.perf_counter() - started
    stop.set()
    await tick
    return result, elapsed, max(late, default=0.0)


async def status(home: Path, defs: Definitions, n: int) -> None:
    """The first query reads SQLite; the next ones answer from what the Runtime keeps, read
    again only for assets whose history changed."""
    async with Runtime(defs, home=home) as runtime:
        statuses, cold, cold_stall = await stall_while(runtime.partition_status)
        stale = sum(s.count(Status.STALE) for s in statuses.values())
        total = sum(len(s.keys) for s in statuses.values())
        warm, warm_stall = float("inf"), 0.0
        for _ in range(3):
            _, took, stall = await stall_while(runtime.partition_status)
            warm, warm_stall = min(warm, took), max(warm_stall, stall)
        print(
            f"partition_status: {total:,} partitions of {n} assets, {stale:,} stale; first "
            f"{cold * 1000:.0f} ms ({cold / n * 1000:.0f} ms per asset, loop stall "
            f"{cold_stall * 1000:.0f} ms), then {warm * 1000:.0f} ms ({warm / n * 1000:.0f} ms "
            f"per asset, loop stall {warm_stall * 1000:.0f} ms)"
        )
        warm = float("inf")
        for _ in range(3):
            _, took, _ = await stall_while(runtime.catalog)
            warm = min(warm, took)
        print(
            f"catalog (summary rows), warm: {warm * 1000:.0f} ms "
            f"({warm / n * 1000:.0f} ms per asset)"
        )


async def planning(home: Path, defs: Definitions, hours: HourlyPartitionsDefinition) -> None:
    graph = defs.graph
    first = AssetKey("h0")
    keys = tuple(hours.get_partition_keys())
    partitions = Partitions(per_asset={first: keys}, backfill=True, context=PartitionContext())
    started = time.perf_counter()
    plan = build_plan(graph, [first], None, partitions=partitions)
    took = time.perf_counter() - started
    print(f"build_plan: a backfill of {len(plan):,} partitions in {took:.2f} s")
    async with Runtime(defs, home=home) as runtime:
        spec = BackfillSpec(keys[0], keys[-1])
        (_, handle), took, stall = await stall_while(lambda: runtime.backfill([first], spec))
        print(
            f"Runtime.backfill of {len(keys):,} partitions: planned and submitted in {took:.2f} s, "
            f"loop stall {stall * 1000:.0f} ms"
        )
        handle.cancel()  # every step is then reported skipped: not part of planning
        started = time.perf_counter()
        await handle
        print(
            f"  (canceled at once: {len(keys):,} steps reported skipped in "
            f"{time.perf_counter() - started:.2f} s)"
        )


def overhead(partitions: int) -> None:
    days = DailyPartitionsDefinition(start_date="2000-01-01")
    keys = days.get_partition_keys()[:partitions]

    @asset(partitions_def=days)
    def noop_daily() -> int:
        return 1

    roots = [asset(name=f"r{i}")(lambda: 1) for i in range(partitions)]

    async def backfill(home: Path) -> float:
        async with Runtime(Definitions(assets=[noop_daily]), home=home) as runtime:
            started = time.perf_counter()
            _, handle = await runtime.backfill(None, BackfillSpec(keys[0], keys[-1]))
            result = await handle
            assert result.success
            return time.perf_counter() - started

    async def unpartitioned(home: Path) -> float:
        async with Runtime(Definitions(assets=roots), home=home) as runtime:
            started = time.perf_counter()
            result = await runtime.materialize()
            assert result.success
            return time.perf_counter() - started

    figures = {}
    for name, run in (("backfill", backfill), ("unpartitioned", unpartitioned)):
        times = []
        for _ in range(3):
            with tempfile.TemporaryDirectory() as tmp:
                times.append(asyncio.run(run(Path(tmp))))
        figures[name] = min(times) / partitions * 1e6
    ratio = figures["backfill"] / figures["unpartitioned"]
    print(
        f"per step, persisted, best of 3: backfill of {partitions:,} partitions "
        f"{figures['backfill']:.0f} us, {partitions:,} unpartitioned assets "
        f"{figures['unpartitioned']:.0f} us ({ratio:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--backfill", type=int, default=10_000)
    args = parser.parse_args()
    hours = HourlyPartitionsDefinition(
        start_date="2015-01-01-00:00", end_date=f"{2015 + args.years}-01-01-00:00"
    )
    defs = Definitions(assets=chain(args.assets, hours))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        took, events = asyncio.run(generate(home, args.assets, hours))
        size = (home / "millrace.db").stat().st_size
        print(
            f"generated {events:,} materializations ({len(hours.get_partition_keys()):,} hourly "
            f"partitions x {args.assets} assets) in {took:.0f} s; millrace.db {size / 1e6:.0f} MB "
            f"({size / events:.0f} bytes per materialization)"
        )
        asyncio.run(status(home, defs, args.assets))
        asyncio.run(planning(home, defs, hours))
    overhead(args.backfill)


if __name__ == "__main__":
    main()
