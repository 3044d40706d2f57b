"""Data versions: a fingerprint of what an asset stored, so equal data is known to be equal.

The default IO manager hashes the bytes it writes (xxh3: a 1 GB frame costs ~0.1 s), so a
re-run that produces byte-identical output keeps its data version and its downstream stays
fresh. Where nothing was hashed (a custom IO manager, ``MaterializeResult``, ``-> None``),
Dagster's rule applies: equal code and equal inputs give an equal data version.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import xxhash

_CHUNK = 1 << 20


def bytes_version(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def file_version(path: str | os.PathLike[str]) -> str:
    """The data version of a stored file, streamed so a large file is never held twice."""
    digest = xxhash.xxh3_64()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def logical_data_version(code_version: str, upstream: Iterable[str | None]) -> str:
    """Dagster's rule: equal code and equal inputs give an equal data version."""
    text = "\x1f".join([code_version, *sorted(v or "" for v in upstream)])
    return xxhash.xxh3_64_hexdigest(text.encode())


def data_version(
    *,
    returned: str | None,
    content: str | None,
    code_version: str,
    upstream: Iterable[str | None],
) -> str:
    """The version a materialization records: a ``DataVersion`` the asset returned, else the
    hash of the bytes stored, else the logical version of its code and inputs."""
    if returned is not None:
        return returned
    if content is not None:
        return content
    return logical_data_version(code_version, upstream)
