"""``materialize()`` and ``materialize_to_memory()``: run assets from plain Python code.

Both are thin synchronous clients of Runtime. Where an event loop already runs in this thread
(a notebook), the run goes to a helper thread with its own loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .declarations.asset import DEFAULT_IO_MANAGER_KEY, AssetsDefinition, AssetSpec
from .declarations.checks import AssetChecksDefinition, AssetCheckSeverity
from .declarations.definitions import Definitions
from .declarations.job import JobRun
from .declarations.keys import coerce_key
from .errors import AssetCheckFailedError, InvariantViolationError, RunFailedError
from .execution.executor import DEFAULT_MAX_CONCURRENCY
from .execution.result import RunResult, node_outputs
from .runtime.resources import open_resources
from .runtime.runtime import Runtime, Selection, code_root, resolve_home
from .storage.configurable_io import ConfigurableIOManagerFactory
from .storage.dynamic_partitions import DynamicPartitions
from .storage.event_store import DATABASE
from .storage.instance import DagsterInstance
from .storage.io_manager_definition import IOManagerDefinition
from .storage.io_managers import InMemoryIOManager, InputContext, IOManager, ParquetIOManager
from .storage.paths import asset_label
from .suggest import suggestion

T = TypeVar("T")


def materialize(
    assets: Sequence[AssetsDefinition | AssetSpec | AssetChecksDefinition],
    run_config: Mapping[str, Any] | None = None,
    instance: Any = None,
    resources: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
    selection: Selection = None,
    *,
    home: str | os.PathLike[str] | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> RunResult:
    """Materialize ``assets`` (or ``selection`` of them), persisting events and values.

    History goes to ``instance``'s home (a ``DagsterInstance``), else ``home``, else
    $MILLRACE_HOME, else ``.millrace`` in the project root of the file that defines the first
    asset, as the CLI does for that code.
    """
    defs = _definitions(assets, resources)
    where = _instance_home(instance) or resolve_home(code_root(assets), home)
    return _run_sync(
        lambda: _materialize(
            Runtime(defs, home=where, max_concurrency=max_concurrency),
            selection,
            partition_key,
            tags,
            run_config,
            raise_on_error,
            instance,
        )
    )


def materialize_to_memory(
    assets: Sequence[AssetsDefinition | AssetSpec | AssetChecksDefinition],
    run_config: Mapping[str, Any] | None = None,
    instance: Any = None,
    resources: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
    selection: Selection = None,
    *,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> RunResult:
    """Like materialize(), but every IO manager key the assets use gets an in-memory IO
    manager, so no value is written (an IO manager among ``resources`` is an error, as in
    Dagster). Events and runs are kept in ``instance``'s home if one is given, else nowhere."""
    for key, value in (resources or {}).items():
        if isinstance(value, IOManager | IOManagerDefinition | ConfigurableIOManagerFactory):
            raise InvariantViolationError(
                f"materialize_to_memory was given resource '{key}', an IO manager: it keeps "
                "every asset's value in memory, for every IO manager key; use materialize() "
                "to store values through your IO managers"
            )
    io_keys = {DEFAULT_IO_MANAGER_KEY}
    io_keys.update(
        n.io_manager_key for a in assets if isinstance(a, AssetsDefinition) for n in a.asset_nodes
    )
    memory = {key: InMemoryIOManager() for key in sorted(io_keys)}
    defs = _definitions(assets, {**(resources or {}), **memory})
    where = _instance_home(instance)
    return _run_sync(
        lambda: _materialize(
            Runtime(defs, home=where, max_concurrency=max_concurrency)
            if where is not None
            else Runtime(defs, persist=False, max_concurrency=max_concurrency),
            selection,
            partition_key,
            tags,
            run_config,
            raise_on_error,
            instance,
        )
    )


def run_job(
    defs: Definitions,
    run: JobRun,
    *,
    instance: Any = None,
    partition_key: str | None = None,
    raise_on_error: bool = True,
    resources: Mapping[str, Any] | None = None,
    home: str | os.PathLike[str] | None = None,
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
) -> RunResult:
    """``JobDefinition.execute_in_process``: the job's run, kept where ``materialize`` keeps
    the same code's (or in the home of ``instance``, a Runtime's ``instance``)."""
    if resources:
        defs = Definitions(
            assets=defs.assets,
            asset_checks=defs.asset_checks,
            resources={**defs.resources, **resources},
            jobs=defs.jobs,
        )
    where = _instance_home(instance) or resolve_home(code_root(defs.assets), home)
    return _run_sync(
        lambda: _materialize(
            Runtime(defs, home=where, max_concurrency=max_concurrency),
            list(run.asset_keys),
            partition_key,
            run.tags,
            run.run_config,
            raise_on_error,
            instance,
        )
    )


def load_asset_value(
    defs: Definitions,
    asset_key: Any,
    *,
    python_type: Any = None,
    instance: Any = None,
    partition_key: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    home: str | os.PathLike[str] | None = None,
) -> Any:
    """``Definitions.load_asset_value``: the asset's stored value (``partition_key``'s), read
    by its IO manager from where ``materialize`` keeps the same code's history (or from the
    home of ``instance``, a Runtime's ``instance``)."""
    key = coerce_key(asset_key)
    node = defs.graph.nodes.get(key)
    if node is None:
        raise InvariantViolationError(
            f"no asset '{key.to_user_string()}' in these Definitions"
            + suggestion(key.to_user_string(), [k.to_user_string() for k in defs.asset_keys])
        )
    label = f"asset '{key.to_user_string()}'"
    partitioned = getattr(node, "partitions_def", None) is not None
    if partitioned and partition_key is None:
        raise InvariantViolationError(f"{label} is partitioned: pass partition_key=...")
    if not partitioned and partition_key is not None:
        raise InvariantViolationError(
            f"{label} is not partitioned, but partition_key={partition_key!r} was given"
        )
    where = _instance_home(instance) or resolve_home(code_root(defs.assets), home)
    io_key = getattr(node, "io_manager_key", DEFAULT_IO_MANAGER_KEY)
    resources = {**defs.resources}
    resources.setdefault(
        DEFAULT_IO_MANAGER_KEY, ParquetIOManager(where / "storage", inline_db=where / DATABASE)
    )
    context = InputContext(
        key, annotation=python_type, partition_key=partition_key, metadata=metadata
    )
    with open_resources({io_key: resources[io_key]}, run_id="load_asset_value") as live:
        manager = live[io_key]
        if not isinstance(manager, IOManager):
            raise InvariantViolationError(
                f"resource {io_key!r}, the IO manager of {label}, is {manager!r}, not an IOManager"
            )
        try:
            return manager.load_input(context)
        except FileNotFoundError:
            part = f" partition {partition_key!r}" if partition_key is not None else ""
            raise InvariantViolationError(
                f"{label}{part} has no stored value in {where}: materialize it first"
            ) from None


def _instance_home(instance: Any) -> Path | None:
    """The home whose history ``instance`` reads (a DagsterInstance, or a Runtime's
    ``instance``); None for no instance."""
    if instance is None:
        return None
    if isinstance(instance, DagsterInstance):
        home = instance.home
    elif isinstance(instance, DynamicPartitions) and instance._database is not None:
        home = instance._database.parent  # a Runtime's: storage/ names it no other way
    else:
        raise TypeError(
            "instance must be None or a Runtime's instance or a DagsterInstance "
            "(DagsterInstance.ephemeral(), DagsterInstance.get()); or pass home= to choose "
            f"where runs are kept. Got {instance!r}"
        )
    if home is None:
        raise TypeError(
            f"instance {instance!r} keeps no home to record the run in; use "
            "DagsterInstance.ephemeral() or DagsterInstance.get()"
        )
    return home


async def _materialize(
    runtime: Runtime,
    selection: Selection,
    partition_key: str | None,
    tags: Mapping[str, str] | None,
    run_config: Mapping[str, Any] | None,
    raise_on_error: bool,
    instance: Any,
) -> RunResult:
    async with runtime:
        result = await runtime.materialize(
            selection,
            partition_key=partition_key,
            tags=tags,
            run_config=run_config,
            capture_values=True,
        )
    result.nodes = node_outputs(runtime.defs.assets)
    result.retain(instance)  # an ephemeral one's home holds the result's events
    if raise_on_error and not result.success:
        raise_first_failure(result)
    return result


def _definitions(
    assets: Sequence[AssetsDefinition | AssetSpec | AssetChecksDefinition],
    resources: Mapping[str, Any] | None,
) -> Definitions:
    """Checks may stand in the assets list, as Dagster allows."""
    checks = [a for a in assets if isinstance(a, AssetChecksDefinition)]
    return Definitions(
        assets=[a for a in assets if not isinstance(a, AssetChecksDefinition)],
        asset_checks=checks,
        resources=resources,
    )


def raise_first_failure(result: RunResult) -> None:
    """What Dagster raises for a failed run: the user's own exception (so
    ``pytest.raises(ValueError)`` works; a ``Failure`` too), DagsterMaxRetriesExceededError
    once a step's retries ran out, DagsterAssetCheckFailedError for a failed blocking check;
    each with a note naming the asset and the run."""
    for (key, partition), exc in result.partition_exceptions.items():
        if isinstance(exc, asyncio.CancelledError):
            continue
        exc.add_note(f"raised by {asset_label(key, partition)} in run {result.run_id}")
        if isinstance(exc, RunFailedError):  # DagsterMaxRetriesExceededError, made mid-run
            exc.result = result
        raise exc
    for check in result.get_asset_check_evaluations():
        if check.blocking and not check.passed and check.severity == AssetCheckSeverity.ERROR.value:
            assert check.asset_key is not None
            raise AssetCheckFailedError(
                f"Blocking check '{check.check_name}' for asset "
                f"'{check.asset_key.to_user_string()}' failed with ERROR severity "
                f"(run {result.run_id})",
                result,
            )
    raise RunFailedError(f"run {result.run_id} ended {result.status.value}", result)


def _run_sync(make: Callable[[], Awaitable[T]]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        in_loop = False
    else:
        in_loop = True
    if not in_loop:  # run outside the except block, so errors are not chained to it
        return asyncio.run(_await(make))
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(_await(make))
        except BaseException as exc:
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="millrace-materialize")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def _await(make: Callable[[], Awaitable[T]]) -> T:
    return await make()
