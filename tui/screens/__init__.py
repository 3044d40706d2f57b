"""One screen per module: catalog, asset, lineage, runs."""
