"""Which frame library a value belongs to, asking only libraries that are already imported."""

from __future__ import annotations

import sys
from typing import Any


def frame_kind(obj: Any) -> str | None:
    """'polars', 'lazy', 'arrow' or 'pandas' for a frame of a loaded library, else None."""
    root = type(obj).__module__.partition(".")[0]
    if root == "polars":
        pl = sys.modules["polars"]
        if isinstance(obj, pl.DataFrame):
            return "polars"
        if isinstance(obj, pl.LazyFrame):
            return "lazy"
    elif root == "pyarrow" and isinstance(obj, sys.modules["pyarrow"].Table):
        return "arrow"
    elif root == "pandas" and isinstance(obj, sys.modules["pandas"].DataFrame):
        return "pandas"
    return None
