"""How one call of a ``@multi_asset`` function splits into its outputs' results.

Each selected output gets the items meant for it (a value, an ``Output``, a
``MaterializeResult``, its check results), which its own step then stores like an
``@asset``'s return. A required output the call did not produce is an error; an optional
one (``is_required=False``, ``skippable=True``) is simply not materialized.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..declarations.checks import AssetCheckResult
from ..declarations.keys import AssetKey
from ..declarations.metadata import MetadataValue
from ..declarations.outputs import MaterializeResult, Output
from ..errors import MillraceError
from .context import AssetExecutionContext
from .plan import Step


class Yielded(list[Any]):
    """What a generator asset yielded, told apart from an asset that returns a list."""


class AddedMetadata(dict[str, MetadataValue]):
    """``context.add_output_metadata(..., output_name=...)`` for another output than the
    step's own, carried to that output's step."""


def split_outputs(
    step: Step, result: Any, context: AssetExecutionContext
) -> dict[AssetKey, Yielded]:
    """Per selected output that the call produced, what it produced for it."""
    multi = step.asset.multi
    outputs = multi.outputs
    label = f"multi_asset '{multi.name}' ({multi.source})"
    items: dict[AssetKey, Yielded] = {key: Yielded() for key in step.group}
    made: set[AssetKey] = set()
    by_name = {o.output_name: o.key for o in outputs}
    checks = {spec.name: spec.asset_key for spec in multi.check_specs}

    def route(key: AssetKey, item: Any) -> None:
        if key not in items:
            context.log.warning(
                f"{label} produced {type(item).__name__} for '{key.to_user_string()}', "
                "which this run did not select: discarded (see context.selected_asset_keys)"
            )
            return
        items[key].append(item)
        if not isinstance(item, AssetCheckResult):
            made.add(key)

    if isinstance(result, Yielded):
        for item in result:
            route(_key_of(item, outputs, by_name, checks, label, generator=True), item)
    elif result is None and not (len(outputs) == 1 and not outputs[0].skippable):
        made.update(items)  # outputs without values (specs): the call materialized them all
    elif isinstance(result, tuple) and len(outputs) > 1:
        if len(result) != len(outputs):
            raise MillraceError(
                f"{label} returned a tuple of {len(result)} values for its "
                f"{len(outputs)} outputs ({', '.join(by_name)}); return one per output, in "
                "that order, or yield Output(value, output_name=...) for each"
            )
        for output, item in zip(outputs, result, strict=True):
            route(output.key, item)
    else:
        route(_key_of(result, outputs, by_name, checks, label, generator=False), result)
    for output in outputs:
        if output.key in items and output.key not in made and not output.skippable:
            raise MillraceError(
                f"{label} did not produce its output '{output.output_name}' (asset "
                f"'{output.key.to_user_string()}'): yield Output(value, "
                f"output_name='{output.output_name}') or MaterializeResult(asset_key="
                f"'{output.key.to_user_string()}'), or declare it optional (AssetOut("
                "is_required=False), AssetSpec(skippable=True))"
            )
    added = context.metadata_by_output
    produced = {}
    for key, got in items.items():
        if key not in made:
            continue
        name = next(o.output_name for o in outputs if o.key == key)
        if key != step.key and name in added:
            got.insert(0, AddedMetadata(added[name]))
        produced[key] = got
    return produced


def _key_of(
    item: Any,
    outputs: tuple[Any, ...],
    by_name: Mapping[str, AssetKey],
    checks: Mapping[str, AssetKey],
    label: str,
    *,
    generator: bool,
) -> AssetKey:
    """The output an item is for: by its asset key or output name, or the only output."""
    only = outputs[0].key if len(outputs) == 1 else None
    if isinstance(item, Output):
        key = by_name.get(item.output_name)
        if key is None and item.output_name == "result" and only is not None:
            return only
        if key is None:
            raise MillraceError(
                f"{label} yielded Output(output_name='{item.output_name}'), which is not one "
                f"of its outputs ({', '.join(by_name)})"
            )
        return key
    if isinstance(item, MaterializeResult | AssetCheckResult):
        key = item.asset_key
        if key is None and isinstance(item, AssetCheckResult):
            key = checks.get(item.check_name or "")
        if key is None and isinstance(item, AssetCheckResult) and len(set(checks.values())) == 1:
            key = next(iter(checks.values()))
        if key is None:
            key = only
        if key is None:
            raise MillraceError(
                f"{label} has several outputs: give its {type(item).__name__} an asset_key "
                f"(one of {', '.join(k.to_user_string() for k in by_name.values())})"
            )
        if key not in by_name.values() and not isinstance(item, AssetCheckResult):
            raise MillraceError(
                f"{label} reported {type(item).__name__}(asset_key='{key.to_user_string()}'), "
                "which is not one of its outputs"
            )
        return key
    if only is not None:
        return only
    raise MillraceError(
        f"{label} {'yielded' if generator else 'returned'} a {type(item).__name__}: with "
        f"several outputs, {'yield' if generator else 'return'} Output(value, output_name=...) "
        "or MaterializeResult(asset_key=...) for each, or return a tuple in output order"
    )
