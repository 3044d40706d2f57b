"""A reload runs again only the user modules an edit can affect: real files, real imports.

Each test loads a location, edits files, reloads with ``previous=`` (as the dev runtime
does) and checks which module objects were kept, that what runs again sees the edit, and
that the versions equal those of a load from scratch.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import write_source
from millrace.declarations.keys import AssetKey
from millrace.runtime.imports import purge
from millrace.runtime.loaded_code import LoadedCode
from millrace.runtime.loader import CodeLocation, load_code_location


@pytest.fixture(autouse=True)
def isolated_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield
    purge(tmp_path.resolve())


HELPERS = """
LIMIT = {limit}


def scale(x: int) -> int:
    return x * LIMIT
"""

USES_HELPER = """
from millrace import asset

import helpers


@asset
def scaled() -> int:
    return helpers.scale(2)
"""

ALONE = """
from millrace import asset


@asset
def alone() -> int:
    return {value}
"""


def project(root: Path, **files: str) -> Path:
    for name, source in files.items():
        write_source(root / f"{name}.py", source)
    return root


def value(location: CodeLocation, key: str) -> object:
    return location.defs.get_assets_def(key).fn()


def versions(location: CodeLocation) -> dict[str, str]:
    found = LoadedCode.of(location.defs, location).versions
    return {k.to_user_string(): v.value for k, v in found.items()}


def from_scratch(target: Path) -> dict[str, str]:
    """The versions of a load that keeps nothing (as a fresh process would see them)."""
    purge(target.resolve())
    return versions(load_code_location(target))


def test_an_edit_runs_again_its_module_and_keeps_the_others(tmp_path: Path) -> None:
    code = project(
        tmp_path, helpers=HELPERS.format(limit=3), uses=USES_HELPER, other=ALONE.format(value=1)
    )
    first = load_code_location(code)
    kept, helpers, node = (
        sys.modules["uses"],
        sys.modules["helpers"],
        first.defs.get_assets_def("scaled"),
    )
    before = versions(first)
    write_source(code / "other.py", ALONE.format(value=2))
    second = load_code_location(code, previous=first)
    assert sys.modules["uses"] is kept and sys.modules["helpers"] is helpers
    assert second.defs.get_assets_def("scaled") is node
    assert value(second, "alone") == 2
    after = versions(second)
    assert after["scaled"] == before["scaled"] and after["alone"] != before["alone"]
    assert set(second.sources) == set(first.sources)  # the kept files' texts are carried over
    assert after == from_scratch(code)


def test_a_reload_versions_again_only_the_definitions_it_did_not_keep(tmp_path: Path) -> None:
    code = project(
        tmp_path, helpers=HELPERS.format(limit=3), uses=USES_HELPER, other=ALONE.format(value=1)
    )
    first = load_code_location(code)
    loaded = LoadedCode.of(first.defs, first)
    write_source(code / "other.py", ALONE.format(value=2))
    second = load_code_location(code, previous=first)

    reloaded = LoadedCode.of(second.defs, second, previous=loaded)

    scaled, alone = AssetKey("scaled"), AssetKey("alone")
    assert reloaded.versions[scaled] is loaded.versions[scaled]  # kept, not versioned again
    assert reloaded.versions[alone] != loaded.versions[alone]
    assert {k.to_user_string(): v.value for k, v in reloaded.versions.items()} == from_scratch(code)


IMPORTS_A_NAME = """
from millrace import asset

from helpers import LIMIT


@asset
def limited() -> int:
    return LIMIT
"""


def test_a_module_that_imports_an_edited_one_runs_again(tmp_path: Path) -> None:
    # ``from helpers import LIMIT`` leaves only an int behind: the import statement tells.
    code = project(
        tmp_path,
        helpers=HELPERS.format(limit=3),
        uses=USES_HELPER,
        limits=IMPORTS_A_NAME,
        other=ALONE.format(value=1),
    )
    first = load_code_location(code)
    uses, other = sys.modules["uses"], sys.modules["other"]
    write_source(code / "helpers.py", HELPERS.format(limit=5))
    second = load_code_location(code, previous=first)
    assert sys.modules["uses"] is not uses and sys.modules["other"] is other
    assert value(second, "scaled") == 10
    assert value(second, "limited") == 5
    assert versions(second) == from_scratch(code)


def test_a_module_holding_an_object_of_an_edited_one_runs_again(tmp_path: Path) -> None:
    # No import statement names it: only its globals show where its function came from.
    dynamic = """
        import importlib

        from millrace import asset

        scale = importlib.import_module("helpers").scale


        @asset
        def dynamic() -> int:
            return scale(1)
    """
    code = project(tmp_path, helpers=HELPERS.format(limit=3), dyn=dynamic)
    first = load_code_location(code)
    write_source(code / "helpers.py", HELPERS.format(limit=7))
    second = load_code_location(code, previous=first)
    assert value(second, "dynamic") == 7


PACKAGE_INIT = """
from millrace import Definitions, load_assets_from_package_module

import pkg

defs = Definitions(assets=load_assets_from_package_module(pkg))
"""


def test_a_package_runs_again_with_its_kept_submodules_bound_to_it(tmp_path: Path) -> None:
    write_source(tmp_path / "pkg" / "__init__.py", "")
    write_source(tmp_path / "pkg" / "one.py", ALONE.format(value=1).replace("alone", "one"))
    write_source(
        tmp_path / "pkg" / "two.py",
        "import pkg.one\n" + ALONE.format(value="pkg.one.one.fn() + 1").replace("alone", "two"),
    )
    write_source(tmp_path / "location.py", PACKAGE_INIT)
    target = tmp_path / "location.py"
    first = load_code_location(target)
    one = sys.modules["pkg.one"]
    write_source(tmp_path / "pkg" / "__init__.py", "# edited\n")
    second = load_code_location(target, previous=first)
    package = sys.modules["pkg"]
    assert sys.modules["pkg.one"] is one and package.one is one  # type: ignore[attr-defined]
    assert value(second, "two") == 2
    assert {k.to_user_string() for k in second.defs.asset_keys} == {"one", "two"}


def test_the_package_of_an_edited_module_runs_again_and_what_imports_it(
    tmp_path: Path,
) -> None:
    # The location collects the package's submodules; nothing imports pkg.one by name.
    write_source(tmp_path / "pkg" / "__init__.py", "")
    write_source(tmp_path / "pkg" / "one.py", ALONE.format(value=1).replace("alone", "one"))
    write_source(tmp_path / "location.py", PACKAGE_INIT)
    target = tmp_path / "location.py"
    first = load_code_location(target)
    write_source(tmp_path / "pkg" / "one.py", ALONE.format(value=2).replace("alone", "one"))
    second = load_code_location(target, previous=first)
    assert value(second, "one") == 2


def test_a_file_added_beside_the_code_reloads_everything(tmp_path: Path) -> None:
    # A package that collects its submodules would not see the new one if it were kept.
    write_source(tmp_path / "pkg" / "__init__.py", "")
    write_source(tmp_path / "pkg" / "one.py", ALONE.format(value=1).replace("alone", "one"))
    write_source(tmp_path / "location.py", PACKAGE_INIT)
    target = tmp_path / "location.py"
    first = load_code_location(target)
    one = sys.modules["pkg.one"]
    write_source(tmp_path / "pkg" / "three.py", ALONE.format(value=3).replace("alone", "three"))
    write_source(tmp_path / "location.py", PACKAGE_INIT + "\n# edited\n")
    second = load_code_location(target, previous=first)
    assert sys.modules["pkg.one"] is not one
    assert {k.to_user_string() for k in second.defs.asset_keys} == {"one", "three"}


def test_a_save_that_changed_no_module_reloads_everything(tmp_path: Path) -> None:
    code = project(tmp_path, other=ALONE.format(value=1))
    first = load_code_location(code)
    other = sys.modules["other"]
    second = load_code_location(code, previous=first)
    assert sys.modules["other"] is not other
    assert value(second, "alone") == 1
