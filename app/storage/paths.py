"""Where a stored value lives: a path under the storage directory, by construction.

The layout under ``base_dir`` (the runtime's is ``<home>/storage``)::

    <key path>.parquet | .pkl                          an asset: lake/orders.parquet
    <key path>/partition=<encoded key>.parquet | .pkl  one partition of it

Asset key components are letters, digits, ``_``, ``-`` and ``.`` (``declarations.keys``), so no
asset has the ``=`` of a partition's name: partition ``b`` of ``a`` never meets asset ``a/b``.
A partition key is free text (``2024-01-01-05:00``, ``../x``), so it is percent-encoded into
the name, which keeps distinct keys distinct even on a case-insensitive file system: every
byte outside ``[a-z0-9_.-]`` (upper-case letters too) and a final ``.`` become ``%XX``; a name
too long for a file system keeps its start and ends in ``~`` and a hash of the key.
FilesystemIOManager has the same layout without the suffixes. Every path is built from those
names and refused if, symlinks resolved, it leaves ``base_dir``.
"""

from __future__ import annotations

import os
from pathlib import Path

import xxhash

from ..declarations.keys import AssetKey
from ..errors import StorageError

PARTITION_PREFIX = "partition="
_SAFE_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_-.")
# Longest encoded key kept whole: with the prefix, a suffix and a temporary file's additions
# the name stays under the 255 bytes file systems allow.
_LONGEST_KEY = 200
_KEPT_OF_LONG_KEY = 160


def partition_name(partition_key: str) -> str:
    """The file name (without suffix) of a partition: distinct for distinct keys, and a name
    every file system keeps as given (see the module docstring)."""
    data = partition_key.encode("utf-8", "surrogatepass")
    encoded = "".join(chr(b) if b in _SAFE_BYTES else f"%{b:02X}" for b in data)
    if encoded.endswith("."):
        encoded = encoded[:-1] + "%2E"
    if len(encoded) > _LONGEST_KEY:
        head = encoded[:_KEPT_OF_LONG_KEY]
        cut = head.find("%", _KEPT_OF_LONG_KEY - 2)  # an escape the cut would split
        encoded = f"{head[:cut] if cut != -1 else head}~{xxhash.xxh3_128_hexdigest(data)}"
    return PARTITION_PREFIX + encoded


def key_path(base_dir: Path, asset_key: AssetKey, partition_key: str | None) -> Path:
    """``<base_dir>/<key path>[/partition=<encoded key>]``, without a suffix. Refused if its
    directory, symlinks resolved, is outside ``base_dir``."""
    parts = asset_key.path
    if partition_key is not None:
        parts = (*parts, partition_name(partition_key))
    path = base_dir.joinpath(*parts)
    checked = (str(base_dir), str(path.parent))
    if checked in _CONFINED:
        return path
    root = os.path.realpath(base_dir)
    directory = os.path.realpath(path.parent)
    if os.path.commonpath([root, directory]) != root:
        raise StorageError(
            f"{asset_label(asset_key, partition_key)} would be stored in {directory}, outside "
            f"the storage directory {root}: {path.parent} leads there through a symlink"
        )
    _CONFINED.add(checked)  # later values of this directory skip the lstat() of each part
    return path


# (base dir, directory) pairs found to resolve inside the base dir. A symlink made inside the
# storage directory afterwards is not seen; making one needs the access that could replace
# the values themselves, which no check here can stop.
_CONFINED: set[tuple[str, str]] = set()


def asset_label(asset_key: AssetKey, partition_key: str | None) -> str:
    """``asset 'a/b'``, with its partition if any: how errors and warnings name a value."""
    label = f"asset '{asset_key.to_user_string()}'"
    return label if partition_key is None else f"{label} partition {partition_key!r}"
