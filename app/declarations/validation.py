"""Pydantic's validation errors as one readable line per bad field, for resources and config."""

from __future__ import annotations

import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from ..suggest import suggestion

_MAX_SHOWN = 80


def validation_problems(
    exc: ValidationError,
    model: type[BaseModel] | None = None,
    *,
    from_env: Mapping[str, str] | None = None,
) -> list[str]:
    """``field.path: problem (given value)`` for each error in ``exc``.

    ``from_env`` maps field names to the environment variables they were read from: those
    values may be secrets, so their lines name the variable and never show the value.
    """
    from_env = from_env or {}
    lines: list[str] = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        path = format_loc(loc) or "value"
        kind = error["type"]
        if kind == "missing":
            lines.append(f"{path}: required, not given")
        elif kind in ("extra_forbidden", "no_such_attribute"):
            lines.append(f"{path}: unknown field{suggestion(str(loc[-1]), _fields_at(model, loc))}")
        elif loc and loc[0] in from_env:
            lines.append(f"{path} (from ${from_env[str(loc[0])]}): {error['msg']}")
        elif from_env and (not loc or not isinstance(error["input"], str | int | float | bool)):
            # A whole model (a validator across fields) or a nested one: its input holds the
            # values read from the environment, which are never shown.
            lines.append(f"{path}: {error['msg']}")
        else:
            lines.append(f"{path}: {error['msg']} (given {shown(error['input'])})")
    return lines


def format_loc(loc: Iterable[str | int]) -> str:
    """``("layers", 0, "size")`` -> ``layers[0].size``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 6, _MAX_SHOWN, _MAX_SHOWN


def shown(value: Any) -> str:
    """A value as an error message quotes it: cut short, and never an error of its own (a
    value too deep or an int too long for ``repr``)."""
    try:
        text = _REPR.repr(value)
    except (RecursionError, ValueError):
        return f"a {type(value).__name__} too large to show"
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _fields_at(model: type[BaseModel] | None, loc: tuple[str | int, ...]) -> tuple[str, ...]:
    """The field names of the (nested) model that holds ``loc``'s last part."""
    for part in loc[:-1]:
        field = model.model_fields.get(part) if model and isinstance(part, str) else None
        annotation = field.annotation if field else None
        model = annotation if _is_model(annotation) else None  # type: ignore[assignment]
    return tuple(model.model_fields) if model else ()


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)
