"""``observe()``: observe source assets from plain Python code, as Dagster's ``observe`` does.

One run: a step per observable source asset, each recording an ``AssetObserved`` with the
data version its function returned, kept where ``materialize`` keeps the same code's history.
Downstream assets that consumed another data version of a source are then stale.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from .declarations.asset import AssetsDefinition, AssetSpec
from .declarations.definitions import Definitions
from .declarations.keys import AssetKey
from .declarations.source_asset import SourceAsset
from .errors import MillraceError
from .events import AssetObserved, Event, RunFinished, RunStarted, RunStatus
from .execution.observation import run_observation_step
from .execution.result import RunResult
from .materialization import _run_sync
from .runtime.runs import _threadsafe
from .runtime.runtime import Runtime, code_root, resolve_home

_RESOURCES = "millrace.declarations.resources"


class ObservationRunResult(RunResult):
    """``observe()``'s result: a RunResult whose steps recorded observations."""

    def get_asset_observation_events(self) -> list[AssetObserved]:
        return [e for e in self.all_events if isinstance(e, AssetObserved)]

    def data_version(self, asset_key: Any, partition_key: str | None = None) -> str | None:
        """The data version observed for ``asset_key`` (a partition's, if given)."""
        from .declarations.keys import coerce_key

        key = coerce_key(asset_key)
        found = [
            e.data_version
            for e in self.get_asset_observation_events()
            if e.asset_key == key and e.partition_key == partition_key
        ]
        if not found:
            raise MillraceError(f"run {self.run_id} observed no '{key.to_user_string()}'")
        return found[-1]


def observe(
    assets: Sequence[AssetsDefinition | AssetSpec],
    run_config: Mapping[str, Any] | None = None,
    instance: Any = None,
    resources: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    raise_on_error: bool = True,
    tags: Mapping[str, str] | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
) -> ObservationRunResult:
    """Observe every observable source asset in ``assets``; the others are context (the
    assets they feed). History goes where ``materialize`` would keep it."""
    if instance is not None:
        raise TypeError("Millrace has no DagsterInstance; pass home= to choose where runs are kept")
    defs = Definitions(assets=list(assets), resources=resources)
    sources = [a for a in assets if isinstance(a, SourceAsset) and a.is_observable]
    if not sources:
        given = ", ".join(a.key.to_user_string() for a in assets) or "none"
        raise MillraceError(
            f"observe() was given no observable source asset (given: {given}); declare one "
            "with @observable_source_asset or SourceAsset(..., observe_fn=...)"
        )
    where = resolve_home(code_root(assets), home)

    async def run() -> ObservationRunResult:
        async with Runtime(defs, home=where) as runtime:
            return await observe_in(
                runtime, [s.key for s in sources], run_config, partition_key, tags
            )

    result = _run_sync(run)
    if raise_on_error and not result.success:
        for exc in result.partition_exceptions.values():
            raise exc
    return result


async def observe_in(
    runtime: Runtime,
    keys: Sequence[AssetKey],
    run_config: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> ObservationRunResult:
    """One observation run in ``runtime``: a step per source in ``keys``, one at a time."""
    graph = runtime.defs.graph
    sources: list[SourceAsset] = []
    for key in keys:
        node = graph.nodes.get(key)
        if not isinstance(node, SourceAsset) or not node.is_observable:
            raise MillraceError(f"'{key.to_user_string()}' is not an observable source asset")
        sources.append(node)
    run_id = uuid.uuid4().hex
    events: list[Event] = []
    stop = runtime.listen(lambda e: events.append(e) if e.run_id == run_id else None)
    try:
        publish = runtime.bus.publish
        publish(
            RunStarted(
                run_id=run_id,
                selection=tuple(k.to_user_string() for k in keys),
                config=dict(run_config or {}),
                tags=dict(tags or {}),
            )
        )
        failures: dict[tuple[AssetKey, str | None], BaseException] = {}
        try:
            async with _resources(sources, runtime.defs.resources, run_id, run_config) as live:
                for node in sources:
                    failed = await run_observation_step(
                        node,
                        run_id=run_id,
                        resources=live,
                        publish=_threadsafe(publish),
                        partition_key=partition_key,
                        instance=runtime.instance,
                    )
                    if failed is not None:
                        failures[(node.key, partition_key)] = failed
        except Exception as exc:  # resources that could not be set up fail the whole run
            failures[(sources[0].key, partition_key)] = exc
        status = RunStatus.FAILURE if failures else RunStatus.SUCCESS
        message = "; ".join(f"{k.to_user_string()} failed" for k, _ in failures)
        publish(RunFinished(run_id=run_id, status=status, message=message))
        if runtime.store is not None:
            await runtime.store.flush()
    finally:
        stop()
    return ObservationRunResult(run_id, status, events, exceptions=failures)


class _resources:
    """The resources the sources need, set up for the run and torn down after it."""

    def __init__(
        self,
        sources: Sequence[SourceAsset],
        resources: Mapping[str, Any],
        run_id: str,
        run_config: Mapping[str, Any] | None,
    ) -> None:
        keys = {k for s in sources for k in s.required_resource_keys}
        stack = list(keys)
        while stack:
            for dep in getattr(resources.get(stack.pop()), "required_resource_keys", None) or ():
                if dep not in keys:
                    keys.add(dep)
                    stack.append(dep)
        self._needed = {k: resources[k] for k in keys if k in resources}
        self._run_id = run_id
        self._run_config = dict(run_config or {})
        self._opened: Any = None

    async def __aenter__(self) -> Mapping[str, Any]:
        if _RESOURCES not in sys.modules and not self._run_config.get("resources"):
            return self._needed  # no ConfigurableResource or @resource exists: nothing to open
        from .runtime.resources import open_resources

        self._opened = open_resources(
            self._needed, run_id=self._run_id, run_config=self._run_config
        )
        live: Mapping[str, Any] = await asyncio.to_thread(self._opened.__enter__)
        return live

    async def __aexit__(self, *exc: Any) -> None:
        if self._opened is not None:
            await asyncio.to_thread(self._opened.__exit__, *exc)
