"""A graph built again from the same keys and edges (a reload that changed function bodies)
shares the last one's edges and order, and still checks what the changed nodes can break."""

from __future__ import annotations

import pytest
from millrace import StaticPartitionsDefinition, asset
from millrace.asset_graph import AssetGraph
from millrace.declarations.asset import AssetsDefinition
from millrace.errors import DefinitionsError

REGIONS = StaticPartitionsDefinition(["eu", "us"])


def nodes(up_value: int = 1, up_partitions: StaticPartitionsDefinition = REGIONS):
    @asset(partitions_def=up_partitions)
    def up() -> int:
        return up_value

    @asset(partitions_def=REGIONS)
    def down(up: int) -> int:
        return up

    @asset
    def other() -> int:
        return 0

    return [up, down, other]


def fresh(assets: list[AssetsDefinition]) -> AssetGraph:
    """A graph built with nothing to share: the last graph built is of other keys."""
    of_other_keys = AssetGraph(nodes()[2:])
    graph = AssetGraph(assets)
    assert graph.upstream is not of_other_keys.upstream
    return graph


def test_a_graph_of_the_same_shape_shares_the_edges_and_order_of_the_last():
    up, down, other = nodes()
    first = AssetGraph([up, down, other])
    new_up = nodes(up_value=2)[0]

    second = AssetGraph([new_up, down, other])

    assert second.upstream is first.upstream and second.toposort is first.toposort
    assert second.nodes[new_up.key] is new_up
    rebuilt = fresh([new_up, down, other])
    assert rebuilt.upstream is not first.upstream
    assert (second.upstream, second.downstream, second.toposort) == (
        rebuilt.upstream,
        rebuilt.downstream,
        rebuilt.toposort,
    )


def test_a_changed_node_that_breaks_a_partition_mapping_downstream_is_still_refused():
    up, down, other = nodes()
    first = AssetGraph([up, down, other])  # alive, as a runtime holds the code it serves
    narrower = nodes(up_partitions=StaticPartitionsDefinition(["eu"]))[0]

    with pytest.raises(DefinitionsError, match="the upstream has no partitions us"):
        AssetGraph([narrower, down, other])
    assert AssetGraph([up, down, other]).upstream is first.upstream


def test_new_edges_or_another_order_build_the_graph_afresh():
    up, down, other = nodes()
    first = AssetGraph([up, down, other])

    @asset(name="down", partitions_def=REGIONS)
    def down_reading_other(up: int, other: int) -> int:
        return up + other

    widened = AssetGraph([up, down_reading_other, other])
    assert widened.upstream is not first.upstream
    assert widened.upstream[down.key] == (up.key, other.key)
    assert widened.toposort.index(other.key) < widened.toposort.index(down.key)
    reordered = AssetGraph([other, up, down])
    assert reordered.upstream is not widened.upstream
    assert reordered.toposort == fresh([other, up, down]).toposort
