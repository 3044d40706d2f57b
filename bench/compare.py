"""The same no-op asset graphs under Millrace, Dagster and Hamilton, per asset, with ratios.

Shapes as bench/overhead.py: ``chain`` (each asset reads the one before) and ``fan`` (one
root read by N-1 children), N assets of ``def`` functions returning small ints. Each
measurement is a fresh process that builds the graph and times only the run:

* Millrace ``materialize`` (persisted in a temporary home) and ``materialize_to_memory``;
* Dagster ``materialize`` on a temporary local instance, if ``dagster`` is installed;
* Hamilton's driver ``execute`` (which persists nothing), if ``hamilton`` is installed.

A framework that is not installed is said to be skipped: nothing is downloaded.

Run: .venv/bin/python bench/compare.py [--sizes 1000] [--shapes chain,fan] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import textwrap

# Each runner prints {"seconds": ...} for one run of one shape and size.
_MILLRACE = """
    import sys, tempfile, time
    import millrace as dg

    shape, n, persisted = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "persisted"

    def root() -> int:
        return 1

    def child(up: int) -> int:
        return up + 1

    assets = [dg.asset(name="a0")(root)]
    for i in range(1, n):
        up = f"a{i - 1}" if shape == "chain" else "a0"
        assets.append(dg.asset(name=f"a{i}", ins={"up": dg.AssetIn(key=up)})(child))
    with tempfile.TemporaryDirectory() as home:
        start = time.perf_counter()
        if persisted:
            result = dg.materialize(assets, home=home)
        else:
            result = dg.materialize_to_memory(assets)
        seconds = time.perf_counter() - start
    assert result.success
    print({"seconds": seconds})
"""

_DAGSTER = """
    import sys, tempfile, time
    import dagster as dg

    shape, n = sys.argv[1], int(sys.argv[2])

    def root() -> int:
        return 1

    def child(up: int) -> int:
        return up + 1

    assets = [dg.asset(name="a0")(root)]
    for i in range(1, n):
        up = f"a{i - 1}" if shape == "chain" else "a0"
        assets.append(dg.asset(name=f"a{i}", ins={"up": dg.AssetIn(key=up)})(child))
    with tempfile.TemporaryDirectory() as home:
        with dg.DagsterInstance.local_temp(home) as instance:
            start = time.perf_counter()
            result = dg.materialize(assets, instance=instance)
            seconds = time.perf_counter() - start
    assert result.success
    print({"seconds": seconds})
"""

_HAMILTON = """
    import sys, time, types
    from hamilton import driver

    shape, n = sys.argv[1], int(sys.argv[2])
    lines = ["def a0() -> int:", "    return 1"]
    for i in range(1, n):
        up = f"a{i - 1}" if shape == "chain" else "a0"
        lines += [f"def a{i}({up}: int) -> int:", f"    return {up} + 1"]
    module = types.ModuleType("noop_graph")
    exec("\\n".join(lines), module.__dict__)
    dr = driver.Builder().with_modules(module).build()
    start = time.perf_counter()
    dr.execute([f"a{i}" for i in range(n)])
    seconds = time.perf_counter() - start
    print({"seconds": seconds})
"""

RUNNERS = {
    "millrace persisted": ("millrace", _MILLRACE, ["persisted"]),
    "millrace in memory": ("millrace", _MILLRACE, ["memory"]),
    "dagster persisted": ("dagster", _DAGSTER, []),
    "hamilton (no persistence)": ("hamilton", _HAMILTON, []),
}


def measure(script: str, shape: str, n: int, extra: list[str], repeat: int) -> float:
    """The best of ``repeat`` fresh processes, in microseconds per asset."""
    best = float("inf")
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script), shape, str(n), *extra],
            capture_output=True,
            text=True,
            check=True,
            timeout=1800,
        )
        printed = done.stdout.strip().splitlines()[-1].replace("'", '"')
        best = min(best, json.loads(printed)["seconds"])
    return best / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000")
    parser.add_argument("--shapes", default="chain,fan")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    shapes = args.shapes.split(",")
    available = {
        label: importlib.util.find_spec(module) is not None
        for label, (module, _, _) in RUNNERS.items()
    }
    for label, present in available.items():
        if not present:
            print(f"{label}: skipped ({RUNNERS[label][0]} is not installed)")
    for n in sizes:
        for shape in shapes:
            figures = {
                label: measure(script, shape, n, extra, args.repeat)
                for label, (_, script, extra) in RUNNERS.items()
                if available[label]
            }
            base = figures["millrace persisted"]
            print(f"\n{shape}, N = {n:,}: microseconds per asset, best of {args.repeat}")
            for label, us in figures.items():
                print(f"  {label:<28} {us:>10,.1f}   {us / base:>7.2f}x millrace persisted")


if __name__ == "__main__":
    main()
