"""Writing a stored value's file so no reader ever sees half of it, and reading it back
with an error that names the asset, the file and what to do."""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..declarations.keys import AssetKey
from ..errors import StorageError
from ..versions.data import file_version

T = TypeVar("T")


def store_file(
    what: str, final: Path, made_dirs: set[Path], write: Callable[[Path], object]
) -> str:
    """``write_atomically``, and a failure of the file system said with what could not be
    stored, where and why: "cannot store asset 'x' at <path>: No space left on device"."""
    try:
        return write_atomically(final, made_dirs, write)
    except OSError as exc:
        raise StorageError(f"cannot store {what} at {final}: {_why(exc, final)}") from exc


def _why(exc: OSError, path: Path) -> str:
    """The cause in words; a file where a directory should be says only "File exists"."""
    for parent in path.parents:
        try:
            if not parent.exists():
                continue
        except OSError:  # this very name is the problem (too long, say): its error says so
            continue
        if not parent.is_dir():
            return f"{parent} is a file, not a directory"
        break
    return os.strerror(exc.errno) if exc.errno else str(exc)


def read_stored(what: str, where: object, asset_key: AssetKey, read: Callable[[], T]) -> T:
    """``read()``, and a stored value that cannot be read said with its asset, its place and
    the way out; a missing file stays FileNotFoundError (never materialized)."""
    try:
        return read()
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise StorageError(
            f"cannot read the stored value of {what} from {where} ({type(exc).__name__}: "
            f"{exc}); re-materialize it: millrace materialize --select "
            f"{asset_key.to_user_string()}"
        ) from exc


def write_atomically(final: Path, made_dirs: set[Path], write: Callable[[Path], object]) -> str:
    """Write ``final`` through ``write(tmp)`` beside it, then rename it into place, so a crash
    never leaves a half-written file where a reader would find it, and a failed write leaves
    neither a temporary file nor a change. Returns the data version of the bytes written,
    hashed before the rename so it is exactly what landed.

    ``made_dirs`` is the caller's cache of directories it created: one mkdir per directory,
    not one per value.
    """
    directory = final.parent
    if directory not in made_dirs:
        directory.mkdir(parents=True, exist_ok=True)
        made_dirs.add(directory)
    tmp = directory / f".{final.name}.{os.getpid()}-{threading.get_ident()}.tmp"
    try:
        write(tmp)
        version = file_version(tmp)
        os.replace(tmp, final)
    except BaseException:
        with contextlib.suppress(OSError):  # e.g. the directory is gone: so is the temporary
            tmp.unlink(missing_ok=True)
        raise
    return version


def write_pickle(obj: Any, path: str | os.PathLike[str]) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def read_pickle(path: Path) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)
