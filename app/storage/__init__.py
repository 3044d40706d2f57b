"""Where runs and values live: the SQLite event store and the IO managers."""
