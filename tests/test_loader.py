"""The user-code loader, reload after reload: real files in tmp_path, real imports.

The dev runtime reloads user code in one long-lived process, so every test here loads,
edits and loads again, and checks what ``sys.modules``, ``sys.path`` and ``linecache`` hold.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import linecache
import os
import pickle
import py_compile
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import CLI_TIMEOUT, write_source
from millrace.declarations.keys import AssetKey
from millrace.errors import CodeLoadError
from millrace.runtime.loader import (
    CodeLocation,
    aload_code_location,
    code_directory,
    load_code_location,
    project_root,
)

GATE = "loader_test_gate"  # a module user code imports to block until a test releases it
BLOCKS = f"""
import threading

from {GATE} import gate, threads

threads.append(threading.current_thread())
gate.wait()  # blocks here
"""


@pytest.fixture(autouse=True)
def isolated_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's sys.path is restored after it, and its user modules forgotten."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # so a written .pyc would show
    yield
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and Path(file).is_relative_to(tmp_path):
            del sys.modules[name]


@pytest.fixture
def gate() -> Iterator[types.SimpleNamespace]:
    """What ``BLOCKS`` imports: the event it waits on (set when the test ends, so no loading
    thread outlives the test) and the threads it ran on."""
    event, threads = threading.Event(), list[threading.Thread]()
    module = types.ModuleType(GATE)
    vars(module).update(gate=event, threads=threads)
    sys.modules[GATE] = module
    yield types.SimpleNamespace(event=event, threads=threads)
    event.set()
    for thread in threading.enumerate():
        if thread.name.startswith("millrace-load"):
            thread.join(CLI_TIMEOUT)
    del sys.modules[GATE]


def asset_value(location: CodeLocation, key: str) -> object:
    return location.defs.get_assets_def(key).fn()


def keys(location: CodeLocation) -> set[str]:
    return {k.to_user_string() for k in location.defs.asset_keys}


def line_of(path: Path, text: str) -> int:
    found = [n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line]
    assert len(found) == 1, f"{text!r} found on lines {found} of {path}"
    return found[0]


def rewrite_keeping_stat(path: Path, old: str, new: str) -> None:
    """Edit ``path`` within the same mtime and size: what a pyc check cannot tell apart."""
    assert len(old) == len(new)
    before = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_mtime_ns, after.st_size) == (before.st_mtime_ns, before.st_size)


ONE = """
from millrace import asset


@asset
def number() -> int:
    return 1
"""


# -- reloading -------------------------------------------------------------------------------


def test_a_reload_runs_the_edited_source_even_with_a_stale_pyc_of_the_same_mtime_and_size(
    tmp_path: Path,
):
    code = write_source(tmp_path / "proj" / "assets.py", ONE)
    assert asset_value(load_code_location(code), "number") == 1
    py_compile.compile(str(code), doraise=True)  # a .pyc valid for this mtime and size
    rewrite_keeping_stat(code, "return 1", "return 2")

    location = load_code_location(code)

    assert asset_value(location, "number") == 2
    assert location.sources == {str(code): code.read_text()}
    assert location.files == (code,)
    assert linecache.getline(str(code), line_of(code, "return")).strip() == "return 2"


def pyc_flags(source: Path) -> int:
    return int.from_bytes(
        Path(importlib.util.cache_from_source(str(source))).read_bytes()[4:8], "little"
    )


def test_loading_writes_only_bytecode_checked_against_the_source_hash(tmp_path: Path):
    code = write_source(tmp_path / "proj" / "assets.py", "from helper import VALUE\n" + ONE)
    helper = write_source(tmp_path / "proj" / "helper.py", "VALUE = 1\n")

    location = load_code_location(code)

    assert location.files == (code, helper)
    assert pyc_flags(code) == pyc_flags(helper) == 0b11  # hash-based, checked (PEP 552)


def test_loading_writes_no_bytecode_when_python_is_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    code = write_source(tmp_path / "proj" / "assets.py", ONE)

    assert asset_value(load_code_location(code), "number") == 1
    assert not (tmp_path / "proj" / "__pycache__").exists()


def load_in_a_fresh_process(code: Path) -> object:
    """``number``'s value, as a new interpreter loading ``code`` finds it."""
    script = (
        "import sys\n"
        "from millrace.runtime.loader import load_code_location\n"
        "print(load_code_location(sys.argv[1]).defs.get_assets_def('number').fn())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=CLI_TIMEOUT,
        check=True,
    )
    return json.loads(out.stdout)


def test_a_fresh_process_runs_the_kept_bytecode_of_the_same_bytes_and_compiles_an_edit(
    tmp_path: Path,
):
    code = write_source(tmp_path / "proj" / "assets.py", ONE)
    assert load_in_a_fresh_process(code) == 1
    pyc = Path(importlib.util.cache_from_source(str(code)))
    # Bytecode of other code under this source's hash: only a load that reads it returns 3.
    other = write_source(tmp_path / "other" / "assets.py", ONE.replace("return 1", "return 3"))
    py_compile.compile(
        str(other),
        str(pyc),
        str(code),
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
    forged = bytearray(pyc.read_bytes())
    forged[8:16] = importlib.util.source_hash(code.read_bytes())
    pyc.write_bytes(bytes(forged))

    assert load_in_a_fresh_process(code) == 3

    rewrite_keeping_stat(code, "return 1", "return 2")
    assert load_in_a_fresh_process(code) == 2
    assert load_in_a_fresh_process(code) == 2  # from the bytecode the last load wrote
    assert pyc.read_bytes()[8:16] == importlib.util.source_hash(code.read_bytes())


def test_renamed_and_deleted_assets_disappear_on_reload(tmp_path: Path):
    proj = tmp_path / "proj"
    first = write_source(proj / "first.py", ONE)
    second = write_source(proj / "second.py", ONE.replace("number", "other"))
    assert keys(load_code_location(proj)) == {"number", "other"}
    first.write_text(first.read_text().replace("def number", "def renamed"))
    second.unlink()

    location = load_code_location(proj)

    assert keys(location) == {"renamed"}
    assert "second" not in sys.modules
    assert location.files == (first,)


def test_an_edit_to_a_helper_module_takes_effect(tmp_path: Path):
    code = write_source(
        tmp_path / "proj" / "assets.py",
        """
        from millrace import asset

        from helpers import FACTOR


        @asset
        def scaled() -> int:
            return 10 * FACTOR
        """,
    )
    helpers = write_source(tmp_path / "proj" / "helpers.py", "FACTOR = 1\n")
    assert asset_value(load_code_location(code), "scaled") == 10
    rewrite_keeping_stat(helpers, "FACTOR = 1", "FACTOR = 2")

    assert asset_value(load_code_location(code), "scaled") == 20


def test_sys_path_does_not_grow_with_reloads(tmp_path: Path):
    code = write_source(tmp_path / "proj" / "assets.py", ONE)
    load_code_location(code)
    length = len(sys.path)

    for _ in range(5):
        load_code_location(code)

    assert len(sys.path) == length
    assert sys.path.count(str(code.parent)) == 1


def test_a_directory_whose_files_import_each_other_loads_each_once(tmp_path: Path):
    proj = tmp_path / "proj"
    write_source(
        proj / "a.py",
        """
        from millrace import asset

        from b import raw


        @asset
        def derived(raw: int) -> int:
            return raw + 1
        """,
    )
    write_source(
        proj / "b.py",
        """
        from millrace import asset


        @asset
        def raw() -> int:
            return 1
        """,
    )

    location = load_code_location(proj)

    assert keys(location) == {"raw", "derived"}
    assert location.defs.get_assets_def("raw").fn.__module__ == "b"
    assert sys.modules["a"].raw is sys.modules["b"].raw


# -- module names ----------------------------------------------------------------------------


def test_module_names_follow_the_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    plain = tmp_path / "plain"
    write_source(plain / "a.py", ONE)
    write_source(plain / "b.py", ONE.replace("number", "other"))
    load_code_location(plain)
    assert sys.modules["a"].__file__ == str(plain / "a.py")
    assert sys.modules["b"].__file__ == str(plain / "b.py")
    assert str(plain) in sys.path

    package = tmp_path / "proj" / "pkg"
    write_source(package / "__init__.py", "from .sub import number\n")
    write_source(package / "sub.py", ONE)
    location = load_code_location(package)
    assert location.directory == package
    assert sys.modules["pkg.sub"].__file__ == str(package / "sub.py")
    assert location.defs.get_assets_def("number").fn.__module__ == "pkg.sub"
    assert str(package.parent) in sys.path

    single = write_source(tmp_path / "single" / "solo.py", ONE)
    assert load_code_location(single).defs.get_assets_def("number").fn.__module__ == "solo"

    monkeypatch.chdir(tmp_path / "single")
    location = load_code_location("solo")
    assert location.directory == single.parent
    assert location.defs.get_assets_def("number").fn.__module__ == "solo"


MODELS = """
from dataclasses import dataclass


@dataclass
class Point:
    x: int
    y: int
"""

PICKLE_IN_ANOTHER_PROCESS = """
import pickle, sys
from millrace.runtime.loader import load_code_location

load_code_location(sys.argv[1])
sys.stdout.buffer.write(pickle.dumps(sys.modules["shop.models"].Point(1, 2)))
"""


def test_a_pickled_user_class_unpickles_in_another_process_after_a_reload(tmp_path: Path):
    shop = tmp_path / "shop"
    write_source(shop / "__init__.py", "from .models import Point\n" + ONE)
    write_source(shop / "models.py", MODELS)
    pickled = subprocess.run(
        [sys.executable, "-c", PICKLE_IN_ANOTHER_PROCESS, str(shop)],
        cwd=tmp_path,
        capture_output=True,
        timeout=CLI_TIMEOUT,
        check=True,
    ).stdout
    load_code_location(shop)
    load_code_location(shop)  # a reload: a new Point class

    value = pickle.loads(pickled)

    assert type(value) is sys.modules["shop.models"].Point
    assert (value.x, value.y) == (1, 2)


@pytest.mark.parametrize("layout", ["directory", "file"])
def test_a_user_module_shadowing_an_imported_one_is_an_error(tmp_path: Path, layout: str):
    assert json.__file__  # imported, from the standard library
    shadow = write_source(tmp_path / "proj" / "json.py", ONE)
    if layout == "directory":
        write_source(tmp_path / "proj" / "other.py", ONE.replace("number", "other"))

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(shadow.parent if layout == "directory" else shadow)

    message = str(caught.value)
    assert str(shadow) in message and "module 'json'" in message and "rename" in message
    assert caught.value.file == str(shadow)
    assert sys.modules["json"] is json
    assert "other" not in sys.modules


# -- errors ----------------------------------------------------------------------------------


def test_a_syntax_error_names_file_and_line(tmp_path: Path):
    code = write_source(tmp_path / "proj" / "assets.py", ONE.replace("return 1", "return 1 +"))

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(code)

    line = line_of(code, "return 1 +")
    assert (caught.value.file, caught.value.line) == (str(code), line)
    assert f"Syntax error in {code}:{line}: invalid syntax" in str(caught.value)
    assert "return 1 +\n" in str(caught.value) and str(caught.value).endswith("^")
    assert caught.value.detail == "SyntaxError: invalid syntax"


def test_an_exception_at_import_time_names_the_innermost_user_line(tmp_path: Path):
    proj = tmp_path / "proj"
    write_source(proj / "a_fine.py", ONE)
    write_source(proj / "b_broken.py", "from settings import TABLE\n" + ONE)
    settings = write_source(proj / "settings.py", 'SETTINGS = {}\nTABLE = SETTINGS["table"]\n')

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(proj)

    assert (caught.value.file, caught.value.line) == (str(settings), 2)
    assert caught.value.detail == "KeyError: 'table'"
    assert f'File "{settings}", line 2' in str(caught.value)
    assert not {"a_fine", "b_broken", "settings"} & sys.modules.keys()  # nothing half-loaded


def test_an_invalid_graph_names_the_asset_file_and_line(tmp_path: Path):
    code = write_source(
        tmp_path / "proj" / "assets.py",
        """
        from millrace import asset


        @asset
        def orders() -> int:
            return 1


        @asset
        def totals(order: int) -> int:
            return order
        """,
    )

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(code)

    assert "depends on 'order'" in str(caught.value)
    assert (caught.value.file, caught.value.line) == (str(code), line_of(code, "def totals") - 1)
    assert "assets" not in sys.modules


def test_a_load_that_hangs_times_out_naming_the_line_and_blocks_a_second_load(
    tmp_path: Path, gate: types.SimpleNamespace
):
    code = write_source(tmp_path / "proj" / "stuck.py", BLOCKS)

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(code, timeout=0.5)

    line = line_of(code, "blocks here")
    assert str(caught.value) == (
        f"Loading {code} did not finish within 0.5s: {code}:{line} is still running at import "
        "time (an infinite loop, or waiting on the network?)"
    )
    assert (caught.value.file, caught.value.line) == (str(code), line)
    [thread] = gate.threads
    assert thread.daemon and thread.is_alive()  # a daemon: it cannot hold up the exit
    with pytest.raises(CodeLoadError) as again:
        load_code_location(code, timeout=CLI_TIMEOUT)  # would time out, not fail, if it waited
    assert f"still stuck at {code}:{line}" in str(again.value)


def test_the_timeout_comes_from_the_environment(
    tmp_path: Path, gate: types.SimpleNamespace, monkeypatch: pytest.MonkeyPatch
):
    code = write_source(tmp_path / "proj" / "stuck_too.py", BLOCKS)
    monkeypatch.setenv("MILLRACE_LOAD_TIMEOUT", "0.2")
    with pytest.raises(CodeLoadError, match=r"did not finish within 0\.2s"):
        load_code_location(code)

    monkeypatch.setenv("MILLRACE_LOAD_TIMEOUT", "soon")
    with pytest.raises(CodeLoadError, match="MILLRACE_LOAD_TIMEOUT must be a positive number"):
        load_code_location(code)


# -- picking the Definitions -----------------------------------------------------------------

ENVIRONMENTS = """
from millrace import Definitions

from .assets import number

dev = Definitions(assets=[number])
prod = Definitions(assets=[number], metadata={"env": "prod"})
defs = dev
NOT_DEFS = 3
"""


@pytest.fixture
def environments(tmp_path: Path) -> Path:
    package = tmp_path / "proj" / "envs"
    write_source(package / "__init__.py", ENVIRONMENTS + "from . import extra\n")
    write_source(package / "assets.py", ONE)
    write_source(
        package / "extra.py",
        """
        from millrace import Definitions

        from .assets import number

        staging = Definitions(assets=[number], metadata={"env": "staging"})
        """,
    )
    return package


def test_an_attribute_picks_one_definitions(environments: Path):
    prod = load_code_location(environments, attribute="prod")
    assert prod.defs.metadata == {"env": "prod"} and prod.attribute == "prod"
    assert load_code_location(environments).defs is sys.modules["envs"].dev
    assert load_code_location(environments, attribute="staging").defs.metadata == {"env": "staging"}


def test_a_missing_or_wrong_attribute_is_an_error(environments: Path):
    with pytest.raises(CodeLoadError) as caught:
        load_code_location(environments, attribute="qa")
    assert "no Definitions named 'qa'" in str(caught.value)
    assert "(Definitions there: defs, dev, prod, staging)" in str(caught.value)

    with pytest.raises(CodeLoadError, match=r"envs\.NOT_DEFS is a int, not a Definitions"):
        load_code_location(environments, attribute="NOT_DEFS")


def test_several_definitions_without_defs_suggest_an_attribute(environments: Path):
    init = environments / "__init__.py"
    init.write_text(init.read_text().replace("defs = dev", "other = dev"))

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(environments)

    assert "several Definitions objects (envs.extra.staging, envs.other, envs.prod)" in str(
        caught.value
    )
    assert "pick one with -a NAME" in str(caught.value)


# -- where the code lives --------------------------------------------------------------------


@pytest.mark.parametrize("marker", ["pyproject.toml", "setup.py", ".git"])
def test_project_root_is_the_nearest_ancestor_with_a_marker(tmp_path: Path, marker: str):
    repo = tmp_path / "repo"
    code = write_source(repo / "src" / "proj" / "assets.py", ONE)
    (repo / marker).mkdir() if marker == ".git" else (repo / marker).write_text("")

    assert project_root(code.parent) == repo
    assert project_root(repo) == repo
    location = load_code_location(code)
    assert (location.directory, location.root) == (code.parent, repo)


def test_project_root_falls_back_to_the_code_directory(tmp_path: Path):
    code_dir = tmp_path / "proj"
    code_dir.mkdir()
    ancestors = (code_dir, *code_dir.parents)
    assert not any((d / m).exists() for d in ancestors for m in ("pyproject.toml", "setup.py"))
    assert not any((d / ".git").exists() for d in ancestors)

    assert project_root(code_dir) == code_dir


def test_code_directory_runs_no_user_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    code = write_source(tmp_path / "proj" / "explodes.py", "raise SystemExit('ran')\n")
    monkeypatch.chdir(tmp_path / "proj")

    assert code_directory(code) == code_directory(code.parent) == code.parent
    assert code_directory("explodes") == code.parent


# -- from the event loop ---------------------------------------------------------------------


async def test_aload_lets_the_loop_run_while_the_user_import_runs(
    tmp_path: Path, gate: types.SimpleNamespace
):
    code = write_source(tmp_path / "proj" / "waits.py", BLOCKS + ONE)
    other_ran = asyncio.Event()

    async def other_task() -> None:
        other_ran.set()
        gate.event.set()  # only this task lets the import finish

    loop = asyncio.get_running_loop()
    started = loop.time()
    loading = asyncio.create_task(aload_code_location(code, timeout=CLI_TIMEOUT))
    other = asyncio.create_task(other_task())
    await other_ran.wait()
    location = await loading
    await other

    assert keys(location) == {"number"}
    assert loop.time() - started < CLI_TIMEOUT  # not blocked until the timeout, then resumed
    assert [t.daemon for t in gate.threads] == [True]


async def test_aload_times_out_with_the_same_error(tmp_path: Path, gate: types.SimpleNamespace):
    code = write_source(tmp_path / "proj" / "stuck_async.py", BLOCKS)

    with pytest.raises(CodeLoadError, match=rf"{code}:{line_of(code, 'blocks here')} is still"):
        await aload_code_location(code, timeout=0.2)


def test_tracebacks_show_the_source_that_ran_even_after_the_file_changes(tmp_path: Path):
    code = write_source(tmp_path / "proj" / "assets.py", ONE)
    line = line_of(code, "return 1")
    load_code_location(code)
    code.write_text("# replaced\n")

    linecache.checkcache(str(code))

    assert linecache.getline(str(code), line) == "    return 1\n"


def test_without_definitions_the_asset_checks_are_collected_too(tmp_path: Path):
    code = write_source(
        tmp_path / "proj" / "assets.py",
        """
        from millrace import AssetCheckResult, asset, asset_check

        @asset
        def numbers() -> list:
            return [1, 2]

        @asset_check(asset=numbers)
        def not_empty(numbers: list) -> AssetCheckResult:
            return AssetCheckResult(passed=bool(numbers))
        """,
    )

    graph = load_code_location(code).defs.graph

    assert [c.to_user_string() for c in graph.checks] == ["numbers:not_empty"]


# -- @definitions ----------------------------------------------------------------------------

LAZY = """
import millrace as dg

calls = []


@dg.asset
def number() -> int:
    return 1


@dg.definitions
def defs():
    calls.append(1)
    return dg.Definitions(assets=[number], metadata={"built": len(calls)})
"""


def test_a_definitions_function_is_called_on_every_load(tmp_path: Path):
    write_source(tmp_path / "lazy.py", LAZY)

    first = load_code_location(tmp_path / "lazy.py")
    assert [a.key.to_user_string() for a in first.defs.assets] == ["number"]
    assert first.defs.metadata == {"built": 1}  # a fresh import: the function ran once

    again = load_code_location(tmp_path / "lazy.py", attribute="defs")
    assert again.defs is not first.defs and again.defs.metadata == {"built": 1}


def test_a_definitions_function_returning_something_else_names_its_line(tmp_path: Path):
    file = write_source(
        tmp_path / "wrong.py", LAZY.replace("return dg.Definitions(", "return dict(")
    )

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(file)

    assert "@definitions function defs" in str(caught.value)
    assert "returned dict, not a Definitions" in str(caught.value)
    assert caught.value.file == str(file) and caught.value.line == 11  # the decorator's


def test_a_definitions_function_that_raises_names_the_raising_line(tmp_path: Path):
    file = write_source(tmp_path / "raises.py", LAZY.replace("calls.append(1)", "1 / 0"))

    with pytest.raises(CodeLoadError) as caught:
        load_code_location(file)

    assert "@definitions function raises.defs raised ZeroDivisionError" in str(caught.value)
    assert caught.value.file == str(file) and caught.value.line == 13


def test_a_definitions_function_taking_a_context_is_refused_at_import(tmp_path: Path):
    file = write_source(tmp_path / "ctx.py", LAZY.replace("def defs():", "def defs(context):"))

    with pytest.raises(CodeLoadError, match="must take no arguments") as caught:
        load_code_location(file)
    assert caught.value.line == 11


def test_a_reload_runs_every_file_afresh_and_compiles_only_the_edited_one(
    tmp_path: Path,
) -> None:
    write_source(
        tmp_path / "proj" / "edited.py",
        """
        from millrace import asset

        @asset
        def one() -> int:
            return 1
        """,
    )
    write_source(
        tmp_path / "proj" / "kept.py",
        """
        from millrace import asset

        @asset
        def two() -> int:
            return 2
        """,
    )
    first = load_code_location(tmp_path / "proj")
    (tmp_path / "proj" / "edited.py").write_text(
        (tmp_path / "proj" / "edited.py").read_text().replace("return 1", "return 10")
    )
    second = load_code_location(tmp_path / "proj")

    def fn(location: Any, name: str) -> Any:
        return location.defs.graph.nodes[AssetKey(name)].fn

    assert fn(second, "one")() == 10
    assert fn(second, "one").__code__ is not fn(first, "one").__code__
    assert fn(second, "two") is not fn(first, "two")  # its module ran again...
    assert fn(second, "two").__code__ is fn(first, "two").__code__  # ...without a compile
