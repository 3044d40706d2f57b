"""The asset screen, driven through the real app and Textual's Pilot, and one snapshot of it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from millrace.declarations.keys import AssetKey
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui import app as app_module
from millrace.tui.app import MillraceApp
from millrace.tui.screens.asset import AssetScreen
from millrace.tui.screens.lineage import LineageScreen
from millrace.tui.widgets.metadata_view import MetadataView
from millrace.tui.widgets.preview import FramePreview, float_text
from textual.pilot import Pilot
from textual.widgets import DataTable, Markdown, OptionList, Static, Tree
from tui_harness import PROJECT, SIZE, running_app, until, write_project

DESCRIBED = PROJECT.replace(
    '@asset(group_name="raw", kinds=["polars"])',
    '@asset(group_name="raw", kinds=["polars"], description="Three numbers, one name missing")',
)

# For the snapshot and the metadata: every value fixed (explicit code versions, no clock in
# what is shown). Materialized with orders at version 1, then shown with version 2, so
# totals is stale through its upstream, with a root cause.
SHOP = """
    import polars as pl
    from millrace import AssetSpec, MetadataValue, Output, asset

    orders_feed = AssetSpec("orders_feed", description="What the shop exports", group_name="raw")

    @asset(deps=[orders_feed], group_name="raw", kinds=["polars"], code_version="{version}")
    def orders() -> pl.DataFrame:
        return pl.DataFrame(
            {{"customer": ["ana", "bo", "cy", "ana"], "amount": [12.5, None, 7.0, 3.25]}}
        )

    @asset(
        group_name="features",
        kinds=["polars"],
        owners=["team:analytics", "ana@example.com"],
        tags={{"tier": "gold"}},
        code_version="1",
    )
    def totals(orders: pl.DataFrame):
        \"\"\"Spend per customer: what the weekly report reads.\"\"\"
        df = (
            orders.group_by("customer")
            .agg(spend=pl.col("amount").sum(), first=pl.col("amount").first())
            .sort("customer")
        )
        return Output(df, metadata={{
            "summary": MetadataValue.md("**3** customers, one without a first amount"),
            "dashboard": MetadataValue.url("https://example.com/d/totals"),
            "spend": MetadataValue.float(22.75),
        }})

    @asset(group_name="reports", code_version="1")
    def report(totals: pl.DataFrame) -> str:
        return f"{{totals.height}} customers"
"""


def shop(root: Path, version: str = "1") -> Path:
    return write_project(root, SHOP.format(version=version))


def key(name: str) -> AssetKey:
    return AssetKey.from_user_string(name)


def read(app: MillraceApp, name: str) -> bool:
    """The asset's screen is in front and has read everything it asked for."""
    screen = app.screen
    return (
        isinstance(screen, AssetScreen)
        and screen.name_ == name
        and screen.state is not None
        and not any(w.node is screen and not w.is_finished for w in app.workers)
    )


async def opened(app: MillraceApp, pilot: Pilot[Any], name: str) -> AssetScreen:
    await until(pilot, lambda: read(app, name), f"the screen of {name}")
    assert isinstance(app.screen, AssetScreen)
    return app.screen


def cells(table: DataTable[Any]) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


def options(screen: AssetScreen, side: str) -> list[str | None]:
    listed = screen.query_one(f"#{side}", OptionList)
    return [listed.get_option_at_index(i).id for i in range(listed.option_count)]


def history(screen: AssetScreen) -> DataTable[Any]:
    return screen.query_one("#history-table", DataTable)


async def test_enter_on_alpha_in_the_catalog_shows_what_it_is_and_what_it_stored(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path, DESCRIBED), home) as (app, pilot):
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 3, "the catalog")
        await pilot.press("enter")  # the first row: alpha
        screen = await opened(app, pilot, "alpha")

        facts = str(screen.query_one("#facts", Static).render())
        assert "Three numbers, one name missing" in facts
        assert "polars" in facts and "raw" in facts and "up to date" in facts
        preview = screen.query_one(FramePreview).query_one(DataTable)
        assert cells(preview) == [["1", "a"], ["2", "null"], ["3", "c"]]
        assert "dim" in str(preview.get_cell_at((1, 1)).style)  # a null is not the text "null"
        assert len(cells(history(screen))) == 1
        assert options(screen, "downstream") == ["beta_mid"]
        tree = screen.query_one(Tree)
        assert str(tree.root.label).startswith("alpha  code ")
        assert not tree.root.children  # alpha consumed nothing


async def test_downstream_and_lineage_are_jumped_through_escape_comes_back_l_draws_it(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await app.push_screen(AssetScreen(key("alpha")))
        screen = await opened(app, pilot, "alpha")
        screen.query_one("#downstream", OptionList).focus()
        await pilot.press("enter")
        beta = await opened(app, pilot, "beta_mid")

        assert options(beta, "upstream") == ["alpha"]
        tree = beta.query_one(Tree)
        assert [str(n.label).split()[0] for n in tree.root.children] == ["alpha"]
        assert [r[1:3] for r in cells(beta.query_one("#checks-table", DataTable))] == [
            ["has_rows", "passed"]
        ]
        tree.focus()
        tree.move_cursor(tree.root.children[0])
        await pilot.press("enter")  # the materialization of alpha it consumed
        await opened(app, pilot, "alpha")
        await pilot.press("escape", "escape")
        await until(pilot, lambda: app.screen is screen, "back to alpha")
        await pilot.press("l")
        await until(pilot, lambda: isinstance(app.screen, LineageScreen), "its lineage")


async def test_a_read_that_finishes_after_its_screen_closed_fills_nothing(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(write_project(tmp_path), home) as (app, pilot):
        await until(pilot, lambda: app.screen.query_one(DataTable).row_count == 3, "the catalog")
        await pilot.press("enter")
        screen = await opened(app, pilot, "alpha")
        answer: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        reading = asyncio.ensure_future(screen.fetch(answer))
        await pilot.press("escape")
        await until(pilot, lambda: screen.closing, "the screen closed")
        answer.set_result("rows")
        try:
            await reading
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the read went on to fill a closed screen")
        assert app.screen.query_one(DataTable).row_count == 3  # the catalog, unharmed


async def test_m_materializes_the_asset_and_its_history_grows(tmp_path: Path, home: Path) -> None:
    async with running_app(write_project(tmp_path), home, materialized=False) as (app, pilot):
        await app.push_screen(AssetScreen(key("alpha")))
        screen = await opened(app, pilot, "alpha")
        assert "has never been materialized" in str(screen.query_one("#facts", Static).render())
        caption = screen.query_one(FramePreview).query_one(".caption", Static)
        assert "never materialized" in str(caption.render())
        assert str(screen.query_one(Tree).root.label) == "alpha  never materialized"
        assert str(screen.query_one("#rows-note", Static).render()) == "not recorded"

        await pilot.press("m")
        await until(pilot, lambda: len(cells(history(screen))) == 1, "a materialization")
        first = cells(history(screen))
        await pilot.press("m")
        await until(pilot, lambda: len(cells(history(screen))) == 2, "a second materialization")
        assert cells(history(screen))[1][:4] == first[0][:4]  # newest first: time, run, versions
        assert str(screen.query_one("#rows-note", Static).render()).startswith("3")
        assert len(cells(screen.query_one(FramePreview).query_one(DataTable))) == 3


async def test_metadata_reads_as_its_types_and_external_assets_say_why_m_does_nothing(
    tmp_path: Path, home: Path
) -> None:
    async with running_app(shop(tmp_path), home) as (app, pilot):
        await app.push_screen(AssetScreen(key("totals")))
        screen = await opened(app, pilot, "totals")
        view = screen.query_one(MetadataView)
        labels = [str(s.render()) for s in view.query(".label").results(Static)]
        assert labels[:3] == ["summary", "dashboard", "spend"]  # the asset's own first
        assert {"dagster/row_count", "dagster/column_schema", "millrace/preview"} <= set(labels)
        assert view.query_one(Markdown).source.startswith("**3** customers")
        values = {str(s.render()) for s in view.query(".value").results(Static)}
        assert {"https://example.com/d/totals", "22.75", "3"} <= values

        await app.push_screen(AssetScreen(key("orders_feed")))
        feed = await opened(app, pilot, "orders_feed")
        assert "external" in str(feed.query_one("#facts", Static).render())
        await pilot.press("m")
        await until(
            pilot,
            lambda: any("is external" in str(n.message) for n in app._notifications),
            "the reason",
        )


class OwnLoop(MillraceApp):
    """The app with its runtime started and closed on the app's own loop: snap_compare runs
    the app in a loop of its own."""

    CSS_PATH = str(Path(app_module.__file__).with_name(MillraceApp.CSS_PATH))  # beside the app

    async def on_load(self) -> None:
        await self.runtime.start()

    async def on_unmount(self) -> None:
        await self.runtime.close()


def test_snapshot_of_a_stale_asset(tmp_path: Path, home: Path, snap_compare: Any) -> None:
    async def materialize() -> None:
        async with Runtime(load_code_location(project), home=home) as runtime:
            assert (await runtime.materialize()).success

    project = shop(tmp_path)
    asyncio.run(materialize())
    shop(tmp_path, version="2")
    app = OwnLoop(Runtime(load_code_location(project), home=home))

    async def open_totals(pilot: Pilot[Any]) -> None:
        await app.push_screen(AssetScreen(key("totals")))
        await opened(app, pilot, "totals")

    # The preview tab: the times, run ids and paths of the other tabs change between runs.
    assert snap_compare(app, terminal_size=SIZE, run_before=open_totals)


def test_floats_read_as_numbers_not_binary_noise() -> None:
    assert float_text(554.3199999999999) == "554.32"
    assert float_text(45.64826086956522) == "45.648261"
    assert float_text(1.5) == "1.5"
    assert float_text(1.2345678901234e-07) == "1.23457e-07"
    assert float_text(float("nan")) == "nan"
