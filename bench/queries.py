"""How fast the Runtime answers a UI's queries on a big history.

Run:  .venv/bin/python bench/queries.py [--assets 1000] [--events 100000]

A graph of ``--assets`` no-op assets in ten layers (each asset reads two of the layer above)
is materialized until the store holds ``--events`` events, then each query the TUI makes is
timed on the loop (median and max of 20 calls, milliseconds): ``catalog()`` (statuses with
causes, last materializations, check summaries), ``status()``, ``runs(50)``,
``run_events(run, limit=500)``, ``asset_history(key, 20)`` and ``lineage(leaf)`` (ten levels
deep). Aim (the issue): each under 50 ms at 1,000 assets and 100,000 events.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from millrace import AssetIn, Definitions, asset
from millrace.runtime.runtime import Runtime

LAYERS = 10


def layered(n: int) -> Definitions:
    width = max(n // LAYERS, 1)
    assets = []
    for layer in range(LAYERS):
        for i in range(width):
            name = f"l{layer}_{i}"
            if layer == 0:
                assets.append(asset(name=name)(lambda: 1))
            else:
                ins = {
                    "a": AssetIn(key=f"l{layer - 1}_{i}"),
                    "b": AssetIn(key=f"l{layer - 1}_{(i + 1) % width}"),
                }
                assets.append(asset(name=name, ins=ins)(lambda a, b: a + b))
    return Definitions(assets=assets)


async def timed(call: Callable[[], Awaitable[Any]], repeat: int = 20) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


async def main_async(assets: int, events: int, home: Path) -> None:
    defs = layered(assets)
    async with Runtime(defs, home=home) as runtime:
        stored, runs = 0, 0
        while stored < events:
            result = await runtime.materialize()
            stored += len(result.all_events)
            runs += 1
        last = result.run_id
        leaf = defs.graph.toposort[-1]
        print(f"{assets} assets, {stored:,} events in {runs} runs; milliseconds (median, max)")
        queries: dict[str, Callable[[], Awaitable[Any]]] = {
            "catalog()": runtime.catalog,
            "status()": runtime.status,
            "runs(50)": lambda: runtime.runs(50),
            "run_events(run, limit=500)": lambda: runtime.run_events(last, limit=500),
            "asset_history(key, 20)": lambda: runtime.asset_history(leaf, 20),
            f"lineage({leaf.to_user_string()})": lambda: runtime.lineage(leaf),
        }
        for name, call in queries.items():
            median, worst = await timed(call)
            print(f"  {name:32} {median:7.1f}  {worst:7.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="millrace-queries-"))
    try:
        asyncio.run(main_async(args.assets, args.events, root / "home"))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
