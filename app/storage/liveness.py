"""Whether the process that wrote a row (a run, a lease, a temporary file) still lives."""

from __future__ import annotations

import os


def alive(pid: int | None) -> bool:
    """True if a process ``pid`` exists on this host (one of another user's counts)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
