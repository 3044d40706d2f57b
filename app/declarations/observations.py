"""What an observation function returns, and the observation it records: Dagster's
``ObserveResult``, ``DataVersionsByPartition`` and ``AssetObservation``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import MillraceError
from .keys import AssetKey, CoercibleToAssetKey, coerce_key
from .outputs import DataVersion

# Dagster keeps an observation's data version as this tag of the AssetObservation.
DATA_VERSION_TAG = "dagster/data_version"


class DataVersionsByPartition:
    """The data version of each partition of a partitioned observable source asset."""

    __slots__ = ("data_versions_by_partition",)

    def __init__(self, data_versions_by_partition: Mapping[str, str | DataVersion]) -> None:
        versions: dict[str, DataVersion] = {}
        for partition, version in data_versions_by_partition.items():
            if not isinstance(partition, str):
                raise MillraceError(
                    f"DataVersionsByPartition: partition keys are strings, got {partition!r}"
                )
            versions[partition] = as_data_version(version, f"partition {partition!r}")
        self.data_versions_by_partition = versions

    def __repr__(self) -> str:
        return f"DataVersionsByPartition({self.data_versions_by_partition!r})"


class ObserveResult:
    """An observation's result: its metadata and the data version it saw."""

    __slots__ = ("asset_key", "data_version", "metadata", "tags")

    def __init__(
        self,
        *,
        asset_key: CoercibleToAssetKey | None = None,
        metadata: Mapping[str, Any] | None = None,
        check_results: list[Any] | None = None,
        data_version: DataVersion | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        if check_results:
            raise MillraceError(
                "ObserveResult(check_results=...) is not supported: declare the checks with "
                "@asset_check on the source asset and run them with `millrace check`"
            )
        self.asset_key: AssetKey | None = coerce_key(asset_key) if asset_key is not None else None
        self.metadata = dict(metadata or {})
        self.data_version = (
            as_data_version(data_version, "data_version") if data_version is not None else None
        )
        self.tags = dict(tags or {})


@dataclass(frozen=True)
class AssetObservation:
    """A recorded observation of an asset (its data version is the ``dagster/data_version``
    tag, as in Dagster)."""

    asset_key: AssetKey
    metadata: Mapping[str, Any] = field(default_factory=dict)
    partition: str | None = None
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    @property
    def data_version(self) -> str | None:
        return self.tags.get(DATA_VERSION_TAG)


def as_data_version(value: Any, what: str) -> DataVersion:
    if isinstance(value, DataVersion):
        return value
    if isinstance(value, str):
        return DataVersion(value)
    raise MillraceError(f"{what}: a data version is a DataVersion or a str, got {value!r}")
