"""Automatic frame metadata: row count, Polars-named column schema and a JSON-safe preview."""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from millrace import AssetKey, MetadataValue
from millrace.execution.typecheck import column_schema_differences
from millrace.frames.metadata import frame_metadata
from millrace.storage.io_managers import InputContext, OutputContext, ParquetIOManager

FRAME = pl.DataFrame(
    {
        "id": list(range(8)),
        "name": [f"n{i}" for i in range(8)],
        "amount": [i / 2 for i in range(8)],
        "day": [dt.date(2024, 1, 1 + i) for i in range(8)],
    }
)


def schema_of(metadata: dict[str, MetadataValue]) -> list[tuple[str, str]]:
    value = metadata["dagster/column_schema"]
    assert value.type == "table_schema"
    return [(c.name, c.type) for c in value.value.columns]


def preview_of(metadata: dict[str, MetadataValue]) -> list[dict[str, Any]]:
    value = metadata["millrace/preview"]
    assert value.type == "table"
    return [dict(r.data) for r in value.value["records"]]


def test_polars_frame() -> None:
    metadata = frame_metadata(FRAME)
    assert metadata is not None
    assert list(metadata) == ["dagster/row_count", "dagster/column_schema", "millrace/preview"]
    assert metadata["dagster/row_count"] == MetadataValue.int(8)
    assert schema_of(metadata) == [
        ("id", "Int64"),
        ("name", "String"),
        ("amount", "Float64"),
        ("day", "Date"),
    ]
    preview = preview_of(metadata)
    assert len(preview) == 5
    assert preview[1] == {"id": 1, "name": "n1", "amount": 0.5, "day": "2024-01-02"}
    table_schema = metadata["millrace/preview"].value["schema"]
    assert [c.name for c in table_schema.columns] == ["id", "name", "amount", "day"]


def test_arrow_table_gets_polars_type_names() -> None:
    table = pa.table(
        {
            "id": pa.array([1, 2], pa.int32()),
            "name": pa.array(["a", "b"], pa.large_string()),
            "at": pa.array([dt.datetime(2024, 1, 1), None], pa.timestamp("ms")),
        }
    )
    metadata = frame_metadata(table)
    assert metadata is not None
    assert metadata["dagster/row_count"] == MetadataValue.int(2)
    assert schema_of(metadata) == [
        ("id", "Int32"),
        ("name", "String"),
        ("at", "Datetime(time_unit='ms', time_zone=None)"),
    ]
    assert preview_of(metadata) == [
        {"id": 1, "name": "a", "at": "2024-01-01T00:00:00"},
        {"id": 2, "name": "b", "at": None},
    ]


def test_pandas_frame_shows_a_named_index_as_a_column() -> None:
    df = pd.DataFrame({"customer": ["a", "b", "c"], "total": [1.5, 2.0, 3.0]})
    metadata = frame_metadata(df.set_index("customer"))
    assert metadata is not None
    assert metadata["dagster/row_count"] == MetadataValue.int(3)
    assert schema_of(metadata) == [("customer", "String"), ("total", "Float64")]
    assert preview_of(metadata)[0] == {"customer": "a", "total": 1.5}


def test_pandas_unnamed_index_is_left_out() -> None:
    df = pd.DataFrame({"total": [1.5, 2.0, 3.0]})
    filtered = df[df["total"] > 1.5]  # row labels 1 and 2: still not data
    for frame in (df, filtered):
        metadata = frame_metadata(frame)
        assert metadata is not None
        assert schema_of(metadata) == [("total", "Float64")]
    assert preview_of(frame_metadata(filtered) or {}) == [{"total": 2.0}, {"total": 3.0}]


def test_only_the_first_rows_are_converted() -> None:
    # Polars cannot convert this object column as a whole (row 7 is an int among strings);
    # the metadata never looks past the preview rows, so it does not notice.
    df = pd.DataFrame({"mixed": pd.Series(["a"] * 6 + [1], dtype=object)})
    with pytest.raises(TypeError):
        pl.from_pandas(df)
    metadata = frame_metadata(df)
    assert metadata is not None
    assert metadata["dagster/row_count"] == MetadataValue.int(7)
    assert schema_of(metadata) == [("mixed", "String")]
    assert len(preview_of(metadata)) == 5


@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame([[1, 2]], columns=["a", "a"]),
        pd.DataFrame({"mixed": [1, "a"]}),
        pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["a", "a"]),
    ],
    ids=["pandas-duplicate-names", "pandas-mixed-object", "arrow-duplicate-names"],
)
def test_a_frame_polars_cannot_hold_gets_its_row_count_only(frame: Any) -> None:
    assert frame_metadata(frame) == {"dagster/row_count": MetadataValue.int(len(frame))}


def test_empty_frame_keeps_its_schema() -> None:
    metadata = frame_metadata(FRAME.clear())
    assert metadata is not None
    assert metadata["dagster/row_count"] == MetadataValue.int(0)
    assert [name for name, _ in schema_of(metadata)] == ["id", "name", "amount", "day"]
    assert preview_of(metadata) == []


@pytest.mark.parametrize("value", [FRAME.lazy(), [1, 2], {"a": [1]}, 3, None, "text"])
def test_anything_but_a_materialized_frame_gets_none(value: Any) -> None:
    assert frame_metadata(value) is None


def test_preview_cells_are_json_safe() -> None:
    df = pl.DataFrame(
        {
            "at": [dt.datetime(2024, 3, 1, 8, 0, tzinfo=dt.UTC)],
            "clock": [dt.time(8, 15)],
            "price": pl.Series([decimal.Decimal("12.50")], dtype=pl.Decimal(10, 2)),
            "took": [dt.timedelta(hours=2)],
            "ratio": [float("inf")],
            "blob": [b"\x00\xff"],
            "point": [{"x": 1, "y": None}],
            "embedding": [list(range(1536))],
            "text": ["x" * 1000],
        }
    )
    metadata = frame_metadata(df)
    assert metadata is not None
    (row,) = preview_of(metadata)
    assert row["at"] == "2024-03-01T08:00:00+00:00"
    assert row["clock"] == "08:15:00"
    assert row["price"] == "12.50"
    assert row["took"] == "2:00:00"
    assert row["ratio"] == "inf"
    assert row["blob"] == "00ff"
    assert row["point"] == {"x": 1, "y": None}
    assert row["embedding"] == [*range(10), "… 1536 items"]
    assert row["text"] == "x" * 199 + "…"
    json.dumps({k: v.to_json() for k, v in metadata.items()}, allow_nan=False)
    assert ("price", "Decimal(precision=10, scale=2)") in schema_of(metadata)


def test_long_type_names_are_cut() -> None:
    categories = [f"category_{i}" for i in range(50)]
    df = pl.DataFrame({"c": pl.Series(categories, dtype=pl.Enum(categories))})
    metadata = frame_metadata(df)
    assert metadata is not None
    ((_, name),) = schema_of(metadata)
    assert len(name) == 100
    assert name.startswith("Enum(categories=['category_0'")
    assert name.endswith("…")


@pytest.mark.parametrize(
    "frame",
    [
        FRAME,
        FRAME.to_arrow(),
        FRAME.to_pandas(),
        pd.DataFrame({"at": pd.to_datetime(["2024-01-01", "2024-01-02"]), "v": [1, 2]}).set_index(
            "at"
        ),
    ],
    ids=["polars", "arrow", "pandas", "pandas-datetime-index"],
)
def test_recorded_schema_equals_the_frame_after_a_parquet_round_trip(
    frame: Any, tmp_path: Path
) -> None:
    """What a check compares later: the recorded schema against the frame loaded back."""
    metadata = frame_metadata(frame)
    assert metadata is not None
    recorded = metadata["dagster/column_schema"].value
    manager = ParquetIOManager(tmp_path)
    key = AssetKey("orders")
    manager.handle_output(OutputContext(key), frame)
    loaded = manager.load_input(InputContext(key))
    assert type(loaded) is type(frame)
    assert column_schema_differences(loaded, recorded) == []
    assert column_schema_differences(frame, recorded) == []
