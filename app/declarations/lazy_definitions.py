"""``@definitions``: a function that builds a module's Definitions when its code is loaded."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ..errors import DefinitionsError
from .definitions import Definitions
from .source import location_of


class LazyDefinitions:
    """A function returning Definitions, called by the loader each time it imports the code."""

    __slots__ = ("load_fn",)

    def __init__(self, load_fn: Callable[[], Definitions]) -> None:
        self.load_fn = load_fn

    def __call__(self) -> Definitions:
        defs = self.load_fn()
        if not isinstance(defs, Definitions):
            raise DefinitionsError(
                f"@definitions function {_named(self.load_fn)} returned "
                f"{type(defs).__name__}, not a Definitions"
            )
        return defs

    def __repr__(self) -> str:
        return f"LazyDefinitions({self.load_fn.__qualname__})"


def definitions(fn: Callable[[], Definitions]) -> LazyDefinitions:
    """Mark ``fn`` as the builder of this module's Definitions (Dagster's ``@definitions``)."""
    if inspect.signature(fn).parameters:
        raise DefinitionsError(
            f"@definitions function {_named(fn)} must take no arguments: Millrace has no "
            "components, so there is no load context to pass"
        )
    return LazyDefinitions(fn)


def _named(fn: Callable[..., object]) -> str:
    where = location_of(fn)
    return f"{fn.__qualname__} ({where})" if where else fn.__qualname__
