"""Load user code (a file, a package, a directory or a module name) and find its Definitions.

Loads are reload-safe, for a hot-reloading dev runtime: each one imports the user's modules
afresh, from source, under names derived from their paths (so a pickled value of a user
class unpickles in another process and after a reload), and runs on a daemon thread with a
timeout, since importing runs the user's top-level code.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from ..declarations.definitions import Definitions
from ..declarations.lazy_definitions import LazyDefinitions
from ..declarations.source import SourceLocation
from ..errors import CodeLoadError, MillraceError
from ..execution.failure import user_frames
from .imports import (
    ImportSession,
    ImportThread,
    ensure_on_path,
    is_user_file,
    shadowed_module,
    user_modules,
)
from .kept_modules import directory_layout, kept_modules
from .project import DagsterProject, dg_project_around, project_in

DEFAULT_LOAD_TIMEOUT = 60.0  # seconds
TIMEOUT_ENV = "MILLRACE_LOAD_TIMEOUT"
_ROOT_MARKERS = ("pyproject.toml", "setup.py", ".git")


@dataclass(frozen=True, eq=False)
class CodeLocation:
    """Loaded user code: its Definitions, where it lives and the sources that ran."""

    defs: Definitions
    directory: Path  # the code directory: the file's, the package's or the directory itself
    target: str
    root: Path  # project_root(directory)
    files: tuple[Path, ...]  # its user files: those a reload kept, then those it compiled
    sources: dict[str, str]  # filename -> the exact text it was compiled from
    attribute: str | None = None
    layout: frozenset[str] = frozenset()  # what was beside those files (kept_modules)


def load_code_location(
    target: str | Path,
    *,
    attribute: str | None = None,
    timeout: float | None = None,
    previous: CodeLocation | None = None,
) -> CodeLocation:
    """Import ``target`` afresh and pick its Definitions (``attribute``, else the rule of
    ``_find_definitions``). Waits up to ``timeout`` seconds (None: $MILLRACE_LOAD_TIMEOUT,
    else DEFAULT_LOAD_TIMEOUT) for the user's top-level code, which runs on a daemon thread.
    A reload of ``previous`` runs again only the modules an edit can affect."""
    seconds = _timeout(timeout)
    load = _start(_plan(target), attribute, None, previous)
    if not load.done.wait(seconds):
        raise load.timeout_error(seconds)
    return load.result()


async def aload_code_location(
    target: str | Path,
    *,
    attribute: str | None = None,
    timeout: float | None = None,
    previous: CodeLocation | None = None,
) -> CodeLocation:
    """``load_code_location`` for the event loop: awaits the loading thread without blocking."""
    seconds = _timeout(timeout)
    loop = asyncio.get_running_loop()
    finished = loop.create_future()

    def notify() -> None:  # on the loading thread
        with contextlib.suppress(RuntimeError):  # the loop closed after we gave up waiting
            loop.call_soon_threadsafe(_resolve, finished)

    load = _start(_plan(target), attribute, notify, previous)
    try:
        await asyncio.wait_for(finished, seconds)
    except TimeoutError:
        raise load.timeout_error(seconds) from None
    return load.result()


def project_root(code_dir: Path) -> Path:
    """The nearest ancestor of ``code_dir`` (itself included) that looks like a project root,
    else ``code_dir``: where the runtime keeps ``.millrace``."""
    directory = code_dir.resolve()
    for candidate in (directory, *directory.parents):
        if any((candidate / marker).exists() for marker in _ROOT_MARKERS):
            return candidate
    return directory


def code_directory(target: str | Path) -> Path:
    """The directory ``load_code_location(target)`` would report, without running user code
    (for a dotted module name, its parent packages are imported to find it)."""
    path = Path(target)
    if path.is_file():
        return path.resolve().parent
    if path.is_dir() and not (path / "__init__.py").exists():
        project = project_in(path.resolve())
        if project is not None:
            return _project_plan(str(target), project).scope
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


# -- what to import --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """What loading ``target`` imports, worked out without running user code."""

    target: str
    imports: dict[str, Path]  # module name -> its file or package directory; the top first
    scope: Path  # user files live under it: purged before the load, compiled from source
    path_entry: Path | None  # made importable for ``imports``
    own_names: bool  # names derived from user files, which must not shadow other modules
    directory: Path | None  # None for a module name: known once imported


def _plan(target: str | Path) -> _Plan:
    path, name = Path(target), str(target)
    if path.suffix == ".py" and path.is_file():
        file = path.resolve()
        return _Plan(name, {_module_name(file): file}, file.parent, file.parent, True, file.parent)
    if path.is_dir():
        directory = path.resolve()
        if (directory / "__init__.py").exists():
            project = dg_project_around(directory)
            if project is not None and _is_root_package(directory, project):
                return _project_plan(name, project)  # src/<pkg>: as its project directory
            imports = {directory.name: directory}
            return _Plan(name, imports, directory, directory.parent, True, directory)
        project = project_in(directory)
        if project is not None:
            return _project_plan(name, project)
        imports = {_module_name(f): f for f in sorted(directory.glob("*.py"))}
        if not imports:
            raise CodeLoadError(
                f"{target}: no Python files in this directory (a Dagster project needs "
                "[tool.dg.project] root_module in its pyproject.toml, or a dg.toml)"
            )
        return _Plan(name, imports, directory, directory, True, directory)
    if not path.exists() and path.suffix != ".py" and _looks_like_module(name):
        return _module_plan(name)
    raise CodeLoadError(f"{target}: no such file, directory or module")


def _module_plan(name: str) -> _Plan:
    """A dotted name imports as itself; its user files are those of its top-level package."""
    cwd = Path.cwd()
    entry = None if "" in sys.path or str(cwd) in sys.path else cwd
    top = name.partition(".")[0]
    search = [str(entry), *sys.path] if entry else None
    spec = importlib.machinery.PathFinder.find_spec(top, search)
    if spec is None:
        raise CodeLoadError(f"{name}: no such file, directory or module")
    if spec.submodule_search_locations:
        scope = Path(next(iter(spec.submodule_search_locations))).resolve()
    elif spec.origin:
        scope = Path(spec.origin).resolve().parent
    else:
        raise CodeLoadError(f"{name}: not a module with a source file")
    return _Plan(name, {name: scope}, scope, entry, False, None)


def _project_plan(target: str, project: DagsterProject) -> _Plan:
    """A Dagster project directory imports its code location's target module
    (``<root_module>.definitions``) from ``src/`` or the project directory; its user files, and
    the directory watched, are those of its root package."""
    module = project.target_module
    spec = importlib.machinery.PathFinder.find_spec(
        module.partition(".")[0], [str(project.import_root)]
    )
    if spec is None:
        raise CodeLoadError(
            f"{project.config_file}: no module '{module}' in {project.import_root}",
            file=str(project.config_file),
        )
    if spec.submodule_search_locations:
        scope = Path(next(iter(spec.submodule_search_locations))).resolve()
    else:
        scope = Path(str(spec.origin)).resolve().parent
    return _Plan(target, {module: scope}, scope, project.import_root, False, scope)


def _is_root_package(directory: Path, project: DagsterProject) -> bool:
    top = project.target_module.partition(".")[0]
    return directory == project.import_root.resolve() / top


def _module_name(file: Path) -> str:
    if "." in file.stem:
        raise CodeLoadError(
            f"{file}: a file name with a dot cannot be imported as a module; rename it",
            file=str(file),
            detail="cannot be imported as a module: its name has a dot",
        )
    return file.stem


def _looks_like_module(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


# -- waiting for the loading thread ----------------------------------------------------------


def _timeout(timeout: float | None) -> float:
    if timeout is not None:
        return timeout
    value = os.environ.get(TIMEOUT_ENV)
    if not value:
        return DEFAULT_LOAD_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if seconds <= 0:
        raise CodeLoadError(f"{TIMEOUT_ENV} must be a positive number of seconds, not {value!r}")
    return seconds


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():  # not when wait_for already gave up on it
        future.set_result(None)


def _start(
    plan: _Plan,
    attribute: str | None,
    notify: Callable[[], None] | None,
    previous: CodeLocation | None,
) -> ImportThread[CodeLocation]:
    return ImportThread.start(
        plan.target, plan.scope, lambda: _load(plan, attribute, previous), notify
    )


# -- importing -------------------------------------------------------------------------------


def _load(plan: _Plan, attribute: str | None, previous: CodeLocation | None) -> CodeLocation:
    """Import the plan's modules afresh and pick their Definitions (on the loading thread)."""
    keep: set[str] = set()
    kept: dict[str, str] = {}  # filename -> text, of the modules this reload keeps
    if previous is not None and previous.target == plan.target:
        loaded = user_modules(plan.scope)
        keep = kept_modules(loaded, previous.sources, previous.layout)
        for name in keep:
            path = str(loaded[name].__file__)  # kept_modules keeps only files it compared
            kept[path] = previous.sources[path]
    with ImportSession(plan.scope, keep=keep) as session:
        if plan.path_entry is not None:
            ensure_on_path(plan.path_entry)
        if plan.own_names:
            for name, file in plan.imports.items():
                _refuse_shadowing(name, file, plan.scope)
        modules = [_import(name, plan) for name in plan.imports]
        modules += [m for m in _submodules(modules[0]) if m not in modules]
        others = [m for m in user_modules(plan.scope).values() if m not in modules]
        defs = _find_definitions(modules, others, attribute, plan)
    directory = plan.directory or _module_directory(modules[0], plan.scope)
    sources = {**kept, **session.sources}
    return CodeLocation(
        defs=defs,
        directory=directory,
        target=plan.target,
        root=project_root(directory),
        files=tuple(Path(f).resolve() for f in sources),
        sources=sources,
        attribute=attribute,
        layout=directory_layout(sources),
    )


def _refuse_shadowing(name: str, file: Path, scope: Path) -> None:
    other = shadowed_module(name, scope)
    if other is None:
        return
    where = getattr(other, "__file__", None) or "built in"
    raise CodeLoadError(
        f"{file} would be imported as module '{name}', which shadows the module '{name}' "
        f"already imported from {where}; rename {file.name}",
        file=str(file),
        detail=f"shadows the module '{name}' ({where}); rename it",
    )


def _import(name: str, plan: _Plan) -> ModuleType:
    try:
        return importlib.import_module(name)
    except SyntaxError as exc:
        raise _syntax_error(exc, str(plan.imports[name])) from exc
    except MillraceError as exc:
        raise _definitions_error(f"Cannot load {plan.target}: {exc}", exc, plan.scope) from exc
    except (Exception, SystemExit) as exc:  # SystemExit too: a load must not end the process
        raise _raised(f"Importing {plan.imports[name]}", exc, plan.scope) from exc


def _submodules(module: ModuleType) -> list[ModuleType]:
    """Submodules a package imported: enough to collect assets it does not export."""
    prefix = module.__name__ + "."
    return [m for name, m in list(sys.modules.items()) if name.startswith(prefix) and m]


def _module_directory(module: ModuleType, scope: Path) -> Path:
    file = getattr(module, "__file__", None)
    return Path(file).resolve().parent if file else scope


# -- errors ----------------------------------------------------------------------------------

_MENTIONED_LOCATION = re.compile(r"([^\s'\"(),]+\.py):(\d+)")


def _syntax_error(exc: SyntaxError, what: str) -> CodeLoadError:
    where = str(SourceLocation(exc.filename, exc.lineno or 0)) if exc.filename else what
    text = (exc.text or "").rstrip("\n")
    indent = len(text) - len(text.lstrip())
    caret = " " * max((exc.offset or 1) - 1 - indent, 0)
    shown = f"\n    {text.strip()}\n    {caret}^" if text.strip() else ""
    return CodeLoadError(
        f"Syntax error in {where}: {exc.msg}{shown}",
        file=exc.filename,
        line=exc.lineno,
        detail=f"{type(exc).__name__}: {exc.msg}",
    )


def _definitions_error(message: str, exc: MillraceError, scope: Path) -> CodeLoadError:
    """An invalid graph: its message names the asset's file:line, else the raising line."""
    mentioned = _MENTIONED_LOCATION.search(str(exc))
    if mentioned:
        file: str | None = os.path.abspath(mentioned[1])
        line: int | None = int(mentioned[2])
    else:
        file, line = _innermost_user_line(exc, scope)
    return CodeLoadError(message, file=file, line=line, detail=str(exc).partition("\n")[0])


def _raised(what: str, exc: BaseException, scope: Path) -> CodeLoadError:
    """User code raised: the error with its user frames, pointing at the innermost one."""
    file, line = _innermost_user_line(exc, scope)
    frames = "".join(traceback.format_list(user_frames(exc)))
    return CodeLoadError(
        f"{what} raised {type(exc).__name__}: {exc}\n{frames}".rstrip(),
        file=file,
        line=line,
        detail=f"{type(exc).__name__}: {exc}",
    )


def _innermost_user_line(exc: BaseException, scope: Path) -> tuple[str | None, int | None]:
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if is_user_file(frame.filename, scope):
            return frame.filename, frame.lineno
    return None, None


# -- finding the Definitions -----------------------------------------------------------------


def _find_definitions(
    modules: list[ModuleType], others: list[ModuleType], attribute: str | None, plan: _Plan
) -> Definitions:
    """``attribute`` if given (on the top modules first); else the one Definitions, or the
    one named ``defs`` among several; with none, a Definitions of every asset defined."""
    target = plan.target
    if attribute is not None:
        return _by_attribute([*modules, *others], attribute, plan)
    found = _all_definitions(modules)
    distinct = {id(v): (k, v) for k, v in found.items()}
    named_defs = {id(v): (k, v) for k, v in found.items() if k.rsplit(".", 1)[-1] == "defs"}
    if len(distinct) > 1 and len(named_defs) == 1:
        distinct = named_defs  # several (dev, prod...): ``defs`` is the one to load
    if len(distinct) > 1:
        names = ", ".join(sorted(k for k, _ in distinct.values()))
        raise CodeLoadError(
            f"{target} defines several Definitions objects ({names}); name the one to load "
            "'defs', or pick one with -a NAME"
        )
    if distinct:
        return _built(*next(iter(distinct.values())), plan)
    return _collect_assets(modules, plan)


def _all_definitions(modules: list[ModuleType]) -> dict[str, Definitions | LazyDefinitions]:
    """Every module-level Definitions, or ``@definitions`` function that builds one."""
    return {
        f"{m.__name__}.{name}": value
        for m in modules
        for name, value in vars(m).items()
        if isinstance(value, Definitions | LazyDefinitions)
    }


def _built(name: str, value: Definitions | LazyDefinitions, plan: _Plan) -> Definitions:
    if isinstance(value, Definitions):
        return value
    try:
        return value()
    except MillraceError as exc:
        raise _definitions_error(f"Cannot load {plan.target}: {exc}", exc, plan.scope) from exc
    except (Exception, SystemExit) as exc:
        raise _raised(f"@definitions function {name}", exc, plan.scope) from exc


def _by_attribute(modules: list[ModuleType], attribute: str, plan: _Plan) -> Definitions:
    for module in modules:
        if attribute in vars(module):
            value = vars(module)[attribute]
            if not isinstance(value, Definitions | LazyDefinitions):
                raise CodeLoadError(
                    f"{plan.target}: {module.__name__}.{attribute} is a "
                    f"{type(value).__name__}, not a Definitions"
                )
            return _built(f"{module.__name__}.{attribute}", value, plan)
    names = sorted({k.rsplit(".", 1)[-1] for k in _all_definitions(modules)})
    have = ", ".join(names) if names else "none"
    raise CodeLoadError(
        f"{plan.target} has no Definitions named '{attribute}' (Definitions there: {have})"
    )


def _collect_assets(modules: list[ModuleType], plan: _Plan) -> Definitions:
    """Without a Definitions, one of everything the modules define, each object once: assets,
    checks, schedules, sensors and jobs (Dagster's ``load_definitions_from_modules``)."""
    # Here, not at the top: a project with its Definitions never needs what finding them
    # imports (copies of assets, every automation definition).
    from ..declarations.loading import ModuleObjects

    try:
        found = ModuleObjects(modules).definitions_args()
    except MillraceError as exc:
        raise _definitions_error(str(exc), exc, plan.scope) from exc
    if not found["assets"]:
        raise CodeLoadError(
            f"{plan.target} defines no assets: declare them with @asset and, optionally, "
            "defs = Definitions(assets=[...])"
        )
    try:
        return Definitions(**found)
    except MillraceError as exc:
        raise _definitions_error(str(exc), exc, plan.scope) from exc
