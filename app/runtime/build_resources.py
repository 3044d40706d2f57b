"""Resources and IO manager contexts outside a run, for tests and scripts: Dagster's
``build_resources``, ``build_input_context`` and ``build_output_context``.

Resources are set up as a run sets them up (``open_resources``: config, environment
variables, dependencies, ``setup_for_execution``) and torn down when the ``with`` block ends.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Mapping
from typing import Any

from ..declarations.keys import CoercibleToAssetKey
from ..execution.context import Resources
from ..partitions.key_range import PartitionKeyRange
from ..storage.io_context import RUN_ID_PLACEHOLDER, InputContext, OutputContext
from .resources import open_resources

_log = logging.getLogger("millrace.io_managers")


@contextlib.contextmanager
def build_resources(
    resources: Mapping[str, Any],
    instance: Any = None,
    resource_config: Mapping[str, Any] | None = None,
    dagster_run: Any = None,
    log_manager: Any = None,
) -> Iterator[Resources]:
    """Set up ``resources`` (definitions, configurable resources or plain values) and yield
    them by attribute: ``with build_resources({"db": db}) as resources: resources.db``.

    ``resource_config`` is ``{key: {"config": ...}}``, as under run config ``resources``."""
    _refuse("build_resources", instance=instance, dagster_run=dagster_run)
    run_config = {"resources": dict(resource_config)} if resource_config else None
    with open_resources(
        resources, run_id=RUN_ID_PLACEHOLDER, run_config=run_config, log=log_manager or _log
    ) as live:
        yield Resources(live)


def build_input_context(
    name: str | None = None,
    config: Any = None,
    metadata: Mapping[str, Any] | None = None,
    upstream_output: OutputContext | None = None,
    dagster_type: Any = None,
    resource_config: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    op_def: Any = None,
    step_context: Any = None,
    asset_key: CoercibleToAssetKey | None = None,
    partition_key: str | None = None,
    asset_partition_key_range: PartitionKeyRange | None = None,
    asset_partitions_def: Any = None,
    instance: Any = None,
) -> InputContext:
    """An InputContext for calling ``load_input`` in a test. Use it in a ``with`` block when
    ``resources`` need tearing down.

    As in Dagster, ``partition_key`` is the run's partition; the asset partitions to load are
    ``asset_partition_key_range`` (with ``asset_partitions_def`` for a range of several)."""
    _refuse("build_input_context", op_def=op_def, step_context=step_context)
    keys = _range_keys(asset_partition_key_range, asset_partitions_def)
    live, close = _open(resources)
    context = InputContext(
        asset_key,
        name=name,
        config=config,
        metadata=metadata,
        upstream_output=upstream_output,
        dagster_type=dagster_type,
        resource_config=resource_config,
        resources=live,
        partition_key=partition_key,
        asset_partition_keys=keys,
        asset_partitions_def=asset_partitions_def,
        instance=instance,
    )
    context._close = close
    return context


def build_output_context(
    step_key: str | None = None,
    name: str | None = None,
    definition_metadata: Mapping[str, Any] | None = None,
    run_id: str | None = None,
    mapping_key: str | None = None,
    config: Any = None,
    dagster_type: Any = None,
    version: str | None = None,
    resource_config: Mapping[str, Any] | None = None,
    resources: Mapping[str, Any] | None = None,
    op_def: Any = None,
    asset_key: CoercibleToAssetKey | None = None,
    partition_key: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    output_metadata: Mapping[str, Any] | None = None,
) -> OutputContext:
    """An OutputContext for calling ``handle_output`` in a test; what the manager adds is in
    ``get_logged_metadata()``. ``metadata`` is Dagster's older name of
    ``definition_metadata``."""
    _refuse("build_output_context", op_def=op_def)
    if definition_metadata is not None and metadata is not None:
        raise TypeError(
            "build_output_context: pass definition_metadata or metadata (its older name), not both"
        )
    live, close = _open(resources)
    context = OutputContext(
        asset_key,
        step_key=step_key,
        name=name,
        run_id=run_id if run_id is not None else RUN_ID_PLACEHOLDER,
        partition_key=partition_key,
        definition_metadata=definition_metadata if definition_metadata is not None else metadata,
        output_metadata=output_metadata,
        mapping_key=mapping_key,
        version=version,
        dagster_type=dagster_type,
        config=config,
        resource_config=resource_config,
        resources=live,
    )
    context._close = close
    return context


def _open(resources: Mapping[str, Any] | None) -> tuple[Resources | None, Any]:
    """The resources set up, and what tears them down (None if there are none)."""
    if not resources:
        return None, None
    manager = build_resources(resources)
    live = manager.__enter__()
    return live, lambda: manager.__exit__(None, None, None)


def _range_keys(key_range: PartitionKeyRange | None, partitions_def: Any) -> list[str] | None:
    if key_range is None:
        return None
    if partitions_def is not None:
        return list(partitions_def.get_partition_keys_in_range(key_range))
    if key_range.start != key_range.end:
        raise TypeError(
            f"build_input_context: asset_partition_key_range {key_range.start!r}..."
            f"{key_range.end!r} spans several partitions; pass asset_partitions_def to say "
            "which keys lie between"
        )
    return [key_range.start]


def _refuse(where: str, **given: Any) -> None:
    """Dagster's parameters that have no Millrace counterpart: an error, not ignored."""
    passed = sorted(name for name, value in given.items() if value is not None)
    if passed:
        raise TypeError(
            f"{where}: {', '.join(passed)} not supported in Millrace (there are no ops, step "
            "contexts or Dagster instances/runs)"
        )
