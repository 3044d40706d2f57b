"""The warehouse the example's assets read: a SQLite file named by a ``sqlite:///`` URL."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import polars as pl
from millrace import ConfigurableResource, InitResourceContext

_SCHEME = "sqlite:///"


class WarehouseResource(ConfigurableResource):
    """``WarehouseResource(connection_string="sqlite:///data/dev.sqlite")``; the path after the
    scheme is relative to the working directory, or absolute (``sqlite:////srv/prod.sqlite``)."""

    connection_string: str

    def setup_for_execution(self, context: InitResourceContext) -> None:
        # fail before any asset runs when the URL points nowhere, not halfway through the run
        path = self.database_path
        if not path.is_file():
            raise FileNotFoundError(
                f"the warehouse database {path} does not exist; create it with "
                f"python examples/warehouse/create_db.py {path}"
            )

    @property
    def database_path(self) -> Path:
        if not self.connection_string.startswith(_SCHEME):
            # the URL itself may hold a password: name the scheme, never echo the value
            raise ValueError(f"WarehouseResource needs a {_SCHEME}<path> connection string")
        return Path(self.connection_string.removeprefix(_SCHEME))

    def query(self, sql: str) -> pl.DataFrame:
        """Run ``sql`` on a read-only connection and return the rows as a Polars frame."""
        # a connection per query: assets run on several threads, and SQLite ones are cheap
        uri = self.database_path.resolve().as_uri() + "?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as connection:
            return pl.read_database(sql, connection)
