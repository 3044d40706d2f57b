"""The dev loop behind ``millrace dev``: watch the code, reload on every save, and re-run
exactly what the edit changed.

After a reload, the assets whose code version changed (and new ones, and those whose
dependencies changed) are re-materialized, then whatever downstream becomes stale through
them: the run uses early cutoff, so a downstream asset whose inputs came out byte-identical
is not re-run. A dev run still going for an affected asset is canceled and superseded, as
Textual's exclusive workers supersede each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..asset_graph import AssetGraph
from ..declarations.keys import AssetKey
from ..errors import CodeLoadError, MillraceError, SelectionError
from ..events import CodeError, LogMessage, ReloadApplied, RunOrigin, Watching
from ..execution.plan import ExecutionPlan
from ..selection import AssetSelection, resolve_selection
from ..versions.staleness import Status
from .loader import CodeLocation, aload_code_location
from .runs import RunHandle
from .runtime import Runtime
from .watcher import watch_code


def rerun_targets(applied: ReloadApplied, graph: AssetGraph) -> set[AssetKey]:
    """The assets an edit itself changed: new code, new dependencies, or new assets."""
    keys = {
        change.asset_key
        for change in applied.changed
        if change.code_changed or "deps" in change.attributes or "checks" in change.attributes
    }
    keys.update(applied.added)
    return {k for k in keys if k in graph and graph.nodes[k].is_executable}


class DevLoop:
    """Reload and re-run on every save; ``run()`` until ``stop`` is set."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        auto: bool = True,
        run_stale: bool = False,
        run_config: Mapping[str, Any] | None = None,
    ) -> None:
        if runtime.location is None:
            raise ValueError("the dev loop needs a Runtime built from a code location")
        self.runtime = runtime
        self.auto = auto
        self.run_stale = run_stale
        self.run_config = dict(run_config or {})  # for every run it starts
        self.runs: list[RunHandle] = []  # the runs it started, newest last
        # What each reload led to: its event and the run it started (None: nothing to re-run),
        # for a client that follows the loop rather than the event stream.
        self.outcomes: asyncio.Queue[tuple[ReloadApplied | CodeError, RunHandle | None]] = (
            asyncio.Queue()
        )

    async def run(
        self, *, stop: asyncio.Event | None = None, on_ready: Callable[[], None] | None = None
    ) -> None:
        runtime = self.runtime
        location = runtime.location
        assert location is not None
        if self.run_stale:
            await self._guarded(self.materialize_stale())

        def ready() -> None:
            runtime.bus.publish(
                Watching(directory=str(location.directory), assets=len(runtime.code.graph))
            )
            if on_ready is not None:
                on_ready()

        async for _ in watch_code(
            location.directory, ignore=[runtime.home], stop=stop, on_ready=ready
        ):
            applied = await runtime.reload()
            handle = None
            if isinstance(applied, ReloadApplied) and self.auto:
                handle = await self._guarded(self.rerun(applied))
            self.outcomes.put_nowait((applied, handle))

    async def materialize_stale(self) -> RunHandle | None:
        """What ``--run-stale`` does at start: every stale and missing asset (None: there is
        none)."""
        try:
            plan = await self.runtime.resolve_plan(AssetSelection.status("stale", "missing"))
        except SelectionError:
            return None  # nothing is stale or missing
        return self._submit(plan, "stale at start")

    async def rerun(self, applied: ReloadApplied) -> RunHandle | None:
        """Re-materialize what ``applied`` changed and its downstream, superseding any dev run
        still going for those assets."""
        runtime = self.runtime
        targets = rerun_targets(applied, runtime.code.graph)
        if not targets:
            return None
        selection = AssetSelection.keys(*targets).downstream()
        # Of a partitioned asset, the partitions the edit made stale (those that exist).
        partitions = await runtime.partitions_by_status(
            resolve_selection(selection, runtime.code.graph), (Status.STALE,)
        )
        plan = runtime.plan(selection, early_cutoff=True, partitions=partitions)
        affected = set(plan.keys)
        for handle in runtime.active_runs():
            if handle.origin is RunOrigin.DEV and affected & set(handle.plan.keys):
                await runtime.cancel(handle.run_id)
        reason = ", ".join(sorted(k.to_user_string() for k in targets))
        return self._submit(plan, f"changed: {reason}")

    def _submit(self, plan: ExecutionPlan, reason: str) -> RunHandle:
        handle = self.runtime.submit(
            plan=plan,
            tags={"millrace/reason": reason},
            run_config=self.run_config,
            origin=RunOrigin.DEV,
        )
        self.runs.append(handle)
        return handle

    async def _guarded(self, starting: Awaitable[RunHandle | None]) -> RunHandle | None:
        """Start a run; if it cannot start (its config does not fit the new code, say), say
        why and keep watching: the loop never ends because of user code."""
        try:
            return await starting
        except MillraceError as exc:
            self.runtime.bus.publish(LogMessage(level="ERROR", message=f"not re-run: {exc}"))
            return None


async def first_load(
    target: str,
    attribute: str | None,
    directory: Path,
    *,
    ignore: Iterable[Path],
    report: Callable[[CodeError], None],
    stop: asyncio.Event | None = None,
) -> CodeLocation | None:
    """Load the code; while it does not load, report why and try again on the next save
    (``millrace dev`` can start on broken code and wait for the fix). None if stopped."""
    while True:
        try:
            return await aload_code_location(target, attribute=attribute)
        except CodeLoadError as exc:
            error = CodeError(file=exc.file, line=exc.line, message=str(exc))

        def ready(error: CodeError = error) -> None:  # reported once a fix will be seen
            report(error)

        async for _ in watch_code(directory, ignore=ignore, stop=stop, on_ready=ready):
            break
        else:
            return None
