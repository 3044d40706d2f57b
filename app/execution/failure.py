"""Turn an exception from user code into ErrorInfo: type, message and only the user's frames."""

from __future__ import annotations

import os
import sysconfig
import traceback

from ..events import ErrorInfo

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STDLIB_DIR = sysconfig.get_paths()["stdlib"]
_HIDDEN = (_PACKAGE_DIR + os.sep, _STDLIB_DIR + os.sep)


def user_frames(exc: BaseException) -> list[traceback.FrameSummary]:
    """The frames of ``exc``'s traceback that belong to user code, not Millrace or asyncio."""
    frames = traceback.extract_tb(exc.__traceback__)
    return [f for f in frames if not f.filename.startswith(_HIDDEN) and f.filename[0] != "<"]


def error_info(exc: BaseException) -> ErrorInfo:
    frames = user_frames(exc) or traceback.extract_tb(exc.__traceback__)[-1:]
    notes = getattr(exc, "__notes__", None) or []
    message = "\n".join([str(exc), *notes]) if notes else str(exc)
    cause = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return ErrorInfo(
        type=type(exc).__name__,
        message=message,
        traceback="".join(traceback.format_list(frames)),
        cause=f"{type(cause).__name__}: {cause}" if cause is not None else None,
    )
