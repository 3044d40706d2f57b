"""The terminal UI under load: start-up, a 10,000-event run followed live, a 1M-row preview,
a 2,000-asset lineage.

Run:  .venv/bin/python bench/tui.py [--events 10000] [--rows 1000000] [--nodes 2000]

Everything runs through the real app (``MillraceApp.run_test`` at 130 x 40) over a real home:

* start-up: from loading the code (in this process, imports warm) to the catalog of
  ``examples/quickstart`` (materialized first, so every row has a status, a row count and
  checks) drawn; the aim is under 1 s;
* cold start-up: ``millrace ui examples/quickstart`` as a new process on a pseudo-terminal,
  from launch to the catalog's rows on the terminal (Python, Textual and Polars imported);
* a run of one asset that logs ``--events`` lines, followed on its run screen (log following
  the end, timeline drawn): how many screen refreshes the events made (the app publishes at
  most 20 a second), the event loop's worst stall while it ran (a 10 ms ticker's lateness:
  what a key press would wait), and the time from the run's end to its last line on screen;
* the asset screen of a ``--rows`` x 12 frame: from opening it to its preview table shown
  (a Polars head read, not the whole frame, into a DataTable of 100 rows);
* the lineage of ``--nodes`` assets shaped like a pipeline (each reads one to three recent
  ones): laid out (longest-path layers, barycenter ordering, routed edges) and drawn into
  cells, the work the lineage screen does off the loop; best of 5.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import random
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import textwrap
import time
from pathlib import Path

from loop_stalls import Stalls
from millrace.declarations.keys import AssetKey
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui.app import MillraceApp
from millrace.tui.layout import layered_layout
from millrace.tui.screens.asset import AssetScreen
from millrace.tui.screens.runs import RunScreen
from millrace.tui.widgets.dag import draw
from millrace.tui.widgets.log_view import LogView
from millrace.tui.widgets.preview import FramePreview
from textual.pilot import Pilot
from textual.widgets import DataTable

QUICKSTART = Path(__file__).resolve().parent.parent / "examples" / "quickstart"
SIZE = (130, 40)
TIMEOUT = 120.0

PROJECT = """
import numpy as np
import polars as pl
from millrace import asset

@asset
def chatty(context) -> int:
    for i in range({events}):
        context.log.info(f"line {{i}} of {events}")
    return {events}

@asset
def wide() -> pl.DataFrame:
    rng = np.random.default_rng(0)
    return pl.DataFrame({{f"c{{i}}": rng.random({rows}) for i in range(12)}})
"""


async def until(pilot: Pilot[None], condition, what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.005)


async def startup() -> float:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        async with Runtime(load_code_location(QUICKSTART), home=home) as first:
            assert (await first.materialize()).success
        started = time.perf_counter()
        runtime = Runtime(load_code_location(QUICKSTART), home=home)
        await runtime.start()
        app = MillraceApp(runtime)
        try:
            async with app.run_test(size=SIZE) as pilot:

                def drawn() -> bool:
                    tables = app.screen.query(DataTable)
                    return bool(tables) and tables.first().row_count == 4

                await until(pilot, drawn, "the catalog")
                return time.perf_counter() - started
        finally:
            await runtime.close()


def cold_startup(home: Path) -> float:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", SIZE[1], SIZE[0], 0, 0))
    env = {**os.environ, "MILLRACE_HOME": str(home), "TERM": "xterm-256color"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "millrace.cli", "ui", str(QUICKSTART)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        start_new_session=True,
    )
    os.close(slave)
    screen = b""
    try:
        while not all(word in screen for word in (b"top_customers", b"fresh", b"50,000")):
            if time.perf_counter() - started > TIMEOUT:
                raise SystemExit(f"no catalog on the terminal: {screen[-500:]!r}")
            screen += re.sub(rb"\x1b\[[0-9;?]*[ -/]*[@-~]", b"", os.read(master, 65536))
        return time.perf_counter() - started
    finally:
        proc.kill()
        proc.wait()
        os.close(master)


async def under_load(events: int, rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "proj"
        code.mkdir()
        (code / "assets.py").write_text(textwrap.dedent(PROJECT.format(events=events, rows=rows)))
        runtime = Runtime(load_code_location(code), home=Path(tmp) / "home")
        await runtime.start()
        app = MillraceApp(runtime)
        try:
            async with app.run_test(size=SIZE) as pilot:
                batches: list[int] = []
                app.events.subscribe(app, lambda batch: batches.append(len(batch)))
                plan = await runtime.resolve_plan("chatty")
                handle = runtime.submit(plan=plan)
                await app.push_screen(RunScreen(handle.run_id))
                stalls = Stalls()
                started = time.perf_counter()
                success = (await handle).success
                ended = time.perf_counter()
                log = app.screen.query_one(LogView)
                await until(pilot, lambda: len(log.lines) >= events + 2, "every line")
                shown = time.perf_counter()
                late = stalls.stop()
                await pilot.pause(0.2)  # the signal's last deliveries, before they are counted
                assert success
                print(f"{events:,}-event run, followed on its run screen:")
                print(
                    f"  run took {ended - started:.2f} s; last line shown "
                    f"{(shown - ended) * 1000:.0f} ms after its end"
                )
                rate = len(batches) / (shown - started)
                print(
                    f"  {len(batches)} refreshes for {sum(batches):,} events "
                    f"({rate:.1f} a second; the cap is 20)"
                )
                print(
                    f"  event loop stalls: median {statistics.median(late) * 1000:.1f} ms, "
                    f"p99 {sorted(late)[int(len(late) * 0.99)] * 1000:.1f} ms, "
                    f"worst {max(late) * 1000:.1f} ms"
                )

                app.pop_screen()
                assert (await runtime.materialize("wide")).success
                opened = time.perf_counter()
                await app.push_screen(AssetScreen(AssetKey("wide")))

                def previewed() -> bool:
                    tables = app.screen.query(FramePreview)
                    return bool(tables) and tables.first().query_one(DataTable).row_count == 100

                await until(pilot, previewed, "the preview")
                print(
                    f"preview of a {rows:,} x 12 frame: shown in "
                    f"{(time.perf_counter() - opened) * 1000:.0f} ms"
                )
        finally:
            await runtime.close()


def lineage_drawing(n: int) -> tuple[int, float, float]:
    """Edges, layout seconds and drawing seconds for a pipeline-shaped graph of ``n``."""
    rnd = random.Random(7)
    nodes = [f"asset_{i}" + "_x" * rnd.randint(0, 4) for i in range(n)]
    edges = sorted({
        (nodes[i - 1 - min(int(rnd.expovariate(1 / 20)), i - 1)], nodes[i])
        for i in range(1, n) for _ in range(rnd.choice([1, 1, 1, 2, 2, 3]))
    })  # fmt: skip
    widths = {node: len(node) + 4 for node in nodes}
    laid, drawn = [], []
    for _ in range(5):
        start = time.perf_counter()
        layout = layered_layout(nodes, edges, widths)
        middle = time.perf_counter()
        draw(layout, {node: node for node in nodes}, ())
        laid.append(middle - start)
        drawn.append(time.perf_counter() - middle)
    return len(edges), min(laid), min(drawn)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, default=2_000)
    args = parser.parse_args()
    edges, laid, drawn = lineage_drawing(args.nodes)
    print(
        f"lineage of {args.nodes:,} assets, {edges:,} edges: laid out in {laid:.2f} s, "
        f"drawn in {drawn:.2f} s (best of 5)"
    )
    times = [await startup() for _ in range(3)]
    print(
        f"start-up to the quickstart catalog: median {statistics.median(times):.2f} s "
        f"(of {', '.join(f'{t:.2f}' for t in times)})"
    )
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        async with Runtime(load_code_location(QUICKSTART), home=home) as first:
            assert (await first.materialize()).success
        cold = [cold_startup(home) for _ in range(3)]
    print(
        f"cold start-up, millrace ui on a terminal: median {statistics.median(cold):.2f} s "
        f"(of {', '.join(f'{t:.2f}' for t in cold)})"
    )
    await under_load(args.events, args.rows)


if __name__ == "__main__":
    asyncio.run(main())
