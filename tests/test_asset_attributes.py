"""Copies of declared assets with attributes changed, as Dagster's ``AssetSpec``
``replace_attributes`` / ``merge_attributes`` and ``AssetsDefinition.with_attributes`` /
``map_asset_specs`` make them; and ``Definitions.get_assets_def`` of a multi-asset's key."""

from __future__ import annotations

import millrace as dg
import pytest


def test_replace_and_merge_attributes_copy_a_spec():
    spec = dg.AssetSpec("raw", deps=["up"], tags={"a": "1"}, owners=["ann@x.io"], kinds={"s3"})

    replaced = spec.replace_attributes(group_name="lake", description="landed", skippable=True)
    merged = spec.merge_attributes(deps=["other"], tags={"b": "2"}, metadata={"rows": 3})

    assert (replaced.group_name, replaced.description, replaced.skippable) == (
        "lake",
        "landed",
        True,
    )
    assert replaced.deps == spec.deps and spec.group_name == "default"  # the original is kept
    assert merged.deps == (dg.AssetKey("up"), dg.AssetKey("other"))
    assert merged.tags == {"a": "1", "b": "2"} and merged.kinds == {"s3"}
    assert merged.metadata["rows"].value == 3
    with pytest.raises(TypeError, match=r"unexpected attributes \['colour'\]"):
        spec.replace_attributes(colour="red")


@dg.asset
def upstream() -> int:
    return 1


@dg.asset(group_name="g")
def downstream(upstream: int) -> int:
    return upstream + 1


def test_with_attributes_replaces_keys_and_per_key_attributes():
    moved = downstream.with_attributes(
        asset_key_replacements={
            dg.AssetKey("downstream"): dg.AssetKey(["prod", "downstream"]),
            dg.AssetKey("upstream"): dg.AssetKey(["prod", "upstream"]),
        },
        group_names_by_key={dg.AssetKey("downstream"): "prod"},
        metadata_by_key={dg.AssetKey("downstream"): {"tier": "gold"}},
    )
    up = upstream.with_attributes(
        asset_key_replacements={dg.AssetKey("upstream"): dg.AssetKey(["prod", "upstream"])}
    )

    assert moved.key == dg.AssetKey(["prod", "downstream"]) and moved.group_name == "prod"
    assert moved.upstream_keys == (dg.AssetKey(["prod", "upstream"]),)
    assert moved.metadata["tier"].value == "gold"
    assert dg.materialize_to_memory([up, moved]).asset_value(["prod", "downstream"]) == 2
    with pytest.raises(dg.DefinitionsError, match="names nope, which asset 'downstream'"):
        downstream.with_attributes(group_names_by_key={dg.AssetKey("nope"): "x"})


@dg.multi_asset(outs={"left": dg.AssetOut(), "right": dg.AssetOut()})
def pair():
    yield dg.Output(1, output_name="left")
    yield dg.Output(2, output_name="right")


def test_a_multi_asset_is_changed_output_by_output_and_is_its_keys_assets_def():
    tagged = pair.with_attributes(
        tags_by_key={dg.AssetKey("right"): {"side": "r"}},
        asset_key_replacements={dg.AssetKey("left"): dg.AssetKey(["x", "left"])},
    )
    mapped = pair.map_asset_specs(lambda spec: spec.replace_attributes(group_name="pairs"))
    defs = dg.Definitions(assets=[tagged])

    assert tagged.keys == {dg.AssetKey(["x", "left"]), dg.AssetKey("right")}
    assert defs.get_assets_def("right") is tagged  # Dagster's: the multi-asset of every key
    assert defs.get_assets_def(["x", "left"]) is tagged
    assert defs.graph.nodes[dg.AssetKey("right")].tags == {"side": "r"}
    assert {o.group_name for o in mapped.outputs} == {"pairs"}
    result = dg.materialize_to_memory([tagged])
    assert (result.asset_value(["x", "left"]), result.asset_value("right")) == (1, 2)
