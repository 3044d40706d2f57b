"""One run's resources: read their config and environment, set them up in dependency order,
tear them down in reverse, also when the run fails or is canceled."""

from __future__ import annotations

import contextlib
import inspect
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import UnionType
from typing import Any, Union, get_args, get_origin

from ..declarations.resources import (
    ConfigurableResource,
    EnvVar,
    InitResourceContext,
    PartialResource,
    ResourceConfigError,
    ResourceDefinition,
    TopLevelResources,
    assign_fields,
    problems_error,
    resolve_in_place,
)
from ..declarations.validation import shown
from ..suggest import suggestion

_log = logging.getLogger("millrace.resources")


@dataclass(frozen=True, slots=True)
class _Configured:
    """A ResourceDefinition with its checked config, ready to be called."""

    definition: ResourceDefinition
    config: Any


Teardowns = list[tuple[str, Callable[[], Any]]]

FORCED_TEARDOWN_SECONDS = 2.0  # how long a forced exit waits for teardowns before it exits


class _Open:
    """The teardowns of one ``open_resources`` still open, each to run once: by the run when
    it ends, or by a forced exit (``tear_down_open_resources``), whichever comes first."""

    def __init__(self, log: logging.Logger) -> None:
        self.teardowns: Teardowns = []
        self.log = log
        self.lock = threading.Lock()  # one teardown pass at a time, so the order holds

    def tear_down(self, failure: BaseException | None) -> None:
        with self.lock:
            _tear_down(self.teardowns, self.log, failure)


_opened: set[_Open] = set()
_opened_lock = threading.Lock()


@contextlib.contextmanager
def open_resources(
    resources: Mapping[str, Any],
    *,
    run_id: str,
    run_config: Mapping[str, Any] | None = None,
    log: logging.Logger | None = None,
) -> Iterator[dict[str, Any]]:
    """Ready every resource for one run: ``with open_resources(...) as live: live["db"]``.

    First, for all resources, what needs no side effect: run config and environment variables
    (so an unset variable fails before anything is set up). Then each is set up, after the
    resources it requires; objects that are not resources pass through. On exit, also on error
    or cancellation, they are torn down in reverse; a teardown error never hides the body's.
    Until then they are registered for ``tear_down_open_resources``.
    """
    log = log or _log
    # A resource held by another is the run's top-level one when it is the same object.
    keys = TopLevelResources(resources)
    prepared = _prepare(resources, (run_config or {}).get("resources") or {}, keys)
    order = _setup_order(prepared, keys)
    opened = _Open(log)
    live: dict[str, Any] = {}
    with _opened_lock:
        _opened.add(opened)
    try:
        try:
            for key in order:
                live[key] = _set_up(key, prepared[key], live, keys, run_id, log, opened.teardowns)
            yield live
        except BaseException as exc:
            opened.tear_down(failure=exc)
            raise
        opened.tear_down(failure=None)
    finally:
        with _opened_lock:
            _opened.discard(opened)


def tear_down_open_resources(timeout: float = FORCED_TEARDOWN_SECONDS) -> bool:
    """Tear down what every run still holds, waiting at most ``timeout`` seconds; True if all
    teardowns finished. For a forced exit (a second Ctrl-C), whose runs will never reach their
    own teardown: connections still close and files still flush, but a teardown that hangs
    cannot keep the process alive, as it runs on a daemon thread. Errors are logged."""
    with _opened_lock:
        opened = list(_opened)
    if not opened:
        return True

    def tear_down_all() -> None:
        for each in opened:
            with contextlib.suppress(Exception):  # each error is logged by _tear_down
                each.tear_down(failure=None)

    worker = threading.Thread(target=tear_down_all, name="millrace-teardown", daemon=True)
    worker.start()
    worker.join(timeout)
    return not worker.is_alive()


def _prepare(
    resources: Mapping[str, Any], configs: Mapping[str, Any], keys: TopLevelResources
) -> dict[str, Any]:
    """Resources with their run config applied and EnvVars resolved, or one error for all."""
    if not isinstance(configs, Mapping):
        raise ResourceConfigError(f"run config 'resources' must be a mapping, got {shown(configs)}")
    problems = [
        f"run config sets resources.{key}, but there is no resource '{key}'"
        f"{suggestion(key, resources)}"
        for key in configs
        if key not in resources
    ]
    prepared: dict[str, Any] = {}
    for key, value in resources.items():
        config = _entry_config(key, configs.get(key), problems)
        if isinstance(value, ConfigurableResource):
            copy = value.model_copy()  # each run sets up its own instance
            if config is not None:
                problems += _override_fields(key, copy, config)
            problems += resolve_in_place(key, copy)
            problems += keys.problems(key, copy)
            prepared[key] = copy
        elif isinstance(value, PartialResource):
            built = _build_partial(key, value, config, problems)
            if built is not None:
                problems += resolve_in_place(key, built)
                problems += keys.problems(key, built)
                prepared[key] = built
        elif isinstance(value, ResourceDefinition):
            checked, wrong = value.check_config(config)
            problems += [f"resources.{key}.config: {line}" for line in wrong]
            prepared[key] = _Configured(value, checked)
        else:
            if config is not None:
                problems.append(f"run config sets resources.{key}.config, but '{key}' takes none")
            prepared[key] = value
    if problems:
        raise problems_error("Cannot set up resources:", problems)
    return prepared


def _entry_config(key: str, entry: Any, problems: list[str]) -> Any:
    """The ``config`` of ``resources.<key>`` in the run config (Dagster's shape), or None."""
    if entry is None:
        return None
    if not isinstance(entry, Mapping) or set(entry) - {"config"}:
        problems.append(f"run config resources.{key} must be {{'config': ...}}, got {shown(entry)}")
        return None
    return entry.get("config")


def _env_refs(cls: type[ConfigurableResource], config: Mapping[str, Any]) -> dict[str, Any]:
    """Values given as Dagster's ``{"env": "NAME"}`` as EnvVars, read like any other, for the
    fields Dagster reads them for: a str, int or bool (a dict field keeps such a dict)."""
    fields = cls.model_fields
    return {
        name: EnvVar(value["env"])
        if isinstance(value, Mapping)
        and set(value) == {"env"}
        and isinstance(value["env"], str)
        and name in fields
        and _is_source(fields[name].annotation)
        else value
        for name, value in config.items()
    }


def _is_source(annotation: Any) -> bool:
    """A str, int or bool field, Optional or not."""
    if annotation in (str, int, bool):
        return True
    args = get_args(annotation)
    return get_origin(annotation) in (Union, UnionType) and all(
        arg in (str, int, bool, type(None)) for arg in args
    )


def _build_partial(
    key: str, partial: PartialResource[Any], config: Any, problems: list[str]
) -> ConfigurableResource | None:
    if config is not None and not isinstance(config, Mapping):
        problems.append(
            f"resources.{key}.config must map field names to values, got {shown(config)}"
        )
        return None
    built, wrong = partial.build(key, _env_refs(partial.resource_cls, config or {}))
    if wrong and any(line.endswith("required, not given") for line in wrong):
        wrong.append(
            f"resources.{key}: {partial!r} takes the fields it was not given from the run "
            f"config: resources: {{{key}: {{config: {{...}}}}}}"
        )
    problems += wrong
    return built


def _override_fields(key: str, resource: ConfigurableResource, config: Any) -> list[str]:
    label = f"resources.{key}.config"
    if not isinstance(config, Mapping):
        return [f"{label} must map field names to values, got {shown(config)}"]
    fields = type(resource).model_fields
    unknown = [name for name in config if name not in fields]
    problems = [f"{label}.{name}: unknown field{suggestion(name, fields)}" for name in unknown]
    given = _env_refs(type(resource), config)
    known = {name: value for name, value in given.items() if name in fields}
    return problems + [f"{label}.{line}" for line in assign_fields(resource, known, {})]


def _setup_order(prepared: Mapping[str, Any], keys: TopLevelResources) -> list[str]:
    """Mapping order, except that a resource comes after the resources it requires."""
    order: dict[str, None] = {}
    path: list[str] = []

    def visit(key: str) -> None:
        if key in order:
            return
        if key in path:
            cycle = " -> ".join([*path[path.index(key) :], key])
            raise ResourceConfigError(f"Resources require each other in a cycle: {cycle}")
        path.append(key)
        for name in sorted(_requires(prepared[key], keys)):
            if name not in prepared:
                raise ResourceConfigError(
                    f"Resource '{key}' requires resource '{name}', which is not provided"
                    f"{suggestion(name, prepared)}"
                )
            visit(name)
        path.pop()
        order[key] = None

    for key in prepared:
        visit(key)
    return list(order)


def _requires(item: Any, keys: TopLevelResources) -> set[str]:
    """The keys of the resources ``item`` needs set up before it."""
    if isinstance(item, _Configured):
        return set(item.definition.required_resource_keys)
    return keys.required_by(item)


def _set_up(
    key: str,
    item: Any,
    live: Mapping[str, Any],
    keys: TopLevelResources,
    run_id: str,
    log: logging.Logger,
    teardowns: Teardowns,
) -> Any:
    """The ready-to-use value of one resource; registers its teardown."""
    if not isinstance(item, ConfigurableResource | _Configured):
        return item
    try:
        if isinstance(item, ConfigurableResource):
            return _enter_configurable(key, item, live, keys, run_id, log, teardowns)
        return _enter_definition(key, item.definition, item.config, live, run_id, log, teardowns)
    except Exception as exc:
        exc.add_note(f"while setting up resource '{key}'")
        raise


def _enter_definition(
    key: str,
    definition: ResourceDefinition,
    config: Any,
    live: Mapping[str, Any],
    run_id: str,
    log: logging.Logger,
    teardowns: Teardowns,
) -> Any:
    required = {name: live[name] for name in definition.required_resource_keys}
    context = InitResourceContext(
        resource_config=config, resources=required, run_id=run_id, log=log
    )
    return _enter_result(key, definition(context), teardowns)


def _enter_configurable(
    key: str,
    resource: ConfigurableResource,
    live: Mapping[str, Any],
    keys: TopLevelResources,
    run_id: str,
    log: logging.Logger,
    teardowns: Teardowns,
) -> Any:
    """Set up ``resource`` (the run's own copy) after what it holds, as Dagster does: each
    field holding a resource then holds what that resource hands out, a top-level one's
    live value for one made with ``configure_at_launch()`` or a top-level ``@resource``."""
    handed: dict[str, Any] = {}
    for name, value in resource:
        top = keys.key_of(value)
        if top is not None:
            handed[name] = live[top]
        elif isinstance(value, ConfigurableResource):
            handed[name] = _enter_configurable(
                f"{key}.{name}", value, live, keys, run_id, log, teardowns
            )
        elif isinstance(value, ResourceDefinition):
            config, _ = value.check_config(None)  # keys.problems ruled out needing config
            handed[name] = _enter_definition(
                f"{key}.{name}", value, config, live, run_id, log, teardowns
            )
    # frozen fields: the copy is the run's own, so its dict is set directly, unvalidated
    resource.__dict__.update(handed)
    config = resource.model_dump(exclude=set(handed))  # its config: not what it holds
    context = InitResourceContext(resource_config=config, run_id=run_id, log=log)
    resource._resource_context = context
    manager = resource.yield_for_execution(context)
    value = manager.__enter__()
    teardowns.append((key, lambda: manager.__exit__(None, None, None)))
    return value


def _enter_result(key: str, result: Any, teardowns: Teardowns) -> Any:
    """What a resource function made: a generator or ``@contextmanager`` is entered, and left
    normally at teardown (as Dagster does, so code after a bare ``yield`` always runs)."""
    if inspect.isgenerator(result):
        try:
            value = next(result)
        except StopIteration:
            raise ResourceConfigError(
                f"Resource '{key}': its function returned without yielding the resource"
            ) from None
        teardowns.append((key, lambda: _finish_generator(key, result)))
        return value
    if isinstance(result, contextlib.ContextDecorator) and hasattr(result, "__enter__"):
        manager: Any = result
        value = manager.__enter__()
        teardowns.append((key, lambda: manager.__exit__(None, None, None)))
        return value
    return result


def _finish_generator(key: str, generator: Any) -> None:
    try:
        next(generator)
    except StopIteration:
        return
    generator.close()
    raise ResourceConfigError(f"Resource '{key}': its function yielded more than once")


def _tear_down(teardowns: Teardowns, log: logging.Logger, failure: BaseException | None) -> None:
    """Run every teardown, the last set up first.

    A teardown error is logged with its traceback (a note carries only its message). It never
    replaces ``failure``, the error that ended the run: it becomes a note on it. Without one,
    the first teardown error is raised once all teardowns ran.
    """
    first: Exception | None = None
    while teardowns:
        key, teardown = teardowns.pop()
        try:
            teardown()
        except Exception as exc:
            log.error("tearing down resource '%s' failed", key, exc_info=exc)
            summary = f"tearing down resource '{key}' also failed: {type(exc).__name__}: {exc}"
            if failure is not None:
                failure.add_note(summary)
            elif first is None:
                exc.add_note(f"while tearing down resource '{key}'")
                first = exc
            else:
                first.add_note(summary)
    if first is not None:
        raise first
