"""External and source assets as Dagster treats them: an undefined ``deps=`` key becomes an
external asset (never materialized, never an error unless strict), ``SourceAsset`` and
``@observable_source_asset``, ``observe()`` recording observations whose data version feeds
the staleness of what reads the source. Real runs, in each test's own home."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import warnings
from pathlib import Path
from typing import Any

import pytest
from conftest import write_source
from millrace import (
    AssetCheckResult,
    AssetKey,
    AssetSpec,
    AutomationCondition,
    DataVersion,
    DataVersionsByPartition,
    Definitions,
    ObserveResult,
    Runtime,
    SourceAsset,
    StaticPartitionsDefinition,
    asset,
    asset_check,
    materialize,
    observable_source_asset,
    observe,
)
from millrace.asset_graph import STRICT_DEPS_ENV, AssetGraph, ExternalDependencyWarning
from millrace.declarations.metadata_sets import AUTO_CREATED_STUB_ASSET
from millrace.errors import DefinitionsError, MillraceError, PartitionKeyError
from millrace.execution.observation import ObservationError
from millrace.runtime.loader import load_code_location
from millrace.versions.staleness import Status

SOURCE = AssetKey("source_bar")


@asset(deps=["source_bar"])
def uses_source() -> int:
    return 1


def statuses(assets: list[Any]) -> dict[str, tuple[Status, tuple[str, ...]]]:
    async def read() -> dict[str, tuple[Status, tuple[str, ...]]]:
        async with Runtime(Definitions(assets=assets)) as runtime:
            found = await runtime.status()
        return {
            k.to_user_string(): (a.status, tuple(c.message for c in a.causes))
            for k, a in found.items()
        }

    return asyncio.run(read())


# -- undefined dependencies ------------------------------------------------------------------


def test_an_undefined_dep_is_an_external_asset_never_materialized() -> None:
    defs = Definitions(assets=[uses_source])
    stub = defs.graph.nodes[SOURCE]
    assert isinstance(stub, AssetSpec) and not stub.is_executable
    assert stub.metadata[AUTO_CREATED_STUB_ASSET].value is True
    assert defs.graph.is_stub(SOURCE) and not defs.graph.is_stub(uses_source.key)
    assert defs.graph.upstream[uses_source.key] == (SOURCE,)
    assert stub.source == uses_source.source  # messages about it point at who named it

    result = materialize([uses_source])
    assert result.success
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [uses_source.key]
    assert statuses([uses_source]) == {
        "uses_source": (Status.FRESH, ()),
        "source_bar": (Status.FRESH, ()),
    }


def test_selecting_only_the_external_asset_runs_nothing() -> None:
    with pytest.raises(MillraceError, match=r"only external assets .*source_bar"):
        materialize([uses_source], selection="source_bar")


def test_strict_validation_makes_an_undefined_dep_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(DefinitionsError, match="depends on 'source_bar', which these"):
        AssetGraph([uses_source], strict=True)
    monkeypatch.setenv(STRICT_DEPS_ENV, "1")
    with pytest.raises(DefinitionsError, match=r"uses_source' \(.*\) depends on 'source_bar'"):
        Definitions(assets=[uses_source])


def test_a_near_miss_of_a_defined_key_warns_of_a_likely_typo() -> None:
    @asset
    def customer_features() -> int:
        return 1

    @asset(deps=["customer_feature"])
    def churn() -> int:
        return 1

    with pytest.warns(ExternalDependencyWarning, match="did you mean 'customer_features'"):
        defs = Definitions(assets=[customer_features, churn])
    assert defs.graph.is_stub(AssetKey("customer_feature"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Definitions(assets=[uses_source])  # nothing near: no warning


def test_a_value_read_from_an_undefined_key_is_still_an_error() -> None:
    @asset
    def reads(source_bar: int) -> int:
        return source_bar

    with pytest.raises(DefinitionsError, match=r"depends on 'source_bar'.*AssetSpec"):
        Definitions(assets=[reads, uses_source])  # one reads it, so no stub is made


def test_specs_and_checks_naming_undefined_keys_make_them_external() -> None:
    spec = AssetSpec("dashboard", deps=["warehouse_table"])

    @asset_check(asset="orders", additional_deps=["fx_rates"])
    def orders_arrived() -> AssetCheckResult:
        return AssetCheckResult(passed=True)

    defs = Definitions(assets=[spec], asset_checks=[orders_arrived])
    assert set(defs.graph.stubs) == {
        AssetKey("warehouse_table"),
        AssetKey("orders"),
        AssetKey("fx_rates"),
    }
    assert defs.graph.checks_by_asset[AssetKey("orders")] == [orders_arrived.key]


def test_the_loader_serves_code_with_an_undefined_dep(tmp_path: Path) -> None:
    write_source(
        tmp_path / "defs.py",
        """
        from millrace import Definitions, asset

        @asset(deps=["raw_events"])
        def sessions() -> int:
            return 1

        defs = Definitions(assets=[sessions])
        """,
    )
    defs = load_code_location(tmp_path / "defs.py").defs
    assert AssetKey("raw_events") in defs.graph.stubs


# -- SourceAsset and observations ------------------------------------------------------------

VERSION = {"value": "v1"}


@observable_source_asset(group_name="sources", metadata={"owner": "ingest"})
def raw_orders(context) -> DataVersion:
    """Orders the shop writes."""
    context.log.info("checking the file")
    return DataVersion(VERSION["value"])


@asset(deps=[raw_orders])
def orders_report() -> int:
    return 1


def test_observable_source_asset_takes_dagster_arguments() -> None:
    assert isinstance(raw_orders, SourceAsset) and raw_orders.is_observable
    assert raw_orders.key == AssetKey("raw_orders")
    assert raw_orders.group_name == "sources"
    assert raw_orders.description == "Orders the shop writes."
    assert raw_orders.metadata["owner"].value == "ingest"
    assert not raw_orders.is_executable
    legacy = SourceAsset(key=["lake", "events"], io_manager_key="lake_io", description="events")
    assert (legacy.key, legacy.io_manager_key, legacy.is_observable) == (
        AssetKey(["lake", "events"]),
        "lake_io",
        False,
    )


def test_observe_records_the_data_version_and_staleness_follows_it(db: Any) -> None:
    VERSION["value"] = "v1"
    first = observe([raw_orders])
    assert first.success and first.data_version("raw_orders") == "v1"
    [observation] = first.get_asset_observation_events()
    assert observation.tags == {"dagster/data_version": "v1"}
    assert [e.kind for e in first.all_events] == [  # a run's result keeps no log lines
        "RUN_STARTED",
        "STEP_STARTED",
        "ASSET_OBSERVATION",
        "STEP_SUCCEEDED",
        "RUN_FINISHED",
    ]

    assert materialize([raw_orders, orders_report]).success
    assert statuses([raw_orders, orders_report])["orders_report"] == (Status.FRESH, ())

    observe([raw_orders])  # same data version: nothing changed
    assert statuses([raw_orders, orders_report])["orders_report"] == (Status.FRESH, ())

    VERSION["value"] = "v2"
    observe([raw_orders])
    assert statuses([raw_orders, orders_report]) == {
        "raw_orders": (Status.FRESH, ()),
        "orders_report": (Status.STALE, ("upstream raw_orders has a new data version",)),
    }
    consumed = db.value(
        "SELECT data_version FROM materialization_inputs WHERE asset_key = 'raw_orders'"
    )
    assert consumed == "v1"
    row = db.rows(
        "SELECT data_version, observed, code_version FROM latest_materializations"
        " WHERE asset_key = 'raw_orders'"
    )
    assert row == [("v2", 1, None)]

    assert materialize([raw_orders, orders_report]).success
    assert statuses([raw_orders, orders_report])["orders_report"] == (Status.FRESH, ())


def test_an_observe_result_carries_metadata_and_tags() -> None:
    @observable_source_asset
    def bucket() -> ObserveResult:
        return ObserveResult(
            data_version=DataVersion("etag-9"), metadata={"files": 3}, tags={"by": "lister"}
        )

    [event] = observe([bucket]).get_asset_observation_events()
    assert event.data_version == "etag-9"
    assert event.metadata["files"].value == 3
    assert event.tags == {"by": "lister", "dagster/data_version": "etag-9"}


def test_partitioned_source_observed_by_partition_drives_partition_staleness() -> None:
    regions = StaticPartitionsDefinition(["north", "south"])
    versions = {"north": "n1", "south": "s1"}

    @observable_source_asset(partitions_def=regions)
    def regional_feed() -> DataVersionsByPartition:
        return DataVersionsByPartition(dict(versions))

    @asset(partitions_def=regions, deps=[regional_feed])
    def regional_report() -> int:
        return 1

    result = observe([regional_feed])
    assert {(e.partition_key, e.data_version) for e in result.get_asset_observation_events()} == {
        ("north", "n1"),
        ("south", "s1"),
    }
    for key in ("north", "south"):
        assert materialize([regional_feed, regional_report], partition_key=key).success
    versions["south"] = "s2"
    observe([regional_feed])

    async def partitions() -> dict[str, Any]:
        async with Runtime(Definitions(assets=[regional_feed, regional_report])) as runtime:
            found = await runtime.partition_status(regional_report.key)
        return found[regional_report.key]

    report = asyncio.run(partitions())
    assert "north" not in report.status  # fresh
    assert report.status["south"] is Status.STALE
    assert report.causes["south"].message == (
        "upstream regional_feed partition south has a new data version"
    )


@pytest.mark.parametrize(
    ("returned", "error", "message"),
    [
        (None, ObservationError, "returns a DataVersion, a DataVersionsByPartition or an"),
        ("v1", ObservationError, "it returned str: 'v1'"),
        (
            DataVersionsByPartition({"x": "1"}),
            ObservationError,
            "returned DataVersionsByPartition, but it has no partitions_def",
        ),
        (ObserveResult(asset_key="other"), ObservationError, "it observes only itself"),
    ],
)
def test_a_wrong_observation_fails_its_step_clearly(
    returned: Any, error: type[Exception], message: str
) -> None:
    @observable_source_asset
    def odd_source() -> Any:
        return returned

    with pytest.raises(error, match=message):
        observe([odd_source])
    result = observe([odd_source], raise_on_error=False)
    assert not result.success
    failure = str(result.partition_exceptions[(odd_source.key, None)])
    assert re.search(r"source asset 'odd_source' \(\S*test_external_assets.py:\d+\)", failure)


def test_an_unknown_partition_is_refused_with_the_nearest_keys() -> None:
    @observable_source_asset(partitions_def=StaticPartitionsDefinition(["north"]))
    def feed() -> DataVersionsByPartition:
        return DataVersionsByPartition({"nort": "1"})

    with pytest.raises(PartitionKeyError, match="north"):
        observe([feed])


def test_observe_uses_the_resources_it_names() -> None:
    class Lister:
        def etag(self) -> str:
            return "e-1"

    @observable_source_asset(required_resource_keys={"lister"})
    def listed(context) -> DataVersion:
        return DataVersion(context.resources.lister.etag())

    assert observe([listed], resources={"lister": Lister()}).data_version("listed") == "e-1"
    with pytest.raises(DefinitionsError, match="requires resource 'lister'"):
        observe([listed])


def test_observe_needs_an_observable_source() -> None:
    with pytest.raises(MillraceError, match=r"no observable source asset .*given: uses_source"):
        observe([uses_source])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"io_manager_def": object()}, "io_manager_def is not supported"),
        ({"resource_defs": {"x": 1}}, "resource_defs is not supported"),
        ({"auto_observe_interval_minutes": 5}, "auto_observe_interval_minutes is not supported"),
        (
            {"observe_fn": lambda: None, "automation_condition": AutomationCondition.eager()},
            "automation_condition on an observable source asset is not supported",
        ),
    ],
)
def test_unsupported_source_asset_arguments_say_so(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionsError, match=f"source asset 'x' .*{message}"):
        SourceAsset("x", **kwargs)


def test_an_observation_function_reads_no_asset() -> None:
    with pytest.raises(DefinitionsError, match=r"takes only `context` and resources, not \(up\)"):

        @observable_source_asset
        def reads_up(up: int) -> DataVersion:
            return DataVersion("x")


def test_a_v11_home_migrates_and_its_materializations_stay_materializations(
    home: Path, db: Any
) -> None:
    assert materialize([uses_source]).success
    with sqlite3.connect(home / "millrace.db") as conn:  # as Millrace before v12 left it
        conn.execute("ALTER TABLE latest_materializations DROP COLUMN observed")
        conn.execute("PRAGMA user_version = 11")
    VERSION["value"] = "v1"
    observe([raw_orders])

    assert db.value("PRAGMA user_version") == 12
    assert db.rows("SELECT asset_key, observed FROM latest_materializations ORDER BY 1") == [
        ("raw_orders", 1),
        ("uses_source", 0),
    ]


# -- the terminal UI -------------------------------------------------------------------------

SOURCES = """
    from millrace import DataVersion, MaterializeResult, TableColumnDep, TableColumnLineage
    from millrace import asset, observable_source_asset

    @observable_source_asset(group_name="raw")
    def shop_feed() -> DataVersion:
        return DataVersion("etag-1")

    @asset(deps=[shop_feed, "ledger"])
    def revenue() -> MaterializeResult:
        lineage = TableColumnLineage({"total": [TableColumnDep("ledger", "amount")]})
        return MaterializeResult(
            metadata={"dagster/column_lineage": lineage, "dagster/uri": "s3://lake/revenue"}
        )
"""


async def test_the_tui_shows_external_assets_and_m_observes_a_source(
    tmp_path: Path, home: Path
) -> None:
    from millrace.tui.screens.asset import AssetScreen
    from millrace.tui.widgets.metadata_view import MetadataView
    from textual.widgets import DataTable, Static
    from tui_harness import running_app, until, write_project

    project = write_project(tmp_path, SOURCES)
    async with running_app(project, home) as (app, pilot):
        table = app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count == 3, "the catalog")
        status = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[3]) for i in range(3)}
        assert status == {"shop_feed": "external", "ledger": "external", "revenue": "fresh"}

        await app.push_screen(AssetScreen(AssetKey("ledger")))
        await until(pilot, lambda: _facts(app, "ledger") is not None, "the ledger's screen")
        assert "not defined in this code: asset 'revenue' (" in (_facts(app, "ledger") or "")

        await app.push_screen(AssetScreen(AssetKey("shop_feed")))
        await until(pilot, lambda: "m observes it" in (_facts(app, "shop_feed") or ""), "facts")
        await pilot.press("m")
        await until(
            pilot,
            lambda: "last observed" in (_facts(app, "shop_feed") or ""),
            "the observation",
        )
        assert "data version etag-1" in (_facts(app, "shop_feed") or "")

        await app.push_screen(AssetScreen(AssetKey("revenue")))
        view = app.screen.query_one(MetadataView)
        await until(pilot, lambda: len(view.query(".value")) >= 3, "revenue's metadata")
        labels = [str(w.render()) for w in view.query(".label").results(Static)]
        assert {"dagster/column_lineage", "dagster/uri"} <= set(labels)
        [uri] = [w for w in view.query(".value").results(Static) if "s3://" in str(w.render())]
        assert "link s3://lake/revenue" in str(uri.render().spans)  # type: ignore[union-attr]


def test_column_lineage_renders_as_each_column_and_where_it_comes_from() -> None:
    import io

    from millrace import MetadataValue, TableColumnDep, TableColumnLineage
    from millrace.tui.widgets.metadata_view import rendered
    from rich.console import Console

    lineage = TableColumnLineage(
        {
            "total": [TableColumnDep("orders", "amount"), TableColumnDep(["raw", "fx"], "rate")],
            "constant": [],
        }
    )
    console = Console(file=io.StringIO(), width=80, record=True)
    console.print(rendered(MetadataValue.column_lineage(lineage)))
    lines = [line.split() for line in console.export_text().splitlines() if line.strip()]
    assert lines[0] == ["column", "from"]
    assert ["total", "orders.amount,", "raw/fx.rate"] in lines
    assert ["constant", "nothing"] in lines


def _facts(app: Any, name: str) -> str | None:
    from millrace.tui.screens.asset import AssetScreen
    from textual.widgets import Static

    screen = app.screen
    if not isinstance(screen, AssetScreen) or screen.name_ != name or screen.state is None:
        return None
    return str(screen.query_one("#facts", Static).render())


def test_a_dynamic_partitioned_source_is_observed_against_the_homes_keys() -> None:
    from millrace import DynamicPartitionsDefinition

    files = DynamicPartitionsDefinition(name="files")

    @observable_source_asset(partitions_def=files)
    def landed(context) -> DataVersionsByPartition:
        context.instance.add_dynamic_partitions("files", ["a.csv"])
        return DataVersionsByPartition({"a.csv": "size-10"})

    [event] = observe([landed]).get_asset_observation_events()
    assert (event.partition_key, event.data_version) == ("a.csv", "size-10")

    @observable_source_asset(partitions_def=files)
    def unknown_file() -> DataVersionsByPartition:
        return DataVersionsByPartition({"b.csv": "1"})

    with pytest.raises(PartitionKeyError, match=r"b\.csv"):
        observe([unknown_file])
