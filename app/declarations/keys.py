"""Asset keys: the identity of every asset, as a path of strings.

Each component becomes a file or directory name under the storage directory, so a component
must be a name every file system keeps as given: letters, digits, ``_``, ``-`` and ``.``, not
starting with a dot (``.``, ``..``, hidden files and Millrace's temporary files start with
one), not ending with one (Windows drops it), and none of the device names Windows reserves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..errors import MillraceError

_SEPARATOR = "/"
_VALID_PART = re.compile(r"[A-Za-z0-9_\-.]+")  # fullmatch: "$" would allow a final "\n"
# CON, NUL, COM1, ... name devices on Windows, whatever follows their first dot.
_RESERVED = re.compile(r"(CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(\..*)?", re.IGNORECASE)


class InvalidAssetKeyError(MillraceError, ValueError):
    """An asset key component that cannot be a file name in storage."""


def _component_problem(part: object) -> str | None:
    """Why ``part`` cannot be an asset key component, or None."""
    if not isinstance(part, str) or not _VALID_PART.fullmatch(part):
        return "use letters, digits, '_', '-' and '.'"
    if part in (".", ".."):
        return f"{part!r} names a directory, not an asset"
    if part.startswith("."):
        return "a component cannot start with '.' (a hidden file, like Millrace's temporary ones)"
    if part.endswith("."):
        return "a component cannot end with '.' (Windows drops it from file names)"
    if _RESERVED.fullmatch(part):
        return f"{part.partition('.')[0]!r} is a device name on Windows, not a file name"
    return None


# Components already found valid: a load names each asset's key two or three times (its
# decorator, each input that reads it), and the two patterns cost ~1.5 us a component.
_VALID_PARTS: set[str] = set()
_VALID_PARTS_KEPT = 1_000_000


class AssetKey:
    """An asset's identity: ``AssetKey("a")``, ``AssetKey(["a", "b"])`` -> ``a/b``."""

    __slots__ = ("_hash", "path")

    path: tuple[str, ...]
    _hash: int

    def __init__(self, path: str | Sequence[str]) -> None:
        parts = (path,) if isinstance(path, str) else tuple(path)
        if not parts:
            raise InvalidAssetKeyError("AssetKey needs at least one path component")
        for part in parts:
            if type(part) is str and part in _VALID_PARTS:
                continue
            problem = _component_problem(part)
            if problem is not None:
                raise InvalidAssetKeyError(
                    f"Invalid asset key component {part!r} in {list(parts)!r}: {problem}"
                )
            if type(part) is str and len(_VALID_PARTS) < _VALID_PARTS_KEPT:
                _VALID_PARTS.add(part)
        object.__setattr__(self, "path", parts)
        object.__setattr__(self, "_hash", hash(parts))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("AssetKey is immutable")

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AssetKey) and other.path == self.path

    def __lt__(self, other: AssetKey) -> bool:
        return self.path < other.path

    def __repr__(self) -> str:
        return f"AssetKey({list(self.path)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (AssetKey, (self.path,))

    def to_user_string(self) -> str:
        return _SEPARATOR.join(self.path)

    def to_string(self) -> str:
        """The JSON form Dagster uses in its storage: ``'["a", "b"]'``."""
        return json.dumps(list(self.path))

    def to_python_identifier(self, suffix: str | None = None) -> str:
        name = "__".join(self.path).replace("-", "_").replace(".", "_")
        return f"{name}_{suffix}" if suffix else name

    def with_prefix(self, prefix: CoercibleToAssetKeyPrefix) -> AssetKey:
        return AssetKey([*coerce_key_prefix(prefix), *self.path])

    @property
    def parent(self) -> AssetKey:
        return AssetKey(self.path[:-1])

    @staticmethod
    def from_user_string(value: str) -> AssetKey:
        return AssetKey(value.split(_SEPARATOR))

    @staticmethod
    def from_coercible(value: CoercibleToAssetKey) -> AssetKey:
        return coerce_key(value)


CoercibleToAssetKey = AssetKey | str | Sequence[str]
CoercibleToAssetKeyPrefix = str | Sequence[str] | None


class KeysByName(dict[str, AssetKey]):
    """``keys[name]`` is ``AssetKey.from_user_string(name)``, made once per name: rows read
    from the store name each asset many times, and each name is validated once, not per row."""

    def __missing__(self, name: str) -> AssetKey:
        key = self[name] = AssetKey.from_user_string(name)
        return key


def coerce_key(value: Any) -> AssetKey:
    """Turn a key, a ``"a/b"`` string, a list of parts or an asset definition into an AssetKey."""
    if isinstance(value, AssetKey):
        return value
    if isinstance(value, str):
        return AssetKey.from_user_string(value)
    key = getattr(value, "key", None)
    if isinstance(key, AssetKey):
        return key
    if isinstance(value, Sequence):
        return AssetKey(value)
    raise TypeError(f"Cannot use {value!r} as an asset key")


def coerce_key_prefix(prefix: CoercibleToAssetKeyPrefix) -> tuple[str, ...]:
    if prefix is None:
        return ()
    if isinstance(prefix, str):
        return (prefix,)
    return tuple(prefix)
