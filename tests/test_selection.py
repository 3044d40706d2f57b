"""AssetSelection algebra and the ``--select`` string syntax, resolved against a real graph."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from millrace import (
    AssetIn,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Definitions,
    Runtime,
    SelectionError,
    asset,
)
from millrace.selection import parse_selection, resolve_selection

# external_source -> raw_customers --.
# raw_orders -> clean_orders --------+-> customer_features -> churn_model -> reports/weekly
#                                                         `-> segments


@asset(group_name="raw", tags={"tier": "bronze"})
def raw_orders():
    return 1


@asset(group_name="raw", tags={"tier": "bronze"}, deps=["external_source"])
def raw_customers():
    return 1


@asset(group_name="features")
def clean_orders(raw_orders):
    return raw_orders


@asset(group_name="features", tags={"tier": "gold"})
def customer_features(clean_orders, raw_customers):
    return clean_orders + raw_customers


@asset(group_name="ml", tags={"tier": "gold", "owner": "ml"})
def churn_model(customer_features):
    return customer_features


@asset(group_name="ml")
def segments(customer_features):
    return customer_features


@asset(group_name="ml", key_prefix="reports", ins={"churn_model": AssetIn(key="churn_model")})
def weekly(churn_model):
    return churn_model


ASSETS = [raw_orders, raw_customers, clean_orders, customer_features, churn_model, segments, weekly]
DEFS = Definitions(assets=[AssetSpec("external_source"), *ASSETS])
GRAPH = DEFS.graph
EXECUTABLE = {
    "raw_orders",
    "raw_customers",
    "clean_orders",
    "customer_features",
    "churn_model",
    "segments",
    "reports/weekly",
}


def names(keys: set[AssetKey]) -> set[str]:
    return {k.to_user_string() for k in keys}


def resolve(selection: AssetSelection) -> set[str]:
    return names(selection.resolve(GRAPH))


def select(text: str) -> set[str]:
    return names(resolve_selection(text, GRAPH))


# -- AssetSelection --------------------------------------------------------------------------


def test_all_excludes_external_assets_unless_asked() -> None:
    assert resolve(AssetSelection.all()) == EXECUTABLE
    assert resolve(AssetSelection.all(include_sources=True)) == EXECUTABLE | {"external_source"}


def test_assets_and_keys() -> None:
    assert resolve(AssetSelection.assets(clean_orders, weekly)) == {
        "clean_orders",
        "reports/weekly",
    }
    assert resolve(AssetSelection.keys("reports/weekly", ["churn_model"])) == {
        "reports/weekly",
        "churn_model",
    }
    assert resolve(AssetSelection.keys(AssetKey(["reports", "weekly"]))) == {"reports/weekly"}


def test_groups() -> None:
    assert resolve(AssetSelection.groups("raw")) == {"raw_orders", "raw_customers"}
    assert resolve(AssetSelection.groups("raw", "ml")) == {
        "raw_orders",
        "raw_customers",
        "churn_model",
        "segments",
        "reports/weekly",
    }


def test_tag_with_and_without_value() -> None:
    assert resolve(AssetSelection.tag("tier", "gold")) == {"customer_features", "churn_model"}
    assert resolve(AssetSelection.tag("tier")) == {
        "raw_orders",
        "raw_customers",
        "customer_features",
        "churn_model",
    }
    assert resolve(AssetSelection.tag("tier", "platinum")) == set()


def test_key_prefixes() -> None:
    assert resolve(AssetSelection.key_prefixes("reports")) == {"reports/weekly"}


def test_upstream_all_and_by_depth() -> None:
    base = AssetSelection.keys("customer_features")
    assert resolve(base.upstream()) == {
        "customer_features",
        "clean_orders",
        "raw_orders",
        "raw_customers",
        "external_source",
    }
    assert resolve(base.upstream(depth=1)) == {
        "customer_features",
        "clean_orders",
        "raw_customers",
    }
    assert resolve(base.upstream(depth=2, include_self=False)) == {
        "clean_orders",
        "raw_orders",
        "raw_customers",
        "external_source",
    }


def test_downstream_all_and_by_depth() -> None:
    base = AssetSelection.keys("clean_orders")
    assert resolve(base.downstream()) == {
        "clean_orders",
        "customer_features",
        "churn_model",
        "segments",
        "reports/weekly",
    }
    assert resolve(base.downstream(depth=1)) == {"clean_orders", "customer_features"}
    assert resolve(base.downstream(depth=2, include_self=False)) == {
        "customer_features",
        "churn_model",
        "segments",
    }


def test_union_intersection_difference() -> None:
    raw = AssetSelection.groups("raw")
    gold = AssetSelection.tag("tier", "gold")
    assert resolve(raw | gold) == {
        "raw_orders",
        "raw_customers",
        "customer_features",
        "churn_model",
    }
    assert resolve(AssetSelection.tag("tier") & AssetSelection.groups("raw")) == {
        "raw_orders",
        "raw_customers",
    }
    assert resolve(AssetSelection.all() - AssetSelection.groups("ml")) == {
        "raw_orders",
        "raw_customers",
        "clean_orders",
        "customer_features",
    }
    upstream_of_model = AssetSelection.keys("churn_model").upstream()
    assert resolve(upstream_of_model - raw - AssetSelection.keys("external_source")) == {
        "clean_orders",
        "customer_features",
        "churn_model",
    }


def test_unknown_key_and_group_suggest_the_closest_name() -> None:
    with pytest.raises(SelectionError, match="No asset named 'custmer_features'") as info:
        resolve(AssetSelection.keys("custmer_features"))
    assert "(did you mean 'customer_features'?)" in str(info.value)
    with pytest.raises(SelectionError, match="No group named 'featurs'") as info:
        resolve(AssetSelection.groups("featurs"))
    assert "(did you mean 'features'?)" in str(info.value)


@given(
    st.lists(
        st.tuples(st.sampled_from("|&-<>"), st.integers(0, 99), st.integers(0, 99)), max_size=40
    )
)
def test_shared_and_nested_operands_resolve_as_their_set_algebra(
    steps: list[tuple[str, int, int]],
) -> None:
    """Selections built from earlier ones (shared operands, chains, lineage of unions) resolve
    to what plain set operations on their keys give."""
    pool = [
        AssetSelection.groups("raw"),
        AssetSelection.keys("churn_model", "segments"),
        AssetSelection.tag("tier", "gold"),
        AssetSelection.all(),
    ]
    expected = [selection.resolve(GRAPH) for selection in pool]
    for op, i, j in steps:
        a, keys_a = pool[i % len(pool)], expected[i % len(pool)]
        b, keys_b = pool[j % len(pool)], expected[j % len(pool)]
        if op == "|":
            pool.append(a | b)
            expected.append(keys_a | keys_b)
        elif op == "&":
            pool.append(a & b)
            expected.append(keys_a & keys_b)
        elif op == "-":
            pool.append(a - b)
            expected.append(keys_a - keys_b)
        elif op == "<":
            pool.append(a.upstream(1))
            expected.append(GRAPH.upstream_closure(keys_a, 1))
        else:
            pool.append(a.downstream(1))
            expected.append(GRAPH.downstream_closure(keys_a, 1))
    assert [selection.resolve(GRAPH) for selection in pool] == expected


# -- string syntax ---------------------------------------------------------------------------


def test_plain_key() -> None:
    assert select("churn_model") == {"churn_model"}
    assert select("reports/weekly") == {"reports/weekly"}
    assert select("key:segments") == {"segments"}


def test_star_prefix_selects_all_upstream() -> None:
    assert select("*customer_features") == {
        "customer_features",
        "clean_orders",
        "raw_orders",
        "raw_customers",
        "external_source",
    }


def test_star_suffix_selects_all_downstream() -> None:
    assert select("customer_features*") == {
        "customer_features",
        "churn_model",
        "segments",
        "reports/weekly",
    }


def test_plus_counts_levels() -> None:
    assert select("+churn_model") == {"churn_model", "customer_features"}
    assert select("++churn_model") == {
        "churn_model",
        "customer_features",
        "clean_orders",
        "raw_customers",
    }
    assert select("clean_orders+") == {"clean_orders", "customer_features"}
    assert select("clean_orders++") == {
        "clean_orders",
        "customer_features",
        "churn_model",
        "segments",
    }
    assert select("+clean_orders+") == {"raw_orders", "clean_orders", "customer_features"}


def test_group_and_tag_terms() -> None:
    assert select("group:raw") == {"raw_orders", "raw_customers"}
    assert select("tag:tier=gold") == {"customer_features", "churn_model"}
    assert select("tag:owner") == {"churn_model"}
    assert select("group:raw+") == {"raw_orders", "raw_customers", "clean_orders"} | {
        "customer_features"
    }


def test_comma_is_a_union() -> None:
    assert select("raw_orders, segments ,group:ml") == {
        "raw_orders",
        "segments",
        "churn_model",
        "reports/weekly",
    }


def test_parse_selection_returns_an_asset_selection() -> None:
    selection = parse_selection("+segments")
    assert isinstance(selection, AssetSelection)
    assert resolve(selection) == {"segments", "customer_features"}


def test_resolve_selection_accepts_none_selections_and_lists() -> None:
    assert names(resolve_selection(None, GRAPH)) == EXECUTABLE
    assert names(resolve_selection(AssetSelection.groups("raw"), GRAPH)) == {
        "raw_orders",
        "raw_customers",
    }
    assert names(resolve_selection([segments, "churn_model"], GRAPH)) == {
        "segments",
        "churn_model",
    }


def test_typo_suggests_the_closest_key() -> None:
    with pytest.raises(SelectionError) as info:
        select("custmer_features")
    assert "'custmer_features'" in str(info.value)
    assert "(did you mean 'customer_features'?)" in str(info.value)
    with pytest.raises(SelectionError, match=r"\(did you mean 'customer_features'\?\)"):
        select("*custmer_features+")


def test_selection_matching_nothing_is_an_error() -> None:
    with pytest.raises(SelectionError, match="tag:tier=platinum matches no asset"):
        select("tag:tier=platinum")
    with pytest.raises(SelectionError, match="the selection matches no asset"):
        resolve_selection(AssetSelection.tag("nope"), GRAPH)


@pytest.mark.parametrize("text", ["a*b", "**a", "*+a"])
def test_unparseable_terms(text: str) -> None:
    with pytest.raises(SelectionError, match="Cannot parse selection term"):
        parse_selection(text)


@pytest.mark.parametrize("text", ["", " , "])
def test_empty_selection(text: str) -> None:
    with pytest.raises(SelectionError, match="Empty selection"):
        parse_selection(text)


def test_plan_excludes_external_assets_and_refuses_an_only_external_selection() -> None:
    runtime = Runtime(DEFS, persist=False)
    plan = runtime.plan("*raw_customers")
    assert [k.to_user_string() for k in plan.keys] == ["raw_customers"]
    with pytest.raises(SelectionError, match=r"only external assets.*external_source"):
        runtime.plan("external_source")
