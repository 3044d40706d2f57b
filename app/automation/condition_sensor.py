"""``AutomationConditionSensorDefinition`` (Dagster's): which assets' and checks' automation
conditions one sensor evaluates. The runtime evaluates them (app/runtime/declarative.py);
this is the declaration alone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DefinitionsError
from .sensors import DefaultSensorStatus

if TYPE_CHECKING:
    from .conditions import AutomationCondition


class AutomationConditionSensorDefinition:
    """Scopes automation conditions: the runtime evaluates the conditions of ``target``'s
    assets (and their checks) when their facts change and at their cron deadlines; Dagster's
    ``minimum_interval_seconds`` is kept for parity (Dagster's class; a plain definition)."""

    def __init__(
        self,
        name: str,
        *,
        target: Any,
        tags: Mapping[str, str] | None = None,
        run_tags: Mapping[str, Any] | None = None,
        default_status: DefaultSensorStatus | str = DefaultSensorStatus.STOPPED,
        minimum_interval_seconds: int | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        emit_backfills: bool = True,
        use_user_code_server: bool = False,
        default_condition: AutomationCondition | None = None,
    ) -> None:
        if not name or not isinstance(name, str):
            raise DefinitionsError("AutomationConditionSensorDefinition needs a name (a string)")
        if default_condition is not None and not _is_condition(default_condition):
            raise DefinitionsError(
                f"sensor {name!r}: default_condition must be an AutomationCondition, got "
                f"{default_condition!r}"
            )
        interval = 30 if minimum_interval_seconds is None else minimum_interval_seconds
        if interval <= 0:
            raise DefinitionsError(f"sensor {name!r}: minimum_interval_seconds must be positive")
        self.name = name
        self.target = target
        self.tags = dict(tags or {})
        self.run_tags = dict(run_tags or {})
        self.default_status = DefaultSensorStatus(default_status)
        self.minimum_interval_seconds = interval
        self.description = description
        self.metadata = dict(metadata or {})
        self.emit_backfills = emit_backfills
        self.use_user_code_server = use_user_code_server
        self.default_condition = default_condition

    def __repr__(self) -> str:
        return f"AutomationConditionSensorDefinition({self.name!r})"


def _is_condition(value: object) -> bool:
    # Imported here: a code location without automation loads without the conditions module.
    from .conditions import AutomationCondition

    return isinstance(value, AutomationCondition)
