"""IO managers with typed, validated fields: Dagster's ConfigurableIOManager and its
FilesystemIOManager.

They are resources (EnvVar fields, setup and teardown per run), so they need pydantic; this
module is apart from ``io_managers`` so that the runtime's eager import of the default
Parquet manager does not load pydantic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import PrivateAttr

from ..declarations.keys import AssetKey
from ..declarations.metadata import MetadataValue
from ..declarations.resources import ConfigurableResource
from .files import read_pickle, read_stored, store_file, write_pickle
from .io_managers import InputContext, IOManager, OutputContext
from .paths import asset_label, key_path


class ConfigurableIOManager(ConfigurableResource, IOManager):
    """Subclass with typed fields and implement ``handle_output`` and ``load_input``."""


class FilesystemIOManager(ConfigurableIOManager):
    """Pickles every value to ``<base_dir>/<key path>`` (Dagster's layout, no suffix), and a
    partition to ``<key path>/partition=<encoded key>`` (``io_managers`` says why), written
    beside the final name and renamed into place."""

    base_dir: str
    _made_dirs: set[Path] = PrivateAttr(default_factory=set)

    def path_for(self, asset_key: AssetKey, partition_key: str | None = None) -> Path:
        return key_path(Path(self.base_dir), asset_key, partition_key)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        what = asset_label(context.asset_key, context.partition_key)
        path = self.path_for(context.asset_key, context.partition_key)
        context.data_version = store_file(
            what, path, self._made_dirs, lambda tmp: write_pickle(obj, tmp)
        )
        context.add_output_metadata({"path": MetadataValue.path(path)})

    def load_input(self, context: InputContext) -> Any:
        key, partition = context.asset_key, context.partition_key
        path = self.path_for(key, partition)
        return read_stored(asset_label(key, partition), path, key, lambda: read_pickle(path))
