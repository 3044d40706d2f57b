"""Run configuration: typed ``Config`` parameters of assets, and the run config that fills them.

The run config has Dagster's shape, ``{"ops": {"<op name>": {"config": {...}}}, "resources":
{"<key>": {"config": ...}}}``, where an asset's op name is its key as a Python identifier
(``a/b`` -> ``a__b``). It comes from Python, from a JSON or YAML file, and from
``asset.field=value`` overrides laid over the file.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, GetCoreSchemaHandler, ValidationError
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from ..errors import ConfigError, DefinitionsError
from ..suggest import suggestion
from .config_schema import Field as LegacyField
from .keys import AssetKey
from .source import SourceLocation
from .validation import shown, validation_problems

RUN_CONFIG_KEYS = ("ops", "resources", "execution", "loggers")


def _is_optional(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, UnionType) and type(None) in get_args(annotation)


def _class_location(cls: type) -> str:
    try:
        file = inspect.getsourcefile(cls)
        _, line = inspect.getsourcelines(cls)
    except (OSError, TypeError):
        return ""
    return f" ({SourceLocation(file, line)})" if file else ""


def settle_pythonic_fields(cls: type[BaseModel]) -> None:
    """Dagster's rules for the fields of a Config class or a resource, once it is defined: an
    ``Optional`` field without a default defaults to None; a legacy ``Field`` is an error."""
    defaulted = False
    for name, field in cls.model_fields.items():
        if isinstance(field.default, LegacyField):
            raise DefinitionsError(
                f"{cls.__name__}.{name}{_class_location(cls)}: 'millrace.Field' (Dagster's "
                "legacy config schema) is for @resource(config_schema=...); in a Config "
                "class or a resource use pydantic.Field, e.g. Field(default=1, description='...')"
            )
        if field.is_required() and _is_optional(field.annotation):
            field.default = None
            defaulted = True
    if defaulted:
        cls.model_rebuild(force=True)


def accept_dagster_forms(schema: CoreSchema, cls: type[BaseModel]) -> None:
    """Let each field take the values Dagster's run config writes: a member's name for an enum
    (``color: RED``, also in a list, a dict or Optional), and for a discriminated union of
    Config classes the selector form ``pet: {cat: {meows: 2}}`` (``{pet_type: cat, ...}``)."""
    node: Any = schema
    while node.get("type") != "model-fields":  # through definitions and model validators
        if "schema" not in node:
            return
        node = node["schema"]
    for name, field in node["fields"].items():
        info = cls.model_fields.get(name)
        if info is None:
            continue
        convert: Any = None
        if isinstance(info.discriminator, str):
            convert = functools.partial(_from_selector, info.discriminator)
        elif _holds_enum(info.annotation):
            convert = functools.partial(_with_enum_names, info.annotation)
        if convert is not None:
            holder = field["schema"] if field["schema"]["type"] == "default" else field
            holder["schema"] = core_schema.no_info_before_validator_function(
                convert, holder["schema"]
            )


def _from_selector(discriminator: str, value: Any) -> Any:
    if isinstance(value, Mapping) and len(value) == 1:
        ((tag, fields),) = value.items()
        if tag != discriminator and isinstance(fields, Mapping):
            return {**fields, discriminator: tag}
    return value


def _holds_enum(annotation: Any) -> bool:
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return True
    return any(_holds_enum(arg) for arg in get_args(annotation))


def _with_enum_names(annotation: Any, value: Any) -> Any:
    """``value`` with the enum names in it read as members, where ``annotation`` has enums."""
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return _enum_member(annotation, value, strict=True)
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, UnionType):
        for arg in args:
            if isinstance(arg, type) and issubclass(arg, Enum):
                value = _enum_member(arg, value, strict=False)
        return value
    if origin in (list, tuple, set, frozenset) and isinstance(value, list | tuple | set):
        inner = args[0] if args else Any
        return type(value)(_with_enum_names(inner, item) for item in value)
    if origin is dict and isinstance(value, Mapping) and len(args) == 2:
        return {k: _with_enum_names(args[1], v) for k, v in value.items()}
    return value


def _enum_member(enum: type[Enum], value: Any, *, strict: bool) -> Any:
    if isinstance(value, enum):
        return value
    values = [member.value for member in enum]
    if isinstance(value, str) and value in enum.__members__ and value not in values:
        return enum.__members__[value]
    if strict and value not in values:
        raise PydanticCustomError(
            "enum",
            "Input should be a name of {enum}: {names}",
            {"enum": enum.__name__, "names": ", ".join(enum.__members__)},
        )
    return value


class Config(BaseModel):
    """Typed parameters of an asset: subclass it, then ``def train(config: TrainConfig)``.

    As in Dagster, an ``Optional`` field without a default is not required (it is None), an
    ``Enum`` field takes a member's name (``"RED"``) as well as its value, and a nested Config
    field takes a dict. Unknown fields are errors; ``PermissiveConfig`` keeps them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        settle_pythonic_fields(cls)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        accept_dagster_forms(schema, cls)
        return schema


class PermissiveConfig(Config):
    """A Config that keeps fields it does not declare: ``config.model_extra["other"]``."""

    model_config = ConfigDict(extra="allow")


def is_config_annotation(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, Config)


@dataclass(frozen=True)
class RunConfig:
    """Dagster's typed run config: ``RunConfig(ops={"train_model": TrainConfig(epochs=3)})``.

    ``ops`` maps op names to Config objects or ``{"config": {...}}``; ``resources`` maps
    resource keys to Config objects, resources (their fields given, e.g. for one made with
    ``configure_at_launch()``) or ``{"config": ...}``. ``loggers`` and ``execution`` pass
    through as given.
    """

    ops: Mapping[str, Any] | None = None
    resources: Mapping[str, Any] | None = None
    loggers: Mapping[str, Any] | None = None
    execution: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        """A list or a string here would fail later, far from the call that gave it."""
        for name in ("ops", "resources", "loggers", "execution"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Mapping):
                raise ConfigError(
                    f"RunConfig({name}=...) must be a mapping of names to Config objects or "
                    f"{{'config': {{...}}}}, got {type(value).__name__}"
                )

    def to_config_dict(self) -> dict[str, Any]:
        """The plain shape: a Config (or any model) ``c`` becomes ``{"config": {...}}``."""
        plain = {
            "ops": {name: _entry(value) for name, value in (self.ops or {}).items()},
            "resources": {name: _entry(value) for name, value in (self.resources or {}).items()},
        }
        for name in ("loggers", "execution"):
            if getattr(self, name):
                plain[name] = dict(getattr(self, name))
        return plain


def _entry(value: Any) -> Any:
    if isinstance(value, Config):
        return {"config": value.model_dump()}
    if isinstance(value, BaseModel):
        # a resource: as Dagster, every field not None (defaults too, so they win over the
        # fields of a configure_at_launch() resource), EnvVars kept to be read at launch,
        # and not the resources it holds
        from .resources import ConfigurableResource, PartialResource, ResourceDefinition

        held = ConfigurableResource | PartialResource | ResourceDefinition
        fields = {name: getattr(value, name) for name in type(value).model_fields}
        return {
            "config": {
                name: field.model_dump() if isinstance(field, Config) else field
                for name, field in fields.items()
                if field is not None and not isinstance(field, held)
            }
        }
    return value


def resolve_asset_configs(
    config_params: Mapping[AssetKey, tuple[str, type[Config]]],
    run_config: Mapping[str, Any],
    *,
    unselected: Mapping[AssetKey, tuple[str, type[Config]]] | None = None,
) -> dict[AssetKey, Config]:
    """The Config object of every asset in ``config_params`` (key -> parameter, Config class).

    Everything is checked before anything runs, and every problem of every asset is reported
    in one ConfigError: bad values, missing required fields, unknown fields and op names.
    Config given for an ``unselected`` asset (one config file serves any ``--select``) is
    checked the same way, then ignored, as Dagster does for the ops a subset job leaves out.
    """
    problems = [
        f"unknown top-level key '{key}'{suggestion(str(key), RUN_CONFIG_KEYS)}; "
        f"expected {', '.join(RUN_CONFIG_KEYS)}"
        for key in run_config
        if key not in RUN_CONFIG_KEYS
    ]
    ops = run_config.get("ops") or {}
    if not isinstance(ops, Mapping):
        raise ConfigError(f"Invalid run config: 'ops' must be a mapping, got {shown(ops)}")
    unselected = unselected or {}
    known = {key.to_python_identifier(): key for key in [*config_params, *unselected]}
    problems += [_unknown_op(str(name), known) for name in ops if name not in known]
    configs: dict[AssetKey, Config] = {}
    for key, (_, config_class) in config_params.items():
        config = _validate(key, config_class, ops, problems, selected=True)
        if config is not None:
            configs[key] = config
    for key, (_, config_class) in unselected.items():
        if key.to_python_identifier() in ops:
            _validate(key, config_class, ops, problems, selected=False)
    if problems:
        raise ConfigError("Invalid run config:\n  - " + "\n  - ".join(problems))
    return configs


def _validate(
    key: AssetKey,
    config_class: type[Config],
    ops: Mapping[Any, Any],
    problems: list[str],
    *,
    selected: bool,
) -> Config | None:
    """The asset's Config from ``ops``, or None with its problems added to ``problems``."""
    op = key.to_python_identifier()
    note = "" if selected else ", not selected"
    where = f"asset '{key.to_user_string()}' (ops.{op}.config{note})"
    entry = ops.get(op)
    if entry is not None and (not isinstance(entry, Mapping) or set(entry) - {"config"}):
        problems.append(f"{where}: ops.{op} must be {{'config': {{...}}}}, got {shown(entry)}")
        return None
    given = entry.get("config") if entry is not None else None
    if isinstance(given, config_class):
        return given
    if isinstance(given, BaseModel):
        given = given.model_dump()
    try:
        return config_class.model_validate({} if given is None else given)
    except ValidationError as exc:
        problems += [f"{where}: {line}" for line in validation_problems(exc, config_class)]
        return None


def _unknown_op(name: str, by_op: Mapping[str, AssetKey]) -> str:
    if "/" in name:
        try:
            op = AssetKey.from_user_string(name).to_python_identifier()
        except ValueError:
            op = None
        if op in by_op:
            return f"ops.{name}: write the op name '{op}' for asset '{name}'"
    takes = ", ".join(sorted(by_op)) or "none"
    return (
        f"ops.{name}: no asset with a Config parameter has this op name"
        f"{suggestion(name, by_op)} (assets with config: {takes})"
    )


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The run config in a ``.json``, ``.yaml`` or ``.yml`` file; an empty file is ``{}``."""
    file = Path(path)
    suffix = file.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ConfigError(f"{file}: a config file must end in .json, .yaml or .yml")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {file}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"config file {file} is not UTF-8 text: line {line}: {exc.reason} "
            f"{data[exc.start]:#04x}"
        ) from None
    config = _parse_json(file, text) if suffix == ".json" else _parse_yaml(file, text)
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ConfigError(
            f"{file}: the run config must be a mapping (ops:, resources:), "
            f"not a {type(config).__name__}"
        )
    return config


def _parse_json(file: Path, text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{file}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    except (RecursionError, ValueError) as exc:  # nested too deep, a number too long
        raise ConfigError(f"{file}: cannot read it as JSON: {_reason(exc)}") from None


def _parse_yaml(file: Path, text: str) -> Any:
    import yaml  # only config files need it

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        at = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else str(file)
        problem = ": ".join(p for p in (exc.context, exc.problem) if p)
        raise ConfigError(f"{at}: invalid YAML: {problem}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML forbids, such as a NUL
        line = text.count("\n", 0, exc.position) + 1
        character = chr(exc.character)
        raise ConfigError(f"{file}:{line}: invalid YAML: {exc.reason} ({character!r})") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{file}: invalid YAML: {exc}") from None
    except Exception as exc:  # PyYAML's constructors raise plain errors on odd input
        raise ConfigError(f"{file}: cannot read it as YAML: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RecursionError):
        return "it is nested too deeply"
    return f"{type(exc).__name__}: {exc}"


def parse_config_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """``["train.epochs=3", "a/b.opt.lr=0.1"]`` as a run config; later overrides win.

    The asset is everything before the first dot (``a/b`` is op ``a__b``); a value is read as
    JSON when it parses (``3``, ``true``, ``[1, 2]``, ``"3"``) and kept as a string otherwise.
    """
    ops: dict[str, Any] = {}
    for item in overrides:
        target, equals, raw = item.partition("=")
        asset, _, field_path = target.strip().partition(".")
        fields = field_path.split(".")
        if not equals or not asset or not all(fields):
            raise ConfigError(
                f"config override {item!r}: expected ASSET.FIELD=VALUE, e.g. train.epochs=3"
            )
        try:
            op = AssetKey.from_user_string(asset).to_python_identifier()
        except ValueError as exc:
            raise ConfigError(f"config override {item!r}: {exc}") from None
        node = ops.setdefault(op, {"config": {}})["config"]
        for depth, name in enumerate(fields[:-1]):
            node = node.setdefault(name, {})
            if not isinstance(node, dict):
                set_before = ".".join([asset, *fields[: depth + 1]])
                raise ConfigError(
                    f"config override {item!r}: {set_before} is set to a value, so it has no fields"
                )
        node[fields[-1]] = _parse_value(raw, item)
    return {"ops": ops} if ops else {}


def _parse_value(raw: str, item: str) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise ConfigError(f"config override {item!r}: the value is nested too deeply") from None
    except ValueError:  # not JSON (or a number too long for it): the text itself
        return raw


def merge_run_config(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``override`` laid over ``base``: mappings merge key by key, anything else is replaced.

    Neither input is modified.
    """
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_run_config(old, value)
        else:
            merged[key] = value
    return merged
