"""ParquetIOManager on real files: round trips per frame kind, file layout, crash safety."""

from __future__ import annotations

import os
import pickle
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import open_db, stored_value
from millrace import (
    AssetKey,
    InMemoryIOManager,
    InputContext,
    MaterializeResult,
    MetadataValue,
    OutputContext,
    ParquetIOManager,
    asset,
    materialize,
)
from millrace.storage.io_managers import INLINE_LIMIT
from polars.testing import assert_frame_equal


def store(manager: ParquetIOManager, key: Any, value: Any, partition: str | None = None):
    context = OutputContext(AssetKey(key), partition_key=partition)
    manager.handle_output(context, value)
    return context


def load(manager: ParquetIOManager, key: Any, annotation: Any = None, partition=None) -> Any:
    return manager.load_input(
        InputContext(AssetKey(key), annotation=annotation, partition_key=partition)
    )


@pytest.fixture
def manager(tmp_path: Path) -> ParquetIOManager:
    return ParquetIOManager(tmp_path / "storage")


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


POLARS = pl.DataFrame(
    {"id": [1, 2, 3], "name": ["a", "b", None], "score": [0.5, 1.5, float("nan")]}
)


# -- round trips -----------------------------------------------------------------------------


def test_polars_dataframe_round_trip(manager: ParquetIOManager) -> None:
    context = store(manager, "scores", POLARS)
    path = manager.base_dir / "scores.parquet"
    assert files(manager.base_dir) == ["scores.parquet"]
    assert pl.read_parquet(path).equals(POLARS)  # readable by anyone, not just us

    back = load(manager, "scores")
    assert isinstance(back, pl.DataFrame)
    assert_frame_equal(back, POLARS)
    assert_frame_equal(load(manager, "scores", pl.DataFrame), POLARS)
    assert context.output_metadata == {
        "path": MetadataValue.path(path),
        "millrace/size_bytes": MetadataValue.int(path.stat().st_size),
    }


def test_lazyframe_is_stored_collected(manager: ParquetIOManager) -> None:
    lazy = POLARS.lazy().filter(pl.col("id") > 1).with_columns(double=pl.col("id") * 2)
    store(manager, "lazy_scores", lazy)
    expected = lazy.collect()
    assert files(manager.base_dir) == ["lazy_scores.parquet"]
    assert_frame_equal(pl.read_parquet(manager.base_dir / "lazy_scores.parquet"), expected)

    eager = load(manager, "lazy_scores")
    assert isinstance(eager, pl.DataFrame)
    assert_frame_equal(eager, expected)
    scanned = load(manager, "lazy_scores", pl.LazyFrame)
    assert isinstance(scanned, pl.LazyFrame)
    assert_frame_equal(scanned.collect(), expected)


def test_pyarrow_table_round_trip(manager: ParquetIOManager) -> None:
    table = pa.table({"x": pa.array([1, 2, 3], pa.int32()), "y": ["p", "q", "r"]})
    context = store(manager, "table", table)
    back = load(manager, "table")
    assert isinstance(back, pa.Table)
    assert back.select(["x", "y"]).equals(table)
    assert back.schema.field("x").type == pa.int32()
    assert context.output_metadata["millrace/size_bytes"].value > 0


def test_pandas_dataframe_keeps_its_index(manager: ParquetIOManager) -> None:
    frame = pd.DataFrame(
        {"amount": [10.0, 20.5, 7.25], "n": [1, 2, 3]},
        index=pd.Index(["c9", "c3", "c7"], name="customer_id"),
    )
    store(manager, "by_customer", frame)
    assert files(manager.base_dir) == ["by_customer.parquet"]

    back = load(manager, "by_customer")
    assert isinstance(back, pd.DataFrame)
    pd.testing.assert_frame_equal(back, frame)
    assert list(back.index) == ["c9", "c3", "c7"]
    assert back.index.name == "customer_id"
    pd.testing.assert_frame_equal(load(manager, "by_customer", pd.DataFrame), frame)


def test_pandas_filtered_range_index_survives(manager: ParquetIOManager) -> None:
    frame = pd.DataFrame({"v": range(10)})
    frame = frame[frame["v"] % 3 == 0]  # index 0, 3, 6, 9: not a default RangeIndex
    store(manager, "filtered", frame)
    back = load(manager, "filtered")
    pd.testing.assert_frame_equal(back, frame)
    assert list(back.index) == [0, 3, 6, 9]


def test_annotation_chooses_the_frame_library(manager: ParquetIOManager) -> None:
    store(manager, "frame", POLARS)
    as_pandas = load(manager, "frame", pd.DataFrame)
    assert isinstance(as_pandas, pd.DataFrame)
    assert list(as_pandas["id"]) == [1, 2, 3]
    as_arrow = load(manager, "frame", pa.Table)
    assert isinstance(as_arrow, pa.Table)
    assert as_arrow.column("name").to_pylist() == ["a", "b", None]


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


@pytest.mark.parametrize(
    "value",
    [{"a": [1, 2], "b": None}, [1, "two", 3.0], 42, "text", Point(1, 2), b"\x00bytes"],
    ids=["dict", "list", "int", "str", "object", "bytes"],
)
def test_other_objects_are_pickled(manager: ParquetIOManager, value: Any) -> None:
    context = store(manager, "thing", value)
    path = manager.base_dir / "thing.pkl"
    assert files(manager.base_dir) == ["thing.pkl"]
    with open(path, "rb") as f:
        assert pickle.load(f) == value
    assert load(manager, "thing") == value
    assert context.output_metadata == {
        "path": MetadataValue.path(path),
        "millrace/size_bytes": MetadataValue.int(path.stat().st_size),
    }


def test_key_path_and_partition_layout(manager: ParquetIOManager) -> None:
    store(manager, ["warehouse", "raw", "orders"], POLARS)
    store(manager, ["warehouse", "daily"], {"day": 1}, partition="2024-01-01")
    assert files(manager.base_dir) == [
        "warehouse/daily/partition=2024-01-01.pkl",
        "warehouse/raw/orders.parquet",
    ]
    assert_frame_equal(load(manager, ["warehouse", "raw", "orders"]), POLARS)
    assert load(manager, ["warehouse", "daily"], partition="2024-01-01") == {"day": 1}


def test_changing_kind_replaces_the_other_file(manager: ParquetIOManager) -> None:
    store(manager, "shifty", POLARS)
    store(manager, "shifty", {"now": "a dict"})
    assert files(manager.base_dir) == ["shifty.pkl"]
    assert load(manager, "shifty") == {"now": "a dict"}
    store(manager, "shifty", POLARS)
    assert files(manager.base_dir) == ["shifty.parquet"]
    assert_frame_equal(load(manager, "shifty"), POLARS)


def test_loading_what_was_never_stored_is_file_not_found(manager: ParquetIOManager) -> None:
    with pytest.raises(FileNotFoundError):
        load(manager, "never")


def test_in_memory_io_manager() -> None:
    memory = InMemoryIOManager()
    memory.handle_output(OutputContext(AssetKey("k")), POLARS)
    assert memory.load_input(InputContext(AssetKey("k"))) is POLARS
    with pytest.raises(FileNotFoundError, match="no value in memory for other"):
        memory.load_input(InputContext(AssetKey("other")))


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    manager: ParquetIOManager,
) -> None:
    store(manager, "guarded", {"good": True})
    good = (manager.base_dir / "guarded.pkl").read_bytes()
    with pytest.raises((TypeError, pickle.PicklingError)):
        store(manager, "guarded", {"bad": threading.Lock()})
    assert files(manager.base_dir) == ["guarded.pkl"]
    assert (manager.base_dir / "guarded.pkl").read_bytes() == good


# -- through materialize ---------------------------------------------------------------------


def test_materialize_writes_under_home_storage(home: Path) -> None:
    @asset(key_prefix=["lake"])
    def events() -> pl.LazyFrame:
        return pl.LazyFrame({"user": [1, 1, 2], "clicks": [3, 4, 5]})

    @asset(key_prefix=["lake"])
    def per_user(events: pl.DataFrame) -> pl.DataFrame:
        return events.group_by("user").agg(pl.col("clicks").sum()).sort("user")

    @asset(deps=[per_user])
    def side_effect() -> None:
        return None

    @asset(deps=[per_user])
    def reported() -> MaterializeResult:
        return MaterializeResult(metadata={"sent": True})

    result = materialize([events, per_user, side_effect, reported])
    assert result.success
    storage = home / "storage"
    assert files(storage) == ["lake/events.parquet", "lake/per_user.parquet"]
    assert_frame_equal(
        pl.read_parquet(storage / "lake" / "per_user.parquet"),
        pl.DataFrame({"user": [1, 2], "clicks": [7, 5]}),
    )
    assert isinstance(result.asset_value(["lake", "events"]), pl.DataFrame)  # collected
    by_key = {
        e.asset_key.to_user_string(): e.metadata for e in result.get_asset_materialization_events()
    }
    assert by_key["lake/per_user"]["dagster/row_count"] == MetadataValue.int(2)
    assert by_key["reported"]["sent"] == MetadataValue.bool(True)
    assert set(by_key["reported"]) == {"sent", "millrace/compute_seconds"}  # no value stored


def test_an_asset_that_changes_kind_leaves_one_file(manager: ParquetIOManager) -> None:
    store(manager, "thing", POLARS)
    store(manager, "thing", 42)
    assert files(manager.base_dir) == ["thing.pkl"]
    assert load(manager, "thing") == 42

    # A new manager without records cannot tell thing.pkl from a file someone else put
    # there: it keeps it, and loads what it wrote. (The runtime's manager reads its records:
    # test_storage_safety.py.)
    fresh = ParquetIOManager(manager.base_dir)
    store(fresh, "thing", POLARS)
    assert files(manager.base_dir) == ["thing.parquet", "thing.pkl"]
    assert_frame_equal(load(fresh, "thing"), POLARS)


def test_small_pickles_go_to_the_event_store_large_ones_to_files(home: Path) -> None:
    big = list(range(INLINE_LIMIT))  # pickles to well over the limit
    state = {"big": False}

    @asset
    def shifting() -> object:
        return big if state["big"] else {"small": True}

    @asset
    def reader(shifting) -> int:
        return len(shifting)

    storage = home / "storage"

    materialize([shifting, reader])  # small: a row in the event store, no file
    assert stored_value(home, "shifting") == {"small": True}
    assert files(storage) == []

    state["big"] = True
    materialize([shifting, reader])  # large: a .pkl file, and the row is gone
    assert files(storage) == ["shifting.pkl"]
    with open_db(home / "millrace.db") as db:
        assert db.execute("SELECT asset_key FROM asset_values").fetchall() == [("reader",)]
    again = materialize([shifting, reader], selection="reader")  # loads the file
    assert again.asset_value("reader") == len(big)

    state["big"] = False
    materialize([shifting, reader])  # small again: the file would hide it, so it goes
    assert files(storage) == []
    alone = materialize([shifting, reader], selection="reader")  # loads the row
    assert alone.asset_value("reader") == 1


def test_inline_values_are_read_back_by_a_fresh_manager(home: Path) -> None:
    @asset
    def settings() -> dict:
        return {"threshold": 3}

    materialize([settings])
    fresh = ParquetIOManager(home / "storage", inline_db=home / "millrace.db")
    assert load(fresh, "settings") == {"threshold": 3}
    with pytest.raises(FileNotFoundError):
        load(fresh, "never_materialized")
    no_db = ParquetIOManager(home / "storage", inline_db=home / "missing.db")
    with pytest.raises(FileNotFoundError):
        load(no_db, "settings")


# -- crash safety ----------------------------------------------------------------------------

FRAME_WRITER = """
import sys
import numpy as np
import polars as pl
from millrace import AssetKey, OutputContext, ParquetIOManager

rows = int(sys.argv[2])
rng = np.random.default_rng(0)
frame = pl.DataFrame({"a": rng.random(rows), "b": rng.integers(0, 1 << 62, rows)})
print("ready", flush=True)
sys.stdin.readline()
ParquetIOManager(sys.argv[1]).handle_output(OutputContext(AssetKey("big")), frame)
print("done", flush=True)
"""

PICKLE_WRITER = """
import sys
from millrace import AssetKey, OutputContext, ParquetIOManager

class StopsMidWrite:
    def __reduce__(self):
        print("writing", flush=True)
        sys.stdin.readline()  # never answered: the parent kills us here
        return (dict, ())

value = {"head": list(range(100_000)), "tail": StopsMidWrite()}
ParquetIOManager(sys.argv[1]).handle_output(OutputContext(AssetKey("big")), value)
"""


def spawn(tmp_path: Path, code: str, *args: str) -> subprocess.Popen[str]:
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(code))
    return subprocess.Popen(
        [sys.executable, str(script), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def expect_line(proc: subprocess.Popen[str], wanted: str, timeout: float = 30) -> None:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline().strip() if ready else ""
    if line != wanted:
        proc.kill()
        _, err = proc.communicate()
        pytest.fail(f"child said {line!r}, expected {wanted!r}; stderr:\n{err}")


def kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def temporaries(directory: Path) -> list[Path]:
    return [p for p in directory.iterdir() if p.name.endswith(".tmp")]


def test_kill_during_frame_write_keeps_the_previous_file(
    tmp_path: Path, manager: ParquetIOManager
) -> None:
    good = pl.DataFrame({"a": [1.0, 2.0], "b": [1, 2]})
    store(manager, "big", good)
    final = manager.base_dir / "big.parquet"
    good_bytes = final.read_bytes()

    proc = spawn(tmp_path, FRAME_WRITER, str(manager.base_dir), "5000000")
    try:
        expect_line(proc, "ready")
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        # Watch the directory for the temporary file; kill the writer the moment it appears.
        deadline = time.monotonic() + 30
        while not temporaries(manager.base_dir):
            assert proc.poll() is None, "the writer finished before its temporary was seen"
            assert time.monotonic() < deadline, "no temporary file appeared"
    finally:
        kill(proc)

    left = temporaries(manager.base_dir)
    assert len(left) == 1, "the kill must land mid-write for this test to mean anything"
    assert left[0].name.startswith(".big.parquet.")
    assert final.read_bytes() == good_bytes
    assert_frame_equal(pl.read_parquet(final), good)
    assert_frame_equal(load(manager, "big"), good)
    assert sorted(p.name for p in manager.base_dir.iterdir() if not p.name.endswith(".tmp")) == [
        "big.parquet"
    ]


def test_kill_during_pickle_write_keeps_the_previous_file(
    tmp_path: Path, manager: ParquetIOManager
) -> None:
    store(manager, "big", {"version": "good"})
    final = manager.base_dir / "big.pkl"
    good_bytes = final.read_bytes()

    proc = spawn(tmp_path, PICKLE_WRITER, str(manager.base_dir))
    try:
        expect_line(proc, "writing")  # pickle.dump is under way on the temporary file
        assert len(temporaries(manager.base_dir)) == 1
    finally:
        kill(proc)

    assert final.read_bytes() == good_bytes
    assert load(manager, "big") == {"version": "good"}
    assert os.listdir(manager.base_dir).count("big.pkl") == 1
    assert not (manager.base_dir / "big.parquet").exists()
