"""``@multi_asset``: one function that materializes several assets, and ``AssetOut``.

Each output becomes an ordinary AssetsDefinition in the graph (its own key, IO manager,
group, code version, metadata, automation), so lineage, staleness, status and the TUI treat
it as any asset; the plan runs the outputs selected together as one call of the function.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import DefinitionsError
from .asset import (
    DEFAULT_GROUP,
    DEFAULT_IO_MANAGER_KEY,
    AssetIn,
    AssetsDefinition,
    AssetSpec,
    RetryPolicy,
    checked_condition,
    checked_freshness_policy,
    coerce_dep_keys,
    inputs_from_params,
    partition_mappings_of,
    split_params,
    type_hints,
)
from .invocation import invoke, label_of
from .keys import (
    AssetKey,
    CoercibleToAssetKey,
    CoercibleToAssetKeyPrefix,
    coerce_key,
    coerce_key_prefix,
)
from .metadata import normalize_metadata
from .outputs import value_annotation
from .signatures import signature_of
from .source import location_of


@dataclass(frozen=True)
class AssetOut:
    """One output of a ``@multi_asset(outs={name: AssetOut(...)})`` (Dagster's signature)."""

    key_prefix: CoercibleToAssetKeyPrefix = None
    key: CoercibleToAssetKey | None = None
    dagster_type: Any = None
    description: str | None = None
    is_required: bool = True
    io_manager_key: str | None = None
    metadata: Mapping[str, Any] | None = None
    group_name: str | None = None
    code_version: str | None = None
    automation_condition: Any = None
    backfill_policy: Any = None
    owners: Sequence[str] | None = None
    tags: Mapping[str, str] | None = None
    kinds: Iterable[str] | None = None
    freshness_policy: Any = None

    def __post_init__(self) -> None:
        if self.key is not None and self.key_prefix is not None:
            raise DefinitionsError("AssetOut takes key or key_prefix, not both")

    def resolve(self, output_name: str) -> AssetKey:
        if self.key is not None:
            return coerce_key(self.key)
        return AssetKey([*coerce_key_prefix(self.key_prefix), output_name])


class MultiAssetsDefinition(AssetsDefinition):
    """What ``@multi_asset`` returns: an AssetsDefinition (as in Dagster) whose assets are
    its outputs, each one an AssetsDefinition the graph holds in its place."""

    def __init__(  # its outputs carry the single asset's fields
        self,
        fn: Callable[..., Any],
        name: str,
        can_subset: bool,
    ) -> None:
        self.fn = fn
        self.op_name = name
        self.can_subset = can_subset
        self.source = location_of(fn)
        self.outputs: tuple[AssetsDefinition, ...] = ()  # set once they are built

    @property
    def keys(self) -> frozenset[AssetKey]:
        return frozenset(o.key for o in self.outputs)

    @property
    def name(self) -> str:
        return self.op_name

    @property
    def is_async(self) -> bool:
        return self.outputs[0].is_async

    @property
    def key(self) -> AssetKey:  # type: ignore[override]
        """The one key of a single-output multi-asset; with several, name one from ``keys``."""
        if len(self.outputs) != 1:
            names = ", ".join(sorted(k.to_user_string() for k in self.keys))
            raise DefinitionsError(
                f"multi_asset '{self.name}' has several keys ({names}); use .keys"
            )
        return self.outputs[0].key

    @property
    def specs(self) -> tuple[AssetSpec, ...]:
        return tuple(spec for o in self.outputs for spec in o.specs)

    @property
    def keys_by_output_name(self) -> dict[str, AssetKey]:
        return {o.output_name: o.key for o in self.outputs}

    @property
    def check_specs(self) -> tuple[Any, ...]:  # type: ignore[override]
        return tuple(spec for o in self.outputs for spec in o.check_specs)

    @property
    def check_keys(self) -> frozenset[Any]:
        return frozenset(spec.key for spec in self.check_specs)

    @property
    def context_param(self) -> str | None:
        return self.outputs[0].special.context

    @property
    def asset_nodes(self) -> tuple[AssetsDefinition, ...]:
        return self.outputs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Direct invocation for unit tests, by an ``@asset``'s rules (``invocation.py``): a
        context given is bound to its outputs, every one selected."""
        label = label_of("multi_asset", self.name, self.source)
        return invoke(self.outputs[0], label, args, kwargs, bind=True)

    def __repr__(self) -> str:
        keys = ", ".join(sorted(k.to_user_string() for k in self.keys))
        return f"<MultiAssetsDefinition {self.name} ({keys}) at {self.source}>"


def multi_asset(
    *,
    outs: Mapping[str, AssetOut] | None = None,
    name: str | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Iterable[Any] | None = None,
    description: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
    internal_asset_deps: Mapping[str, set[AssetKey]] | None = None,
    partitions_def: Any = None,
    backfill_policy: Any = None,
    can_subset: bool = False,
    group_name: str | None = None,
    retry_policy: RetryPolicy | None = None,
    code_version: str | None = None,
    specs: Sequence[AssetSpec] | None = None,
    check_specs: Sequence[Any] | None = None,
    compute_kind: str | None = None,
    automation_condition: Any = None,
) -> Callable[[Callable[..., Any]], MultiAssetsDefinition]:
    """Declare several assets computed by one function (Dagster's ``@multi_asset``).
    ``automation_condition`` (beyond Dagster, which sets it per output) is each output's
    that does not set its own."""

    def decorate(fn: Callable[..., Any]) -> MultiAssetsDefinition:
        where = location_of(fn)
        op_name = name or fn.__name__
        label = f"multi_asset '{op_name}' ({where})"
        if (outs is None) == (specs is None):
            raise DefinitionsError(f"{label}: pass outs={{name: AssetOut(...)}} or specs=[...]")
        signature = signature_of(fn)
        hints = type_hints(fn)
        special, rest = split_params(signature, hints, label)
        inputs = inputs_from_params(rest, dict(ins or {}), (), label)
        shared_deps = coerce_dep_keys(deps)
        declared = _declared_outputs(outs, specs, group_name, label)
        known = {key for _, key, _ in declared}
        inner = _internal_deps(internal_asset_deps, declared, label)
        mappings = partition_mappings_of(deps, inputs, ins)
        checks = tuple(check_specs or ())
        for check in checks:
            if check.asset_key not in known:
                raise DefinitionsError(
                    f"{label}: check_spec '{check.name}' is for asset "
                    f"'{check.asset_key.to_user_string()}', which is not one of its outputs"
                )
        multi = MultiAssetsDefinition(fn, op_name, can_subset)
        annotations = _positional_annotations(hints.get("return"), len(declared), fn)
        kinds_extra = frozenset({compute_kind}) if compute_kind else frozenset()
        outputs = []
        for (output_name, key, out), annotation in zip(declared, annotations, strict=True):
            own_deps = coerce_dep_keys(out.deps) if isinstance(out, AssetSpec) else ()
            ups = inner.get(output_name)
            if isinstance(out, AssetOut) and out.dagster_type is not None:
                annotation = out.dagster_type
            outputs.append(
                AssetsDefinition(
                    fn=fn,
                    key=key,
                    inputs=inputs,
                    deps=tuple(dict.fromkeys([*shared_deps, *own_deps])),
                    special=special,
                    description=_first(out.description, description, inspect.getdoc(fn)),
                    group_name=_group(out, group_name),
                    metadata=normalize_metadata(out.metadata, where=f"{label} output {key}"),
                    code_version=_first(out.code_version, code_version),
                    tags=dict(out.tags or {}),
                    kinds=frozenset(out.kinds or ()) | kinds_extra,
                    owners=tuple(out.owners or ()),
                    required_resource_keys=frozenset(required_resource_keys or ())
                    | set(special.resources),
                    io_manager_key=_io_manager_key(out),
                    retry_policy=retry_policy,
                    partitions_def=partitions_def,
                    check_specs=tuple(c for c in checks if c.asset_key == key),
                    output_annotation=annotation,
                    partition_mappings=mappings,
                    backfill_policy=_first(getattr(out, "backfill_policy", None), backfill_policy),
                    automation_condition=checked_condition(
                        _first(out.automation_condition, automation_condition), label
                    ),
                    freshness_policy=checked_freshness_policy(out.freshness_policy, label),
                    multi=multi,
                    output_name=output_name,
                    skippable=not out.is_required if isinstance(out, AssetOut) else out.skippable,
                    upstream_keys=None if ups is None else tuple(dict.fromkeys(ups)),
                )
            )
        multi.outputs = tuple(outputs)
        return multi

    return decorate


_Declared = tuple[str, AssetKey, "AssetOut | AssetSpec"]


def _declared_outputs(
    outs: Mapping[str, AssetOut] | None,
    specs: Sequence[AssetSpec] | None,
    group_name: str | None,
    label: str,
) -> list[_Declared]:
    declared: list[_Declared] = []
    if outs is not None:
        for output_name, out in outs.items():
            if not isinstance(out, AssetOut):
                raise DefinitionsError(
                    f"{label}: outs['{output_name}'] is {type(out).__name__}; expected AssetOut"
                )
            declared.append((output_name, out.resolve(output_name), out))
    else:
        for spec in specs or ():
            if not isinstance(spec, AssetSpec):
                raise DefinitionsError(
                    f"{label}: specs holds {type(spec).__name__}; expected AssetSpec"
                )
            declared.append((spec.key.to_python_identifier(), spec.key, spec))
    if not declared:
        raise DefinitionsError(f"{label}: a multi_asset needs at least one output")
    seen: set[AssetKey] = set()
    for _, key, declared_out in declared:
        if key in seen:
            raise DefinitionsError(f"{label}: two outputs have the key '{key.to_user_string()}'")
        seen.add(key)
        if group_name is not None and _own_group(declared_out) is not None:
            raise DefinitionsError(
                f"{label}: group_name is set on the multi_asset and on its output "
                f"'{key.to_user_string()}'; set it in one place"
            )
    return declared


def _own_group(out: AssetOut | AssetSpec) -> str | None:
    group = out.group_name
    return None if isinstance(out, AssetSpec) and group == DEFAULT_GROUP else group


def _group(out: AssetOut | AssetSpec, shared: str | None) -> str:
    return _own_group(out) or shared or DEFAULT_GROUP


def _io_manager_key(out: AssetOut | AssetSpec) -> str:
    return out.io_manager_key or DEFAULT_IO_MANAGER_KEY


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _internal_deps(
    given: Mapping[str, set[AssetKey]] | None, declared: list[_Declared], label: str
) -> dict[str, tuple[AssetKey, ...]]:
    """Per output name, the keys it depends on (Dagster's ``internal_asset_deps``)."""
    names = {output_name for output_name, _, _ in declared}
    out: dict[str, tuple[AssetKey, ...]] = {}
    for output_name, keys in (given or {}).items():
        if output_name not in names:
            raise DefinitionsError(
                f"{label}: internal_asset_deps names output '{output_name}', which is not one "
                f"of its outputs ({', '.join(sorted(names))})"
            )
        out[output_name] = tuple(coerce_key(k) for k in keys)
    return out


def _positional_annotations(annotation: Any, count: int, fn: Callable[..., Any]) -> list[Any]:
    """Each output's annotation from ``-> tuple[A, B]`` (a function returning its outputs in
    order); a generator's, or any other, describes no single output."""
    empty = [inspect.Parameter.empty] * count
    if annotation is None or inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        return empty
    if count == 1:
        return [value_annotation(annotation)]
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == count and Ellipsis not in args:
            return [value_annotation(a) for a in args]
    return empty
