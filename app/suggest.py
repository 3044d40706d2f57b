"""The one "did you mean" of every error message: which known name a misspelt one meant.

Names are compared case-insensitively with difflib's ratio. Asset keys with prefixes
(``raw/orders``) are compared part by part, so a shared word in the name alone
(``raw/raw_customers`` and ``customer_ltv``) is not enough to be suggested.
"""

from __future__ import annotations

from collections.abc import Iterable
from difflib import SequenceMatcher

# raww/raw 0.86, dbb/db 0.8, trian/train 0.8; raw_customers/customer_ltv 0.64 is a stranger.
CUTOFF = 0.75


def suggestion(wanted: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest candidate, or nothing when none is close:
    written right after the misspelt name, in every message."""
    best = closest(wanted, candidates)
    return f" (did you mean '{best}'?)" if best is not None else ""


def closest(wanted: str, candidates: Iterable[str]) -> str | None:
    """The candidate most like ``wanted``, or None.

    The last ``/`` part (the name) must be close; the prefixes must be equal, close, or absent
    on one side. A candidate with wanted's own prefix wins, then the closer name.
    """
    prefix, _, name = wanted.casefold().rpartition("/")
    best: str | None = None
    best_score = (False, 0.0, 0.0)
    for candidate in candidates:
        their_prefix, _, their_name = candidate.casefold().rpartition("/")
        name_ratio = _ratio(name, their_name)
        if name_ratio < CUTOFF:
            continue
        prefix_ratio = _ratio(prefix, their_prefix) if prefix and their_prefix else 1.0
        if prefix_ratio < CUTOFF:
            continue
        score = (prefix == their_prefix, name_ratio, prefix_ratio)
        if score > best_score:
            best, best_score = candidate, score
    return best


def _ratio(a: str, b: str) -> float:
    return SequenceMatcher(None, a, b).ratio()
