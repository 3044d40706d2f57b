"""``get_dagster_logger()``: a plain Python logger whose records, made inside a step, land in
the run's log beside ``context.log``'s.

The step a record belongs to is found the way a ``print`` finds it (output.py): through the
step's capture in the current context, or the thread the step started. Outside a step the
logger is an ordinary one: its records go to the root logger's handlers, as propagation would.
Inside a step they go to the step's log only, since the terminal is the run's views' to write.
"""

from __future__ import annotations

import logging
import threading

from .output import _owner

_BASE = "dagster"  # Dagster's base logger: every dagster.* logger's records are captured
_installed = threading.Lock()


class _StepLogHandler(logging.Handler):
    """Records of the ``dagster`` loggers: to the running step's log, else to the root's
    handlers."""

    def emit(self, record: logging.LogRecord) -> None:
        owner = _owner()
        if owner is None:
            logging.getLogger().handle(record)
            return
        try:
            message = record.getMessage()
            if record.exc_info:
                message += "\n" + self.formatter_or_default().formatException(record.exc_info)
        except Exception:
            self.handleError(record)
            return
        owner.log(record.levelname, message)

    def formatter_or_default(self) -> logging.Formatter:
        return self.formatter or logging.Formatter()


def get_dagster_logger(name: str | None = None) -> logging.Logger:
    """The logger ``dagster.builtin`` (``dagster.builtin.<name>`` with ``name``), at DEBUG
    unless its level was set: inside a step, its records are the step's log records."""
    _install()
    logger = logging.getLogger(f"{_BASE}.builtin" + (f".{name}" if name else ""))
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.DEBUG)
    return logger


def _install() -> None:
    base = logging.getLogger(_BASE)
    with _installed:
        if not any(isinstance(h, _StepLogHandler) for h in base.handlers):
            base.addHandler(_StepLogHandler())
            # The handler forwards to the root itself when no step owns the record.
            base.propagate = False
