"""Dagster's legacy config schema, as ``@resource(config_schema=...)`` takes it: ``Field``,
``Shape``, ``Permissive``, ``Noneable``, ``Array``, ``Map``, ``StringSource``, ``IntSource``,
``BoolSource``, plain types, ``{"name": schema}`` dicts and ``[schema]`` lists.

A schema becomes pydantic types once, when it is declared (a bad default is an error then);
``ConfigSchema.validate`` checks a run's config and returns what ``context.resource_config``
holds: defaults filled in, and an optional field without a default left out, as in Dagster.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Optional, cast

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError

from ..errors import DefinitionsError
from .validation import shown, validation_problems


class _NoDefault:
    def __repr__(self) -> str:
        return "FIELD_NO_DEFAULT_PROVIDED"


FIELD_NO_DEFAULT_PROVIDED: Any = _NoDefault()


class Field:
    """One field of a legacy schema: ``Field(int, default_value=1, description="...")``.

    ``is_required`` defaults to False when there is a default value or the type has one of its
    own (``Noneable``, a ``Shape`` whose fields are all optional), True otherwise. Not for
    ``Config`` classes: there, use ``pydantic.Field``.
    """

    def __init__(
        self,
        config: Any,
        default_value: Any = FIELD_NO_DEFAULT_PROVIDED,
        is_required: bool | None = None,
        description: str | None = None,
    ) -> None:
        if is_required and default_value is not FIELD_NO_DEFAULT_PROVIDED:
            raise DefinitionsError(
                f"Field({_name(config)}, default_value={shown(default_value)}, is_required=True): "
                "a required field cannot have a default value"
            )
        if callable(default_value) and not isinstance(default_value, type):
            raise DefinitionsError(f"Field({_name(config)}): default_value cannot be a callable")
        self.config = config
        self.description = description
        self._default_value = default_value
        self._is_required = is_required
        self._converted = _convert_field(self)  # a bad schema or default fails here, not in a run
        self.is_required = not self._converted.optional

    @property
    def default_provided(self) -> bool:
        return self._default_value is not FIELD_NO_DEFAULT_PROVIDED

    @property
    def default_value(self) -> Any:
        if not self.default_provided:
            raise DefinitionsError(f"{self!r} has no default value")
        return self._default_value

    def __repr__(self) -> str:
        default = shown(self._default_value) if self.default_provided else "@"
        return f"Field({_name(self.config)}, default={default}, is_required={self.is_required})"


class Shape:
    """A dict with exactly these fields (a plain ``{"name": schema}`` dict means the same)."""

    permissive = False

    def __init__(self, fields: Mapping[str, Any], description: str | None = None) -> None:
        if not isinstance(fields, Mapping):
            raise DefinitionsError(
                f"{type(self).__name__}(fields=...) takes a dict, got {shown(fields)}"
            )
        self.fields = dict(fields)
        self.description = description


class Permissive(Shape):
    """A dict with these fields, and any others, which are kept as given."""

    permissive = True

    def __init__(self, fields: Mapping[str, Any] | None = None, description: str | None = None):
        super().__init__(fields or {}, description)


class Noneable:
    """The inner type or None; optional, defaulting to None."""

    def __init__(self, inner_type: Any) -> None:
        self.inner_type = inner_type


class Array:
    """A list of the inner type (``[int]`` means the same)."""

    def __init__(self, inner_type: Any) -> None:
        self.inner_type = inner_type


class Map:
    """A dict from keys of ``key_type`` to values of ``inner_type``."""

    def __init__(self, key_type: Any, inner_type: Any, key_label_name: str | None = None) -> None:
        self.key_type = key_type
        self.inner_type = inner_type
        self.key_label_name = key_label_name


def _from_env(value: Any) -> Any:
    """``{"env": "NAME"}``: the variable's value, read when the run's config is checked."""
    if isinstance(value, Mapping) and set(value) == {"env"}:
        name = value["env"]
        found = os.environ.get(str(name))
        if found is None:
            raise PydanticCustomError(
                "env_var_unset", "environment variable {name} is not set", {"name": str(name)}
            )
        return found
    return value


StringSource = Annotated[str, BeforeValidator(_from_env)]
"""A string, or ``{"env": "NAME"}`` to read it from the environment when the run starts."""
IntSource = Annotated[int, BeforeValidator(_from_env)]
"""An int, or ``{"env": "NAME"}``."""
BoolSource = Annotated[bool, BeforeValidator(_from_env)]
"""A bool, or ``{"env": "NAME"}``."""

# types built from schemas at run time, which mypy cannot check
_LIST: Any = list
_DICT: Any = dict
_OPTIONAL: Any = Optional


@dataclass(frozen=True, slots=True)
class _Converted:
    annotation: Any
    optional: bool = False
    # The value when not given; FIELD_NO_DEFAULT_PROVIDED: left out of the config.
    default: Any = FIELD_NO_DEFAULT_PROVIDED


def _convert(schema: Any, where: str) -> _Converted:
    if isinstance(schema, Field):
        return schema._converted
    if isinstance(schema, Shape):
        return _shape(schema.fields, schema.permissive, where)
    if schema is dict:
        return _shape({}, True, where)
    if isinstance(schema, Mapping):
        if len(schema) == 1:
            key = next(iter(schema))
            if key in (str, int, float, bool):
                inner = _convert(schema[key], f"{where}[{_name(key)}]").annotation
                return _Converted(_DICT[key, inner])
        return _shape(schema, False, where)
    if isinstance(schema, list):
        if len(schema) != 1:
            raise DefinitionsError(
                f"config schema {where}: a list schema holds one type, as in [int]; "
                f"got {shown(schema)}"
            )
        return _Converted(_LIST[_convert(schema[0], f"{where}[]").annotation])
    if isinstance(schema, Array):
        return _Converted(_LIST[_convert(schema.inner_type, f"{where}[]").annotation])
    if isinstance(schema, Noneable):
        inner = _convert(schema.inner_type, where).annotation
        return _Converted(_OPTIONAL[inner], optional=True, default=None)
    if isinstance(schema, Map):
        inner = _convert(schema.inner_type, f"{where}[]").annotation
        return _Converted(_DICT[schema.key_type, inner])
    if schema is list:
        return _Converted(list[Any])
    if schema is None or schema is Any:
        return _Converted(Any)
    if isinstance(schema, tuple) and len(schema) == 2 and _is_type(schema[0]):
        return _Converted(schema[0], optional=True, default=schema[1])  # (type, default)
    if _is_type(schema):
        return _Converted(schema)
    raise DefinitionsError(
        f"config schema {where}: {shown(schema)} is not a config type; use int, float, str, "
        "bool, a dict of fields, [type], Field, Shape, Permissive, Noneable, Array, Map or "
        "StringSource"
    )


def _is_type(value: Any) -> bool:
    return isinstance(value, type) or value in (StringSource, IntSource, BoolSource)


def _shape(fields: Mapping[Any, Any], permissive: bool, where: str) -> _Converted:
    definitions: dict[str, Any] = {}
    absent: set[str] = set()
    optional = True  # Dagster: a shape whose fields are all optional is optional itself
    for name, schema in fields.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise DefinitionsError(
                f"config schema {where}: field name {shown(name)} must be a Python identifier"
            )
        converted = _convert(schema, f"{where}.{name}" if where != "root" else name)
        description = schema.description if isinstance(schema, Field) else None
        optional = optional and converted.optional
        if not converted.optional:
            info = PydanticField(description=description)
        elif converted.default is FIELD_NO_DEFAULT_PROVIDED:
            info = PydanticField(default=None, description=description)
            absent.add(name)
        else:  # validated, so a shape's own defaults fill the fields its default leaves out
            info = PydanticField(
                default=converted.default, validate_default=True, description=description
            )
        definitions[name] = (converted.annotation, info)
    model = create_model(
        "Shape",
        __config__=ConfigDict(extra="allow" if permissive else "forbid", frozen=True),
        **definitions,
    )
    model.__millrace_absent__ = frozenset(absent)
    default = {} if optional else FIELD_NO_DEFAULT_PROVIDED
    return _Converted(model, optional=optional, default=default)


def _convert_field(field: Field) -> _Converted:
    inner = _convert(field.config, "root")
    if field.default_provided:
        problems = _check(inner.annotation, field.default_value)
        if problems:
            raise DefinitionsError(
                f"Field({_name(field.config)}, default_value={shown(field.default_value)}): the "
                "default does not fit the type:\n  - " + "\n  - ".join(problems)
            )
        return _Converted(inner.annotation, optional=True, default=field.default_value)
    if field._is_required is None:
        return inner
    if field._is_required:
        return _Converted(inner.annotation)
    return _Converted(inner.annotation, optional=True)  # left out when not given


def _check(annotation: Any, value: Any) -> list[str]:
    try:
        TypeAdapter(annotation).validate_python(value)
    except ValidationError as exc:
        return validation_problems(exc, annotation if _is_model(annotation) else None)
    return []


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _name(schema: Any) -> str:
    return getattr(schema, "__name__", None) or type(schema).__name__


def dump(value: Any) -> Any:
    """A validated value as plain data: models as dicts, without the fields left out."""
    if isinstance(value, BaseModel):
        absent: frozenset[str] = getattr(type(value), "__millrace_absent__", frozenset())
        out = {
            name: dump(getattr(value, name))
            for name in type(value).model_fields
            if name not in absent or name in value.model_fields_set
        }
        out.update({k: dump(v) for k, v in (value.__pydantic_extra__ or {}).items()})
        return out
    if isinstance(value, list):
        return [dump(item) for item in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    return value


class ConfigSchema:
    """A ``config_schema`` ready to check a run's config."""

    def __init__(self, schema: Any, owner: str) -> None:
        try:
            converted = _convert(schema, "root")
        except DefinitionsError as exc:
            raise DefinitionsError(f"{owner}: {exc}") from None
        self.converted = converted
        self.model = (
            cast(type[BaseModel], converted.annotation) if _is_model(converted.annotation) else None
        )
        self._adapter = TypeAdapter(converted.annotation)

    def validate(self, config: Any) -> tuple[Any, list[str]]:
        """The config ``context.resource_config`` gets, or the problems with it."""
        if config is None:
            if self.model is not None:
                config = {}
            elif self.converted.optional:
                config = self.converted.default
                if config is FIELD_NO_DEFAULT_PROVIDED:
                    return None, []
            else:
                return None, ["required, not given"]
        try:
            return dump(self._adapter.validate_python(config)), []
        except ValidationError as exc:
            return None, validation_problems(exc, self.model)
        except DefinitionsError as exc:  # a resource class as the schema checks in __init__
            return None, list(getattr(exc, "problems", ())) or [str(exc)]
