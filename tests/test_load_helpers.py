"""Dagster's loading helpers over real modules written to disk: ``load_assets_from_modules``
and its package forms, ``load_asset_checks_from_modules``, ``load_definitions_from_module``,
``map_asset_specs``, ``with_source_code_references``, and ``load_from_defs_folder`` /
``load_defs`` over a ``create-dagster`` project layout, which ``millrace dev <project>`` loads
and reloads on a save under ``defs/``.
"""

from __future__ import annotations

import asyncio
import importlib
import signal
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import millrace as dg
import pytest
from conftest import Spawned, stored_value, write_source
from millrace.errors import CodeLoadError, DefinitionsError
from millrace.events import ReloadApplied
from millrace.runtime.dev import DevLoop
from millrace.runtime.loader import code_directory, load_code_location
from millrace.runtime.runtime import Runtime

TIMEOUT = 20  # seconds: a file-system event on a loaded machine


@pytest.fixture
def code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """Write modules under an importable directory and import them; forgotten afterwards."""
    root = tmp_path / "code"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))

    def module(name: str, source: str = "", **files: str) -> ModuleType:
        parts = name.split(".")
        for i in range(1, len(parts)):  # the packages above it
            init = root.joinpath(*parts[:i], "__init__.py")
            if not init.exists():
                write_source(init, "")
        path = root.joinpath(*parts[:-1], f"{parts[-1]}.py")
        if files:  # a package: its __init__ is ``source``, ``files`` its modules
            path = root.joinpath(*parts, "__init__.py")
            for file, text in files.items():
                write_source(root.joinpath(*parts, f"{file}.py"), text)
        write_source(path, source)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    yield module
    _forget(tmp_path)


def _forget(directory: Path) -> None:
    """Every module imported from ``directory``, named first: reading a namespace package's
    path after its parent is gone raises."""
    names = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        paths = list(getattr(module, "__path__", None) or [])
        if any(str(p).startswith(str(directory)) for p in [file, *paths] if p):
            names.append(name)
    for name in names:
        del sys.modules[name]


RAW = """
    from millrace import asset

    @asset
    def raw() -> list[int]:
        return [1, 2, 3]
"""

CLEAN = """
    from millrace import asset
    from shop.raw import raw  # imported: still one asset

    @asset
    def clean(raw: list[int]) -> list[int]:
        return [x * 10 for x in raw]
"""


def keys(items: list) -> list[str]:
    return sorted(i.key.to_user_string() for i in items)


# -- load_assets_from_modules --------------------------------------------------------------


def test_assets_are_collected_once_each_and_specs_only_when_asked(code) -> None:
    raw = code("shop.raw", RAW)
    clean = code("shop.clean", CLEAN)
    extra = code(
        "shop.extra",
        """
        from millrace import AssetSpec, asset

        ledger = AssetSpec("ledger")

        def _make(n):
            @asset(name=f"made_{n}")
            def made() -> int:
                return n
            return made

        made = [_make(1), _make(2)]  # a list of assets is loaded too
        """,
    )

    loaded = dg.load_assets_from_modules([raw, clean, extra])
    assert keys(loaded) == ["clean", "made_1", "made_2", "raw"]
    assert loaded.count(raw.raw) == 1
    with_specs = dg.load_assets_from_modules([raw, clean, extra], include_specs=True)
    assert keys(with_specs) == ["clean", "ledger", "made_1", "made_2", "raw"]


def test_two_assets_with_one_key_are_an_error_naming_both(code) -> None:
    first = code("dup.first", RAW)
    second = code("dup.second", RAW)

    with pytest.raises(DefinitionsError) as error:
        dg.load_assets_from_modules([first, second])
    message = str(error.value)
    assert "Asset key 'raw' is defined multiple times" in message
    assert "dup.first (" in message and "dup.second (" in message
    assert "first.py:3" in message and "second.py:3" in message


def test_key_prefix_rekeys_the_loaded_assets_and_their_references(code, home: Path) -> None:
    raw = code("shop.raw", RAW)
    clean = code("shop.clean", CLEAN)
    report = code(
        "reports",
        """
        from millrace import asset

        @asset
        def summary(clean: list[int]) -> int:  # outside the prefixed set: reads 'clean'
            return sum(clean)
        """,
    )

    loaded = dg.load_assets_from_modules([raw, clean], key_prefix=["shop", "v1"])
    assert keys(loaded) == ["shop/v1/clean", "shop/v1/raw"]
    [cleaned] = [a for a in loaded if a.key.path[-1] == "clean"]
    assert cleaned.upstream_keys == (dg.AssetKey(["shop", "v1", "raw"]),)
    assert raw.raw.key == dg.AssetKey("raw")  # the module's own asset is untouched

    result = dg.materialize(loaded)
    assert result.asset_value(["shop", "v1", "clean"]) == [10, 20, 30]
    assert stored_value(home, "shop/v1/clean") == [10, 20, 30]
    assert report.summary.upstream_keys == (dg.AssetKey("clean"),)  # outside: not re-keyed


def test_group_name_and_policies_are_set_on_every_asset(code) -> None:
    raw = code("shop.raw", RAW)
    grouped = code(
        "grouped",
        """
        from millrace import asset

        @asset(group_name="finance")
        def ledger() -> int:
            return 1
        """,
    )
    condition = dg.AutomationCondition.eager()
    policy = dg.BackfillPolicy.single_run()
    freshness = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=1))

    [loaded] = dg.load_assets_from_modules(
        [raw],
        group_name="sales",
        automation_condition=condition,
        backfill_policy=policy,
        freshness_policy=freshness,
    )
    assert (loaded.group_name, loaded.automation_condition) == ("sales", condition)
    assert (loaded.backfill_policy, loaded.freshness_policy) == (policy, freshness)
    assert raw.raw.group_name == "default"
    [same] = dg.load_assets_from_modules([grouped], group_name="finance")
    assert same.group_name == "finance"
    with pytest.raises(DefinitionsError, match="has group name 'finance', which conflicts"):
        dg.load_assets_from_modules([grouped], group_name="sales")
    with pytest.raises(DefinitionsError, match="backfill_policy must be a BackfillPolicy"):
        dg.load_assets_from_modules([raw], backfill_policy="single")  # type: ignore[arg-type]


def test_source_key_prefix_rekeys_specs_and_what_depends_on_them(code, home: Path) -> None:
    module = code(
        "sourced",
        """
        from millrace import AssetSpec, asset

        orders = AssetSpec("orders")

        @asset(deps=["orders"])
        def order_count() -> int:
            return 3
        """,
    )

    loaded = dg.load_assets_from_modules(
        [module], include_specs=True, source_key_prefix="erp", key_prefix="analytics"
    )
    assert keys(loaded) == ["analytics/order_count", "erp/orders"]
    [count] = [a for a in loaded if isinstance(a, dg.AssetsDefinition)]
    assert count.upstream_keys == (dg.AssetKey(["erp", "orders"]),)
    assert dg.materialize(loaded).asset_value(["analytics", "order_count"]) == 3


def test_package_module_loads_every_module_below_it(code) -> None:
    package = code(
        "warehouse",
        "",
        raw=RAW,
        staging="""
        from millrace import asset

        @asset
        def staged(raw: list[int]) -> int:
            return len(raw)
        """,
    )
    code(
        "warehouse.marts.daily",
        "from millrace import asset\n\n@asset\ndef daily() -> int:\n    return 1\n",
    )

    loaded = dg.load_assets_from_package_module(package, group_name="wh", key_prefix="wh")
    assert keys(loaded) == ["wh/daily", "wh/raw", "wh/staged"]
    assert {a.group_name for a in loaded} == {"wh"}
    by_name = dg.load_assets_from_package_name("warehouse")
    assert keys(by_name) == ["daily", "raw", "staged"]
    with pytest.raises(DefinitionsError, match="is a module, not a package"):
        dg.load_assets_from_package_module(sys.modules["warehouse.raw"])


# -- checks and whole Definitions ----------------------------------------------------------

CHECKED = """
    from millrace import AssetCheckResult, asset, asset_check

    @asset
    def rows() -> list[int]:
        return [1, 2]

    @asset_check(asset=rows)
    def rows_not_empty(rows: list[int]) -> AssetCheckResult:
        return AssetCheckResult(passed=len(rows) > 0, metadata={"n": len(rows)})
"""


def test_checks_follow_their_assets_under_the_same_prefix(code, home: Path) -> None:
    module = code("checked", CHECKED)

    assert [c.key.to_user_string() for c in dg.load_asset_checks_from_modules([module])] == [
        "rows:rows_not_empty"
    ]
    assets = dg.load_assets_from_modules([module], key_prefix="p")
    [check] = dg.load_asset_checks_from_modules([module], asset_key_prefix="p")
    assert keys(assets) == ["p/rows"]  # the check is not an asset
    assert check.key == dg.AssetCheckKey(dg.AssetKey(["p", "rows"]), "rows_not_empty")
    assert check.upstream_keys == (dg.AssetKey(["p", "rows"]),)

    result = dg.materialize([*assets, check])
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed
    assert evaluation.asset_key == dg.AssetKey(["p", "rows"])


def test_load_definitions_from_module_takes_every_kind_of_definition(code) -> None:
    module = code(
        "everything",
        CHECKED
        + """
    from millrace import AssetSpec, ScheduleDefinition, define_asset_job, sensor

    upstream = AssetSpec("upstream")
    rows_job = define_asset_job("rows_job", selection=["rows"])
    nightly = ScheduleDefinition(job=rows_job, cron_schedule="0 3 * * *")

    @sensor(job=rows_job)
    def watcher(context):
        return None
    """,
    )

    defs = dg.load_definitions_from_module(module, resources={"unused": object()})
    assert sorted(k.to_user_string() for k in defs.asset_keys) == ["rows", "upstream"]
    assert [c.key.name for c in defs.asset_checks] == ["rows_not_empty"]
    assert [s.name for s in defs.schedules] == ["rows_job_schedule"]  # Dagster's default name
    assert [s.name for s in defs.sensors] == ["watcher"]
    assert [j.name for j in defs.job_defs] == ["rows_job"]
    assert set(defs.resources) == {"unused"}


def test_two_schedules_with_one_name_are_an_error(code) -> None:
    source = """
        from millrace import ScheduleDefinition, define_asset_job

        nightly = ScheduleDefinition(
            name="nightly", job=define_asset_job("j", selection="*"), cron_schedule="0 3 * * *"
        )
    """
    first, second = code("sched.a", source), code("sched.b", source)

    with pytest.raises(DefinitionsError, match="Schedule name 'nightly' is defined multiple"):
        dg.load_definitions_from_modules([first, second])
    assert dg.load_assets_from_modules([first, second]) == []  # schedules are not its concern


def test_specs_with_one_key_are_one_if_equal_and_only_loaded_when_asked(code) -> None:
    first = code("specs.a", 'from millrace import AssetSpec\n\nledger = AssetSpec("ledger")\n')
    same = code("specs.b", 'from millrace import AssetSpec\n\nledger = AssetSpec("ledger")\n')
    other = code(
        "specs.c",
        'from millrace import AssetSpec\n\nledger = AssetSpec("ledger", description="x")\n',
    )

    assert dg.load_assets_from_modules([first, same], include_specs=True) == [first.ledger]
    assert dg.load_assets_from_modules([first, other]) == []
    with pytest.raises(DefinitionsError, match="Asset key 'ledger' is defined multiple times"):
        dg.load_assets_from_modules([first, other], include_specs=True)


# -- map_asset_specs and with_source_code_references ---------------------------------------


def test_map_asset_specs_rewrites_specs_and_assets(code, home: Path) -> None:
    raw = code("shop.raw", RAW)
    clean = code("shop.clean", CLEAN)
    ledger = dg.AssetSpec("ledger", tags={"a": "1"})

    mapped = dg.map_asset_specs(_retagged, [raw.raw, clean.clean, ledger])
    assert [m.tags for m in mapped] == [
        {"team": "data"},
        {"team": "data"},
        {"a": "1", "team": "data"},
    ]
    assert [m.group_name for m in mapped] == ["mapped"] * 3
    assert isinstance(mapped[1], dg.AssetsDefinition) and mapped[1].source == clean.clean.source
    assert mapped[2].source == ledger.source
    assert dg.materialize(mapped[:2]).asset_value("clean") == [10, 20, 30]


def _retagged(spec: dg.AssetSpec) -> dg.AssetSpec:
    from millrace.declarations.asset_copies import replaced_spec

    return replaced_spec(spec, tags={**spec.tags, "team": "data"}, group_name="mapped")


def test_map_asset_specs_keeps_keys_and_the_upstreams_a_function_reads(code) -> None:
    code("shop.raw", RAW)
    clean = code("shop.clean", CLEAN)
    from millrace.declarations.asset_copies import replaced_spec

    with pytest.raises(DefinitionsError, match="'clean' was changed to 'other'"):
        dg.map_asset_specs(lambda s: replaced_spec(s, key="other"), [clean.clean])
    with pytest.raises(DefinitionsError, match="reads raw through its parameters"):
        dg.map_asset_specs(lambda s: replaced_spec(s, deps=[]), [clean.clean])
    [more] = dg.map_asset_specs(lambda s: replaced_spec(s, deps=[*s.deps, "audit"]), [clean.clean])
    assert more.upstream_keys == (dg.AssetKey("raw"), dg.AssetKey("audit"))
    with pytest.raises(DefinitionsError, match="must return an AssetSpec"):
        dg.map_asset_specs(lambda s: None, [clean.clean])  # type: ignore[arg-type,return-value]


def test_with_source_code_references_keeps_the_assets_and_their_recorded_source(code) -> None:
    raw = code("shop.raw", RAW)

    assert dg.with_source_code_references([raw.raw]) == [raw.raw]
    assert raw.raw.source is not None and raw.raw.source.file.endswith("raw.py")
    with pytest.raises(DefinitionsError, match="expected AssetsDefinitions or AssetSpecs"):
        dg.with_source_code_references([object()])  # type: ignore[list-item]


# -- a create-dagster project: src/<pkg>/definitions.py and src/<pkg>/defs/ ----------------

PYPROJECT = """
    [project]
    name = "{name}"

    [tool.dg]
    directory_type = "project"

    [tool.dg.project]
    root_module = "{name}"
"""

DEFINITIONS = """
    from pathlib import Path

    import millrace as dg


    @dg.definitions
    def defs():
        return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
"""

DEFS = {
    "__init__.py": "",
    "ingest/__init__.py": "",
    "ingest/raw.py": """
        import millrace as dg

        @dg.asset
        def raw(warehouse: dg.ResourceParam[dict]) -> list[int]:
            return warehouse["rows"]
    """,
    "transform/clean.py": """
        import millrace as dg
        from ..ingest.raw import raw  # imported: still one asset
        from ..resources import calendar  # listed by that module's Definitions: still one

        @dg.asset
        def clean(raw: list[int]) -> list[int]:
            return [x * 10 for x in raw]

        nightly = dg.ScheduleDefinition(
            job=dg.define_asset_job("all_assets", selection="*"), cron_schedule="0 3 * * *"
        )
    """,
    "resources.py": """
        import millrace as dg

        @dg.asset
        def calendar() -> list[str]:
            return ["mon", "tue"]

        @dg.definitions
        def resources():
            return dg.Definitions(assets=[calendar], resources={"warehouse": {"rows": [1, 2, 3]}})
    """,
    "__pycache__/junk.py": "raise RuntimeError('never imported')",
    ".hidden/junk.py": "raise RuntimeError('never imported')",
    "notes.md": "not Python",
}


def write_project(root: Path, name: str = "acme") -> Path:
    write_source(root / "pyproject.toml", PYPROJECT.format(name=name))
    write_source(root / "src" / name / "__init__.py", "")
    write_source(root / "src" / name / "definitions.py", DEFINITIONS)
    for path, text in DEFS.items():
        write_source(root / "src" / name / "defs" / path, text)
    return root


@pytest.fixture
def forget(tmp_path: Path) -> Iterator[None]:
    yield
    _forget(tmp_path)


def test_load_from_defs_folder_merges_every_module_under_defs(
    tmp_path: Path, home: Path, forget: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "acme-project")
    monkeypatch.syspath_prepend(str(project / "src"))
    definitions = importlib.import_module("acme.definitions")

    defs = definitions.defs()
    assert sorted(k.to_user_string() for k in defs.asset_keys) == ["calendar", "clean", "raw"]
    assert [s.name for s in defs.schedules] == ["all_assets_schedule"]
    assert set(defs.resources) == {"warehouse"}
    result = dg.materialize(defs.assets, resources=defs.resources)
    assert result.asset_value("clean") == [10, 20, 30]

    # project_root= is Dagster's older name; a path anywhere in the project finds it
    again = dg.load_from_defs_folder(project_root=project / "src" / "acme" / "defs" / "ingest")
    assert sorted(k.to_user_string() for k in again.asset_keys) == ["calendar", "clean", "raw"]


def test_a_project_without_dg_config_or_with_components_is_refused_clearly(
    tmp_path: Path, forget: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(CodeLoadError, match="Could not find a Dagster project config"):
        dg.load_from_defs_folder(path_within_project=tmp_path)

    project = write_project(tmp_path / "comp", name="comp")
    write_source(project / "src" / "comp" / "defs" / "dbt" / "defs.yaml", "type: x.Y\n")
    monkeypatch.syspath_prepend(str(project / "src"))
    with pytest.raises(DefinitionsError, match=r"dbt/defs.yaml: Dagster components are not"):
        dg.load_from_defs_folder(path_within_project=project)

    write_source(tmp_path / "bad" / "pyproject.toml", "[tool.dg.project]\nroot_module = 3\n")
    with pytest.raises(CodeLoadError, match=r"pyproject.toml: \[tool.dg.project\] root_module"):
        dg.load_from_defs_folder(path_within_project=tmp_path / "bad")


def test_load_defs_stops_at_a_folder_definitions_py_unless_told_not_to(
    tmp_path: Path, code, forget: None
) -> None:
    package = code(
        "legacy.defs",
        "",
        loose="import millrace as dg\n\n@dg.asset\ndef loose() -> int:\n    return 1\n",
    )
    write_source(
        tmp_path / "code" / "legacy" / "defs" / "team" / "definitions.py",
        """
        import millrace as dg

        @dg.asset
        def team_asset() -> int:
            return 2

        defs = dg.Definitions(assets=[team_asset])
        """,
    )
    write_source(
        tmp_path / "code" / "legacy" / "defs" / "team" / "ignored.py",
        "import millrace as dg\n\n@dg.asset\ndef ignored() -> int:\n    return 3\n",
    )
    importlib.invalidate_caches()

    stopped = dg.load_defs(defs_root=package)
    assert sorted(k.to_user_string() for k in stopped.asset_keys) == ["loose", "team_asset"]
    walked = dg.load_defs(package, terminate_autoloading_on_keyword_files=False)
    assert sorted(k.to_user_string() for k in walked.asset_keys) == [
        "ignored",
        "loose",
        "team_asset",
    ]
    with pytest.raises(DefinitionsError, match="takes the imported defs package"):
        dg.load_defs(defs_root="legacy.defs")  # type: ignore[arg-type]


def test_a_module_under_defs_with_two_definitions_is_an_error_naming_it(
    tmp_path: Path, code, forget: None
) -> None:
    package = code(
        "twice.defs",
        "",
        both="""
        import millrace as dg

        one = dg.Definitions()
        two = dg.Definitions()
        """,
    )
    with pytest.raises(DefinitionsError, match=r"twice/defs/both.py: holds 2 Definitions"):
        dg.load_defs(package)


# -- millrace dev <project> ----------------------------------------------------------------


def test_the_loader_loads_a_project_directory_through_its_definitions_module(
    tmp_path: Path, forget: None
) -> None:
    project = write_project(tmp_path / "acme-project")

    location = load_code_location(project)
    assert sorted(k.to_user_string() for k in location.defs.asset_keys) == [
        "calendar",
        "clean",
        "raw",
    ]
    package = project / "src" / "acme"
    assert location.directory == package == code_directory(project)
    assert location.root == project  # the home is the project's .millrace
    assert package / "defs" / "transform" / "clean.py" in location.files

    # its root package names the same code: millrace dev src/acme
    same = load_code_location(package)
    assert sorted(same.defs.asset_keys) == sorted(location.defs.asset_keys)
    assert (same.directory, same.root) == (package, project)


async def test_dev_on_a_project_reloads_when_a_file_under_defs_changes(
    tmp_path: Path, home: Path, forget: None
) -> None:
    project = write_project(tmp_path / "acme-project")
    defs = project / "src" / "acme" / "defs"
    async with Runtime(load_code_location(project), home=home) as runtime:
        await runtime.materialize()
        loop = DevLoop(runtime)
        stop, ready = asyncio.Event(), asyncio.Event()
        task = asyncio.create_task(loop.run(stop=stop, on_ready=ready.set))
        try:
            await asyncio.wait_for(ready.wait(), TIMEOUT)

            clean = defs / "transform" / "clean.py"
            clean.write_text(clean.read_text().replace("x * 10", "x * 100"))
            applied, handle = await asyncio.wait_for(loop.outcomes.get(), TIMEOUT)
            assert isinstance(applied, ReloadApplied)
            assert [c.asset_key.to_user_string() for c in applied.changed] == ["clean"]
            assert handle is not None
            await asyncio.wait_for(handle, TIMEOUT)
            assert stored_value(home, "clean") == [100, 200, 300]

            write_source(
                defs / "transform" / "total.py",
                """
                import millrace as dg

                @dg.asset
                def total(clean: list[int]) -> int:
                    return sum(clean)
                """,
            )
            applied, handle = await asyncio.wait_for(loop.outcomes.get(), TIMEOUT)
            assert isinstance(applied, ReloadApplied)
            assert [k.to_user_string() for k in applied.added] == ["total"]
            assert handle is not None
            await asyncio.wait_for(handle, TIMEOUT)
            assert stored_value(home, "total") == 600
        finally:
            stop.set()
            await asyncio.wait_for(task, TIMEOUT)


@pytest.mark.parametrize(
    ("config_file", "config"),
    [
        ("dg.toml", 'directory_type = "project"\n\n[project]\nroot_module = "flat"\n'),
        ("pyproject.toml", '[tool.dagster]\nmodule_name = "flat.definitions"\n'),
    ],
    ids=["dg.toml", "tool.dagster"],
)
def test_the_other_project_configs_load_a_package_beside_them(
    tmp_path: Path, forget: None, config_file: str, config: str
) -> None:
    project = tmp_path / "flat-project"
    write_source(project / config_file, config)
    write_source(project / "flat" / "__init__.py", "")
    write_source(
        project / "flat" / "definitions.py",
        """
        import millrace as dg

        @dg.asset
        def only() -> int:
            return 1

        defs = dg.Definitions(assets=[only])
        """,
    )

    location = load_code_location(project)
    assert [k.to_user_string() for k in location.defs.asset_keys] == ["only"]
    assert location.directory == project / "flat"


def test_a_broken_project_config_names_its_file(tmp_path: Path) -> None:
    write_source(tmp_path / "p" / "pyproject.toml", "[tool.dg.project\nroot_module = 'x'\n")
    with pytest.raises(CodeLoadError, match=r"p/pyproject.toml: not valid TOML: .*line 1") as e:
        load_code_location(tmp_path / "p")
    assert e.value.file == str(tmp_path / "p" / "pyproject.toml")

    write_source(tmp_path / "q" / "pyproject.toml", '[tool.dg.project]\nroot_module = "gone"\n')
    with pytest.raises(CodeLoadError, match=r"no package 'gone' in .*q/src or .*q"):
        load_code_location(tmp_path / "q")


def test_millrace_dev_on_a_project_reloads_on_a_save_under_defs(tmp_path: Path, home: Path) -> None:
    write_project(tmp_path / "acme-project")
    env = {"MILLRACE_HOME": str(home)}

    args = ("dev", "acme-project", "--headless", "--run-stale")
    with Spawned(*args, cwd=tmp_path, env=env) as dev:
        started = {"watching": "", "run": ""}  # printed in either order
        while not all(started.values()):
            line = dev.wait_for_line(
                lambda text: text.startswith("watching ") or " SUCCESS" in text, "start"
            )
            started["watching" if line.startswith("watching ") else "run"] = line
        assert "acme-project/src/acme (3 assets)" in started["watching"]
        assert stored_value(home, "clean") == [10, 20, 30]
        clean = tmp_path / "acme-project" / "src" / "acme" / "defs" / "transform" / "clean.py"
        clean.write_text(clean.read_text().replace("x * 10", "x * 100"))
        dev.wait_for_line(
            lambda line: line == "reloaded: 1 changed (clean: code), 0 added, 0 removed\n",
            "the reload line",
        )
        dev.wait_for_line(lambda line: " SUCCESS" in line, "the re-run's end")
        dev.proc.send_signal(signal.SIGINT)
        assert dev.finish() == 0
    assert stored_value(home, "clean") == [100, 200, 300]


def test_the_current_module_forms_load_the_calling_module(code) -> None:
    module = code(
        "selfloading",
        CHECKED
        + """
    from millrace import (
        load_asset_checks_from_current_module,
        load_assets_from_current_module,
        load_definitions_from_current_module,
    )

    defs = load_definitions_from_current_module()  # first: the lists below would count too
    loaded = load_assets_from_current_module(key_prefix="me")
    checks = load_asset_checks_from_current_module(asset_key_prefix="me")
    """,
    )

    assert keys(module.loaded) == ["me/rows"]
    assert [c.key.to_user_string() for c in module.checks] == ["me/rows:rows_not_empty"]
    assert [k.to_user_string() for k in module.defs.asset_keys] == ["rows"]


def test_a_missing_defs_package_names_the_project_config(tmp_path: Path, forget: None) -> None:
    project = tmp_path / "nodefs"
    write_source(project / "pyproject.toml", PYPROJECT.format(name="nodefs"))
    write_source(project / "src" / "nodefs" / "__init__.py", "")

    with pytest.raises(DefinitionsError, match=r"the defs module 'nodefs.defs' does not exist"):
        dg.load_from_defs_folder(path_within_project=project / "src" / "nodefs")


def test_source_assets_are_always_loaded_and_keep_their_observe_function(code) -> None:
    module = code(
        "observed",
        """
        from millrace import DataVersion, asset, observable_source_asset

        @observable_source_asset
        def feed():
            return DataVersion("v1")

        @asset(deps=["feed"])
        def digest() -> int:
            return 1
        """,
    )

    loaded = dg.load_assets_from_modules([module], source_key_prefix="ext", group_name="g")
    assert keys(loaded) == ["digest", "ext/feed"]
    [feed] = [a for a in loaded if isinstance(a, dg.SourceAsset)]
    assert feed.observe_fn is module.feed.observe_fn and feed.group_name == "g"
    assert feed.source == module.feed.source
    [digest] = [a for a in loaded if isinstance(a, dg.AssetsDefinition)]
    assert digest.upstream_keys == (dg.AssetKey(["ext", "feed"]),)
