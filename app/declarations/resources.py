"""Resources: the clients and connections assets use, configured once and set up per run.

``ConfigurableResource`` (typed fields, validated when built), ``EnvVar`` (a field value read
from the environment when a run starts) and Dagster's function-style ``@resource``. Readying
them for one run is ``millrace.runtime.resources.open_resources``.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import SimpleNamespace
from typing import Annotated, Any, Generic, Self, TypeVar, get_origin, overload

from pydantic import (
    BaseModel,
    ConfigDict,
    GetCoreSchemaHandler,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
)
from pydantic_core import CoreSchema, core_schema

from ..errors import ConfigError, DefinitionsError
from ..suggest import suggestion
from .config import accept_dagster_forms, settle_pythonic_fields
from .config_schema import ConfigSchema
from .source import caller_location, location_of
from .validation import shown, validation_problems

_log = logging.getLogger("millrace.resources")


class ResourceConfigError(DefinitionsError, ConfigError):
    """A resource's fields or config are invalid, or an environment variable it reads is unset
    (a ConfigError too: Dagster raises DagsterInvalidConfigError for bad resource config)."""

    problems: tuple[str, ...] = ()  # one line each, without the header


def problems_error(header: str, problems: list[str]) -> ResourceConfigError:
    error = ResourceConfigError(header + "\n  - " + "\n  - ".join(problems))
    error.problems = tuple(problems)
    return error


class EnvVar(str):
    """A field value read from the environment when a run starts: ``EnvVar("WAREHOUSE_URL")``.

    The string is the variable's name; its value never enters the definitions, their repr or
    Millrace's error messages.
    """

    __slots__ = ()

    @classmethod
    def int(cls, name: str) -> IntEnvVar:
        """A variable read as an integer: ``port: int = EnvVar.int("PORT")``."""
        return IntEnvVar(name)

    @property
    def env_var_name(self) -> str:
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        return os.environ.get(self.env_var_name, default)

    def __repr__(self) -> str:
        return f"EnvVar({self.env_var_name!r})"


class IntEnvVar(EnvVar):
    """``EnvVar.int("PORT")``: the variable's value is read as an integer."""

    __slots__ = ()

    def get_value(self, default: str | None = None) -> Any:
        found = super().get_value(default)
        if found is None:
            return None
        try:
            return int(found)
        except ValueError:  # int()'s own message would show the value
            raise ValueError(
                f"environment variable {self.env_var_name} is not an integer (EnvVar.int)"
            ) from None

    def __repr__(self) -> str:
        return f"EnvVar.int({self.env_var_name!r})"


class InitResourceContext:
    """What a resource gets when a run sets it up: its config, the resources it requires
    (``context.resources.<key>``), the run id and a logger."""

    def __init__(
        self,
        *,
        resource_config: Any = None,
        resources: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self.resource_config = resource_config
        self.resources = SimpleNamespace(**(resources or {}))
        self.run_id = run_id
        self.log = log or _log


def build_init_resource_context(
    config: Any = None, resources: Mapping[str, Any] | None = None
) -> InitResourceContext:
    """A context for calling a resource function directly in a unit test."""
    return InitResourceContext(resource_config=config, resources=resources)


def _defer_env_vars(schema: CoreSchema, cls: type) -> None:
    """Let an EnvVar through the whole validation of every field, the subclass's own field
    validators included: its value is unknown until a run reads it, and resolve_env_vars
    validates that value then. (A ``@field_validator("*", mode="wrap")`` here would run inside
    the subclass's validators, which would see the EnvVar.)"""
    node: Any = schema
    while node.get("type") != "model-fields":  # through definitions and model validators
        if "schema" not in node:
            raise TypeError(f"{cls.__name__}: no fields in pydantic's schema {schema['type']!r}")
        node = node["schema"]
    for field in node["fields"].values():
        holder = field["schema"] if field["schema"]["type"] == "default" else field
        holder["schema"] = core_schema.no_info_wrap_validator_function(
            _keep_env_var, holder["schema"]
        )


def _keep_env_var(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    # a PartialResource too: the run builds it, under its own key, and validates it then
    return value if isinstance(value, EnvVar | PartialResource) else handler(value)


class ConfigurableResource(BaseModel):
    """Subclass with typed fields: ``class Warehouse(ConfigurableResource): url: str``.

    Values are checked when the resource is built; a field given as ``EnvVar`` is checked when
    a run reads the variable. Override ``setup_for_execution`` and ``teardown_after_execution``
    (or ``yield_for_execution``) to open and close connections around each run; keep what they
    open in private attributes (``_conn: Any = PrivateAttr(None)``), as fields are frozen.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    # field name -> the EnvVar it was read from, so repr shows the variable, not its value
    _env_vars: dict[str, EnvVar] = PrivateAttr(default_factory=dict)
    _resource_context: InitResourceContext | None = PrivateAttr(None)  # set by the run

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            where = caller_location(depth=2)
            at = f" ({where})" if where else ""
            raise problems_error(
                f"{type(self).__name__}{at} is misconfigured:", validation_problems(exc, type(self))
            ) from None

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        accept_dagster_forms(schema, cls)  # inside the EnvVar deferral, which must see it first
        _defer_env_vars(schema, cls)
        return schema

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        settle_pythonic_fields(cls)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        env_vars = self._env_vars
        for name, value in super().__repr_args__():
            yield name, env_vars.get(name, value) if name is not None else value

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Called once per run before any asset uses the resource."""

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Called once per run after its last step, also when the run failed or was canceled."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):  # private attributes hold what a run opens
            super().__setattr__(name, value)
            return
        raise ResourceConfigError(
            f"{type(self).__name__}.{name} cannot be assigned: a resource's fields are frozen, "
            "as in Dagster. Keep what a run opens in a private attribute, declared as "
            f"'_{name}: Any = PrivateAttr(None)', or hand out a separate client from "
            "create_resource()"
        )

    def get_resource_context(self) -> InitResourceContext:
        """The context of the run that set this resource up (its run id, log, config)."""
        if self._resource_context is None:
            raise ResourceConfigError(
                f"{type(self).__name__}.get_resource_context(): this resource has not been set "
                "up by a run; the run's own copy of it has a context"
            )
        return self._resource_context

    @classmethod
    def from_resource_context(cls, context: InitResourceContext) -> Any:
        """Build and set up this resource from a ``@resource``'s context, for legacy code:
        ``@resource(config_schema=R.to_config_schema()) def r(ctx): return
        R.from_resource_context(ctx)``. A resource with a teardown needs
        ``from_resource_context_cm``."""
        if (
            cls.teardown_after_execution is not ConfigurableResource.teardown_after_execution
            or cls.yield_for_execution is not ConfigurableResource.yield_for_execution
        ):
            raise ResourceConfigError(
                f"{cls.__name__} has a teardown: use {cls.__name__}.from_resource_context_cm(ctx) "
                "in a generator resource, so it runs"
            )
        made = cls(**(context.resource_config or {}))
        made._resource_context = context
        made.setup_for_execution(context)
        return made.create_resource(context)

    @classmethod
    @contextlib.contextmanager
    def from_resource_context_cm(cls, context: InitResourceContext) -> Iterator[Any]:
        """``with R.from_resource_context_cm(ctx) as r: yield r``: set up and torn down."""
        made = cls(**(context.resource_config or {}))
        made._resource_context = context
        with made.yield_for_execution(context) as value:
            yield value

    @classmethod
    def to_config_schema(cls) -> type[Self]:
        """This resource's fields as a ``config_schema`` for ``@resource``."""
        return cls

    def create_resource(self, context: InitResourceContext) -> Any:
        """What assets receive: the resource itself, unless overridden to hand out another
        object (an asset then takes it as ``client: ResourceParam[Client]``)."""
        return self

    @contextlib.contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[Any]:
        """Set up, hand ``create_resource``'s object to the run, tear down; override to wrap
        both in a ``with``."""
        self.setup_for_execution(context)
        try:
            yield self.create_resource(context)
        finally:
            self.teardown_after_execution(context)

    @classmethod
    def configure_at_launch(cls, **kwargs: Any) -> PartialResource[Self]:
        """This resource with the fields in ``kwargs``, the others given when a run launches,
        in its run config: ``resources: {<key>: {config: {<field>: ...}}}``."""
        unknown = [name for name in kwargs if name not in cls.model_fields]
        if unknown:
            where = caller_location(depth=2)
            at = f" ({where})" if where else ""
            raise problems_error(
                f"{cls.__name__}.configure_at_launch(){at} is misconfigured:",
                [f"{name}: unknown field{suggestion(name, cls.model_fields)}" for name in unknown],
            )
        return PartialResource(cls, kwargs)


R = TypeVar("R", bound=ConfigurableResource)


class PartialResource(Generic[R]):
    """A resource whose remaining fields come from the run config when a run launches (what
    ``configure_at_launch()`` makes). Held by another resource, it must also be a top-level
    resource of the Definitions: the run configures it under that key and hands it on."""

    def __init__(self, resource_cls: type[R], data: Mapping[str, Any]) -> None:
        self.resource_cls = resource_cls
        self.data = dict(data)

    def build(self, key: str, config: Mapping[str, Any]) -> tuple[R | None, list[str]]:
        """The resource from its given fields with ``config`` laid over them, or the problems,
        each ``resources.<key>.config.<field>: problem``."""
        odd = [name for name in config if not isinstance(name, str)]
        if odd:
            return None, [f"resources.{key}.config: field names are strings, not {shown(odd)}"]
        try:
            built = self.resource_cls(**{**self.data, **config})
        except ResourceConfigError as exc:
            return None, [f"resources.{key}.config.{line}" for line in exc.problems]
        return built, []

    def __repr__(self) -> str:
        # errors quote it: a given value may be a secret, so only an EnvVar shows (its name)
        given = ", ".join(
            f"{k}={v!r}" if isinstance(v, EnvVar) else f"{k}=..." for k, v in self.data.items()
        )
        return f"{self.resource_cls.__name__}.configure_at_launch({given})"


def resolve_env_vars(key: str, resource: R) -> R:
    """A copy of ``resource`` whose EnvVar fields hold their variables' values, validated.

    Nested resources are resolved too. Every unset variable and bad value is reported at once,
    naming the resource key, the field and the variable, never the value.
    """
    copy = resource.model_copy()
    problems = resolve_in_place(key, copy)
    if problems:
        raise problems_error("Cannot read the environment variables of resources:", problems)
    return copy


def resolve_in_place(key: str, resource: ConfigurableResource) -> list[str]:
    """Resolve the EnvVar fields of ``resource``, a private copy; returns the problems."""
    label = f"resource '{key}' ({type(resource).__name__})"
    problems: list[str] = []
    values: dict[str, Any] = {}
    env_vars: dict[str, EnvVar] = {}
    for name, value in resource:
        if isinstance(value, ConfigurableResource):
            nested = value.model_copy()
            problems += resolve_in_place(f"{key}.{name}", nested)
            values[name] = nested
        elif isinstance(value, EnvVar):
            env_vars[name] = value
            try:
                found = value.get_value()
            except ValueError as exc:
                problems.append(f"{label}: field '{name}': {exc}")
                continue
            if found is None:
                problems.append(
                    f"{label}: field '{name}' reads environment variable "
                    f"{value.env_var_name}, which is not set"
                )
            else:
                values[name] = found
    from_env = {name: var.env_var_name for name, var in env_vars.items()}
    problems += [f"{label}: {line}" for line in assign_fields(resource, values, from_env)]
    if env_vars:
        # a new dict: model_copy shares private values with the original
        resource._env_vars = {**resource._env_vars, **env_vars}
    return problems


def assign_fields(
    resource: ConfigurableResource, values: Mapping[str, Any], from_env: Mapping[str, str]
) -> list[str]:
    """Validate ``values`` into the fields of ``resource`` (a private copy) one at a time, with
    the fields' own validators and constraints; returns the problems."""
    validator = type(resource).__pydantic_validator__
    problems: list[str] = []
    for name, value in values.items():
        try:
            validator.validate_assignment(resource, name, value)
        except ValidationError as exc:
            problems += validation_problems(exc, type(resource), from_env=from_env)
    return problems


class ResourceDefinition:
    """A resource built by a function at the start of each run (what ``@resource`` makes)."""

    def __init__(
        self,
        resource_fn: Callable[..., Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: Iterable[str] | None = None,
    ) -> None:
        self.resource_fn = resource_fn
        self.config_schema = config_schema
        self.description = description
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self._takes_context = bool(inspect.signature(resource_fn).parameters)
        # None takes any config, unchecked, as before Dagster's schemas
        where = location_of(resource_fn)
        label = f"@resource {getattr(resource_fn, '__name__', resource_fn)}"
        label += f" ({where})" if where else ""
        self.schema = None if config_schema is None else ConfigSchema(config_schema, label)

    def __call__(self, context: InitResourceContext | None = None) -> Any:
        """Direct invocation for tests: ``my_resource(build_init_resource_context(config))``."""
        if not self._takes_context:
            return self.resource_fn()
        return self.resource_fn(context or build_init_resource_context())

    def check_config(self, config: Any) -> tuple[Any, list[str]]:
        """``config`` checked against ``config_schema``, defaults filled in; or its problems."""
        if self.schema is None:
            return config, []
        return self.schema.validate(config)

    def __repr__(self) -> str:
        return f"<ResourceDefinition {getattr(self.resource_fn, '__qualname__', self.resource_fn)}>"


@overload
def resource(config_schema: Callable[..., Any]) -> ResourceDefinition: ...


@overload
def resource(
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
) -> Callable[[Callable[..., Any]], ResourceDefinition]: ...


def resource(
    config_schema: Any = None,
    description: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
) -> ResourceDefinition | Callable[[Callable[..., Any]], ResourceDefinition]:
    """Dagster's function-style resource. The function takes an ``init_context`` (or nothing)
    and returns the resource, yields it once (code after the yield is teardown), or is a
    ``@contextmanager``. ``config_schema`` is Dagster's legacy schema (``{"name": Field(int,
    default_value=1)}``, ``Permissive``, ``[str]``, ...; see ``config_schema.py``), where
    ``(type, default)`` also gives a default; the run config's ``resources.<key>.config`` is
    checked against it and lands in ``context.resource_config``, defaults filled in.
    """
    if inspect.isroutine(config_schema):  # bare @resource
        return ResourceDefinition(config_schema, description=inspect.getdoc(config_schema))

    def decorate(fn: Callable[..., Any]) -> ResourceDefinition:
        return ResourceDefinition(
            fn,
            config_schema=config_schema,
            description=description if description is not None else inspect.getdoc(fn),
            required_resource_keys=required_resource_keys,
        )

    return decorate


T = TypeVar("T")
_RESOURCE_PARAM = "resource_param"  # Dagster's marker

ResourceParam = Annotated[T, _RESOURCE_PARAM]
"""``def my_asset(client: ResourceParam[Client])`` receives the plain object ``client``."""


class TopLevelResources:
    """The resources of a run by identity, for the ones other resources hold: a field holding
    the very object that is also a top-level resource (made with ``configure_at_launch()`` or
    by ``@resource``) gets that resource's live value, so it is set up first, and once."""

    def __init__(self, resources: Mapping[str, Any]) -> None:
        self._by_id = {
            id(value): key
            for key, value in resources.items()
            if isinstance(value, PartialResource | ResourceDefinition)
        }

    def key_of(self, value: Any) -> str | None:
        return self._by_id.get(id(value))

    def required_by(self, value: Any) -> set[str]:
        """The keys ``value`` needs set up before it: for a ConfigurableResource (or one made
        with ``configure_at_launch()``), the top-level resources it holds at any depth and
        what the ``@resource``s it holds require; for a ``@resource``, its
        ``required_resource_keys``."""
        if isinstance(value, ResourceDefinition):
            return set(value.required_resource_keys)
        needed: set[str] = set()
        for _, held in _held(value):
            top = self.key_of(held)
            needed |= {top} if top is not None else self.required_by(held)
        return needed

    def problems(self, key: str, value: Any) -> list[str]:
        """What is wrong with the resources the resource ``key`` holds, at any depth: one made
        with ``configure_at_launch()`` that is no top-level resource, or of another class than
        its field's; a ``@resource`` that needs config or resources and is no top-level one."""
        problems: list[str] = []
        owner = value.resource_cls if isinstance(value, PartialResource) else type(value)
        for name, held in _held(value):
            where = f"resource '{key}' ({owner.__name__}.{name})"
            if isinstance(held, ConfigurableResource):
                problems += self.problems(f"{key}.{name}", held)
            elif isinstance(held, PartialResource):
                wanted = owner.model_fields[name].annotation
                if isinstance(wanted, type) and not issubclass(held.resource_cls, wanted):
                    problems.append(f"{where}: takes a {wanted.__name__}, not {held!r}")
                elif self.key_of(held) is None:
                    problems.append(
                        f"{where} holds {held!r}, which is not a top-level resource: give the "
                        f"same object as one too, e.g. resources={{'<key>': that_object, "
                        f"'{key}': ...}}, and its fields in the run config under that key"
                    )
            elif isinstance(held, ResourceDefinition) and self.key_of(held) is None:
                _, wrong = held.check_config(None)
                if wrong or held.required_resource_keys:
                    needs = "config" if wrong else "other resources"
                    problems.append(
                        f"{where} holds {held!r}, which needs {needs}: give it as a top-level "
                        "resource too, and configure it there"
                    )
        return problems


def _held(value: Any) -> Iterator[tuple[str, Any]]:
    """The fields of a resource, or the given ones of a resource configured at launch."""
    if isinstance(value, ConfigurableResource):
        yield from value
    elif isinstance(value, PartialResource):
        yield from value.data.items()


def required_resource_keys(value: Any, resources: Mapping[str, Any]) -> set[str]:
    """The keys of the resources ``value``, one of ``resources``, needs in the same run."""
    return TopLevelResources(resources).required_by(value)


class _AnyValue:
    """Pydantic's view of a ResourceDependency field: any object, unchecked, as Dagster has it."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.any_schema()

    def __repr__(self) -> str:
        return "resource_dependency"


_RESOURCE_DEPENDENCY = _AnyValue()

ResourceDependency = Annotated[T, _RESOURCE_DEPENDENCY]
"""A resource field holding any resource: ``client: ResourceDependency[Client]`` takes a
``@resource`` definition (set up for the run, the field then holds what it made), a resource
made with ``configure_at_launch()``, or a plain object."""


def is_resource_annotation(annotation: Any) -> bool:
    """True for a ConfigurableResource subclass or ``ResourceParam[...]``: a parameter with
    such an annotation receives the resource of the same name, not an upstream asset."""
    if get_origin(annotation) is Annotated:
        return _RESOURCE_PARAM in annotation.__metadata__
    return isinstance(annotation, type) and issubclass(annotation, ConfigurableResource)
