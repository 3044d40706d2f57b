"""Frames (Polars, Arrow, pandas): their kind, conversion to Polars, dtype names, metadata."""
