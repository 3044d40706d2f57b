"""Which user modules a reload can keep: those whose file is unchanged and which reach no
changed module. Re-running every file of a 10,000-asset location costs seconds; re-running
only what an edit can affect keeps a reload interactive.

A module must run again when its own text changed, when it imports a module that runs again
(its names would point at the old objects), when it holds an object of one (found in its
globals), and when it is the package of one (a package that collects its submodules, such
as ``load_assets_from_package_module``, would keep the old assets). Anything the rules
cannot see (a file added or removed next to the code, no file changed at all) reloads all.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from types import FunctionType, ModuleType

from ..declarations.asset import AssetsDefinition
from ..declarations.checks import AssetChecksDefinition
from ..versions.normalize import import_statements, read_source


def kept_modules(
    modules: Mapping[str, ModuleType],
    sources: Mapping[str, str],
    layout: frozenset[str],
) -> set[str]:
    """The names in ``modules`` (the user modules imported now) a reload can keep, given the
    ``sources`` they were compiled from and the ``layout`` the last load saw."""
    if not sources or directory_layout(sources) != layout:
        return set()
    files = {name: getattr(m, "__file__", None) for name, m in modules.items()}
    dirty = {name for name, file in files.items() if not _unchanged(file, sources)}
    if not dirty:
        return set()  # a save that changed no module's text: something the rules cannot see
    imports = {
        name: _imported(name, modules[name], sources[file])
        for name, file in files.items()
        if name not in dirty and isinstance(file, str)
    }
    grown = True
    while grown:
        grown = False
        for name in list(imports):
            if _reaches(name, modules[name], imports[name], dirty):
                dirty.add(name)
                del imports[name]
                grown = True
    return set(imports)


def directory_layout(sources: Iterable[str]) -> frozenset[str]:
    """The entries of the directories that hold the loaded files: a file or package added
    or removed there changes it (``__pycache__``, which loading itself may create, does not)."""
    entries: set[str] = set()
    for directory in {os.path.dirname(f) for f in sources}:
        try:
            entries.update(
                os.path.join(directory, e) for e in os.listdir(directory) if e != "__pycache__"
            )
        except OSError:
            entries.add(directory)  # gone: differs from any listing taken while it was there
    return frozenset(entries)


def _unchanged(file: str | None, sources: Mapping[str, str]) -> bool:
    return isinstance(file, str) and file in sources and read_source(file) == sources[file]


def _reaches(name: str, module: ModuleType, imported: AbstractSet[str], dirty: set[str]) -> bool:
    if imported & dirty or any(d.startswith(name + ".") for d in dirty):
        return True
    return any(_origin(value) in dirty for value in list(vars(module).values()))


def _origin(value: object) -> str | None:
    """The module a global's value comes from, for the kinds that lead to code."""
    if isinstance(value, ModuleType):
        return value.__name__
    if isinstance(value, FunctionType | type):
        return value.__module__
    if isinstance(value, AssetsDefinition | AssetChecksDefinition):
        return getattr(value.fn, "__module__", None)
    return None


def _imported(name: str, module: ModuleType, text: str) -> set[str]:
    """Every module name an import statement of the file can bind, anywhere in the file
    (a function's import binds when it runs: the current module then, but it costs nothing
    to be careful), with each package on the way."""
    package = module.__package__ or ""
    found: set[str] = set()
    file = getattr(module, "__file__", None) or name
    for imported, level, names in import_statements(text, file):
        if not level and not names:  # import a.b
            found.add(str(imported))
            continue
        base = _absolute(imported, level, package)
        if base is not None:
            found.add(base)
            found.update(f"{base}.{n}" if base else n for n in names)
    with_parents = set(found)
    for imported in found:
        parts = imported.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return with_parents


def _absolute(module: str | None, level: int, package: str) -> str | None:
    if not level:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)
