"""Import mechanics for reloadable user code: what counts as a user file, purging user
modules from ``sys.modules``, a finder that compiles user files from source, and the daemon
thread a load runs on.

User files are the ``.py`` files under a code location's directory ("scope"), except
Millrace's own package and the interpreter's library directories (a ``.venv`` inside the
project is not user code).
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import linecache
import os
import sys
import sysconfig
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from types import CodeType, ModuleType, TracebackType
from typing import Any, Generic, TypeVar

from ..declarations.source import SourceLocation
from ..errors import CodeLoadError
from . import bytecode

T = TypeVar("T")

_MILLRACE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_LIBRARY_DIRS = (
    _MILLRACE_DIR,
    *{sysconfig.get_paths()[k] for k in ("stdlib", "purelib", "platlib")},
)


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def is_user_file(filename: str, scope: Path) -> bool:
    """Whether ``filename`` is user code of the location whose files live under ``scope``."""
    if filename.startswith("<"):  # <string>, <frozen ...>: no file
        return False
    path = os.path.abspath(filename)
    return _under(path, str(scope)) and not any(_under(path, lib) for lib in _LIBRARY_DIRS)


def _module_files(module: object) -> list[str]:
    """Where a module comes from: its file, or a namespace package's directories."""
    namespace = getattr(module, "__dict__", {})
    file = namespace.get("__file__")
    if isinstance(file, str):
        return [file]
    paths = namespace.get("__path__")
    try:
        return [p for p in paths or () if isinstance(p, str)]
    except KeyError:  # a namespace package recomputes its path from its parent, purged first
        return [p for p in getattr(paths, "_path", ()) if isinstance(p, str)]


def is_user_module(name: str, module: object, scope: Path) -> bool:
    if name == "__main__" or name == "millrace" or name.startswith("millrace."):
        return False
    files = _module_files(module)
    return bool(files) and all(is_user_file(f, scope) for f in files)


def user_modules(scope: Path) -> dict[str, ModuleType]:
    """The imported modules of the user files under ``scope``, in import order."""
    return {
        name: module
        for name, module in list(sys.modules.items())
        if module is not None and is_user_module(name, module, scope)
    }


def purge(scope: Path, keep: Collection[str] = ()) -> None:
    """Forget the user modules under ``scope`` but ``keep`` so the next import runs their
    files afresh, and those of another location loaded in this process under a name a file
    here would take (another project's ``helpers.py``), so an import here never finds theirs."""
    for name in user_modules(scope):
        if name not in keep:
            sys.modules.pop(name, None)
    local = _top_level_names(scope)
    for name, module in list(sys.modules.items()):
        if name in keep:
            continue
        if name.partition(".")[0] in local and isinstance(
            getattr(module, "__loader__", None), _SourceOnlyLoader
        ):
            sys.modules.pop(name, None)


def _top_level_names(scope: Path) -> set[str]:
    """The module names the files of ``scope`` import as: its ``.py`` files and packages,
    and the scope itself (a package)."""
    try:
        entries = os.listdir(scope)
    except OSError:
        return {scope.name}
    return {scope.name} | {e[:-3] if e.endswith(".py") else e for e in entries}


def shadowed_module(name: str, scope: Path) -> ModuleType | None:
    """The library module that importing user module ``name`` would return instead. The
    user code of another location loaded in this process (another project with its own
    ``assets.py``) is not one: it gives the name up."""
    module = sys.modules.get(name)
    if module is None or is_user_module(name, module, scope):
        return None
    if isinstance(getattr(module, "__loader__", None), _SourceOnlyLoader):
        sys.modules.pop(name, None)
        return None
    return module


def ensure_on_path(directory: Path) -> None:
    """Make ``directory`` importable; sys.path never grows with reloads."""
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))


class ImportSession:
    """One load's import of user code: purges the scope's modules and caches on entry,
    compiles user files from source while active, and purges again if the load fails, so
    no half-imported user module outlives it."""

    def __init__(self, scope: Path, keep: Collection[str] = ()) -> None:
        self.scope = scope
        self.keep = frozenset(keep)  # user modules a reload keeps (see kept_modules)
        self.sources: dict[str, str] = {}  # filename -> the exact text it was compiled from
        self._finder = _SourceOnlyFinder(self)

    def __enter__(self) -> ImportSession:
        purge(self.scope, self.keep)
        importlib.invalidate_caches()
        machinery = importlib.machinery.PathFinder
        at = sys.meta_path.index(machinery) if machinery in sys.meta_path else len(sys.meta_path)
        sys.meta_path.insert(at, self._finder)  # builtins and frozen modules still come first
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        sys.meta_path.remove(self._finder)
        if exc is not None:
            purge(self.scope)

    def record(self, filename: str, text: str) -> None:
        """Keep the text a user file was compiled from, and show it in tracebacks."""
        self.sources[filename] = text
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)


class _SourceOnlyFinder:
    """Finds modules as sys.path would, and hands the user files to ``_SourceOnlyLoader``.
    A meta path finder is any object with ``find_spec``: not deriving from
    ``importlib.abc.MetaPathFinder`` spares every load importing ``importlib.abc`` and
    ``importlib.resources``."""

    def __init__(self, session: ImportSession) -> None:
        self._session = session

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if (
            spec is None
            or spec.origin is None
            or not isinstance(spec.loader, importlib.machinery.SourceFileLoader)
            or not is_user_file(spec.origin, self._session.scope)
        ):
            return None  # not user code: the regular finders take it
        spec.loader = _SourceOnlyLoader(fullname, spec.origin, self._session)
        return spec


class _SourceOnlyLoader(importlib.machinery.SourceFileLoader):
    """Compiles from source, or reads what ``bytecode`` kept of these exact bytes; never a
    timestamp .pyc: validated by mtime seconds and size, a quick save that keeps the size
    would run stale code."""

    def __init__(self, fullname: str, path: str, session: ImportSession) -> None:
        super().__init__(fullname, path)
        self._session = session

    def path_stats(self, path: str) -> Any:
        raise OSError("no bytecode for user code")  # SourceLoader then skips the .pyc

    def exec_module(self, module: ModuleType) -> None:
        # A package that runs again finds the submodules a reload kept bound to it, as the
        # import that first loaded them left them: ``import pkg.kept`` then ``pkg.kept.x``.
        prefix = module.__name__ + "."
        for name in self._session.keep:
            child = name[len(prefix) :]
            if name.startswith(prefix) and "." not in child and name in sys.modules:
                setattr(module, child, sys.modules[name])
        super().exec_module(module)

    def source_to_code(  # type: ignore[override]
        self, data: bytes, path: str, *, _optimize: int = -1
    ) -> CodeType:
        self._session.record(path, importlib.util.decode_source(data))
        compiled = _COMPILED.get(path)
        if compiled is not None and compiled[0] == data and compiled[1] == _optimize:
            return compiled[2]  # the very text compiled before: a reload compiles the edit only
        # Bytecode for other optimization levels is named differently; imports use the default.
        code = bytecode.read(path, data) if _optimize == -1 else None
        if code is None:
            code = super().source_to_code(data, path, _optimize=_optimize)
            if _optimize == -1:
                bytecode.write(path, data, code)
        _COMPILED[path] = (data, _optimize, code)
        return code


# Each user file's last compile: (its bytes, the optimization level, the code object). Code
# objects are immutable, so a reload executes the unchanged files' afresh without compiling
# them again (compile is ~30 us a line: 0.3 s of a 10,000-asset location).
_COMPILED: dict[str, tuple[bytes, int, CodeType]] = {}


class ImportThread(Generic[T]):
    """One load of a code location, on a daemon thread: a user import that never returns
    blocks neither the caller (which waits with a timeout) nor the exit of the process."""

    def __init__(
        self, target: str, scope: Path, work: Callable[[], T], notify: Callable[[], None] | None
    ) -> None:
        self.target = target
        self.scope = scope
        self.done = threading.Event()
        self._work = work
        self._notify = notify
        self._outcome: T | BaseException | None = None
        self._timed_out: float | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"millrace-load {target}", daemon=True
        )

    @classmethod
    def start(
        cls, target: str, scope: Path, work: Callable[[], T], notify: Callable[[], None] | None
    ) -> ImportThread[T]:
        """Start loading, unless this code is still loading: a second import would wait on
        the first one's module locks, for ever if that one hangs."""
        with _RUNNING_LOCK:
            if scope in _RUNNING:
                raise _RUNNING[scope].busy_error()
            load = _RUNNING[scope] = cls(target, scope, work, notify)
        load._thread.start()
        return load

    def _run(self) -> None:
        try:
            self._outcome = self._work()
        except BaseException as exc:  # re-raised on the waiting caller's thread
            self._outcome = exc
        finally:
            with _RUNNING_LOCK:
                if _RUNNING.get(self.scope) is self:
                    del _RUNNING[self.scope]
            self.done.set()
            if self._notify is not None:
                self._notify()

    def result(self) -> T:
        outcome = self._outcome
        if isinstance(outcome, BaseException):
            raise outcome
        assert self.done.is_set(), "result() before the load finished"
        return outcome  # type: ignore[return-value]

    def timeout_error(self, seconds: float) -> CodeLoadError:
        """The caller gave up waiting: forget the half-imported modules and say where the
        user code is stuck."""
        self._timed_out = seconds
        purge(self.scope)
        file, line = self._stuck_at()
        where = "user code is still running"
        if file:
            where = f"{SourceLocation(file, line or 0)} is still running"
        return CodeLoadError(
            f"Loading {self.target} did not finish within {seconds:g}s: {where} at import "
            "time (an infinite loop, or waiting on the network?)",
            file=file,
            line=line,
            detail=f"import did not finish within {seconds:g}s",
        )

    def busy_error(self) -> CodeLoadError:
        if self._timed_out is None:
            return CodeLoadError(f"{self.scope} is already being loaded; wait for that load")
        file, line = self._stuck_at()
        where = f" at {SourceLocation(file, line or 0)}" if file else ""
        return CodeLoadError(
            f"An earlier load of {self.scope} is still stuck{where} (it did not finish within "
            f"{self._timed_out:g}s) and a new import would wait for it; fix that code and "
            "restart Millrace",
            file=file,
            line=line,
            detail="an earlier load is still stuck at import time",
        )

    def _stuck_at(self) -> tuple[str | None, int | None]:
        """The innermost line of user code the loading thread is running."""
        ident = self._thread.ident
        frame = sys._current_frames().get(ident) if ident is not None else None
        while frame is not None:
            if is_user_file(frame.f_code.co_filename, self.scope):
                return frame.f_code.co_filename, frame.f_lineno
            frame = frame.f_back
        return None, None


_RUNNING: dict[Path, ImportThread[Any]] = {}  # code directory -> its load in progress
_RUNNING_LOCK = threading.Lock()
