"""``load_from_defs_folder`` and ``load_defs``: one Definitions of every module under a
project's ``defs/`` package, the layout ``create-dagster`` scaffolds.

Each ``.py`` file under the folder is imported (``__pycache__`` and hidden entries skipped,
in name order). A module holding a Definitions contributes it, one with ``@definitions``
functions what they return (both in one module, or two Definitions, is an error); every other
module contributes the assets, specs, checks, schedules, sensors and jobs it defines. Dagster's
YAML components (``defs.yaml``) and ``component.py`` are not supported: they are refused.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from ..declarations.definitions import Definitions
from ..declarations.lazy_definitions import LazyDefinitions
from ..declarations.loading import ModuleObjects
from ..errors import DefinitionsError
from .imports import ensure_on_path
from .project import project_around

_COMPONENT_FILES = ("defs.yaml", "component.yaml")


def load_from_defs_folder(
    *, path_within_project: Path | None = None, project_root: Path | None = None
) -> Definitions:
    """The Definitions of the defs module of the dg project ``path_within_project`` is in
    (``project_root`` is Dagster's older name for it)."""
    if path_within_project is not None and project_root is not None:
        raise DefinitionsError(
            "load_from_defs_folder takes path_within_project or project_root (its older "
            "name), not both"
        )
    path = path_within_project if path_within_project is not None else project_root
    if path is None:
        raise DefinitionsError("load_from_defs_folder needs path_within_project=Path(...)")
    project = project_around(Path(path))
    if project.defs_module is None:
        raise DefinitionsError(f"{project.config_file} declares no dg project defs module")
    ensure_on_path(project.import_root)
    try:
        defs_root = importlib.import_module(project.defs_module)
    except ModuleNotFoundError as exc:
        if exc.name is None or not project.defs_module.startswith(exc.name):
            raise  # something the defs module imports is missing
        raise DefinitionsError(
            f"{project.config_file}: the defs module '{project.defs_module}' does not exist "
            f"(looked in {project.import_root}); create it, a package holding the project's "
            "definitions"
        ) from exc
    return _folder_definitions(defs_root, stop_at_definitions_py=False)


def load_defs(
    defs_root: ModuleType,
    project_root: Path | None = None,
    terminate_autoloading_on_keyword_files: bool = True,
) -> Definitions:
    """The Definitions of every module under the package ``defs_root``. A folder holding a
    ``definitions.py`` loads that file only, unless ``terminate_autoloading_on_keyword_files``
    is False. ``project_root`` anchors Dagster's components, which Millrace does not have; it
    changes nothing here."""
    if not isinstance(defs_root, ModuleType):
        raise DefinitionsError(
            f"load_defs(defs_root=...) takes the imported defs package (import my_project.defs; "
            f"load_defs(defs_root=my_project.defs)), got {type(defs_root).__name__}"
        )
    return _folder_definitions(
        defs_root, stop_at_definitions_py=terminate_autoloading_on_keyword_files
    )


def _folder_definitions(defs_root: ModuleType, *, stop_at_definitions_py: bool) -> Definitions:
    paths = getattr(defs_root, "__path__", None)
    if paths is None:  # a plain module: the folder is that one file
        modules = [defs_root]
    else:
        modules = list(
            _modules_under(Path(next(iter(paths))), defs_root.__name__, stop_at_definitions_py)
        )
    return _combined(modules)


def _modules_under(
    directory: Path, package: str, stop_at_definitions_py: bool
) -> Iterator[ModuleType]:
    for name in (*_COMPONENT_FILES, "component.py"):
        file = directory / name
        if file.is_file() and (name != "component.py" or stop_at_definitions_py):
            raise DefinitionsError(
                f"{file}: Dagster components are not supported by Millrace; declare the "
                "assets in Python modules (@asset, Definitions) under the defs folder"
            )
    if stop_at_definitions_py and (directory / "definitions.py").is_file():
        yield importlib.import_module(f"{package}.definitions")
        return
    for entry in sorted(directory.iterdir()):
        if entry.name == "__pycache__" or entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".py":
            module = package if entry.name == "__init__.py" else f"{package}.{entry.stem}"
            yield importlib.import_module(_importable(module, entry))
        elif entry.is_dir():
            yield from _modules_under(
                entry, _importable(f"{package}.{entry.name}", entry), stop_at_definitions_py
            )


def _importable(module: str, path: Path) -> str:
    if not all(part.isidentifier() for part in module.split(".")):
        raise DefinitionsError(
            f"{path}: cannot be imported as module '{module}' (each part of a module name must "
            "be a Python identifier); rename it"
        )
    return module


def _combined(modules: list[ModuleType]) -> Definitions:
    """One Definitions of the modules' own Definitions and of the loose definitions of the
    rest, each object once (an asset imported into another module is still one asset)."""
    parts: list[Definitions] = []
    loose: list[ModuleType] = []
    for module in modules:
        found = _module_definitions(module)
        if found is None:
            loose.append(module)
        else:
            parts.append(found)
    listed = {id(obj) for d in parts for obj in _listed(d)}
    rest = ModuleObjects(loose).definitions_args()
    resources: dict[str, Any] = {}
    for d in parts:
        for name, resource in d.resources.items():
            if name in resources and resources[name] is not resource:
                raise DefinitionsError(
                    f"resource {name!r} is defined by two Definitions under the defs folder"
                )
            resources[name] = resource

    def merged(field: str) -> list[Any]:
        from_parts = _unique(o for d in parts for o in getattr(d, field))
        return from_parts + [o for o in rest[field] if id(o) not in listed]

    return Definitions(
        assets=merged("assets"),
        asset_checks=merged("asset_checks"),
        schedules=merged("schedules"),
        sensors=merged("sensors"),
        jobs=merged("jobs"),
        resources=resources,
    )


def _listed(defs: Definitions) -> Iterable[Any]:
    return [*defs.assets, *defs.asset_checks, *defs.schedules, *defs.sensors, *defs.jobs]


def _unique(objects: Iterable[Any]) -> list[Any]:
    return list({id(o): o for o in objects}.values())


def _module_definitions(module: ModuleType) -> Definitions | None:
    """The module's own Definitions, built by its ``@definitions`` functions if it has them;
    None when it has neither."""
    found = _unique(
        v for name in dir(module) if isinstance(v := getattr(module, name), Definitions)
    )
    lazy = _unique(
        v for name in dir(module) if isinstance(v := getattr(module, name), LazyDefinitions)
    )
    where = getattr(module, "__file__", None) or module.__name__
    if found and lazy:
        raise DefinitionsError(
            f"{where}: holds both a Definitions object and @definitions functions; a module "
            "under the defs folder may have one or the other"
        )
    if len(found) > 1:
        raise DefinitionsError(
            f"{where}: holds {len(found)} Definitions objects; a module under the defs folder "
            "may have at most one"
        )
    if found:
        return found[0]
    if len(lazy) == 1:
        return lazy[0]()
    if lazy:
        return Definitions.merge(*(fn() for fn in lazy))
    return None
