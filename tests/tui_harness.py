"""What every TUI test starts from: a small real project on disk, its Runtime over a real
home, and the real app driven by Textual's Pilot. Waits are on the app's own state, with a
deadline, never fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from conftest import write_source
from millrace.runtime.dev import DevLoop
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui import app as app_module
from millrace.tui.app import MillraceApp
from textual.pilot import Pilot

T = TypeVar("T")
TIMEOUT = 20.0
SIZE = (130, 40)

PROJECT = """
    import polars as pl
    from millrace import AssetCheckResult, asset, asset_check

    @asset(group_name="raw", kinds=["polars"])
    def alpha() -> pl.DataFrame:
        return pl.DataFrame({"x": [1, 2, 3], "y": ["a", None, "c"]})

    @asset(group_name="mid")
    def beta_mid(alpha: pl.DataFrame) -> pl.DataFrame:
        return alpha.with_columns(z=pl.col("x") * 2)

    @asset(group_name="out")
    def gamma_out(context, beta_mid: pl.DataFrame) -> int:
        context.log.info(f"gamma sees {beta_mid.height} rows")
        return beta_mid.height

    @asset_check(asset=beta_mid)
    def has_rows(beta_mid: pl.DataFrame) -> AssetCheckResult:
        return AssetCheckResult(passed=beta_mid.height > 0)
"""


def write_project(root: Path, source: str = PROJECT) -> Path:
    write_source(root / "proj" / "assets.py", source)
    return root / "proj"


@asynccontextmanager
async def running_app(
    project: Path, home: Path, *, materialized: bool = True, dev: bool = False
) -> AsyncIterator[tuple[MillraceApp, Pilot[None]]]:
    """The app over ``project`` (materialized once first, unless told not to)."""
    if materialized:
        async with Runtime(load_code_location(project), home=home) as first:
            assert (await first.materialize()).success
    runtime = Runtime(load_code_location(project), home=home)
    await runtime.start()
    app = MillraceApp(runtime, dev=DevLoop(runtime) if dev else None)
    try:
        async with app.run_test(size=SIZE) as pilot:
            yield app, pilot
    finally:
        await runtime.close()


async def until(pilot: Pilot[Any], condition: Callable[[], bool], what: str) -> None:
    """Let the app run until ``condition()`` holds."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)  # lets the app process messages; not a fixed wait for a result
        await asyncio.sleep(0)


async def eventually(
    pilot: Pilot[Any], read: Callable[[], Awaitable[T]], condition: Callable[[T], bool], what: str
) -> T:
    """Read (an async query) until what was read meets ``condition``; return it."""
    deadline = time.monotonic() + TIMEOUT
    while not condition(value := await read()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last read {value!r}")
        await pilot.pause(0.02)
    return value


class AutomatedApp(MillraceApp):
    """The app with its runtime and automation (on ``clock``) started and closed on the
    app's own loop: snap_compare runs the app in a loop of its own."""

    CSS_PATH = str(Path(app_module.__file__).with_name(MillraceApp.CSS_PATH))

    def __init__(self, runtime: Runtime, clock: Any) -> None:
        super().__init__(runtime)
        self.clock = clock

    async def on_load(self) -> None:
        await self.runtime.start()
        await self.runtime.start_automation(clock=self.clock)

    async def on_unmount(self) -> None:
        await self.runtime.close()
