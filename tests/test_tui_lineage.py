"""The lineage screen: the layered layout on its own, then the screen through the real app."""

from __future__ import annotations

import asyncio
import random
from itertools import pairwise
from pathlib import Path
from typing import Any

from millrace.declarations.keys import AssetKey
from millrace.runtime.loader import load_code_location
from millrace.runtime.runtime import Runtime
from millrace.tui import app as app_module
from millrace.tui.app import MillraceApp
from millrace.tui.commands import run_command
from millrace.tui.layout import BOX_HEIGHT, Layout, layered_layout
from millrace.tui.screens.catalog import CatalogScreen
from millrace.tui.screens.lineage import Folded, LineageScreen
from millrace.tui.widgets.dag import CROSSING, DagView
from textual.pilot import Pilot
from textual.widgets import DataTable, Static
from tui_harness import SIZE, running_app, until, write_project

# -- the layout ----------------------------------------------------------------------------


def random_graph(
    n: int, seed: int, cycles: bool = False
) -> tuple[list[str], list[tuple[str, str]]]:
    """Each node takes one to three upstreams, mostly recent ones (a pipeline's shape);
    with ``cycles``, some edges point back."""
    rnd = random.Random(seed)
    nodes = [f"asset_{i}" + "_x" * rnd.randint(0, 4) for i in range(n)]
    edges = []
    for i in range(1, n):
        for _ in range(rnd.choice([1, 1, 1, 2, 2, 3])):
            j = i - 1 - min(int(rnd.expovariate(1 / 20)), i - 1)
            a, b = (nodes[i], nodes[j]) if cycles and rnd.random() < 0.1 else (nodes[j], nodes[i])
            edges.append((a, b))
    return nodes, edges


def cells(route_points: tuple[tuple[int, int], ...]) -> dict[tuple[int, int], str]:
    """Every cell of a route but its two ends (on the borders), as "-" or "|" or "+"
    (a corner)."""
    out: dict[tuple[int, int], str] = {}
    for (x0, y0), (x1, y1) in pairwise(route_points):
        assert x0 == x1 or y0 == y1, "routes are orthogonal"
        if x0 == x1:
            run = [(x0, y) for y in range(min(y0, y1), max(y0, y1) + 1)]
        else:
            run = [(x, y0) for x in range(min(x0, x1), max(x0, x1) + 1)]
        for cell in run:
            line = "|" if x0 == x1 else "-"
            out[cell] = "+" if cell in out and out[cell] != line else line
    for end in (route_points[0], route_points[-1]):
        out.pop(end)
    return out


def check_drawing(layout: Layout) -> int:
    """No two boxes overlap, no route runs through a box, each ends on the borders of its
    boxes, and two routes meet only where one runs across and the other down: a crossing.
    Returns the crossings."""
    taken: set[tuple[int, int]] = set()
    for box in layout.boxes.values():
        area = {(box.x + dx, box.y + dy) for dx in range(box.width) for dy in range(BOX_HEIGHT)}
        assert not area & taken, f"{box.node} overlaps another box"
        taken |= area
    seen: dict[tuple[int, int], str] = {}
    crossings = 0
    for route in layout.routes:
        upper, lower = (route.head, route.tail) if route.upward else (route.tail, route.head)
        ub, lb = layout.boxes[upper], layout.boxes[lower]
        (ux, uy), (lx, ly) = route.points[0], route.points[-1]
        assert uy == ub.y + BOX_HEIGHT - 1 and ub.x < ux < ub.x + ub.width - 1
        assert ly == lb.y and lb.x < lx < lb.x + lb.width - 1
        for cell, line in cells(route.points).items():
            assert cell not in taken, f"{route.tail} -> {route.head} runs through a box"
            if cell in seen:
                assert {seen[cell], line} == {"-", "|"}, f"two routes share {cell}"
                crossings += 1
            seen[cell] = line
    return crossings


def test_layers_follow_the_edges_and_long_edges_pass_between_the_boxes() -> None:
    nodes, edges = random_graph(300, seed=1)
    layout = layered_layout(nodes, edges)
    for a, b in edges:
        assert layout.boxes[a].layer < layout.boxes[b].layer
    assert {n for layer in layout.layers for n in layer} == set(nodes)

    # a -> d passes the layers of b and c through a dummy on each: beside their boxes
    layout = layered_layout(list("abcd"), [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d")])
    assert [layout.boxes[n].layer for n in "abcd"] == [0, 1, 2, 3]
    long = next(r for r in layout.routes if (r.tail, r.head) == ("a", "d"))
    rows = {y for _, y in cells(long.points)}
    assert {layout.boxes["b"].y + 1, layout.boxes["c"].y + 1} <= rows
    check_drawing(layout)


def test_barycenter_sweeps_remove_the_crossings_of_the_first_order() -> None:
    nodes = ["a", "b", "x", "z", "y"]
    edges = [("a", "x"), ("a", "z"), ("b", "y"), ("b", "x")]
    assert layered_layout(nodes, edges, sweeps=0).crossings == 1  # z sits between x and y
    layout = layered_layout(nodes, edges)
    assert layout.crossings == 0
    assert layout.layers[1] == ("z", "x", "y")


def test_no_box_overlaps_and_edges_never_share_a_cell() -> None:
    crossings = 0
    for seed in range(30):
        nodes, edges = random_graph(random.Random(seed).randint(2, 60), seed, cycles=seed % 2 == 1)
        crossings += check_drawing(layered_layout(nodes, edges))
    assert crossings  # some were drawn, and each as a crossing, not a join


def test_an_edge_closing_a_cycle_is_drawn_upwards() -> None:
    layout = layered_layout(["a", "b", "c"], [("a", "b"), ("b", "c"), ("c", "a")])
    upward = [(r.tail, r.head) for r in layout.routes if r.upward]
    assert upward == [("c", "a")]
    check_drawing(layout)


def test_two_thousand_nodes_are_laid_out_and_drawn_cleanly() -> None:
    nodes, edges = random_graph(2000, seed=7)  # its time: bench/tui.py
    layout = layered_layout(nodes, edges)
    assert len(layout.boxes) == 2000
    check_drawing(layout)


# -- the screen ----------------------------------------------------------------------------

PROJECT = """
    from millrace import asset

    @asset(group_name="raw")
    def orders() -> int:
        return 1

    @asset(group_name="raw")
    def customers() -> int:
        return 2

    @asset(group_name="clean")
    def clean_orders(orders: int) -> int:
        return orders

    @asset(group_name="clean")
    def clean_customers(customers: int) -> int:
        return customers

    @asset(group_name="mart")
    def joined(clean_orders: int, clean_customers: int) -> int:
        return clean_orders + clean_customers

    @asset(group_name="mart")
    def enriched(clean_orders: int, clean_customers: int) -> int:
        return clean_orders * clean_customers

    @asset(group_name="mart")
    def features(joined: int, enriched: int, orders: int) -> int:
        return joined + enriched + orders

    @asset(group_name="out")
    def model(features: int) -> int:
        raise ValueError("the fit diverged")

    @asset(group_name="out")
    def audit(features: int) -> None:
        pass

    @asset(group_name="out")
    def report(joined: int) -> int:
        return joined

    @asset(group_name="other")
    def unrelated() -> int:
        return 0
"""
LINEAGE = {"orders", "customers", "clean_orders", "clean_customers", "joined", "enriched",
           "features", "model", "audit"}  # fmt: skip


def key(name: str) -> AssetKey:
    return AssetKey(name)


async def materialize_most(project: Path, home: Path) -> None:
    """Everything up to model (which fails); audit, report and unrelated never run."""
    async with Runtime(load_code_location(project), home=home) as runtime:
        ran = await runtime.materialize(sorted(LINEAGE - {"audit"}))
        assert not ran.success


async def open_lineage(app: MillraceApp, pilot: Pilot[Any], name: str) -> LineageScreen:
    """From the catalog: highlight ``name``, press ``l``, wait for the graph and statuses."""
    await until(pilot, lambda: _catalog_has(app, name), "the catalog")
    table = app.screen.query_one(DataTable)
    table.move_cursor(row=table.get_row_index(name))
    await pilot.press("l")

    def drawn() -> bool:
        screen = app.screen
        return (
            isinstance(screen, LineageScreen)
            and screen.dag.drawn is not None
            and bool(screen.statuses)
        )

    await until(pilot, drawn, "the lineage")
    screen = app.screen
    assert isinstance(screen, LineageScreen)
    return screen


def _catalog_has(app: MillraceApp, name: str) -> bool:
    screen = app.screen
    return isinstance(screen, CatalogScreen) and name in screen.query_one(DataTable).rows


def shown(dag: DagView) -> set[Any]:
    return set(dag.drawn.boxes) if dag.drawn is not None else set()


def warned(app: MillraceApp, text: str) -> bool:
    return any(text in str(n.message) for n in app._notifications)


async def test_l_draws_the_lineage_and_the_arrows_follow_its_edges(
    tmp_path: Path, home: Path
) -> None:
    project = write_project(tmp_path, PROJECT)
    async with running_app(project, home, materialized=False) as (app, pilot):
        screen = await open_lineage(app, pilot, "features")
        dag = screen.dag
        assert dag.drawn is not None
        assert {k.to_user_string() for k in dag.drawn.boxes} == LINEAGE  # no report, unrelated
        assert dag.cursor == key("features")
        drawing = "\n".join(dag.render_line(y).text for y in range(dag.size.height))
        assert CROSSING in drawing and "┼" not in drawing  # clean_* to joined and enriched
        assert "lineage of features: 6 upstream, 2 downstream" in str(
            screen.query_one("#header").render()
        )

        await pilot.press("up")
        assert dag.cursor in {key("joined"), key("enriched")}
        came_from = dag.cursor
        await pilot.press("up")
        assert dag.cursor in {key("clean_orders"), key("clean_customers")}
        await pilot.press("down")
        assert dag.cursor == came_from  # back the way it came
        await pilot.press("down", "down")
        assert dag.cursor in {key("model"), key("audit")}
        await pilot.press("down")
        await until(pilot, lambda: warned(app, "has no downstream here"), "the reason")
        below = dag.cursor
        leftmost = dag.drawn.layers[dag.drawn.boxes[below].layer][0] == below
        await pilot.press("right" if leftmost else "left")
        assert {below, dag.cursor} == {key("model"), key("audit")}

        await pilot.press("escape")
        assert isinstance(app.screen, CatalogScreen)

        await run_command(app, "lineage nosuch")  # an asset the code does not define
        await until(pilot, lambda: warned(app, "No asset named 'nosuch'"), "the reason")
        assert isinstance(app.screen, CatalogScreen)  # said, not opened


async def test_boxes_take_their_status_and_follow_the_runtime(tmp_path: Path, home: Path) -> None:
    project = write_project(tmp_path, PROJECT)
    await materialize_most(project, home)
    async with running_app(project, home, materialized=False) as (app, pilot):
        screen = await open_lineage(app, pilot, "features")
        statuses = {name: screen.status_of(key(name)) for name in LINEAGE}
        assert statuses["features"] == "fresh"
        assert statuses["model"] == "failed"
        assert statuses["audit"] == "missing"
        await pilot.press("down")  # from features to model or audit, side by side below it
        for side in ("left", "right"):
            if screen.dag.cursor != key("model"):
                await pilot.press(side)
        assert screen.dag.cursor == key("model")
        await until(
            pilot,
            lambda: "the fit diverged" in str(screen.query_one("#header", Static).render()),
            "the failure in the header",
        )

        assert (await app.runtime.materialize(["audit"])).success
        await until(pilot, lambda: screen.status_of(key("audit")) == "fresh", "audit fresh")


FOLDING = """
    from millrace import Definitions, asset

    def chain():
        made, last = [], None
        for g in range(5):
            for i in range(13):
                name = f"g{g}_{i}"

                @asset(name=name, group_name=f"g{g}", deps=[last] if last else None)
                def step() -> None:
                    return None

                made.append(step)
                last = name
        return made

    defs = Definitions(assets=chain())
"""


async def test_a_big_lineage_folds_other_groups_and_e_expands_one(
    tmp_path: Path, home: Path
) -> None:
    project = write_project(tmp_path, FOLDING)  # 65 assets in one chain, 13 per group
    async with running_app(project, home, materialized=False) as (app, pilot):
        screen = await open_lineage(app, pilot, "g2_6")
        dag = screen.dag
        assert dag.drawn is not None
        assert [n for n in dag.drawn.boxes if isinstance(n, Folded)] == [
            Folded("g0"), Folded("g1"), Folded("g3"), Folded("g4")
        ]  # fmt: skip
        assert len(dag.drawn.boxes) == 13 + 4

        await pilot.press(*["up"] * 7)  # along g2 to its first asset, then into g1's box
        assert dag.cursor == Folded("g1")
        await pilot.press("enter")
        await until(pilot, lambda: warned(app, "g1 is a folded group: e expands it"), "why")

        await pilot.press("e")
        await until(pilot, lambda: key("g1_0") in shown(dag), "g1 expanded")
        assert len(dag.drawn.boxes) == 13 * 2 + 3
        assert dag.cursor == key("g1_0")

        await pilot.press("e")  # on an asset of an expanded group: folds it again
        await until(pilot, lambda: Folded("g1") in shown(dag), "g1 folded")
        assert dag.cursor == Folded("g1")


class _SnapshotApp(MillraceApp):
    """snap_compare runs the app in an event loop of its own, so the Runtime starts and
    closes in it: Textual calls these before MillraceApp's own on_mount, and as it ends."""

    CSS_PATH = str(Path(app_module.__file__).with_name(MillraceApp.CSS_PATH))  # beside the app

    async def on_mount(self) -> None:
        await self.runtime.start()

    async def on_unmount(self) -> None:
        await self.runtime.close()


def test_the_lineage_screen_looks_the_same(tmp_path: Path, home: Path, snap_compare: Any) -> None:
    project = write_project(tmp_path, PROJECT)
    asyncio.run(materialize_most(project, home))
    app = _SnapshotApp(Runtime(load_code_location(project), home=home))

    async def navigate(pilot: Pilot[Any]) -> None:
        screen = await open_lineage(app, pilot, "features")
        await pilot.press("up")  # the cursor on an upstream, its edges lit
        await until(pilot, lambda: screen.dag.cursor != key("features"), "the cursor moved")

    assert snap_compare(app, terminal_size=SIZE, run_before=navigate)
