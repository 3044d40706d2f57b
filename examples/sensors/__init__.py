"""A landing directory watched by a sensor: drop a CSV of orders into landing/ and it is
ingested, cleaned and reported on. Run: millrace serve examples/sensors (see README.md)."""

from millrace import Definitions

from .assets import clean, ingest, report
from .sensors import LANDING, landing_files

__all__ = ["LANDING", "defs"]

defs = Definitions(assets=[ingest, clean, report], sensors=[landing_files])
