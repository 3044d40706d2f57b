"""Millrace at scale: a 10,000-asset code location, a 100,000-event history, memory of big runs.

Run:  .venv/bin/python bench/scale.py [--assets 10000] [--events 100000] [--repeat 3]

A project of ``--assets`` assets in 20 modules is written to a temporary directory. Each
module is a realistic mix: its root reads the previous module's root (``deps``), then
chains (each asset takes the one before as its input), fans (children of the module's root),
every tenth asset partitioned (four static partitions, a leaf), and an ``@asset_check`` on
every 25th; groups per module, kinds and tags on some. Measured, each next to its aim
(issue 19, items 4 and 5):

* load + validate + plan, as ``millrace materialize`` does it (``load_code_location``, the
  ``Runtime`` that versions the code, both ``long_lived``; ``Runtime.plan`` of every
  unpartitioned asset), in a
  fresh process with Millrace imported first: best of ``--repeat`` processes;
* ``millrace status`` wall time in a fresh process (interpreter start-up included) over a
  ``.millrace/`` holding ``--events`` events, produced by real runs of the project (and one
  partition of each partitioned asset): best of ``--repeat``;
* a reload of one edited module through the dev runtime: ``Runtime.reload()`` right after
  the file is written (the edit seen to the new graph swapped in) and, through the watcher,
  ``DevLoop`` (auto off) from the save to ``ReloadApplied`` (watchfiles' quiet period in);
* the TUI catalog (``MillraceApp.run_test``, 160 x 50) of every asset: from the app's start
  to a screenful of rows in the table, and to the table filled (it holds the first 200
  matching assets; a line under it counts the rest); then ``/`` and a filter typed
  one key at a time (each key pressed through Pilot until the app is idle again), next to
  a key the table ignores waited for the same way (Pilot's share of each figure);
* peak RSS (``VmHWM``) of a fresh process running every asset of an unpartitioned
  project of ``--assets`` no-op assets, and of a run whose one asset logs ``--events`` lines;
  and the ``Event`` objects still alive after each run while its result is held.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

MODULES = 20
PARTITION_EVERY = 10  # every tenth asset of a module is partitioned
CHECK_EVERY = 25
SIZE = (160, 50)
TIMEOUT = 300.0
FILTER = "m7_a12"  # typed into the catalog's filter, one key at a time


# -- the project -------------------------------------------------------------------------------


def module_source(m: int, per_module: int, *, partitioned: bool) -> str:
    """Module ``m``: a root, then chains and fans, partitioned leaves and checks."""
    lines = [
        "from millrace import AssetCheckResult, StaticPartitionsDefinition, asset, asset_check",
        "",
        'PARTS = StaticPartitionsDefinition(["p0", "p1", "p2", "p3"])',
    ]
    group = f'group_name="g{m}"'
    root = f"m{m}_a0"
    deps = f', deps=["m{m - 1}_a0"]' if m else ""
    lines += ["", f"@asset({group}{deps})", f"def {root}() -> int:", f"    return {m}"]
    previous = root
    for a in range(1, per_module):
        name = f"m{m}_a{a}"
        extra = ', kinds={"polars"}' if a % 7 == 0 else ""
        extra += f', tags={{"tier": "t{a % 3}"}}' if a % 5 == 0 else ""
        if partitioned and a % PARTITION_EVERY == PARTITION_EVERY - 1:
            lines += [
                "",
                f'@asset({group}, partitions_def=PARTS, deps=["{previous}"]{extra})',
                f"def {name}(context) -> int:",
                "    return len(context.partition_key)",
            ]
            continue  # a leaf: the chain goes on from the asset before it
        up = root if a % 4 == 3 else previous  # a fan child of the root, else the chain
        lines += [
            "",
            f"@asset({group}{extra})",
            f"def {name}({up}: int) -> int:",
            f"    return {up} + {a}",
        ]
        if up == previous:
            previous = name
        if a % CHECK_EVERY == 0:
            lines += [
                "",
                f"@asset_check(asset={name})",
                f"def {name}_positive({name}: int) -> AssetCheckResult:",
                f"    return AssetCheckResult(passed={name} >= 0)",
            ]
    return "\n".join(lines) + "\n"


def write_project(where: Path, assets: int, *, partitioned: bool = True) -> Path:
    """A project directory (``pyproject.toml`` marks its root) of ``assets`` assets."""
    proj = where / "proj"
    proj.mkdir(parents=True)
    (proj / "pyproject.toml").write_text('[project]\nname = "scale"\n')
    per_module = max(assets // MODULES, 2)
    for m in range(MODULES):
        source = module_source(m, per_module, partitioned=partitioned)
        (proj / f"m{m}.py").write_text(source)
    return proj


def counted_assets(proj: Path) -> int:
    return sum(path.read_text().count("\n@asset(") for path in proj.glob("m*.py"))


# -- fresh processes ---------------------------------------------------------------------------


def python(snippet: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``snippet`` in a fresh interpreter; it prints one JSON object as its last line."""
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(snippet), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
    )
    if out.returncode != 0:
        raise SystemExit(f"the measuring process failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


LOAD_PLAN = """
    import json, sys, time
    import millrace.cli  # what the CLI has imported before it loads the code
    from millrace.runtime.loader import load_code_location
    from millrace.runtime.long_lived import long_lived
    from millrace.runtime.runtime import Runtime

    started = time.perf_counter()
    with long_lived():  # as the CLI's one-shot commands build it
        location = load_code_location(sys.argv[1])
        loaded = time.perf_counter()
        runtime = Runtime(location, home=sys.argv[2])
    versioned = time.perf_counter()
    keys = [k for k, n in location.defs.graph.nodes.items() if n.partitions_def is None]
    plan = runtime.plan(keys)
    planned = time.perf_counter()
    print(json.dumps({
        "load": loaded - started, "version": versioned - loaded, "plan": planned - versioned,
        "steps": len(plan), "assets": len(location.defs.graph.nodes),
    }))
"""


def load_and_plan(proj: Path, home: Path, repeat: int) -> dict[str, float]:
    """The fastest of ``repeat`` fresh processes, by total, with its parts. The home exists,
    as after a project's first run, so versioning keeps what it read for the next process."""
    home.mkdir(parents=True, exist_ok=True)
    runs = [python(LOAD_PLAN, str(proj), str(home)) for _ in range(repeat)]
    return min(runs, key=lambda r: r["load"] + r["version"] + r["plan"])


def status_wall(proj: Path, home: Path, repeat: int) -> tuple[float, list[float]]:
    """Seconds of ``millrace status`` in a fresh process: the best and every run."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "millrace.cli", "status", str(proj), "--home", str(home)],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        times.append(time.perf_counter() - started)
        if out.returncode != 0:
            raise SystemExit(f"millrace status failed:\n{out.stderr[-3000:]}")
    return min(times), times


STATUS_PARTS = """
    import asyncio, json, sys, time
    started = time.perf_counter()
    import millrace.cli
    imported = time.perf_counter()
    from millrace.runtime.loader import load_code_location
    from millrace.runtime.runtime import Runtime
    from millrace.reports import status_table

    async def main():
        t0 = time.perf_counter()
        runtime = Runtime(load_code_location(sys.argv[1]), home=sys.argv[2], readonly=True)
        t1 = time.perf_counter()
        async with runtime:
            t2 = time.perf_counter()
            rows = await runtime.catalog()
            t3 = time.perf_counter()
        status_table(rows)
        t4 = time.perf_counter()
        return {"load": t1 - t0, "open": t2 - t1, "catalog": t3 - t2, "table": t4 - t3}

    parts = asyncio.run(main())
    print(json.dumps({"import": imported - started, **parts}))
"""


RUN_MEMORY = """
    import asyncio, gc, json, sys
    from collections import Counter
    from millrace.events import Event
    from millrace.runtime.loader import load_code_location
    from millrace.runtime.runtime import Runtime

    def peak_mib():  # VmHWM: this process's own peak (ru_maxrss keeps the forking parent's)
        with open("/proc/self/status") as f:
            line = next(s for s in f if s.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024

    async def main():
        location = load_code_location(sys.argv[1])
        async with Runtime(location, home=sys.argv[2]) as runtime:
            loaded = peak_mib()
            result = await runtime.materialize()
            assert result.success, result
            gc.collect()
            alive = Counter(o.kind for o in gc.get_objects() if isinstance(o, Event))
            return {"loaded_mib": loaded, "events_alive": sum(alive.values()), "kinds": alive}

    out = asyncio.run(main())
    out["peak_mib"] = peak_mib()
    print(json.dumps(out))
"""

CHATTY = """
from millrace import asset

@asset
def chatty(context) -> int:
    for i in range({lines}):
        context.log.info(f"line {{i}}")
    return {lines}
"""


def run_memory(proj: Path, home: Path) -> dict[str, Any]:
    return python(RUN_MEMORY, str(proj), str(home))


def stored_events(home: Path) -> int:
    with sqlite3.connect(f"file:{home / 'millrace.db'}?mode=ro", uri=True) as db:
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])


# -- in this process ---------------------------------------------------------------------------


async def fill_history(proj: Path, home: Path, events: int) -> tuple[int, int]:
    """Real runs until the store holds ``events`` events: (events, runs)."""
    from millrace.runtime.loader import load_code_location
    from millrace.runtime.runtime import Runtime

    location = load_code_location(proj)
    nodes = location.defs.graph.nodes
    plain = [k for k, n in nodes.items() if n.partitions_def is None]
    parted = [k for k, n in nodes.items() if n.partitions_def is not None]
    runs = 0
    async with Runtime(location, home=home) as runtime:
        if parted:
            assert (await runtime.materialize(parted, partition_key="p0")).success
            runs += 1
        while stored_events(home) < events:
            assert (await runtime.materialize(plain)).success
            runs += 1
    return stored_events(home), runs


def edit(module: Path, n: int) -> None:
    """Change one asset's body (its code version moves; the graph keeps its shape)."""
    text = module.read_text()
    old = next(
        line for line in text.splitlines() if line.startswith("    return m") and "+" in line
    )
    new = old.rsplit("+", 1)[0] + f"+ {1000 + n}"
    module.write_text(text.replace(old, new, 1))


async def reloads(proj: Path, home: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Milliseconds of ``Runtime.reload()`` right after an edit, and from a save to the
    ``ReloadApplied`` of the dev loop's watcher."""
    from millrace.events import ReloadApplied
    from millrace.runtime.dev import DevLoop
    from millrace.runtime.loader import load_code_location
    from millrace.runtime.long_lived import long_lived
    from millrace.runtime.runtime import Runtime

    module = proj / f"m{MODULES // 2}.py"
    direct, watched = [], []
    with long_lived():  # as ``millrace dev`` builds its first load
        served = Runtime(load_code_location(proj), home=home)
    async with served as runtime:
        for n in range(repeat):
            edit(module, n)
            started = time.perf_counter()
            applied = await runtime.reload()
            direct.append((time.perf_counter() - started) * 1000)
            assert isinstance(applied, ReloadApplied) and applied.changed, applied
        loop = DevLoop(runtime, auto=False)
        ready, stop = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(loop.run(stop=stop, on_ready=ready.set))
        await asyncio.wait_for(ready.wait(), TIMEOUT)
        for n in range(repeat):
            saved = time.time()
            edit(module, repeat + n)
            outcome, _ = await asyncio.wait_for(loop.outcomes.get(), TIMEOUT)
            assert isinstance(outcome, ReloadApplied), outcome
            watched.append((outcome.timestamp - saved) * 1000)
        stop.set()
        await task
    return direct, watched


async def catalog_ui(proj: Path, home: Path, assets: int) -> dict[str, Any]:
    """Seconds from the app's start to the catalog's first screen of rows and to its table
    filled (the first ``MAX_ROWS``), and milliseconds per filter key (pressed, then the app
    idle again)."""
    from loop_stalls import Stalls
    from millrace.runtime.loader import load_code_location
    from millrace.runtime.runtime import Runtime
    from millrace.tui.app import MillraceApp
    from millrace.tui.screens.catalog import MAX_ROWS, CatalogScreen
    from textual.widgets import DataTable

    runtime = Runtime(load_code_location(proj), home=home, readonly=True)
    started = time.perf_counter()
    await runtime.start()
    app = MillraceApp(runtime)
    try:
        async with app.run_test(size=SIZE) as pilot:

            def rows() -> int:
                if not isinstance(app.screen, CatalogScreen):
                    return 0
                return app.screen.query_one("#table", DataTable).row_count

            async def until(count: int) -> float:
                deadline = time.monotonic() + TIMEOUT
                while rows() < count:
                    if time.monotonic() > deadline:
                        raise SystemExit(f"the catalog did not show {count} rows")
                    await pilot.pause(0.005)
                return time.perf_counter() - started

            first = await until(min(SIZE[1], assets))
            stalls = Stalls()
            every = await until(min(MAX_ROWS, assets))
            late = stalls.stop()
            await pilot.press("slash")
            keys = []
            for letter in FILTER:
                pressed = time.perf_counter()
                await pilot.press(letter)
                await pilot.pause()
                keys.append((time.perf_counter() - pressed) * 1000)
            assert 0 < rows() < min(MAX_ROWS, assets), rows()
            # Pilot's own share: a key the table ignores (the filter box's cursor moving),
            # waited for the same way; its idle detection sleeps in 20 ms steps.
            idle = []
            for _ in FILTER:
                pressed = time.perf_counter()
                await pilot.press("left")
                await pilot.pause()
                idle.append((time.perf_counter() - pressed) * 1000)
    finally:
        await runtime.close()
    return {
        "first": first,
        "every": every,
        "keys": keys,
        "idle": min(idle),
        "stall": max(late, default=0.0),
    }


# -- main --------------------------------------------------------------------------------------


def kinds(r: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(r["kinds"].items(), key=lambda kv: -kv[1]))


def verdict(value: float, aim: float) -> str:
    return "meets it" if value < aim else f"MISSES ({value / aim:.1f}x)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes / reloads each")
    parser.add_argument(
        "--only", default="load,status,reload,tui,memory", help="which figures, comma-separated"
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    # The fresh processes keep the project's bytecode, as a user's machine does: the first
    # one compiles, the others read it back.
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    root = Path(tempfile.mkdtemp(prefix="millrace-scale-"))
    try:
        proj = write_project(root, args.assets)
        home = root / "home"
        n = counted_assets(proj)
        print(f"{n:,} assets in {MODULES} modules under {proj}")

        if "load" in only:
            r = load_and_plan(proj, root / "scratch-home", args.repeat)
            total = r["load"] + r["version"] + r["plan"]
            print(
                f"load + validate + plan (fresh process, best of {args.repeat}): "
                f"{total * 1000:.0f} ms  [aim < 1000 ms: {verdict(total, 1.0)}]\n"
                f"  load_code_location (import, decorators, Definitions) {r['load'] * 1000:.0f}"
                f" ms; Runtime (code versions) {r['version'] * 1000:.0f} ms; plan of "
                f"{r['steps']:,} steps {r['plan'] * 1000:.0f} ms"
            )

        if "status" in only or "tui" in only:
            started = time.perf_counter()
            stored, runs = asyncio.run(fill_history(proj, home, args.events))
            print(
                f"history: {stored:,} events stored by {runs} real runs "
                f"({time.perf_counter() - started:.0f} s)"
            )
        if "status" in only:
            best, times = status_wall(proj, home, args.repeat)
            parts = python(STATUS_PARTS, str(proj), str(home))
            print(
                f"millrace status, fresh process (best of {args.repeat}): {best * 1000:.0f} ms "
                f"[aim < 200 ms: {verdict(best, 0.2)}]  (all: "
                f"{', '.join(f'{t * 1000:.0f}' for t in times)})\n  of which: "
                + "; ".join(f"{k} {v * 1000:.0f} ms" for k, v in parts.items())
            )

        if "reload" in only:
            direct, watched = asyncio.run(reloads(proj, root / "reload-home", args.repeat))
            print(
                f"reload of one edited module: Runtime.reload() median "
                f"{statistics.median(direct):.0f} ms (best {min(direct):.0f}) "
                f"[aim < 300 ms: {verdict(statistics.median(direct), 300)}]\n"
                f"  save -> ReloadApplied through the watcher: median "
                f"{statistics.median(watched):.0f} ms (best {min(watched):.0f})"
            )

        if "tui" in only:
            ui = asyncio.run(catalog_ui(proj, home, n))
            keys = ui["keys"]
            print(
                f"TUI catalog of {n:,} assets: first screen of rows {ui['first'] * 1000:.0f} ms "
                f"[aim < 1000 ms: {verdict(ui['first'], 1.0)}]; table filled "
                f"{ui['every'] * 1000:.0f} ms (worst event-loop stall meanwhile "
                f"{ui['stall'] * 1000:.0f} ms)\n  filter {FILTER!r} typed: "
                f"{', '.join(f'{k:.0f}' for k in keys)} ms per key (worst {max(keys):.0f}; "
                f"aim: no visible lag, < 100 ms: {verdict(max(keys), 100)})\n  of which Pilot's "
                f"wait for idle, a key the table ignores: {ui['idle']:.0f} ms"
            )

        if "memory" in only:
            plain = write_project(root / "plain", args.assets, partitioned=False)
            r = run_memory(plain, root / "plain-home")
            print(
                f"{counted_assets(plain):,}-asset no-op run, fresh process: peak RSS "
                f"{r['peak_mib']:.0f} MiB [aim < 80 MB: {verdict(r['peak_mib'] * 1.048576, 80)}]"
                f" (after the load: {r['loaded_mib']:.0f} MiB); Event objects alive after it, "
                f"result held: {r['events_alive']:,} ({kinds(r)})"
            )
            chatty = root / "chatty"
            chatty.mkdir()
            (chatty / "assets.py").write_text(CHATTY.format(lines=args.events))
            r = run_memory(chatty, root / "chatty-home")
            print(
                f"{args.events:,}-event run (one asset logging {args.events:,} lines), fresh "
                f"process: peak RSS {r['peak_mib']:.0f} MiB (after the load: "
                f"{r['loaded_mib']:.0f} MiB); Event objects alive after it, result held: "
                f"{r['events_alive']:,} ({kinds(r)}) [aim: events not held]"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
