"""The catalog screen, driven through the real app and Textual's Pilot."""

from __future__ import annotations

from pathlib import Path

from millrace.tui.screens.catalog import CatalogScreen
from textual.widgets import DataTable, Static
from tui_harness import running_app, until, write_project


def table_rows(app) -> dict[str, list[str]]:
    table = app.screen.query_one(DataTable)
    return {str(key.value): [str(cell) for cell in table.get_row(key)] for key in table.rows}


def status_of(app, key: str) -> str:
    return table_rows(app)[key][3]


async def test_the_catalog_shows_every_asset_with_its_status(tmp_path: Path, home: Path) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        rows = table_rows(app)
        assert isinstance(app.screen, CatalogScreen)
        assert {k: r[3] for k, r in rows.items()} == dict.fromkeys(
            ["alpha", "beta_mid", "gamma_out"], "fresh"
        )
        assert rows["alpha"][1:3] == ["raw", "polars"]
        assert rows["alpha"][5] == "3"  # rows of the stored frame
        assert rows["beta_mid"][6] == "1✓"  # one check, passed
        assert rows["gamma_out"][4].endswith("s ago")


async def test_typing_a_filter_narrows_the_table_and_escape_clears_it(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        await pilot.press("slash", "b", "m")
        await until(pilot, lambda: set(table_rows(app)) == {"beta_mid"}, "the filter")
        await pilot.press("escape")  # leaves the filter box
        await pilot.press("escape")  # clears it
        await until(pilot, lambda: len(table_rows(app)) == 3, "every asset again")


async def test_a_group_in_the_tree_narrows_the_table(tmp_path: Path, home: Path) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        await app.screen.select("group:raw")
        await until(pilot, lambda: set(table_rows(app)) == {"alpha"}, "the selection")


async def test_m_materializes_the_highlighted_asset_and_the_status_follows(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path), home, materialized=False) as (app, pilot):
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        assert status_of(app, "alpha") == "missing"
        why = app.screen.query_one("#why", Static)
        assert "has never been materialized" in str(why.render())

        await pilot.press("m")  # the first row, alpha, is highlighted

        await until(pilot, lambda: status_of(app, "alpha") == "fresh", "alpha materialized")
        assert status_of(app, "beta_mid") == "missing"
        await pilot.press("s")  # every stale and missing asset
        await until(
            pilot,
            lambda: {r[3] for r in table_rows(app).values()} == {"fresh"},
            "everything fresh",
        )


async def test_a_key_that_cannot_act_says_why(tmp_path: Path, home: Path) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        await pilot.press("x")  # no run in flight
        await until(
            pilot,
            lambda: any("no run is in flight" in str(n.message) for n in app._notifications),
            "the reason",
        )


def test_the_catalog_looks_as_it_should(tmp_path: Path, snap_compare) -> None:
    """A project never materialized, so nothing in the picture depends on the clock."""
    from millrace.runtime.loader import load_code_location
    from millrace.runtime.runtime import Runtime
    from millrace.tui.app import MillraceApp
    from tui_harness import SIZE

    project = write_project(tmp_path)
    app = MillraceApp(Runtime(load_code_location(project), persist=False))

    async def loaded(pilot) -> None:
        await until(pilot, lambda: len(table_rows(app)) == 3, "the catalog")
        await pilot.press("down")  # beta_mid: its causes in the side panel

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)


async def test_a_big_catalog_shows_its_first_rows_and_the_filter_finds_the_others(
    tmp_path: Path, home: Path
) -> None:
    """More assets than the table holds: the rest are counted under it, and typing narrows
    down to one that was left out; a live update keeps the rows drawn."""
    from millrace.tui.screens.catalog import MAX_ROWS

    count = MAX_ROWS + 50
    source = "from millrace import asset\n" + "".join(
        f"\n@asset\ndef item_{i:04}() -> int:\n    return {i}\n" for i in range(count)
    )
    project = write_project(tmp_path, source)
    async with running_app(project, home, materialized=False) as (app, pilot):
        await until(pilot, lambda: len(table_rows(app)) == MAX_ROWS, "the first rows")
        more = app.screen.query_one("#more", Static)
        assert "50 more of" in str(more.render())
        names = {f"item_{i:04}" for i in range(count)}
        [left_out, *_] = sorted(names - set(table_rows(app)))

        await pilot.press("slash", *left_out)
        await until(pilot, lambda: left_out in table_rows(app), "it, found by the filter")
        assert len(table_rows(app)) < MAX_ROWS
        assert not more.display
        await pilot.press("enter")  # back to the table
        await until(pilot, lambda: app.screen.highlighted_key() is not None, "a highlighted row")
        target = app.screen.highlighted_key()
        await pilot.press("m")
        await until(pilot, lambda: status_of(app, target) == "fresh", "it materialized")
