"""Storage stays inside its directory, never deletes what it did not write, says which asset
and file a damaged value belongs to, pickles frames Parquet cannot hold, and survives a
failing disk. Real files and real runs throughout (issue 14)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from conftest import Db
from hypothesis import given
from hypothesis import strategies as st
from millrace import (
    AssetKey,
    HourlyPartitionsDefinition,
    InputContext,
    MillraceError,
    OutputContext,
    ParquetIOManager,
    asset,
    materialize,
)
from millrace.declarations.keys import InvalidAssetKeyError
from millrace.errors import StorageError
from millrace.storage.configurable_io import FilesystemIOManager
from millrace.storage.io_managers import INLINE_LIMIT
from millrace.storage.paths import partition_name
from polars.testing import assert_frame_equal

FRAME = pl.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"]})


def store(manager: Any, key: Any, value: Any, partition: str | None = None) -> OutputContext:
    context = OutputContext(AssetKey(key), partition_key=partition)
    manager.handle_output(context, value)
    return context


def load(manager: Any, key: Any, partition: str | None = None, annotation: Any = None) -> Any:
    return manager.load_input(
        InputContext(AssetKey(key), partition_key=partition, annotation=annotation)
    )


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def default_manager(home: Path) -> ParquetIOManager:
    """A manager like the runtime's: over the home's storage, reading its records."""
    return ParquetIOManager(home / "storage", inline_db=home / "millrace.db")


# -- asset keys ------------------------------------------------------------------------------


def test_the_traversal_key_of_the_finding_is_rejected_at_declaration(tmp_path: Path) -> None:
    (tmp_path / "data.parquet").write_bytes(b"someone else's")
    with pytest.raises(InvalidAssetKeyError) as info:

        @asset(key=["..", "..", "x"])
        def x() -> int:
            return 1

    assert str(info.value) == (
        "Invalid asset key component '..' in ['..', '..', 'x']: '..' names a directory, "
        "not an asset"
    )
    assert isinstance(info.value, MillraceError) and isinstance(info.value, ValueError)
    assert (tmp_path / "data.parquet").read_bytes() == b"someone else's"


@pytest.mark.parametrize(
    ("component", "why"),
    [
        (".", "'.' names a directory"),
        ("..", "'..' names a directory"),
        (".hidden", "cannot start with '.'"),
        ("trailing.", "cannot end with '.'"),
        ("a/b", "use letters, digits"),
        ("a\\b", "use letters, digits"),
        ("nul\x00byte", "use letters, digits"),
        ("newline\n", "use letters, digits"),
        ("with space", "use letters, digits"),
        ("CON", "'CON' is a device name on Windows"),
        ("nul", "'nul' is a device name on Windows"),
        ("Aux.parquet", "'Aux' is a device name on Windows"),
        ("com1", "'com1' is a device name on Windows"),
        ("LPT9.tar.gz", "'LPT9' is a device name on Windows"),
        ("prn.", "cannot end with '.'"),
    ],
)
def test_components_that_are_not_file_names_are_refused(component: str, why: str) -> None:
    with pytest.raises(InvalidAssetKeyError, match="Invalid asset key component") as info:
        AssetKey(["lake", component])
    assert repr(component) in str(info.value)
    assert "['lake', " in str(info.value)  # names the whole key too
    assert why in str(info.value)


@pytest.mark.parametrize("component", ["console", "com10", "a.b", "v1.2.3", "_x-y", "nul_x"])
def test_ordinary_components_are_accepted(component: str) -> None:
    assert AssetKey([component]).path == (component,)


# -- partitions ------------------------------------------------------------------------------

TRICKY_PARTITIONS = [
    "..",
    ".",
    "../../x",
    "a/../../b",
    "/etc/passwd",
    "C:\\Windows",
    "nul\x00byte",
    "CON",
    "con",
    "trailing.",
    "trailing%2E",
    "2024-01-01-05:00",
    "100%",
    "é",
    "",
    "x" * 300,
    "x" * 299 + "y",
]


def test_a_traversal_partition_key_stays_inside_base_dir(tmp_path: Path) -> None:
    manager = ParquetIOManager(tmp_path / "storage")
    for i, partition in enumerate(TRICKY_PARTITIONS):
        store(manager, ["lake", "daily"], {"i": i}, partition=partition)
    stored = files(tmp_path)
    assert len(stored) == len(TRICKY_PARTITIONS)  # none overwrote another
    for name in stored:
        assert name.startswith("storage/lake/daily/partition=") and name.endswith(".pkl")
        assert len(Path(name).name.encode()) <= 255
    for i, partition in enumerate(TRICKY_PARTITIONS):
        assert load(manager, ["lake", "daily"], partition) == {"i": i}


def test_the_filesystem_io_manager_keeps_partitions_inside_too(tmp_path: Path) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path / "storage"))
    for partition in ("../../escaped", "2024-01-01-05:00"):
        store(manager, "events", [partition], partition=partition)
        assert load(manager, "events", partition) == [partition]
    assert files(tmp_path) == [
        "storage/events/partition=..%2F..%2Fescaped",
        "storage/events/partition=2024-01-01-05%3A00",
    ]


def test_partition_b_of_asset_a_never_meets_asset_a_b(tmp_path: Path) -> None:
    for manager in (
        ParquetIOManager(tmp_path / "parquet"),
        FilesystemIOManager(base_dir=str(tmp_path / "pickles")),
    ):
        store(manager, ["a", "b"], {"asset": "a/b"})
        store(manager, "a", {"partition": "b"}, partition="b")
        assert load(manager, ["a", "b"]) == {"asset": "a/b"}
        assert load(manager, "a", partition="b") == {"partition": "b"}
    with pytest.raises(InvalidAssetKeyError):  # the name of a partition is no asset's
        AssetKey(["a", "partition=b"])


@given(st.lists(st.text(max_size=120), min_size=2, max_size=8, unique=True))
def test_partition_names_are_distinct_even_ignoring_case(keys: list[str]) -> None:
    names = [partition_name(k) for k in keys]
    assert len({n.casefold() for n in names}) == len(keys)
    for name in names:
        assert name.startswith("partition=")
        assert not name.endswith(".")
        assert all(c.isascii() and (c.isalnum() or c in "=%_.-~") for c in name)


def test_hourly_partition_keys_round_trip_through_runs() -> None:
    hours = ["2024-01-01-05:00", "2024-01-01-06:00"]

    hourly_def = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")

    @asset(partitions_def=hourly_def)
    def hourly(context) -> pl.DataFrame:
        return pl.DataFrame({"hour": [context.partition_key]})

    @asset(partitions_def=hourly_def)
    def summary(hourly: pl.DataFrame) -> str:
        return hourly["hour"].item()

    for hour in hours:
        assert materialize([hourly, summary], partition_key=hour).success
    for hour in hours:  # summary alone: hourly comes back from storage
        again = materialize([hourly, summary], partition_key=hour, selection="summary")
        assert again.asset_value("summary") == hour


def test_a_symlink_out_of_storage_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    storage = tmp_path / "storage"
    storage.mkdir()
    (storage / "lake").symlink_to(outside)
    manager = ParquetIOManager(storage)
    with pytest.raises(StorageError) as info:
        store(manager, ["lake", "orders"], FRAME)
    message = str(info.value)
    assert message.startswith("asset 'lake/orders' would be stored in ")
    assert f"outside the storage directory {storage}" in message
    assert f"{storage / 'lake'} leads there through a symlink" in message
    assert list(outside.iterdir()) == []


# -- only Millrace's own files are removed ---------------------------------------------------


def test_a_file_someone_else_put_beside_a_frame_survives_and_is_not_loaded(home: Path) -> None:
    storage = home / "storage"
    storage.mkdir(parents=True)
    (storage / "victim.pkl").write_bytes(b"not Millrace's")
    value: dict[str, Any] = {"v": FRAME}

    @asset
    def victim() -> object:
        return value["v"]

    @asset
    def reader(victim: object) -> object:
        return victim

    materialize([victim, reader])  # a frame: victim.parquet, beside the stranger
    assert files(storage) == ["reader.parquet", "victim.parquet", "victim.pkl"]

    value["v"] = {"small": True}  # inline now: our parquet goes, the stranger stays
    materialize([victim, reader])
    assert files(storage) == ["victim.pkl"]  # reader's value is inline too
    assert (storage / "victim.pkl").read_bytes() == b"not Millrace's"
    alone = materialize([victim, reader], selection="reader")
    assert alone.asset_value("reader") == {"small": True}

    value["v"] = FRAME
    materialize([victim, reader])
    (storage / "victim.pkl").write_bytes(b"newer, and still not Millrace's")
    alone = materialize([victim, reader], selection="reader")
    assert_frame_equal(alone.asset_value("reader"), FRAME)  # the recorded file, not the newest
    assert (storage / "victim.pkl").read_bytes() == b"newer, and still not Millrace's"


def test_a_stranger_at_the_other_format_survives_a_direct_write(tmp_path: Path) -> None:
    manager = ParquetIOManager(tmp_path / "storage")
    manager.base_dir.mkdir()
    stranger = manager.base_dir / "thing.parquet"
    FRAME.write_parquet(stranger)
    store(manager, "thing", {"a": "dict"})
    assert files(manager.base_dir) == ["thing.parquet", "thing.pkl"]
    assert_frame_equal(pl.read_parquet(stranger), FRAME)
    assert load(manager, "thing") == {"a": "dict"}  # what it wrote, not the older stranger


def test_a_new_runtime_removes_what_an_earlier_one_wrote(home: Path) -> None:
    big = list(range(INLINE_LIMIT))  # pickles to more than the inline limit
    value: dict[str, Any] = {"v": FRAME}

    @asset
    def shifting() -> object:
        return value["v"]

    storage = home / "storage"
    materialize([shifting])
    assert files(storage) == ["shifting.parquet"]
    value["v"] = big
    materialize([shifting])  # a new Runtime, a new manager: it goes by the records
    assert files(storage) == ["shifting.pkl"]
    value["v"] = FRAME
    materialize([shifting])
    assert files(storage) == ["shifting.parquet"]
    assert_frame_equal(load(default_manager(home), "shifting"), FRAME)


def test_a_file_changed_since_it_was_recorded_is_not_removed(home: Path) -> None:
    big = list(range(INLINE_LIMIT))
    value: dict[str, Any] = {"v": big}

    @asset
    def blob() -> object:
        return value["v"]

    materialize([blob])
    pickled = home / "storage" / "blob.pkl"
    pickled.write_bytes(b"replaced by hand")  # no longer the file the record describes
    value["v"] = FRAME
    materialize([blob])
    assert files(home / "storage") == ["blob.parquet", "blob.pkl"]
    assert pickled.read_bytes() == b"replaced by hand"
    assert_frame_equal(load(default_manager(home), "blob"), FRAME)


# -- damaged values --------------------------------------------------------------------------


def test_a_truncated_parquet_file_names_the_asset_and_the_file(home: Path) -> None:
    @asset
    def upstream() -> pl.DataFrame:
        return pl.DataFrame({"x": list(range(1000))})

    @asset
    def downstream(upstream: pl.DataFrame) -> int:
        return upstream.height

    materialize([upstream, downstream])
    path = home / "storage" / "upstream.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(StorageError) as info:
        materialize([upstream, downstream], selection="downstream")
    message = str(info.value)
    assert message.startswith(f"cannot read the stored value of asset 'upstream' from {path} (")
    assert message.endswith("); re-materialize it: millrace materialize --select upstream")

    for annotation in (None, pl.LazyFrame, pd.DataFrame, pa.Table):
        with pytest.raises(StorageError) as info:
            load(default_manager(home), "upstream", annotation=annotation)
        assert f"asset 'upstream' from {path} (" in str(info.value)


def test_a_truncated_pickle_names_the_asset_and_the_file(tmp_path: Path) -> None:
    for manager, path in (
        (ParquetIOManager(tmp_path / "a"), tmp_path / "a" / "lake" / "blob.pkl"),
        (FilesystemIOManager(base_dir=str(tmp_path / "b")), tmp_path / "b" / "lake" / "blob"),
    ):
        store(manager, ["lake", "blob"], {"numbers": list(range(1000))})
        path.write_bytes(path.read_bytes()[:100])
        with pytest.raises(StorageError) as info:
            load(manager, ["lake", "blob"])
        assert str(info.value) == (
            f"cannot read the stored value of asset 'lake/blob' from {path} "
            "(UnpicklingError: pickle data was truncated); re-materialize it: "
            "millrace materialize --select lake/blob"
        )


def test_a_value_never_stored_is_still_file_not_found(tmp_path: Path) -> None:
    for manager in (
        ParquetIOManager(tmp_path / "a"),
        FilesystemIOManager(base_dir=str(tmp_path / "b")),
    ):
        with pytest.raises(FileNotFoundError):
            load(manager, "never", partition="2024-01-01")


# -- frames Parquet cannot hold --------------------------------------------------------------

MIXED = pd.DataFrame({"n": [1, 2, 3], "mixed": [1, "x", 2.5]}, index=pd.Index([7, 8, 9]))


@pytest.mark.parametrize("rows", [1, 20_000], ids=["inline", "file"])
def test_a_pandas_column_of_mixed_types_is_pickled_with_a_warning(
    home: Path, db: Db, rows: int
) -> None:
    frame = pd.concat([MIXED] * rows)

    @asset
    def mixed() -> pd.DataFrame:
        return frame

    @asset
    def reader(mixed: pd.DataFrame) -> pd.DataFrame:
        return mixed

    result = materialize([mixed, reader])
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == mixed.key]
    assert event.metadata["millrace/storage_warning"].value == (
        "asset 'mixed': column 'mixed' cannot be stored as Parquet (Could not convert 'x' "
        "with type str: tried to convert to int64); stored as a pickle instead, which loads "
        "back the same frame"
    )
    logged = [json.loads(p) for (p,) in db.rows("SELECT payload FROM events WHERE type = 'LOG'")]
    assert {"level": "WARNING", "message": event.metadata["millrace/storage_warning"].value} in (
        logged
    )  # shown live and kept with the run, not only in the metadata
    stored = files(home / "storage") if (home / "storage").exists() else []
    assert stored == ([] if rows == 1 else ["mixed.pkl", "reader.pkl"])
    alone = materialize([mixed, reader], selection="reader")
    back = alone.asset_value("reader")
    pd.testing.assert_frame_equal(back, frame)
    assert back["mixed"].map(type).tolist() == [int, str, float] * rows


def test_frames_parquet_cannot_hold_name_the_column(tmp_path: Path) -> None:
    manager = ParquetIOManager(tmp_path)
    repeated = pd.DataFrame([[1, 2]], columns=["a", "a"])
    union = pa.table(
        {
            "id": [1, 2],
            "either": pa.UnionArray.from_sparse(
                pa.array([0, 1], pa.int8()), [pa.array([1, 2]), pa.array(["p", "q"])]
            ),
        }
    )
    warning = store(manager, "repeated", repeated).output_metadata["millrace/storage_warning"]
    assert "column names ['a'] repeat" in warning.value
    pd.testing.assert_frame_equal(load(manager, "repeated"), repeated)
    warning = store(manager, "union", union).output_metadata["millrace/storage_warning"]
    assert "column 'either' of type sparse_union" in warning.value
    assert load(manager, "union").equals(union)
    assert files(tmp_path) == ["repeated.pkl", "union.pkl"]


def test_a_polars_object_column_that_cannot_be_pickled_either_is_a_clear_error(
    tmp_path: Path,
) -> None:
    manager = ParquetIOManager(tmp_path)
    frame = pl.DataFrame({"o": [object()]}, schema={"o": pl.Object})
    with pytest.raises(StorageError) as info:
        store(manager, "objects", frame)
    assert str(info.value).startswith(
        "cannot store asset 'objects': column 'o' is of dtype Object, which Parquet lacks, "
        "and pickling it failed too (ComputeError: "
    )
    assert files(tmp_path) == []


# -- storage faults --------------------------------------------------------------------------


def test_a_storage_directory_that_is_a_file_is_named(tmp_path: Path) -> None:
    blocked = tmp_path / "storage"
    blocked.write_text("a file where the storage directory should be")
    for manager, value, final in (
        (ParquetIOManager(blocked), FRAME, blocked / "lake" / "x.parquet"),
        (ParquetIOManager(blocked), {"a": 1}, blocked / "lake" / "x.pkl"),
        (FilesystemIOManager(base_dir=str(blocked)), {"a": 1}, blocked / "lake" / "x"),
    ):
        with pytest.raises(StorageError) as info:
            store(manager, ["lake", "x"], value)
        assert str(info.value) == (
            f"cannot store asset 'lake/x' at {final}: {blocked} is a file, not a directory"
        )
    assert files(tmp_path) == ["storage"]


FULL_DISK_RUN = """
import resource, signal, sys
import numpy as np
import polars as pl
from millrace import AssetKey, asset, materialize

@asset
def big() -> pl.DataFrame:
    return pl.DataFrame({"a": np.random.default_rng(0).random(int(sys.argv[2]))})

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))
result = materialize([big], home=sys.argv[1], raise_on_error=False)
print(result.success)
print(result.failures[AssetKey("big")])
"""


def run_script(tmp_path: Path, code: str, *args: str) -> list[str]:
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_a_full_disk_keeps_the_previous_materialization(tmp_path: Path, home: Path, db: Db) -> None:
    @asset
    def big() -> pl.DataFrame:
        return FRAME

    materialize([big])
    final = home / "storage" / "big.parquet"
    good = final.read_bytes()
    record = "SELECT event_id, data_version, metadata FROM latest_materializations"
    before = db.rows(record)

    success, error, *_ = run_script(tmp_path, FULL_DISK_RUN, str(home), "1000000")

    assert success == "False"
    assert error == f"StorageError: cannot store asset 'big' at {final}: File too large"
    assert final.read_bytes() == good
    assert files(home / "storage") == ["big.parquet"]  # no temporary left
    assert db.rows(record) == before
    assert_frame_equal(load(default_manager(home), "big"), FRAME)


FULL_DISK_WRITES = """
import resource, signal, sys
from millrace import AssetKey, OutputContext, ParquetIOManager
from millrace.storage.configurable_io import FilesystemIOManager

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))
for manager in (ParquetIOManager(sys.argv[1]), FilesystemIOManager(base_dir=sys.argv[2])):
    try:
        manager.handle_output(OutputContext(AssetKey("blob")), list(range(100_000)))
    except Exception as exc:
        print(f"{type(exc).__name__}: {exc}")
"""


def test_a_full_disk_fails_a_pickle_write_cleanly(tmp_path: Path) -> None:
    parquet_dir, plain_dir = tmp_path / "parquet", tmp_path / "plain"
    store(ParquetIOManager(parquet_dir), "blob", "old")
    store(FilesystemIOManager(base_dir=str(plain_dir)), "blob", "old")

    errors = run_script(tmp_path, FULL_DISK_WRITES, str(parquet_dir), str(plain_dir))

    assert errors == [
        f"StorageError: cannot store asset 'blob' at {parquet_dir / 'blob.pkl'}: File too large",
        f"StorageError: cannot store asset 'blob' at {plain_dir / 'blob'}: File too large",
    ]
    assert os.listdir(parquet_dir) == ["blob.pkl"] and os.listdir(plain_dir) == ["blob"]
    assert load(ParquetIOManager(parquet_dir), "blob") == "old"
    assert load(FilesystemIOManager(base_dir=str(plain_dir)), "blob") == "old"
