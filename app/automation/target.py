"""What a schedule or sensor runs: a job, or an asset selection (Dagster's ``target``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..declarations.job import JobDefinition
from ..errors import DefinitionsError
from ..selection import AssetSelection, parse_selection


@dataclass(frozen=True)
class AutomationTarget:
    """Exactly one of ``job`` (anything with a ``name`` and a ``selection``, such as
    ``define_asset_job``'s result) and ``selection``."""

    job: Any = None
    selection: AssetSelection | None = None

    @property
    def job_name(self) -> str | None:
        return None if self.job is None else str(self.job.name)


def is_job(value: Any) -> bool:
    """A job as declared (``define_asset_job``: a name and a selection) or as resolved
    (``Definitions(...).get_job_def``: a name and its asset keys)."""
    if isinstance(value, JobDefinition):
        return True
    return isinstance(getattr(value, "name", None), str) and hasattr(value, "selection")


def resolve_target(job: Any, target: Any, where: str) -> AutomationTarget | None:
    """``job=`` or ``target=`` as one target (None: neither given). ``target`` is a job, an
    AssetSelection, a ``--select`` string, or assets, specs and keys (one or a sequence)."""
    if job is not None and target is not None:
        raise DefinitionsError(f"{where}: pass job= or target=, not both")
    value = job if job is not None else target
    if value is None:
        return None
    if is_job(value):
        return AutomationTarget(job=value)
    if job is not None:
        raise DefinitionsError(f"{where}: job= takes a job (define_asset_job), got {value!r}")
    if isinstance(value, AssetSelection):
        return AutomationTarget(selection=value)
    if isinstance(value, str):
        return AutomationTarget(selection=parse_selection(value))
    items = value if isinstance(value, Sequence) else [value]
    keys: list[Any] = []
    for item in items:
        many = getattr(item, "keys", None)  # a multi-asset: all its keys
        keys.extend(many if isinstance(many, frozenset | set) else [item])
    try:
        return AutomationTarget(selection=AssetSelection.keys(*keys))
    except Exception as exc:
        raise DefinitionsError(f"{where}: invalid target {value!r}: {exc}") from None
