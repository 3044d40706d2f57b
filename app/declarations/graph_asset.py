"""``@graph_asset``: an asset computed by a graph of ops (Dagster's ``@graph_asset``).

The decorated function composes ops once, when it is declared: its parameters stand for the
asset's inputs, each op call records an invocation, and it returns the final op's output. The
asset's step then runs the ops in that order, in memory, in one step (Dagster runs an op per
step; here the asset is the unit that is stored, versioned and retried). Its code version
covers the composition and every op it calls.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from ..errors import DefinitionsError
from .asset import AssetIn, AssetsDefinition, asset, type_hints
from .keys import CoercibleToAssetKey, CoercibleToAssetKeyPrefix
from .ops import _NO_DEFAULT, OpDefinition
from .source import location_of


@dataclass(frozen=True)
class GraphInput:
    """A graph asset's parameter, as the composition sees it: the upstream asset's value."""

    name: str


@dataclass(frozen=True)
class OpOutput:
    """One output of one recorded op invocation."""

    invocation: int
    output_name: str


@dataclass
class OpInvocation:
    op: OpDefinition
    alias: str  # the op's name, or name_2, name_3... for later calls (Dagster's aliases)
    args: dict[str, GraphInput | OpOutput]


@dataclass
class Composition:
    """The invocations a graph asset's function records, in call order (a topological order:
    an invocation can only take outputs of earlier ones)."""

    label: str
    invocations: list[OpInvocation] = field(default_factory=list)

    def invoke(
        self, op: OpDefinition, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> OpOutput | tuple[OpOutput, ...]:
        names = op.input_names
        if len(args) > len(names):
            raise DefinitionsError(
                f"{self.label}: op '{op.name}' takes {len(names)} inputs "
                f"({', '.join(names) or 'none'}), got {len(args)}"
            )
        given = dict(zip(names, args, strict=False))
        for name, value in kwargs.items():
            if name not in names or name in given:
                raise DefinitionsError(
                    f"{self.label}: op '{op.name}' got an unexpected or repeated input '{name}'"
                )
            given[name] = value
        for spec in op.inputs:
            value = given.get(spec.name, _NO_DEFAULT)
            if value is _NO_DEFAULT and spec.default is _NO_DEFAULT:
                raise DefinitionsError(
                    f"{self.label}: op '{op.name}' needs its input '{spec.name}': pass another "
                    "op's output or one of the graph asset's parameters"
                )
            if value is not _NO_DEFAULT and not isinstance(value, GraphInput | OpOutput):
                raise DefinitionsError(
                    f"{self.label}: op '{op.name}' input '{spec.name}' got "
                    f"{type(value).__name__}: inside a graph asset an op's inputs are other "
                    "ops' outputs or the graph asset's parameters (give constants as defaults "
                    "or config)"
                )
        uses = sum(1 for i in self.invocations if i.op is op)
        alias = op.name if uses == 0 else f"{op.name}_{uses + 1}"
        self.invocations.append(OpInvocation(op, alias, given))
        index = len(self.invocations) - 1
        outputs = tuple(OpOutput(index, name) for name in op.outs)
        return outputs[0] if len(outputs) == 1 else outputs


_composing: ContextVar[Composition | None] = ContextVar("millrace_composing", default=None)


def composing() -> Composition | None:
    """The composition being recorded on this thread, if any (an op call records into it)."""
    return _composing.get()


def graph_asset(
    compose_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    key_prefix: CoercibleToAssetKeyPrefix = None,
    group_name: str | None = None,
    partitions_def: Any = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    owners: Sequence[str] | None = None,
    kinds: Iterable[str] | None = None,
    automation_condition: Any = None,
    backfill_policy: Any = None,
    check_specs: Sequence[Any] | None = None,
    code_version: str | None = None,
    key: CoercibleToAssetKey | None = None,
    freshness_policy: Any = None,
) -> Any:
    """Declare an asset computed by the ops its function composes (Dagster's signature)."""

    def decorate(fn: Callable[..., Any]) -> AssetsDefinition:
        label = f"graph_asset '{name or fn.__name__}' ({location_of(fn)})"
        signature = inspect.signature(fn)
        for param in signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD) or param.name == "context":
                raise DefinitionsError(
                    f"{label}: its parameters are its upstream assets, one each by name "
                    "(no context, *args or **kwargs: the ops take those)"
                )
        composition = Composition(label)
        token = _composing.set(composition)
        try:
            result = fn(*(GraphInput(p) for p in signature.parameters))
        finally:
            _composing.reset(token)
        if not isinstance(result, OpOutput):
            raise DefinitionsError(
                f"{label}: it must return one op's output (the asset's value), got "
                f"{type(result).__name__}"
            )
        invocations = tuple(composition.invocations)
        ops = {i.op for i in invocations}
        for op in ops:
            if op.special.config is not None and _has_required_fields(op.special.config[1]):
                raise DefinitionsError(
                    f"{label}: op '{op.name}' takes a Config with required fields; inside a "
                    "graph asset an op's Config takes its defaults (run config reaches assets)"
                )
        run = _runner(invocations, result)
        hints = type_hints(fn)
        params = [
            inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD),
            *(
                p.replace(annotation=hints.get(p.name, p.annotation))
                for p in signature.parameters.values()
            ),
        ]
        returned = result.output_name
        final = invocations[result.invocation].op
        out_type = final.outs[returned].dagster_type
        run.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            params, return_annotation=out_type if out_type is not None else _annotation_of(final)
        )
        run.__annotations__ = {p.name: p.annotation for p in params[1:]}
        run.__name__ = run.__qualname__ = fn.__name__
        run.__doc__ = fn.__doc__
        run.__wrapped__ = fn  # type: ignore[attr-defined]  # where it is: the user's line
        made = asset(
            name=name,
            key=key,
            key_prefix=key_prefix,
            ins=ins,
            description=description,
            group_name=group_name,
            metadata=metadata,
            code_version=code_version,
            tags=tags,
            kinds=kinds,
            owners=owners,
            required_resource_keys=frozenset().union(*(o.required_resource_keys for o in ops)),
            partitions_def=partitions_def,
            check_specs=check_specs,
            backfill_policy=backfill_policy,
            automation_condition=automation_condition,
            freshness_policy=freshness_policy,
        )(run)
        made.composed_of = (fn, *sorted(ops, key=lambda o: o.name))  # what its version hashes
        return made

    if compose_fn is not None:
        return decorate(compose_fn)
    return decorate


def _annotation_of(op: OpDefinition) -> Any:
    hint = type_hints(op.fn).get("return", inspect.Parameter.empty)
    return inspect.Parameter.empty if len(op.outs) > 1 else hint


def _runner(invocations: tuple[OpInvocation, ...], result: OpOutput) -> Callable[..., Any]:
    """The asset's function: run each invocation in order, handing outputs along."""

    def run(context: Any, **inputs: Any) -> Any:
        produced: list[dict[str, Any]] = []
        for invocation in invocations:
            op = invocation.op
            call: dict[str, Any] = {}
            for spec in op.inputs:
                ref = invocation.args.get(spec.name)
                if ref is None:
                    continue  # its default applies
                call[spec.name] = (
                    inputs[ref.name]
                    if isinstance(ref, GraphInput)
                    else produced[ref.invocation][ref.output_name]
                )
            special = op.special
            if special.context is not None:
                call[special.context] = context
            for resource in special.resources:
                call[resource] = getattr(context.resources, resource)
            if special.config is not None:
                param, config_class = special.config
                call[param] = config_class()  # its defaults: run config reaches assets only
            value = _call(op, invocation.alias, call, context)
            names = list(op.outs)
            if len(names) == 1:
                produced.append({names[0]: value})
            elif not isinstance(value, tuple) or len(value) != len(names):
                raise DefinitionsError(
                    f"op '{invocation.alias}' has {len(names)} outputs ({', '.join(names)}): "
                    f"return a tuple of {len(names)} values in that order"
                )
            else:
                produced.append(dict(zip(names, value, strict=True)))
        return produced[result.invocation][result.output_name]

    return run


def _call(op: OpDefinition, alias: str, call: dict[str, Any], context: Any) -> Any:
    """One op call; a failure is retried under the op's retry_policy, within the step."""
    policy = op.retry_policy
    attempt = 1
    while True:
        try:
            return op.fn(**call)
        except Exception as exc:
            if policy is None or attempt > policy.max_retries or context.is_canceled:
                raise
            context.log.warning(
                f"op '{alias}' raised {type(exc).__name__}: {exc}; retry {attempt} of "
                f"{policy.max_retries}"
            )
            time.sleep(policy.delay_before(attempt))
            attempt += 1


def _has_required_fields(config_class: Any) -> bool:
    return any(f.is_required() for f in config_class.model_fields.values())
