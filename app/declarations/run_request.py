"""RunRequest: a run someone asks for (a sensor, a schedule, code), with Dagster's fields."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import AssetCheckKey
from .keys import AssetKey, coerce_key

# Runs started from a request carry its run key as this tag (Dagster's).
RUN_KEY_TAG = "dagster/run_key"


@dataclass(frozen=True)
class RunRequest:
    """The assets (default: all) and partition to run, with config and tags;
    ``stale_assets_only`` narrows the assets to those stale or missing, ``run_key``
    identifies the request (a sensor uses it not to ask twice)."""

    run_key: str | None = None
    run_config: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)
    job_name: str | None = None
    asset_selection: Sequence[AssetKey] | None = None
    stale_assets_only: bool = False
    partition_key: str | None = None
    asset_check_keys: Sequence[AssetCheckKey] | None = None

    def __post_init__(self) -> None:
        if self.partition_key is not None and not isinstance(self.partition_key, str):
            given = self.partition_key
            raise TypeError(f"RunRequest(partition_key=...) takes a str, got {given!r}")
        if self.asset_selection is not None:
            object.__setattr__(
                self, "asset_selection", tuple(coerce_key(k) for k in self.asset_selection)
            )

    @property
    def run_tags(self) -> dict[str, str]:
        """The tags of the run it starts: its own, and its run key."""
        tags = dict(self.tags)
        if self.run_key is not None:
            tags[RUN_KEY_TAG] = self.run_key
        return tags
