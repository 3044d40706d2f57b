"""``@op``, ``In`` and ``Out``: the steps a ``@graph_asset`` composes.

An op runs only inside the graph asset that composes it (or when called directly in a test):
Millrace has no op jobs. Called inside a graph asset's composition function, an op does not
run; it records an invocation (``OpInvocation``) that the graph asset runs later.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, overload

from ..errors import DefinitionsError
from .asset import RetryPolicy, SpecialParams, split_params, type_hints
from .source import SourceLocation, location_of

_NO_DEFAULT: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class In:
    """One input of an op (Dagster's ``In``): its type, a default, what it is."""

    dagster_type: Any = None
    description: str | None = None
    default_value: Any = _NO_DEFAULT
    metadata: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Out:
    """One output of an op (Dagster's ``Out``). Inside a graph asset an op's outputs pass
    in memory, so there is no IO manager to name."""

    dagster_type: Any = None
    description: str | None = None
    is_required: bool = True
    metadata: Mapping[str, Any] | None = None
    code_version: str | None = None


@dataclass(frozen=True)
class OpInput:
    name: str
    annotation: Any  # what the value must fit: In(dagster_type=...) or the parameter's
    default: Any  # _NO_DEFAULT when required


class OpDefinition:
    """What ``@op`` returns: its function, inputs, outputs and special parameters."""

    def __init__(
        self,
        fn: Callable[..., Any],
        name: str,
        inputs: tuple[OpInput, ...],
        outs: Mapping[str, Out],
        special: SpecialParams,
        description: str | None,
        required_resource_keys: frozenset[str],
        tags: Mapping[str, Any],
        retry_policy: RetryPolicy | None,
        code_version: str | None,
    ) -> None:
        self.fn = fn
        self.name = name
        self.inputs = inputs
        self.outs = dict(outs)
        self.special = special
        self.description = description
        self.required_resource_keys = required_resource_keys
        self.tags = dict(tags)
        self.retry_policy = retry_policy
        self.code_version = code_version
        self.source: SourceLocation | None = location_of(fn)
        self.__wrapped__ = fn  # code versions follow the function; it is what runs

    @property
    def input_names(self) -> tuple[str, ...]:
        return tuple(i.name for i in self.inputs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside a graph asset's composition: record the invocation; elsewhere (a unit
        test), call the function, as Dagster's direct invocation does."""
        from .graph_asset import composing

        composition = composing()
        if composition is None:
            return self.fn(*args, **kwargs)
        return composition.invoke(self, args, kwargs)

    def __repr__(self) -> str:
        return f"<OpDefinition {self.name} at {self.source}>"


@overload
def op(compute_fn: Callable[..., Any]) -> OpDefinition: ...


@overload
def op(
    compute_fn: None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry_policy: RetryPolicy | None = None,
    code_version: str | None = None,
) -> Callable[[Callable[..., Any]], OpDefinition]: ...


def op(
    compute_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, In] | None = None,
    out: Out | Mapping[str, Out] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    tags: Mapping[str, Any] | None = None,
    retry_policy: RetryPolicy | None = None,
    code_version: str | None = None,
) -> OpDefinition | Callable[[Callable[..., Any]], OpDefinition]:
    """Declare an op (Dagster's ``@op``), to compose in a ``@graph_asset``."""

    def decorate(fn: Callable[..., Any]) -> OpDefinition:
        op_name = name or fn.__name__
        label = f"op '{op_name}' ({location_of(fn)})"
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            raise DefinitionsError(f"{label}: async ops are not supported; make it a def")
        if inspect.isgeneratorfunction(fn):
            raise DefinitionsError(f"{label}: an op in a graph asset returns its value(s)")
        signature = inspect.signature(fn)
        hints = type_hints(fn)
        special, rest = split_params(signature, hints, label)
        given = dict(ins or {})
        inputs = []
        for param, annotation in rest:
            spec = given.pop(param.name, None) or In()
            default = param.default if spec.default_value is _NO_DEFAULT else spec.default_value
            typed = spec.dagster_type if spec.dagster_type is not None else annotation
            inputs.append(OpInput(param.name, typed, default))
        if given:
            raise DefinitionsError(
                f"{label}: ins names {sorted(given)} but the function has no such parameter"
            )
        outs = _outs(out, label)
        return OpDefinition(
            fn=fn,
            name=op_name,
            inputs=tuple(inputs),
            outs=outs,
            special=special,
            description=description if description is not None else inspect.getdoc(fn),
            required_resource_keys=frozenset(required_resource_keys or ()) | set(special.resources),
            tags=dict(tags or {}),
            retry_policy=retry_policy,
            code_version=code_version,
        )

    if compute_fn is not None:
        return decorate(compute_fn)
    return decorate


def _outs(out: Out | Mapping[str, Out] | None, label: str) -> dict[str, Out]:
    if out is None:
        return {"result": Out()}
    if isinstance(out, Out):
        return {"result": out}
    outs = dict(out)
    bad = [name for name, value in outs.items() if not isinstance(value, Out)]
    if bad or not outs:
        raise DefinitionsError(f"{label}: out must be an Out or a non-empty {{name: Out}}")
    return outs
