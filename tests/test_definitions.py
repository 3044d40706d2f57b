"""@asset declarations, AssetKey, and the errors Definitions raises for an invalid graph."""

import inspect
import os
import pickle
from pathlib import Path

import pytest
from millrace import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Definitions,
    DefinitionsError,
    MetadataValue,
    asset,
)

HERE = os.path.basename(__file__)


def where(defn: AssetsDefinition) -> str:
    """``test_definitions.py:LINE`` of the decorated function, computed independently.

    Messages show the path relative to the working directory, so match on the file name.
    """
    return f"{HERE}:{inspect.getsourcelines(defn.fn)[1]}"


# -- @asset ----------------------------------------------------------------------------------


@asset
def bare_asset():
    """Docstring becomes the description."""
    return 1


def test_bare_asset_uses_function_name_defaults_and_docstring() -> None:
    assert isinstance(bare_asset, AssetsDefinition)
    assert bare_asset.key == AssetKey("bare_asset")
    assert bare_asset.name == "bare_asset"
    assert bare_asset.group_name == "default"
    assert bare_asset.description == "Docstring becomes the description."
    assert bare_asset.inputs == ()
    assert bare_asset.deps == ()
    assert bare_asset.metadata == {}
    assert bare_asset.code_version is None
    assert bare_asset.context_param is None
    assert bare_asset() == 1


def test_explicit_description_wins_over_docstring() -> None:
    @asset(description="explicit")
    def documented():
        """Ignored."""

    assert documented.description == "explicit"


def test_name_and_key_prefix() -> None:
    @asset(name="renamed", key_prefix=["warehouse", "raw"])
    def original():
        return 1

    assert original.key == AssetKey(["warehouse", "raw", "renamed"])
    assert original.key.to_user_string() == "warehouse/raw/renamed"

    @asset(key_prefix="one")
    def prefixed_by_string():
        return 1

    assert prefixed_by_string.key.path == ("one", "prefixed_by_string")


def test_explicit_key_and_conflict_with_name() -> None:
    @asset(key=["x", "y"])
    def keyed():
        return 1

    assert keyed.key == AssetKey(["x", "y"])
    assert keyed.name == "y"

    with pytest.raises(DefinitionsError, match="pass key, or name/key_prefix, not both"):

        @asset(key="k", name="n")
        def both():
            return 1


def test_parameters_become_inputs_in_the_assets_own_prefix() -> None:
    @asset(key_prefix="p")
    def child(left, right):
        return left + right

    assert [(i.param, i.key) for i in child.inputs] == [
        ("left", AssetKey(["p", "left"])),
        ("right", AssetKey(["p", "right"])),
    ]
    assert child.upstream_keys == (AssetKey(["p", "left"]), AssetKey(["p", "right"]))


def test_ins_with_key_and_key_prefix() -> None:
    @asset(
        ins={
            "orders": AssetIn(key=["sales", "orders_v2"]),
            "people": AssetIn(key_prefix=["crm"]),
            "plain": AssetIn(key="some/where"),
        }
    )
    def joined(orders, people, plain):
        return orders, people, plain

    assert {i.param: i.key for i in joined.inputs} == {
        "orders": AssetKey(["sales", "orders_v2"]),
        "people": AssetKey(["crm", "people"]),
        "plain": AssetKey(["some", "where"]),
    }


def test_asset_in_rejects_key_and_prefix_together() -> None:
    with pytest.raises(DefinitionsError, match="key or key_prefix, not both"):
        AssetIn(key="a", key_prefix="b")


def test_ins_naming_a_missing_parameter_is_an_error() -> None:
    with pytest.raises(DefinitionsError) as info:

        @asset(ins={"nope": AssetIn()})
        def lonely(actual):
            return actual

    assert "asset 'lonely'" in str(info.value)
    assert "['nope']" in str(info.value)


def test_deps_accept_assets_keys_and_strings() -> None:
    @asset(deps=[bare_asset, AssetKey(["a", "b"]), "c/d", "e"])
    def after():
        return None

    assert after.deps == (
        AssetKey("bare_asset"),
        AssetKey(["a", "b"]),
        AssetKey(["c", "d"]),
        AssetKey("e"),
    )
    assert after.inputs == ()
    assert set(after.upstream_keys) == set(after.deps)


def test_metadata_plain_values_are_coerced(tmp_path: Path) -> None:
    @asset(
        metadata={
            "count": 3,
            "ratio": 0.5,
            "flag": True,
            "owner": "team",
            "nothing": None,
            "where": tmp_path,
            "nested": {"a": [1, 2]},
            "typed": MetadataValue.int(5),
        }
    )
    def described():
        return 1

    md = described.metadata
    assert md["count"] == MetadataValue.int(3)
    assert md["ratio"] == MetadataValue.float(0.5)
    assert md["flag"] == MetadataValue("bool", True)  # bool is not coerced to int
    assert md["owner"] == MetadataValue.text("team")
    assert md["nothing"] == MetadataValue.null()
    assert md["where"] == MetadataValue.path(str(tmp_path))
    assert md["nested"] == MetadataValue.json({"a": [1, 2]})
    assert md["typed"] == MetadataValue("int", 5)


def test_metadata_value_that_cannot_be_stored_names_the_entry() -> None:
    with pytest.raises(TypeError) as info:

        @asset(metadata={"bad": object()})
        def unstorable():
            return 1

    assert "'bad'" in str(info.value)
    assert "asset 'unstorable'" in str(info.value)


def test_code_version_tags_kinds_owners_group() -> None:
    @asset(
        code_version="v3",
        tags={"tier": "gold"},
        kinds={"polars"},
        compute_kind="python",
        owners=["team:data", "a@b.c"],
        group_name="features",
    )
    def rich():
        return 1

    assert rich.code_version == "v3"
    assert rich.tags == {"tier": "gold"}
    assert rich.kinds == frozenset({"polars", "python"})
    assert rich.owners == ("team:data", "a@b.c")
    assert rich.group_name == "features"


def test_context_param_detected_by_name() -> None:
    @asset
    def by_name(context, upstream):
        return upstream

    assert by_name.context_param == "context"
    assert [i.param for i in by_name.inputs] == ["upstream"]


def test_context_param_detected_by_annotation() -> None:
    @asset
    def by_annotation(ctx: AssetExecutionContext, upstream):
        return upstream

    assert by_annotation.context_param == "ctx"
    assert [i.param for i in by_annotation.inputs] == ["upstream"]


def test_context_param_detected_by_string_annotation() -> None:
    # This module does not use ``from __future__ import annotations``, so the class annotation
    # above and this string one are really different forms.
    @asset
    def by_string(ctx: "AssetExecutionContext"):
        return 1

    @asset
    def by_dotted(ctx: "millrace.AssetExecutionContext"):  # noqa: F821
        return 1

    assert by_string.context_param == "ctx"
    assert by_string.inputs == ()
    assert by_dotted.context_param == "ctx"


def test_star_args_are_rejected() -> None:
    with pytest.raises(DefinitionsError, match=r"\*args and \*\*kwargs are not supported"):

        @asset
        def variadic(*frames):
            return frames


# -- AssetKey --------------------------------------------------------------------------------


def test_asset_key_forms_and_strings() -> None:
    assert AssetKey("a").path == ("a",)
    assert AssetKey(["a", "b"]).path == ("a", "b")
    assert AssetKey(("a", "b")).to_user_string() == "a/b"
    assert AssetKey.from_user_string("a/b") == AssetKey(["a", "b"])
    assert repr(AssetKey(["a", "b"])) == "AssetKey(['a', 'b'])"


def test_asset_key_equality_and_hash() -> None:
    assert AssetKey(["a", "b"]) == AssetKey(("a", "b"))
    assert AssetKey("a") != AssetKey(["a", "b"])
    assert AssetKey("a") != "a"
    assert hash(AssetKey(["a", "b"])) == hash(AssetKey(["a", "b"]))
    assert len({AssetKey("a"), AssetKey(["a"]), AssetKey(["a", "b"])}) == 2
    assert {AssetKey(["a", "b"]): 1}[AssetKey(["a", "b"])] == 1


def test_asset_key_is_immutable_and_validated() -> None:
    key = AssetKey("a")
    with pytest.raises(AttributeError):
        key.path = ("b",)  # type: ignore[misc]
    with pytest.raises(ValueError, match="at least one"):
        AssetKey([])
    with pytest.raises(ValueError, match="Invalid asset key component 'a b'"):
        AssetKey("a b")


def test_asset_key_pickles() -> None:
    key = AssetKey(["a", "b"])
    again = pickle.loads(pickle.dumps(key))
    assert again == key
    assert hash(again) == hash(key)
    assert again.path == ("a", "b")


# -- graph validation ------------------------------------------------------------------------


@asset(name="duplicated")
def duplicate_one():
    return 1


@asset(name="duplicated")
def duplicate_two():
    return 2


def test_duplicate_keys_name_both_locations() -> None:
    with pytest.raises(DefinitionsError) as info:
        Definitions(assets=[duplicate_one, duplicate_two])
    message = str(info.value)
    assert "asset key 'duplicated' is defined twice" in message
    assert where(duplicate_one) in message
    assert where(duplicate_two) in message
    assert where(duplicate_one) != where(duplicate_two)


@asset
def customer_features():
    return 1


@asset
def churn_model(custmer_features):
    return custmer_features


def test_unknown_dependency_names_asset_location_missing_key_and_suggestion() -> None:
    with pytest.raises(DefinitionsError) as info:
        Definitions(assets=[customer_features, churn_model])
    message = str(info.value)
    assert "asset 'churn_model' (" in message
    assert f"{where(churn_model)}) depends on 'custmer_features'" in message
    assert "(did you mean 'customer_features'?)" in message


def test_unknown_dependency_without_a_close_key_makes_no_suggestion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MILLRACE_STRICT_DEPS", "1")  # else an external asset, as in Dagster

    @asset(deps=["zzzzzz"])
    def needs_far_away():
        return 1

    with pytest.raises(DefinitionsError) as info:
        Definitions(assets=[customer_features, needs_far_away])
    assert "depends on 'zzzzzz'" in str(info.value)
    assert "did you mean" not in str(info.value).lower()


def test_an_asset_spec_satisfies_a_dependency() -> None:
    defs = Definitions(assets=[AssetSpec("custmer_features"), churn_model])
    assert set(defs.asset_keys) == {AssetKey("custmer_features"), AssetKey("churn_model")}


@asset
def cycle_a(cycle_c):
    return cycle_c


@asset
def cycle_b(cycle_a):
    return cycle_a


@asset
def cycle_c(cycle_b):
    return cycle_b


@asset
def outside_cycle():
    return 1


def test_cycle_is_shown_as_a_path() -> None:
    with pytest.raises(DefinitionsError) as info:
        Definitions(assets=[outside_cycle, cycle_a, cycle_b, cycle_c])
    message = str(info.value)
    assert "cycle_a -> cycle_b -> cycle_c -> cycle_a" in message
    for defn in (cycle_a, cycle_b, cycle_c):
        assert where(defn) in message
    assert "outside_cycle" not in message


def test_self_dependency_is_a_cycle() -> None:
    @asset(deps=["loop"])
    def loop():
        return 1

    with pytest.raises(DefinitionsError, match="loop -> loop"):
        Definitions(assets=[loop])


@asset(required_resource_keys={"warehouse"})
def needs_warehouse(context):
    return context.resources.warehouse


def test_missing_resource_names_asset_and_resource() -> None:
    with pytest.raises(DefinitionsError) as info:
        Definitions(assets=[needs_warehouse])
    message = str(info.value)
    assert "asset 'needs_warehouse' (" in message
    assert f"{where(needs_warehouse)}) requires resource 'warehouse'" in message
    Definitions(assets=[needs_warehouse], resources={"warehouse": object()})


def test_custom_io_manager_key_must_be_provided() -> None:
    @asset(io_manager_key="lake")
    def in_the_lake():
        return 1

    with pytest.raises(DefinitionsError, match="requires resource 'lake'"):
        Definitions(assets=[in_the_lake])


def test_definitions_reject_what_is_not_an_asset() -> None:
    def plain():
        return 1

    with pytest.raises(DefinitionsError, match="expected @asset functions or AssetSpecs"):
        Definitions(assets=[plain])  # type: ignore[list-item]


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(DefinitionsError) as info:
        Definitions(assets=[duplicate_one, duplicate_two, churn_model])
    message = str(info.value)
    assert "defined twice" in message
    assert "depends on 'custmer_features'" in message
