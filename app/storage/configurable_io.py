"""IO managers with typed, validated fields: Dagster's ConfigurableIOManager, its
ConfigurableIOManagerFactory and its FilesystemIOManager.

They are resources (EnvVar fields, setup and teardown per run), so they need pydantic; this
module is apart from ``io_managers`` so that the runtime's eager import of the default
Parquet manager does not load pydantic.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from pydantic import PrivateAttr

from ..declarations.keys import AssetKey
from ..declarations.metadata import MetadataValue
from ..declarations.resources import ConfigurableResource, InitResourceContext
from .files import read_pickle, read_stored, store_file, write_pickle
from .io_context import InputContext, OutputContext, stored_partition
from .io_managers import IOManager
from .paths import asset_label, key_path


class ConfigurableIOManager(ConfigurableResource, IOManager):
    """Subclass with typed fields and implement ``handle_output`` and ``load_input``."""


class ConfigurableIOManagerFactory(ConfigurableResource):
    """Typed fields that build an IO manager once per run: implement ``create_io_manager``.

    The run's assets get what it returns (any ``IOManager``, often one that is not a pydantic
    model), set up after ``setup_for_execution`` and before ``teardown_after_execution``.
    """

    @abstractmethod
    def create_io_manager(self, context: InitResourceContext) -> IOManager:
        """The IO manager this run uses."""

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Any]:
        self.setup_for_execution(context)
        try:
            manager = self.create_io_manager(context)
            if not isinstance(manager, IOManager):
                raise TypeError(
                    f"{type(self).__name__}.create_io_manager returned "
                    f"{type(manager).__name__}, not an IOManager"
                )
            yield manager
        finally:
            self.teardown_after_execution(context)


class FilesystemIOManager(ConfigurableIOManager):
    """Pickles every value to ``<base_dir>/<key path>`` (Dagster's layout, no suffix), and a
    partition to ``<key path>/partition=<encoded key>`` (``io_managers`` says why), written
    beside the final name and renamed into place."""

    returns_what_it_stored: ClassVar[bool] = True
    base_dir: str
    _made_dirs: set[Path] = PrivateAttr(default_factory=set)

    def path_for(self, asset_key: AssetKey, partition_key: str | None = None) -> Path:
        return key_path(Path(self.base_dir), asset_key, partition_key)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        partition = stored_partition(context)
        what = asset_label(context.asset_key, partition)
        path = self.path_for(context.asset_key, partition)
        context.data_version = store_file(
            what, path, self._made_dirs, lambda tmp: write_pickle(obj, tmp)
        )
        context.add_output_metadata({"path": MetadataValue.path(path)})

    def load_input(self, context: InputContext) -> Any:
        key, partition = context.asset_key, stored_partition(context)
        path = self.path_for(key, partition)
        return read_stored(asset_label(key, partition), path, key, lambda: read_pickle(path))
