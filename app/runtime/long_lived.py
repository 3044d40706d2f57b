"""Objects a command builds to keep for long: its loaded code and versions.

Python's collector runs a full pass each time the objects that survived the last one grow by
a quarter, so building 10,000 assets' definitions, graph and versions pays several passes
over everything built so far (~0.3-0.5 s of a 0.9-1.3 s load there), and every later pass
walks them again, only to find them alive: 100-200 ms each at that size, every other
reload in the dev runtime. So the code is built with the collector paused and then moved
out of its reach (``gc.freeze``): by commands that never reload, and by ``dev`` and
``serve`` for their first load only. What a reload drops of a frozen load is never freed
(a module's functions and its globals form a cycle), so freezing every load would leak one
copy of each edited module per reload; freezing the first bounds that to one copy of the
code, and every later load is collected as usual, in passes that skip the frozen part.
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
