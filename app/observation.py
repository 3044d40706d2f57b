"""``observe()``: observe source assets from plain Python code, as Dagster's ``observe`` does.

One run: a step per observable source asset, each recording an ``AssetObserved`` with the
data version its function returned, kept where ``materialize`` keeps the same code's history.
Downstream assets that consumed another data version of a source are then stale. A
``materialize`` run that selects a source observes it too, before what reads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from .asset_graph import AssetGraph
from .declarations.asset import AssetsDefinition, AssetSpec
from .declarations.definitions import Definitions
from .declarations.keys import AssetKey
from .declarations.source_asset import SourceAsset
from .errors import MillraceError, SelectionError
from .events import AssetObserved
from .execution.result import RunResult
from .materialization import _instance_home, _run_sync
from .runtime.runtime import Runtime, code_root, resolve_home
from .selection import resolve_selection


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
    assets they feed). History goes where ``materialize`` would keep it (``instance``'s home,
    a DagsterInstance's, if given)."""
    defs = Definitions(assets=list(assets), resources=resources)
    sources = [a for a in assets if isinstance(a, SourceAsset) and a.is_observable]
    if not sources:
        given = ", ".join(a.key.to_user_string() for a in assets) or "none"
        raise MillraceError(
            f"observe() was given no observable source asset (given: {given}); declare one "
            "with @observable_source_asset or SourceAsset(..., observe_fn=...)"
        )
    where = _instance_home(instance) or resolve_home(code_root(assets), home)

    async def run() -> ObservationRunResult:
        async with Runtime(defs, home=where) as runtime:
            return await observe_in(
                runtime, [s.key for s in sources], run_config, partition_key, tags
            )

    result = _run_sync(run)
    result.retain(instance)
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
    """One observation run in ``runtime``: a step per source in ``keys`` (each an observable
    source asset), run by the executor as any run's steps are."""
    graph = runtime.defs.graph
    for key in keys:
        if not _observable(graph.nodes.get(key)):
            raise MillraceError(f"'{key.to_user_string()}' is not an observable source asset")
    result = await runtime.submit(
        list(keys), tags=tags, run_config=run_config, partition_key=partition_key
    )
    return ObservationRunResult(
        result.run_id, result.status, result.recorded, exceptions=result.partition_exceptions
    )


def observable_keys(graph: AssetGraph, selection: str | None) -> list[AssetKey]:
    """The observable source assets ``selection`` (``--select`` syntax) names, in order;
    every one for None. Selecting none is an error saying what was selected."""
    if selection is None:
        keys = [k for k in graph.keys if _observable(graph.nodes[k])]
        if not keys:
            raise SelectionError(
                "this code has no observable source asset; declare one with "
                "@observable_source_asset or SourceAsset(..., observe_fn=...)"
            )
        return keys
    selected = graph.toposorted(resolve_selection(selection, graph))
    keys = [k for k in selected if _observable(graph.nodes[k])]
    if not keys:
        names = ", ".join(k.to_user_string() for k in selected[:5])
        more = f" and {len(selected) - 5} more" if len(selected) > 5 else ""
        raise SelectionError(
            f"{selection} selects no observable source asset (it selects {names}{more})"
        )
    return keys


def _observable(node: Any) -> bool:
    return isinstance(node, SourceAsset) and node.is_observable
