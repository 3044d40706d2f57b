"""One observation step: call an observable source asset's function and turn what it returns
into ``AssetObserved`` events (one per partition for a ``DataVersionsByPartition``).

It runs in a run like any step: ``observe()`` calls it for each source it observes, and the
executor can call it for a source in a run's selection (``run_observation_step``).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable, Mapping
from typing import Any

from ..declarations.metadata import normalize_metadata
from ..declarations.observations import (
    DATA_VERSION_TAG,
    DataVersionsByPartition,
    ObserveResult,
)
from ..declarations.outputs import DataVersion
from ..declarations.source_asset import SourceAsset
from ..errors import MillraceError
from ..events import (
    AssetObserved,
    Event,
    LogMessage,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from .context import AssetExecutionContext
from .failure import error_info


class ObservationError(MillraceError):
    """An observation function returned something that is not an observation."""


async def observe_source(
    node: SourceAsset,
    *,
    run_id: str,
    resources: Mapping[str, Any],
    partition_key: str | None = None,
    publish: Callable[[Event], None],
    instance: Any = None,
) -> list[AssetObserved]:
    """Call ``node``'s observe function (on a thread unless it is ``async``) and return its
    observations; raises what the function raised, or ObservationError for a wrong result.
    ``instance`` holds dynamic partitions' keys (the run's ``context.instance``)."""
    fn = node.observe_fn
    if fn is None:
        raise ObservationError(f"{_label(node)} has no observe_fn: there is nothing to observe")
    if partition_key is not None and node.partitions_def is not None:
        node.partitions_def.validate_partition_key(partition_key, dynamic_partitions_store=instance)

    def log(level: str, message: str) -> None:
        publish(
            LogMessage(
                run_id=run_id,
                asset_key=node.key,
                partition_key=partition_key,
                level=level,
                message=message,
            )
        )

    params = node.observe_params
    kwargs: dict[str, Any] = {name: resources[name] for name in params.resources}
    if params.context is not None:
        kwargs[params.context] = AssetExecutionContext(
            run_id=run_id,
            asset_key=node.key,
            resources={k: resources[k] for k in node.required_resource_keys if k in resources},
            partition_key=partition_key,
            log_sink=log,
            assets_def=node,
            instance=instance,
        )
    if inspect.iscoroutinefunction(fn):
        result = await fn(**kwargs)
    else:
        result = await asyncio.to_thread(fn, **kwargs)
    return observations(node, result, run_id=run_id, partition_key=partition_key, instance=instance)


async def run_observation_step(
    node: SourceAsset,
    *,
    run_id: str,
    resources: Mapping[str, Any],
    publish: Callable[[Event], None],
    partition_key: str | None = None,
    instance: Any = None,
) -> BaseException | None:
    """The whole step: STEP_STARTED, its observations, then STEP_SUCCEEDED or STEP_FAILED;
    returns the exception that failed it (None on success)."""
    fields: dict[str, Any] = {"run_id": run_id, "asset_key": node.key}
    if partition_key is not None:
        fields["partition_key"] = partition_key
    publish(StepStarted(**fields))
    started = time.perf_counter()
    try:
        observed = await observe_source(
            node,
            run_id=run_id,
            resources=resources,
            partition_key=partition_key,
            publish=publish,
            instance=instance,
        )
    except Exception as exc:
        duration = time.perf_counter() - started
        publish(StepFailed(**fields, error=error_info(exc), duration=duration))
        return exc
    for event in observed:
        publish(event)
    publish(StepSucceeded(**fields, duration=time.perf_counter() - started))
    return None


def observations(
    node: SourceAsset,
    result: Any,
    *,
    run_id: str,
    partition_key: str | None = None,
    instance: Any = None,
) -> list[AssetObserved]:
    """What an observe function returned, as the observations it records."""
    label = _label(node)
    if (
        isinstance(result, DataVersion | ObserveResult)
        and node.partitions_def is not None
        and partition_key is None
    ):
        raise ObservationError(
            f"{label} is partitioned, but its observation returned one "
            f"{type(result).__name__} for no partition: return DataVersionsByPartition, or "
            "observe one partition (partition_key=...)"
        )
    if isinstance(result, DataVersion):
        return [_observed(node, run_id, partition_key, result.value, {}, {})]
    if isinstance(result, ObserveResult):
        if result.asset_key is not None and result.asset_key != node.key:
            raise ObservationError(
                f"{label} returned ObserveResult(asset_key="
                f"'{result.asset_key.to_user_string()}'): it observes only itself"
            )
        metadata = normalize_metadata(result.metadata, where=label)
        version = result.data_version.value if result.data_version is not None else None
        return [_observed(node, run_id, partition_key, version, metadata, result.tags)]
    if isinstance(result, DataVersionsByPartition):
        definition = node.partitions_def
        if definition is None:
            raise ObservationError(
                f"{label} returned DataVersionsByPartition, but it has no partitions_def; "
                "return a DataVersion, or declare its partitions"
            )
        for key in result.data_versions_by_partition:
            definition.validate_partition_key(key, dynamic_partitions_store=instance)
        return [
            _observed(node, run_id, key, version.value, {}, {})
            for key, version in result.data_versions_by_partition.items()
        ]
    raise ObservationError(
        f"{label}: an observation function returns a DataVersion, a DataVersionsByPartition "
        f"or an ObserveResult; it returned {type(result).__name__}: {result!r}"
    )


def _observed(
    node: SourceAsset,
    run_id: str,
    partition_key: str | None,
    data_version: str | None,
    metadata: Mapping[str, Any],
    tags: Mapping[str, str],
) -> AssetObserved:
    all_tags = dict(tags)
    if data_version is not None:
        all_tags[DATA_VERSION_TAG] = data_version
    return AssetObserved(
        run_id=run_id,
        asset_key=node.key,
        partition_key=partition_key,
        metadata=dict(metadata),
        data_version=data_version,
        tags=all_tags,
    )


def _label(node: SourceAsset) -> str:
    where = f" ({node.source})" if node.source else ""
    return f"source asset '{node.key.to_user_string()}'{where}"
