"""A Dagster project's layout, as its ``dg.toml`` or ``pyproject.toml`` declares it: the module
holding its Definitions, its defs module, and the directory its root package is imported from.

``[tool.dg.project]`` (or ``[project]`` of ``dg.toml``) is the layout ``create-dagster``
scaffolds: ``root_module``, with ``code_location_target_module`` defaulting to
``<root_module>.definitions`` and ``defs_module`` to ``<root_module>.defs``, the package under
``src/`` or the project directory. ``[tool.dagster] module_name`` is the older one
``dagster dev`` reads (no defs module).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CodeLoadError

_DG_FILES = ("dg.toml", "pyproject.toml")  # dg.toml first: where it exists it is the config


@dataclass(frozen=True)
class DagsterProject:
    """Where a project's code is: read from ``config_file``, in directory ``root``."""

    root: Path
    config_file: Path
    target_module: str  # the module whose Definitions is the code location
    defs_module: str | None  # the package load_from_defs_folder walks
    import_root: Path  # the directory the root package is imported from (src/ or root)


def project_in(directory: Path) -> DagsterProject | None:
    """The project whose config file is in ``directory`` itself, or None."""
    for name in _DG_FILES:
        file = directory / name
        if file.is_file():
            project = _read(file)
            if project is not None:
                return project
    return None


def dg_project_around(path: Path) -> DagsterProject | None:
    """The dg project ``path`` is in: the nearest ``dg.toml`` or ``pyproject.toml`` with a
    ``[tool.dg]`` table in it or above it (Dagster's ``discover_config_file``), or None."""
    start = path.resolve()
    for directory in (start, *start.parents):
        for name in _DG_FILES:
            file = directory / name
            table = _dg_table(file, _toml(file)) if file.is_file() else None
            if table is not None:
                return _dg_project(file, table)
    return None


def project_around(path: Path) -> DagsterProject:
    """``dg_project_around(path)``, which must exist."""
    project = dg_project_around(path)
    if project is not None:
        return project
    start = path.resolve()
    raise CodeLoadError(
        f"Could not find a Dagster project config (dg.toml, or pyproject.toml with "
        f"[tool.dg.project] root_module = ...) in {start} or any parent of it",
        file=str(start),
    )


def _read(file: Path) -> DagsterProject | None:
    data = _toml(file)
    table = _dg_table(file, data)
    if table is not None:
        return _dg_project(file, table)
    dagster = data.get("tool", {}).get("dagster") if file.name == "pyproject.toml" else None
    if isinstance(dagster, dict) and dagster.get("module_name"):
        module = _module_name(file, dagster, "module_name", "[tool.dagster]")
        assert module is not None
        working = dagster.get("working_directory")
        root = file.parent.resolve()
        import_root = (root / working).resolve() if isinstance(working, str) else None
        return DagsterProject(
            root, file, module, None, import_root or _import_root(root, module, file)
        )
    return None


def _dg_project(file: Path, table: dict[str, Any]) -> DagsterProject:
    section = "[project]" if file.name == "dg.toml" else "[tool.dg.project]"
    project = table.get("project", {})
    if not isinstance(project, dict):
        raise _config_error(file, f"{section} must be a table")
    root_module = _module_name(file, project, "root_module", section)
    defs_module = _module_name(file, project, "defs_module", section)
    target = _module_name(file, project, "code_location_target_module", section)
    if root_module is None and (defs_module is None or target is None):
        raise _config_error(file, f"{section} needs root_module (the project's package)")
    defs_module = defs_module or f"{root_module}.defs"
    target = target or f"{root_module}.definitions"
    root = file.parent.resolve()
    return DagsterProject(root, file, target, defs_module, _import_root(root, target, file))


def _import_root(root: Path, module: str, file: Path) -> Path:
    """Where ``module``'s top package lives: ``src/`` (the scaffolded layout) or ``root``."""
    top = module.partition(".")[0]
    for directory in (root / "src", root):
        if (directory / top).is_dir() or (directory / f"{top}.py").is_file():
            return directory
    raise _config_error(file, f"no package '{top}' in {root / 'src'} or {root}")


def _toml(file: Path) -> dict[str, Any]:
    # Imported here: code with no dg.toml or pyproject.toml around it (a script, a
    # directory of files) has none to parse, and need not pay tomllib's ~1.5 ms.
    import tomllib

    try:
        with file.open("rb") as stream:
            return tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise _config_error(file, f"not valid TOML: {exc}") from exc
    except OSError as exc:
        raise _config_error(file, f"cannot be read: {exc}") from exc


def _dg_table(file: Path, data: dict[str, Any]) -> dict[str, Any] | None:
    if file.name == "dg.toml":
        return data
    table = data.get("tool", {}).get("dg")
    return table if isinstance(table, dict) else None


def _module_name(file: Path, table: dict[str, Any], key: str, section: str) -> str | None:
    value = table.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not all(p.isidentifier() for p in value.split(".")):
        raise _config_error(file, f"{section} {key} must be a dotted module name, not {value!r}")
    return value


def _config_error(file: Path, problem: str) -> CodeLoadError:
    return CodeLoadError(f"{file}: {problem}", file=str(file), detail=problem)
