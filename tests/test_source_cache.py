"""Code versions read back from ``.millrace/cache/code`` in a fresh process are the versions
computed from the source: same text, same version; edited text, a new one; and a file there
that cannot be read is only a miss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_source
from millrace.versions import source_cache

VERSIONS = """
import json, sys
from pathlib import Path
from millrace.runtime.loader import load_code_location
from millrace.versions.code import code_versions

location = load_code_location(sys.argv[1])
graph = location.defs.graph
nodes = [*graph.nodes.values(), *graph.checks.values()]
cache = Path(sys.argv[2]) if len(sys.argv) > 2 else None
found = code_versions(nodes, root=location.directory, cache=cache)
named = {getattr(k, "to_user_string", k.__str__)(): [v.value, v.origin] for k, v in found.items()}
print(json.dumps(named))
"""

ASSETS = """
import functools
from millrace import AssetCheckResult, asset, asset_check
from helpers import LIMIT, Scaler, clean, deco, tagged

pick, drop = (lambda xs: xs[:LIMIT]), (lambda xs: xs[LIMIT:])


def factory(n):
    @asset(name=f"made_{n}")
    def made():
        return n * 2

    return made


made_1, made_2 = factory(1), factory(2)


@asset
def raw() -> list[int]:
    '''Docstrings never count.'''
    return pick([3, 1, 2]) + drop([0, 5, 6])


@asset
@deco
def cleaned(raw: list[int]) -> list[int]:
    return clean(raw)


@asset(group_name="g")
def scaled(cleaned: list[int]) -> list[int]:
    return Scaler(2).apply(cleaned)


@tagged
def tagged_one() -> int:
    return 1


@asset_check(asset=scaled)
def scaled_positive(scaled: list[int]) -> AssetCheckResult:
    return AssetCheckResult(passed=all(x >= 0 for x in scaled))
"""

HELPERS = """
import functools

from millrace import asset

LIMIT = 2
tagged = asset


def deco(fn):
    @functools.wraps(fn)
    def wrapper(*args):
        return fn(*args)

    return wrapper


def clean(xs):
    return sorted(xs)


class Scaler:
    def __init__(self, k):
        self.k = k

    def apply(self, xs):
        return [x * self.k for x in xs]
"""


def versions(proj: Path, cache: Path | None = None) -> dict[str, list[str]]:
    """The versions a fresh interpreter computes (with ``cache`` as its cache directory)."""
    args = [str(proj)] if cache is None else [str(proj), str(cache)]
    out = subprocess.run(
        [sys.executable, "-c", VERSIONS, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=proj,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.fixture
def proj(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    write_source(root / "pyproject.toml", '[project]\nname = "p"\n')
    write_source(root / "helpers.py", HELPERS)
    write_source(root / "assets.py", ASSETS)
    return root


def test_a_fresh_process_reads_back_the_versions_it_would_compute(
    proj: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    computed = versions(proj)
    assert {origin for _, origin in computed.values()} == {"source"}
    assert versions(proj, cache) == computed  # computed, and stored
    stored = {p.name: p.read_bytes() for p in cache.iterdir()}
    assert len(stored) == 2  # one file each: helpers.py, assets.py
    assert versions(proj, cache) == computed  # read back
    assert {p.name: p.read_bytes() for p in cache.iterdir()} == stored  # nothing to add


def test_an_edited_file_is_versioned_from_its_new_text(proj: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    before = versions(proj, cache)
    write_source(proj / "helpers.py", HELPERS.replace("sorted(xs)", "sorted(set(xs))"))
    after = versions(proj, cache)
    assert after == versions(proj)
    assert {k for k in before if before[k] != after[k]} == {"cleaned"}  # clean's one reader
    # Back to the first text: its stored entries serve again.
    write_source(proj / "helpers.py", HELPERS)
    assert versions(proj, cache) == before


def test_a_decorator_bound_to_another_object_is_decided_again(proj: Path, tmp_path: Path) -> None:
    """assets.py keeps its text while ``tagged`` turns from Millrace's ``asset`` (left out of
    the hashed source) into the user's own function (kept): the stored text is not reused."""
    cache = tmp_path / "cache"
    before = versions(proj, cache)
    own = HELPERS.replace("tagged = asset\n", "def tagged(fn):\n    return asset(fn)\n")
    write_source(proj / "helpers.py", own)
    after = versions(proj, cache)
    assert after == versions(proj)
    assert after["tagged_one"] != before["tagged_one"]


def test_an_unreadable_cache_file_is_a_miss(proj: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    computed = versions(proj, cache)
    for path in cache.iterdir():
        path.write_bytes(b"\x00not marshal")
    assert versions(proj, cache) == computed
    (cache / "stray").mkdir()  # not a file at all
    assert versions(proj, cache) == computed


def test_a_cache_that_cannot_be_written_loses_only_the_speed_up(proj: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert versions(proj, blocked / "cache") == versions(proj)


def test_unused_files_beyond_the_limit_go_least_recently_written_first(tmp_path: Path) -> None:
    cache = source_cache.SourceCache(tmp_path)
    old = []
    for n in range(source_cache.KEEP_FILES + 3):
        path = tmp_path / f"old{n}"
        path.write_bytes(b"")
        os.utime(path, (1_000_000 + n, 1_000_000 + n))  # old0 the least recently written
        old.append(path)
    code = compile("def f():\n    return 1\n", "<t>", "exec").co_consts[0]
    stored = source_cache.StoredFunction((), (), "t", frozenset())
    cache.put("def f():\n    return 1\n", code, stored)
    cache.save()
    left = {p.name for p in tmp_path.iterdir()}
    assert len(left) == source_cache.KEEP_FILES
    assert {"old0", "old1", "old2", "old3"}.isdisjoint(left)
    assert {f"old{n}" for n in range(4, source_cache.KEEP_FILES + 3)} <= left


def test_the_runtime_keeps_its_cache_in_an_existing_home_only(proj: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    make = [
        sys.executable,
        "-c",
        "import sys\n"
        "from millrace.runtime.loader import load_code_location\n"
        "from millrace.runtime.runtime import Runtime\n"
        "Runtime(load_code_location(sys.argv[1]), home=sys.argv[2])\n",
        str(proj / "assets.py"),
        str(home),
    ]
    subprocess.run(make, check=True, timeout=120, cwd=proj)
    assert not home.exists()  # a command that stops before running creates nothing
    home.mkdir()
    subprocess.run(make, check=True, timeout=120, cwd=proj)
    assert len(list((home / "cache" / "code").iterdir())) == 2


RELOAD = """
import json, sys
from pathlib import Path
from millrace.runtime.loader import load_code_location
from millrace.versions import normalize
from millrace.versions.code import code_versions

proj, cache = Path(sys.argv[1]), (Path(sys.argv[2]) if len(sys.argv) > 2 else None)
assets = proj / "assets.py"
location = load_code_location(assets)
graph = location.defs.graph
code_versions([*graph.nodes.values(), *graph.checks.values()], root=proj, cache=cache)
versioned = set(normalize._LAST_PARSED)
assets.write_text(assets.read_text().replace("drop([0, 5, 6])", "drop([0, 5, 7])"))
again = load_code_location(assets, previous=location)
kept = sorted(Path(f).name for f in location.sources if again.sources[f] is location.sources[f])
print(json.dumps({
    "parsed": sorted(Path(f).name for f in set(normalize._LAST_PARSED) - versioned),
    "kept": kept,
}))
"""
MORE = """
from millrace import asset


@asset
def extra() -> int:
    return 1
"""


def reload_once(proj: Path, cache: Path | None) -> dict[str, list[str]]:
    """A fresh process versions the code, then reloads it after an edit to assets.py: the
    files the reload parsed, and those it kept."""
    text = (proj / "assets.py").read_text()
    args = [str(proj)] if cache is None else [str(proj), str(cache)]
    out = subprocess.run(
        [sys.executable, "-c", RELOAD, *args], capture_output=True, text=True, timeout=120, cwd=proj
    )
    assert out.returncode == 0, out.stderr
    write_source(proj / "assets.py", text)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_reload_after_versioning_from_the_cache_parses_no_kept_file(
    proj: Path, tmp_path: Path
) -> None:
    """Which modules import an edited one is read from each file's import statements; a
    process that versioned from the cache has them stored beside the functions (more.py,
    all functions, is parsed by nothing else)."""
    write_source(proj / "more.py", MORE)
    write_source(proj / "assets.py", "from more import extra\n" + ASSETS)
    assert reload_once(proj, None) == {"parsed": [], "kept": ["helpers.py", "more.py"]}
    cache = tmp_path / "cache"
    versions(proj, cache)  # computes, and stores every file
    assert reload_once(proj, cache) == {"parsed": [], "kept": ["helpers.py", "more.py"]}
