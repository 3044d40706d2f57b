"""Calling an ``@asset`` or ``@asset_check`` function directly, as a unit test does, by
Dagster's rules: ``my_asset(build_asset_context(resources=...), upstream, config=...)``.

The arguments fill the function's parameters by position (in the signature's order) and by
name. What is left out comes from the context: its resources, its ``asset_config``; a context
the function takes may be None (an empty one is built), and one it does not take is still
read for them.
Misuse is a ``DagsterInvalidInvocationError`` naming the function and where it is defined.
"""

from __future__ import annotations

import copy
import inspect
import sys
from collections.abc import Mapping
from typing import Any

from ..errors import DefinitionsError, InvalidInvocationError
from ..suggest import suggestion

_CONTEXT = "millrace.execution.context"


def invoke(
    node: Any, label: str, args: tuple[Any, ...], kwargs: dict[str, Any], *, bind: bool
) -> Any:
    """Call ``node.fn`` (an asset's or a check's) with ``args`` and ``kwargs``, Dagster's way;
    ``label`` is how errors name it; ``bind`` attaches the context to ``node`` (an asset)."""
    fn = node.fn
    special = node.special
    params = list(inspect.signature(fn).parameters.values())
    context = None
    if special.context is None and args and _is_context(args[0]):
        # a context the function does not take still gives its resources and config
        context, args = args[0], args[1:]
    given = _bind(params, args, kwargs, label)

    if special.context is not None:
        present = special.context in given
        context = _checked_context(
            fn, label, special.context, present, given.pop(special.context, None), kwargs
        )
    if context is not None and bind:
        context.bind(node.key, node)

    from_args = {name: given[name] for name in special.resources if name in given}
    on_context = dict(_resources_of(context))
    if from_args and on_context:
        raise InvalidInvocationError(
            f"{label}: cannot provide resources in both context and kwargs "
            f"({', '.join(sorted(from_args))} as arguments; the context has "
            f"{', '.join(sorted(on_context))})"
        )
    missing = sorted(set(node.required_resource_keys) - on_context.keys() - from_args.keys())
    if missing:
        # Dagster's bind raises its invalid-definition error for this, so do we
        raise DefinitionsError(
            f"resource with key '{missing[0]}' required by {label} was not provided: pass it "
            f"to build_asset_context(resources={{'{missing[0]}': ...}})"
            + (f" or as the argument '{missing[0]}'" if missing[0] in special.resources else "")
        )
    for name in special.resources:
        if name not in given:
            given[name] = on_context[name]
    if from_args and context is not None:
        # the function sees them on context.resources too; the caller's context is unchanged
        context = copy.copy(context)
        context.resources = type(context.resources)(from_args)

    if special.config is not None:
        param, config_class = special.config
        given[param] = _config(node, label, config_class, given.get(param), context)

    for spec in node.inputs:
        if spec.param not in given and _default_of(params, spec.param) is inspect.Parameter.empty:
            raise InvalidInvocationError(
                f'{label}: no value provided for required input "{spec.param}"'
            )
    if special.context is not None:
        given[special.context] = context
    return fn(**given)


def label_of(kind: str, name: str, source: Any) -> str:
    """How errors name what was called: ``asset 'orders' (defs.py:12)``."""
    return f"{kind} '{name}'" + (f" ({source})" if source else "")


def _bind(
    params: list[inspect.Parameter],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    label: str,
) -> dict[str, Any]:
    """Each argument under its parameter's name; too many, unknown or doubled ones are
    errors saying which."""
    names = [p.name for p in params]
    positional = [p.name for p in params if p.kind != p.KEYWORD_ONLY]
    if len(args) > len(positional):
        raise InvalidInvocationError(
            f"{label} has {len(positional)} positional parameters "
            f"({', '.join(positional) or 'none'}), but {len(args)} positional arguments were "
            "provided"
        )
    given = dict(zip(positional, args, strict=False))
    for name, value in kwargs.items():
        if name in given:
            raise InvalidInvocationError(f"{label} got multiple values for argument '{name}'")
        if name not in names:
            raise InvalidInvocationError(
                f"{label} has no parameter '{name}'{suggestion(name, names)} "
                f"(parameters: {', '.join(names) or 'none'})"
            )
        given[name] = value
    return given


def _checked_context(
    fn: Any,
    label: str,
    param: str,
    present: bool,
    context: Any,
    kwargs: Mapping[str, Any],
) -> Any:
    """The context the function takes: the one given, or an empty one for None."""
    name = getattr(fn, "__name__", param)
    if not present:
        if kwargs:
            raise InvalidInvocationError(
                f"Decorated function '{name}' ({label}) has context argument '{param}', but no "
                f"value for '{param}' was found when invoking. Provided kwargs: "
                f"{', '.join(kwargs)}"
            )
        raise InvalidInvocationError(
            f"Decorated function '{name}' ({label}) has context argument, but no context was "
            "provided when invoking: pass build_asset_context() first"
        )
    if context is None:
        from importlib import import_module

        return import_module(_CONTEXT).build_asset_context()
    if not _is_context(context):
        raise InvalidInvocationError(
            f"Decorated function '{name}' ({label}) has context argument, but no context was "
            f"provided when invoking: '{param}' got a {type(context).__name__}, not a context "
            "from build_asset_context()"
        )
    return context


def _is_context(value: Any) -> bool:
    # No context exists until its module is loaded: never load it to ask.
    loaded = sys.modules.get(_CONTEXT)
    return loaded is not None and isinstance(value, loaded.AssetExecutionContext)


def _resources_of(context: Any) -> Mapping[str, Any]:
    if context is None:
        return {}
    return {name: getattr(context.resources, name) for name in context.resources}


def _config(node: Any, label: str, config_class: type, given: Any, context: Any) -> Any:
    """The asset's Config: the argument (a Config or a dict), or the context's asset_config,
    or the class's defaults; checked as a run's config is."""
    on_context = context.op_config if context is not None else None
    if given is not None and on_context is not None:
        raise InvalidInvocationError(f"{label}: cannot provide config in both context and kwargs")
    value = given if given is not None else on_context
    if value is None and context is None and _has_required_fields(config_class):
        raise InvalidInvocationError(
            f"{label} has required config, but no context was provided: use "
            "build_asset_context(asset_config={...}) to create a context with config, or pass "
            f"config={config_class.__name__}(...)"
        )
    from .config import resolve_asset_configs

    op = node.key.to_python_identifier()
    run_config = {"ops": {op: {"config": value}}} if value is not None else {}
    return resolve_asset_configs({node.key: node.special.config}, run_config)[node.key]


def _has_required_fields(config_class: Any) -> bool:
    return any(field.is_required() for field in config_class.model_fields.values())


def _default_of(params: list[inspect.Parameter], name: str) -> Any:
    for param in params:
        if param.name == name:
            return param.default
    return inspect.Parameter.empty
