"""Per-asset orchestration overhead of Millrace, measured on no-op assets.

Run:  /work/venv/bin/python bench/overhead.py [--sizes 100,1000] [--shapes chain] [--repeat 3]
      /work/venv/bin/python bench/overhead.py --profile --sizes 1000   (hot spots instead)

Every asset is a plain ``def`` returning a small int, so what is timed is Millrace itself:
Definitions validation, planning, scheduling, the worker-thread hop, the IO manager, events
and (when persisted) SQLite. Two shapes:

* chain: a0 <- a1 <- ... <- a{N-1}; asset i takes asset i-1 as its ``up`` parameter
  (``ins={"up": AssetIn(key=f"a{i-1}")}``), so at most one step runs at a time;
* fan:   one root a0 and N-1 children c1..c{N-1}, each taking a0 as its ``up`` parameter,
  so up to ``max_concurrency`` steps are in flight.

Each is run through ``millrace.materialize(assets, home=<fresh temp dir>)`` (events in SQLite,
small pickled values committed to SQLite with their events by the default IO manager) and
through ``millrace.materialize_to_memory(assets)``.
Only the materialize call is timed: the AssetsDefinition objects are built beforehand, but the
``Definitions`` that materialize builds (and validates) inside the call is included. An opt-in
third mode, ``events-only`` (``--modes persisted,events-only,memory``), is ``materialize`` with
SQLite history but an InMemoryIOManager, to tell the cost of the event store from that of the
files; ``--home-root /dev/shm`` puts the homes on tmpfs to tell Millrace from the disk.

Figures to compare with (from the issue; per no-op asset, on the reporter's machine):

    Dagster   materialize(), persisted                          24,500 us/asset
    Prefect   flow of tasks                                      7,100 us/asset
    Kedro     SequentialRunner                                   2,200 us/asset
    Hamilton  driver, no persistence                                 9 us/asset
    a 20-line graphlib loop writing one SQLite row per asset,
              all in one transaction                                15 us/asset

Aim: under 100 us per no-op asset at N = 1,000, persisted (``materialize`` with history).

The script also prints, for scale: the time of ``import millrace`` in a fresh interpreter
(median of 5, as the environment runs it and with bytecode cached; textual and pandas must not
be imported by it), the raw cost of one hop to a worker thread on this machine
(``loop.run_in_executor`` of a no-op on a persistent ThreadPoolExecutor, which every ``def``
asset pays at least once), the cost of writing one small pickle atomically (temp file, rename:
what the default IO manager does per asset) under the home root, and the graphlib + SQLite
reference loop above re-measured here, so the issue's figures can be scaled to this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import graphlib
import json
import os
import pickle
import platform
import pstats
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import millrace
from millrace import AssetIn, AssetsDefinition, asset
from millrace.execution.executor import DEFAULT_MAX_CONCURRENCY

SHAPES = ("chain", "fan")
MODES = ("persisted", "events-only", "memory")
DEFAULT_MODES = ("persisted", "memory")
DEFAULT_SIZES = (100, 1_000, 10_000)
AIM_US = 100.0
AIM_N = 1_000
APP_DIR = Path(millrace.__file__).resolve().parent


# -- the assets --------------------------------------------------------------------------------


def _root() -> int:
    return 1


def _child(up: int) -> int:
    return up + 1


def build_chain(n: int) -> list[AssetsDefinition]:
    assets = [asset(name="a0")(_root)]
    for i in range(1, n):
        assets.append(asset(name=f"a{i}", ins={"up": AssetIn(key=f"a{i - 1}")})(_child))
    return assets


def build_fan(n: int) -> list[AssetsDefinition]:
    assets = [asset(name="a0")(_root)]
    for i in range(1, n):
        assets.append(asset(name=f"c{i}", ins={"up": AssetIn(key="a0")})(_child))
    return assets


BUILDERS: dict[str, Callable[[int], list[AssetsDefinition]]] = {
    "chain": build_chain,
    "fan": build_fan,
}


def check(shape: str, n: int, result: millrace.RunResult) -> None:
    """The run really ran every asset (checked outside the timed call)."""
    assert result.success, result
    assert len(result.get_asset_materialization_events()) == n, shape
    last = f"a{n - 1}" if shape == "chain" else f"c{n - 1}"
    assert result.asset_value(last) == (n if shape == "chain" else 2), shape


# -- one run -----------------------------------------------------------------------------------


HOME_ROOT: str | None = None  # where fresh homes are made; None: the system temp dir


def fresh_home(mode: str) -> Path | None:
    if mode == "memory":
        return None
    return Path(tempfile.mkdtemp(prefix="millrace-bench-", dir=HOME_ROOT))


def run_once(mode: str, assets: list[AssetsDefinition], home: Path | None) -> millrace.RunResult:
    if mode == "persisted":
        return millrace.materialize(assets, home=home)
    if mode == "events-only":
        io_manager = millrace.InMemoryIOManager()
        return millrace.materialize(assets, home=home, resources={"io_manager": io_manager})
    return millrace.materialize_to_memory(assets)


def timed_run(shape: str, mode: str, assets: list[AssetsDefinition]) -> float:
    """Seconds for one materialize call; its home is a fresh temp dir, removed afterwards."""
    home = fresh_home(mode)
    try:
        gc.collect()
        if home is not None:
            os.sync()  # start from a quiet disk: earlier runs' writeback is not charged here
        started = time.perf_counter()
        result = run_once(mode, assets, home)
        elapsed = time.perf_counter() - started
        check(shape, len(assets), result)
        del result
    finally:
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
    return elapsed


def traced_peak(shape: str, mode: str, assets: list[AssetsDefinition]) -> int:
    """Bytes: tracemalloc peak above the starting level during one extra, untimed call."""
    home = fresh_home(mode)
    try:
        gc.collect()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        result = run_once(mode, assets, home)
        peak = tracemalloc.get_traced_memory()[1] - base
        tracemalloc.stop()
        check(shape, len(assets), result)
        del result
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
    return peak


@dataclass
class Row:
    shape: str
    n: int
    mode: str
    times: list[float]
    peak: int | None

    @property
    def median(self) -> float:
        return statistics.median(self.times)

    @property
    def per_asset_us(self) -> float:
        return self.median / self.n * 1e6


def print_table(rows: Sequence[Row]) -> None:
    header = (
        f"{'shape':<6} {'N':>7} {'mode':<11} {'median ms':>11} {'min ms':>10} "
        f"{'us/asset':>9} {'min us/a':>9} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        peak = "-" if r.peak is None else f"{r.peak / 2**20:.1f}"
        print(
            f"{r.shape:<6} {r.n:>7,} {r.mode:<11} {r.median * 1e3:>11.1f} "
            f"{min(r.times) * 1e3:>10.1f} {r.per_asset_us:>9.1f} "
            f"{min(r.times) / r.n * 1e6:>9.1f} {peak:>9}"
        )


# -- for scale: import time, thread hop, graphlib + SQLite reference ----------------------------

IMPORT_SNIPPET = "import time; t=time.perf_counter(); import millrace; print(time.perf_counter()-t)"
MODULES_SNIPPET = (
    "import json, sys, millrace; "
    "print(json.dumps({m: m in sys.modules for m in "
    "('textual', 'pandas', 'polars', 'pyarrow', 'aiosqlite', 'sqlite3')}))"
)


def import_time(runs: int = 5, cached_bytecode: bool = False) -> tuple[float, list[float]]:
    """Seconds to ``import millrace`` in fresh interpreters: the median and every run.

    With ``cached_bytecode`` the .pyc files go to a temp PYTHONPYCACHEPREFIX (warmed by one
    untimed run) so the source tree is left alone; without it the environment is inherited
    as is, which recompiles every module when PYTHONDONTWRITEBYTECODE is set.
    """
    env = dict(os.environ)
    cache = None
    if cached_bytecode:
        cache = tempfile.mkdtemp(prefix="millrace-bench-pyc-")
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = cache
    try:
        times = []
        for i in range(runs + (1 if cached_bytecode else 0)):
            out = subprocess.run(
                [sys.executable, "-c", IMPORT_SNIPPET],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            if cached_bytecode and i == 0:
                continue
            times.append(float(out.stdout.strip()))
    finally:
        if cache is not None:
            shutil.rmtree(cache, ignore_errors=True)
    return statistics.median(times), times


def imported_modules() -> dict[str, bool]:
    out = subprocess.run(
        [sys.executable, "-c", MODULES_SNIPPET], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def _noop() -> None:
    return None


async def _hops(pool: ThreadPoolExecutor, calls: int) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    for _ in range(200):  # start the pool's threads
        await loop.run_in_executor(pool, _noop)
    started = time.perf_counter()
    for _ in range(calls):
        await loop.run_in_executor(pool, _noop)
    one_by_one = (time.perf_counter() - started) / calls
    started = time.perf_counter()
    await asyncio.gather(*(loop.run_in_executor(pool, _noop) for _ in range(calls)))
    all_at_once = (time.perf_counter() - started) / calls
    return one_by_one, all_at_once


def thread_hop(calls: int = 20_000, rounds: int = 5) -> tuple[float, float]:
    """Seconds per no-op hop: awaited one at a time, and all submitted at once then gathered."""
    with ThreadPoolExecutor(max_workers=DEFAULT_MAX_CONCURRENCY) as pool:
        results = [asyncio.run(_hops(pool, calls)) for _ in range(rounds)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


async def _pool_hops(pool: Any, calls: int) -> float:
    for _ in range(200):
        await pool.run(_noop)
    started = time.perf_counter()
    for _ in range(calls):
        await pool.run(_noop)
    return (time.perf_counter() - started) / calls


def worker_pool_hop(calls: int = 20_000, rounds: int = 5) -> float | None:
    """Seconds per no-op hop through Millrace's own WorkerPool, where the version has one."""
    try:
        from millrace.execution.workers import WorkerPool  # type: ignore[import-not-found]
    except ImportError:
        return None
    pool = WorkerPool(DEFAULT_MAX_CONCURRENCY)
    try:
        return statistics.median(asyncio.run(_pool_hops(pool, calls)) for _ in range(rounds))
    finally:
        pool.close()


def import_breakdown(top: int = 6) -> list[tuple[str, int, int]]:
    """(module, self us, cumulative us) of the slowest millrace modules, -X importtime."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    cache = tempfile.mkdtemp(prefix="millrace-bench-pyc-")
    env["PYTHONPYCACHEPREFIX"] = cache
    try:
        for _ in range(2):  # the first run writes the bytecode
            out = subprocess.run(
                [sys.executable, "-X", "importtime", "-c", "import millrace"],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    rows = []
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "self" in line:
            continue
        own, total, name = (part.strip() for part in line[len("import time:") :].split("|"))
        if name.startswith("millrace"):
            rows.append((name, int(own), int(total)))
    return sorted(rows, key=lambda r: r[1], reverse=True)[:top]


def atomic_write(calls: int = 500) -> float:
    """Seconds per small pickle written as the default IO manager does: temp file, rename."""
    where = Path(tempfile.mkdtemp(prefix="millrace-bench-", dir=HOME_ROOT))
    try:
        started = time.perf_counter()
        for i in range(calls):
            final = where / f"a{i}.pkl"
            tmp = where / f".a{i}.pkl.tmp"
            with open(tmp, "wb") as f:
                pickle.dump(i, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, final)
        return (time.perf_counter() - started) / calls
    finally:
        shutil.rmtree(where, ignore_errors=True)


def graphlib_reference(shape: str, n: int) -> float:
    """Seconds for the issue's reference: graphlib order, one SQLite row per asset, one txn."""
    up = {f"a{i}": ({f"a{i - 1}"} if i else set()) for i in range(n)}
    if shape == "fan":
        up = {"a0": set(), **{f"c{i}": {"a0"} for i in range(1, n)}}
    home = Path(tempfile.mkdtemp(prefix="millrace-bench-", dir=HOME_ROOT))
    try:
        started = time.perf_counter()
        db = sqlite3.connect(home / "ref.db")
        db.execute("CREATE TABLE events (key TEXT, ts REAL, value TEXT)")
        values: dict[str, Any] = {}
        with db:
            for key in graphlib.TopologicalSorter(up).static_order():
                args = [values[u] for u in up[key]]
                values[key] = _child(*args) if args else _root()
                db.execute(
                    "INSERT INTO events VALUES (?, ?, ?)",
                    (key, time.time(), json.dumps(values[key])),
                )
        db.close()
        return time.perf_counter() - started
    finally:
        shutil.rmtree(home, ignore_errors=True)


# -- profiling ---------------------------------------------------------------------------------


class ThreadProfiles:
    """cProfile the calling thread and every thread started while active (steps, the store's)."""

    def __init__(self) -> None:
        self.main = cProfile.Profile()
        self.threads: list[tuple[str, cProfile.Profile]] = []
        self._lock = threading.Lock()

    def _hook(self, frame: Any, event: str, arg: Any) -> None:
        profile = cProfile.Profile()
        with self._lock:
            self.threads.append((threading.current_thread().name, profile))
        profile.enable()  # replaces this hook for the new thread

    def __enter__(self) -> ThreadProfiles:
        threading.setprofile(self._hook)
        self.main.enable()
        return self

    def __exit__(self, *exc: object) -> None:
        self.main.disable()
        threading.setprofile(None)

    def groups(self) -> dict[str, pstats.Stats]:
        out: dict[str, pstats.Stats] = {"event-loop thread": pstats.Stats(self.main)}
        steps = [p for name, p in self.threads if name.startswith("millrace-step")]
        others = [(name, p) for name, p in self.threads if not name.startswith("millrace-step")]
        if steps:
            out[f"step threads ({len(steps)})"] = pstats.Stats(*steps)  # type: ignore[arg-type]
        if others:
            names = ", ".join(sorted({name for name, _ in others}))
            out[f"other threads: {names}"] = pstats.Stats(
                *(p for _, p in others)  # type: ignore[arg-type]
            )
        return out


_APP_FILES: dict[str, str | None] = {}


def _app_relative(file: str) -> str | None:
    """``app/...`` for a file of the millrace package (symlinks resolved), else None."""
    if file not in _APP_FILES:
        try:
            _APP_FILES[file] = f"app/{Path(file).resolve().relative_to(APP_DIR)}"
        except (ValueError, OSError):
            _APP_FILES[file] = None
    return _APP_FILES[file]


def _where(func: tuple[str, int, str]) -> str:
    file, line, name = func
    if file == "~":
        return name
    rel = _app_relative(file)
    if rel is None:
        parts = Path(file).parts
        rel = "/".join(parts[-2:]) if len(parts) >= 2 else file
    return f"{rel}:{line}({name})"


def print_stats(stats: pstats.Stats, n: int, top: int) -> None:
    table: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in table.values())
    print(f"    total own time {total * 1e3:.0f} ms ({total / n * 1e6:.0f} us/asset)")
    for title, index, only_app in (("own time", 2, False), ("cumulative, app/ only", 3, True)):
        print(f"    top by {title}:")
        print(f"      {'calls':>8} {'own ms':>8} {'cum ms':>8} {'us/asset':>9}  function")
        items = sorted(table.items(), key=lambda kv: kv[1][index], reverse=True)
        shown = 0
        for func, (_cc, calls, own, cum, _callers) in items:
            if only_app and _app_relative(func[0]) is None:
                continue
            print(
                f"      {calls:>8} {own * 1e3:>8.1f} {cum * 1e3:>8.1f} "
                f"{(cum if only_app else own) / n * 1e6:>9.1f}  {_where(func)}"
            )
            shown += 1
            if shown == top:
                break


def profile(shapes: Sequence[str], sizes: Sequence[int], top: int, out_dir: Path | None) -> None:
    for shape in shapes:
        for n in sizes:
            assets = BUILDERS[shape](n)
            timed_run(shape, "persisted", assets)  # warm: first-use imports, pool threads
            home = fresh_home("persisted")
            assert home is not None
            try:
                gc.collect()
                with ThreadProfiles() as profiles:
                    started = time.perf_counter()
                    result = millrace.materialize(assets, home=home)
                    elapsed = time.perf_counter() - started
                check(shape, n, result)
            finally:
                shutil.rmtree(home, ignore_errors=True)
            print(
                f"\n== profile: {shape}, N={n:,}, persisted: {elapsed * 1e3:.0f} ms under "
                f"cProfile ({elapsed / n * 1e6:.0f} us/asset; cProfile inflates small calls)"
            )
            for group, stats in profiles.groups().items():
                print(f"  -- {group}")
                print_stats(stats, n, top)
                if out_dir is not None:
                    slug = group.split()[0].rstrip(":")
                    stats.dump_stats(out_dir / f"{shape}-{n}-{slug}.prof")


# -- main --------------------------------------------------------------------------------------


def _csv(kind: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    return lambda text: [kind(part) for part in text.split(",") if part.strip()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes", type=_csv(int), default=list(DEFAULT_SIZES), help="e.g. 100,1000,10000"
    )
    parser.add_argument("--shapes", type=_csv(str), default=list(SHAPES), help="chain,fan")
    parser.add_argument(
        "--modes",
        type=_csv(str),
        default=list(DEFAULT_MODES),
        help="persisted,memory (default); also events-only",
    )
    parser.add_argument(
        "--home-root", help="make each run's fresh home under this dir (default: system temp)"
    )
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per row (median)")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the extra tracemalloc call per row"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the table, cProfile one persisted run per shape and size",
    )
    parser.add_argument("--top", type=int, default=15, help="functions per profile listing")
    parser.add_argument("--profile-dir", type=Path, help="also dump .prof files here")
    args = parser.parse_args(argv)
    for shape in args.shapes:
        if shape not in SHAPES:
            parser.error(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
    for mode in args.modes:
        if mode not in MODES:
            parser.error(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if args.repeat < 1 or any(n < 2 for n in args.sizes):
        parser.error("--repeat must be at least 1 and every size at least 2")
    return args


def describe_code() -> str:
    """Where ``millrace`` was imported from and, in a git checkout, its commit."""
    try:
        head = subprocess.run(
            ["git", "-C", str(APP_DIR), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(APP_DIR), "status", "--porcelain", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"millrace from {APP_DIR} (not a git checkout)"
    return f"millrace from {APP_DIR} at {head}" + (" + uncommitted changes" if dirty else "")


def main(argv: Sequence[str] | None = None) -> None:
    global HOME_ROOT
    args = parse_args(argv)
    HOME_ROOT = args.home_root
    where = HOME_ROOT or tempfile.gettempdir()
    print(
        f"Millrace {millrace.__version__} | Python {platform.python_version()} | "
        f"{platform.machine()} | {os.cpu_count()} CPUs | max_concurrency "
        f"{DEFAULT_MAX_CONCURRENCY} | homes under {where}\n{describe_code()}"
    )
    if args.profile:
        if args.profile_dir is not None:
            args.profile_dir.mkdir(parents=True, exist_ok=True)
        profile(args.shapes, args.sizes, args.top, args.profile_dir)
        return

    # Warm up once (lazy imports, first thread pool) so N=100 is not charged for them.
    for shape in args.shapes:
        for mode in args.modes:
            timed_run(shape, mode, BUILDERS[shape](10))

    print(
        f"\nmaterialize() wall time, median of {args.repeat} (and the fastest); us/asset = "
        "time / N.\npersisted = materialize(home=fresh dir): SQLite events, each small pickled "
        "value committed with its event;\nmemory = materialize_to_memory; events-only = "
        "materialize with SQLite events but values in an InMemoryIOManager.\n"
        "peak MiB = tracemalloc peak above the starting "
        "level during one extra, untimed call\n(Python allocations of every thread; SQLite's "
        "own C heap is not traced).\n"
    )
    rows: list[Row] = []
    for shape in args.shapes:
        for n in args.sizes:
            assets = BUILDERS[shape](n)
            for mode in args.modes:
                times = [timed_run(shape, mode, assets) for _ in range(args.repeat)]
                peak = None if args.no_memory else traced_peak(shape, mode, assets)
                rows.append(Row(shape, n, mode, times, peak))
            del assets
    print_table(rows)
    for r in rows:
        if r.n == AIM_N and r.mode == "persisted":
            verdict = (
                "meets it" if r.per_asset_us < AIM_US else f"{r.per_asset_us / AIM_US:.1f}x over"
            )
            print(
                f"aim < {AIM_US:.0f} us/asset at N={AIM_N:,} persisted: {r.shape} "
                f"{r.per_asset_us:.0f} us ({verdict})"
            )

    print("\nimport millrace, fresh interpreter, median of 5:")
    for cached in (False, True):
        median, times = import_time(cached_bytecode=cached)
        label = (
            "bytecode cached (.pyc in a temp PYTHONPYCACHEPREFIX)"
            if cached
            else "environment as is"
            + (", PYTHONDONTWRITEBYTECODE=1: compiles app/ each time")
            * bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
        )
        runs = ", ".join(f"{t * 1e3:.0f}" for t in times)
        print(f"  {median * 1e3:6.0f} ms  [{runs}]  {label}")
    modules = imported_modules()
    print("  in sys.modules after it: " + ", ".join(f"{m}={v}" for m, v in modules.items()))
    assert not modules["textual"], "import millrace must not import textual"
    assert not modules["pandas"], "import millrace must not import pandas"
    print("  ok: textual and pandas are not imported")
    slowest = ", ".join(f"{name} {own / 1e3:.1f}" for name, own, _ in import_breakdown())
    print(f"  slowest millrace modules, own ms (-X importtime, bytecode cached): {slowest}")

    print("\nfor scale, on this machine:")
    one_by_one, all_at_once = thread_hop()
    print(
        f"  worker-thread hop, loop.run_in_executor(no-op) on a persistent ThreadPoolExecutor"
        f"({DEFAULT_MAX_CONCURRENCY}):\n    {one_by_one * 1e6:6.1f} us per call awaited one at "
        f"a time (a chain step's floor)\n    {all_at_once * 1e6:6.1f} us per call when all are "
        "submitted together and gathered"
    )
    pool_hop = worker_pool_hop()
    if pool_hop is not None:
        print(
            f"    {pool_hop * 1e6:6.1f} us per call through millrace's own WorkerPool.submit, "
            "awaited one at a time"
        )
    print(
        f"  one small pickle written atomically (temp file + rename) under {where}: "
        f"{atomic_write() * 1e6:.1f} us"
    )
    print("  the issue's reference (graphlib order, one SQLite row per asset, one transaction):")
    for shape in args.shapes:
        ref = statistics.median(graphlib_reference(shape, AIM_N) for _ in range(args.repeat))
        print(f"    {shape:<6} N={AIM_N:,}: {ref / AIM_N * 1e6:6.1f} us/asset (the issue: 15)")


if __name__ == "__main__":
    main()
