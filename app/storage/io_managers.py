"""IO managers decide where asset values live; the default writes frames to Parquet.

What a manager is told about each value is ``io_context.py``. Where on disk is ``paths.py``
(a layout no asset key or partition key can escape), how a file is written and read back is
``files.py``, and frames as Parquet are ``frame_files.py``.
Polars, Arrow and pandas are imported only when a value of theirs is stored or loaded, so
``import millrace`` stays fast.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, NamedTuple, TypeVar

from ..declarations.keys import AssetKey
from ..declarations.metadata import MetadataValue
from ..errors import StorageError
from ..frames.kind import frame_kind
from ..versions.data import bytes_version
from .files import read_pickle, read_stored, store_file, write_pickle
from .frame_files import NotParquet, parquet_writer, read_frame
from .io_context import InputContext, OutputContext, stored_partition
from .paths import asset_label, key_path

T = TypeVar("T")


class InputManager(ABC):
    """Loads the value of an input: what ``AssetIn(input_manager_key=...)`` names."""

    # True when load_input gives back exactly what handle_output was given, so a value
    # computed earlier in the same run is handed to its consumers without a load. Dagster
    # always loads through the manager, and so does Millrace for any manager but its own.
    returns_what_it_stored: ClassVar[bool] = False

    @abstractmethod
    def load_input(self, context: InputContext) -> Any: ...


class OutputManager(ABC):
    """Stores the value an asset returned."""

    @abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> None: ...


class IOManager(InputManager, OutputManager):
    """Stores an asset's value after it runs and loads it for the assets downstream."""


class InMemoryIOManager(IOManager):
    """Keeps values in a dict: for tests and ``materialize_to_memory``."""

    returns_what_it_stored = True

    def __init__(self) -> None:
        self.values: dict[tuple[AssetKey, str | None], Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self.values[(context.asset_key, stored_partition(context))] = obj

    def load_input(self, context: InputContext) -> Any:
        key, partition = context.asset_key, stored_partition(context)
        try:
            return self.values[(key, partition)]
        except KeyError:
            where = f" partition {partition!r}" if partition is not None else ""
            raise FileNotFoundError(
                f"no value in memory for {key.to_user_string()}{where}"
            ) from None


INLINE_LIMIT = 64 * 1024  # pickles up to this size go to the event store, not to a file

_SUFFIXES = (".parquet", ".pkl")
_PATHS_KEPT = 16_384
_Stamp = tuple[int, int, int, int]


def _stamp(st: os.stat_result) -> _Stamp:
    """What tells one written file from any other later found at its path."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


class ParquetIOManager(IOManager):
    """Frames to ``<base_dir>/<key path>.parquet``, anything else pickled to ``.pkl`` (the
    module docstring has the whole layout).

    ``ParquetIOManager("data")`` or ``ParquetIOManager(base_dir="data")``. Files are written
    beside their final name and renamed into place (see ``write_atomically``). A frame that
    Parquet cannot hold (a pandas column mixing numbers and strings) is pickled instead, and
    its ``millrace/storage_warning`` metadata says which column and why.

    The runtime's default manager also gets ``inline_db``, its event store: a pickle of at
    most ``INLINE_LIMIT`` bytes is then committed there, in the transaction that records its
    materialization, because creating one small file per value costs far more than the value.

    A value of another kind than the last (frame <-> object, file <-> inline) makes the old
    file stale. It is removed only if Millrace wrote it: this manager did (same inode, size and
    modification time), or the latest recorded materialization names it, with its size. Any
    other file there is left alone, and loading prefers what Millrace wrote or recorded.
    """

    returns_what_it_stored = True

    def __init__(
        self, base_dir: str | os.PathLike[str], *, inline_db: str | os.PathLike[str] | None = None
    ) -> None:
        self.base_dir = Path(base_dir)
        self.inline_db = inline_db
        self._readers = threading.local()
        self._made_dirs: set[Path] = set()
        # File names per directory, listed once and then kept up to date by our own writes:
        # an asset whose value changed kind (frame <-> object) leaves a file to remove, and
        # knowing which names exist saves a failing stat per value on the hot path.
        self._names: dict[Path, set[str]] = {}
        self._ours: dict[Path, _Stamp] = {}  # the files this manager wrote, as written
        # Building and confining a path costs more than storing a small value: each is built
        # once (bounded, as a backfill's partitions are many).
        self._paths: dict[tuple[AssetKey, str | None], Path] = {}

    def path_for(self, asset_key: AssetKey, partition_key: str | None = None) -> Path:
        path = self._paths.get((asset_key, partition_key))
        if path is None:
            if len(self._paths) >= _PATHS_KEPT:
                self._paths.clear()
            path = self._paths[(asset_key, partition_key)] = key_path(
                self.base_dir, asset_key, partition_key
            )
        return path

    def _names_in(self, directory: Path) -> set[str]:
        names = self._names.get(directory)
        if names is None:
            try:
                names = set(os.listdir(directory))
            except (FileNotFoundError, NotADirectoryError):  # writing will say what is wrong
                names = set()
            self._names[directory] = names
        return names

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        key, partition = context.asset_key, stored_partition(context)
        stem = self.path_for(key, partition)
        names = self._names_in(stem.parent)
        kind = frame_kind(obj)
        if kind == "lazy":
            obj, kind = obj.collect(), "polars"
        data = None
        if kind is not None:
            try:
                self._store_file(context, stem, ".parquet", names, parquet_writer(obj, kind))
                return
            except NotParquet as exc:
                problem = str(exc)
            what = asset_label(key, partition)
            context.add_output_metadata(
                {
                    "millrace/storage_warning": MetadataValue.text(
                        f"{what}: {problem}; stored as a pickle instead, which loads back "
                        "the same frame"
                    )
                }
            )
            try:
                data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as exc:
                raise StorageError(
                    f"cannot store {what}: {problem}, and pickling it failed too "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
        elif self.inline_db is not None:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        if data is not None and self.inline_db is not None and len(data) <= INLINE_LIMIT:
            context.inline_value = data
            context.data_version = bytes_version(data)
            for suffix in _SUFFIXES:  # an older value's file of ours is stale now
                self._remove_if_ours(key, partition, stem, suffix, names)
            context.add_output_metadata({"millrace/size_bytes": MetadataValue.int(len(data))})
            return
        if data is None:  # no inline store: stream the pickle, never holding it twice
            self._store_file(context, stem, ".pkl", names, lambda tmp: write_pickle(obj, tmp))
        else:
            pickled = data
            self._store_file(context, stem, ".pkl", names, lambda tmp: tmp.write_bytes(pickled))

    def _store_file(
        self,
        context: OutputContext,
        stem: Path,
        suffix: str,
        names: set[str],
        write: Callable[[Path], object],
    ) -> None:
        key, partition = context.asset_key, stored_partition(context)
        final = stem.with_name(stem.name + suffix)
        context.data_version = store_file(
            asset_label(key, partition), final, self._made_dirs, write
        )
        st = os.stat(final)
        self._ours[final] = _stamp(st)
        names.add(final.name)
        other = ".pkl" if suffix == ".parquet" else ".parquet"
        self._remove_if_ours(key, partition, stem, other, names)  # the asset changed kind
        context.add_output_metadata(
            {
                "path": MetadataValue.path(final),
                "millrace/size_bytes": MetadataValue.int(st.st_size),
            }
        )

    def _remove_if_ours(
        self,
        asset_key: AssetKey,
        partition_key: str | None,
        stem: Path,
        suffix: str,
        names: set[str],
    ) -> None:
        """Remove ``stem + suffix``, an older value's file, if Millrace wrote it."""
        name = stem.name + suffix
        if name not in names:
            return
        path = stem.with_name(name)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            names.discard(name)
            return
        if self._ours.pop(path, None) != _stamp(st):
            recorded = self._recorded(asset_key, partition_key)
            if not (
                recorded is not None
                and recorded.names(path, self.base_dir)
                and recorded.size == st.st_size
            ):
                return  # not Millrace's, or changed since: someone else's file
        with contextlib.suppress(OSError):  # only disk space is lost: loading skips it
            os.unlink(path)
            names.discard(name)

    def load_input(self, context: InputContext) -> Any:
        key, partition = context.asset_key, stored_partition(context)
        what = asset_label(key, partition)
        stem = self.path_for(key, partition)
        path = self._current_file(key, partition, stem)
        if path is None:
            data = self._read_inline(key, partition) if self.inline_db is not None else None
            if data is None:
                raise FileNotFoundError(f"no stored value for {what}")
            where = f"the history in {self.inline_db}"
            return read_stored(what, where, key, lambda: pickle.loads(data))
        if path.suffix == ".parquet":
            return read_stored(what, path, key, lambda: read_frame(path, context.annotation))
        return read_stored(what, path, key, lambda: read_pickle(path))

    def _current_file(
        self, asset_key: AssetKey, partition_key: str | None, stem: Path
    ) -> Path | None:
        """The file that holds the latest value, or None for none (the value is inline, or
        was never stored): a file this manager wrote, else the one the latest
        materialization recorded, else none if an inline value is recorded, else the newest
        (a home from before records, or a manager without ``inline_db``)."""
        found: dict[Path, os.stat_result] = {}
        for suffix in _SUFFIXES:
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                path = stem.with_name(stem.name + suffix)
                found[path] = os.stat(path)
        if not found:
            return None
        ours = [p for p, st in found.items() if self._ours.get(p) == _stamp(st)]
        if ours:  # both only if removing the older one failed
            return max(ours, key=lambda p: found[p].st_mtime_ns)
        if self.inline_db is not None:
            recorded = self._recorded(asset_key, partition_key)
            for path in found:
                if recorded is not None and recorded.names(path, self.base_dir):
                    return path
            if self._query(_HAS_INLINE, asset_key, partition_key) is not None:
                return None
        return max(found, key=lambda p: found[p].st_mtime_ns)  # a tie: Parquet, as before

    def _recorded(self, asset_key: AssetKey, partition_key: str | None) -> _Recorded | None:
        """The file the latest recorded materialization names, if any (none: inline, or no
        event store)."""
        if self.inline_db is None:
            return None
        row = self._query(_LATEST_METADATA, asset_key, partition_key)
        if row is None:
            return None
        metadata = json.loads(row[0])
        path, size = metadata.get("path"), metadata.get("millrace/size_bytes")
        if not isinstance(path, dict) or not isinstance(path.get("value"), str):
            return None
        return _Recorded(
            Path(path["value"]).parts, size.get("value") if isinstance(size, dict) else None
        )

    def _read_inline(self, asset_key: AssetKey, partition_key: str | None) -> bytes | None:
        row = self._query(_INLINE_VALUE, asset_key, partition_key)
        return row[0] if row else None

    def _query(
        self, sql: str, asset_key: AssetKey, partition_key: str | None
    ) -> tuple[Any, ...] | None:
        """The row ``sql`` selects for an asset (and partition) from the event store, on this
        thread's own read-only connection; None too if there is no database or table yet."""
        import sqlite3  # only the default manager of a persisting runtime gets here

        reader = getattr(self._readers, "connection", None)
        if reader is None:
            try:
                uri = Path(self.inline_db).resolve().as_uri() + "?mode=ro"  # type: ignore[arg-type]
                reader = sqlite3.connect(uri, uri=True, check_same_thread=False)
            except sqlite3.OperationalError:  # no database yet: nothing was ever stored
                return None
            self._readers.connection = reader
        try:
            row: tuple[Any, ...] | None = reader.execute(
                sql, (asset_key.to_user_string(), partition_key or "")
            ).fetchone()
        except sqlite3.OperationalError:  # a database from before this table
            return None
        return row

    def __repr__(self) -> str:
        return f"ParquetIOManager(base_dir={str(self.base_dir)!r})"


_LATEST_METADATA = (
    "SELECT metadata FROM latest_materializations WHERE asset_key = ? AND partition_key = ?"
)
_INLINE_VALUE = "SELECT data FROM asset_values WHERE asset_key = ? AND partition_key = ?"
_HAS_INLINE = "SELECT 1 FROM asset_values WHERE asset_key = ? AND partition_key = ?"


class _Recorded(NamedTuple):
    """The file a recorded materialization names: its ``path`` metadata, as parts, and its
    ``millrace/size_bytes``."""

    parts: tuple[str, ...]
    size: object

    def names(self, path: Path, base_dir: Path) -> bool:
        """Whether this is ``path``, compared below ``base_dir``: a home that moved still
        matches its records."""
        below = path.relative_to(base_dir).parts
        return self.parts[-len(below) :] == below
