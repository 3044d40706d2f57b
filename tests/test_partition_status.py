"""Per-partition status: pure over sets of keys, then through real runs on a real home, the
CLI's ``millrace partitions`` listing, and dynamic partitions added from code and from the
command line."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from conftest import MILLRACE, Db, downgrade, write_source
from millrace import (
    AssetKey,
    DailyPartitionsDefinition,
    Definitions,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    Runtime,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
)
from millrace.storage.schema import SCHEMA_VERSION
from millrace.versions.partition_status import (
    PartitionFacts,
    PartitionStatuses,
    Upstream,
    asset_status,
    partition_statuses,
)
from millrace.versions.staleness import Category, Cause, Status

A, B, R = AssetKey("a"), AssetKey("b"), AssetKey("raw")
ABC = StaticPartitionsDefinition(["x", "y", "z"])
HOURS = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", end_date="2024-01-03-00:00")
DAYS = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-03")


def statuses(
    keys: list[str],
    facts: PartitionFacts,
    ups: Sequence[Upstream] = (),
    *,
    roots: dict[AssetKey, dict[str, Cause]] | None = None,
    definition: Any = ABC,
    whole: Mapping[AssetKey, Cause] | None = None,
) -> PartitionStatuses:
    """Partition statuses of asset ``b``."""
    return partition_statuses(B, definition, keys, ups, facts, roots or {}, whole or {})


# -- pure ------------------------------------------------------------------------------------


def test_each_partition_takes_one_status_missing_failed_and_running_first() -> None:
    own = {"x": Cause(Category.CODE, "has a new code version (v1 -> v2)")}
    result = statuses(
        ["x", "y", "z"],
        PartitionFacts(frozenset({"x", "y"}), failed=frozenset({"y"}), own=own),
    )
    assert {k: result.of(k) for k in "xyz"} == {
        "x": Status.STALE,
        "y": Status.FAILED,
        "z": Status.MISSING,
    }
    assert result.summary() == {"fresh": 0, "stale": 1, "missing": 1, "failed": 1, "running": 0}
    status, causes = asset_status(result)
    assert status is Status.FAILED
    assert [c.message for c in causes] == [
        "1 of 3 partitions failed",
        "1 of 3 partitions missing",
        "1 of 3 partitions stale: has a new code version (v1 -> v2)",
    ]


def test_a_stale_or_missing_upstream_partition_makes_only_its_readers_stale() -> None:
    roots: dict[AssetKey, dict[str, Cause]] = {}
    upstream = partition_statuses(
        A,
        ABC,
        ["x", "y", "z"],
        [],
        PartitionFacts(
            frozenset({"x", "y"}), own={"x": Cause(Category.CODE, "has a new code version")}
        ),
        roots,
        {},
    )
    assert upstream.of("z") is Status.MISSING
    down = statuses(
        ["x", "y", "z"],
        PartitionFacts(frozenset({"x", "y", "z"})),
        [Upstream(A, IdentityPartitionMapping(), ABC)],
        roots=roots,
    )
    assert down.of("y") is Status.FRESH
    assert down.of("x") is Status.STALE and down.of("z") is Status.STALE
    assert down.causes["x"].message == "upstream a is stale: a has a new code version"
    assert down.causes["x"].root == Cause(Category.CODE, "has a new code version", A)
    assert down.causes["z"].message == "upstream a has never been materialized"


def test_one_changed_hour_makes_its_day_stale_and_no_other() -> None:
    hours = list(HOURS.get_partition_keys())
    changed = {"2024-01-02-05:00": Cause(Category.CODE, "has a new code version")}
    roots: dict[AssetKey, dict[str, Cause]] = {}
    partition_statuses(
        A, HOURS, hours, [], PartitionFacts(frozenset(hours), own=changed), roots, {}
    )
    days = statuses(
        ["2024-01-01", "2024-01-02"],
        PartitionFacts(frozenset({"2024-01-01", "2024-01-02"})),
        [Upstream(A, TimeWindowPartitionMapping(), HOURS)],
        roots=roots,
        definition=DAYS,
    )
    assert days.status == {"2024-01-02": Status.STALE}


def test_a_stale_unpartitioned_upstream_makes_every_partition_stale() -> None:
    root = Cause(Category.CODE, "has a new code version", R)
    result = statuses(
        ["x", "y"],
        PartitionFacts(frozenset({"x", "y"})),
        [Upstream(R, IdentityPartitionMapping(), None)],
        whole={R: root},
    )
    assert result.status == {"x": Status.STALE, "y": Status.STALE}
    assert result.causes["y"].message == "upstream raw is stale: raw has a new code version"


# -- real runs -------------------------------------------------------------------------------

SEEN: list[int] = []


@asset(partitions_def=ABC)
def letters(context) -> int:
    SEEN.append(1)
    return len(SEEN) * 10 + "xyz".index(context.partition_key)


@asset(partitions_def=ABC)
def doubled(letters: int) -> int:
    return letters * 2


def test_one_upstream_partition_rematerialized_makes_its_downstream_partition_stale(
    home: Path,
) -> None:
    async def go() -> tuple[Any, Any, Any]:
        async with Runtime(Definitions(assets=[letters, doubled]), home=home) as runtime:
            for key in ("x", "y"):
                assert (await runtime.materialize(partition_key=key)).success
            before = (await runtime.partition_status())[AssetKey("doubled")]
            assert (await runtime.materialize([letters], partition_key="x")).success
            after = (await runtime.partition_status())[AssetKey("doubled")]
            # One asset alone, assessing only what it depends on: the same answer.
            alone = await runtime.partition_status("doubled")
            assert list(alone) == [AssetKey("doubled")] and alone[AssetKey("doubled")] == after
            catalog = {r.asset_key.to_user_string(): r for r in await runtime.catalog()}
            return before, after, catalog

    before, after, catalog = asyncio.run(go())
    assert before.status == {"z": Status.MISSING}
    assert after.status == {"x": Status.STALE, "z": Status.MISSING}
    assert after.causes["x"].message == "upstream letters partition x has a new data version"
    row = catalog["doubled"]
    assert row.status is Status.STALE and row.partitions["fresh"] == 1
    assert row.last_materialized is not None


VALUES = {"x": 1, "y": 2}


@asset(partitions_def=StaticPartitionsDefinition(["x", "y"]), code_version="1")
def source(context) -> int:
    return VALUES[context.partition_key]


@asset(partitions_def=StaticPartitionsDefinition(["x", "y"]), code_version="1")
def reader(source: int) -> int:
    return source + 1


def _flags(db: Db) -> dict[str, int]:
    return dict(
        db.rows(
            "SELECT partition_key, inputs_changed FROM latest_materializations"
            " WHERE asset_key = 'reader'"
        )
    )


def test_a_reader_is_marked_only_when_a_partition_it_read_gets_other_data(
    home: Path, db: Db
) -> None:
    """Partition status compares only marked readers with their upstreams (at ten years of
    hours, comparing every one is most of the cost): the mark must follow the data."""
    defs = Definitions(assets=[source, reader])

    async def status_after(*steps: tuple[str, list[Any] | None]) -> PartitionStatuses:
        async with Runtime(defs, home=home) as runtime:
            for partition, selection in steps:
                assert (await runtime.materialize(selection, partition_key=partition)).success
            return (await runtime.partition_status())[AssetKey("reader")]

    VALUES.update(x=1, y=2)
    assert asyncio.run(status_after(("x", None), ("y", None))).status == {}
    assert _flags(db) == {"x": 0, "y": 0}
    # The same data again (early cutoff): nothing to compare.
    assert asyncio.run(status_after(("x", [source]))).status == {}
    assert _flags(db) == {"x": 0, "y": 0}
    VALUES["x"] = 10
    after = asyncio.run(status_after(("x", [source])))
    assert after.status == {"x": Status.STALE}, after.causes
    assert _flags(db) == {"x": 1, "y": 0}
    assert after.causes["x"].message == "upstream source partition x has a new data version"
    # Back to the data it read: marked still, but compared and found fresh.
    VALUES["x"] = 1
    assert asyncio.run(status_after(("x", [source]))).status == {}
    VALUES["x"] = 10
    assert asyncio.run(status_after(("x", [source]), ("x", [reader]))).status == {}
    assert _flags(db) == {"x": 0, "y": 0}  # its own new materialization clears the mark


def test_a_v7_history_is_marked_where_its_readers_are_stale_when_it_migrates(
    home: Path, db: Db
) -> None:
    defs = Definitions(assets=[source, reader])

    async def materialize(*steps: tuple[str, list[Any] | None]) -> PartitionStatuses:
        async with Runtime(defs, home=home) as runtime:
            for partition, selection in steps:
                assert (await runtime.materialize(selection, partition_key=partition)).success
            return (await runtime.partition_status())[AssetKey("reader")]

    VALUES.update(x=1, y=2)
    asyncio.run(materialize(("x", None), ("y", None)))
    VALUES["y"] = 20
    asyncio.run(materialize(("y", [source])))
    with closing(sqlite3.connect(db.path)) as conn:  # back to schema v7, exactly as it was
        downgrade(conn, 7)
        conn.commit()

    migrated = asyncio.run(materialize())
    assert db.value("PRAGMA user_version") == SCHEMA_VERSION
    assert _flags(db) == {"x": 0, "y": 1}
    assert migrated.status == {"y": Status.STALE}


def test_a_reader_that_commits_after_its_input_was_replaced_is_stale(home: Path, db: Db) -> None:
    """Another run rematerialized ``source`` x while ``reader`` x was running on the old
    value: the reader's record arrives last, and is stale from the start."""
    import sqlite3
    from contextlib import closing

    from millrace.events import AssetMaterialized, InputVersion
    from millrace.storage.batch import write_batch
    from millrace.storage.event_store import EventStore

    def at(event: Any, seq: int) -> Any:
        object.__setattr__(event, "seq", seq)
        return event

    def made(key: str, version: str, seq: int, inputs: tuple[InputVersion, ...] = ()) -> Any:
        return at(
            AssetMaterialized(
                run_id="r",
                asset_key=AssetKey(key),
                partition_key="x",
                code_version="1",
                data_version=version,
                inputs=inputs,
            ),
            seq,
        )

    async def go() -> PartitionStatuses:
        await (await EventStore.open(home)).close()
        with closing(sqlite3.connect(db.path, isolation_level=None)) as conn:
            write_batch(conn, [made("source", "v1", 1)], {})
            write_batch(conn, [made("source", "v2", 2)], {})
            read = (InputVersion(AssetKey("source"), "x", "v1", 1),)
            write_batch(conn, [made("reader", "r1", 3, read)], {})
            conn.execute("UPDATE meta SET value = 4 WHERE name = 'next_event_id'")
        async with Runtime(Definitions(assets=[source, reader]), home=home) as runtime:
            return (await runtime.partition_status())[AssetKey("reader")]

    found = asyncio.run(go())
    assert found.of("x") is Status.STALE
    assert found.causes["x"].message == "upstream source partition x has a new data version"
    assert _flags(db) == {"x": 1}


PROJECT = """
    from millrace import Definitions, DynamicPartitionsDefinition, StaticPartitionsDefinition, asset

    FILES = DynamicPartitionsDefinition(name="files")

    @asset
    def discovered(context) -> int:
        context.instance.add_dynamic_partitions("files", ["a.csv", "b.csv"])
        return 2

    @asset(partitions_def=FILES)
    def parsed(context) -> str:
        return context.partition_key.upper()

    @asset(partitions_def=StaticPartitionsDefinition(["p", "q", "r", "s"]))
    def quarters(context) -> str:
        if context.partition_key == "r":
            raise ValueError("r is broken")
        return context.partition_key

    defs = Definitions(assets=[discovered, parsed, quarters])
"""


def millrace(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MILLRACE, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_partitions_lists_ranges_and_dynamic_keys_come_from_code_and_the_cli(
    tmp_path: Path,
) -> None:
    write_source(tmp_path / "proj.py", PROJECT)
    for key in ("p", "q", "r"):
        millrace("materialize", "proj.py", "--partition", key, "--select", "quarters", cwd=tmp_path)
    shown = millrace("partitions", "quarters", "proj.py", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "quarters: 4 partitions of StaticPartitionsDefinition(['p', 'q', 'r', 's']): "
        "2 fresh, 1 missing, 1 failed",
        "  p..q  fresh (2)",
        "  r     failed",
        "  s     missing",
    ]
    as_json = json.loads(
        millrace("partitions", "quarters", "proj.py", "--json", cwd=tmp_path).stdout
    )
    assert as_json["counts"]["failed"] == 1 and as_json["ranges"][0]["last"] == "q"

    before = millrace(
        "materialize", "proj.py", "--partition", "a.csv", "--select", "parsed", cwd=tmp_path
    )
    assert before.returncode != 0 and "a.csv" in before.stderr
    assert (
        millrace("materialize", "proj.py", "--select", "discovered", cwd=tmp_path).returncode == 0
    )
    ran = millrace(
        "materialize", "proj.py", "--partition", "a.csv", "--select", "parsed", cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr

    added = millrace("partitions", "add", "files", "c.csv", "--path", "proj.py", cwd=tmp_path)
    assert added.stdout.strip() == "files: 3 partitions (a.csv, b.csv, c.csv)"
    listed = millrace("partitions", "parsed", "proj.py", cwd=tmp_path).stdout.splitlines()
    assert listed[1:] == ["  a.csv         fresh", "  b.csv..c.csv  missing (2)"]
    wrong = millrace("partitions", "add", "filez", "d.csv", "--path", "proj.py", cwd=tmp_path)
    assert wrong.returncode == 2 and "did you mean 'files'" in wrong.stderr


def test_statuses_kept_in_memory_see_another_processs_writes(tmp_path: Path, home: Path) -> None:
    from millrace.runtime.loader import load_code_location

    write_source(tmp_path / "proj.py", PROJECT)

    async def go() -> tuple[Any, Any]:
        async with Runtime(load_code_location(tmp_path / "proj.py"), home=home) as runtime:
            before = (await runtime.partition_status())[AssetKey("quarters")]
            wrote = await asyncio.to_thread(
                millrace,
                "materialize",
                "proj.py",
                "--partition",
                "q",
                "--select",
                "quarters",
                cwd=tmp_path,
            )
            assert wrote.returncode == 0, wrote.stdout + wrote.stderr
            after = (await runtime.partition_status())[AssetKey("quarters")]
            return before, after

    before, after = asyncio.run(go())
    assert before.of("q") is Status.MISSING
    assert after.of("q") is Status.FRESH and after.of("p") is Status.MISSING


CHAIN = """
    from pathlib import Path

    from millrace import StaticPartitionsDefinition, asset

    XY = StaticPartitionsDefinition(["x", "y"])
    SEED = Path(__file__).with_name("seed")

    @asset(partitions_def=XY)
    def up(context) -> str:
        return context.partition_key + SEED.read_text()

    @asset(partitions_def=XY)
    def mid(up: str) -> str:
        return up * 2

    @asset(partitions_def=XY)
    def down(mid: str) -> int:
        return len(mid)
"""


def test_status_partitions_lists_each_stale_partition_with_its_cause_through_the_chain(
    tmp_path: Path,
) -> None:
    write_source(tmp_path / "proj.py", CHAIN)
    (tmp_path / "seed").write_text("1")
    for key in ("x", "y"):
        assert millrace("materialize", "proj.py", "--partition", key, cwd=tmp_path).returncode == 0
    (tmp_path / "seed").write_text("2")
    again = millrace("materialize", "proj.py", "--partition", "x", "--select", "up", cwd=tmp_path)
    assert again.returncode == 0

    listed = millrace("status", "proj.py", "--partitions", "down", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "down: 1 stale of 2 partitions",
        "  x  upstream mid is stale: mid upstream up partition x has a new data version",
    ]
    fresh = millrace("status", "proj.py", "--partitions", "up", cwd=tmp_path)
    assert fresh.stdout.strip() == "up: no stale partition (2 fresh)"


MANY = StaticPartitionsDefinition([f"k{i:02d}" for i in range(70)])


@asset(partitions_def=MANY, code_version="1")
def many(context) -> int:
    return 1


def test_the_writer_keeps_each_assets_keys_in_a_few_rows_and_merges_them(
    home: Path, db: Db
) -> None:
    """A run per partition appends a row of keys each; past 64 rows they become one, and
    statuses read from them are those of the history."""

    async def go() -> PartitionStatuses:
        async with Runtime(Definitions(assets=[many]), home=home) as runtime:
            for key in MANY.get_partition_keys()[:69]:
                assert (await runtime.materialize(partition_key=key)).success
            assert (await runtime.materialize(partition_key="k00")).success  # not new
            return (await runtime.partition_status())[AssetKey("many")]

    found = asyncio.run(go())
    chunks = db.rows("SELECT keys FROM partition_keys WHERE asset_key = 'many'")
    assert 1 <= len(chunks) <= 64
    keys = [k for (joined,) in chunks for k in joined.split("\x1f")]
    assert sorted(keys) == MANY.get_partition_keys()[:69]  # each once
    assert found.status == {"k69": Status.MISSING}
    [(newest, versions)] = db.rows(
        "SELECT newest_event_id, code_versions FROM partition_summaries WHERE asset_key = 'many'"
    )
    assert newest == db.value("SELECT MAX(event_id) FROM latest_materializations")
    assert json.loads(versions) == ["1"]


def test_stored_keys_in_the_definitions_order_are_known_complete_without_a_set() -> None:
    from millrace.versions.partition_status import decode_keys

    keys = HOURS.get_partition_keys()
    every, complete = decode_keys("\x1f".join(keys), HOURS, keys)
    assert complete and every == frozenset(keys)
    again, _ = decode_keys("\x1f".join(keys), HOURS, keys)
    assert again is every  # one set per definition, shared by its assets
    shuffled = [*keys[1:], keys[0]]
    other, complete = decode_keys("\x1f".join(shuffled), HOURS, keys)
    assert not complete and other == frozenset(keys)  # the same set, found the slow way
    assert decode_keys("", HOURS, keys) == (frozenset(), False)
    first, complete = decode_keys("\x1f".join(keys[:5]), HOURS, keys)
    assert not complete and first == frozenset(keys[:5])  # a prefix: the set less the rest
    middle, complete = decode_keys("\x1f".join(keys[2:5]), HOURS, keys)
    assert not complete and middle == frozenset(keys[2:5])
    cut, _ = decode_keys(keys[0][:-1], HOURS, keys)  # a prefix of the text, not of a key
    assert cut == frozenset([keys[0][:-1]])
