"""Sensors on materializations (Dagster's ``@asset_sensor`` and ``@multi_asset_sensor``).

The runtime reads the materializations of the monitored keys stored after
``sensor.events_after(cursor)`` and passes them to ``evaluate_asset_sensor`` or
``evaluate_multi_asset_sensor``; the cursor counts store ids (``seq``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..declarations.keys import AssetKey, coerce_key
from ..errors import DefinitionsError
from .event_log import EventLogEntry, EventLogRecord, record_of
from .sensors import (
    DefaultSensorStatus,
    SensorDefinition,
    SensorEvaluationContext,
    SensorFn,
    evaluate_with,
)
from .tick import TickResult

if TYPE_CHECKING:
    from ..events import AssetMaterialized


class AssetSensorDefinition(SensorDefinition):
    """Calls its function with ``(context, asset_event)`` for the newest materialization of
    ``asset_key`` since the last tick (only the newest, as Dagster); the cursor is its id."""

    def __init__(self, asset_key: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asset_key = coerce_key(asset_key)

    def events_after(self, cursor: str | None) -> int:
        """The store id after which the runtime should read materializations."""
        return int(cursor) if cursor else 0

    def __call__(  # type: ignore[override]
        self, context: SensorEvaluationContext, asset_event: EventLogEntry, **resources: Any
    ) -> Any:
        return call_raw(self, context, resources, asset_event)


def call_raw(
    sensor: SensorDefinition, context: SensorEvaluationContext, resources: Any, *extra: Any
) -> Any:
    result = sensor._invoke(context, {**context.resource_values, **resources}, *extra)
    return list(result) if hasattr(result, "__next__") else result


def evaluate_asset_sensor(
    sensor: AssetSensorDefinition,
    context: SensorEvaluationContext,
    events: Sequence[AssetMaterialized],
) -> TickResult:
    """The tick of an asset sensor given the materializations the runtime read (any keys, any
    order): skipped when none of its key is newer than the cursor."""
    after = sensor.events_after(context.cursor)
    new = [e for e in events if e.asset_key == sensor.asset_key and e.seq > after]
    if not new:
        return TickResult(
            skip_reason=f"No new materialization of {sensor.asset_key.to_user_string()}",
            cursor=context.cursor,
        )
    latest = max(new, key=lambda event: event.seq)
    record = record_of(latest)
    given = context.cursor
    result = evaluate_with(sensor, context, record.event_log_entry)
    if result.error is not None:
        return result
    cursor = result.cursor if result.cursor != given else str(latest.seq)
    return TickResult(result.run_requests, result.skip_reason, cursor)


def asset_sensor(
    asset_key: Any,
    *,
    job_name: str | None = None,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    job: Any = None,
    jobs: Sequence[Any] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    target: Any = None,
) -> Callable[[SensorFn], AssetSensorDefinition]:
    """A sensor called with ``(context, asset_event: EventLogEntry)`` when ``asset_key``
    is materialized."""

    def decorate(fn: SensorFn) -> AssetSensorDefinition:
        return AssetSensorDefinition(
            asset_key,
            name=name or fn.__name__,
            evaluation_fn=fn,
            job_name=job_name,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description or fn.__doc__,
            job=job,
            jobs=jobs,
            default_status=default_status,
            required_resource_keys=required_resource_keys,
            tags=tags,
            metadata=metadata,
            target=target,
        )

    return decorate


class MultiAssetSensorEvaluationContext(SensorEvaluationContext):
    """A sensor context over the materializations of several assets. The cursor is JSON
    ``{"<asset key>": <store id of the last consumed materialization>}``; a key's records
    are those after it, until the function advances it."""

    def __init__(
        self,
        monitored_assets: Sequence[AssetKey],
        records: Sequence[EventLogRecord],
        cursor: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(cursor=cursor, **kwargs)
        self.asset_keys = list(monitored_assets)
        self._consumed: dict[AssetKey, int] = {
            AssetKey.from_user_string(key): int(storage_id)
            for key, storage_id in (json.loads(cursor) if cursor else {}).items()
        }
        self._records = sorted(records, key=lambda record: record.storage_id)

    def materialization_records_for_key(
        self, asset_key: Any, limit: int | None = None
    ) -> list[EventLogRecord]:
        """The unconsumed records of one key, oldest first (the first ``limit``)."""
        key = self._monitored(asset_key)
        after = self._consumed.get(key, 0)
        found = [r for r in self._records if r.asset_key == key and r.storage_id > after]
        return found if limit is None else found[:limit]

    def latest_materialization_records_by_key(
        self, asset_keys: Sequence[Any] | None = None
    ) -> dict[AssetKey, EventLogRecord | None]:
        """Each key's newest unconsumed record (None: nothing new)."""
        keys = self.asset_keys if asset_keys is None else [self._monitored(k) for k in asset_keys]
        latest: dict[AssetKey, EventLogRecord | None] = {}
        for key in keys:
            records = self.materialization_records_for_key(key)
            latest[key] = records[-1] if records else None
        return latest

    def advance_cursor(
        self, materialization_records_by_key: Mapping[Any, EventLogRecord | None]
    ) -> None:
        """Mark each given record and every earlier one of its key consumed."""
        for asset_key, record in materialization_records_by_key.items():
            if record is not None:
                key = self._monitored(asset_key)
                self._consumed[key] = max(self._consumed.get(key, 0), record.storage_id)
        self.update_cursor(
            json.dumps({k.to_user_string(): v for k, v in sorted(self._consumed.items())})
        )

    def advance_all_cursors(self) -> None:
        """Consume every record seen: the next tick sees only newer materializations."""
        self.advance_cursor(self.latest_materialization_records_by_key())

    def _monitored(self, asset_key: Any) -> AssetKey:
        key = coerce_key(asset_key)
        if key not in self.asset_keys:
            raise DefinitionsError(
                f"multi_asset_sensor {self.sensor_name!r} does not monitor {key.to_user_string()}"
            )
        return key


class MultiAssetSensorDefinition(SensorDefinition):
    """A sensor over the materializations of ``monitored_assets`` (keys or assets)."""

    def __init__(self, monitored_assets: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        keys: list[AssetKey] = []
        for item in monitored_assets:
            many = getattr(item, "keys", None)
            keys.extend(many if isinstance(many, frozenset | set) else [coerce_key(item)])
        if not keys:
            raise DefinitionsError(f"multi_asset_sensor {self.name!r}: monitor some assets")
        self.monitored_assets = tuple(dict.fromkeys(keys))

    def events_after(self, cursor: str | None) -> int:
        """The store id after which the runtime should read materializations of
        ``monitored_assets``: the oldest key's position (0 for a key never consumed)."""
        consumed = {AssetKey.from_user_string(k): v for k, v in json.loads(cursor or "{}").items()}
        return min(int(consumed.get(key, 0)) for key in self.monitored_assets)


def build_multi_asset_sensor_context(
    monitored_assets: Sequence[Any],
    events: Sequence[AssetMaterialized] = (),
    cursor: str | None = None,
    instance: Any = None,
    resources: Mapping[str, Any] | None = None,
    sensor_name: str | None = None,
) -> MultiAssetSensorEvaluationContext:
    """A context over these materializations, for a test or a tick."""
    keys = [coerce_key(item) for item in monitored_assets]
    return MultiAssetSensorEvaluationContext(
        keys,
        [record_of(event) for event in events if event.asset_key in keys],
        cursor=cursor,
        instance=instance,
        resources=resources,
        sensor_name=sensor_name,
    )


def evaluate_multi_asset_sensor(
    sensor: MultiAssetSensorDefinition,
    context: SensorEvaluationContext,
    events: Sequence[AssetMaterialized],
) -> TickResult:
    """The tick of a multi-asset sensor: ``context`` gives the cursor, last run key and
    resources; ``events`` the materializations read after ``sensor.events_after(cursor)``."""
    multi = build_multi_asset_sensor_context(
        sensor.monitored_assets,
        events,
        cursor=context.cursor,
        instance=context.instance,
        resources=context.resource_values,
        sensor_name=sensor.name,
    )
    multi.last_run_key = context.last_run_key
    multi.last_tick_completion_time = context.last_tick_completion_time
    return evaluate_with(sensor, multi)


def multi_asset_sensor(
    monitored_assets: Sequence[Any],
    *,
    job_name: str | None = None,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    description: str | None = None,
    job: Any = None,
    jobs: Sequence[Any] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    request_assets: Any = None,
    required_resource_keys: set[str] | None = None,
    tags: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    target: Any = None,
) -> Callable[[SensorFn], MultiAssetSensorDefinition]:
    """A sensor whose function gets a ``MultiAssetSensorEvaluationContext``."""

    def decorate(fn: SensorFn) -> MultiAssetSensorDefinition:
        return MultiAssetSensorDefinition(
            monitored_assets,
            name=name or fn.__name__,
            evaluation_fn=fn,
            job_name=job_name,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description or fn.__doc__,
            job=job,
            jobs=jobs,
            default_status=default_status,
            asset_selection=request_assets,
            required_resource_keys=required_resource_keys,
            tags=tags,
            metadata=metadata,
            target=target,
        )

    return decorate
