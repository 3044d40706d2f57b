"""Automation figures: how soon a landed file's run starts and its eager downstream follows,
and what one evaluation of 1,000 eager assets costs after one upstream update.

(a) A file-arrival sensor (woken by watchfiles) targets ``landed``; ``downstream`` has
    ``AutomationCondition.eager()``. Ten files are dropped, one after the other finished,
    each written under a hidden name and renamed in; from the rename: the sensor's run
    started (its RUN_STARTED event received) and ``downstream`` materialized (its
    ASSET_MATERIALIZED event received). The default SystemClock, a real home in a temporary
    directory.
(b) 1,000 assets (one root, 999 eager ones downstream of it, a tree three wide; and ten such
    trees of 100 with one root updated), through the runtime's declarative automation when it
    has one: the tick of its automation condition sensor after the root materialized (the
    evaluation over the status cache, the tick's record and the run it launches). Without it,
    ``millrace.automation.conditions.evaluate`` on a dict-backed view, as
    bench/automation_conditions.py does. The output says which.

Run: .venv/bin/python bench/automation.py
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from millrace import (
    AutomationCondition,
    Config,
    DefaultSensorStatus,
    Definitions,
    Runtime,
    asset,
    file_arrival_sensor,
)
from millrace.events import AssetMaterialized, RunFinished, RunOrigin, RunStarted, TickEvaluated

DROPS = 10
WAIT = 10.0  # seconds for one step of the chain before calling it not measured


# -- (a) landing latency ----------------------------------------------------------------------


class LandedConfig(Config):
    path: str


@asset
def landed(config: LandedConfig) -> int:
    return len(Path(config.path).read_bytes())


@asset(automation_condition=AutomationCondition.eager())
def downstream(landed: int) -> int:
    return landed * 2


async def next_of(events: AsyncIterator[Any], wanted: Any) -> tuple[Any, float] | None:
    """The next event for which ``wanted(event)``, and when it was received; None after WAIT."""
    try:
        async with asyncio.timeout(WAIT):
            async for event in events:
                if wanted(event):
                    return event, time.perf_counter()
    except TimeoutError:
        pass
    return None


def materialized(name: str) -> Any:
    def wanted(event: Any) -> bool:
        key = event.asset_key if isinstance(event, AssetMaterialized) else None
        return key is not None and key.to_user_string() == name

    return wanted


def finished(run_id: str) -> Any:
    return lambda event: isinstance(event, RunFinished) and event.run_id == run_id


async def landing_latency(root: Path) -> None:
    watched = root / "landing"
    watched.mkdir()
    sensor = file_arrival_sensor(
        watched,
        "*.csv",
        target=[landed],
        name="landing",
        minimum_interval_seconds=3600,  # the file events must wake it, not the interval
        config_op="landed",
        default_status=DefaultSensorStatus.RUNNING,
    )
    defs = Definitions(assets=[landed, downstream], sensors=[sensor])
    to_start: list[float] = []
    to_downstream: list[float] = []
    async with Runtime(defs, home=root / "home") as runtime:
        kinds = {"RUN_STARTED", "ASSET_MATERIALIZED", "RUN_FINISHED", "TICK_EVALUATED"}
        events = runtime.subscribe(kinds=kinds)
        automation = await runtime.start_automation()
        names = [i.name for i in automation.instigators()]
        first = await next_of(
            events, lambda e: isinstance(e, TickEvaluated) and e.name == "landing"
        )
        assert first is not None, "the sensor never ticked"
        for i in range(DROPS):
            partial, final = watched / f".drop{i}.csv", watched / f"drop{i}.csv"
            partial.write_text("id,amount\n" + "".join(f"{n},{n * 1.5}\n" for n in range(100)))
            dropped = time.perf_counter()
            os.replace(partial, final)
            started = await next_of(
                events, lambda e: isinstance(e, RunStarted) and e.origin is RunOrigin.SENSOR
            )
            if started is None:
                print(f"  drop {i}: no run started within {WAIT:.0f} s")
                continue
            to_start.append(started[1] - dropped)
            done = await next_of(events, materialized("downstream"))
            if done is None:
                continue
            to_downstream.append(done[1] - dropped)
            # Let the downstream run finish before the next drop: one chain at a time.
            await next_of(events, finished(done[0].run_id))
    print(f"(a) file landing -> run, {DROPS} drops, SystemClock; instigators: {', '.join(names)}")
    print(f"    to the sensor's run started:  {figures(to_start)}")
    if to_downstream:
        print(f"    to eager downstream materialized: {figures(to_downstream)}")
    else:
        print(
            "    to eager downstream materialized: not measured (nothing ran downstream within "
            f"{WAIT:.0f} s: declarative automation is not in this runtime)"
        )


def figures(seconds: list[float]) -> str:
    if not seconds:
        return "none"
    ms = [s * 1000 for s in seconds]
    return f"median {statistics.median(ms):.1f} ms, best {min(ms):.1f} ms (n={len(ms)})"


# -- (b) evaluation cost of 1,000 eager assets -------------------------------------------------

ROUNDS = 5


class FrozenClock:
    """No cron, no intervals: the bench ticks the automation sensor itself."""

    def now(self) -> float:
        return 1_717_200_000.0  # 2024-06-01 UTC

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.Event().wait()


def trees(roots: int, per_root: int, fan: int) -> list[Any]:
    """``roots`` unconditioned roots, each with ``per_root`` eager assets below it, the
    shape of bench/automation_conditions.py's ``graph_of`` (each reads its parent)."""
    eager = AutomationCondition.eager()
    assets = []
    for r in range(roots):
        assets.append(asset(name=f"r{r}")(lambda: 0))
        for i in range(per_root):
            parent = f"r{r}" if i < fan else f"a{r}_{(i - fan) // fan}"
            assets.append(
                asset(name=f"a{r}_{i}", deps=[parent], automation_condition=eager)(lambda: 0)
            )
    return assets


async def runtime_evaluation(label: str, root: Path, assets: list[Any]) -> None:
    """The default automation condition sensor, stopped so only the bench ticks it: after
    each materialization of r0, one tick; timed to its AutomationEvaluated event (the
    evaluation over the status cache, and its outcome per asset made into the event) and to
    its end (the tick recorded and its run launched). The run is awaited, and one more tick
    absorbs its materializations, before the next round."""
    from millrace.runtime.declarative import DEFAULT_SENSOR

    evaluated: list[float] = []
    async with Runtime(Definitions(assets=assets), home=root) as runtime:
        automation = await runtime.start_automation(clock=FrozenClock())
        await automation.set_running(DEFAULT_SENSOR, False)

        def on_event(event: Any) -> None:  # called as the event is published, on the loop
            if event.kind == "AUTOMATION_EVALUATED":
                evaluated.append(time.perf_counter())

        runtime.listen(on_event)
        await automation.tick(DEFAULT_SENSOR)  # everything missing below r0: nothing asked
        to_event, to_end, requested = [], [], 0
        for _ in range(ROUNDS):
            assert (await runtime.materialize(["r0"])).success
            evaluated.clear()
            start = time.perf_counter()
            tick = await automation.tick(DEFAULT_SENSOR)
            to_end.append(time.perf_counter() - start)
            to_event.append(evaluated[0] - start)
            [run_id] = tick.run_ids
            run = await runtime.wait_for_run(run_id)
            assert run is not None and run.status.value == "SUCCESS", run
            requested = len(run.selection)
            after = await automation.tick(DEFAULT_SENSOR)
            assert not after.run_ids, "a handled asset was asked for again"
    count = sum(1 for a in assets if a.automation_condition is not None)
    print(
        f"    {label}: {count} eager assets, {requested} requested: evaluation "
        f"{figures(to_event)}; whole tick (recorded, run launched) {figures(to_end)}"
    )


def direct_evaluation(heading: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import automation_conditions as direct

    print(heading)
    direct.run("    10 trees of 99, one root updated", direct.graph_of(10, 99, 3))
    direct.run("    one tree of 999 (all downstream of the update)", direct.graph_of(1, 999, 3))


async def evaluation_cost(root: Path) -> None:
    try:
        from millrace.runtime.declarative import DEFAULT_SENSOR  # noqa: F401
    except ImportError:
        direct_evaluation(
            "(b) 1,000 eager assets after one upstream update, through "
            "millrace.automation.conditions.evaluate directly (no declarative automation in "
            "this runtime)"
        )
        return
    print(
        f"(b) 1,000 eager assets after one upstream update, through the runtime's path "
        f"(default_automation_condition_sensor's tick over the status cache), {ROUNDS} rounds"
    )
    await runtime_evaluation("10 trees of 99, one root updated", root / "ten", trees(10, 99, 3))
    await runtime_evaluation(
        "one tree of 999 (all downstream of the update)", root / "one", trees(1, 999, 3)
    )
    direct_evaluation(
        "    for comparison, millrace.automation.conditions.evaluate alone on a dict-backed "
        "view (bench/automation_conditions.py), best of 5:"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await landing_latency(Path(tmp))
        await evaluation_cost(Path(tmp))


if __name__ == "__main__":
    asyncio.run(main())
