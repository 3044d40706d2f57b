import os

import dagster as dg

from . import checks, jobs
from .assets import features, ingest, reports
from .resources import NotifierResource, WarehouseResource

defs = dg.Definitions(
    assets=[*dg.load_assets_from_modules([ingest, features, reports])],
    asset_checks=dg.load_asset_checks_from_modules([checks]),
    jobs=[jobs.nightly_job],
    schedules=[jobs.nightly_schedule],
    sensors=[jobs.export_sensor],
    resources={
        "warehouse": WarehouseResource(directory=dg.EnvVar("SHOP_EXPORTS")),
        "notifier": NotifierResource(outbox=os.environ.get("SHOP_OUTBOX", "outbox.jsonl")),
    },
)
