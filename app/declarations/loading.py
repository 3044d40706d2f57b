"""Dagster's module loaders over modules already imported: ``load_assets_from_modules`` and its
package and current-module forms, ``load_asset_checks_from_modules`` and
``load_definitions_from_module(s)``.

A module's definitions are its attributes (and lists of them), collected once per object:
an asset imported into three modules is one asset. Two different objects with one asset key,
or one schedule, sensor or job name, are an error naming both.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
from collections.abc import Iterable, Iterator, Mapping
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
from .asset_copies import (
    AssetLike,
    describe,
    each_check,
    each_output,
    rekeyed,
    rekeyed_check,
    replaced_asset,
    replaced_spec,
)
from .backfill_policy import BackfillPolicy
from .checks import AssetChecksDefinition
from .definitions import Definitions
from .job import JobDefinition, UnresolvedAssetJobDefinition
from .keys import AssetKey, CoercibleToAssetKeyPrefix, coerce_key_prefix
from .source_asset import SourceAsset

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
        for item in self.of_type(AssetsDefinition, AssetSpec):
            for obj in item.asset_nodes if isinstance(item, AssetsDefinition) else (item,):
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
    """Dagster's rule: each attribute that is a definition, and each list of nothing else; in
    the order the module defines them (Dagster's ``dir`` sorts by name), which the graph and
    its drawing keep."""
    for value in list(vars(module).values()):
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
        each_output(
            a,
            lambda o: _with_attributes(o, group_name, condition, backfill_policy, freshness, where),
        )
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
    keys = [n.key for a in found.of_type(AssetsDefinition) for n in a.asset_nodes]
    keys += [c.asset_key for ch in found.of_type(AssetChecksDefinition) for c in ch.check_nodes]
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
            f"{describe(item)} has group name '{item.group_name}', which conflicts with the "
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
    return [each_check(c, lambda one: rekeyed_check(one, replacements)) for c in checks]


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


def _check_instance(value: Any, cls: type, name: str, where: str) -> None:
    if value is not None and not isinstance(value, cls):
        raise DefinitionsError(
            f"{where}: {name} must be a {cls.__name__}, got {type(value).__name__}: {value!r}"
        )
