"""Declarative automation of asset checks inside a real Runtime on a real home, with a clock
the test moves: an eager check runs once, alone, after its asset materializes; a cron check
runs at its tick; an asset's ``any_checks_match`` sees its check's execution fail."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import ManualClock
from millrace import (
    AssetCheckResult,
    AutomationCondition,
    Definitions,
    RunRequest,
    asset,
    asset_check,
)
from millrace.declarations.checks import AssetCheckKey
from millrace.declarations.keys import AssetKey
from millrace.events import RunOrigin, TickEvaluated
from millrace.runtime.runtime import Runtime
from test_automation_runtime import NY, automation, next_tick

SENSOR = "default_automation_condition_sensor"


@asset
def raw() -> int:
    return 1


async def requested_tick(ticks: AsyncIterator[Any]) -> TickEvaluated:
    """The automation sensor's next tick that started a run."""
    while True:
        tick = await next_tick(ticks)
        if tick.name == SENSOR and tick.run_ids:
            return tick


async def check_results(runtime: Runtime) -> dict[str, Any]:
    assert runtime.store is not None
    await runtime.store.flush()
    found = await runtime.store.latest_check_results()
    return {f"{r.asset_key}:{r.check_name}": r for rows in found.values() for r in rows}


async def test_an_eager_check_runs_once_alone_after_its_asset_materializes(home: Path) -> None:
    calls: list[int] = []

    @asset_check(asset=raw, automation_condition=AutomationCondition.eager())
    def raw_positive(raw: int) -> AssetCheckResult:
        calls.append(raw)
        return AssetCheckResult(passed=raw > 0)

    defs = Definitions(assets=[raw], asset_checks=[raw_positive])
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        assert auto.get(SENSOR).running
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        # The asset alone, without its check (asset_check_keys=[]).
        upstream = await runtime.run_request(RunRequest(asset_selection=[raw], asset_check_keys=[]))
        await runtime.wait_for_run(upstream.run_id)
        tick = await requested_tick(ticks)
        done = await runtime.wait_for_run(tick.run_ids[0])
        again = await auto.tick(SENSOR)  # the check's evaluation is seen: nothing to ask for
        results = await check_results(runtime)
        evaluations = await runtime.automation_evaluations()
        runs = await runtime.runs()
    assert done is not None and done.status.value == "SUCCESS"
    assert done.origin is RunOrigin.AUTOMATION
    assert done.selection == ("raw:raw_positive",)  # the check alone, on the stored asset
    assert calls == [1]
    assert results["raw:raw_positive"].run_id == done.run_id
    assert results["raw:raw_positive"].passed
    assert again.status == "SKIPPED"
    assert [r.origin for r in runs].count(RunOrigin.AUTOMATION) == 1
    evaluation = evaluations["raw:raw_positive"]
    assert evaluation["reason"].splitlines()[0].startswith("eager")
    assert evaluation["requested"] == []


async def test_a_check_on_a_cron_runs_at_its_tick_and_its_state_survives_a_restart(
    home: Path,
) -> None:
    calls: list[str] = []

    @asset_check(asset=raw, automation_condition=AutomationCondition.cron_tick_passed("0 * * * *"))
    def hourly_check() -> AssetCheckResult:
        calls.append("ran")
        return AssetCheckResult(passed=True)

    defs = Definitions(assets=[raw], asset_checks=[hourly_check])
    clock = ManualClock(datetime(2024, 1, 1, 10, 30, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        sensor = auto.get(SENSOR)
        first = await auto.tick(SENSOR)  # the first evaluation only takes note
        assert first.status == "SKIPPED"
        assert sensor.next_due == datetime(2024, 1, 1, 11, tzinfo=NY).timestamp()
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        clock.move_to(datetime(2024, 1, 1, 11, 0, tzinfo=NY))
        tick = await requested_tick(ticks)
        done = await runtime.wait_for_run(tick.run_ids[0])
        results = await check_results(runtime)
    assert done is not None and done.status.value == "SUCCESS"
    assert done.origin is RunOrigin.AUTOMATION and done.selection == ("raw:hourly_check",)
    assert calls == ["ran"]
    assert results["raw:hourly_check"].run_id == done.run_id
    # Restarted before the next tick: the check's state and result come back from the store.
    clock.move_to(datetime(2024, 1, 1, 11, 20, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        assert auto.cache.check_latest[(AssetCheckKey(AssetKey("raw"), "hourly_check"), None)]
        assert AssetCheckKey(AssetKey("raw"), "hourly_check") in auto._states
        quiet = await auto.tick(SENSOR)
    assert quiet.status == "SKIPPED" and calls == ["ran"]


async def test_any_checks_match_sees_a_check_whose_execution_failed(home: Path) -> None:
    @asset(
        automation_condition=AutomationCondition.any_checks_match(
            AutomationCondition.execution_failed()
        ).newly_true()
    )
    def orders() -> int:
        return 1

    @asset_check(asset=orders)
    def orders_reachable() -> AssetCheckResult:
        raise ConnectionError("the warehouse is unreachable")

    defs = Definitions(assets=[orders], asset_checks=[orders_reachable])
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        first = await auto.tick(SENSOR)
        assert first.status == "SKIPPED"  # never ran: nothing failed
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        checked = await runtime.run_request(
            RunRequest(asset_selection=(), asset_check_keys=[orders_reachable.key])
        )
        await runtime.wait_for_run(checked.run_id)
        tick = await requested_tick(ticks)
        done = await runtime.wait_for_run(tick.run_ids[0])
        again = await auto.tick(SENSOR)  # still failed, not newly
        evaluations = await runtime.automation_evaluations()
    assert done is not None and done.origin is RunOrigin.AUTOMATION
    assert done.selection == ("orders", "orders:orders_reachable")  # with its check
    assert again.status == "SKIPPED"
    reason = evaluations["orders"]["reason"]
    assert "any_checks_match(execution_failed) (matched: orders:orders_reachable)" in reason


async def test_a_downstream_waits_for_its_upstreams_blocking_check_to_pass(home: Path) -> None:
    verdict = ["fail"]

    @asset
    def orders() -> int:
        return 1

    @asset_check(asset=orders, blocking=True)
    def orders_complete() -> AssetCheckResult:
        if verdict[0] == "raise":
            raise ConnectionError("the warehouse is unreachable")
        return AssetCheckResult(passed=verdict[0] == "pass")

    @asset(
        deps=[orders],
        automation_condition=AutomationCondition.all_deps_blocking_checks_passed()
        & AutomationCondition.any_deps_updated().since_last_handled(),
    )
    def report() -> int:
        return 2

    defs = Definitions(assets=[orders, report], asset_checks=[orders_complete])
    cell = (orders_complete.key, None)
    clock = ManualClock(datetime(2024, 1, 1, tzinfo=NY))
    async with automation(defs, home, clock) as (runtime, auto):
        assert (await auto.tick(SENSOR)).status == "SKIPPED"
        ticks = runtime.subscribe(kinds={"TICK_EVALUATED"})
        failed = await runtime.run_request(RunRequest(asset_selection=[orders]))  # its check too
        await runtime.wait_for_run(failed.run_id)
        assert (await auto.tick(SENSOR)).status == "SKIPPED"
        assert auto.cache.check_passed[cell] is False
        blocked = (await runtime.automation_evaluations())["report"]["reason"]

        verdict[0] = "pass"  # the check alone, against the stored materialization
        checked = await runtime.run_request(
            RunRequest(asset_selection=(), asset_check_keys=[orders_complete.key])
        )
        await runtime.wait_for_run(checked.run_id)
        tick = await requested_tick(ticks)
        done = await runtime.wait_for_run(tick.run_ids[0])
        passed = (await runtime.automation_evaluations())["report"]["reason"]

        # A new materialization without its check: the check's pass is about the old one.
        fresh = await runtime.run_request(RunRequest(asset_selection=[orders], asset_check_keys=[]))
        await runtime.wait_for_run(fresh.run_id)
        assert (await auto.tick(SENSOR)).status == "SKIPPED"
        stale = (await runtime.automation_evaluations())["report"]["reason"]
    assert "all_deps_blocking_checks_passed: false" in blocked
    assert "orders:orders_complete: check_passed or will_be_requested: false" in blocked
    assert done is not None and done.selection == ("report",)
    assert "all_deps_blocking_checks_passed (matched: orders): true" in passed
    assert "all_deps_blocking_checks_passed: false" in stale

    async with automation(defs, home, clock) as (runtime, auto):
        assert auto.cache.check_passed[cell] is True  # seeded from the store
        verdict[0] = "raise"
        errored = await runtime.run_request(
            RunRequest(asset_selection=(), asset_check_keys=[orders_complete.key])
        )
        await runtime.wait_for_run(errored.run_id)
        assert cell not in auto.cache.check_passed  # neither passed nor failed
        assert cell in auto.cache.check_failed  # execution_failed
