"""Whose code is it: the project's (hashed from its source), or a library, the standard library
or Millrace (identified by name and version, since their source is not the user's to edit and
hashing it would cost far more than it tells)."""

from __future__ import annotations

import functools
import sys
import sysconfig
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from importlib import metadata

_SITE_DIRS = frozenset({"site-packages", "dist-packages"})
_MILLRACE_DIR = Path(__file__).resolve().parents[1]
PYTHON = f"python {sys.version_info.major}.{sys.version_info.minor}"


@functools.cache
def _distributions() -> dict[str, list[str]]:
    # Libraries do not change while a process runs, and the scan reads every installed
    # distribution's metadata: so it is cached for the process.
    from importlib import metadata

    return dict(metadata.packages_distributions())


@functools.cache
def _distributions_of(top: str) -> tuple[str, ...]:
    """The distributions that install module ``top``: the one named like it when it does (one
    small read), else from the scan of every distribution (~0.1 s, so only on a miss).
    importlib.metadata is imported here: it costs ~10 ms of start-up, and most runs of a
    project that reaches no library never need it."""
    from importlib import metadata

    try:
        named = metadata.distribution(top) if top else None
    except metadata.PackageNotFoundError:
        named = None
    if named is not None and _installs(named, top):
        return (named.metadata["Name"],)
    return tuple(sorted(set(_distributions().get(top, ()))))


def _installs(dist: metadata.Distribution, top: str) -> bool:
    """The distribution's own list of its modules, else whether the module sits where it
    installs its files (a stat, not its whole RECORD)."""
    listed = dist.read_text("top_level.txt")
    if listed is not None:
        return top in listed.split()
    return any(Path(str(dist.locate_file(name))).exists() for name in (top, f"{top}.py"))


def _stdlib_dirs() -> tuple[Path, ...]:
    paths = sysconfig.get_paths()
    return tuple(Path(paths[name]).resolve() for name in ("stdlib", "platstdlib"))


def _millrace_identity() -> str:
    from .. import __version__  # at call time: millrace/__init__ may still be importing us

    return f"millrace=={__version__}"


def _real_path(module: str | None, filename: str | None) -> Path | None:
    """The file the code came from; code compiled from a string (``<stdin>``, ``<string>``)
    is placed by its module's file, when it has one."""
    if filename and not filename.startswith("<"):
        return Path(filename).resolve()
    file = getattr(sys.modules.get(module or ""), "__file__", None)
    return Path(file).resolve() if isinstance(file, str) else None


class Origins:
    """Classifies code for one ``code_versions`` call; answers are cached for that call only."""

    def __init__(self, root: Path | None) -> None:
        self._root = root.resolve() if root is not None else None
        self._stdlib = _stdlib_dirs()
        self._cache: dict[tuple[str | None, str | None], str | None] = {}
        self._versions: dict[str, str] = {}

    def of(self, module: str | None, filename: str | None) -> str | None:
        """None for project code (to be hashed from source), else the identity to hash."""
        key = (module, filename)
        if key not in self._cache:
            self._cache[key] = self._classify(module, _real_path(module, filename))
        return self._cache[key]

    def _classify(self, module: str | None, path: Path | None) -> str | None:
        top = (module or "").partition(".")[0]
        if top == "millrace" or (path is not None and _MILLRACE_DIR in path.parents):
            return _millrace_identity()
        if path is None:
            return PYTHON if top in sys.stdlib_module_names else self._library(top)
        if self._root is not None and self._root in path.parents:
            # A virtualenv inside the project holds libraries, not project code.
            inside = path.relative_to(self._root).parts
            return self._library(top) if _SITE_DIRS.intersection(inside) else None
        if _SITE_DIRS.intersection(path.parts):
            return self._library(top)
        if any(d in path.parents for d in self._stdlib):
            return PYTHON
        # Outside the project and in no distribution: hashing its source is safer than
        # ignoring edits to it.
        return None if self._root is None else self._library(top)

    def _library(self, top: str) -> str | None:
        names = _distributions_of(top)
        if not names:
            return None
        return " ".join(f"{name}=={self._version(name)}" for name in names)

    def _version(self, name: str) -> str:
        if name not in self._versions:
            from importlib import metadata

            try:
                self._versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                self._versions[name] = "unknown"
        return self._versions[name]
