"""An asset's status as people read it: the dev runtime's word, coloured the same everywhere."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text

# Rich styles, one per status word of the dev runtime (app/versions/staleness.py).
STATUS_STYLES = {
    "fresh": "green",
    "stale": "yellow",
    "missing": "bright_black",
    "failed": "bold red",
    "running": "bold cyan",
}
# Where several statuses share one mark (a folded group of the lineage, a bucket of
# partitions), the mark shows the worst, in this order.
WORST_FIRST = ("failed", "running", "stale", "missing", "fresh")
RUN_STYLES = {"SUCCESS": "green", "FAILURE": "bold red", "CANCELED": "yellow", "STARTED": "cyan"}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""), justify="left")


def worst(statuses: Iterable[str]) -> str | None:
    """The worst of ``statuses`` (``WORST_FIRST``), or None if there are none."""
    found = set(statuses)
    return next((s for s in WORST_FIRST if s in found), None)


def run_status_text(status: str) -> Text:
    return Text(status, style=RUN_STYLES.get(status, ""), justify="left")


def ago(seconds: float | None) -> str:
    """``3s ago``, ``5m ago``, ``2h ago``, ``4d ago``; ``never`` for None."""
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit} ago"
    return f"{int(max(seconds, 0))}s ago"


# A freshness policy's states (app/automation/freshness.py), as the catalog's badge.
FRESHNESS_STYLES = {
    "PASS": "green",
    "WARN": "yellow",
    "FAIL": "bold red",
    "UNKNOWN": "bright_black",
}


def freshness_text(freshness: tuple[str, str] | None) -> Text:
    """The state of an asset's freshness policy, coloured; nothing without a policy."""
    if freshness is None:
        return Text("")
    return Text(freshness[0], style=FRESHNESS_STYLES.get(freshness[0], ""), justify="left")
