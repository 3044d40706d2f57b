import json
from pathlib import Path

import dagster as dg
import pandas as pd


class WarehouseResource(dg.ConfigurableResource):
    """Reads the CSV exports a warehouse drops into a directory."""

    directory: str

    def read(self, table: str) -> pd.DataFrame:
        return pd.read_csv(Path(self.directory) / f"{table}.csv")


class NotifierResource(dg.ConfigurableResource):
    """Appends messages to a JSON-lines file (a stand-in for Slack)."""

    outbox: str
    channel: str = "#data"

    def send(self, text: str) -> None:
        with open(self.outbox, "a") as out:
            out.write(json.dumps({"channel": self.channel, "text": text}) + "\n")
