"""Function-style IO and input managers: Dagster's ``@io_manager`` (IOManagerDefinition)
with the two built on it, ``fs_io_manager`` and ``mem_io_manager``, and ``@input_manager``
(InputManagerDefinition).

Both definitions are resources (``millrace.declarations.resources``): an IOManagerDefinition's
function runs when a run sets it up, gets an ``InitResourceContext`` (config, required
resources) and returns, or yields, the IOManager the run's assets use; an
``@input_manager`` function is the loading itself, called with each input's InputContext.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, overload

from ..declarations.resources import InitResourceContext, ResourceConfigError, ResourceDefinition
from ..declarations.source import location_of
from ..errors import DefinitionsError
from .configurable_io import FilesystemIOManager
from .io_context import InputContext
from .io_managers import InMemoryIOManager, InputManager, IOManager


def _refuse_io_config(resource_fn: Callable[..., Any], **schemas: Any) -> None:
    for name, given in schemas.items():
        if given is not None:
            where = getattr(resource_fn, "__qualname__", repr(resource_fn))
            raise DefinitionsError(
                f"{where}: {name} is not supported: Millrace has no per-input or per-output "
                "run config; read settings from the manager's config_schema"
            )


class IOManagerDefinition(ResourceDefinition):
    """A resource whose value is an IOManager (what ``@io_manager`` makes).

    Dagster's per-input and per-output config (``input_config_schema``,
    ``output_config_schema``, set under ``ops.<op>.inputs`` in run config) does not exist in
    Millrace: passing either is an error, not silently ignored."""

    def __init__(
        self,
        resource_fn: Callable[..., Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: Iterable[str] | None = None,
        version: str | None = None,
        input_config_schema: Any = None,
        output_config_schema: Any = None,
    ) -> None:
        _refuse_io_config(
            resource_fn,
            input_config_schema=input_config_schema,
            output_config_schema=output_config_schema,
        )
        super().__init__(resource_fn, config_schema, description, required_resource_keys)
        self.version = version

    @staticmethod
    def hardcoded_io_manager(
        value: IOManager, description: str | None = None
    ) -> IOManagerDefinition:
        """A definition whose every run gets ``value``."""
        if not isinstance(value, IOManager):
            raise DefinitionsError(
                f"IOManagerDefinition.hardcoded_io_manager takes an IOManager, got "
                f"{type(value).__name__}"
            )
        return IOManagerDefinition(lambda _context: value, description=description)

    def __repr__(self) -> str:
        return super().__repr__().replace("<ResourceDefinition", "<IOManagerDefinition", 1)


@overload
def io_manager(config_schema: Callable[..., Any]) -> IOManagerDefinition: ...


@overload
def io_manager(
    config_schema: Any = None,
    description: str | None = None,
    output_config_schema: Any = None,
    input_config_schema: Any = None,
    required_resource_keys: Iterable[str] | None = None,
    version: str | None = None,
) -> Callable[[Callable[..., Any]], IOManagerDefinition]: ...


def io_manager(
    config_schema: Any = None,
    description: str | None = None,
    output_config_schema: Any = None,
    input_config_schema: Any = None,
    required_resource_keys: Iterable[str] | None = None,
    version: str | None = None,
) -> IOManagerDefinition | Callable[[Callable[..., Any]], IOManagerDefinition]:
    """Dagster's ``@io_manager``: the function takes an ``init_context`` and returns (or
    yields) an IOManager; ``config_schema`` is checked against run config
    ``resources.<key>.config``, which lands in ``init_context.resource_config``."""
    if inspect.isroutine(config_schema):  # bare @io_manager
        fn = config_schema
        return IOManagerDefinition(fn, description=inspect.getdoc(fn))

    def decorate(fn: Callable[..., Any]) -> IOManagerDefinition:
        return IOManagerDefinition(
            fn,
            config_schema=config_schema,
            description=description if description is not None else inspect.getdoc(fn),
            required_resource_keys=required_resource_keys,
            version=version,
            input_config_schema=input_config_schema,
            output_config_schema=output_config_schema,
        )

    return decorate


@io_manager
def fs_io_manager(init_context: InitResourceContext) -> IOManager:
    """Pickles every value under config ``base_dir``, as FilesystemIOManager does (its
    layout)."""
    # Checked here, not by a config_schema: its one field is optional, and a mapping schema
    # of resources has every field required.
    config = init_context.resource_config if init_context.resource_config is not None else {}
    if not isinstance(config, Mapping) or set(config) - {"base_dir"}:
        raise ResourceConfigError(
            f"fs_io_manager's config takes one field, base_dir (a directory), got {config!r}"
        )
    base_dir = config.get("base_dir")
    if base_dir is not None and not isinstance(base_dir, str | os.PathLike):
        raise ResourceConfigError(
            f"fs_io_manager's base_dir must be a directory path, got {type(base_dir).__name__}"
        )
    if base_dir is None:
        # Dagster's default is its instance's storage directory; a resource here is not told
        # the home, and guessing one could write values where no run of this home looks.
        raise ResourceConfigError(
            "fs_io_manager needs base_dir in Millrace: set run config "
            "resources.<key>.config.base_dir, or use FilesystemIOManager(base_dir=...); the "
            "default IO manager already keeps values in the home's storage directory"
        )
    return FilesystemIOManager(base_dir=os.fspath(base_dir))


@io_manager
def mem_io_manager(_init_context: InitResourceContext) -> IOManager:
    """Keeps each run's values in memory, for that run only."""
    return InMemoryIOManager()


class InputManagerDefinition(ResourceDefinition):
    """A resource whose value is an InputManager (what ``@input_manager`` makes); no
    ``input_config_schema``, as for IOManagerDefinition."""

    def __init__(
        self,
        resource_fn: Callable[..., Any],
        config_schema: Any = None,
        description: str | None = None,
        required_resource_keys: Iterable[str] | None = None,
        version: str | None = None,
        input_config_schema: Any = None,
    ) -> None:
        _refuse_io_config(resource_fn, input_config_schema=input_config_schema)
        super().__init__(resource_fn, config_schema, description, required_resource_keys)
        self.version = version
        self.load_fn: Callable[..., Any] | None = None  # an @input_manager function

    def __repr__(self) -> str:
        fn = self.load_fn if self.load_fn is not None else self.resource_fn
        where = location_of(fn)
        at = f" at {where}" if where else ""
        return f"<InputManagerDefinition {getattr(fn, '__qualname__', fn)}{at}>"


class InputManagerWrapper(InputManager):
    """An ``@input_manager`` function as an InputManager: it is called with the input's
    context (or with nothing, if it takes nothing); an InputManager it returns loads."""

    def __init__(
        self, load_fn: Callable[..., Any], resource_config: Any = None, resources: Any = None
    ) -> None:
        self._load_fn = load_fn
        self._takes_context = bool(inspect.signature(load_fn).parameters)
        self._resource_config = resource_config
        self._resources = resources

    def load_input(self, context: InputContext) -> Any:
        # The function reads its own config and required resources from the input's context,
        # as in Dagster.
        if context.resource_config is None and self._resource_config is not None:
            context.resource_config = self._resource_config
        if self._resources is not None:
            context.resources = self._resources
        loaded = self._load_fn(context) if self._takes_context else self._load_fn()
        return loaded.load_input(context) if isinstance(loaded, InputManager) else loaded


@overload
def input_manager(config_schema: Callable[..., Any]) -> InputManagerDefinition: ...


@overload
def input_manager(
    config_schema: Any = None,
    description: str | None = None,
    input_config_schema: Any = None,
    required_resource_keys: Iterable[str] | None = None,
    version: str | None = None,
) -> Callable[[Callable[..., Any]], InputManagerDefinition]: ...


def input_manager(
    config_schema: Any = None,
    description: str | None = None,
    input_config_schema: Any = None,
    required_resource_keys: Iterable[str] | None = None,
    version: str | None = None,
) -> InputManagerDefinition | Callable[[Callable[..., Any]], InputManagerDefinition]:
    """Dagster's ``@input_manager``: the function loads an input, given its InputContext
    (``context.resource_config`` is the config checked against ``config_schema``), and
    returns the value, or an InputManager that loads it."""

    def definition(fn: Callable[..., Any], **options: Any) -> InputManagerDefinition:
        def resource_fn(init_context: InitResourceContext) -> InputManager:
            return InputManagerWrapper(fn, init_context.resource_config, init_context.resources)

        made = InputManagerDefinition(resource_fn, **options)
        if made.description is None:
            made.description = inspect.getdoc(fn)
        made.load_fn = fn
        return made

    if inspect.isroutine(config_schema):  # bare @input_manager
        return definition(config_schema)

    def decorate(fn: Callable[..., Any]) -> InputManagerDefinition:
        return definition(
            fn,
            config_schema=config_schema,
            description=description,
            required_resource_keys=required_resource_keys,
            version=version,
            input_config_schema=input_config_schema,
        )

    return decorate
