"""Asset checks: ``@asset_check``, AssetCheckSpec, AssetCheckResult and their keys."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any, overload

from ..errors import DefinitionsError
from .asset import (
    AssetIn,
    InputSpec,
    RetryPolicy,
    SpecialParams,
    checked_condition,
    coerce_dep_keys,
    split_params,
    type_hints,
)
from .invocation import invoke, label_of
from .keys import AssetKey, CoercibleToAssetKey, coerce_key
from .metadata import MetadataValue, normalize_metadata
from .signatures import signature_of
from .source import location_of


class AssetCheckSeverity(Enum):
    WARN = "WARN"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True, order=True)
class AssetCheckKey:
    asset_key: AssetKey
    name: str

    def to_user_string(self) -> str:
        return f"{self.asset_key.to_user_string()}:{self.name}"


class AssetCheckSpec:
    """A check an asset reports itself: ``@asset(check_specs=[AssetCheckSpec("x", asset=...)])``."""

    def __init__(
        self,
        name: str,
        *,
        asset: Any,
        description: str | None = None,
        additional_deps: Iterable[Any] | None = None,
        blocking: bool = False,
        metadata: Mapping[str, Any] | None = None,
        partitions_def: Any = None,
        automation_condition: Any = None,
    ) -> None:
        self.name = name
        self.asset_key = coerce_key(asset)
        self.description = description
        self.additional_deps = coerce_dep_keys(additional_deps)
        self.blocking = blocking
        self.metadata = normalize_metadata(metadata, where=f"check {name}")
        self.partitions_def = partitions_def
        self.automation_condition = checked_condition(
            automation_condition, f"check spec '{self.key.to_user_string()}'"
        )

    @property
    def key(self) -> AssetCheckKey:
        return AssetCheckKey(self.asset_key, self.name)

    def __repr__(self) -> str:
        return f"AssetCheckSpec({self.key.to_user_string()!r}, blocking={self.blocking})"


def truth(value: Any, *, where: str) -> bool:
    """``bool(value)`` for any unambiguous truth value: bools, numpy/pandas scalars, 1-element
    arrays. Dagster rejects ``passed=null_count == 0`` on a numpy sum; we accept it."""
    if isinstance(value, bool):
        return value
    size = getattr(value, "size", None)
    item = getattr(value, "item", None)
    if size == 1 and callable(item):
        return bool(item())
    try:
        return bool(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{where}: passed must be a single truth value, got {type(value).__name__} "
            f"({exc}); reduce it first, e.g. with .all() or .any()"
        ) from None


class AssetCheckResult:
    """The outcome of one check: ``AssetCheckResult(passed=n == 0, metadata={"n": n})``."""

    __slots__ = ("asset_key", "check_name", "description", "metadata", "passed", "severity")

    def __init__(
        self,
        *,
        passed: Any,
        asset_key: CoercibleToAssetKey | None = None,
        check_name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
        description: str | None = None,
    ) -> None:
        where = f"AssetCheckResult({check_name or ''})"
        self.passed = truth(passed, where=where)
        self.asset_key = coerce_key(asset_key) if asset_key is not None else None
        self.check_name = check_name
        self.metadata: dict[str, MetadataValue] = normalize_metadata(metadata, where=where)
        if not isinstance(severity, AssetCheckSeverity):
            raise TypeError(f"{where}: severity must be AssetCheckSeverity.ERROR or .WARN")
        self.severity = severity
        self.description = description

    def __repr__(self) -> str:
        state = "passed" if self.passed else f"failed ({self.severity.value})"
        return f"<AssetCheckResult {self.check_name or '?'} {state}>"


class AssetChecksDefinition:
    """A check declared with ``@asset_check``: its key, inputs, and the function to run."""

    def __init__(
        self,
        *,
        fn: Callable[..., Any],
        key: AssetCheckKey,
        inputs: tuple[InputSpec, ...],
        deps: tuple[AssetKey, ...],
        special: SpecialParams,
        description: str | None,
        blocking: bool,
        required_resource_keys: frozenset[str],
        metadata: Mapping[str, MetadataValue],
        partitions_def: Any = None,
        automation_condition: Any = None,
        multi: Any = None,
    ) -> None:
        self.fn = fn
        self.key = key
        self.inputs = inputs
        self.deps = deps
        self.special = special
        self.description = description
        self.blocking = blocking
        self.required_resource_keys = required_resource_keys
        self.metadata = metadata
        # Set: the check runs once per partition of its asset (the asset's definition).
        self.partitions_def = partitions_def
        self.automation_condition = automation_condition
        self.is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)
        self.source = location_of(fn)
        self.upstream_keys = tuple(dict.fromkeys([key.asset_key, *(i.key for i in inputs), *deps]))
        self.retry_policy: RetryPolicy | None = None
        # One check of a @multi_asset_check (a MultiAssetChecksDefinition): its function and
        # step are shared with the others.
        self.multi = multi
        # What its code version described of it (versions/code.py). Set here, not added
        # later: an attribute added after __init__ gives every instance a dict of its own.
        self._described: tuple[Any, ...] | None = None

    @property
    def check_nodes(self) -> tuple[AssetChecksDefinition, ...]:
        """What the graph holds for it: itself; a multi-asset check's checks."""
        return (self,)

    @property
    def asset_key(self) -> AssetKey:
        return self.key.asset_key

    @property
    def context_param(self) -> str | None:
        return self.special.context

    @property
    def name(self) -> str:
        return self.key.name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Direct invocation for unit tests, by an ``@asset``'s rules (``invocation.py``)."""
        # a multi-asset check's checks share its function, parameters and resources
        node = self.check_nodes[0]
        single = node is self
        label = label_of(
            "asset check" if single else "multi_asset_check",
            self.key.to_user_string() if single else self.name,
            self.source,
        )
        return invoke(node, label, args, kwargs, bind=False)

    def __repr__(self) -> str:
        return f"<AssetChecksDefinition {self.key.to_user_string()} at {self.source}>"


@overload
def asset_check(
    compute_fn: None = None,
    *,
    asset: Any,
    name: str | None = None,
    description: str | None = None,
    blocking: bool = False,
    additional_ins: Mapping[str, AssetIn] | None = None,
    additional_deps: Iterable[Any] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    partitions_def: Any = None,
    automation_condition: Any = None,
) -> Callable[[Callable[..., Any]], AssetChecksDefinition]: ...


@overload
def asset_check(
    compute_fn: Callable[..., Any],
    *,
    asset: Any,
    name: str | None = None,
    description: str | None = None,
    blocking: bool = False,
    additional_ins: Mapping[str, AssetIn] | None = None,
    additional_deps: Iterable[Any] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    partitions_def: Any = None,
    automation_condition: Any = None,
) -> AssetChecksDefinition: ...


def asset_check(
    compute_fn: Callable[..., Any] | None = None,
    *,
    asset: Any,
    name: str | None = None,
    description: str | None = None,
    blocking: bool = False,
    additional_ins: Mapping[str, AssetIn] | None = None,
    additional_deps: Iterable[Any] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    partitions_def: Any = None,
    automation_condition: Any = None,
) -> AssetChecksDefinition | Callable[[Callable[..., Any]], AssetChecksDefinition]:
    """Declare a check of ``asset``; the function gets the asset's stored value (Dagster's API)."""
    asset_key = coerce_key(asset)

    def decorate(fn: Callable[..., Any]) -> AssetChecksDefinition:
        key = AssetCheckKey(asset_key, name or fn.__name__)
        label = f"check '{key.to_user_string()}' ({location_of(fn)})"
        special, rest = split_params(signature_of(fn), type_hints(fn), label)
        if special.config is not None:
            raise DefinitionsError(f"{label}: checks take no Config parameter")
        extra = dict(additional_ins or {})
        inputs: list[InputSpec] = []
        candidates: list[tuple[inspect.Parameter, Any]] = []
        for param, annotation in rest:
            if param.name in extra:
                asset_in = extra.pop(param.name)
                key_in = asset_in.resolve(param.name)
                inputs.append(
                    InputSpec(
                        param.name,
                        key_in,
                        annotation,
                        asset_in.metadata or {},
                        asset_in.input_manager_key,
                        asset_in.dagster_type,
                    )
                )
            else:
                candidates.append((param, annotation))
        if extra:
            raise DefinitionsError(
                f"{label}: additional_ins names {sorted(extra)} but the function has no such "
                "parameter"
            )
        if len(candidates) > 1:
            raise DefinitionsError(
                f"{label}: parameters {[p.name for p, _ in candidates]} are not in "
                "additional_ins; "
                f"a check takes one parameter for its asset ('{asset_key.path[-1]}'), the rest "
                "through additional_ins"
            )
        if candidates:
            param, annotation = candidates[0]
            inputs.insert(0, InputSpec(param.name, asset_key, annotation, {}))
        return AssetChecksDefinition(
            fn=fn,
            key=key,
            inputs=tuple(inputs),
            deps=coerce_dep_keys(additional_deps),
            special=special,
            description=description if description is not None else inspect.getdoc(fn),
            blocking=blocking,
            required_resource_keys=frozenset(required_resource_keys or ()) | set(special.resources),
            metadata=normalize_metadata(metadata, where=label),
            partitions_def=partitions_def,
            automation_condition=checked_condition(automation_condition, label),
        )

    if compute_fn is not None:
        return decorate(compute_fn)
    return decorate
