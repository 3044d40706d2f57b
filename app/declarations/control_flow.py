"""``Failure`` and ``RetryRequested``: what an asset raises to fail on purpose, with a
description and metadata, or to ask for another attempt (Dagster's exceptions of the same
names and arguments)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .metadata import MetadataValue, normalize_metadata


class Failure(Exception):
    """Fail the step on purpose. ``metadata`` lands on the step's failure event; with
    ``allow_retries=False`` the asset's ``RetryPolicy`` is not applied."""

    def __init__(
        self,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        allow_retries: bool | None = None,
    ) -> None:
        super().__init__(*(() if description is None else (description,)))
        if description is not None and not isinstance(description, str):
            raise TypeError(f"Failure(description=...) must be a str, got {description!r}")
        self.description = description
        self.metadata: dict[str, MetadataValue] = normalize_metadata(metadata, where="Failure")
        self.allow_retries = True if allow_retries is None else bool(allow_retries)


class RetryRequested(Exception):
    """Ask for the step to run again: up to ``max_retries`` retries in all, each
    ``seconds_to_wait`` after the failed attempt. Raise it ``from`` the error that caused it;
    when the retries run out, the step fails with that error."""

    def __init__(self, max_retries: int | None = 1, seconds_to_wait: float | None = None) -> None:
        super().__init__()
        if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
            raise TypeError(
                f"RetryRequested(max_retries=...) must be a non-negative int, got {max_retries!r}"
            )
        if seconds_to_wait is not None and (
            isinstance(seconds_to_wait, bool)
            or not isinstance(seconds_to_wait, int | float)
            or seconds_to_wait < 0
        ):
            raise TypeError(
                "RetryRequested(seconds_to_wait=...) must be a non-negative number of seconds, "
                f"got {seconds_to_wait!r}"
            )
        self.max_retries = max_retries
        self.seconds_to_wait = seconds_to_wait
