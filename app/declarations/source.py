"""Where a definition lives in user code, for error messages."""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SourceLocation:
    file: str
    line: int

    def __str__(self) -> str:
        path = self.file
        try:
            rel = os.path.relpath(path)
            if not rel.startswith(".."):
                path = rel
        except ValueError:  # another drive on Windows
            pass
        return f"{path}:{self.line}"


def location_of(fn: Any) -> SourceLocation | None:
    code = getattr(inspect.unwrap(fn), "__code__", None)
    if code is None:
        return None
    return SourceLocation(code.co_filename, code.co_firstlineno)


def caller_location(depth: int = 2) -> SourceLocation | None:
    """The user's line that called into us, for definitions built without a function."""
    frame = inspect.currentframe()
    for _ in range(depth):
        if frame is None:
            return None
        frame = frame.f_back
    if frame is None:
        return None
    return SourceLocation(frame.f_code.co_filename, frame.f_lineno)
