"""Ctrl-C for the command line: the first asks the run to stop, the second forces the exit.

A forced exit still puts the terminal back and tears down the resources runs have open,
with a short deadline, so a second Ctrl-C never leaves a hidden cursor or a held connection.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

EXIT_CANCELED = 130


def on_interrupts(
    first: Callable[[], None], *, forced: str, before_exit: Callable[[], None] | None = None
) -> None:
    """On the running loop, the first SIGINT or SIGTERM calls ``first``; the next one calls
    ``before_exit``, says ``forced``, tears down open resources and exits with 130."""
    import asyncio  # here: the CLI imports EXIT_CANCELED long before any loop runs

    loop = asyncio.get_running_loop()
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            first()
            return
        if before_exit is not None:
            before_exit()
        print(f"\n{forced}", file=sys.stderr)
        resources = sys.modules.get(f"{__package__}.runtime.resources")  # else none opened
        if resources is not None and not resources.tear_down_open_resources():
            print("resource teardown did not finish in time; exiting anyway", file=sys.stderr)
        os._exit(EXIT_CANCELED)

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        loop.add_signal_handler(signal.SIGTERM, on_interrupt)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        pass
