"""``SourceAsset`` (Dagster's legacy external asset) and ``@observable_source_asset``.

A source asset is an external asset: it can be depended on and loaded through its IO
manager, never materialized. One with an ``observe_fn`` is observable: observing it
(``observe([...])``, or a run that selects it) records an observation with the data
version the function returns, and its downstream assets are stale when that version is not
the one they consumed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, overload

from ..errors import DefinitionsError
from .asset import AssetSpec, SpecialParams, split_params, type_hints
from .keys import (
    AssetKey,
    CoercibleToAssetKey,
    CoercibleToAssetKeyPrefix,
    coerce_key,
    coerce_key_prefix,
)
from .source import SourceLocation, caller_location, location_of

ObserveFunction = Callable[..., Any]


class SourceAsset(AssetSpec):
    """An asset produced outside Millrace, optionally observable (Dagster's ``SourceAsset``)."""

    observe_fn: ObserveFunction | None
    op_tags: Mapping[str, Any]
    required_resource_keys: frozenset[str]
    observe_params: SpecialParams
    # Dagster's observable source assets take no retry policy of their own.
    retry_policy: ClassVar[None] = None

    def __init__(
        self,
        key: CoercibleToAssetKey,
        metadata: Mapping[str, Any] | None = None,
        io_manager_key: str | None = None,
        io_manager_def: Any = None,
        description: str | None = None,
        partitions_def: Any = None,
        group_name: str | None = None,
        resource_defs: Mapping[str, Any] | None = None,
        observe_fn: ObserveFunction | None = None,
        op_tags: Mapping[str, Any] | None = None,
        *,
        auto_observe_interval_minutes: float | None = None,
        freshness_policy: Any = None,
        automation_condition: Any = None,
        tags: Mapping[str, str] | None = None,
        owners: Sequence[str] | None = None,
        kinds: Iterable[str] | None = None,
        required_resource_keys: Iterable[str] | None = None,
        _source: SourceLocation | None = None,
    ) -> None:
        source = _source or caller_location(depth=2)
        label = f"source asset '{coerce_key(key).to_user_string()}' ({source or '?'})"
        _refuse(label, io_manager_def=io_manager_def, resource_defs=resource_defs)
        # Automation observes a source only in a run a sensor or schedule asks for: it keeps
        # no interval of its own and evaluates no condition of a source.
        if auto_observe_interval_minutes is not None:
            raise DefinitionsError(
                f"{label}: auto_observe_interval_minutes is not supported; observe it with "
                "observe([...]), `millrace observe`, a run that selects it, or a schedule "
                "whose job selects it"
            )
        if observe_fn is not None and automation_condition is not None:
            raise DefinitionsError(
                f"{label}: automation_condition on an observable source asset is not "
                "supported (declarative automation does not observe); observe it with "
                "observe([...]), `millrace observe`, or a schedule whose job selects it"
            )
        if observe_fn is not None and not callable(observe_fn):
            raise DefinitionsError(f"{label}: observe_fn must be a function, got {observe_fn!r}")
        super().__init__(
            key,
            description=description,
            metadata=metadata,
            group_name=group_name,
            tags=tags,
            owners=owners,
            kinds=kinds,
            partitions_def=partitions_def,
            io_manager_key=io_manager_key,
            automation_condition=automation_condition,
            freshness_policy=freshness_policy,
        )
        set_ = object.__setattr__
        set_(self, "source", source)
        set_(self, "observe_fn", observe_fn)
        set_(self, "op_tags", dict(op_tags or {}))
        params = _observe_params(observe_fn, label) if observe_fn is not None else SpecialParams()
        set_(self, "observe_params", params)
        keys = frozenset(required_resource_keys or ())
        if keys and params.resources:
            raise DefinitionsError(
                f"{label}: give its resources as required_resource_keys or as annotated "
                "parameters of the function, not both"
            )
        set_(self, "required_resource_keys", keys | set(params.resources))

    @property
    def is_observable(self) -> bool:
        return self.observe_fn is not None

    @property
    def is_async(self) -> bool:
        fn = self.observe_fn
        return fn is not None and inspect.iscoroutinefunction(fn)

    def __repr__(self) -> str:
        return f"SourceAsset({self.key.to_user_string()!r})"


def _refuse(label: str, **given: Any) -> None:
    for name, value in given.items():
        if value:
            raise DefinitionsError(
                f"{label}: {name} is not supported; give the IO manager and resources in "
                "Definitions(resources={...}) and name it with io_manager_key"
            )


def _observe_params(fn: ObserveFunction, label: str) -> SpecialParams:
    """Its context and resource parameters; an observation reads no asset."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise DefinitionsError(f"{label}: cannot read the function's signature: {exc}") from exc
    special, rest = split_params(signature, type_hints(fn), label)
    if special.config is not None:
        raise DefinitionsError(f"{label}: an observation function takes no Config")
    if rest:
        names = ", ".join(p.name for p, _ in rest)
        raise DefinitionsError(
            f"{label}: an observation function takes only `context` and resources, not "
            f"({names}): it observes the source, it reads no asset"
        )
    return special


@overload
def observable_source_asset(observe_fn: ObserveFunction) -> SourceAsset: ...


@overload
def observable_source_asset(
    observe_fn: None = None,
    *,
    key: CoercibleToAssetKey | None = None,
    name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix = None,
    metadata: Mapping[str, Any] | None = None,
    io_manager_key: str | None = None,
    io_manager_def: Any = None,
    description: str | None = None,
    group_name: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    partitions_def: Any = None,
    auto_observe_interval_minutes: float | None = None,
    automation_condition: Any = None,
    op_tags: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> Callable[[ObserveFunction], SourceAsset]: ...


def observable_source_asset(
    observe_fn: ObserveFunction | None = None,
    *,
    key: CoercibleToAssetKey | None = None,
    name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix = None,
    metadata: Mapping[str, Any] | None = None,
    io_manager_key: str | None = None,
    io_manager_def: Any = None,
    description: str | None = None,
    group_name: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
    resource_defs: Mapping[str, Any] | None = None,
    partitions_def: Any = None,
    auto_observe_interval_minutes: float | None = None,
    automation_condition: Any = None,
    op_tags: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
) -> SourceAsset | Callable[[ObserveFunction], SourceAsset]:
    """A SourceAsset observed by the decorated function, which returns a ``DataVersion``,
    a ``DataVersionsByPartition`` or an ``ObserveResult``."""

    def decorate(fn: ObserveFunction) -> SourceAsset:
        where = location_of(fn)
        if key is not None and (name is not None or key_prefix is not None):
            raise DefinitionsError(
                f"@observable_source_asset at {where}: pass key, or name/key_prefix, not both"
            )
        asset_key = (
            coerce_key(key)
            if key is not None
            else AssetKey([*coerce_key_prefix(key_prefix), name or fn.__name__])
        )
        return SourceAsset(
            asset_key,
            metadata=metadata,
            io_manager_key=io_manager_key,
            io_manager_def=io_manager_def,
            description=description if description is not None else inspect.getdoc(fn),
            partitions_def=partitions_def,
            group_name=group_name,
            resource_defs=resource_defs,
            observe_fn=fn,
            op_tags=op_tags,
            auto_observe_interval_minutes=auto_observe_interval_minutes,
            automation_condition=automation_condition,
            tags=tags,
            required_resource_keys=required_resource_keys,
            _source=where,
        )

    if observe_fn is not None:
        return decorate(observe_fn)
    return decorate
