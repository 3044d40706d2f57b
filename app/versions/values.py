"""Values as canonical text: what a name in project code is bound to, hashed so that the text
is the same in every process (no memory addresses, sets in sorted order) and changes when the
value does. Project functions and classes a value leads to are handed back as edges, to be
versioned from their own source."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from enum import Enum
from types import BuiltinFunctionType, FunctionType, MethodType, ModuleType
from typing import Any

from ..declarations.asset import AssetsDefinition
from ..declarations.checks import AssetChecksDefinition
from .origin import Origins

Edge = FunctionType | type | ModuleType  # project code, versioned from its own source

_SCALARS = frozenset(
    {type(None), bool, int, float, complex, str, bytes, Decimal, date, datetime, time, timedelta}
)
# Described by their repr alone; int is not, for its length check.
_PLAIN = frozenset({type(None), bool, float, str, bytes})
_CONTAINERS = (tuple, list, dict, set, frozenset)
_CONTAINER_TYPES = frozenset(_CONTAINERS)  # exactly these, not subclasses
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
# Decimal text of an int is refused past 4,300 digits (sys.int_info): stay well below.
_LONGEST_INT_BITS = 10_000


class Describer:
    """Describes values for one ``code_versions`` call, asking ``origins`` whose code is whose."""

    def __init__(self, origins: Origins) -> None:
        self._origins = origins
        # Objects other than plain values and containers, described once per call however many
        # assets share them (a partitions definition, a policy, a helper): by id, holding the
        # object so its id is not reused while the call runs. Only at the top, where no
        # enclosing container can make a part of the text read "cycle".
        self._shared: dict[int, tuple[object, str, tuple[Edge, ...]]] = {}

    def describe(self, obj: object, edges: list[Edge], seen: frozenset[int] = frozenset()) -> str:
        """A canonical text for a value; project code it refers to goes into ``edges``. A
        value nested deeper than Python can walk is described by its type alone."""
        kind = type(obj)
        if kind in _PLAIN:
            return f"{kind.__name__}:{obj!r}"
        if kind in _CONTAINER_TYPES and not obj:  # most of a definition's lists are empty
            return f"{kind.__name__}()"
        if kind is FunctionType:  # every asset's own: named, never walked, so never a cycle
            return self._reference(obj, edges)  # type: ignore[arg-type]
        if seen or kind is int or kind in _CONTAINER_TYPES:
            return self._guarded(obj, edges, seen)
        shared = self._shared.get(id(obj))
        if shared is None:
            found: list[Edge] = []
            text = self._guarded(obj, found, seen)
            shared = self._shared[id(obj)] = (obj, text, tuple(found))
        edges.extend(shared[2])
        return shared[1]

    def _guarded(self, obj: object, edges: list[Edge], seen: frozenset[int]) -> str:
        try:
            if type(obj) in _CONTAINER_TYPES:  # the common case first, as _describe would
                if id(obj) in seen:
                    return "cycle"
                return self._container(obj, edges, seen | {id(obj)})  # type: ignore[arg-type]
            return self._describe(obj, edges, seen)
        except RecursionError:
            return f"{type(obj).__qualname__} (nested too deeply to version)"

    def _describe(self, obj: object, edges: list[Edge], seen: frozenset[int]) -> str:
        kind = type(obj)
        if kind is int and obj.bit_length() > _LONGEST_INT_BITS:  # type: ignore[attr-defined]
            return f"int:0x{obj:x}"  # repr refuses ints this long; hex has no limit
        if kind in _SCALARS:
            return f"{kind.__name__}:{obj!r}"
        if isinstance(obj, Enum):
            return f"{self.describe(kind, edges)}.{obj.name}"
        if id(obj) in seen:
            return "cycle"
        seen = seen | {id(obj)}
        if isinstance(obj, _CONTAINERS):
            return self._container(obj, edges, seen)
        if isinstance(obj, AssetsDefinition | AssetChecksDefinition):
            return self.describe(obj.fn, edges, seen)
        if isinstance(obj, FunctionType | type):
            return self._reference(obj, edges)
        if isinstance(obj, ModuleType):
            origin = self._origins.of(obj.__name__, getattr(obj, "__file__", None))
            if origin is not None:
                return f"{origin} {obj.__name__}"
            edges.append(obj)
            return f"project module {obj.__name__}"
        if isinstance(obj, staticmethod | classmethod | MethodType):
            return "method " + self.describe(obj.__func__, edges, seen)
        if isinstance(obj, functools.partial):
            return "partial " + self.describe((obj.func, obj.args, obj.keywords), edges, seen)
        if isinstance(obj, BuiltinFunctionType):
            origin = self._origins.of(obj.__module__, None) or "builtin"
            return f"{origin} {obj.__module__}:{obj.__qualname__}"
        if dataclasses.is_dataclass(obj):
            fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
            return self.describe(kind, edges) + self.describe(fields, edges, seen)
        wrapped = _wrapped(obj)
        if wrapped is not None:
            return f"{self.describe(kind, edges)} of {self.describe(wrapped, edges, seen)}"
        text = _repr(obj)
        return self.describe(kind, edges) + ("" if text is None else f" {text}")

    def _container(
        self,
        obj: tuple[Any, ...] | list[Any] | dict[Any, Any] | set[Any] | frozenset[Any],
        edges: list[Edge],
        seen: frozenset[int],
    ) -> str:
        kind = type(obj)
        tag = kind.__name__ if kind in _CONTAINERS else self.describe(kind, edges)
        if isinstance(obj, dict):
            d = self.describe
            parts = sorted(f"{d(k, edges, seen)}:{d(v, edges, seen)}" for k, v in obj.items())
        elif isinstance(obj, set | frozenset):  # sorted: set order follows the hash seed
            parts = sorted(self.describe(v, edges, seen) for v in obj)
        else:
            parts = [self.describe(v, edges, seen) for v in obj]
        return f"{tag}(" + "\x1f".join(parts) + ")"

    def _reference(self, obj: FunctionType | type, edges: list[Edge]) -> str:
        filename = obj.__code__.co_filename if isinstance(obj, FunctionType) else None
        origin = self._origins.of(obj.__module__, filename)
        name = f"{obj.__module__}:{obj.__qualname__}"
        if origin is not None:
            return f"{origin} {name}"
        edges.append(obj)
        return f"project {name}"


def _wrapped(obj: object) -> object | None:
    """What a C-level wrapper (``functools.cache``) wraps; a Python wrapper is a function
    whose closure already leads there. Looked up statically: an object's ``__getattr__``
    (``polars.col``'s makes a column of any name) must not run."""
    if not callable(obj):
        return None
    wrapped = inspect.getattr_static(obj, "__wrapped__", None)
    return wrapped if callable(wrapped) else None


def _repr(obj: object) -> str | None:
    """The repr, unless it holds a memory address (``<Foo object at 0x...>``), which would
    give a new version in every process."""
    try:
        text = repr(obj)
    except Exception:
        return None
    return None if _ADDRESS.search(text) else text


def annotation_text(annotation: object) -> str:
    if isinstance(annotation, type):
        return f"{annotation.__module__}.{annotation.__qualname__}"
    return _repr(annotation) or type(annotation).__qualname__
