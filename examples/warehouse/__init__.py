"""Resources and config: the same assets against a dev and a prod warehouse.

    millrace materialize examples/warehouse

``dev`` (the default ``defs``) and ``prod`` differ only in their resources: dev reads a
SQLite file made here on first import; prod reads its connection string from
``$WAREHOUSE_URL`` when a run starts (``python examples/warehouse/create_db.py PATH`` makes
one). The run config's ``ops.spend_model.config`` sets the model's learning rate and epochs.
"""

from pathlib import Path

from millrace import Definitions, EnvVar

from .assets import customer_spend, raw_customers, raw_orders, spend_model
from .create_db import ensure_warehouse
from .resources import WarehouseResource

# made on first import: deterministic, a few thousand rows, ignored by git
DEV_DATABASE = ensure_warehouse(Path(__file__).parent / "data" / "dev.sqlite")

ASSETS = [raw_orders, raw_customers, customer_spend, spend_model]

dev = Definitions(
    assets=ASSETS,
    resources={"warehouse": WarehouseResource(connection_string=f"sqlite:///{DEV_DATABASE}")},
)
prod = Definitions(
    assets=ASSETS,
    resources={"warehouse": WarehouseResource(connection_string=EnvVar("WAREHOUSE_URL"))},
)

defs = dev
