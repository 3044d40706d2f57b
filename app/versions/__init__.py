"""Versions: what an asset's code and data are, as short stable hashes."""
