"""Watch the code directory for saved Python files (watchfiles: inotify, FSEvents, ...).

A burst of saves (an editor writing a swap file, then the file, then a formatter rewriting
it) comes out as one batch: watchfiles yields once no new change arrived for ``step`` ms.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path

import watchfiles

# Quiet time that closes a burst, and the longest a burst may last before it is yielded.
STEP_MS = 30
DEBOUNCE_MS = 1600


class CodeFilter(watchfiles.PythonFilter):
    """Python sources only; never the home (the runtime writes there), caches, version
    control, virtual environments or editor swap and backup files."""

    ignore_dirs = (*watchfiles.DefaultFilter.ignore_dirs, "venv", "env", ".millrace", ".nox")

    def __init__(self, root: Path, ignore: Iterable[Path]) -> None:
        super().__init__(ignore_paths=[str(p) for p in ignore])
        self._root = str(root)
        self._venvs: dict[str, bool] = {}

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        return super().__call__(change, path) and not self._in_venv(os.path.dirname(path))

    def _in_venv(self, directory: str) -> bool:
        """A virtual environment under any name: a directory between the file and the
        watched root holds ``pyvenv.cfg``."""
        known = self._venvs.get(directory)
        if known is None:
            parent = os.path.dirname(directory)
            known = os.path.isfile(os.path.join(directory, "pyvenv.cfg")) or (
                directory != self._root and parent != directory and self._in_venv(parent)
            )
            self._venvs[directory] = known
        return known


# How often the watcher wakes with nothing to report; its first wake-up proves it is armed.
HEARTBEAT_MS = 100


async def watch_code(
    directory: Path,
    *,
    ignore: Iterable[Path] = (),
    stop: asyncio.Event | None = None,
    on_ready: Callable[[], None] | None = None,
) -> AsyncIterator[set[Path]]:
    """Each batch of changed Python files under ``directory``, until ``stop`` is set or the
    consumer stops iterating. ``on_ready`` is called once the watch is armed: a file saved
    after that is seen."""
    async for changes in watchfiles.awatch(
        directory,
        watch_filter=CodeFilter(directory, ignore),
        step=STEP_MS,
        debounce=DEBOUNCE_MS,
        stop_event=stop,
        rust_timeout=HEARTBEAT_MS,
        yield_on_timeout=True,
    ):
        if on_ready is not None:
            on_ready()
            on_ready = None
        if changes:
            yield {Path(path) for _, path in changes}
