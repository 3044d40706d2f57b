"""Headless views of the runtime: live progress on a terminal, plain lines in a pipe, JSON for
scripts, and the dev loop's one line per event.

Each printer is an event-bus subscriber; none of them reaches into the executor.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import IO, Any

from .events import (
    AssetCheckEvaluated,
    CodeError,
    CodeRecovered,
    Event,
    LogMessage,
    ReloadApplied,
    RunFinished,
    RunStarted,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
    StepWaiting,
    Watching,
)
from .execution.output import STDERR, STDOUT, show_step_output
from .execution.result import RunResult

# What a step prints is logged as STDOUT / STDERR (execution/context.py): shown like INFO.
_SHOWN_LOG_LEVELS = {"INFO", "WARNING", "ERROR", "CRITICAL", STDOUT, STDERR}


def _name(event: Event) -> str:
    name = event.asset_key.to_user_string() if event.asset_key else "-"
    return f"{name}:{event.check_name}" if event.check_name else name


class Tally:
    """Counts of step outcomes, kept from the events alone."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.done = self.failed = self.skipped = 0
        self.running: dict[str, float] = {}
        self.started = time.monotonic()

    def update(self, event: Event) -> None:
        if isinstance(event, StepStarted):
            self.running[_name(event)] = time.monotonic()
        elif isinstance(event, StepSucceeded):
            self.running.pop(_name(event), None)
            self.done += 1
        elif isinstance(event, StepFailed):
            self.running.pop(_name(event), None)
            if not event.will_retry:
                self.failed += 1
        elif isinstance(event, StepSkipped):
            self.skipped += 1

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started


class LinePrinter:
    """One line per finished step, for logs and pipes."""

    def __init__(self, total: int, out: IO[str] | None = None) -> None:
        self.tally = Tally(total)
        self.out = out or sys.stdout
        self._release = show_step_output()

    def __call__(self, event: Event) -> None:
        self.tally.update(event)
        line = describe_event(event)
        if line is not None:
            _write(self.out, line + "\n")

    def close(self) -> None:
        self._release()


class JsonPrinter:
    """Every event as one JSON object per line."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._release = show_step_output()

    def __call__(self, event: Event) -> None:
        _write(self.out, json.dumps(event.to_json(), default=str) + "\n")

    def close(self) -> None:
        self._release()
        _write(self.out, "")


class LivePrinter:
    """A Rich progress display: done / running / failed / skipped, elapsed, what runs now."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.live import Live

        self.tally = Tally(total)
        # The stream itself, not "whatever sys.stderr is when writing": while a run is active
        # that is a dispatcher of the steps' prints (execution/context.py).
        self.console = Console(file=sys.stderr)
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
        self._release = show_step_output()
        self.live.start()

    def __call__(self, event: Event) -> None:
        self.tally.update(event)
        if isinstance(event, StepFailed | LogMessage) or (
            isinstance(event, AssetCheckEvaluated) and not event.passed
        ):
            line = describe_event(event)
            if line is not None:
                self.live.console.print(line, markup=False, highlight=False)
        self.live.update(self._render())

    def _render(self) -> Any:
        from rich.text import Text

        t = self.tally
        text = Text()
        text.append(f"{t.done + t.failed + t.skipped}/{t.total} ", style="bold")
        text.append(f"done {t.done}", style="green")
        text.append(f"  running {len(t.running)}", style="cyan")
        text.append(f"  failed {t.failed}", style="red" if t.failed else "dim")
        text.append(f"  skipped {t.skipped}", style="yellow" if t.skipped else "dim")
        text.append(f"  {t.elapsed:6.1f}s", style="dim")
        if t.running:
            names = sorted(t.running, key=t.running.__getitem__)
            shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
            text.append(f"\n  now: {shown}", style="cyan")
        return text

    def close(self) -> None:
        """Clear the progress line and show the cursor again; safe to call twice."""
        self._release()
        self.live.stop()


def _write(out: IO[str], text: str) -> None:
    """Write and flush; when the reader has gone (``| head``), go quiet, as Unix tools do."""
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())


def describe_event(event: Event) -> str | None:
    """A one-line, human description of an event (None for events not worth a line)."""
    name = _name(event)
    if isinstance(event, StepSucceeded):
        # A check's verdict has its own line (below); its step finishing says nothing more.
        return None if event.check_name else f"✓ {name} ({event.duration:.2f}s)"
    if isinstance(event, AssetCheckEvaluated):
        return describe_check(event)
    if isinstance(event, StepFailed):
        retry = " (will retry)" if event.will_retry else ""
        return f"✗ {name}: {event.error}{retry}"
    if isinstance(event, StepSkipped):
        return f"- {name} skipped: {event.reason}"
    if isinstance(event, StepUpToDate):
        return None if event.check_name else f"= {name} up to date ({event.reason})"
    if isinstance(event, StepWaiting):
        return f"… {name} {event.reason}"
    if isinstance(event, LogMessage) and event.level in _SHOWN_LOG_LEVELS:
        return f"  {name} {event.level}: {event.message}"
    if isinstance(event, RunFinished):
        return f"run {event.run_id} {event.status.value}" + (
            f" ({event.message})" if event.message else ""
        )
    return None


class DevPrinter:
    """``millrace dev --headless``: one readable line per event; a step's line starts with
    its asset key (``beta_mid materialized in 0.02s``)."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._release = show_step_output()

    def __call__(self, event: Event) -> None:
        line = describe_dev_event(event)
        if line is not None:
            _write(self.out, line + "\n")
        if isinstance(event, StepFailed) and event.error.traceback and not event.will_retry:
            _write(self.out, event.error.traceback)

    def close(self) -> None:
        self._release()


def describe_dev_event(event: Event) -> str | None:
    name = _name(event)
    if isinstance(event, StepStarted):
        if event.check_name:
            return None  # a check's verdict is its line
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        return f"{name} started{again}"
    if isinstance(event, StepSucceeded):
        return None if event.check_name else f"{name} materialized in {event.duration:.2f}s"
    if isinstance(event, StepUpToDate):
        return f"{name} up to date ({event.reason})"
    if isinstance(event, StepWaiting):
        return f"{name} waiting: run {event.holder_run_id[:8]}… is writing it"
    if isinstance(event, StepFailed):
        retry = " (will retry)" if event.will_retry else ""
        return f"{name} failed: {event.error}{retry}"
    if isinstance(event, StepSkipped):
        return f"{name} skipped: {event.reason}"
    if isinstance(event, AssetCheckEvaluated):
        return check_verdict(event)
    if isinstance(event, LogMessage):
        if event.level not in _SHOWN_LOG_LEVELS:
            return None
        about = f"{name} " if event.asset_key else ""  # the runtime's own, about no asset
        return f"{about}{event.level}: {event.message}"
    if isinstance(event, ReloadApplied):
        return describe_reload(event)
    if isinstance(event, CodeError):
        return f"{event.message}\n  (the last good code keeps serving; fix it and save)"
    if isinstance(event, CodeRecovered):
        return event.message
    if isinstance(event, Watching):
        return f"watching {event.directory} ({event.assets} assets): save a file to reload"
    if isinstance(event, RunStarted):
        why = event.tags.get("millrace/reason")
        steps = len(event.selection)
        return f"run {event.run_id[:8]} started: {steps} step{'s' * (steps != 1)}" + (
            f" ({why})" if why else ""
        )
    if isinstance(event, RunFinished):
        return f"run {event.run_id[:8]} {event.status.value}" + (
            f": {event.message}" if event.message else ""
        )
    return None


def describe_reload(event: ReloadApplied) -> str:
    """``reloaded: 1 changed (beta_mid: code), 0 added, 0 removed``."""
    changed = "; ".join(
        f"{c.asset_key.to_user_string()}: {', '.join(c.attributes)}" for c in event.changed
    )
    added = ", ".join(k.to_user_string() for k in event.added)
    removed = ", ".join(k.to_user_string() for k in event.removed)
    return (
        f"reloaded: {len(event.changed)} changed" + (f" ({changed})" if changed else "")
        + f", {len(event.added)} added" + (f" ({added})" if added else "")
        + f", {len(event.removed)} removed" + (f" ({removed})" if removed else "")
    )


def describe_check(event: AssetCheckEvaluated) -> str:
    return f"{'✓' if event.passed else '✗'} check {check_verdict(event)}"


def check_verdict(event: AssetCheckEvaluated) -> str:
    """``customer_features:no_nulls passed``, or failed with its severity, why and facts."""
    if event.passed:
        return f"{_name(event)} passed"
    gate = ", blocking" if event.blocking else ""
    why = f": {event.description}" if event.description else ""
    facts = ", ".join(f"{k}={v}" for k, v in event.metadata.items() if v.type != "table")
    tail = f" [{facts}]" if facts else ""
    return f"{_name(event)} failed ({event.severity}{gate}){why}{tail}"


def summarize(result: RunResult, elapsed: float) -> str:
    """The closing report: counts, and for each failure its error and user-code frames."""
    materialized = len(result.get_asset_materialization_events())
    failures = result.get_step_failure_events()
    skipped = len(result.get_step_skipped_events())
    evaluations = result.get_asset_check_evaluations()
    failed_checks = [e for e in evaluations if not e.passed]
    parts = [f"{materialized} materialized"]
    current = [e for e in result.all_events if isinstance(e, StepUpToDate) and not e.check_name]
    if current:
        parts.append(f"{len(current)} up to date")
    if failures:
        parts.append(f"{len(failures)} failed")
    if skipped:
        parts.append(f"{skipped} skipped")
    if evaluations:
        parts.append(f"{len(evaluations) - len(failed_checks)}/{len(evaluations)} checks passed")
    lines = [f"Run {result.run_id} {result.status.value}: {', '.join(parts)} in {elapsed:.2f}s"]
    for failure in failures:
        error = failure.error
        lines.append("")
        lines.append(f"asset '{_name(failure)}' failed: {error}")
        if error.traceback:
            lines.append(error.traceback.rstrip())
        if error.cause:
            lines.append(f"  caused by {error.cause}")
    for check in failed_checks:
        lines.append("")
        lines.append(describe_check(check))
        if check.error is not None and check.error.traceback:
            lines.append(check.error.traceback.rstrip())
    return "\n".join(lines)
