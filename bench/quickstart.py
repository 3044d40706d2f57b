"""``millrace materialize examples/quickstart`` against the plain Polars script doing the same
work (bench/quickstart_plain.py), in one run, as whole processes.

Run:  .venv/bin/python bench/quickstart.py [--runs 5]

Both run ``--runs`` times, alternately (so a busy machine slows both alike), each in a fresh
process with a fresh home or output directory, bytecode cached (a temporary PYTHONPYCACHEPREFIX,
warmed by one untimed run of each), output to a pipe: Millrace prints its plain lines, as in CI.
Before timing, the four Parquet files of each are checked equal. Aim (issue 19): Millrace within
1.05x of the plain script (best against best).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

AIM_RATIO = 1.05
ROOT = Path(__file__).resolve().parent.parent
QUICKSTART = ROOT / "examples" / "quickstart"
PLAIN = ROOT / "bench" / "quickstart_plain.py"
ASSETS = ("raw_transactions", "clean_transactions", "customer_features", "top_customers")


def millrace_command() -> list[str]:
    script = Path(sys.executable).parent / "millrace"
    return [str(script)] if script.exists() else [sys.executable, "-m", "millrace.cli"]


def run_millrace(env: dict[str, str], work: Path) -> tuple[float, Path]:
    """Seconds of one ``millrace materialize``, and where it stored the frames."""
    home = Path(tempfile.mkdtemp(dir=work))
    argv = [*millrace_command(), "materialize", str(QUICKSTART)]
    started = time.perf_counter()
    subprocess.run(argv, env={**env, "MILLRACE_HOME": str(home)}, check=True, capture_output=True)
    return time.perf_counter() - started, home / "storage"


def run_plain(env: dict[str, str], work: Path) -> tuple[float, Path]:
    out = Path(tempfile.mkdtemp(dir=work))
    started = time.perf_counter()
    subprocess.run([sys.executable, str(PLAIN), str(out)], env=env, check=True, capture_output=True)
    return time.perf_counter() - started, out


def same_frames(a: Path, b: Path) -> None:
    for name in ASSETS:
        left, right = pl.read_parquet(a / f"{name}.parquet"), pl.read_parquet(b / f"{name}.parquet")
        if not left.equals(right):
            sys.exit(f"{name}: Millrace and the plain script wrote different frames")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="millrace-quickstart-"))
    try:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        _, stored = run_millrace(env, work)  # untimed: writes the bytecode
        _, written = run_plain(env, work)
        same_frames(stored, written)
        times: dict[str, list[float]] = {"millrace materialize": [], "plain Polars script": []}
        for _ in range(args.runs):
            times["millrace materialize"].append(run_millrace(env, work)[0])
            times["plain Polars script"].append(run_plain(env, work)[0])
        print(f"examples/quickstart, whole processes, best / median of {args.runs} (s):")
        for label, seconds in times.items():
            print(f"  {label:22} {min(seconds):6.3f} {statistics.median(seconds):6.3f}")
        ours, plain = min(times["millrace materialize"]), min(times["plain Polars script"])
        ratio = ours / plain
        print(
            f"\nMillrace / plain: {ratio:.3f}x, {1e3 * (ours - plain):+.0f} ms "
            f"(aim: within {AIM_RATIO}x) {'ok' if ratio <= AIM_RATIO else 'MISSED'}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
