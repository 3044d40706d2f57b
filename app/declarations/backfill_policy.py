"""BackfillPolicy: how many partitions of an asset one step materializes in a backfill."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class BackfillPolicyType(Enum):
    SINGLE_RUN = "SINGLE_RUN"
    MULTI_RUN = "MULTI_RUN"


@dataclass(frozen=True, slots=True)
class BackfillPolicy:
    """``single_run()``: the whole range in one call (``context.partition_key_range``);
    ``multi_run(max_partitions_per_run=N)``: N partitions per call. Dagster's default for a
    partitioned asset is one partition per run, which is ``multi_run(1)``."""

    max_partitions_per_run: int | None = 1

    def __post_init__(self) -> None:
        if self.max_partitions_per_run is not None and self.max_partitions_per_run < 1:
            raise ValueError("max_partitions_per_run must be at least 1")

    @staticmethod
    def single_run() -> BackfillPolicy:
        return BackfillPolicy(max_partitions_per_run=None)

    @staticmethod
    def multi_run(max_partitions_per_run: int = 1) -> BackfillPolicy:
        return BackfillPolicy(max_partitions_per_run=max_partitions_per_run)

    @property
    def policy_type(self) -> BackfillPolicyType:
        if self.max_partitions_per_run is None:
            return BackfillPolicyType.SINGLE_RUN
        return BackfillPolicyType.MULTI_RUN
