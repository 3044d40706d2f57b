import dagster as dg
import pandas as pd

from ..resources import WarehouseResource

crm_export = dg.AssetSpec("crm_export", description="Nightly CRM dump, landed by another team")


@dg.asset(group_name="ingest", deps=[crm_export], kinds={"pandas"})
def raw_customers(warehouse: WarehouseResource) -> pd.DataFrame:
    """Customers as exported."""
    return warehouse.read("customers")


@dg.asset(group_name="ingest", code_version="1")
def raw_orders(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> pd.DataFrame:
    orders = warehouse.read("orders")
    context.add_output_metadata({"dagster/row_count": len(orders)})
    context.log.info(f"read {len(orders)} orders")
    return orders
