"""Load user code (a file, a package, a directory or a module name) and find its Definitions."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from ..definitions.asset import AssetsDefinition, AssetSpec
from ..definitions.definitions import Definitions
from ..errors import CodeLoadError, MillraceError
from ..execution.failure import user_frames


class CodeLocation:
    """Loaded user code: its Definitions and the directory it lives in (home of ``.millrace``)."""

    def __init__(self, defs: Definitions, directory: Path, target: str) -> None:
        self.defs = defs
        self.directory = directory
        self.target = target


def load_code_location(target: str | Path) -> CodeLocation:
    """Import ``target`` and find its ``defs``; with none, collect the assets it defines."""
    path = Path(target)
    if path.suffix == ".py" and path.is_file():
        modules = [_import_file(path.resolve())]
        directory = path.resolve().parent
    elif path.is_dir():
        directory = path.resolve()
        if (directory / "__init__.py").exists():
            package = _import_package(directory)
            modules = [package, *_import_submodules(package)]
        else:
            modules = [_import_file(p) for p in sorted(directory.glob("*.py"))]
            if not modules:
                raise CodeLoadError(f"{target}: no Python files in this directory")
    elif not path.exists() and path.suffix != ".py" and _looks_like_module(str(target)):
        if "" not in sys.path and str(Path.cwd()) not in sys.path:
            sys.path.insert(0, str(Path.cwd()))
        module = _guard(str(target), lambda: importlib.import_module(str(target)))
        modules = [module]
        directory = Path(module.__file__ or ".").resolve().parent
    else:
        raise CodeLoadError(f"{target}: no such file, directory or module")
    return CodeLocation(_find_definitions(modules, str(target)), directory, str(target))


def code_directory(target: str | Path) -> Path:
    """The directory ``load_code_location(target)`` would report, without running user code
    (for a dotted module name, its parent packages are imported to find it)."""
    path = Path(target)
    if path.is_file():
        return path.resolve().parent
    if path.exists() or not _looks_like_module(str(target)):
        return path.resolve()
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        spec = importlib.util.find_spec(str(target))
    except (ImportError, ValueError):
        spec = None
    except Exception as exc:  # a parent package failed to import
        raise CodeLoadError(f"Cannot locate {target}: {type(exc).__name__}: {exc}") from exc
    if spec is None or not spec.origin:
        raise CodeLoadError(f"{target}: no such file, directory or module")
    return Path(spec.origin).resolve().parent


def _looks_like_module(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def _import_file(path: Path) -> ModuleType:
    directory = str(path.parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)  # sibling imports work, as when running the file
    name = path.stem if path.stem not in sys.modules else f"millrace_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CodeLoadError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module

    def run() -> ModuleType:
        spec.loader.exec_module(module)  # type: ignore[union-attr]
        return module

    try:
        return _guard(str(path), run)
    except CodeLoadError:
        sys.modules.pop(name, None)
        raise


def _import_package(directory: Path) -> ModuleType:
    parent = str(directory.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    return _guard(str(directory), lambda: importlib.import_module(directory.name))


def _import_submodules(package: ModuleType) -> list[ModuleType]:
    """Submodules the package already imported: enough to collect assets it does not export."""
    prefix = package.__name__ + "."
    return [m for name, m in list(sys.modules.items()) if name.startswith(prefix) and m]


def _guard(what: str, load: Callable[[], ModuleType]) -> ModuleType:
    try:
        return load()
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else what
        text = (exc.text or "").rstrip("\n")
        indent = len(text) - len(text.lstrip())
        caret = " " * max((exc.offset or 1) - 1 - indent, 0)
        detail = f"\n    {text.strip()}\n    {caret}^" if text.strip() else ""
        raise CodeLoadError(f"Syntax error in {where}: {exc.msg}{detail}") from exc
    except MillraceError as exc:
        raise CodeLoadError(f"Cannot load {what}: {exc}") from exc
    except Exception as exc:
        frames = "".join(traceback.format_list(user_frames(exc)))
        raise CodeLoadError(
            f"Importing {what} raised {type(exc).__name__}: {exc}\n{frames}".rstrip()
        ) from exc


def _find_definitions(modules: list[ModuleType], target: str) -> Definitions:
    found = {
        f"{m.__name__}.{name}": value
        for m in modules
        for name, value in vars(m).items()
        if isinstance(value, Definitions)
    }
    distinct = {id(v): (k, v) for k, v in found.items()}
    named_defs = {id(v): (k, v) for k, v in found.items() if k.rsplit(".", 1)[-1] == "defs"}
    if len(distinct) > 1 and len(named_defs) == 1:
        distinct = named_defs  # several (dev, prod...): ``defs`` is the one to load
    if len(distinct) > 1:
        names = ", ".join(sorted(k for k, _ in distinct.values()))
        raise CodeLoadError(
            f"{target} defines several Definitions objects ({names}); name the one to load 'defs'"
        )
    if distinct:
        return next(iter(distinct.values()))[1]
    assets: dict[int, AssetsDefinition | AssetSpec] = {}
    for module in modules:
        for value in vars(module).values():
            if isinstance(value, AssetsDefinition | AssetSpec):
                assets[id(value)] = value
    if not assets:
        raise CodeLoadError(
            f"{target} defines no assets: declare them with @asset and, optionally, "
            "defs = Definitions(assets=[...])"
        )
    try:
        return Definitions(assets=list(assets.values()))
    except MillraceError as exc:
        raise CodeLoadError(str(exc)) from exc
