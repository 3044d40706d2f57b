"""Runtime type validation: does a value fit its annotation, and a frame its declared columns.

``type_mismatch`` checks what an annotation can say at run time and accepts what it cannot:
no annotation, ``Any``, TypeVars, unresolved string annotations, and forms such as
``Callable[[int], str]`` whose arguments cannot be verified (their origin is still checked
with ``isinstance``). Builtin containers are checked element by element up to the first
mismatch; the abstract ``Mapping``/``Sequence``/``Iterable`` only with ``isinstance``, since
iterating an arbitrary iterable could consume it.
"""

from __future__ import annotations

import inspect
import sys
import types
import typing
from collections.abc import Iterable
from typing import Any

from ..declarations.metadata import TableSchema
from ..frames.convert import polars_schema
from ..frames.dtypes import diff_schemas, table_schema

_UNCHECKED = (Any, inspect.Parameter.empty)
_UNRESOLVED = (str, typing.TypeVar, typing.ForwardRef)
# PEP 484's numeric tower: an int is acceptable where a float is expected, both for a complex.
_WIDER_NUMBERS: dict[type, tuple[type, ...]] = {float: (float, int), complex: (complex, float, int)}
# Unsubscripted ``typing.Tuple`` means any tuple, yet has tuple[()]'s origin and (empty) args.
_ANY_TUPLE = typing.Tuple  # noqa: UP006
_ELEMENTS = {list: "list", set: "set", frozenset: "frozenset"}


def type_mismatch(value: Any, annotation: Any) -> str | None:
    """None when ``value`` fits ``annotation``, else e.g. ``list item 2: expected int, got str``."""
    if type(value) is annotation:  # the common case, answered before any introspection
        return None
    if any(annotation is u for u in _UNCHECKED) or isinstance(annotation, _UNRESOLVED):
        return None
    if annotation is None or annotation is type(None):
        return None if value is None else _expected(annotation, value)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_mismatch(value, args[0])
    if origin is typing.Union or origin is types.UnionType:
        return _union_mismatch(value, annotation, args)
    if origin is typing.Literal:
        fits = any(type(value) is type(a) and value == a for a in args)
        return None if fits else f"expected {describe(annotation)}, got {_short_repr(value)}"
    if origin is None:
        return _class_mismatch(value, annotation)
    if not _isinstance(value, origin):
        return _expected(annotation, value)
    if origin is tuple and annotation is not _ANY_TUPLE:
        return _tuple_mismatch(value, annotation, args)
    if not args:
        return None
    if origin in _ELEMENTS:
        return _first_item_mismatch(
            (f"{_ELEMENTS[origin]} item {_item_label(origin, i, v)}", v, args[0])
            for i, v in enumerate(value)
        )
    if origin is dict:
        return _dict_mismatch(value, args)
    return None


def column_schema_differences(value: Any, schema: TableSchema) -> list[str]:
    """For a frame of any kind, one line per difference from ``schema``, e.g.
    ``missing column 'id' (Int64)`` or ``column 'amount' is Float32, declared Float64``.

    Types are equal by Polars base name after aliases (``frames.dtypes``); order is ignored.
    """
    return diff_schemas(table_schema(polars_schema(value)), schema).lines()


def describe(annotation: Any) -> str:
    """An annotation as a reader writes it: ``list[int]``, ``str | None``, ``polars.DataFrame``."""
    if annotation is None or annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    if isinstance(annotation, list):  # Callable's parameter list
        return f"[{', '.join(describe(a) for a in annotation)}]"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return describe(args[0])
    if origin is typing.Union or origin is types.UnionType:
        return " | ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return f"Literal[{', '.join(repr(a) for a in args)}]"
    if origin is tuple and not args and annotation is not _ANY_TUPLE:
        return "tuple[()]"
    if origin is not None:
        inner = f"[{', '.join(describe(a) for a in args)}]" if args else ""
        return f"{describe(origin)}{inner}"
    if isinstance(annotation, type):
        return _class_name(annotation)
    return repr(annotation).replace("typing.", "")


def _class_mismatch(value: Any, cls: Any) -> str | None:
    if not isinstance(cls, type):
        return None  # NewType, a typing special form: nothing checkable at run time
    return None if _isinstance(value, _WIDER_NUMBERS.get(cls, cls)) else _expected(cls, value)


def _isinstance(value: Any, cls: type | tuple[type, ...]) -> bool:
    try:
        return isinstance(value, cls)
    except TypeError:  # a Protocol that is not runtime_checkable, and similar
        return True


def _union_mismatch(value: Any, annotation: Any, members: tuple[Any, ...]) -> str | None:
    problems = [type_mismatch(value, m) for m in members]
    if None in problems:
        return None
    # When only one member has the value's outer type, its inner problem is the useful one:
    # for ``list[int] | None`` and ``[1, "a"]``, "list item 1: expected int, got str".
    shaped = [p for m, p in zip(members, problems, strict=True) if _has_outer_type(value, m)]
    return shaped[0] if len(shaped) == 1 else _expected(annotation, value)


def _has_outer_type(value: Any, annotation: Any) -> bool:
    origin = typing.get_origin(annotation)
    return isinstance(origin, type) and _isinstance(value, origin)


def _tuple_mismatch(value: tuple[Any, ...], annotation: Any, args: tuple[Any, ...]) -> str | None:
    if len(args) == 2 and args[1] is Ellipsis:
        return _first_item_mismatch((f"tuple item {i}", v, args[0]) for i, v in enumerate(value))
    if len(value) != len(args):
        count = f"{len(value)} item" + ("" if len(value) == 1 else "s")
        return f"expected {describe(annotation)}, got a tuple of {count}"
    return _first_item_mismatch(
        (f"tuple item {i}", v, a) for i, (v, a) in enumerate(zip(value, args, strict=True))
    )


def _dict_mismatch(value: dict[Any, Any], args: tuple[Any, ...]) -> str | None:
    key_type, value_type = args
    for key, item in value.items():
        problem = type_mismatch(key, key_type)
        if problem is not None:
            return f"dict key {_short_repr(key)}: {problem}"
        problem = type_mismatch(item, value_type)
        if problem is not None:
            return f"dict value at key {_short_repr(key)}: {problem}"
    return None


def _first_item_mismatch(items: Iterable[tuple[str, Any, Any]]) -> str | None:
    for where, item, annotation in items:
        problem = type_mismatch(item, annotation)
        if problem is not None:
            return f"{where}: {problem}"
    return None


def _item_label(origin: type, index: int, item: Any) -> str:
    # Sets have no positions; name the item itself.
    return str(index) if origin is list else _short_repr(item)


def _short_repr(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _expected(annotation: Any, value: Any) -> str:
    return f"expected {describe(annotation)}, got {describe(type(value))}"


def _class_name(cls: type) -> str:
    """``int`` for builtins, ``polars.DataFrame`` where the package exports the class (so
    Polars' and pandas' DataFrames are told apart), else the full ``module.QualName``."""
    module = cls.__module__
    if module == "builtins":
        return cls.__qualname__
    root = module.partition(".")[0]
    if getattr(sys.modules.get(root), cls.__qualname__, None) is cls:
        return f"{root}.{cls.__qualname__}"
    return f"{module}.{cls.__qualname__}"
