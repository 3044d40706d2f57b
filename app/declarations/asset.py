"""``@asset`` and what it builds: an AssetsDefinition, plus AssetIn, AssetDep and AssetSpec."""

from __future__ import annotations

import inspect
import random as _random
import sys
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, overload

from ..errors import DefinitionsError
from .invocation import invoke, label_of
from .keys import (
    AssetKey,
    CoercibleToAssetKey,
    CoercibleToAssetKeyPrefix,
    coerce_key,
    coerce_key_prefix,
)
from .metadata import MetadataValue, normalize_metadata
from .outputs import value_annotation
from .signatures import signature_of
from .source import SourceLocation, caller_location, location_of

DEFAULT_GROUP = "default"
DEFAULT_IO_MANAGER_KEY = "io_manager"


@dataclass(frozen=True)
class AssetIn:
    """Maps a parameter to an upstream asset, by ``key`` or by ``key_prefix`` + parameter name."""

    key: CoercibleToAssetKey | None = None
    metadata: Mapping[str, Any] | None = None
    key_prefix: CoercibleToAssetKeyPrefix = None
    input_manager_key: str | None = None
    partition_mapping: Any = None
    dagster_type: Any = None

    def __post_init__(self) -> None:
        if self.key is not None and self.key_prefix is not None:
            raise DefinitionsError("AssetIn takes key or key_prefix, not both")

    def resolve(self, param_name: str) -> AssetKey:
        if self.key is not None:
            return coerce_key(self.key)
        return AssetKey([*coerce_key_prefix(self.key_prefix), param_name])


@dataclass(frozen=True)
class AssetDep:
    """An order-only dependency: the upstream runs first; its value is not loaded."""

    asset: Any
    partition_mapping: Any = None

    @property
    def key(self) -> AssetKey:
        return coerce_key(self.asset)


class Backoff(Enum):
    LINEAR = "LINEAR"
    EXPONENTIAL = "EXPONENTIAL"


class Jitter(Enum):
    FULL = "FULL"
    PLUS_MINUS = "PLUS_MINUS"


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failed step ``max_retries`` times, ``delay`` seconds apart (with backoff and
    jitter, as Dagster computes them)."""

    max_retries: int = 1
    delay: float | None = None
    backoff: Backoff | None = None
    jitter: Jitter | None = None

    def __post_init__(self) -> None:
        if isinstance(self.max_retries, bool) or not isinstance(self.max_retries, int):
            raise DefinitionsError(
                f"RetryPolicy(max_retries=...) must be an int, got {self.max_retries!r}"
            )
        if self.delay is not None and (
            isinstance(self.delay, bool) or not isinstance(self.delay, int | float)
        ):
            raise DefinitionsError(
                f"RetryPolicy(delay=...) must be a number of seconds, got {self.delay!r}"
            )
        if self.delay is not None and self.delay < 0:
            raise DefinitionsError(f"RetryPolicy(delay=...) must not be negative, got {self.delay}")
        for name, value, kind in (
            ("backoff", self.backoff, Backoff),
            ("jitter", self.jitter, Jitter),
        ):
            if value is not None and not isinstance(value, kind):
                raise DefinitionsError(
                    f"RetryPolicy({name}=...) must be a {kind.__name__}, got {value!r}"
                )
            if value is not None and self.delay is None:
                raise DefinitionsError(f"RetryPolicy: {name} needs a delay to act on; set delay")

    def delay_before(self, attempt: int, random: Callable[[], float] = _random.random) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based), by Dagster's
        ``calculate_delay``: backoff first (EXPONENTIAL ``(2**attempt - 1) * delay``, LINEAR
        ``attempt * delay``), then jitter (FULL ``random() * that``, PLUS_MINUS ``that +
        (2 * random() - 1) * delay``). ``random`` is injectable so tests can pin it."""
        base = self.delay or 0.0
        if self.backoff is Backoff.EXPONENTIAL:
            delay = ((2**attempt) - 1) * base
        elif self.backoff is Backoff.LINEAR:
            delay = base * attempt
        else:
            delay = base
        if self.jitter is Jitter.FULL:
            delay = random() * delay
        elif self.jitter is Jitter.PLUS_MINUS:
            delay = delay + ((2 * random() * base) - base)
        # PLUS_MINUS can dip below zero only at attempt 0; a wait is never negative.
        return max(0.0, delay)


def coerce_dep_keys(deps: Iterable[Any] | None) -> tuple[AssetKey, ...]:
    return tuple(coerce_key(d) for d in deps or ())


def partition_mappings_of(
    deps: Iterable[Any] | None, inputs: Iterable[InputSpec], ins: Mapping[str, AssetIn] | None
) -> dict[AssetKey, Any]:
    """The partition mappings ``AssetDep(..., partition_mapping=...)`` and
    ``AssetIn(partition_mapping=...)`` declare, by upstream key."""
    mappings = {
        d.key: d.partition_mapping
        for d in deps or ()
        if isinstance(d, AssetDep) and d.partition_mapping is not None
    }
    for spec in inputs:
        given = (ins or {}).get(spec.param)
        if given is not None and given.partition_mapping is not None:
            mappings[spec.key] = given.partition_mapping
    return mappings


@dataclass(frozen=True, eq=False)
class AssetSpec:
    """An asset produced outside Millrace (a source): it can be depended on, not materialized."""

    key: AssetKey
    deps: tuple[AssetKey, ...] = ()
    description: str | None = None
    metadata: Mapping[str, MetadataValue] = field(default_factory=dict)
    group_name: str = DEFAULT_GROUP
    code_version: str | None = None
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    kinds: frozenset[str] = frozenset()
    partitions_def: Any = None
    io_manager_key: str = DEFAULT_IO_MANAGER_KEY
    source: SourceLocation | None = None
    automation_condition: Any = None
    freshness_policy: Any = None
    skippable: bool = False  # in a @multi_asset(specs=...): the function may not produce it

    def __init__(
        self,
        key: CoercibleToAssetKey,
        *,
        deps: Iterable[Any] | None = None,
        description: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        group_name: str | None = None,
        code_version: str | None = None,
        owners: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] | None = None,
        partitions_def: Any = None,
        io_manager_key: str | None = None,
        automation_condition: Any = None,
        freshness_policy: Any = None,
        skippable: bool = False,
    ) -> None:
        set_ = object.__setattr__
        set_(self, "key", coerce_key(key))
        set_(self, "deps", coerce_dep_keys(deps))
        set_(self, "description", description)
        set_(self, "metadata", normalize_metadata(metadata, where=f"asset spec {key}"))
        set_(self, "group_name", group_name or DEFAULT_GROUP)
        set_(self, "code_version", code_version)
        set_(self, "owners", tuple(owners or ()))
        set_(self, "tags", dict(tags or {}))
        set_(self, "kinds", frozenset(kinds or ()))
        set_(self, "partitions_def", partitions_def)
        set_(self, "io_manager_key", io_manager_key or DEFAULT_IO_MANAGER_KEY)
        set_(self, "source", caller_location(depth=2))
        where = f"asset spec '{self.key.to_user_string()}'"
        set_(self, "automation_condition", checked_condition(automation_condition, where))
        set_(self, "freshness_policy", checked_freshness_policy(freshness_policy, where))
        set_(self, "skippable", skippable)

    @property
    def is_executable(self) -> bool:
        return False

    def replace_attributes(self, **changes: Any) -> AssetSpec:
        """A copy with these attributes replaced (Dagster's ``replace_attributes``): ``key``,
        ``deps``, ``description``, ``metadata``, ``group_name``, ``code_version``,
        ``owners``, ``tags``, ``kinds``, ``partitions_def``, ``automation_condition``,
        ``freshness_policy``, ``skippable``."""
        unknown = sorted(set(changes) - _SPEC_ATTRIBUTES)
        if unknown:
            raise TypeError(
                f"replace_attributes() got unexpected attributes {unknown} for {self!r}; it "
                f"takes {', '.join(sorted(_SPEC_ATTRIBUTES))}"
            )
        from .asset_copies import replaced_spec  # the copy helpers build on this class

        return replaced_spec(self, **changes)

    def merge_attributes(
        self,
        *,
        deps: Iterable[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        owners: Sequence[str] | None = None,
        tags: Mapping[str, str] | None = None,
        kinds: Iterable[str] | None = None,
    ) -> AssetSpec:
        """A copy with these added to its own (Dagster's ``merge_attributes``)."""
        return self.replace_attributes(
            deps=tuple(dict.fromkeys([*self.deps, *coerce_dep_keys(deps)])),
            metadata={**self.metadata, **(metadata or {})},
            owners=tuple(dict.fromkeys([*self.owners, *(owners or ())])),
            tags={**self.tags, **(tags or {})},
            kinds=self.kinds | frozenset(kinds or ()),
        )

    @property
    def upstream_keys(self) -> tuple[AssetKey, ...]:
        return self.deps

    def __repr__(self) -> str:
        return f"AssetSpec({self.key.to_user_string()!r})"


_SPEC_ATTRIBUTES = frozenset(
    {
        "key",
        "deps",
        "description",
        "metadata",
        "group_name",
        "code_version",
        "owners",
        "tags",
        "kinds",
        "partitions_def",
        "automation_condition",
        "freshness_policy",
        "skippable",
    }
)


@dataclass(frozen=True, slots=True)
class InputSpec:
    """One data input of an asset function: the parameter it fills and the asset it comes from."""

    param: str
    key: AssetKey
    annotation: Any
    metadata: Mapping[str, Any]
    input_manager_key: str | None = None  # AssetIn's: a resource that loads it instead
    dagster_type: Any = None  # AssetIn's


def _is_context_param(param: inspect.Parameter) -> bool:
    if param.name == "context":
        return True
    ann = param.annotation
    name = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
    return name.rsplit(".", 1)[-1] in {
        "AssetExecutionContext",
        "AssetCheckExecutionContext",
        "OpExecutionContext",
    }


class AssetsDefinition:
    """An asset declared with ``@asset``: its key, inputs, and the function that computes it."""

    def __init__(
        self,
        *,
        fn: Callable[..., Any],
        key: AssetKey,
        inputs: tuple[InputSpec, ...],
        deps: tuple[AssetKey, ...],
        special: SpecialParams,
        description: str | None,
        group_name: str,
        metadata: Mapping[str, MetadataValue],
        code_version: str | None,
        tags: Mapping[str, str],
        kinds: frozenset[str],
        owners: tuple[str, ...],
        required_resource_keys: frozenset[str],
        io_manager_key: str,
        retry_policy: RetryPolicy | None,
        partitions_def: Any,
        check_specs: tuple[Any, ...],
        output_annotation: Any,
        partition_mappings: Mapping[AssetKey, Any] | None = None,
        backfill_policy: Any = None,
        automation_condition: Any = None,
        freshness_policy: Any = None,
        multi: Any = None,
        output_name: str = "result",
        skippable: bool = False,
        upstream_keys: tuple[AssetKey, ...] | None = None,
    ) -> None:
        self.fn = fn
        self.key = key
        self.inputs = inputs
        self.deps = deps
        self.special = special
        self.description = description
        self.group_name = group_name
        self.metadata = metadata
        self.code_version = code_version
        self.tags = tags
        self.kinds = kinds
        self.owners = owners
        self.required_resource_keys = required_resource_keys
        self.io_manager_key = io_manager_key
        self.retry_policy = retry_policy
        self.partitions_def = partitions_def
        # Per upstream key, how this asset's partitions read the upstream's (the default
        # mapping where absent): Dagster's ``AssetsDefinition.partition_mappings``.
        self.partition_mappings = dict(partition_mappings or {})
        self.backfill_policy = backfill_policy
        self.automation_condition = automation_condition
        self.freshness_policy = freshness_policy
        self.check_specs = check_specs
        self.output_annotation = output_annotation
        self.source = location_of(fn)
        # One output of a @multi_asset (a MultiAssetsDefinition) shares its function, inputs
        # and step with the others; ``upstream_keys`` then narrows to its internal_asset_deps.
        self.multi = multi
        self.output_name = output_name
        self.skippable = skippable
        # A @graph_asset's: its composition function and ops, which its code version hashes
        # (``fn`` is then the runner that calls them).
        self.composed_of: tuple[Any, ...] = ()
        # Data inputs first, then order-only deps, without repeats; read on every step.
        self.upstream_keys = (
            upstream_keys
            if upstream_keys is not None
            else tuple(dict.fromkeys([*(i.key for i in inputs), *deps]))
        )
        # What its code version described of it (versions/code.py). Set here, not added
        # later: an attribute added after __init__ gives every instance a dict of its own.
        self._described: tuple[Any, ...] | None = None

    @property
    def keys(self) -> frozenset[AssetKey]:
        return frozenset((self.key,))

    @property
    def is_async(self) -> bool:
        # Derived, not stored: an instance of up to 29 attributes shares its dict's keys with
        # the others (CPython), and a 30th would double the memory of every asset.
        return inspect.iscoroutinefunction(self.fn) or inspect.isasyncgenfunction(self.fn)

    @property
    def context_param(self) -> str | None:
        return self.special.context

    @property
    def asset_nodes(self) -> tuple[AssetsDefinition, ...]:
        """What the graph holds for it: itself; a multi-asset's outputs."""
        return (self,)

    @property
    def specs(self) -> tuple[AssetSpec, ...]:
        """Its assets as AssetSpecs (Dagster's ``specs``): what ``map_asset_specs`` maps."""
        spec = AssetSpec(
            self.key,
            deps=self.upstream_keys,
            description=self.description,
            metadata=self.metadata,
            group_name=self.group_name,
            code_version=self.code_version,
            owners=self.owners,
            tags=self.tags,
            kinds=self.kinds,
            partitions_def=self.partitions_def,
            io_manager_key=self.io_manager_key,
            automation_condition=self.automation_condition,
            freshness_policy=self.freshness_policy,
            skippable=self.skippable,
        )
        object.__setattr__(spec, "source", self.source)  # where the asset is, not this line
        return (spec,)

    @property
    def name(self) -> str:
        return self.key.path[-1]

    @property
    def is_executable(self) -> bool:
        return True

    def with_attributes(
        self,
        *,
        asset_key_replacements: Mapping[AssetKey, AssetKey] | None = None,
        group_names_by_key: Mapping[AssetKey, str] | None = None,
        tags_by_key: Mapping[AssetKey, Mapping[str, str]] | None = None,
        metadata_by_key: Mapping[AssetKey, Mapping[str, Any]] | None = None,
        automation_condition: Any = None,
        backfill_policy: Any = None,
        freshness_policy: Any = None,
    ) -> AssetsDefinition:
        """A copy with keys replaced (in its keys and the upstream keys it names) and its
        assets' attributes changed, each by key (Dagster's ``with_attributes``)."""
        from .asset_copies import with_attributes

        return with_attributes(
            self,
            asset_key_replacements=asset_key_replacements or {},
            group_names_by_key=group_names_by_key or {},
            tags_by_key=tags_by_key or {},
            metadata_by_key=metadata_by_key or {},
            automation_condition=automation_condition,
            backfill_policy=backfill_policy,
            freshness_policy=freshness_policy,
        )

    def map_asset_specs(self, fn: Callable[[AssetSpec], AssetSpec]) -> AssetsDefinition:
        """A copy rebuilt from ``fn`` of each of its assets' specs (Dagster's method)."""
        from .asset_copies import map_asset_specs

        (mapped,) = map_asset_specs(fn, [self])
        assert isinstance(mapped, AssetsDefinition)
        return mapped

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Direct invocation for unit tests: ``my_asset(build_asset_context(), upstream_df)``;
        resources and config not passed come from the context (see ``invocation.py``)."""
        label = label_of("asset", self.key.to_user_string(), self.source)
        return invoke(self, label, args, kwargs, bind=True)

    def __repr__(self) -> str:
        return f"<AssetsDefinition {self.key.to_user_string()} at {self.source}>"


@overload
def asset(compute_fn: Callable[..., Any]) -> AssetsDefinition: ...


@overload
def asset(
    compute_fn: None = None,
    *,
    name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix = None,
    key: CoercibleToAssetKey | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Iterable[Any] | None = None,
    description: str | None = None,
    group_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    code_version: str | None = None,
    tags: Mapping[str, str] | None = None,
    kinds: Iterable[str] | None = None,
    owners: Sequence[str] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    io_manager_key: str | None = None,
    retry_policy: RetryPolicy | None = None,
    partitions_def: Any = None,
    check_specs: Sequence[Any] | None = None,
    compute_kind: str | None = None,
    backfill_policy: Any = None,
    automation_condition: Any = None,
    freshness_policy: Any = None,
) -> Callable[[Callable[..., Any]], AssetsDefinition]: ...


def asset(
    compute_fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix = None,
    key: CoercibleToAssetKey | None = None,
    ins: Mapping[str, AssetIn] | None = None,
    deps: Iterable[Any] | None = None,
    description: str | None = None,
    group_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    code_version: str | None = None,
    tags: Mapping[str, str] | None = None,
    kinds: Iterable[str] | None = None,
    owners: Sequence[str] | None = None,
    required_resource_keys: Iterable[str] | None = None,
    io_manager_key: str | None = None,
    retry_policy: RetryPolicy | None = None,
    partitions_def: Any = None,
    check_specs: Sequence[Any] | None = None,
    compute_kind: str | None = None,
    backfill_policy: Any = None,
    automation_condition: Any = None,
    freshness_policy: Any = None,
) -> AssetsDefinition | Callable[[Callable[..., Any]], AssetsDefinition]:
    """Declare a data asset computed by the decorated function (Dagster's ``@asset``)."""

    def decorate(fn: Callable[..., Any]) -> AssetsDefinition:
        where = location_of(fn)
        if key is not None and (name is not None or key_prefix is not None):
            raise DefinitionsError(f"@asset at {where}: pass key, or name/key_prefix, not both")
        asset_key = (
            coerce_key(key)
            if key is not None
            else AssetKey([*coerce_key_prefix(key_prefix), name or fn.__name__])
        )
        label = f"asset '{asset_key.to_user_string()}' ({where})"
        try:
            signature = signature_of(fn)
        except (TypeError, ValueError) as exc:
            raise DefinitionsError(f"{label}: cannot read the function's signature: {exc}") from exc
        hints = type_hints(fn)
        special, rest = split_params(signature, hints, label)
        inputs = inputs_from_params(rest, dict(ins or {}), asset_key.path[:-1], label)
        kinds_set = frozenset(kinds or ()) | ({compute_kind} if compute_kind else frozenset())
        return AssetsDefinition(
            fn=fn,
            key=asset_key,
            inputs=inputs,
            deps=coerce_dep_keys(deps),
            special=special,
            description=description if description is not None else inspect.getdoc(fn),
            group_name=group_name or DEFAULT_GROUP,
            metadata=normalize_metadata(metadata, where=label),
            code_version=code_version,
            tags=dict(tags or {}),
            kinds=kinds_set,
            owners=tuple(owners or ()),
            required_resource_keys=frozenset(required_resource_keys or ()) | set(special.resources),
            io_manager_key=io_manager_key or DEFAULT_IO_MANAGER_KEY,
            retry_policy=retry_policy,
            partitions_def=partitions_def,
            check_specs=tuple(check_specs or ()),
            output_annotation=_output_annotation(fn, hints, signature),
            partition_mappings=partition_mappings_of(deps, inputs, ins),
            backfill_policy=backfill_policy,
            automation_condition=checked_condition(automation_condition, label),
            freshness_policy=checked_freshness_policy(freshness_policy, label),
        )

    if compute_fn is not None:
        return decorate(compute_fn)
    return decorate


def checked_condition(value: Any, where: str) -> Any:
    """``value`` if it is an AutomationCondition (or None); a clear error naming ``where``."""
    if value is None:
        return None
    from ..automation.conditions import AutomationCondition

    if not isinstance(value, AutomationCondition):
        raise DefinitionsError(
            f"{where}: automation_condition must be an AutomationCondition (such as "
            f"AutomationCondition.eager()), got {type(value).__name__}: {value!r}"
        )
    return value


def checked_freshness_policy(value: Any, where: str) -> Any:
    """``value`` if it is a FreshnessPolicy (or None); a clear error naming ``where``."""
    if value is None:
        return None
    from ..automation.freshness import FreshnessPolicy

    if not isinstance(value, FreshnessPolicy):
        raise DefinitionsError(
            f"{where}: freshness_policy must be a FreshnessPolicy (such as "
            f"FreshnessPolicy.time_window(fail_window=timedelta(hours=1))), got "
            f"{type(value).__name__}: {value!r}"
        )
    return value


def type_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """Resolved annotations; one that cannot be resolved (a TYPE_CHECKING import) stays a
    string without costing the others theirs."""
    try:
        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        pass
    hints: dict[str, Any] = {}
    namespace = getattr(inspect.unwrap(fn), "__globals__", {})
    for name, annotation in getattr(fn, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation
        except Exception:
            hints[name] = annotation
    return hints


def _output_annotation(
    fn: Callable[..., Any], hints: dict[str, Any], signature: inspect.Signature
) -> Any:
    """What the returned value must fit; a generator's annotation describes the generator,
    not the values it yields, so it is not checked (as in Dagster)."""
    if inspect.isgeneratorfunction(fn):
        return inspect.Parameter.empty
    return value_annotation(hints.get("return", signature.return_annotation))


def returns_none(annotation: Any) -> bool:
    """True for ``-> None``: such an asset has no value to store."""
    return annotation is None or annotation is type(None) or annotation == "None"


@dataclass(frozen=True, slots=True)
class SpecialParams:
    """The parameters that are not upstream assets: the context, resources, the config."""

    context: str | None = None
    resources: tuple[str, ...] = ()  # each parameter's name is its resource key
    config: tuple[str, type] | None = None  # (parameter, Config subclass)


def _annotated_as(module: str, predicate: str, annotation: Any) -> bool:
    """Ask a module only if it is loaded: a ConfigurableResource or Config annotation means
    the user imported it, so ``import millrace`` never pays for pydantic."""
    loaded = sys.modules.get(module)
    return loaded is not None and getattr(loaded, predicate)(annotation)


def split_params(
    signature: inspect.Signature, hints: dict[str, Any], label: str
) -> tuple[SpecialParams, list[tuple[inspect.Parameter, Any]]]:
    """The special parameters, and the rest (with resolved annotations) in order."""
    context, resources, config = None, [], None
    rest: list[tuple[inspect.Parameter, Any]] = []
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise DefinitionsError(
                f"{label}: *args and **kwargs are not supported; name each upstream asset"
            )
        annotation = hints.get(param.name, param.annotation)
        if _is_context_param(param):
            context = param.name
        elif _annotated_as(_RESOURCES, "is_resource_annotation", annotation):
            resources.append(param.name)
        elif _annotated_as(_CONFIG, "is_config_annotation", annotation):
            if config is not None:
                raise DefinitionsError(f"{label}: only one parameter can take a Config")
            config = (param.name, annotation)
        else:
            rest.append((param, annotation))
    return SpecialParams(context, tuple(resources), config), rest


_RESOURCES = "millrace.declarations.resources"
_CONFIG = "millrace.declarations.config"


def inputs_from_params(
    params: list[tuple[inspect.Parameter, Any]],
    ins: dict[str, AssetIn],
    key_prefix: tuple[str, ...],
    label: str,
) -> tuple[InputSpec, ...]:
    inputs: list[InputSpec] = []
    for param, annotation in params:
        asset_in = ins.pop(param.name, None)
        if asset_in is None:
            inputs.append(
                InputSpec(param.name, AssetKey([*key_prefix, param.name]), annotation, {})
            )
            continue
        inputs.append(
            InputSpec(
                param.name,
                asset_in.resolve(param.name),
                annotation,
                asset_in.metadata or {},
                asset_in.input_manager_key,
                asset_in.dagster_type,
            )
        )
    if ins:
        raise DefinitionsError(
            f"{label}: ins names {sorted(ins)} but the function has no such parameter"
        )
    return tuple(inputs)
