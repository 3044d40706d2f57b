"""What ``import millrace`` costs: a module that only declares assets loads no runtime."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import millrace

HEAVY = ("asyncio", "sqlite3", "aiosqlite", "polars", "pyarrow", "pandas", "pydantic", "textual")


def _loaded_after(code: str) -> list[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=30
    )
    return json.loads(done.stdout.splitlines()[-1])


def _ours(modules: list[str]) -> set[str]:
    return {m for m in modules if m.startswith("millrace.")}


def test_import_millrace_loads_no_runtime_and_no_frame_library() -> None:
    loaded = _loaded_after(
        "import millrace\nfrom millrace import asset, AssetIn, Definitions, AssetSelection"
    )
    assert [m for m in HEAVY if m in loaded] == []


def test_import_millrace_alone_imports_no_submodule_of_ours() -> None:
    assert _ours(_loaded_after("import millrace")) == set()


def test_declaring_assets_loads_nothing_of_what_runs_them() -> None:
    loaded = _ours(_loaded_after("from millrace import asset, Definitions"))
    assert {"millrace.declarations.asset", "millrace.declarations.definitions"} <= loaded
    below = ("millrace.events", "millrace.execution", "millrace.runtime", "millrace.storage")
    assert sorted(m for m in loaded if m.startswith(below)) == []
    assert "millrace.automation.sensors" not in loaded  # what Definitions does not need


def test_cli_help_loads_no_runtime_no_store_and_no_event_loop() -> None:
    loaded = _loaded_after(
        "from millrace.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert [m for m in (*HEAVY, "yaml", "watchfiles", "rich") if m in loaded] == []
    assert _ours(loaded) <= {
        "millrace.cli",
        "millrace.errors",
        "millrace.interrupts",
        "millrace.reports",
        "millrace.automation_commands",
        "millrace.job_commands",
        "millrace.partition_commands",
    }


def test_a_plain_materialize_loads_no_dagster_views_and_no_status_queries(
    tmp_path: Path,
) -> None:
    project = tmp_path / "trivial.py"
    project.write_text(
        "from millrace import Definitions, asset\n\n\n@asset\ndef one() -> int:\n"
        "    return 1\n\n\ndefs = Definitions(assets=[one])\n"
    )
    run = (
        "from millrace.cli import main\n"
        f"assert main(['materialize', {str(project)!r}, '--home', {str(tmp_path / 'home')!r}]) == 0"
    )
    modules = _loaded_after(run)
    loaded = _ours(modules)
    assert "millrace.runtime.runtime" in loaded  # it did run
    unneeded = {
        "millrace.automation.condition_sensor",
        "millrace.automation.event_log",
        "millrace.automation.freshness",
        "millrace.automation.run_status",
        "millrace.automation.sensors",
        "millrace.declarations.asset_copies",
        "millrace.declarations.loading",  # finding assets without a Definitions
        "millrace.execution.dagster_events",
        "millrace.runtime.backfill",
        "millrace.runtime.lineage",
        "millrace.runtime.preview",
        "millrace.runtime.queries",
        "millrace.runtime.reload",
        "millrace.versions.partition_status",
    }
    assert sorted(loaded & unneeded) == []
    assert "tomllib" not in modules  # no dg.toml or pyproject.toml to read
    assert "importlib.abc" not in modules


def test_the_cli_spells_the_instigator_kinds_as_the_runtime_does() -> None:
    from millrace import automation_commands
    from millrace.runtime import automation

    assert (automation_commands.SCHEDULE, automation_commands.SENSOR) == (
        automation.SCHEDULE,
        automation.SENSOR,
    )


def _type_checking_imports() -> dict[str, str]:
    """Name -> module, as the ``if TYPE_CHECKING:`` block of millrace/__init__.py imports it."""
    tree = ast.parse(Path(millrace.__file__).read_text())
    (block,) = [
        n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"
    ]
    return {
        alias.name: str(node.module)
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_the_lazy_table_is_what_type_checkers_see_and_covers_all() -> None:
    assert _type_checking_imports() == millrace._LAZY
    assert set(millrace._LAZY) | {"__version__"} == set(millrace.__all__)


def test_every_name_resolves_to_what_its_module_defines_and_is_listed_by_dir() -> None:
    from importlib import import_module

    for name, module in millrace._LAZY.items():
        assert getattr(millrace, name) is getattr(import_module(f"millrace.{module}"), name)
    assert set(millrace.__all__) <= set(dir(millrace))


def test_no_top_level_module_of_ours_is_named_like_an_exported_name() -> None:
    # An import of such a module would set it as millrace's attribute, over the export.
    modules = {info.name for info in pkgutil.iter_modules(millrace.__path__)}
    assert modules & set(millrace.__all__) == set()
