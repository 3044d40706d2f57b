"""RunResult: what ``materialize()`` and ``Runtime.submit()`` give back once a run ends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..declarations.keys import AssetKey, coerce_key
from ..errors import MillraceError
from ..events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    ErrorInfo,
    Event,
    RunStatus,
    StepFailed,
    StepSkipped,
    partitions_of,
)


class RunResult:
    """The outcome of one run: status, events, and (when captured) each asset's value."""

    def __init__(
        self,
        run_id: str,
        status: RunStatus,
        events: Sequence[Event],
        values: dict[tuple[AssetKey, str | None], Any] | None = None,
        exceptions: dict[tuple[AssetKey, str | None], BaseException] | None = None,
    ) -> None:
        self.run_id = run_id
        self.status = status
        self.all_events = list(events)
        self._values = values
        # By (asset key, partition key or None): what each failed step raised.
        self.partition_exceptions = exceptions or {}

    @property
    def success(self) -> bool:
        return self.status is RunStatus.SUCCESS

    @property
    def exceptions(self) -> dict[AssetKey, BaseException]:
        """What each failed asset raised (its first failed partition's, if partitioned)."""
        out: dict[AssetKey, BaseException] = {}
        for (key, _), exc in self.partition_exceptions.items():
            out.setdefault(key, exc)
        return out

    def asset_value(self, asset_key: Any, partition_key: str | None = None) -> Any:
        """An asset's value; of a partitioned asset, the one partition this run made, or
        ``partition_key``'s."""
        key = coerce_key(asset_key)
        if self._values is None:
            raise MillraceError(
                "this run did not keep values in memory; load them from storage instead"
            )
        if partition_key is not None:
            if (key, partition_key) not in self._values:
                raise MillraceError(
                    f"no value for asset '{key.to_user_string()}' partition {partition_key!r} "
                    f"in run {self.run_id}"
                )
            return self._values[(key, partition_key)]
        made = [p for k, p in self._values if k == key]
        if not made:
            raise MillraceError(f"no value for asset '{key.to_user_string()}' in run {self.run_id}")
        if len(made) > 1:
            shown = ", ".join(repr(p) for p in made[:3]) + (", ..." if len(made) > 3 else "")
            raise MillraceError(
                f"asset '{key.to_user_string()}' has {len(made)} partitions in run "
                f"{self.run_id} ({shown}): pass asset_value(key, partition_key=...)"
            )
        return self._values[(key, made[0])]

    def output_for_node(self, node_str: str, output_name: str = "result") -> Any:
        """The value of the asset whose node (op) name is ``node_str``: ``a__b`` for ``a/b``."""
        for key, _ in self._values or {}:
            if key.to_python_identifier() == node_str:
                return self.asset_value(key)
        return self.asset_value(node_str)

    def get_asset_materialization_events(self) -> list[AssetMaterialized]:
        return [e for e in self.all_events if isinstance(e, AssetMaterialized)]

    def asset_materializations_for_node(self, node_name: str) -> list[AssetMaterialized]:
        return [
            e
            for e in self.get_asset_materialization_events()
            if e.asset_key is not None and e.asset_key.path[-1] == node_name
        ]

    def get_asset_check_evaluations(self) -> list[AssetCheckEvaluated]:
        return [e for e in self.all_events if isinstance(e, AssetCheckEvaluated)]

    def get_step_failure_events(self) -> list[StepFailed]:
        return [e for e in self.all_events if isinstance(e, StepFailed) and not e.will_retry]

    def get_step_skipped_events(self) -> list[StepSkipped]:
        return [e for e in self.all_events if isinstance(e, StepSkipped)]

    @property
    def failures(self) -> dict[AssetKey, ErrorInfo]:
        """Each failed asset's error (its first failed partition's, if partitioned)."""
        out: dict[AssetKey, ErrorInfo] = {}
        for e in self.get_step_failure_events():
            if e.asset_key is not None:
                out.setdefault(e.asset_key, e.error)
        return out

    @property
    def failed_partitions(self) -> dict[AssetKey, list[str]]:
        """The partitions whose step failed, per asset."""
        out: dict[AssetKey, list[str]] = {}
        for e in self.get_step_failure_events():
            if e.asset_key is not None and not e.check_name:
                keys = [p for p in partitions_of(e) if p is not None]
                if keys:
                    out.setdefault(e.asset_key, []).extend(keys)
        return out

    @property
    def materialized_keys(self) -> list[AssetKey]:
        return [e.asset_key for e in self.get_asset_materialization_events() if e.asset_key]

    def __repr__(self) -> str:
        return f"<RunResult {self.run_id} {self.status.value}>"
