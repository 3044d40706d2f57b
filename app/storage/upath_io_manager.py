"""UPathIOManager: Dagster's base class for IO managers that keep one file per asset (per
partition), with Dagster's layout and method names.

It works over ``pathlib.Path`` (local files); a ``upath.UPath`` base path (universal_pathlib,
for object stores) is used as given when that package is installed. A subclass implements
``dump_to_path`` and ``load_from_path`` and may set ``extension`` (``".csv"``).

The layout is Dagster's: ``<base_path>/<asset key path><extension>``, a partition at
``<asset key path>/<partition key><extension>`` and a multi-partition at
``<asset key path>/<key of each dimension, by dimension name, joined by '/'>``. A partition
key that would leave its asset's directory (``..``, an absolute path) is refused.
"""

from __future__ import annotations

import inspect
from abc import abstractmethod
from pathlib import Path, PurePath
from typing import Any

from ..declarations.metadata import MetadataValue
from ..errors import StorageError
from ..partitions.multi import MultiPartitionKey, MultiPartitionsDefinition
from .io_context import InputContext, IOContextError, OutputContext
from .io_managers import IOManager
from .paths import asset_label

AnyPath = Any  # a pathlib.Path, or a upath.UPath when universal_pathlib is installed


def as_base_path(base_path: Any) -> AnyPath:
    """``base_path`` as a path object: a Path or UPath as given, a string as a Path, or as a
    UPath when it names a protocol (``s3://...``), which needs universal_pathlib."""
    if base_path is None:
        return Path(".")
    if isinstance(base_path, PurePath) or _is_upath(base_path):
        return base_path
    text = str(base_path)
    if "://" not in text:
        return Path(text)
    try:
        from upath import UPath
    except ImportError:
        raise StorageError(
            f"base path {text!r} names a remote file system, which needs universal_pathlib "
            "(pip install universal_pathlib); without it UPathIOManager stores local files"
        ) from None
    return UPath(text)


def _is_upath(path: Any) -> bool:
    return any(c.__name__ == "UPath" and c.__module__.startswith("upath") for c in type(path).mro())


class UPathIOManager(IOManager):
    """Stores each asset (partition) as a file under ``base_path``: subclass it with
    ``dump_to_path(context, obj, path)`` and ``load_from_path(context, path)`` (which may be
    ``async def``). An input that reads several partitions gets ``{partition key: value}``;
    with ``AssetIn(metadata={"allow_missing_partitions": True})`` missing ones are skipped."""

    extension: str | None = None  # with its dot: ".csv"

    def __init__(self, base_path: Any = None) -> None:
        if self.extension and not self.extension.startswith("."):
            raise ValueError(
                f"{type(self).__name__}.extension must start with a dot, got {self.extension!r}"
            )
        self._base_path = as_base_path(base_path)

    @property
    def base_path(self) -> AnyPath:
        return self._base_path

    @abstractmethod
    def dump_to_path(self, context: OutputContext, obj: Any, path: AnyPath) -> None:
        """Write ``obj`` to ``path``."""

    @abstractmethod
    def load_from_path(self, context: InputContext, path: AnyPath) -> Any:
        """Read the value at ``path``; raise FileNotFoundError if there is none."""

    @property
    def fs(self) -> Any:
        """The fsspec file system of ``base_path`` (needs fsspec for a local path)."""
        if _is_upath(self._base_path):
            return self._base_path.fs
        try:
            from fsspec.implementations.local import LocalFileSystem
        except ImportError:
            raise StorageError(
                f"{type(self).__name__}.fs needs fsspec (pip install fsspec); for local files "
                "use the path's own methods"
            ) from None
        return LocalFileSystem()

    @property
    def storage_options(self) -> dict[str, Any]:
        """The fsspec options of ``base_path``; none for a local path."""
        if _is_upath(self._base_path):
            options = getattr(self._base_path, "storage_options", None)
            return dict(options if options is not None else self._base_path._kwargs)
        return {}

    def get_metadata(self, context: OutputContext, obj: Any) -> dict[str, Any]:
        """Metadata to add to each materialization; override to add your own."""
        return {}

    def unlink(self, path: AnyPath) -> None:
        path.unlink()

    def path_exists(self, path: AnyPath) -> bool:
        return bool(path.exists())

    def make_directory(self, path: AnyPath) -> None:
        path.mkdir(parents=True, exist_ok=True)

    def has_output(self, context: OutputContext) -> bool:
        return self.path_exists(self._get_path(context))

    def get_asset_relative_path(self, context: InputContext | OutputContext) -> AnyPath:
        return self._relative(*context.asset_key.path)

    def get_op_output_relative_path(self, context: InputContext | OutputContext) -> AnyPath:
        return self._relative(*context.get_identifier())

    def _relative(self, *parts: str) -> AnyPath:
        """A relative path of the base path's kind (a plain UPath for any UPath, as Dagster)."""
        if _is_upath(self._base_path):
            from upath import UPath

            return UPath(*parts)
        return Path(*parts)

    def get_loading_input_log_message(self, path: AnyPath) -> str:
        return f"Loading file from: {path} using {type(self).__name__}..."

    def get_writing_output_log_message(self, path: AnyPath) -> str:
        return f"Writing file at: {path} using {type(self).__name__}..."

    def get_loading_input_partition_log_message(self, path: AnyPath, partition_key: str) -> str:
        return f"Loading partition {partition_key} from {path} using {type(self).__name__}..."

    def get_missing_partition_log_message(self, partition_key: str) -> str:
        return (
            f"Couldn't load partition {partition_key} and skipped it because the input "
            "metadata includes allow_missing_partitions=True"
        )

    def get_path_for_partition(
        self, context: InputContext | OutputContext, path: AnyPath, partition: str
    ) -> AnyPath:
        """Where ``partition`` (slash-joined for a multi-partition) of the asset at ``path``
        lives, before the extension; override for another partitioning scheme."""
        return path / partition

    def _with_extension(self, path: AnyPath) -> AnyPath:
        return path.with_suffix(path.suffix + self.extension) if self.extension else path

    def _get_path_without_extension(self, context: InputContext | OutputContext) -> AnyPath:
        if context.has_asset_key:
            relative = self.get_asset_relative_path(context)
        else:
            relative = self.get_op_output_relative_path(context)
        return self._base_path.joinpath(relative)

    def _get_path(self, context: InputContext | OutputContext) -> AnyPath:
        """The path of an unpartitioned value."""
        return self._with_extension(self._get_path_without_extension(context))

    def _get_paths_for_partitions(self, context: InputContext | OutputContext) -> dict[str, Any]:
        """Each asset partition of ``context`` and its path."""
        asset_path = self._get_path_without_extension(context)
        paths = {}
        for key in context.asset_partition_keys:
            partition = _formatted(context, key)
            _check_partition(context, key, partition)
            path = self.get_path_for_partition(context, asset_path, partition)
            paths[key] = self._with_extension(path)
        return paths

    def _load_single_input(self, path: AnyPath, context: InputContext) -> Any:
        context.log.debug(self.get_loading_input_log_message(path))
        return _awaited(self.load_from_path(context=context, path=path))

    def _load_partition_from_path(
        self, context: InputContext, partition_key: str, path: AnyPath
    ) -> Any:
        """The value of one partition; None if it is missing and missing ones are allowed."""
        context.log.debug(self.get_loading_input_partition_log_message(path, partition_key))
        try:
            return _awaited(self.load_from_path(context=context, path=path))
        except FileNotFoundError:
            if not context.definition_metadata.get("allow_missing_partitions", False):
                raise
            context.log.warning(self.get_missing_partition_log_message(partition_key))
            return None

    def load_partitions(self, context: InputContext) -> Any:
        """One partition's value, or ``{partition key: value}`` for several (missing ones
        skipped if allowed). Override with ``get_path_for_partition`` when the format reads
        several partitions at once."""
        paths = self._get_paths_for_partitions(context)
        keys = context.asset_partition_keys
        context.log.debug(f"Loading {len(keys)} partitions...")
        if len(keys) == 1:
            return self._load_partition_from_path(context, keys[0], paths[keys[0]])
        values = {}
        for key in keys:
            obj = self._load_partition_from_path(context, key, paths[key])
            if obj is not None:
                values[key] = obj
        return values

    def load_input(self, context: InputContext) -> Any:
        if not context.has_asset_key or not context.has_asset_partitions:
            return self._load_single_input(self._get_path(context), context)
        if not context.asset_partition_keys:
            return None
        return self.load_partitions(context)

    def _handle_transition_to_partitioned_asset(
        self, context: OutputContext, path: AnyPath
    ) -> None:
        """A file where a partitioned asset's directory goes: the value from before the asset
        was partitioned, removed so the directory can be made (as Dagster does)."""
        if path.exists() and path.is_file():
            context.log.warning(
                f"Found file at {path} believed to correspond with previously non-partitioned "
                f"version of {context.asset_key.to_user_string()}. Removing {path} and replacing "
                "with directory for partitioned data files."
            )
            path.unlink()

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        if context.has_asset_partitions:
            paths = self._get_paths_for_partitions(context)
            if len(paths) != 1:
                raise StorageError(
                    f"{type(self).__name__} stores one partition at a time; "
                    f"{asset_label(context.asset_key, None)} got {len(paths)} at once"
                )
            path = next(iter(paths.values()))
            self._handle_transition_to_partitioned_asset(context, path.parent)
        else:
            path = self._get_path(context)
        self.make_directory(path.parent)
        context.log.debug(self.get_writing_output_log_message(path))
        self.dump_to_path(context=context, obj=obj, path=path)
        # No path for None, as in Dagster: an asset returning None most likely wrote its data
        # itself, somewhere else.
        metadata: dict[str, Any] = (
            {"path": MetadataValue.path(str(path))} if obj is not None else {}
        )
        metadata.update(self.get_metadata(context=context, obj=obj))
        context.add_output_metadata(metadata)


def _awaited(obj: Any) -> Any:
    """What an ``async def load_from_path`` returns, run to completion (loads run on worker
    threads, never on the event loop)."""
    if not inspect.iscoroutine(obj):
        return obj
    import asyncio  # only for async loaders: ``import millrace`` stays without asyncio

    return asyncio.run(obj)


def _formatted(context: InputContext | OutputContext, key: str) -> str:
    """A multi-partition key as its dimensions' keys by dimension name, joined by '/'."""
    if not isinstance(key, MultiPartitionKey):
        try:
            definition = context.asset_partitions_def
        except IOContextError:  # built without one: the key as it is
            return key
        if not isinstance(definition, MultiPartitionsDefinition):
            return key
        key = definition.get_partition_key_from_str(key)
    return "/".join(value for _, value in sorted(key.keys_by_dimension.items()))


def _check_partition(context: InputContext | OutputContext, key: str, partition: str) -> None:
    parts = partition.split("/")
    if partition.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise StorageError(
            f"{asset_label(context.asset_key, key)}: the partition key would leave the "
            "asset's directory; override get_path_for_partition to store such keys"
        )
