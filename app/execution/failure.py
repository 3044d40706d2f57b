"""What a failed attempt becomes: its error as data (only the user's frames), whether it is
retried (Dagster's rules for ``RetryRequested``, ``Failure`` and ``RetryPolicy``), and what
``materialize(raise_on_error=True)`` raises for it."""

from __future__ import annotations

import dataclasses
import os
import sysconfig
import traceback
from dataclasses import dataclass

from ..declarations.asset import RetryPolicy
from ..declarations.control_flow import Failure, RetryRequested
from ..errors import MaxRetriesExceededError, MillraceError
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


@dataclass(frozen=True, slots=True)
class RetryDecision:
    """What one failed attempt leads to: another attempt after ``delay`` seconds, or the
    step's failure. ``max_retries`` is the limit the step ran under (None: no retries were
    asked for), so a failure with one set means the retries ran out."""

    retry: bool
    delay: float = 0.0
    max_retries: int | None = None


NO_RETRY = RetryDecision(False)


def decide_retry(exc: BaseException, policy: RetryPolicy | None, attempt: int) -> RetryDecision:
    """Dagster's rules: a raised ``RetryRequested`` is obeyed whatever the policy; a
    ``Failure(allow_retries=False)`` and Millrace's own errors bypass the policy; any other
    exception is retried under it. ``attempt`` counts from 1."""
    if isinstance(exc, RetryRequested):
        limit, delay = exc.max_retries, exc.seconds_to_wait or 0.0
    elif (
        policy is None
        or isinstance(exc, MillraceError)
        or (isinstance(exc, Failure) and not exc.allow_retries)
    ):
        return NO_RETRY
    else:
        limit, delay = policy.max_retries, policy.delay_before(attempt)
    return RetryDecision(attempt <= limit, delay, limit)


def user_failure(exc: BaseException | None) -> Failure | None:
    """The ``Failure`` the step raised, also behind a ``RetryRequested`` raised from it."""
    if isinstance(exc, RetryRequested):
        exc = exc.__cause__
    return exc if isinstance(exc, Failure) else None


def failure_info(exc: BaseException, decision: RetryDecision) -> ErrorInfo:
    """The error a StepFailed event carries; a RetryRequested says what it asked for (its
    cause, the error behind it, is kept)."""
    info = error_info(exc)
    if isinstance(exc, RetryRequested):
        after = f" after {info.cause}" if info.cause else ""
        if decision.retry:
            message = f"retry requested{after} (max_retries={exc.max_retries})"
        elif decision.max_retries is not None:
            last = f"; the last attempt raised {info.cause}" if info.cause else ""
            message = f"Exceeded max_retries of {exc.max_retries}{last}"
        else:  # the run was canceled: nothing more is retried
            message = f"retry requested{after}, not retried: the run was canceled"
        info = dataclasses.replace(info, message=message)
    return info


def final_exception(name: str, exc: BaseException, decision: RetryDecision) -> BaseException:
    """What ``raise_on_error`` raises for a step that failed for good: the user's own
    exception, or, once its retries ran out, Dagster's DagsterMaxRetriesExceededError raised
    from it."""
    if decision.max_retries is None:
        return exc
    last = exc.__cause__ if isinstance(exc, RetryRequested) and exc.__cause__ else exc
    error = MaxRetriesExceededError(
        f"'{name}' exceeded max_retries of {decision.max_retries}; its last attempt raised "
        f"{type(last).__name__}: {last}"
    )
    error.__cause__ = exc
    return error
