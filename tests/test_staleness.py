"""Pure logic, no I/O: staleness (``assess``, ``own_causes``), the reload diff (``diff_code``)
and lineage trees (``lineage_tree``, ``downstream_lineage``), over plain records.

The one exception is the comment-only edit, which needs a real module file: both versions are
loaded from disk by the real loader, and then compared purely.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from conftest import write_source
from millrace import AssetKey, Definitions, asset
from millrace.events import InputVersion
from millrace.runtime.lineage import downstream_lineage, lineage_tree
from millrace.runtime.loaded_code import LoadedCode
from millrace.runtime.loader import load_code_location
from millrace.runtime.reload import diff_code
from millrace.storage.records import MaterializationRecord
from millrace.versions.staleness import Category, Cause, Status, assess, own_causes

A, B, C, D = (AssetKey(name) for name in "abcd")
OLD_HASH, NEW_HASH = "0123456789abcdef", "fedcba9876543210"


@dataclass(frozen=True)
class Record:
    """A stored materialization as staleness sees it (implements ``Stored``)."""

    code_version: str | None
    data_version: str | None
    inputs: tuple[InputVersion, ...] | None = ()


def consumed(*pairs: tuple[AssetKey, str | None]) -> tuple[InputVersion, ...]:
    return tuple(InputVersion(key, None, version, None) for key, version in pairs)


def chain(*keys: AssetKey) -> dict[AssetKey, tuple[AssetKey, ...]]:
    """``keys[0] -> keys[1] -> ...``: each asset's upstream is the one before it."""
    return {key: (keys[n - 1],) if n else () for n, key in enumerate(keys)}


def fresh_chain(*keys: AssetKey) -> dict[AssetKey, Record]:
    """Latest records of a chain materialized in order with code "v1": all fresh."""
    return {
        key: Record("v1", f"d-{key.path[0]}", consumed((keys[n - 1], f"d-{keys[n - 1].path[0]}")))
        if n
        else Record("v1", f"d-{key.path[0]}")
        for n, key in enumerate(keys)
    }


def assess_chain(latest, keys=(A, B, C), code=None, **kwargs):
    return assess(
        keys, chain(*keys), set(keys), code or dict.fromkeys(keys, "v1"), latest, **kwargs
    )


def messages(assessment) -> list[str]:
    return [cause.message for cause in assessment.causes]


# -- assess and own_causes -------------------------------------------------------------------


def test_a_chain_stored_with_current_code_and_inputs_is_fresh():
    result = assess_chain(fresh_chain(A, B, C))

    assert {k: (a.status, a.causes) for k, a in result.items()} == {
        A: (Status.FRESH, ()),
        B: (Status.FRESH, ()),
        C: (Status.FRESH, ()),
    }
    assert not result[C].stale


def test_never_materialized_is_missing_and_its_downstream_says_so():
    result = assess_chain({})

    assert [result[k].status for k in (A, B, C)] == [Status.MISSING] * 3
    assert [(c.category, c.message, c.asset_key) for c in result[A].causes] == [
        (Category.DATA, "has never been materialized", None)
    ]
    assert messages(result[B]) == [
        "has never been materialized",
        "upstream a has never been materialized",
    ]
    assert messages(result[C])[1:] == ["upstream b has never been materialized"]


def test_a_new_code_version_is_a_code_cause_with_short_hashes():
    latest = {A: Record(OLD_HASH, "d")}

    [cause] = own_causes(NEW_HASH, latest[A], [], {})

    assert cause.category is Category.CODE
    assert cause.message == "has a new code version (01234567 -> fedcba98)"
    assert cause.asset_key is None
    explicit = own_causes("v2", Record("v1", "d"), [], {})
    assert [c.message for c in explicit] == ["has a new code version (v1 -> v2)"]


def test_an_upstream_with_a_new_data_version_is_a_data_cause():
    stored = Record("v1", "d-b", consumed((A, "old")))

    [cause] = own_causes("v1", stored, [(A, None)], {(A, None): "new"})

    assert (cause.category, cause.message, cause.asset_key) == (
        Category.DATA,
        "upstream a has a new data version",
        A,
    )


def test_a_partition_read_is_judged_by_that_partition_alone():
    day, other = "2024-01-02", "2024-01-03"
    stored = Record("v1", "d-b", (InputVersion(A, day, "a-2", None),))
    versions = {(A, day): "a-2", (A, other): "a-3 new"}

    assert own_causes("v1", stored, [(A, day)], versions) == []
    [cause] = own_causes("v1", stored, [(A, day)], {**versions, (A, day): "a-2 new"})
    assert cause.message == "upstream a partition 2024-01-02 has a new data version"
    [moved] = own_causes("v1", stored, [(A, other)], versions)
    assert (moved.category, moved.message) == (
        Category.DEPENDENCIES,
        "has a new dependency on a partition 2024-01-03",
    )


def test_added_and_removed_dependencies_are_dependency_causes():
    stored = Record("v1", "d-c", consumed((A, "d-a")))

    causes = own_causes("v1", stored, [(B, None)], {(A, None): "d-a", (B, None): "d-b"})

    assert [(c.category, c.message, c.asset_key) for c in causes] == [
        (Category.DEPENDENCIES, "has a new dependency on b", B),
        (Category.DEPENDENCIES, "removed dependency on a", A),
    ]


def test_staleness_two_levels_down_names_the_root_cause():
    code = {A: NEW_HASH, B: "v1", C: "v1"}
    latest = fresh_chain(A, B, C)
    latest[A] = Record(OLD_HASH, "d-a")

    result = assess_chain(latest, code=code)

    root_message = "has a new code version (01234567 -> fedcba98)"
    assert messages(result[A]) == [root_message]
    assert messages(result[B]) == [f"upstream a is stale: a {root_message}"]
    [cause] = result[C].causes
    assert cause.message == f"upstream b is stale: a {root_message}"
    assert (cause.category, cause.asset_key) == (Category.CODE, B)
    assert cause.root == Cause(Category.CODE, root_message, A)
    assert [result[k].status for k in (A, B, C)] == [Status.STALE] * 3


def test_a_materialization_without_provenance_is_judged_on_code_only():
    latest = fresh_chain(A, B)
    latest[B] = Record("v1", "d-b", inputs=None)  # consumed nothing we know of
    latest[A] = Record("v1", "other data")

    unchanged = assess_chain(latest, keys=(A, B))
    changed = assess_chain(latest, keys=(A, B), code={A: "v1", B: "v2"})

    assert unchanged[B].status is Status.FRESH
    assert messages(changed[B]) == ["has a new code version (v1 -> v2)"]


def test_failed_and_running_win_over_stale_and_fresh_but_keep_their_causes():
    latest = fresh_chain(A, B, C)
    code = {A: "v2", B: "v1", C: "v1"}

    result = assess_chain(latest, code=code, failed={A, C}, running={B, C})

    assert result[A].status is Status.FAILED
    assert messages(result[A]) == ["has a new code version (v1 -> v2)"]
    assert result[B].status is Status.RUNNING
    assert messages(result[B]) == ["upstream a is stale: a has a new code version (v1 -> v2)"]
    assert result[C].status is Status.RUNNING  # running wins over failed too
    assert result[C].stale
    fresh_but_failed = assess_chain(fresh_chain(A, B, C), failed={B})
    assert (fresh_but_failed[B].status, fresh_but_failed[B].causes) == (Status.FAILED, ())


def test_an_external_asset_is_never_stale_nor_makes_its_downstream_stale():
    source = AssetKey(["raw", "orders"])
    upstream = {source: (), A: (source,)}
    latest = {A: Record("v1", "d-a", consumed((source, "ext-1")))}

    def run(external_version: str | None):
        stored = dict(latest)
        if external_version is not None:
            stored[source] = Record(None, external_version, None)
        return assess((source, A), upstream, {A}, {A: "v1"}, stored)

    never_observed = run(None)
    unchanged = run("ext-1")
    changed = run("ext-2")

    assert never_observed[source] == unchanged[source] == changed[source]
    assert (unchanged[source].status, unchanged[source].causes) == (Status.FRESH, ())
    assert (unchanged[A].status, unchanged[A].causes) == (Status.FRESH, ())
    assert messages(changed[A]) == ["upstream raw/orders has a new data version"]


def test_cause_to_json():
    root = Cause(Category.CODE, "has a new code version (v1 -> v2)", AssetKey(["raw", "orders"]))
    transitive = Cause(Category.CODE, "upstream x is stale: ...", AssetKey("x"), root)

    assert Cause(Category.DATA, "has never been materialized").to_json() == {
        "category": "data",
        "message": "has never been materialized",
        "asset_key": None,
    }
    assert transitive.to_json() == {
        "category": "code",
        "message": "upstream x is stale: ...",
        "asset_key": "x",
        "root": {
            "category": "code",
            "message": "has a new code version (v1 -> v2)",
            "asset_key": "raw/orders",
        },
    }


# -- diff_code -------------------------------------------------------------------------------


def loaded(*assets) -> LoadedCode:
    return LoadedCode.of(Definitions(assets=list(assets)))


def test_diff_code_reports_added_removed_and_changed_attributes():
    @asset(code_version="1")
    def kept() -> int:
        return 1

    @asset(code_version="1")
    def gone() -> int:
        return 2

    @asset(name="moved", code_version="1", group_name="old")
    def moved_v1() -> int:
        return 3

    @asset(name="recoded", code_version="1")
    def recoded_v1() -> int:
        return 4

    @asset(name="rewired", code_version="1")
    def rewired_v1(kept: int) -> int:
        return kept

    @asset(name="moved", code_version="1", group_name="new")
    def moved_v2() -> int:
        return 3

    @asset(name="recoded", code_version="2")
    def recoded_v2() -> int:
        return 4

    @asset(name="rewired", code_version="1")
    def rewired_v2(moved: int) -> int:
        return moved

    @asset(code_version="1")
    def fresh() -> int:
        return 5

    old = loaded(kept, gone, moved_v1, recoded_v1, rewired_v1)
    new = loaded(kept, moved_v2, recoded_v2, rewired_v2, fresh)

    added, removed, changed = diff_code(old, new)

    assert added == (AssetKey("fresh"),)
    assert removed == (AssetKey("gone"),)
    by_key = {c.asset_key.to_user_string(): c for c in changed}
    assert set(by_key) == {"moved", "recoded", "rewired"}
    assert by_key["moved"].attributes == ("group",)
    assert not by_key["moved"].code_changed
    assert by_key["recoded"].attributes == ("code",)
    assert by_key["recoded"].code_changed
    assert (by_key["recoded"].old_code_version, by_key["recoded"].new_code_version) == ("1", "2")
    assert by_key["rewired"].attributes == ("deps",)


MODULE = """
    from millrace import asset


    @asset
    def numbers() -> list[int]:
        # a comment
        return [1, 2, 3]


    @asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)
"""


def test_a_comment_only_edit_of_a_real_module_changes_nothing(tmp_path: Path):
    path = write_source(tmp_path / "nums.py", MODULE)
    before = load_code_location(path)
    write_source(path, MODULE.replace("# a comment", "# another comment, longer"))
    after = load_code_location(path)
    assert after.sources != before.sources  # the file really changed on disk

    unchanged = diff_code(LoadedCode.of(before.defs, before), LoadedCode.of(after.defs, after))

    write_source(path, MODULE.replace("[1, 2, 3]", "[1, 2, 4]"))
    edited = load_code_location(path)
    _, _, changed = diff_code(LoadedCode.of(after.defs, after), LoadedCode.of(edited.defs, edited))
    assert unchanged == ((), (), ())
    assert [(c.asset_key, c.attributes, c.code_changed) for c in changed] == [
        (AssetKey("numbers"), ("code",), True)
    ]


PACKAGE = {
    "__init__.py": """
        from millrace import Definitions, load_assets_from_modules

        from . import clean, raw

        defs = Definitions(assets=load_assets_from_modules([raw, clean]))
    """,
    "settings.py": "LIMIT = 10\n",
    "helpers.py": """
        def trim(values):
            return values[:3]
    """,
    "raw.py": """
        from millrace import asset

        from . import settings

        @asset
        def numbers() -> list[int]:
            return list(range(settings.LIMIT))
    """,
    "clean.py": """
        from millrace import asset

        from .helpers import trim

        @asset
        def trimmed(numbers: list[int]) -> list[int]:
            return trim(numbers)

        @asset
        def counted(numbers: list[int]) -> int:
            return len(numbers)
    """,
}


def test_a_reload_after_editing_one_module_changes_exactly_the_assets_reaching_it(
    tmp_path: Path,
):
    for name, source in PACKAGE.items():
        write_source(tmp_path / "pipeline" / name, source)
    (tmp_path / "pyproject.toml").write_text("")
    package = tmp_path / "pipeline"

    def load() -> LoadedCode:
        location = load_code_location(package)
        return LoadedCode.of(location.defs, location)

    def changed(old: LoadedCode, new: LoadedCode) -> set[str]:
        return {c.asset_key.to_user_string() for c in diff_code(old, new)[2] if c.code_changed}

    first = load()
    unchanged = load()
    write_source(package / "helpers.py", PACKAGE["helpers.py"].replace("[:3]", "[:4]"))
    helper_edited = load()
    write_source(package / "settings.py", "LIMIT = 20\n")
    constant_edited = load()
    # Edited on disk, not reloaded: the loaded code keeps the versions of what it compiled.
    write_source(package / "raw.py", PACKAGE["raw.py"].replace("LIMIT)", "LIMIT + 1)"))
    again = LoadedCode.of(constant_edited.defs, constant_edited.location)

    assert changed(first, unchanged) == set()
    assert changed(unchanged, helper_edited) == {"trimmed"}
    assert changed(helper_edited, constant_edited) == {"numbers"}
    assert again.versions == constant_edited.versions


# -- lineage ---------------------------------------------------------------------------------


def record(key: str, event_id: int, *inputs: tuple[str, int], provenance: bool = True):
    """A materialization whose inputs are the materializations ``(key, event_id)``."""
    return MaterializationRecord(
        asset_key=key,
        partition_key=None,
        run_id=f"run-{event_id}",
        timestamp=float(event_id),
        code_version="v1",
        data_version=f"data-{event_id}",
        metadata={},
        event_id=event_id,
        inputs=tuple(InputVersion(AssetKey(up), None, f"data-{eid}", eid) for up, eid in inputs)
        if provenance
        else None,
    )


def test_lineage_tree_spells_a_diamond_once_and_marks_the_repeat():
    root = record("a", 1)
    left, right = record("b", 2, ("a", 1)), record("c", 3, ("a", 1))
    leaf = record("d", 4, ("b", 2), ("c", 3))
    records = {r.event_id: r for r in (root, left, right, leaf)}

    tree = lineage_tree(leaf, records)

    assert [tree["asset_key"], tree["event_id"], tree["run_id"]] == ["d", 4, "run-4"]
    b, c = tree["inputs"]
    assert (b["asset_key"], c["asset_key"]) == ("b", "c")
    [first] = b["inputs"]
    [second] = c["inputs"]
    assert (first["asset_key"], first["data_version"], first["inputs"]) == ("a", "data-1", [])
    assert "repeated" not in first
    assert (second["asset_key"], second["repeated"], second["inputs"]) == ("a", True, [])


def test_lineage_tree_of_an_unknown_input_and_of_a_record_without_provenance():
    orphan = record("b", 2, ("external", 1))
    old = record("c", 3, provenance=False)

    [external] = lineage_tree(orphan, {2: orphan})["inputs"]
    tree = lineage_tree(old, {3: old})

    assert external == {
        "asset_key": "external",
        "run_id": None,
        "timestamp": None,
        "code_version": None,
        "data_version": "data-1",
        "config": None,
        "inputs": [],
    }
    assert (tree["inputs"], tree["provenance"]) == ([], False)


def test_downstream_lineage_says_which_downstream_consumed_the_current_data():
    @asset
    def a() -> int:
        return 1

    @asset
    def b(a: int) -> int:
        return a

    @asset
    def c(a: int) -> int:
        return a

    @asset
    def d(a: int) -> int:
        return a

    @asset
    def e(a: int) -> int:
        return a

    @asset
    def f(a: int) -> int:
        return a

    graph = Definitions(assets=[a, b, c, d, e, f]).graph
    latest = {
        "a": record("a", 5),
        "b": record("b", 6, ("a", 5)),  # consumed the current a
        "c": record("c", 3, ("a", 1)),  # consumed an older a
        "d": record("d", 4, provenance=False),  # kept no provenance
        # consumed an older materialization of a with the same data (a re-run reproduced it)
        "f": replace(record("f", 7), inputs=(InputVersion(AssetKey("a"), None, "data-5", 2),)),
    }

    tree = downstream_lineage(graph, AssetKey("a"), latest)

    assert tree is not None
    assert (tree["asset_key"], tree["event_id"]) == ("a", 5)
    assert "consumed" not in tree
    assert {n["asset_key"]: n["consumed"] for n in tree["downstream"]} == {
        "b": True,
        "c": False,
        "d": None,
        "e": None,  # never materialized
        "f": True,
    }
    never = next(n for n in tree["downstream"] if n["asset_key"] == "e")
    assert never["run_id"] is None
    assert downstream_lineage(graph, AssetKey("e"), latest) is None
