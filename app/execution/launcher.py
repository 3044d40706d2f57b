"""Step launchers run one step and hand back its outcome; the scheduler never runs user code.

The in-process launcher runs ``async def`` assets on the event loop and plain ``def`` assets
in a persistent thread pool (input loading, compute and storage in one hop). A Dask launcher
plugs in behind the same two methods.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..definitions.asset import AssetsDefinition, returns_none
from ..definitions.metadata import MetadataValue, normalize_metadata
from ..definitions.outputs import MaterializeResult, Output
from ..errors import MillraceError, MissingInputError
from ..storage.io_managers import InputContext, IOManager, OutputContext, frame_kind
from .context import AssetExecutionContext
from .events import Event, LogMessage
from .plan import FROM_STORAGE, Step


@dataclass(slots=True)
class RunServices:
    """What every step of one run shares: its id, resources and a thread-safe event sink."""

    run_id: str
    resources: Mapping[str, Any]
    emit: Callable[[Event], None]
    partition_key: str | None = None


@dataclass(slots=True)
class StepRequest:
    step: Step
    args: dict[str, Any]  # values handed over in memory by upstream steps of this run
    attempt: int = 1


@dataclass(slots=True)
class StepOutcome:
    value: Any
    stored: bool  # False for MaterializeResult and ``-> None`` assets: nothing to hand over
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    data_version: str | None = None
    duration: float = 0.0


class StepLauncher(ABC):
    """Runs one step of a run; the returned future resolves to its outcome or raises."""

    @abstractmethod
    def launch(
        self, services: RunServices, request: StepRequest
    ) -> asyncio.Future[StepOutcome]: ...

    @abstractmethod
    def close(self) -> None:
        """Release what the launcher holds (threads, connections)."""


class InProcessLauncher(StepLauncher):
    def __init__(self, max_workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="millrace-step")

    def launch(self, services: RunServices, request: StepRequest) -> asyncio.Future[StepOutcome]:
        loop = asyncio.get_running_loop()
        if request.step.asset.is_async:
            return loop.create_task(self._run_async(services, request))
        return loop.run_in_executor(self._pool, _run_sync, services, request)

    async def _run_async(self, services: RunServices, request: StepRequest) -> StepOutcome:
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        step = request.step
        kwargs = request.args
        if any(i.source == FROM_STORAGE for i in step.inputs):
            kwargs = await loop.run_in_executor(self._pool, _load_inputs, services, request)
        context = _context(services, request)
        result = await step.asset.fn(**_with_context(step.asset, kwargs, context))
        return await loop.run_in_executor(
            self._pool, _store, services, step, context, result, started
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _run_sync(services: RunServices, request: StepRequest) -> StepOutcome:
    started = time.perf_counter()
    step = request.step
    kwargs = _load_inputs(services, request)
    context = _context(services, request)
    result = step.asset.fn(**_with_context(step.asset, kwargs, context))
    return _store(services, step, context, result, started)


def _context(services: RunServices, request: StepRequest) -> AssetExecutionContext:
    step = request.step
    emit, run_id, key, partition = (
        services.emit,
        services.run_id,
        step.key,
        services.partition_key,
    )

    def sink(level: str, message: str) -> None:
        emit(
            LogMessage(
                run_id=run_id, asset_key=key, partition_key=partition, level=level, message=message
            )
        )

    return AssetExecutionContext(
        run_id=run_id,
        asset_key=key,
        resources=services.resources,
        partition_key=partition,
        log_sink=sink,
        retry_number=request.attempt - 1,
        assets_def=step.asset,
    )


def _with_context(
    asset: AssetsDefinition, kwargs: dict[str, Any], context: AssetExecutionContext
) -> dict[str, Any]:
    if asset.context_param is None:
        return kwargs
    return {asset.context_param: context, **kwargs}


def _io_manager(services: RunServices, key: str) -> IOManager:
    manager = services.resources[key]
    if not isinstance(manager, IOManager):
        raise MillraceError(f"resource {key!r} is used as an IO manager but is {manager!r}")
    return manager


def _load_inputs(services: RunServices, request: StepRequest) -> dict[str, Any]:
    step = request.step
    if all(i.source != FROM_STORAGE for i in step.inputs):
        return request.args
    kwargs = dict(request.args)
    for spec in step.inputs:
        if spec.source != FROM_STORAGE:
            continue
        manager = _io_manager(services, step.asset.io_manager_key)
        context = InputContext(
            spec.key,
            annotation=spec.annotation,
            partition_key=services.partition_key,
            metadata=spec.metadata,
        )
        try:
            kwargs[spec.param] = manager.load_input(context)
        except FileNotFoundError:
            up = spec.key.to_user_string()
            raise MissingInputError(
                f"asset '{step.name}' needs '{up}', which has never been materialized. "
                f"Materialize it first, or select it too (e.g. --select +{step.name})."
            ) from None
    return kwargs


def _store(
    services: RunServices,
    step: Step,
    context: AssetExecutionContext,
    result: Any,
    started: float,
) -> StepOutcome:
    """Unpack what the asset returned, hand it to the IO manager, gather its metadata."""
    asset = step.asset
    metadata = dict(context.output_metadata)
    data_version = None
    if isinstance(result, MaterializeResult):
        metadata.update(normalize_metadata(result.metadata, where=step.name))
        data_version = result.data_version
        outcome = StepOutcome(None, stored=False)
    else:
        value = result
        if isinstance(result, Output):
            value = result.value
            metadata.update(normalize_metadata(result.metadata, where=step.name))
            data_version = result.data_version
        if frame_kind(value) == "lazy":
            value = value.collect()
        if value is None and returns_none(asset.output_annotation):
            outcome = StepOutcome(None, stored=False)
        else:
            out = OutputContext(
                step.key,
                run_id=services.run_id,
                partition_key=services.partition_key,
                definition_metadata=asset.metadata,
            )
            try:
                _io_manager(services, asset.io_manager_key).handle_output(out, value)
            except Exception as exc:
                exc.add_note(
                    f"while storing the value of asset '{step.name}' "
                    f"({type(value).__name__}) with IO manager '{asset.io_manager_key}'"
                )
                raise
            metadata.update(out.output_metadata)
            outcome = StepOutcome(value, stored=True)
    outcome.metadata = metadata
    outcome.data_version = str(data_version) if data_version is not None else None
    outcome.duration = time.perf_counter() - started
    return outcome
