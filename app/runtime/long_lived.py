"""Objects a command builds to keep until its process exits: its loaded code and versions.

Python's collector runs a full pass each time the objects that survived the last one grow by
a quarter, so building 10,000 assets' definitions, graph and versions pays several passes
over everything built so far (~0.3-0.5 s of a 0.9-1.3 s load there), and every later pass of
the run walks them again, only to find that they are all still alive. A command that does
not reload builds them with the collector paused and then moves them out of its reach
(``gc.freeze``). Not for the dev runtime: a reload drops the old modules, and frozen cycles
would never be freed.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def long_lived() -> Iterator[None]:
    """Pause the collector while the block runs; if it succeeds, freeze what is alive then.
    A collector the caller had disabled stays disabled."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        gc.freeze()
    finally:
        if enabled:
            gc.enable()
