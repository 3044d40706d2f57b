"""IO managers decide where asset values live; the default writes frames to Parquet.

Polars, Arrow and pandas are imported only when a value of theirs is stored or loaded, so
``import millrace`` stays fast.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..definitions.keys import AssetKey
from ..definitions.metadata import MetadataValue, normalize_metadata
from ..frames.kind import frame_kind
from ..versions.data import bytes_version, file_version


class OutputContext:
    """What an IO manager knows about the value it is asked to store."""

    def __init__(
        self,
        asset_key: AssetKey,
        *,
        run_id: str | None = None,
        partition_key: str | None = None,
        definition_metadata: Mapping[str, Any] | None = None,
    ) -> None:
        self.asset_key = asset_key
        self.run_id = run_id
        self.partition_key = partition_key
        self.definition_metadata = dict(definition_metadata or {})
        self.output_metadata: dict[str, MetadataValue] = {}
        # Set by the default IO manager for a small value: bytes the runtime commits to the
        # event store in the same transaction as the materialization, instead of a file.
        self.inline_value: bytes | None = None
        # A fingerprint of what was stored (``millrace.versions.data``), set by IO managers
        # that can tell; otherwise the data version follows from the code and the inputs.
        self.data_version: str | None = None

    @property
    def metadata(self) -> dict[str, Any]:
        return self.definition_metadata

    @property
    def has_partition_key(self) -> bool:
        return self.partition_key is not None

    def add_output_metadata(self, metadata: Mapping[str, Any]) -> None:
        self.output_metadata.update(
            normalize_metadata(metadata, where=self.asset_key.to_user_string())
        )


class InputContext:
    """What an IO manager knows about the value it is asked to load."""

    def __init__(
        self,
        asset_key: AssetKey,
        *,
        annotation: Any = None,
        partition_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        upstream_output: OutputContext | None = None,
    ) -> None:
        self.asset_key = asset_key
        self.annotation = annotation
        self.partition_key = partition_key
        self.metadata = dict(metadata or {})
        self.upstream_output = upstream_output or OutputContext(asset_key)

    @property
    def has_partition_key(self) -> bool:
        return self.partition_key is not None


class IOManager(ABC):
    """Stores an asset's value after it runs and loads it for the assets downstream."""

    @abstractmethod
    def handle_output(self, context: OutputContext, obj: Any) -> None: ...

    @abstractmethod
    def load_input(self, context: InputContext) -> Any: ...


class InMemoryIOManager(IOManager):
    """Keeps values in a dict: for tests and ``materialize_to_memory``."""

    def __init__(self) -> None:
        self.values: dict[tuple[AssetKey, str | None], Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self.values[(context.asset_key, context.partition_key)] = obj

    def load_input(self, context: InputContext) -> Any:
        try:
            return self.values[(context.asset_key, context.partition_key)]
        except KeyError:
            raise FileNotFoundError(
                f"no value in memory for {context.asset_key.to_user_string()}"
            ) from None


_KIND_KEY = b"millrace.kind"


INLINE_LIMIT = 64 * 1024  # pickles up to this size go to the event store, not to a file


class ParquetIOManager(IOManager):
    """Frames to ``<base_dir>/<key path>.parquet``, anything else pickled to ``.pkl``.

    ``ParquetIOManager("data")`` or ``ParquetIOManager(base_dir="data")``. Files are written
    beside their final name and renamed into place (see ``write_atomically``).

    The runtime's default manager also gets ``inline_db``, its event store: a pickle of at
    most ``INLINE_LIMIT`` bytes is then committed there, in the transaction that records its
    materialization, because creating one small file per value costs far more than the value.
    """

    def __init__(
        self, base_dir: str | os.PathLike[str], *, inline_db: str | os.PathLike[str] | None = None
    ) -> None:
        self.base_dir = Path(base_dir)
        self.inline_db = inline_db
        self._readers = threading.local()
        self._made_dirs: set[Path] = set()
        # File names per directory, listed once and then kept up to date by our own writes:
        # an asset whose value changed kind (frame <-> object) leaves a file to remove, and
        # knowing which names exist saves a failing unlink per value on the hot path.
        self._names: dict[Path, set[str]] = {}

    def path_for(self, asset_key: AssetKey, partition_key: str | None = None) -> Path:
        return key_path(self.base_dir, asset_key, partition_key)

    def _names_in(self, directory: Path) -> set[str]:
        names = self._names.get(directory)
        if names is None:
            try:
                names = set(os.listdir(directory))
            except FileNotFoundError:
                names = set()
            self._names[directory] = names
        return names

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        stem = self.path_for(context.asset_key, context.partition_key)
        kind = frame_kind(obj)
        if kind == "lazy":
            obj, kind = obj.collect(), "polars"
        names = self._names_in(stem.parent)
        data = None
        if kind is None and self.inline_db is not None:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
            if len(data) <= INLINE_LIMIT:
                context.inline_value = data
                context.data_version = bytes_version(data)
                for old in (".pkl", ".parquet"):  # a file would hide the newer inline value
                    self._remove(stem, old, names)
                context.add_output_metadata({"millrace/size_bytes": MetadataValue.int(len(data))})
                return
        suffix, other = (".pkl", ".parquet") if kind is None else (".parquet", ".pkl")
        final = stem.with_name(stem.name + suffix)
        if data is not None:
            written = write_atomically(final, self._made_dirs, lambda tmp: tmp.write_bytes(data))
        elif kind is None:  # no inline store: stream the pickle, never holding it twice
            written = write_atomically(final, self._made_dirs, lambda tmp: write_pickle(obj, tmp))
        else:
            written = write_atomically(
                final, self._made_dirs, lambda tmp: _write_frame(obj, kind, tmp)
            )
        context.data_version = written
        path = os.fspath(final)
        names.add(final.name)
        self._remove(stem, other, names)  # the asset changed kind: drop the old file
        context.add_output_metadata(
            {
                "path": MetadataValue.path(path),
                "millrace/size_bytes": MetadataValue.int(os.stat(path).st_size),
            }
        )

    def _remove(self, stem: Path, suffix: str, names: set[str]) -> None:
        if stem.name + suffix in names:
            names.discard(stem.name + suffix)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{stem}{suffix}")

    def load_input(self, context: InputContext) -> Any:
        stem = self.path_for(context.asset_key, context.partition_key)
        parquet = stem.with_name(stem.name + ".parquet")
        if parquet.exists():
            return _read_frame(parquet, context.annotation)
        pickled = stem.with_name(stem.name + ".pkl")
        if self.inline_db is None or pickled.exists():
            return read_pickle(pickled)
        data = self._read_inline(context.asset_key, context.partition_key)
        if data is None:
            raise FileNotFoundError(f"no stored value for {context.asset_key.to_user_string()}")
        return pickle.loads(data)

    def _read_inline(self, asset_key: AssetKey, partition_key: str | None) -> bytes | None:
        """A committed inline value, read on this thread's own read-only connection."""
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
            row = reader.execute(
                "SELECT data FROM asset_values WHERE asset_key = ? AND partition_key = ?",
                (asset_key.to_user_string(), partition_key or ""),
            ).fetchone()
        except sqlite3.OperationalError:  # a database from before inline values
            return None
        return row[0] if row else None

    def __repr__(self) -> str:
        return f"ParquetIOManager(base_dir={str(self.base_dir)!r})"


def key_path(base_dir: Path, asset_key: AssetKey, partition_key: str | None) -> Path:
    """``<base_dir>/<key path>[/<partition>]``, without a suffix."""
    if partition_key is None:
        return base_dir.joinpath(*asset_key.path)
    return base_dir.joinpath(*asset_key.path, partition_key)


def write_atomically(final: Path, made_dirs: set[Path], write: Callable[[Path], object]) -> str:
    """Write ``final`` through ``write(tmp)`` beside it, then rename it into place, so a crash
    never leaves a half-written file where a reader would find it. Returns the data version
    of the bytes written, hashed before the rename so it is exactly what landed.

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
        tmp.unlink(missing_ok=True)
        raise
    return version


def write_pickle(obj: Any, path: str | os.PathLike[str]) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)


def read_pickle(path: Path) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


def _write_frame(obj: Any, kind: str, path: str | os.PathLike[str]) -> None:
    if kind == "polars":
        obj.write_parquet(path)
        return
    import pyarrow as pa
    import pyarrow.parquet as pq

    if kind == "pandas":
        table = pa.Table.from_pandas(obj)  # keeps the index in pandas' schema metadata
    else:
        table = obj.replace_schema_metadata({**(obj.schema.metadata or {}), _KIND_KEY: b"arrow"})
    pq.write_table(table, path)


def _annotation_kind(annotation: Any) -> str | None:
    if annotation is None or isinstance(annotation, str):
        return None
    module = getattr(annotation, "__module__", "").partition(".")[0]
    name = getattr(annotation, "__name__", "")
    if module == "polars" and name in ("DataFrame", "LazyFrame"):
        return "lazy" if name == "LazyFrame" else "polars"
    if module == "pyarrow" and name == "Table":
        return "arrow"
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    return None


def _read_frame(path: Path, annotation: Any) -> Any:
    kind = _annotation_kind(annotation)
    if kind is None:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        if b"pandas" in meta and _pandas_available():
            kind = "pandas"
        elif meta.get(_KIND_KEY) == b"arrow":
            kind = "arrow"
        else:
            kind = "polars"
    if kind in ("polars", "lazy"):
        import polars as pl

        return pl.scan_parquet(path) if kind == "lazy" else pl.read_parquet(path)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return table.to_pandas() if kind == "pandas" else table


def _pandas_available() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True
