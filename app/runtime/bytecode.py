"""User files' bytecode, kept as checked hash-based pycs (PEP 552) in ``__pycache__``.

Compiling is most of what importing a big code location costs (~30 us a line: ~0.35 s of
a 10,000-asset one), so a fresh process should not do it again for a file that did not
change. Python's default pycs are trusted by the source's mtime in seconds and its size, and
a quick save that keeps both would run stale code; a checked hash-based pyc is trusted only
while the hash of the source's exact bytes matches, so it is read here and nothing else is
(a timestamp pyc another tool wrote is compiled over). Written as Python would
(``sys.pycache_prefix``, never under ``sys.dont_write_bytecode``), atomically; a pyc that
cannot be read or written only costs the compile.
"""

from __future__ import annotations

import contextlib
import importlib.util
import marshal
import sys
from pathlib import Path
from types import CodeType

from ..atomic_file import write_bytes_atomically

_CHECKED_HASH = (0b11).to_bytes(4, "little")  # hash-based, and checked against the source
_HEADER = 16  # magic, flags, source hash


def read(path: str, source: bytes) -> CodeType | None:
    """The code compiled from ``source`` at ``path``, if a checked pyc of it is stored."""
    try:
        with open(importlib.util.cache_from_source(path), "rb") as file:
            data = file.read()
    except (OSError, NotImplementedError, ValueError):
        return None
    if (
        data[:4] != importlib.util.MAGIC_NUMBER
        or data[4:8] != _CHECKED_HASH
        or data[8:_HEADER] != importlib.util.source_hash(source)
    ):
        return None
    try:
        code = marshal.loads(memoryview(data)[_HEADER:])
    except (EOFError, ValueError, TypeError):
        return None
    # A pyc carried along with its directory names the file it was compiled at.
    return code if isinstance(code, CodeType) and code.co_filename == path else None


def write(path: str, source: bytes, code: CodeType) -> None:
    """Store ``code`` for the next process that imports ``path`` with these exact bytes."""
    if sys.dont_write_bytecode:
        return
    data = b"".join(
        (
            importlib.util.MAGIC_NUMBER,
            _CHECKED_HASH,
            importlib.util.source_hash(source),
            marshal.dumps(code),
        )
    )
    with contextlib.suppress(OSError, NotImplementedError, ValueError):
        target = Path(importlib.util.cache_from_source(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(target, data)
