"""How a key reads (``/``, ``esc``, ``↑``) and which keys are ours to show: the help and the
command palette list the same bindings in the same words."""

from __future__ import annotations

from collections.abc import Iterator

from textual.binding import Binding
from textual.dom import DOMNode

_NAMES = {
    "slash": "/",
    "colon": ":",
    "question_mark": "?",
    "escape": "esc",
    "up": "↑",
    "down": "↓",
    "left": "←",
    "right": "→",
}


def key_text(binding: Binding) -> str:
    if binding.key_display:
        return binding.key_display
    return ", ".join(_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def described(owner: type[DOMNode]) -> Iterator[Binding]:
    """The bindings ``owner`` declares with a description: the keys a user is told about
    (a Textual widget's own, such as a table's cursor keys, are not ours to list)."""
    for binding in owner.BINDINGS:
        if isinstance(binding, Binding) and binding.description:
            yield binding
