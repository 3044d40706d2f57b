"""One evaluation of a schedule or sensor as data: ``TickResult``, ``SkipReason``, and running
user code so that its errors become a failed tick instead of an exception in the tick loop."""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ..declarations.run_request import RunRequest

_HERE = str(Path(__file__).parent)


@dataclass(frozen=True)
class SkipReason:
    """Why a tick asked for no run (Dagster's): shown with the tick."""

    skip_message: str | None = None


class TickStatus(StrEnum):
    SUCCESS = "SUCCESS"  # at least one run requested
    SKIPPED = "SKIPPED"  # no run: a SkipReason, or nothing returned
    FAILURE = "FAILURE"  # the user's function raised or returned something invalid


@dataclass(frozen=True)
class TickResult:
    """What one tick decided. ``cursor`` is a sensor's cursor after the tick (the one it was
    given if it did not move it); ``error`` is ``"Type: message"`` and ``traceback`` the
    user-code frames, both set only on a failed tick, whose cursor does not move."""

    run_requests: tuple[RunRequest, ...] = ()
    skip_reason: str | None = None
    cursor: str | None = None
    error: str | None = None
    traceback: str = ""

    @property
    def status(self) -> TickStatus:
        if self.error is not None:
            return TickStatus.FAILURE
        return TickStatus.SUCCESS if self.run_requests else TickStatus.SKIPPED


def failed(exc: BaseException, cursor: str | None) -> TickResult:
    """A failed tick: the exception's text and its traceback without this package's frames."""
    error = traceback.TracebackException.from_exception(exc)
    error.stack = traceback.StackSummary.from_list(
        [frame for frame in error.stack if not frame.filename.startswith(_HERE)]
    )
    text = "".join(error.format())
    message = str(exc)
    return TickResult(
        cursor=cursor,
        error=f"{type(exc).__name__}: {message}" if message else type(exc).__name__,
        traceback=text,
    )


def resource_namespace(resources: Mapping[str, Any] | None) -> SimpleNamespace:
    """``context.resources``: attribute access, as Dagster's ``Resources``."""
    return SimpleNamespace(**(resources or {}))


def call_user_fn(
    fn: Callable[..., Any], context: Any, resources: Mapping[str, Any], *extra: Any
) -> Any:
    """Call ``fn`` Dagster's way: parameters named after a resource get it, the first other
    parameter gets the context, the next ones get ``extra`` (an asset sensor's event)."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    pending = [context, *extra]
    for name, param in inspect.signature(fn).parameters.items():
        if name in resources:
            keywords[name] = resources[name]
        elif pending and param.kind is not param.KEYWORD_ONLY:
            positional.append(pending.pop(0))
    return fn(*positional, **keywords)


def collect(result: Any, what: str) -> list[RunRequest | SkipReason]:
    """A function's result as a list: one request or skip, a list, or what a generator yields;
    anything else is a TypeError naming ``what``."""
    if result is None:
        return []
    if isinstance(result, RunRequest | SkipReason):
        return [result]
    if isinstance(result, Iterable) and not isinstance(result, str | bytes | Mapping):
        items = list(result)
        for item in items:
            if not isinstance(item, RunRequest | SkipReason):
                raise TypeError(
                    f"{what} yielded {item!r}: expected RunRequest or SkipReason objects"
                )
        return items
    raise TypeError(f"{what} returned {result!r}: expected RunRequest(s) or a SkipReason")


def outcome(
    items: Iterable[RunRequest | SkipReason], tags: Mapping[str, str], cursor: str | None
) -> TickResult:
    """The tick of these requests and skips: each request gets ``tags`` (the instigator's
    name), a skip counts only when nothing was requested."""
    requests: list[RunRequest] = []
    skip: str | None = None
    for item in items:
        if isinstance(item, SkipReason):
            skip = item.skip_message or ""
        else:
            requests.append(with_tags(item, tags))
    return TickResult(tuple(requests), None if requests else skip, cursor)


def with_tags(request: RunRequest, tags: Mapping[str, str]) -> RunRequest:
    """The request with ``tags`` added (its own win on a clash)."""
    if not tags:
        return request
    return replace(request, tags={**tags, **request.tags})


def instigator_logger(kind: str, name: str) -> logging.Logger:
    return logging.getLogger(f"millrace.{kind}.{name}")
