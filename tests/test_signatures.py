"""``signature_of`` reads a plain function's signature as ``inspect.signature`` does."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from millrace.declarations.signatures import signature_of


def nothing() -> None: ...
def every_kind(x, y: int, z=3, *args: str, k, m: float = 1.0, **kw: bytes) -> None: ...
def positional_only(p, /, q, *, r=2): ...
def keyword_only(*, only: int): ...
def keywords_alone(**kw): ...
def star_alone(*a): ...
def strings(x: Later, y=None) -> int: ...  # noqa: F821 (an annotation never evaluated)
def defaults_everywhere(a, b=1, /, c=2, *d, e, f=3, **g): ...
def with_locals(a, b):  # locals follow the parameters in co_varnames
    c = a + b
    return c


class Holder:
    def method(self, x: int) -> int:
        return x


@functools.wraps(every_kind)
def wrapper(*args: Any, **kwargs: Any) -> None: ...


def renamed(a: int) -> None: ...


renamed.__signature__ = inspect.Signature([inspect.Parameter("b", inspect.Parameter.KEYWORD_ONLY)])  # type: ignore[attr-defined]

SHAPES: list[Callable[..., Any]] = [
    nothing,
    every_kind,
    positional_only,
    keyword_only,
    keywords_alone,
    star_alone,
    strings,
    defaults_everywhere,
    with_locals,
    Holder.method,
    Holder().method,
    wrapper,
    renamed,
    lambda q, r=1: q,
    functools.partial(every_kind, 1),
]


@pytest.mark.parametrize("fn", SHAPES, ids=lambda fn: getattr(fn, "__name__", repr(fn)))
def test_the_signature_is_the_one_inspect_reads(fn: Callable[..., Any]):
    ours, theirs = signature_of(fn), inspect.signature(fn)
    assert ours == theirs
    assert str(ours) == str(theirs)
    assert [p.kind for p in ours.parameters.values()] == [
        p.kind for p in theirs.parameters.values()
    ]


def test_what_has_no_signature_raises_as_inspect_does():
    with pytest.raises(TypeError):
        signature_of(42)  # type: ignore[arg-type]
