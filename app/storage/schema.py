"""The event store's SQLite schema, as a list of migrations applied in order.

Each entry upgrades the schema by one version; ``PRAGMA user_version`` records how far a
database file is. Append, never edit: a released entry has already run on users' files.
"""

DATABASE = "millrace.db"  # in the home

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE runs (
        run_id      TEXT PRIMARY KEY,
        status      TEXT NOT NULL,
        selection   TEXT NOT NULL,
        config      TEXT NOT NULL,
        tags        TEXT NOT NULL,
        start_time  REAL NOT NULL,
        end_time    REAL,
        pid         INTEGER,
        hostname    TEXT,
        message     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX runs_by_start ON runs (start_time);
    CREATE TABLE events (
        id            INTEGER PRIMARY KEY,
        run_id        TEXT NOT NULL,
        asset_key     TEXT,
        partition_key TEXT,
        type          TEXT NOT NULL,
        timestamp     REAL NOT NULL,
        payload       TEXT NOT NULL
    );
    CREATE INDEX events_by_run ON events (run_id, id);
    CREATE INDEX events_by_asset ON events (asset_key, type, id);
    CREATE TABLE latest_materializations (
        asset_key     TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        run_id        TEXT NOT NULL,
        event_id      INTEGER NOT NULL,
        timestamp     REAL NOT NULL,
        code_version  TEXT,
        data_version  TEXT,
        metadata      TEXT NOT NULL,
        PRIMARY KEY (asset_key, partition_key)
    );
    """,
    """
    ALTER TABLE events ADD COLUMN check_name TEXT;
    CREATE TABLE latest_check_results (
        asset_key     TEXT NOT NULL,
        check_name    TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        run_id        TEXT NOT NULL,
        timestamp     REAL NOT NULL,
        passed        INTEGER NOT NULL,
        severity      TEXT NOT NULL,
        blocking      INTEGER NOT NULL,
        description   TEXT,
        metadata      TEXT NOT NULL,
        error         TEXT,
        PRIMARY KEY (asset_key, check_name, partition_key)
    );
    """,
    """
    ALTER TABLE latest_materializations ADD COLUMN config TEXT;
    """,
    """
    CREATE TABLE asset_values (
        asset_key     TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        data          BLOB NOT NULL,
        PRIMARY KEY (asset_key, partition_key)
    );
    """,
    # v5: event ids reserved per process (events.id is the bus's seq), the history and
    # provenance of every materialization, failed assets, and write leases across processes.
    """
    CREATE TABLE meta (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    INSERT INTO meta (name, value) SELECT 'next_event_id', COALESCE(MAX(id), 0) + 1 FROM events;
    CREATE TABLE materializations (
        event_id      INTEGER PRIMARY KEY,
        asset_key     TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        run_id        TEXT NOT NULL,
        timestamp     REAL NOT NULL,
        code_version  TEXT,
        data_version  TEXT,
        config        TEXT,
        has_provenance INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX materializations_by_asset
        ON materializations (asset_key, partition_key, timestamp);
    INSERT INTO materializations (event_id, asset_key, partition_key, run_id, timestamp,
                                  code_version, data_version, config)
        SELECT id, asset_key, COALESCE(partition_key, ''), run_id, timestamp,
               json_extract(payload, '$.code_version'), json_extract(payload, '$.data_version'),
               json_extract(payload, '$.config')
        FROM events WHERE type = 'ASSET_MATERIALIZED';
    CREATE TABLE materialization_inputs (
        event_id       INTEGER NOT NULL,
        asset_key      TEXT NOT NULL,
        partition_key  TEXT NOT NULL DEFAULT '',
        data_version   TEXT,
        input_event_id INTEGER,
        PRIMARY KEY (event_id, asset_key, partition_key)
    );
    CREATE INDEX inputs_by_upstream_event ON materialization_inputs (input_event_id);
    ALTER TABLE latest_materializations ADD COLUMN has_provenance INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE asset_failures (
        asset_key     TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        run_id        TEXT NOT NULL,
        event_id      INTEGER NOT NULL,
        timestamp     REAL NOT NULL,
        error         TEXT NOT NULL,
        PRIMARY KEY (asset_key, partition_key)
    );
    CREATE TABLE leases (
        asset_key     TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        run_id        TEXT NOT NULL,
        pid           INTEGER NOT NULL,
        hostname      TEXT NOT NULL,
        acquired      REAL NOT NULL,
        PRIMARY KEY (asset_key, partition_key, run_id)
    );
    CREATE INDEX runs_by_status ON runs (status, start_time);
    """,
    # v6: partitions. Unpartitioned is '' in every table (events too); the steps in flight,
    # per partition, for status across processes; dynamic partitions' keys.
    """
    UPDATE events SET partition_key = '' WHERE partition_key IS NULL;
    CREATE TABLE in_progress (
        asset_key     TEXT NOT NULL,
        partition_key TEXT NOT NULL DEFAULT '',
        run_id        TEXT NOT NULL,
        timestamp     REAL NOT NULL,
        PRIMARY KEY (asset_key, partition_key, run_id)
    );
    CREATE INDEX in_progress_by_run ON in_progress (run_id);
    CREATE TABLE dynamic_partitions (
        name          TEXT NOT NULL,
        partition_key TEXT NOT NULL,
        added         REAL NOT NULL,
        PRIMARY KEY (name, partition_key)
    );
    """,
    # v7: backfills (recorded from their runs' tags) and the runs each one took.
    """
    CREATE TABLE backfills (
        backfill_id TEXT PRIMARY KEY,
        selection   TEXT NOT NULL,
        spec        TEXT NOT NULL,
        created     REAL NOT NULL,
        total       INTEGER NOT NULL
    );
    CREATE TABLE backfill_runs (
        backfill_id TEXT NOT NULL,
        run_id      TEXT NOT NULL,
        PRIMARY KEY (backfill_id, run_id)
    );
    CREATE INDEX materializations_by_run ON materializations (run_id);
    """,
    # v8: partition status without reading every row's provenance. A latest materialization
    # is flagged when a partition it read gets another data version (or disappears), so only
    # flagged rows are compared with their upstreams' versions; a covering index answers the
    # rest of an asset's partitions without touching their metadata.
    """
    ALTER TABLE latest_materializations ADD COLUMN inputs_changed INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX latest_by_event ON latest_materializations (event_id);
    CREATE INDEX latest_partitions ON latest_materializations
        (asset_key, partition_key, event_id, timestamp, code_version);
    CREATE INDEX latest_inputs_changed ON latest_materializations (asset_key)
        WHERE inputs_changed = 1;
    CREATE INDEX inputs_by_upstream ON materialization_inputs (asset_key, partition_key);
    UPDATE latest_materializations SET inputs_changed = 1 WHERE event_id IN (
        SELECT i.event_id FROM materialization_inputs i
        LEFT JOIN latest_materializations u
            ON u.asset_key = i.asset_key AND u.partition_key = i.partition_key
        WHERE u.data_version IS NOT i.data_version
    );
    """,
    # v9: automation. What started each run; schedules' and sensors' state (started or
    # stopped, a sensor's cursor), every tick they evaluated, and the run keys a sensor used
    # (a key launches once, across restarts).
    """
    ALTER TABLE runs ADD COLUMN origin TEXT NOT NULL DEFAULT 'manual';
    UPDATE runs SET origin = 'dev' WHERE json_extract(tags, '$."millrace/origin"') = 'dev';
    UPDATE runs SET origin = 'backfill'
        WHERE json_extract(tags, '$."dagster/backfill"') IS NOT NULL;
    CREATE INDEX runs_by_origin ON runs (origin, start_time);
    CREATE TABLE instigators (
        name     TEXT PRIMARY KEY,
        kind     TEXT NOT NULL,
        status   TEXT,
        cursor   TEXT,
        updated  REAL NOT NULL
    );
    CREATE TABLE ticks (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        name         TEXT NOT NULL,
        kind         TEXT NOT NULL,
        timestamp    REAL NOT NULL,
        scheduled    REAL,
        status       TEXT NOT NULL,
        run_ids      TEXT NOT NULL,
        skip_reason  TEXT,
        error        TEXT,
        cursor       TEXT
    );
    CREATE INDEX ticks_by_name ON ticks (name, timestamp);
    CREATE TABLE run_keys (
        name      TEXT NOT NULL,
        run_key   TEXT NOT NULL,
        run_id    TEXT NOT NULL,
        timestamp REAL NOT NULL,
        PRIMARY KEY (name, run_key)
    );
    """,
    # v10: declarative automation: each asset's last evaluation (what it requested, why) and
    # the memory its condition keeps between evaluations.
    """
    CREATE TABLE automation_evaluations (
        asset_key  TEXT PRIMARY KEY,
        sensor     TEXT NOT NULL,
        timestamp  REAL NOT NULL,
        evaluation TEXT NOT NULL
    );
    """,
    # v11: each asset's materialized partitions as a few rows of joined keys, and a summary
    # (newest materialization, code versions), kept by the writer (storage/partition_index.py).
    # v8's covering index served the scan these replace: every write paid for it.
    """
    DROP INDEX latest_partitions;
    CREATE TABLE partition_keys (
        asset_key TEXT NOT NULL,
        keys      TEXT NOT NULL
    );
    CREATE INDEX partition_keys_by_asset ON partition_keys (asset_key);
    CREATE TABLE partition_summaries (
        asset_key        TEXT PRIMARY KEY,
        newest_event_id  INTEGER,
        newest_timestamp REAL,
        code_versions    TEXT NOT NULL
    );
    INSERT INTO partition_keys (asset_key, keys)
        SELECT asset_key, group_concat(partition_key, char(31)) FROM latest_materializations
        WHERE partition_key != '' GROUP BY asset_key;
    INSERT INTO partition_summaries
        SELECT asset_key, MAX(event_id), MAX(timestamp), json_group_array(DISTINCT code_version)
        FROM latest_materializations WHERE partition_key != '' GROUP BY asset_key;
    """,
    # v12: observations of external assets. An asset's latest observation is its latest row,
    # as a materialization is (its data version is what downstream provenance compares
    # with), marked so that what asks for materializations alone can leave it out.
    """
    ALTER TABLE latest_materializations ADD COLUMN observed INTEGER NOT NULL DEFAULT 0;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    """A migration's SQL statements, one by one, so a migration runs inside a transaction
    (``executescript`` would commit first)."""
    import sqlite3

    found, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip():
        found.append(pending.strip())
    return found
