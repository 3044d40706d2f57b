"""``AssetMaterialization`` reported from an asset: yielded, or through ``context.log_event``;
each is recorded as a materialization of its own asset, beside the asset's own."""

from __future__ import annotations

from pathlib import Path

import millrace as dg
import pytest
from millrace.errors import MillraceError
from millrace.runtime.runtime import Runtime

warehouse = dg.AssetSpec("warehouse_table")


@dg.asset(deps=[warehouse])
def loader(context: dg.AssetExecutionContext):
    context.log_event(dg.AssetMaterialization(asset_key="warehouse_table", metadata={"rows": 10}))
    yield dg.AssetMaterialization("audit/log", description="written too", partition="p1")
    yield dg.Output(3)


def test_reported_materializations_are_recorded_for_their_own_assets():
    result = dg.materialize([warehouse, loader])

    assert result.success
    made = {
        (e.asset_key.to_user_string(), e.partition_key): e
        for e in result.get_asset_materialization_events()
    }
    assert set(made) == {("loader", None), ("warehouse_table", None), ("audit/log", "p1")}
    assert made[("warehouse_table", None)].metadata["rows"].value == 10


async def test_the_store_keeps_them_and_an_external_asset_gets_a_latest_materialization(
    home: Path,
):
    defs = dg.Definitions(assets=[warehouse, loader])
    async with Runtime(defs, home=home) as rt:
        assert (await rt.submit()).success
        external = await rt.latest_materialization("warehouse_table")
        audit = await rt.latest_materialization("audit/log", partition_key="p1")

    assert external is not None and external.metadata["rows"].value == 10
    assert audit is not None


def test_log_event_takes_only_materializations():
    @dg.asset
    def wrong(context: dg.AssetExecutionContext) -> int:
        context.log_event("not an event")
        return 1

    with pytest.raises(MillraceError, match="log_event takes an AssetMaterialization, not str"):
        dg.materialize([wrong])
