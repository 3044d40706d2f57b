"""What users declare: assets, keys, metadata, outputs and Definitions."""
