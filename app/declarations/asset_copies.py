"""Copies of declared assets with attributes changed or keys replaced, and
``map_asset_specs`` / ``with_source_code_references`` over lists of them.

These stand in for Dagster's ``AssetSpec.replace_attributes`` and
``AssetsDefinition.with_attributes`` / ``map_asset_specs``, which our classes do not have:
they are built over the classes' public constructor fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..errors import DefinitionsError
from .asset import AssetsDefinition, AssetSpec
from .checks import AssetCheckKey, AssetChecksDefinition, AssetCheckSpec
from .keys import AssetKey
from .metadata import normalize_metadata
from .multi_asset import MultiAssetsDefinition
from .multi_check import MultiAssetChecksDefinition
from .source_asset import SourceAsset

AssetLike = AssetsDefinition | AssetSpec


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
            mapped.append(each_output(item, lambda asset: _mapped_asset(func, asset)))
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
            f"{describe(item)}; it must return an AssetSpec"
        )
    if result.key != spec.key:
        raise DefinitionsError(
            f"map_asset_specs: asset key '{spec.key.to_user_string()}' was changed to "
            f"'{result.key.to_user_string()}' ({describe(item)}); the function must not change "
            "keys"
        )
    return result


def _mapped_asset(
    func: Callable[[AssetSpec], AssetSpec], asset: AssetsDefinition
) -> AssetsDefinition:
    (spec,) = asset.specs
    result = _mapped(func, spec, asset)
    label = describe(asset)
    read = {i.key for i in asset.inputs}
    dropped = sorted(k.to_user_string() for k in read - set(result.deps))
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
        "skippable": spec.skippable,
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
        "multi": asset.multi,
        "output_name": asset.output_name,
        "skippable": asset.skippable,
        "upstream_keys": asset.upstream_keys if asset.multi is not None else None,
    }
    copy = AssetsDefinition(**{**fields, **changes})
    copy.composed_of = asset.composed_of
    return copy


def each_output(item: AssetLike, change: Callable[[Any], AssetLike]) -> AssetLike:
    """``change(item)``; of a multi-asset, a copy whose outputs are ``change(output)``."""
    if not isinstance(item, MultiAssetsDefinition):
        return change(item)
    copy = MultiAssetsDefinition(item.fn, item.op_name, item.can_subset)
    outputs = []
    for output in item.outputs:
        changed = change(output)
        assert isinstance(changed, AssetsDefinition)  # an output stays an asset
        outputs.append(replaced_asset(changed, multi=copy))
    copy.outputs = tuple(outputs)
    return copy


def each_check(
    item: AssetChecksDefinition, change: Callable[[AssetChecksDefinition], AssetChecksDefinition]
) -> AssetChecksDefinition:
    """``change(item)``; of a multi-asset check, a copy whose checks are ``change(check)``."""
    if not isinstance(item, MultiAssetChecksDefinition):
        return change(item)
    copy = MultiAssetChecksDefinition(item.fn, item.op_name, item.can_subset)
    checks = [change(check) for check in item.checks]
    for check in checks:
        check.multi = copy  # each a fresh copy, made by ``change``
    copy.checks = tuple(checks)
    copy.specs = tuple(
        _rekeyed_check_spec(spec, {old.asset_key: new.asset_key})
        for spec, old, new in zip(item.specs, item.checks, checks, strict=True)
    )
    return copy


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
            result.append(each_output(item, lambda asset: _rekeyed_asset(asset, replacements)))
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
        upstream_keys=tuple(new(k) for k in asset.upstream_keys) if asset.multi else None,
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
        multi=check.multi,
    )


def describe(item: Any) -> str:
    """``asset 'key' (file:line)``, ``asset spec 'key' (file:line)``: for error messages."""
    kind = "asset spec" if isinstance(item, AssetSpec) else "asset"
    source = getattr(item, "source", None)
    return f"{kind} '{item.key.to_user_string()}'" + (f" ({source})" if source else "")


def with_attributes(
    item: AssetsDefinition,
    *,
    asset_key_replacements: Mapping[AssetKey, AssetKey],
    group_names_by_key: Mapping[AssetKey, str],
    tags_by_key: Mapping[AssetKey, Mapping[str, str]],
    metadata_by_key: Mapping[AssetKey, Mapping[str, Any]],
    automation_condition: Any,
    backfill_policy: Any,
    freshness_policy: Any,
) -> AssetsDefinition:
    """``AssetsDefinition.with_attributes``: attributes changed per (old) key, then keys."""
    own = {n.key for n in item.asset_nodes}
    for what, by_key in (
        ("group_names_by_key", group_names_by_key),
        ("tags_by_key", tags_by_key),
        ("metadata_by_key", metadata_by_key),
    ):
        stray = sorted(k.to_user_string() for k in set(by_key) - own)
        if stray:
            raise DefinitionsError(
                f"with_attributes({what}=...) names {', '.join(stray)}, which {describe(item)} "
                "does not define"
            )

    def change(asset: AssetsDefinition) -> AssetsDefinition:
        changes: dict[str, Any] = {}
        if asset.key in group_names_by_key:
            changes["group_name"] = group_names_by_key[asset.key]
        if asset.key in tags_by_key:
            changes["tags"] = {**asset.tags, **tags_by_key[asset.key]}
        if asset.key in metadata_by_key:
            added = normalize_metadata(metadata_by_key[asset.key], where=describe(asset))
            changes["metadata"] = {**asset.metadata, **added}
        for name, value in (
            ("automation_condition", automation_condition),
            ("backfill_policy", backfill_policy),
            ("freshness_policy", freshness_policy),
        ):
            if value is not None:
                changes[name] = value
        return replaced_asset(asset, **changes) if changes else asset

    (result,) = rekeyed([each_output(item, change)], asset_key_replacements)
    assert isinstance(result, AssetsDefinition)
    return result
