"""Dagster's module loaders over modules already imported: ``load_assets_from_modules`` and its
package and current-module forms, ``load_asset_checks_from_modules``,
``load_definitions_from_module(s)``, plus ``map_asset_specs`` and
``with_source_code_references``.

A module's definitions are its attributes (and lists of them), collected once per object:
an asset imported into three modules is one asset. Two different objects with one asset key,
or one schedule, sensor or job name, are an error naming both.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

from ..automation.condition_sensor import AutomationConditionSensorDefinition
from ..automation.schedules import ScheduleDefinition, UnresolvedPartitionedAssetScheduleDefinition
from ..automation.sensors import SensorDefinition
from ..errors import DefinitionsError
from .asset import (
    DEFAULT_GROUP,
    AssetsDefinition,
    AssetSpec,
    checked_condition,
    checked_freshness_policy,
)
from .backfill_policy import BackfillPolicy
from .checks import AssetCheckKey, AssetChecksDefinition, AssetCheckSpec
from .definitions import Definitions
from .job import JobDefinition, UnresolvedAssetJobDefinition
from .keys import AssetKey, CoercibleToAssetKeyPrefix, coerce_key_prefix
from .source_asset import SourceAsset

AssetLike = AssetsDefinition | AssetSpec
_SCHEDULES = (ScheduleDefinition, UnresolvedPartitionedAssetScheduleDefinition)
_SENSORS = (SensorDefinition, AutomationConditionSensorDefinition)
_JOBS = (JobDefinition, UnresolvedAssetJobDefinition)
_LOADABLE = (AssetsDefinition, AssetSpec, AssetChecksDefinition, *_SCHEDULES, *_SENSORS, *_JOBS)

# -- what modules define ---------------------------------------------------------------------


class ModuleObjects:
    """Every definition the modules hold, once each, in the order found; a second object under
    an asset key, or a schedule, sensor or job name, already taken is an error."""

    def __init__(self, modules: Iterable[ModuleType], types: tuple[type, ...] = _LOADABLE) -> None:
        self.objects: list[Any] = []
        self._module_of: dict[int, str] = {}
        specs: dict[AssetKey, AssetSpec] = {}
        for module in modules:
            for value in _objects_in(module, types):
                if id(value) in self._module_of:
                    continue
                if isinstance(value, AssetSpec):
                    first = specs.setdefault(value.key, value)
                    if first is not value and _same_spec(first, value):
                        continue  # Dagster compares specs by value: an equal one is the same
                self._module_of[id(value)] = module.__name__
                self.objects.append(value)
        self._refuse_collisions()

    def of_type(self, *types: type) -> list[Any]:
        return [o for o in self.objects if isinstance(o, types)]

    def definitions_args(self) -> dict[str, Any]:
        """The keyword arguments of a Definitions of everything found."""
        return {
            "assets": self.of_type(AssetsDefinition, AssetSpec),
            "asset_checks": self.of_type(AssetChecksDefinition),
            "schedules": self.of_type(*_SCHEDULES),
            "sensors": self.of_type(*_SENSORS),
            "jobs": self.of_type(*_JOBS),
        }

    def _refuse_collisions(self) -> None:
        assets: dict[AssetKey, list[Any]] = {}
        for obj in self.of_type(AssetsDefinition, AssetSpec):
            assets.setdefault(obj.key, []).append(obj)
        for key, found in assets.items():
            defined = [o for o in found if isinstance(o, AssetsDefinition)]
            specs = [o for o in found if isinstance(o, AssetSpec)]
            # Dagster's rule: a spec beside the asset of its key is no conflict; two assets,
            # or two different specs, are.
            if len(defined) > 1 or (not defined and len(specs) > 1):
                self._collision(f"Asset key '{key.to_user_string()}'", defined or specs)
        for kind, types in (("Schedule", _SCHEDULES), ("Sensor", _SENSORS), ("Job", _JOBS)):
            named: dict[str, list[Any]] = {}
            for obj in self.of_type(*types):
                named.setdefault(obj.name, []).append(obj)
            for name, found in named.items():
                if len(found) > 1:
                    self._collision(f"{kind} name '{name}'", found)

    def _collision(self, what: str, found: list[Any]) -> None:
        sources = {getattr(o, "source", None) for o in found}
        if len(sources) == 1 and None not in sources:
            raise DefinitionsError(
                f"{what} is defined multiple times by the same code, at {found[0].source}: is "
                "its module imported under two names, or does a factory there make it twice?"
            )
        where = "; ".join(
            f"{self._module_of[id(o)]}" + (f" ({o.source})" if getattr(o, "source", None) else "")
            for o in found
        )
        raise DefinitionsError(f"{what} is defined multiple times. Definitions found in: {where}")


def _objects_in(module: ModuleType, types: tuple[type, ...]) -> Iterator[Any]:
    """Dagster's rule: each attribute that is a definition, and each list of nothing else."""
    for name in dir(module):
        value = getattr(module, name)
        if isinstance(value, types):
            yield value
        elif isinstance(value, list) and all(isinstance(v, types) for v in value):
            yield from value


def _same_spec(a: AssetSpec, b: AssetSpec) -> bool:
    """Specs equal in everything but where they were written (Dagster compares them by value;
    a SourceAsset, which may hold a function, only to itself)."""
    if type(a) is not AssetSpec or type(b) is not AssetSpec:
        return a is b
    fields = [f.name for f in dataclasses.fields(AssetSpec) if f.name != "source"]
    return all(getattr(a, f) == getattr(b, f) for f in fields)


def modules_in_package(package_module: ModuleType) -> list[ModuleType]:
    """The package and every module below it, imported (Dagster's ``find_modules_in_package``)."""
    path = getattr(package_module, "__path__", None)
    if path is None:
        raise DefinitionsError(
            f"{package_module.__name__} is a module, not a package: pass it to "
            "load_assets_from_modules([...]) instead"
        )
    modules = [package_module]
    for info in pkgutil.walk_packages(path, prefix=package_module.__name__ + "."):
        modules.append(importlib.import_module(info.name))
    return modules


def _caller_module(depth: int) -> ModuleType:
    """The module of the frame ``depth`` calls up (1: this function's caller)."""
    frame = inspect.currentframe()
    for _ in range(depth):
        frame = frame.f_back if frame is not None else None
    module = inspect.getmodule(frame) if frame is not None else None
    if module is None:
        raise DefinitionsError("Could not find the module this function was called from")
    return module


# -- assets ----------------------------------------------------------------------------------


def load_assets_from_modules(
    modules: Iterable[ModuleType],
    group_name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix | None = None,
    *,
    freshness_policy: Any = None,
    automation_condition: Any = None,
    backfill_policy: BackfillPolicy | None = None,
    source_key_prefix: CoercibleToAssetKeyPrefix | None = None,
    include_specs: bool = False,
) -> list[AssetLike]:
    """The assets and SourceAssets the modules define (AssetSpecs too with ``include_specs``),
    as copies with ``key_prefix`` on every loaded asset key (and on the references between
    them), ``source_key_prefix`` on the source assets' and specs' keys (and on references to
    them), and ``group_name``, ``automation_condition``, ``backfill_policy`` and
    ``freshness_policy`` set on each."""
    # Dagster's loader types: checks count for the keys key_prefix moves, specs only if asked
    spec_type = AssetSpec if include_specs else SourceAsset
    types = (AssetsDefinition, AssetChecksDefinition, spec_type)
    found = ModuleObjects(modules, types)
    loaded: list[AssetLike] = found.of_type(AssetsDefinition, AssetSpec)
    where = "load_assets_from_modules"
    _check_instance(backfill_policy, BackfillPolicy, "backfill_policy", where)
    condition = checked_condition(automation_condition, where)
    freshness = checked_freshness_policy(freshness_policy, where)
    if key_prefix:
        loaded = rekeyed(loaded, _prefixed(_loaded_keys(found), key_prefix))
    if source_key_prefix:
        specs = [a.key for a in loaded if isinstance(a, AssetSpec)]
        loaded = rekeyed(loaded, _prefixed(specs, source_key_prefix), specs_too=True)
    return [
        _with_attributes(a, group_name, condition, backfill_policy, freshness, where)
        for a in loaded
    ]


def load_assets_from_current_module(
    group_name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix | None = None,
    *,
    freshness_policy: Any = None,
    automation_condition: Any = None,
    backfill_policy: BackfillPolicy | None = None,
    source_key_prefix: CoercibleToAssetKeyPrefix | None = None,
    include_specs: bool = False,
) -> list[AssetLike]:
    """``load_assets_from_modules`` over the module that calls it."""
    return load_assets_from_modules(
        [_caller_module(2)],
        group_name,
        key_prefix,
        freshness_policy=freshness_policy,
        automation_condition=automation_condition,
        backfill_policy=backfill_policy,
        source_key_prefix=source_key_prefix,
        include_specs=include_specs,
    )


def load_assets_from_package_module(
    package_module: ModuleType,
    group_name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix | None = None,
    *,
    freshness_policy: Any = None,
    automation_condition: Any = None,
    backfill_policy: BackfillPolicy | None = None,
    source_key_prefix: CoercibleToAssetKeyPrefix | None = None,
    include_specs: bool = False,
) -> list[AssetLike]:
    """``load_assets_from_modules`` over the package and every module below it (imported)."""
    return load_assets_from_modules(
        modules_in_package(package_module),
        group_name,
        key_prefix,
        freshness_policy=freshness_policy,
        automation_condition=automation_condition,
        backfill_policy=backfill_policy,
        source_key_prefix=source_key_prefix,
        include_specs=include_specs,
    )


def load_assets_from_package_name(
    package_name: str,
    group_name: str | None = None,
    key_prefix: CoercibleToAssetKeyPrefix | None = None,
    *,
    freshness_policy: Any = None,
    automation_condition: Any = None,
    backfill_policy: BackfillPolicy | None = None,
    source_key_prefix: CoercibleToAssetKeyPrefix | None = None,
    include_specs: bool = False,
) -> list[AssetLike]:
    """``load_assets_from_package_module`` of the package imported by name."""
    return load_assets_from_package_module(
        importlib.import_module(package_name),
        group_name,
        key_prefix,
        freshness_policy=freshness_policy,
        automation_condition=automation_condition,
        backfill_policy=backfill_policy,
        source_key_prefix=source_key_prefix,
        include_specs=include_specs,
    )


def _loaded_keys(found: ModuleObjects) -> list[AssetKey]:
    """The keys ``key_prefix`` moves: the assets' and those the checks target (as Dagster's
    loaders, so assets and checks loaded with one prefix still meet)."""
    keys = [a.key for a in found.of_type(AssetsDefinition)]
    keys += [c.asset_key for c in found.of_type(AssetChecksDefinition)]
    return keys


def _prefixed(
    keys: Iterable[AssetKey], prefix: CoercibleToAssetKeyPrefix
) -> dict[AssetKey, AssetKey]:
    parts = coerce_key_prefix(prefix)
    return {key: AssetKey([*parts, *key.path]) for key in keys}


def _with_attributes(
    item: AssetLike,
    group_name: str | None,
    condition: Any,
    backfill_policy: BackfillPolicy | None,
    freshness: Any,
    where: str,
) -> AssetLike:
    if group_name is not None and item.group_name not in (DEFAULT_GROUP, group_name):
        raise DefinitionsError(
            f"{_describe(item)} has group name '{item.group_name}', which conflicts with the "
            f"group name '{group_name}' given to {where}"
        )
    changes: dict[str, Any] = {}
    if group_name is not None:
        changes["group_name"] = group_name
    if condition is not None:
        changes["automation_condition"] = condition
    if isinstance(item, AssetSpec):
        return replaced_spec(item, **changes) if changes else item
    if backfill_policy is not None:
        changes["backfill_policy"] = backfill_policy
    if freshness is not None:
        changes["freshness_policy"] = freshness
    return replaced_asset(item, **changes) if changes else item


# -- asset checks ----------------------------------------------------------------------------


def load_asset_checks_from_modules(
    modules: Iterable[ModuleType],
    asset_key_prefix: CoercibleToAssetKeyPrefix | None = None,
) -> list[AssetChecksDefinition]:
    """The asset checks the modules define; with ``asset_key_prefix`` (the ``key_prefix``
    their assets were loaded with), re-keyed onto the prefixed assets."""
    found = ModuleObjects(modules)
    checks: list[AssetChecksDefinition] = found.of_type(AssetChecksDefinition)
    if not asset_key_prefix:
        return checks
    replacements = _prefixed(_loaded_keys(found), asset_key_prefix)
    return [rekeyed_check(c, replacements) for c in checks]


def load_asset_checks_from_current_module(
    asset_key_prefix: CoercibleToAssetKeyPrefix | None = None,
) -> list[AssetChecksDefinition]:
    """``load_asset_checks_from_modules`` over the module that calls it."""
    return load_asset_checks_from_modules([_caller_module(2)], asset_key_prefix)


def load_asset_checks_from_package_module(
    package_module: ModuleType, asset_key_prefix: CoercibleToAssetKeyPrefix | None = None
) -> list[AssetChecksDefinition]:
    """``load_asset_checks_from_modules`` over the package and every module below it."""
    return load_asset_checks_from_modules(modules_in_package(package_module), asset_key_prefix)


def load_asset_checks_from_package_name(
    package_name: str, asset_key_prefix: CoercibleToAssetKeyPrefix | None = None
) -> list[AssetChecksDefinition]:
    """``load_asset_checks_from_package_module`` of the package imported by name."""
    return load_asset_checks_from_package_module(
        importlib.import_module(package_name), asset_key_prefix
    )


# -- whole Definitions -----------------------------------------------------------------------


def load_definitions_from_modules(
    modules: Iterable[ModuleType],
    resources: Mapping[str, Any] | None = None,
    loggers: Mapping[str, Any] | None = None,
    executor: Any = None,
) -> Definitions:
    """A Definitions of every asset, spec, check, schedule, sensor and job the modules define,
    with ``resources``, ``loggers`` and ``executor``."""
    return Definitions(
        **ModuleObjects(modules).definitions_args(),
        resources=resources,
        loggers=loggers,
        executor=executor,
    )


def load_definitions_from_module(
    module: ModuleType,
    resources: Mapping[str, Any] | None = None,
    loggers: Mapping[str, Any] | None = None,
    executor: Any = None,
) -> Definitions:
    """``load_definitions_from_modules`` of one module."""
    return load_definitions_from_modules([module], resources, loggers, executor)


def load_definitions_from_current_module(
    resources: Mapping[str, Any] | None = None,
    loggers: Mapping[str, Any] | None = None,
    executor: Any = None,
) -> Definitions:
    """``load_definitions_from_modules`` of the module that calls it."""
    return load_definitions_from_modules([_caller_module(2)], resources, loggers, executor)


def load_definitions_from_package_module(
    package_module: ModuleType,
    resources: Mapping[str, Any] | None = None,
    loggers: Mapping[str, Any] | None = None,
    executor: Any = None,
) -> Definitions:
    """``load_definitions_from_modules`` of the package and every module below it."""
    return load_definitions_from_modules(
        modules_in_package(package_module), resources, loggers, executor
    )


def load_definitions_from_package_name(
    package_name: str,
    resources: Mapping[str, Any] | None = None,
    loggers: Mapping[str, Any] | None = None,
    executor: Any = None,
) -> Definitions:
    """``load_definitions_from_package_module`` of the package imported by name."""
    return load_definitions_from_package_module(
        importlib.import_module(package_name), resources, loggers, executor
    )


# -- mapping specs ---------------------------------------------------------------------------


def map_asset_specs(
    func: Callable[[AssetSpec], AssetSpec], iterable: Iterable[AssetLike]
) -> list[AssetLike]:
    """Each AssetSpec replaced by ``func(spec)``, each AssetsDefinition rebuilt from
    ``func`` of its spec. ``func`` must keep an asset's key; of a computed asset it may add
    or drop order-only deps and change its metadata, tags, group and the like, but not drop
    an upstream its function reads, nor change its partitions."""
    mapped: list[AssetLike] = []
    for item in iterable:
        if isinstance(item, AssetSpec):
            mapped.append(_mapped(func, item, item))
        elif isinstance(item, AssetsDefinition):
            mapped.append(_mapped_asset(func, item))
        else:
            raise DefinitionsError(
                f"map_asset_specs: got {item!r}; expected AssetSpecs or AssetsDefinitions"
            )
    return mapped


def _mapped(func: Callable[[AssetSpec], AssetSpec], spec: AssetSpec, item: AssetLike) -> AssetSpec:
    result = func(spec)
    if not isinstance(result, AssetSpec):
        raise DefinitionsError(
            f"map_asset_specs: the function returned {type(result).__name__} for "
            f"{_describe(item)}; it must return an AssetSpec"
        )
    if result.key != spec.key:
        raise DefinitionsError(
            f"map_asset_specs: asset key '{spec.key.to_user_string()}' was changed to "
            f"'{result.key.to_user_string()}' ({_describe(item)}); the function must not change "
            "keys"
        )
    return result


def _mapped_asset(
    func: Callable[[AssetSpec], AssetSpec], asset: AssetsDefinition
) -> AssetsDefinition:
    spec = spec_of(asset)
    result = _mapped(func, spec, asset)
    label = _describe(asset)
    read = {i.key: i.param for i in asset.inputs}
    dropped = sorted(k.to_user_string() for k in read.keys() - set(result.deps))
    if dropped:
        raise DefinitionsError(
            f"map_asset_specs: {label} reads {', '.join(dropped)} through its parameters; the "
            "function must not drop those deps"
        )
    if result.partitions_def is not spec.partitions_def:
        raise DefinitionsError(
            f"map_asset_specs: {label}: the function changed partitions_def; declare it on "
            "the @asset instead"
        )
    return replaced_asset(
        asset,
        deps=tuple(k for k in result.deps if k not in read),
        description=result.description,
        metadata=result.metadata,
        group_name=result.group_name,
        code_version=result.code_version,
        owners=result.owners,
        tags=result.tags,
        kinds=result.kinds,
        io_manager_key=result.io_manager_key,
        automation_condition=result.automation_condition,
        freshness_policy=result.freshness_policy,
    )


def with_source_code_references(assets_defs: Sequence[AssetLike]) -> list[AssetLike]:
    """Dagster attaches each asset's file and line as metadata; every asset here records its
    source already (``.source``, shown by the catalog and in errors), so this returns them
    as they are."""
    for item in assets_defs:
        if not isinstance(item, AssetsDefinition | AssetSpec):
            raise DefinitionsError(
                f"with_source_code_references: got {item!r}; expected AssetsDefinitions or "
                "AssetSpecs"
            )
    return list(assets_defs)


# -- copies with changes ---------------------------------------------------------------------
# Built over the public constructor fields: AssetsDefinition and AssetSpec have no copy API.


def spec_of(asset: AssetsDefinition) -> AssetSpec:
    """The AssetSpec of a computed asset: what ``map_asset_specs`` hands its function."""
    spec = AssetSpec(
        asset.key,
        deps=asset.upstream_keys,
        description=asset.description,
        metadata=asset.metadata,
        group_name=asset.group_name,
        code_version=asset.code_version,
        owners=asset.owners,
        tags=asset.tags,
        kinds=asset.kinds,
        partitions_def=asset.partitions_def,
        io_manager_key=asset.io_manager_key,
        automation_condition=asset.automation_condition,
        freshness_policy=asset.freshness_policy,
    )
    object.__setattr__(spec, "source", asset.source)  # where the asset is, not this line
    return spec


def replaced_spec(spec: AssetSpec, **changes: Any) -> AssetSpec:
    """A copy of ``spec`` with ``changes`` (constructor fields), keeping where it was written."""
    if isinstance(spec, SourceAsset):
        return _replaced_source_asset(spec, changes)
    fields = {
        "key": spec.key,
        "deps": spec.deps,
        "description": spec.description,
        "metadata": spec.metadata,
        "group_name": spec.group_name,
        "code_version": spec.code_version,
        "owners": spec.owners,
        "tags": spec.tags,
        "kinds": spec.kinds,
        "partitions_def": spec.partitions_def,
        "io_manager_key": spec.io_manager_key,
        "automation_condition": spec.automation_condition,
        "freshness_policy": spec.freshness_policy,
    }
    copy = AssetSpec(**{**fields, **changes})
    object.__setattr__(copy, "source", spec.source)
    return copy


def _replaced_source_asset(asset: SourceAsset, changes: dict[str, Any]) -> SourceAsset:
    """A SourceAsset has no deps and no code version: a change to those is refused."""
    refused = sorted(
        name
        for name in ("deps", "code_version")
        if name in changes and changes[name] != getattr(asset, name)
    )
    if refused:
        raise DefinitionsError(
            f"source asset '{asset.key.to_user_string()}' ({asset.source}): a SourceAsset has "
            f"no {' or '.join(refused)}; use an AssetSpec for that"
        )
    fields = {
        "key": asset.key,
        "metadata": asset.metadata,
        "io_manager_key": asset.io_manager_key,
        "description": asset.description,
        "partitions_def": asset.partitions_def,
        "group_name": asset.group_name,
        "observe_fn": asset.observe_fn,
        "op_tags": asset.op_tags,
        "freshness_policy": asset.freshness_policy,
        "automation_condition": asset.automation_condition,
        "tags": asset.tags,
        "owners": asset.owners,
        "kinds": asset.kinds,
        "required_resource_keys": asset.required_resource_keys
        - set(asset.observe_params.resources),
    }
    changes = {k: v for k, v in changes.items() if k not in ("deps", "code_version")}
    return SourceAsset(**{**fields, **changes}, _source=asset.source)


def replaced_asset(asset: AssetsDefinition, **changes: Any) -> AssetsDefinition:
    """A copy of ``asset`` with ``changes`` (constructor fields); the function is shared."""
    fields: dict[str, Any] = {
        "fn": asset.fn,
        "key": asset.key,
        "inputs": asset.inputs,
        "deps": asset.deps,
        "special": asset.special,
        "description": asset.description,
        "group_name": asset.group_name,
        "metadata": asset.metadata,
        "code_version": asset.code_version,
        "tags": asset.tags,
        "kinds": asset.kinds,
        "owners": asset.owners,
        "required_resource_keys": asset.required_resource_keys,
        "io_manager_key": asset.io_manager_key,
        "retry_policy": asset.retry_policy,
        "partitions_def": asset.partitions_def,
        "check_specs": asset.check_specs,
        "output_annotation": asset.output_annotation,
        "partition_mappings": asset.partition_mappings,
        "backfill_policy": asset.backfill_policy,
        "automation_condition": asset.automation_condition,
        "freshness_policy": asset.freshness_policy,
    }
    return AssetsDefinition(**{**fields, **changes})


def rekeyed(
    items: Iterable[AssetLike],
    replacements: Mapping[AssetKey, AssetKey],
    *,
    specs_too: bool = False,
) -> list[AssetLike]:
    """The assets with the keys in ``replacements`` replaced, in their own keys and in the
    upstream keys they name; specs keep their own keys unless ``specs_too``."""
    result: list[AssetLike] = []
    for item in items:
        if isinstance(item, AssetSpec):
            key = replacements.get(item.key, item.key) if specs_too else item.key
            deps = tuple(replacements.get(k, k) for k in item.deps)
            changed = key != item.key or deps != item.deps
            result.append(replaced_spec(item, key=key, deps=deps) if changed else item)
        else:
            result.append(_rekeyed_asset(item, replacements))
    return result


def _rekeyed_asset(
    asset: AssetsDefinition, replacements: Mapping[AssetKey, AssetKey]
) -> AssetsDefinition:
    def new(key: AssetKey) -> AssetKey:
        return replacements.get(key, key)

    return replaced_asset(
        asset,
        key=new(asset.key),
        inputs=tuple(dataclasses.replace(i, key=new(i.key)) for i in asset.inputs),
        deps=tuple(new(k) for k in asset.deps),
        partition_mappings={new(k): m for k, m in asset.partition_mappings.items()},
        check_specs=tuple(_rekeyed_check_spec(s, replacements) for s in asset.check_specs),
    )


def _rekeyed_check_spec(
    spec: AssetCheckSpec, replacements: Mapping[AssetKey, AssetKey]
) -> AssetCheckSpec:
    return AssetCheckSpec(
        spec.name,
        asset=replacements.get(spec.asset_key, spec.asset_key),
        description=spec.description,
        additional_deps=[replacements.get(k, k) for k in spec.additional_deps],
        blocking=spec.blocking,
        metadata=spec.metadata,
        partitions_def=spec.partitions_def,
        automation_condition=spec.automation_condition,
    )


def rekeyed_check(
    check: AssetChecksDefinition, replacements: Mapping[AssetKey, AssetKey]
) -> AssetChecksDefinition:
    """``check`` on the replaced key of its asset, reading the replaced keys of its inputs."""

    def new(key: AssetKey) -> AssetKey:
        return replacements.get(key, key)

    return AssetChecksDefinition(
        fn=check.fn,
        key=AssetCheckKey(new(check.asset_key), check.name),
        inputs=tuple(dataclasses.replace(i, key=new(i.key)) for i in check.inputs),
        deps=tuple(new(k) for k in check.deps),
        special=check.special,
        description=check.description,
        blocking=check.blocking,
        required_resource_keys=check.required_resource_keys,
        metadata=check.metadata,
        partitions_def=check.partitions_def,
        automation_condition=check.automation_condition,
    )


def _check_instance(value: Any, cls: type, name: str, where: str) -> None:
    if value is not None and not isinstance(value, cls):
        raise DefinitionsError(
            f"{where}: {name} must be a {cls.__name__}, got {type(value).__name__}: {value!r}"
        )


def _describe(item: Any) -> str:
    kind = "asset spec" if isinstance(item, AssetSpec) else "asset"
    source = getattr(item, "source", None)
    return f"{kind} '{item.key.to_user_string()}'" + (f" ({source})" if source else "")
