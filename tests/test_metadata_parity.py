"""Dagster's metadata keys and types: ``TableColumnLineage`` / ``TableColumnDep``
(``dagster/column_lineage``), ``TableMetadataSet`` (``dagster/row_count``,
``dagster/column_schema``, ``dagster/table_name`` and its older name
``dagster/relation_identifier``) and ``UriMetadataSet`` (``dagster/uri``), stored through real
materializations and read back from the home's SQLite history."""

from __future__ import annotations

import asyncio
from typing import Any

import polars as pl
import pytest
from millrace import (
    AssetKey,
    AssetSpec,
    Definitions,
    MaterializeResult,
    MetadataValue,
    Runtime,
    TableColumn,
    TableColumnDep,
    TableColumnLineage,
    TableMetadataSet,
    TableSchema,
    UriMetadataSet,
    asset,
    materialize,
)
from millrace.errors import MetadataError

LINEAGE = TableColumnLineage(
    deps_by_column={
        "total": [TableColumnDep("orders", "amount"), TableColumnDep(["raw", "fx"], "rate")],
        "customer_id": [TableColumnDep(AssetKey("orders"), "customer_id")],
    }
)


def latest_metadata(assets: list[Any], key: str) -> dict[str, MetadataValue]:
    async def read() -> dict[str, MetadataValue]:
        async with Runtime(Definitions(assets=assets)) as runtime:
            record = await runtime.latest_materialization(key)
            assert record is not None
            return record.metadata

    return asyncio.run(read())


def test_column_lineage_and_table_metadata_are_stored_and_read_back() -> None:
    orders = AssetSpec("orders")

    @asset(deps=[orders])
    def totals() -> MaterializeResult:
        return MaterializeResult(
            metadata={
                **TableMetadataSet(
                    column_lineage=LINEAGE, row_count=42, table_name="warehouse.sales.totals"
                ),
                **UriMetadataSet(uri="s3://bucket/totals/"),
            }
        )

    assert materialize([orders, totals]).success
    stored = latest_metadata([orders, totals], "totals")

    assert stored["dagster/column_lineage"] == MetadataValue.column_lineage(LINEAGE)
    lineage = stored["dagster/column_lineage"].value
    assert lineage.deps_by_column["total"][1] == TableColumnDep(AssetKey(["raw", "fx"]), "rate")
    assert stored["dagster/row_count"] == MetadataValue.int(42)
    assert stored["dagster/table_name"] == MetadataValue.text("warehouse.sales.totals")
    assert stored["dagster/uri"] == MetadataValue.text("s3://bucket/totals/")
    table = TableMetadataSet.extract(stored)
    assert (table.row_count, table.table_name, table.column_lineage) == (
        42,
        "warehouse.sales.totals",
        LINEAGE,
    )
    assert UriMetadataSet.extract(stored).uri == "s3://bucket/totals/"


def test_a_bare_lineage_value_is_coerced_like_dagster_does() -> None:
    @asset
    def joined() -> MaterializeResult:
        return MaterializeResult(metadata={"dagster/column_lineage": LINEAGE})

    assert materialize([joined]).success
    assert latest_metadata([joined], "joined")["dagster/column_lineage"].value == LINEAGE


def test_frame_metadata_reads_as_a_table_metadata_set() -> None:
    @asset
    def frame() -> pl.DataFrame:
        return pl.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]})

    assert materialize([frame]).success
    table = TableMetadataSet.extract(latest_metadata([frame], "frame"))
    assert table.row_count == 3
    assert table.column_schema == TableSchema(
        [TableColumn("id", "Int64"), TableColumn("name", "String")]
    )


def test_relation_identifier_is_the_older_name_of_table_name() -> None:
    old = {"dagster/relation_identifier": MetadataValue.text("db.s.t")}
    assert TableMetadataSet.extract(old).table_name == "db.s.t"
    both = {**old, "dagster/table_name": MetadataValue.text("db.s.new")}
    assert TableMetadataSet.extract(both).table_name == "db.s.new"
    assert TableMetadataSet.extract({"other/row_count": 1, "dagster/row_count": 7}).row_count == 7


def test_a_metadata_set_is_a_mapping_of_its_set_fields_only() -> None:
    table = TableMetadataSet(row_count=5)
    assert dict(table) == {"dagster/row_count": MetadataValue.int(5)}
    assert table == TableMetadataSet(row_count=5) != TableMetadataSet(row_count=6)
    spec = AssetSpec("lake_file", metadata=UriMetadataSet(uri="file:///data/x.csv"))
    assert spec.metadata == {"dagster/uri": MetadataValue.text("file:///data/x.csv")}


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TableMetadataSet(row_count="5"), "row_count takes int, got '5'"),
        (lambda: TableMetadataSet(table_name=3), "table_name takes str"),
        (lambda: UriMetadataSet(uri=3), "uri takes str"),
        (
            lambda: TableColumnLineage({"total": ["orders.amount"]}),
            "column 'total' depends on 'orders.amount'; each dependency is a TableColumnDep",
        ),
        (lambda: MetadataValue.column_lineage({"a": []}), "takes a TableColumnLineage"),
    ],
)
def test_wrong_values_are_refused_where_they_are_made(make: Any, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        make()
