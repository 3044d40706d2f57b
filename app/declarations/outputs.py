"""What an asset function may return besides a bare value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .keys import AssetKey, CoercibleToAssetKey, coerce_key


@dataclass(frozen=True, slots=True)
class DataVersion:
    """A fingerprint of an asset's data; equal versions mean equal data."""

    value: str

    def __str__(self) -> str:
        return self.value


class Output:
    """A value with metadata: ``return Output(df, metadata={"rows": len(df)})``."""

    __slots__ = ("data_version", "metadata", "output_name", "tags", "value")

    def __init__(
        self,
        value: Any,
        output_name: str = "result",
        metadata: Mapping[str, Any] | None = None,
        data_version: DataVersion | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.value = value
        self.output_name = output_name
        self.metadata = dict(metadata or {})
        self.data_version = data_version
        self.tags = dict(tags or {})

    def __repr__(self) -> str:
        return f"Output(value={self.value!r}, metadata={self.metadata!r})"


class MaterializeResult:
    """Returned by an asset that stores its own data: metadata only, no IO manager involved."""

    __slots__ = ("asset_key", "check_results", "data_version", "metadata", "tags")

    def __init__(
        self,
        *,
        asset_key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, Any] | None = None,
        check_results: list[Any] | None = None,
        data_version: DataVersion | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        self.asset_key: AssetKey | None = coerce_key(asset_key) if asset_key is not None else None
        self.metadata = dict(metadata or {})
        self.check_results = list(check_results or [])
        self.data_version = data_version
        self.tags = dict(tags or {})

    def __repr__(self) -> str:
        return f"MaterializeResult(metadata={self.metadata!r})"
