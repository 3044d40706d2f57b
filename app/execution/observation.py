"""One observation step: call an observable source asset's function and turn what it returns
into ``AssetObserved`` events (one per partition for a ``DataVersionsByPartition``).

It runs in a run like any step, planned for a source the run selects (``observe()`` runs a
plan of observations alone): on a worker thread, or on the loop for an ``async def``; its
context and its log are those of any step.
"""

from __future__ import annotations

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
from ..events import AssetObserved
from .output import OutputCapture
from .step import RunServices, StepOutcome, StepRequest, log_sink, step_context


class ObservationError(MillraceError):
    """An observation function returned something that is not an observation."""


def run_observation(services: RunServices, request: StepRequest) -> StepOutcome:
    """One attempt of a ``def`` observation, on a worker thread; what it prints is its log."""
    started = time.perf_counter()
    observe = _function(request)
    output = OutputCapture(log_sink(services, request))
    try:
        with output.capturing():
            services.cancel.check()  # queued behind other work: a canceled run starts nothing
            result = observe(**_arguments(services, request, output))
    finally:
        output.close()
    return _outcome(services, request, result, started)


async def run_async_observation(services: RunServices, request: StepRequest) -> StepOutcome:
    """One attempt of an ``async def`` observation, on the loop."""
    started = time.perf_counter()
    observe = _function(request)
    output = OutputCapture(log_sink(services, request))
    try:
        with output.capturing():
            result = await observe(**_arguments(services, request, output))
    finally:
        output.close()
    return _outcome(services, request, result, started)


def _source(request: StepRequest) -> SourceAsset:
    node = request.step.node
    assert isinstance(node, SourceAsset), f"{request.step.name} is no observation step"
    return node


def _function(request: StepRequest) -> Callable[..., Any]:
    observe = _source(request).observe_fn
    assert observe is not None, f"{request.step.name} has no observe_fn"
    return observe


def _arguments(
    services: RunServices, request: StepRequest, output: OutputCapture
) -> dict[str, Any]:
    """Its context and resources, by the parameters the function declares."""
    params = _source(request).observe_params
    kwargs: dict[str, Any] = {name: services.resources[name] for name in params.resources}
    if params.context is not None:
        kwargs[params.context] = step_context(services, request, output.log)
    return kwargs


def _outcome(
    services: RunServices, request: StepRequest, result: Any, started: float
) -> StepOutcome:
    observed = observations(
        _source(request),
        result,
        run_id=services.run_id,
        partition_key=request.step.partition_key,
        instance=services.instance,
    )
    return StepOutcome(observations=observed, duration=time.perf_counter() - started)


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
