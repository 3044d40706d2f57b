"""The ``:`` line, the command palette and quitting, driven through the real app."""

from __future__ import annotations

from pathlib import Path

from millrace.declarations.keys import AssetKey
from millrace.tui.screens.confirm import ConfirmScreen
from millrace.tui.screens.runs import RunsScreen
from millrace.tui.widgets.command_line import CommandLine
from textual.command import CommandList, CommandPalette
from textual.widgets import DataTable
from tui_harness import eventually, running_app, until, write_project

SLOW = """
    import asyncio
    from millrace import asset

    @asset
    async def slow() -> int:
        await asyncio.sleep(30)
        return 1
"""


def catalog_keys(app) -> set[str]:
    return {str(key.value) for key in app.screen.query_one(DataTable).rows}


async def finished_runs(app, pilot, count: int) -> list:
    """The runs once there are ``count`` and none is in flight (a quick run may end before
    a test looks at ``active_runs``)."""
    return await eventually(
        pilot,
        app.runtime.runs,
        lambda runs: len(runs) == count and all(r.status.value != "STARTED" for r in runs),
        f"{count} finished runs",
    )


async def type_command(pilot, text: str) -> None:
    await pilot.press("colon")
    line = pilot.app.screen.query_one(CommandLine)
    assert line.has_focus
    await pilot.press(*text, "enter")


async def test_colon_materialize_runs_the_selection_typed(tmp_path: Path, home: Path) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: len(catalog_keys(app)) == 3, "the catalog")
        await type_command(pilot, "materialize beta_mid+")
        run, _first = await finished_runs(app, pilot, 2)
        assert run.status.value == "SUCCESS"
        assert set(run.selection) >= {"beta_mid", "gamma_out"} and "alpha" not in run.selection


async def test_colon_select_narrows_the_catalog_and_runs_opens_the_runs(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: len(catalog_keys(app)) == 3, "the catalog")
        await type_command(pilot, "select group:raw")
        await until(pilot, lambda: catalog_keys(app) == {"alpha"}, "the selection")
        await type_command(pilot, "runs")
        await until(pilot, lambda: isinstance(app.screen, RunsScreen), "the runs")


async def test_an_unknown_command_names_the_ones_there_are(tmp_path: Path, home: Path) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: len(catalog_keys(app)) == 3, "the catalog")
        await type_command(pilot, "materialise alpha")
        await until(
            pilot,
            lambda: any("no command 'materialise'" in str(n.message) for n in app._notifications),
            "the error",
        )
        assert not app.active_runs()


async def test_the_palette_offers_the_screens_keys_and_the_commands_and_runs_them(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path), home, materialized=False) as (app, pilot):
        await until(pilot, lambda: len(catalog_keys(app)) == 3, "the catalog")
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette), "the palette")
        options = app.screen.query_one(CommandList)
        await until(pilot, lambda: options.option_count > 10, "the commands")
        titles = {str(o.prompt).split("\n")[0] for o in options.options}
        # every key of the catalog, the app's keys and the : commands, no widget internals
        assert {"Filter", "Details", "Lineage", "Materialize", "+downstream", "Stale"} <= titles
        assert {"Checks", "Runs", "Cancel run", "Help", "Quit"} <= titles
        assert {":materialize SELECTION", ":select SELECTION", ":runs", ":quit"} <= titles
        assert "Cursor down" not in titles and "Command" not in titles

        await pilot.press(*"stale")
        await until(
            pilot, lambda: str(options.get_option_at_index(0).prompt).startswith("Stale"), "hit"
        )
        await pilot.press("enter")
        [run] = await finished_runs(app, pilot, 1)
        assert run.status.value == "SUCCESS"
        assert {a.status.value for a in (await app.runtime.status()).values()} == {"fresh"}


async def test_q_with_a_run_in_flight_asks_then_cancels_it_and_records_it_canceled(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path, SLOW), home, materialized=False) as (
        app,
        pilot,
    ):
        handle = await app.materialize(None)
        assert handle is not None
        await pilot.press("q")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("n")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen), "answered")
        assert app.return_code is None and app.active_runs() == [handle]

        await pilot.press("ctrl+q")  # Textual's own quit key asks too
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the question")
        await pilot.press("y")
        await until(pilot, lambda: app.return_code is not None, "the app to exit")
        [run] = await app.runtime.runs()
        assert run.run_id == handle.run_id and run.status.value == "CANCELED"
        assert AssetKey("slow") not in {
            k for k, a in (await app.runtime.status()).items() if a.status.value == "fresh"
        }
