"""What starting Millrace costs: fresh processes, timed from outside, bytecode cached.

Run:  .venv/bin/python bench/startup.py [--runs 5] [--importtime 12]

Each command runs ``--runs`` times in a fresh process, the commands taking turns round by
round, after one untimed run of each that writes the bytecode to a temporary
PYTHONPYCACHEPREFIX (so the source tree is left alone and the environment's
PYTHONDONTWRITEBYTECODE does not make every run recompile); best and median:

* ``python -c pass``: the interpreter alone;
* ``import millrace``;
* ``millrace --help``;
* ``millrace materialize`` of a trivial project (one ``def`` asset returning 1, a fresh home
  each run), and its imports baseline: ``python -c "from millrace import Definitions, asset"``,
  what the project itself imports.

"Beyond the user's own imports" is the materialize time less that baseline (best of each).
Aims (issue 19): under 120 ms beyond the user's imports, ``--help`` under 100 ms.
``--importtime N`` also prints the N millrace modules with the largest own import time in
the trivial materialize (``python -X importtime``).
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
from collections.abc import Sequence
from pathlib import Path

AIM_HELP_MS = 100.0
AIM_BEYOND_IMPORTS_MS = 120.0

TRIVIAL = """\
from millrace import Definitions, asset


@asset
def one() -> int:
    return 1


defs = Definitions(assets=[one])
"""
TRIVIAL_IMPORTS = "from millrace import Definitions, asset"


def millrace_command() -> list[str]:
    """The console script beside this interpreter, as users run it; else ``-m millrace.cli``."""
    script = Path(sys.executable).parent / "millrace"
    return [str(script)] if script.exists() else [sys.executable, "-m", "millrace.cli"]


def once(argv: Sequence[str], env: dict[str, str], fresh: Path | None) -> float:
    """Milliseconds of one fresh process; with ``fresh``, an empty MILLRACE_HOME there."""
    if fresh is not None:
        env = {**env, "MILLRACE_HOME": tempfile.mkdtemp(dir=fresh)}
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return (time.perf_counter() - started) * 1e3


def slowest_imports(argv: Sequence[str], env: dict[str, str], top: int) -> list[tuple[int, str]]:
    """(own us, module) of the ``top`` slowest millrace modules ``argv`` imports."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True
    )
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            own, _, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if name.startswith("millrace"):
                rows.append((int(own), name))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--importtime", type=int, default=0, metavar="N")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="millrace-startup-"))
    try:
        project = work / "trivial.py"
        project.write_text(TRIVIAL)
        homes = work / "homes"
        homes.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        cli = millrace_command()
        materialize = [*cli, "materialize", str(project)]
        commands = {
            "python -c pass": ([sys.executable, "-c", "pass"], None),
            "import millrace": ([sys.executable, "-c", "import millrace"], None),
            "millrace --help": ([*cli, "--help"], None),
            f"python -c '{TRIVIAL_IMPORTS}'": ([sys.executable, "-c", TRIVIAL_IMPORTS], None),
            "millrace materialize trivial.py": (materialize, homes),
        }
        for argv, fresh in commands.values():  # untimed: writes the bytecode
            once(argv, env, fresh)
        times: dict[str, list[float]] = {label: [] for label in commands}
        for _ in range(args.runs):  # round by round, so a busy machine slows every row alike
            for label, (argv, fresh) in commands.items():
                times[label].append(once(argv, env, fresh))
        print(f"fresh processes, bytecode cached, best / median of {args.runs} (ms):")
        for label, ms in times.items():
            print(f"  {label:52} {min(ms):7.1f} {statistics.median(ms):7.1f}")
        best = {label: min(ms) for label, ms in times.items()}
        baseline = best[f"python -c '{TRIVIAL_IMPORTS}'"]
        beyond = best["millrace materialize trivial.py"] - baseline
        help_ms = best["millrace --help"]
        print(
            f"\nmillrace materialize beyond the user's own imports: {beyond:.1f} ms "
            f"(aim: under {AIM_BEYOND_IMPORTS_MS:.0f}) "
            f"{'ok' if beyond < AIM_BEYOND_IMPORTS_MS else 'MISSED'}"
        )
        print(
            f"millrace --help: {help_ms:.1f} ms (aim: under {AIM_HELP_MS:.0f}) "
            f"{'ok' if help_ms < AIM_HELP_MS else 'MISSED'}"
        )
        if args.importtime:
            env["MILLRACE_HOME"] = tempfile.mkdtemp(dir=homes)
            argv = ["-m", "millrace.cli", "materialize", str(project)]
            print("\nslowest millrace modules of the trivial materialize, own ms (-X importtime):")
            for own, name in slowest_imports(argv, env, args.importtime):
                print(f"  {own / 1e3:6.1f}  {name}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
