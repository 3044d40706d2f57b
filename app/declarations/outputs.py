"""What an asset function may return besides a bare value."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from .keys import AssetKey, CoercibleToAssetKey, coerce_key


@dataclass(frozen=True, slots=True)
class DataVersion:
    """A fingerprint of an asset's data; equal versions mean equal data."""

    value: str

    def __str__(self) -> str:
        return self.value


T = TypeVar("T")


@dataclass(frozen=True)
class AssetMaterialization:
    """A materialization of ``asset_key`` that an asset reports besides its own (``yield`` it
    or ``context.log_event(...)`` it), or that the event log hands a sensor."""

    asset_key: AssetKey
    metadata: Mapping[str, Any] = field(default_factory=dict)
    partition: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "asset_key", coerce_key(self.asset_key))


class Output(Generic[T]):
    """A value with metadata: ``return Output(df, metadata={"rows": len(df)})``; as a return
    annotation, ``-> Output[pl.DataFrame]`` checks the value inside."""

    __slots__ = ("data_version", "metadata", "output_name", "tags", "value")

    def __init__(
        self,
        value: T,
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


class MaterializeResult(Generic[T]):
    """Returned by an asset that stores its own data: metadata only, no IO manager involved."""

    __slots__ = ("asset_key", "check_results", "data_version", "metadata", "tags")

    def __init__(
        self,
        asset_key: CoercibleToAssetKey | None = None,
        *,
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


def value_annotation(annotation: Any) -> Any:
    """What a return annotation says of the value stored: ``Output[T]`` is ``T``;
    ``MaterializeResult[...]`` stores none, so nothing is checked."""
    origin = typing.get_origin(annotation)
    if origin is Output:
        (inner,) = typing.get_args(annotation)
        return inner
    if origin is MaterializeResult:
        return inspect.Parameter.empty
    return annotation
