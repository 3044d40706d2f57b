"""Cost of automatic code versions (``code_versions``) per asset, cold and on a reload.

Run:  .venv/bin/python bench/code_versions.py [--sizes 1000,10000] [--modules 10] [--repeat 5]

Two projects, each timed as the best of ``--repeat``:

* factory: N assets made in a loop from one function (as bench/overhead.py builds them), so
  every asset reaches the same code; timed on the first call in the process (cold: the file is
  parsed) and on later calls (warm);
* distinct: N assets, each its own function, spread over ``--modules`` files of a package
  written to a temporary directory, reading a helper and a constant of another module. Loaded
  with ``load_code_location`` as the dev runtime does; ``LoadedCode.of`` (the versions) is
  timed on the first load (cold), on a reload of unchanged files and on a reload after one
  file was edited, next to the load itself for scale.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from millrace.runtime.loaded_code import LoadedCode
from millrace.runtime.loader import CodeLocation, load_code_location
from millrace.versions.code import code_versions
from overhead import build_chain


def best_of(repeat: int, run: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def factory(n: int, repeat: int) -> None:
    assets = build_chain(n)
    root = Path(__file__).resolve().parent
    cold = best_of(1, lambda: code_versions(assets, root=root))
    warm = best_of(repeat, lambda: code_versions(assets, root=root))
    print(f"factory  N={n:>6}: cold {cold / n * 1e6:7.1f} us/asset, warm {warm / n * 1e6:7.1f}")


def write_project(directory: Path, n: int, modules: int) -> Path:
    package = directory / "proj"
    package.mkdir()
    (directory / "pyproject.toml").write_text("")
    (package / "helpers.py").write_text(
        "THRESHOLD = 3\n\n\ndef scale(x: int) -> int:\n    return x * 2\n"
    )
    names = [f"m{m}" for m in range(modules)]
    per_module = n // modules
    for name in names:
        lines = ["from millrace import asset", "", "from . import helpers", "", ""]
        for i in range(per_module):
            deps = f', deps=["{name}_a{i - 1}"]' if i else ""
            lines += [
                f'@asset(name="{name}_a{i}"{deps})',
                f"def {name}_a{i}() -> int:",
                f"    return helpers.scale(helpers.THRESHOLD) + {i}",
                "",
                "",
            ]
        (package / f"{name}.py").write_text("\n".join(lines))
    imports = ", ".join(names)
    assets = ", ".join(f"*load_assets_from_modules([{name}])" for name in names)
    (package / "__init__.py").write_text(
        f"from millrace import Definitions, load_assets_from_modules\n\n"
        f"from . import {imports}\n\ndefs = Definitions(assets=[{assets}])\n"
    )
    return package


def distinct(n: int, modules: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        package = write_project(Path(temp), n, modules)

        def versions_of(location: CodeLocation) -> Callable[[], object]:
            return lambda: LoadedCode.of(location.defs, location)

        started = time.perf_counter()
        location = load_code_location(package)
        load = time.perf_counter() - started
        cold = best_of(1, versions_of(location))
        location = load_code_location(package)
        reload = best_of(repeat, versions_of(location))
        edited = package / "m0.py"
        edits = []
        for k in range(repeat):
            edited.write_text(edited.read_text().replace("+ 0\n", f"+ 0 + {k}\n", 1))
            location = load_code_location(package)
            edits.append(best_of(1, versions_of(location)))
        per = 1e6 / n
        print(
            f"distinct N={n:>6} in {modules} modules: load {load * 1e3:6.0f} ms;"
            f" versions cold {cold * per:6.1f} us/asset ({cold * 1e3:5.0f} ms),"
            f" reload unchanged {reload * per:6.1f} ({reload * 1e3:5.0f} ms),"
            f" reload one file edited {min(edits) * per:6.1f} ({min(edits) * 1e3:5.0f} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--modules", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    for n in sizes:
        factory(n, args.repeat)
    for n in sizes:
        distinct(n, args.modules, args.repeat)


if __name__ == "__main__":
    main()
