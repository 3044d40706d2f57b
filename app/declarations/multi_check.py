"""``@multi_asset_check``: one function that reports several asset checks.

Each check is an AssetChecksDefinition of its own in the graph (its key, asset, blocking,
description); the plan runs the checks selected together as one call of the function.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..errors import DefinitionsError
from .asset import AssetIn, RetryPolicy, inputs_from_params, split_params, type_hints
from .checks import AssetCheckKey, AssetChecksDefinition, AssetCheckSpec
from .signatures import signature_of
from .source import location_of


class MultiAssetChecksDefinition(AssetChecksDefinition):
    """What ``@multi_asset_check`` returns: its checks, each one an AssetChecksDefinition
    the graph holds in its place."""

    def __init__(  # its checks carry the single check's fields
        self, fn: Callable[..., Any], name: str, can_subset: bool
    ) -> None:
        self.fn = fn
        self.op_name = name
        self.can_subset = can_subset
        self.source = location_of(fn)
        self.checks: tuple[AssetChecksDefinition, ...] = ()  # set once they are built
        self.specs: tuple[AssetCheckSpec, ...] = ()

    @property
    def check_keys(self) -> frozenset[AssetCheckKey]:
        return frozenset(c.key for c in self.checks)

    @property
    def check_nodes(self) -> tuple[AssetChecksDefinition, ...]:
        return self.checks

    @property
    def name(self) -> str:
        return self.op_name

    @property
    def is_async(self) -> bool:  # type: ignore[override]
        return self.checks[0].is_async

    def __repr__(self) -> str:
        keys = ", ".join(sorted(k.to_user_string() for k in self.check_keys))
        return f"<MultiAssetChecksDefinition {self.name} ({keys}) at {self.source}>"


def multi_asset_check(
    *,
    specs: Sequence[AssetCheckSpec],
    name: str | None = None,
    description: str | None = None,
    required_resource_keys: Iterable[str] | None = None,
    retry_policy: RetryPolicy | None = None,
    can_subset: bool = False,
    ins: Mapping[str, AssetIn] | None = None,
) -> Callable[[Callable[..., Any]], MultiAssetChecksDefinition]:
    """Declare several asset checks computed by one function (Dagster's
    ``@multi_asset_check``); it yields an ``AssetCheckResult(asset_key=..., check_name=...)``
    per check."""

    def decorate(fn: Callable[..., Any]) -> MultiAssetChecksDefinition:
        op_name = name or fn.__name__
        label = f"multi_asset_check '{op_name}' ({location_of(fn)})"
        if not specs:
            raise DefinitionsError(f"{label}: specs=[AssetCheckSpec(...), ...] is empty")
        special, rest = split_params(signature_of(fn), type_hints(fn), label)
        if special.config is not None:
            raise DefinitionsError(f"{label}: checks take no Config parameter")
        inputs = inputs_from_params(rest, dict(ins or {}), (), label)
        multi = MultiAssetChecksDefinition(fn, op_name, can_subset)
        checks = []
        seen: set[AssetCheckKey] = set()
        for spec in specs:
            if not isinstance(spec, AssetCheckSpec):
                raise DefinitionsError(
                    f"{label}: specs holds {type(spec).__name__}; expected AssetCheckSpec"
                )
            key = AssetCheckKey(spec.asset_key, spec.name)
            if key in seen:
                raise DefinitionsError(f"{label}: the check '{key.to_user_string()}' is twice")
            seen.add(key)
            check = AssetChecksDefinition(
                fn=fn,
                key=key,
                inputs=inputs,
                deps=spec.additional_deps,
                special=special,
                description=spec.description or description or inspect.getdoc(fn),
                blocking=spec.blocking,
                required_resource_keys=frozenset(required_resource_keys or ())
                | set(special.resources),
                metadata=spec.metadata,
                multi=multi,
            )
            check.retry_policy = retry_policy
            checks.append(check)
        multi.checks, multi.specs = tuple(checks), tuple(specs)
        return multi

    return decorate
