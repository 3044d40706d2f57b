"""Runtime type validation: every annotation form, fitting and not, and frame schema differences."""

from __future__ import annotations

import collections
import inspect
import io
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Optional, TypeVar, Union

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from millrace import TableColumn, TableSchema
from millrace.execution.typecheck import column_schema_differences, type_mismatch

T = TypeVar("T")


class Point:
    pass


@typing.runtime_checkable
class Closable(typing.Protocol):
    def close(self) -> None: ...


class Named(typing.Protocol):
    name: str


def generator() -> typing.Iterator[int]:
    yield 1


FITS = [
    # accepted without looking
    (object(), inspect.Parameter.empty),
    (object(), Any),
    (object(), T),
    ("anything", "pl.DataFrame"),
    (3, typing.ForwardRef("Undefined")),
    # plain classes
    (3, int),
    (True, int),
    (3, float),
    (3.5, float),
    (3, complex),
    ("a", str),
    (Point(), Point),
    (Point(), object),
    (pl.DataFrame(), pl.DataFrame),
    (pl.LazyFrame(), pl.LazyFrame),
    (pa.table({"a": [1]}), pa.Table),
    (pd.DataFrame(), pd.DataFrame),
    # None
    (None, None),
    (None, type(None)),
    # unions
    (None, int | None),
    (3, int | None),
    (None, Optional[int]),  # noqa: UP045
    ("a", Union[int, str]),  # noqa: UP007
    (3, float | None),
    ([1], list[int] | dict[str, int]),
    # literals
    ("a", Literal["a", "b"]),
    (2, Literal[1, 2]),
    # containers
    ([], list[int]),
    ([1, 2, 3], list[int]),
    ([1, 2], typing.List[int]),  # noqa: UP006
    ([1, "a"], list),
    ({"a", "b"}, set[str]),
    (frozenset({1}), frozenset[int]),
    ((1, "a"), tuple[int, str]),
    ((), tuple[()]),
    ((1, 2, 3), tuple[int, ...]),
    ((), tuple[int, ...]),
    ((1, "a", None), typing.Tuple),  # noqa: UP006
    ({"a": 1}, dict[str, int]),
    (collections.OrderedDict(a=1), dict[str, int]),
    ({"a": [1, 2]}, dict[str, list[int]]),
    ({"a": 1, "b": None}, dict[str, int | None]),
    # abstract collections: isinstance only
    ({"a": "not an int"}, Mapping[str, int]),
    (["x"], Sequence[int]),
    ("abc", Sequence[str]),
    (generator(), Iterable[str]),
    ({1}, Iterable[int]),
    (print, Callable[[int], str]),
    # Annotated and protocols
    (3, Annotated[int, "positive"]),
    ([1], Annotated[list[int], "ids"]),
    (io.StringIO(), Closable),
    (Point(), Named),  # not runtime_checkable: cannot be checked, so accepted
    (typing.NewType("UserId", int)(3), typing.NewType("UserId", int)),
]


@pytest.mark.parametrize(("value", "annotation"), FITS)
def test_value_fits(value: Any, annotation: Any) -> None:
    assert type_mismatch(value, annotation) is None


MISMATCHES = [
    ("a", int, "expected int, got str"),
    (3.5, int, "expected int, got float"),
    ("3", float, "expected float, got str"),
    (object(), Point, f"expected {__name__}.Point, got object"),
    (pl.DataFrame(), pd.DataFrame, "expected pandas.DataFrame, got polars.DataFrame"),
    (pl.LazyFrame(), pl.DataFrame, "expected polars.DataFrame, got polars.LazyFrame"),
    (pd.DataFrame(), pa.Table, "expected pyarrow.Table, got pandas.DataFrame"),
    (3, None, "expected None, got int"),
    (3, type(None), "expected None, got int"),
    (None, int, "expected int, got None"),
    ("a", int | None, "expected int | None, got str"),
    ("a", Optional[int], "expected int | None, got str"),  # noqa: UP045
    (None, Union[int, str], "expected int | str, got None"),  # noqa: UP007
    ("c", Literal["a", "b"], "expected Literal['a', 'b'], got 'c'"),
    (True, Literal[1], "expected Literal[1], got True"),
    ((1,), list[int], "expected list[int], got tuple"),
    ([1, 2, "x"], list[int], "list item 2: expected int, got str"),
    ([1, "x", None], typing.List[int], "list item 1: expected int, got str"),  # noqa: UP006
    ({1}, set[str], "set item 1: expected str, got int"),
    ((1, 2), tuple[int, str], "tuple item 1: expected str, got int"),
    ((1,), tuple[int, str], "expected tuple[int, str], got a tuple of 1 item"),
    ((1, "a", 2), tuple[int, str], "expected tuple[int, str], got a tuple of 3 items"),
    ((1,), tuple[()], "expected tuple[()], got a tuple of 1 item"),
    ((1, 2, "x"), tuple[int, ...], "tuple item 2: expected int, got str"),
    ({"a": 1, "b": "2"}, dict[str, int], "dict value at key 'b': expected int, got str"),
    ({"a": 1, 2: 2}, dict[str, int], "dict key 2: expected str, got int"),
    (
        {"a": [1, "x"]},
        dict[str, list[int]],
        "dict value at key 'a': list item 1: expected int, got str",
    ),
    ([1, "x"], list[int] | None, "list item 1: expected int, got str"),
    ([1.5], list[int] | dict[str, int], "list item 0: expected int, got float"),
    ("x", list[int] | dict[str, int], "expected list[int] | dict[str, int], got str"),
    ([1], Mapping[str, int], "expected collections.abc.Mapping[str, int], got list"),
    (3, Iterable[int], "expected collections.abc.Iterable[int], got int"),
    (3, Sequence, "expected collections.abc.Sequence, got int"),
    ("x", Annotated[int, "positive"], "expected int, got str"),
    (3, Closable, f"expected {__name__}.Closable, got int"),
    (3, Callable[[int], str], "expected collections.abc.Callable[[int], str], got int"),
]


@pytest.mark.parametrize(("value", "annotation", "message"), MISMATCHES)
def test_value_does_not_fit(value: Any, annotation: Any, message: str) -> None:
    assert type_mismatch(value, annotation) == message


def test_long_keys_are_cut_in_messages() -> None:
    key = "k" * 100
    message = type_mismatch({key: "x"}, dict[str, int])
    assert message == f"dict value at key '{'k' * 38}…: expected int, got str"


def test_the_first_mismatch_stops_the_scan() -> None:
    class Exploding(list):
        def __iter__(self) -> typing.Iterator[Any]:
            yield 1
            yield "x"
            raise AssertionError("kept scanning after the first mismatch")

    assert type_mismatch(Exploding(), list[int]) == "list item 1: expected int, got str"


# -- column schema ---------------------------------------------------------------------------

FRAME = pl.DataFrame(
    {"id": [1], "name": ["a"], "amount": pl.Series([1.5], dtype=pl.Float32), "x": [True]}
)
DECLARED = TableSchema(
    [
        TableColumn("id", "Int64"),
        TableColumn("customer", "String"),
        TableColumn("name", "String"),
        TableColumn("amount", "Float64"),
    ]
)
DIFFERENCES = [
    "missing column 'customer' (String)",
    "unexpected column 'x' (Boolean)",
    "column 'amount' is Float32, declared Float64",
]


@pytest.mark.parametrize(
    "frame",
    [FRAME, FRAME.lazy(), FRAME.to_arrow(), FRAME.to_pandas()],
    ids=["polars", "lazy", "arrow", "pandas"],
)
def test_column_schema_differences_for_every_frame_kind(frame: Any) -> None:
    assert column_schema_differences(frame, DECLARED) == DIFFERENCES


def test_no_differences_and_column_order_does_not_count() -> None:
    same = TableSchema([TableColumn(n, str(t)) for n, t in reversed(FRAME.schema.items())])
    assert column_schema_differences(FRAME, same) == []


@pytest.mark.parametrize(
    ("dtype", "declared"),
    [
        (pl.String, ["String", "Utf8", "str", "string", "large_string", "large_utf8"]),
        (pl.Int64, ["Int64", "int64", "i64", "INT64"]),
        (pl.UInt8, ["UInt8", "uint8", "u8"]),
        (pl.Float64, ["Float64", "float64", "f64", "double"]),
        (pl.Float32, ["Float32", "float32", "f32", "float"]),
        (pl.Boolean, ["Boolean", "bool", "boolean"]),
        (pl.Date, ["Date", "date32[day]", "date"]),
        (pl.Datetime("us"), ["Datetime", "timestamp[ns]", "datetime64[ns, UTC]", "datetime"]),
        (pl.Duration("ms"), ["Duration", "duration[s]", "timedelta64[ns]"]),
        (pl.List(pl.Int64), ["List(Int64)", "List(String)", "list<item: int64>", "large_list"]),
        (pl.Struct({"a": pl.Int8}), ["Struct", "struct<a: int8>"]),
        (pl.Decimal(10, 2), ["Decimal", "decimal128(38, 2)"]),
        (pl.Categorical, ["Categorical", "category", "dictionary<values=string, indices=int32>"]),
        (pl.Binary, ["Binary", "binary", "large_binary"]),
    ],
)
def test_type_names_compare_equal_after_aliases(dtype: Any, declared: list[str]) -> None:
    frame = pl.DataFrame({"c": pl.Series([], dtype=dtype)})
    for name in declared:
        assert column_schema_differences(frame, TableSchema([TableColumn("c", name)])) == [], name


@pytest.mark.parametrize(
    ("dtype", "declared", "line"),
    [
        (pl.Int32, "Int64", "column 'c' is Int32, declared Int64"),
        (pl.Int64, "int", "column 'c' is Int64, declared int"),
        (pl.Float64, "float", "column 'c' is Float64, declared float"),
        (pl.Date, "Datetime", "column 'c' is Date, declared Datetime"),
        (
            pl.Datetime("us", "UTC"),
            "Date",
            "column 'c' is Datetime(time_unit='us', time_zone='UTC'), declared Date",
        ),
        (pl.String, "object", "column 'c' is String, declared object"),
    ],
)
def test_different_types_are_reported(dtype: Any, declared: str, line: str) -> None:
    frame = pl.DataFrame({"c": pl.Series([], dtype=dtype)})
    assert column_schema_differences(frame, TableSchema([TableColumn("c", declared)])) == [line]


def test_a_pandas_named_index_is_a_column_and_an_unnamed_one_is_not() -> None:
    df = pd.DataFrame({"id": [3, 4], "v": [1.0, 2.0]})
    declared = TableSchema([TableColumn("id", "Int64"), TableColumn("v", "Float64")])
    assert column_schema_differences(df.set_index("id"), declared) == []
    assert column_schema_differences(df[df["v"] > 1], declared) == []


def test_column_schema_differences_needs_a_frame() -> None:
    with pytest.raises(TypeError, match="got dict"):
        column_schema_differences({"id": [1]}, DECLARED)
