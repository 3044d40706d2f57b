"""Each project function's normalized source and the globals its code reads, kept on disk
beside the history and keyed by the exact text of its file, so a fresh process versions the
code that did not change without parsing it: parsing files and dumping trees are most of
what versioning 10,000 unchanged assets costs.

A stored text is only as good as what made it, so the key also holds this interpreter's
version (``ast`` and bytecode differ between Pythons) and the text of the normalizer itself
(a Millrace upgrade that changes normalizing must not reuse old texts). A file's entries are
one marshal file, named by that key, written atomically: a reader sees all of it or none,
and a file it cannot read is a miss.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType

from ..atomic_file import write_bytes_atomically
from . import normalize
from .normalize import ImportStatement, digest

# Unused entries (files edited since, other projects' homes never share this directory) are
# dropped past this many, least recently written first.
KEEP_FILES = 256


@dataclass(frozen=True, slots=True)
class StoredFunction:
    """A function as versioning found it: each decorator's root global (``asset`` in
    ``@asset(...)``) and whether it was kept, the text of the function without the others,
    and the global chains its code reads (``normalize.global_chains``)."""

    roots: tuple[str | None, ...]
    keeps: tuple[bool, ...]
    text: str
    chains: frozenset[tuple[str, ...]]


_Entries = dict[tuple[str, int, tuple[int, int] | None], tuple[object, ...]]
# A file's import statements, beside its functions: a reload asks which modules import an
# edited one, and a process that versioned from this cache has parsed none of them.
_IMPORTS_KEY = ("", 0, None)


class SourceCache:
    """One call's view of the stored functions under ``directory`` (None: nothing stored);
    ``save()`` writes the files that gained entries."""

    def __init__(self, directory: Path | None) -> None:
        self._directory = directory if directory is not None and _format() else None
        self._files: dict[str, _Entries] = {}
        self._changed: set[str] = set()
        # By the text itself: a str keeps its hash, so a file of 500 functions is hashed once.
        self._keys: dict[str, str] = {}

    def get(self, text: str, code: CodeType) -> StoredFunction | None:
        if self._directory is None:
            return None
        found = self._entries(text).get(_function_key(code))
        if found is None:
            return None
        roots, keeps, source, chains = found
        return StoredFunction(roots, keeps, source, chains)  # type: ignore[arg-type]

    def imports(self, text: str) -> list[ImportStatement] | None:
        """The import statements of the file whose text this is, if stored."""
        if self._directory is None:
            return None
        found = self._entries(text).get(_IMPORTS_KEY)
        return None if found is None else list(found)  # type: ignore[arg-type]

    def put_imports(self, text: str, imports: list[ImportStatement]) -> None:
        if self._directory is None or self.imports(text) is not None:
            return
        self._entries(text)[_IMPORTS_KEY] = tuple(imports)
        self._changed.add(self._file_key(text))

    def put(self, text: str, code: CodeType, function: StoredFunction) -> None:
        if self._directory is None:
            return
        key = self._file_key(text)
        self._entries(text)[_function_key(code)] = (
            function.roots,
            function.keeps,
            function.text,
            function.chains,
        )
        self._changed.add(key)

    def save(self) -> None:
        """Write what changed; a home that cannot be written only loses the speed-up."""
        if self._directory is None or not self._changed:
            return
        with contextlib.suppress(OSError):
            self._directory.mkdir(parents=True, exist_ok=True)
            for key in sorted(self._changed):
                write_bytes_atomically(self._directory / key, marshal.dumps(self._files[key]))
            self._changed.clear()
            self._prune()

    def _file_key(self, text: str) -> str:
        key = self._keys.get(text)
        if key is None:
            format_ = _format()
            assert format_ is not None
            key = self._keys[text] = digest(format_, text)
        return key

    def _entries(self, text: str) -> _Entries:
        key = self._file_key(text)
        entries = self._files.get(key)
        if entries is None:
            assert self._directory is not None
            entries = self._files[key] = _read(self._directory / key)
        return entries

    def _prune(self) -> None:
        assert self._directory is not None
        used = set(self._files)
        unused = [p for p in self._directory.iterdir() if p.name not in used]
        extra = len(used) + len(unused) - max(KEEP_FILES, len(used))
        if extra <= 0:
            return
        unused.sort(key=_written)
        for path in unused[:extra]:
            with contextlib.suppress(OSError):
                path.unlink()


@functools.cache
def _format() -> str | None:
    """This interpreter and this normalizer; None (store nothing) if its text is unreadable."""
    try:
        made_by = [Path(m.__file__ or "").read_bytes() for m in (normalize, sys.modules[__name__])]
    except OSError:
        return None
    return digest(sys.version, *(text.hex() for text in made_by))


def _function_key(code: CodeType) -> tuple[str, int, tuple[int, int] | None]:
    # Lambdas side by side on one line share a name and a first line, not a position.
    return code.co_qualname, code.co_firstlineno, normalize.first_position(code)


def _read(path: Path) -> _Entries:
    try:
        entries = marshal.loads(path.read_bytes())
    except (OSError, EOFError, ValueError, TypeError):
        return {}
    return entries if isinstance(entries, dict) else {}


def _written(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
