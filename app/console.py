"""Headless views of the runtime: live progress on a terminal, plain lines in a pipe, JSON for
scripts, and the dev loop's one line per event.

Each printer is an event-bus subscriber; none of them reaches into the executor.

What is told where by ``millrace materialize`` and ``millrace check``:

- while the run goes, a line per finished step (``LinePrinter``, in a pipe), or the live
  progress line with each step failure and log line printed above it (``LivePrinter``, on a
  terminal);
- when it ends, ONE summary (``summarize``): the status and counts, then each failed step
  with why and its user-code frames, the skipped steps with why, and the checks that failed
  with their severity. A failed check is told there only, not also as it happens, so a WARN
  check is printed once; and the run's RUN_FINISHED event is that summary, not a line too.

Long lines wrap at word boundaries with a hanging indent, to the terminal's width, when the
output is a terminal. In a pipe (and with ``--json``) nothing wraps: one event, one line, for
grep.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

from .events import (
    AssetCheckEvaluated,
    AssetMaterialized,
    AssetObserved,
    CodeError,
    CodeRecovered,
    Event,
    InstigatorChanged,
    LogMessage,
    ReloadApplied,
    RunFinished,
    RunOrigin,
    RunStarted,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
    StepUpToDate,
    StepWaiting,
    TickEvaluated,
    Watching,
    is_check_step,
    step_name,
)
from .execution.output import STDERR, STDOUT, show_step_output
from .execution.result import RunResult

if TYPE_CHECKING:
    from rich.console import Console

    from .declarations.metadata import MetadataValue
    from .execution.plan import ExecutionPlan

E = TypeVar("E", bound=Event)

# What a step prints is logged as STDOUT / STDERR (execution/context.py): shown like INFO.
_SHOWN_LOG_LEVELS = {"INFO", "WARNING", "ERROR", "CRITICAL", STDOUT, STDERR}


# -- counting --------------------------------------------------------------------------------


@dataclass(slots=True)
class StepCounts:
    """Outcomes of one kind of step (assets, or checks). ``done``: succeeded or up to date."""

    total: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class Progress:
    """What the live line shows, read at one instant."""

    assets: StepCounts
    checks: StepCounts
    checks_failed: int  # verdicts: checks that ran and did not pass
    known: bool  # whether the assets and checks of the plan are known apart yet
    total: int  # steps in the plan
    running: tuple[str, ...]  # oldest first
    elapsed: float

    @property
    def failed(self) -> int:
        return self.assets.failed + self.checks.failed

    @property
    def skipped(self) -> int:
        return self.assets.skipped + self.checks.skipped

    def counts(self) -> str:
        """``done 2/4 assets, 1/3 checks (1 did not pass)``: assets and checks apart."""
        a, c = self.assets, self.checks
        if not self.known:
            return f"done {a.done + c.done}/{self.total} steps"
        parts = []
        if a.total or not c.total:
            parts.append(f"{a.done}/{a.total} assets")
        if c.total:
            failed = f" ({self.checks_failed} did not pass)" if self.checks_failed else ""
            parts.append(f"{c.done}/{c.total} checks{failed}")
        return "done " + ", ".join(parts)


class Tally:
    """Counts of step outcomes, assets and checks apart, kept from the events alone.

    Updated on the event loop's thread and read from Rich's refresh thread: ``snapshot``
    reads it whole, under a lock.
    """

    def __init__(
        self, total: int | ExecutionPlan, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.started = clock()
        self.running: dict[str, float] = {}
        self.assets = StepCounts()
        self.checks = StepCounts()
        self.checks_failed = 0
        self._check_steps: set[str] = set()
        self._verdicts: set[str] = set()
        self.known = False
        if isinstance(total, int):
            self.total = total
        else:  # a plan: its assets and checks are known from the start
            self._plan(
                [s.name for s in total.steps if s.check is None],
                [s.name for s in total.steps if s.check is not None],
            )

    def _plan(self, assets: list[str], checks: list[str]) -> None:
        self.assets.total, self.checks.total = len(assets), len(checks)
        self._check_steps = set(checks)
        self.total = len(assets) + len(checks)
        self.known = True

    def update(self, event: Event) -> None:
        with self._lock:
            self._update(event)

    def _update(self, event: Event) -> None:
        name = step_name(event)
        kind = self.checks if event.check_name else self.assets
        if isinstance(event, RunStarted):
            if not self.known:  # a check step's name is ``asset:check``; a key has no ':'
                self._plan(
                    [n for n in event.selection if not is_check_step(n)],
                    [n for n in event.selection if is_check_step(n)],
                )
        elif isinstance(event, StepStarted):
            self.running[name] = self._clock()
        elif isinstance(event, StepSucceeded | StepUpToDate):
            self.running.pop(name, None)
            kind.done += 1
        elif isinstance(event, StepFailed):
            if not event.will_retry:
                self.running.pop(name, None)
                kind.failed += 1
        elif isinstance(event, StepSkipped):
            self.running.pop(name, None)
            kind.skipped += 1
        elif isinstance(event, AssetCheckEvaluated):
            if not event.passed:
                self.checks_failed += 1
            if name not in self._check_steps and name not in self._verdicts:
                # Reported by its asset (check_specs), not a step: known once it arrives.
                self.checks.total += 1
                self.checks.done += 1
                self.total += 1
            self._verdicts.add(name)

    def snapshot(self) -> Progress:
        with self._lock:
            return Progress(
                assets=replace(self.assets),  # copies: the loop goes on counting
                checks=replace(self.checks),
                checks_failed=self.checks_failed,
                known=self.known,
                total=self.total,
                running=tuple(sorted(self.running, key=self.running.__getitem__)),
                elapsed=self._clock() - self.started,
            )

    @property
    def elapsed(self) -> float:
        return self._clock() - self.started

    @property
    def done(self) -> int:
        return self.assets.done + self.checks.done

    @property
    def failed(self) -> int:
        return self.assets.failed + self.checks.failed

    @property
    def skipped(self) -> int:
        return self.assets.skipped + self.checks.skipped


def format_elapsed(seconds: float) -> str:
    """``0.4s``, ``12.3s``, ``3m05s``, ``1h02m``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


# -- wrapping --------------------------------------------------------------------------------


def terminal_width(out: IO[str]) -> int | None:
    """The width to wrap lines written to ``out`` at: a terminal's (``$COLUMNS`` first, as
    ``shutil.get_terminal_size`` reads it); None when ``out`` is not a terminal (a pipe, a
    file), where each line stays whole, for grep."""
    try:
        if not out.isatty():
            return None
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return None
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        columns_of_out = os.get_terminal_size(out.fileno()).columns
    except (AttributeError, OSError, ValueError):
        columns_of_out = 0
    return columns_of_out or shutil.get_terminal_size().columns


MIN_WRAP_WIDTH = 20  # narrower than this, wrapping hurts more than it helps
HANGING_INDENT = "    "


def wrap(text: str, width: int | None) -> str:
    """Each line of ``text`` wrapped at word boundaries to ``width``; a continuation line is
    indented past its first line (the first line's own indent, then four spaces). A word
    longer than the width (a path, a URL) stays whole. ``width`` None: unchanged."""
    if width is None or width < MIN_WRAP_WIDTH:
        return text
    lines = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        lead = line[: len(line) - len(line.lstrip())]
        lines.append(
            textwrap.fill(
                line,
                width,
                subsequent_indent=lead + HANGING_INDENT,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


# -- printers --------------------------------------------------------------------------------


def _told_by_the_summary(event: Event) -> bool:
    """What ``summarize`` tells at the end of a run, so the printers do not also tell it live:
    the run's end, and a check that failed (with its severity)."""
    return isinstance(event, RunFinished) or (
        isinstance(event, AssetCheckEvaluated) and not event.passed
    )


class LinePrinter:
    """One line per finished step, for logs and pipes; ``summarize`` follows at the end.

    Lines wrap to the terminal's width when ``out`` is a terminal (``millrace materialize``
    with stderr redirected), never in a pipe."""

    def __init__(self, total: int | ExecutionPlan, out: IO[str] | None = None) -> None:
        self.tally = Tally(total)
        self.out = out or sys.stdout
        self._release = show_step_output()

    def __call__(self, event: Event) -> None:
        self.tally.update(event)
        if _told_by_the_summary(event):
            return
        line = describe_event(event)
        if line is not None:
            _write(self.out, wrap(line, terminal_width(self.out)) + "\n")

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


class ProgressLine:
    """The live line as a Rich renderable: ``__rich__`` reads the tally when Rich renders it,
    on every auto refresh, so the elapsed time ticks between events (during a long first
    step too), not only when one arrives."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def __rich__(self) -> Any:
        from rich.text import Text

        p = self.tally.snapshot()
        text = Text()
        text.append(p.counts(), style="bold")
        text.append(f"  running {len(p.running)}", style="cyan")
        text.append(f"  failed {p.failed}", style="red" if p.failed else "dim")
        text.append(f"  skipped {p.skipped}", style="yellow" if p.skipped else "dim")
        text.append(f"  {format_elapsed(p.elapsed):>6}", style="dim")
        if p.running:
            names = p.running
            shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
            text.append(f"\n  now: {shown}", style="cyan")
        return text


class LivePrinter:
    """A Rich progress display: done per kind (assets, checks), running, failed, skipped,
    the elapsed time, and what runs now; step failures and log lines print above it."""

    REFRESH_PER_SECOND = 8

    def __init__(
        self,
        total: int | ExecutionPlan,
        console: Console | None = None,
        *,
        refresh_per_second: float = REFRESH_PER_SECOND,
    ) -> None:
        from rich.console import Console
        from rich.live import Live

        self.tally = Tally(total)
        self.line = ProgressLine(self.tally)
        # The stream itself, not "whatever sys.stderr is when writing": while a run is active
        # that is a dispatcher of the steps' prints (execution/context.py).
        self.console = console if console is not None else Console(file=sys.stderr)
        # Given once: Live's auto refresh renders it again on its own timer.
        self.live = Live(
            self.line,
            console=self.console,
            refresh_per_second=refresh_per_second,
            transient=True,
        )
        self._release = show_step_output()
        self.live.start()

    def __call__(self, event: Event) -> None:
        self.tally.update(event)  # shown at the next refresh, an eighth of a second at most
        if isinstance(event, StepFailed | LogMessage):
            line = describe_event(event)
            if line is not None:
                text = wrap(line, self.console.width)
                self.live.console.print(text, markup=False, highlight=False)

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


def describe_started(event: StepStarted) -> str:
    """``▶ customer_features started``; a check step's names its check
    (``▶ customer_features:check_no_nulls started``), a retry its attempt."""
    again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
    return f"▶ {step_name(event)} started{again}"


def describe_event(event: Event) -> str | None:
    """A one-line, human description of an event (None for events not worth a line)."""
    name = step_name(event)
    if isinstance(event, StepSucceeded):
        # A check's verdict has its own line (below); its step finishing says nothing more.
        return None if event.check_name else f"✓ {name} ({event.duration:.2f}s)"
    if isinstance(event, AssetCheckEvaluated):
        return describe_check(event)
    if isinstance(event, AssetObserved):
        return f"◉ {name} observed: data version {event.data_version}"
    if isinstance(event, StepFailed):
        retry = " (will retry)" if event.will_retry else ""
        return f"✗ {name}: {event.error}{facts_tail(event.metadata)}{retry}"
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
    its asset key (``beta_mid materialized in 0.02s``). Wrapped like ``LinePrinter``'s: on a
    terminal only. A run's end is its one line (``run 9b98ae8e SUCCESS``): every step and
    check verdict had its line already."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self._release = show_step_output()
        self._observing: set[tuple[str, Any]] = set()  # (run, source) observed, not yet done

    def __call__(self, event: Event) -> None:
        # An observation step's success is its observation's line, not "materialized".
        step = (event.run_id, event.asset_key)
        if isinstance(event, AssetObserved):
            self._observing.add(step)
        elif isinstance(event, StepSucceeded) and step in self._observing:
            self._observing.discard(step)
            return
        line = describe_dev_event(event)
        if line is not None:
            _write(self.out, wrap(line, terminal_width(self.out)) + "\n")
        if isinstance(event, StepFailed) and event.error.traceback and not event.will_retry:
            _write(self.out, event.error.traceback)

    def close(self) -> None:
        self._release()


def describe_dev_event(event: Event) -> str | None:
    name = step_name(event)
    if isinstance(event, StepStarted):
        if event.check_name:
            return None  # a check's verdict is its line
        again = f" (attempt {event.attempt})" if event.attempt > 1 else ""
        return f"{name} started{again}"
    if isinstance(event, StepSucceeded):
        return None if event.check_name else f"{name} materialized in {event.duration:.2f}s"
    if isinstance(event, AssetObserved):
        return f"{name} observed: data version {event.data_version}"
    if isinstance(event, StepUpToDate):
        return f"{name} up to date ({event.reason})"
    if isinstance(event, StepWaiting):
        return f"{name} waiting: run {event.holder_run_id[:8]}… is writing it"
    if isinstance(event, StepFailed):
        retry = " (will retry)" if event.will_retry else ""
        return f"{name} failed: {event.error}{facts_tail(event.metadata)}{retry}"
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
        by = _started_by(event)
        steps = len(event.selection)
        return f"run {event.run_id[:8]} started{by}: {steps} step{'s' * (steps != 1)}" + (
            f" ({why})" if why else ""
        )
    if isinstance(event, TickEvaluated):
        return describe_tick(event)
    if isinstance(event, InstigatorChanged):
        return f"{event.instigator} {event.name} {'started' if event.running else 'stopped'}"
    if isinstance(event, RunFinished):
        return f"run {event.run_id[:8]} {event.status.value}" + (
            f": {event.message}" if event.message else ""
        )
    return None


def _started_by(event: RunStarted) -> str:
    """`` by schedule nine`` for a run automation started; nothing for a person's."""
    for origin, tag in (
        (RunOrigin.SCHEDULE, "dagster/schedule_name"),
        (RunOrigin.SENSOR, "dagster/sensor_name"),
    ):
        if event.origin is origin:
            return f" by {origin.value} {event.tags.get(tag, '?')}"
    if event.origin in (RunOrigin.MANUAL, RunOrigin.DEV):
        return ""
    return f" by {event.origin.value}"


def describe_tick(event: TickEvaluated) -> str:
    head = f"{event.instigator} {event.name} "
    if event.error:
        return head + f"failed: {event.error.splitlines()[0]}"
    if event.run_ids:
        runs = ", ".join(r[:8] for r in event.run_ids)
        return head + f"requested {len(event.run_ids)} run{'s' * (len(event.run_ids) != 1)}: {runs}"
    return head + "skipped" + (f": {event.skip_reason}" if event.skip_reason else "")


def describe_reload(event: ReloadApplied) -> str:
    """``reloaded: 1 changed (beta_mid: code), 0 added, 0 removed``."""
    changed = "; ".join(
        f"{c.asset_key.to_user_string()}: {', '.join(c.attributes)}" for c in event.changed
    )
    added = ", ".join(k.to_user_string() for k in event.added)
    removed = ", ".join(k.to_user_string() for k in event.removed)
    return (
        f"reloaded: {len(event.changed)} changed"
        + (f" ({changed})" if changed else "")
        + f", {len(event.added)} added"
        + (f" ({added})" if added else "")
        + f", {len(event.removed)} removed"
        + (f" ({removed})" if removed else "")
    )


def describe_check(event: AssetCheckEvaluated) -> str:
    return f"{'✓' if event.passed else '✗'} check {check_verdict(event)}"


def check_verdict(event: AssetCheckEvaluated) -> str:
    """``customer_features:no_nulls passed``, or failed with its severity, why and facts."""
    if event.passed:
        return f"{step_name(event)} passed"
    gate = ", blocking" if event.blocking else ""
    why = f": {event.description}" if event.description else ""
    return f"{step_name(event)} failed ({event.severity}{gate}){why}{facts_tail(event.metadata)}"


def facts_tail(metadata: Mapping[str, MetadataValue]) -> str:
    """`` [rows=3, path=/x]``: a failure's or a failed check's metadata on its line (a table
    is left out: it reads as rows, not in a line); empty without any."""
    facts = ", ".join(f"{k}={v}" for k, v in metadata.items() if v.type != "table")
    return f" [{facts}]" if facts else ""


SUMMARIZED: tuple[type[Event], ...] = (
    StepFailed,
    StepSkipped,
    StepUpToDate,
    AssetMaterialized,
    AssetObserved,
    AssetCheckEvaluated,
)


def summarized_events(result: RunResult) -> list[Event]:
    """The run's events a summary reads, as Millrace's events (not ``RunResult``'s Dagster
    views, which cost an import and a copy per event), in one read: a stored run's are read
    back from the store each time they are asked for."""
    return result.recorded.events(SUMMARIZED)


def summarize(
    result: RunResult,
    elapsed: float,
    *,
    width: int | Literal["auto"] | None = "auto",
    events: list[Event] | None = None,
) -> str:
    """The one closing report of a run: ``Run <id> <STATUS>: <counts> in <time>``, then each
    failed step with its error and user-code frames, the skipped steps with why (grouped by
    reason), and each check that failed, with its severity, why and facts.

    ``width``: wrap the lines (not the tracebacks) to it; "auto", to the terminal's when
    stdout is one; None, never. ``events``: ``summarized_events(result)``, when already read.
    """
    if width == "auto":
        width = terminal_width(sys.stdout)
    if events is None:
        events = summarized_events(result)

    def of(kind: type[E]) -> list[E]:
        return [e for e in events if isinstance(e, kind)]

    canceled = result.status.value == "CANCELED"
    failures: list[StepFailed] = []
    stopped: list[StepFailed] = []
    for failure in of(StepFailed):
        if failure.will_retry:  # not the step's end: what ``step_failures`` leaves out
            continue
        if canceled and failure.error.type == "CancelledError":
            stopped.append(failure)  # stopped by the cancel: not a failure of its own
        else:
            failures.append(failure)
    skips = of(StepSkipped)
    evaluations = of(AssetCheckEvaluated)
    failed_checks = [e for e in evaluations if not e.passed]
    materialized = len(of(AssetMaterialized))
    observed = len(of(AssetObserved))
    parts = [f"{materialized} materialized"] if materialized or not observed else []
    if observed:
        parts.append(f"{observed} observed")
    current = [e for e in of(StepUpToDate) if not e.check_name]
    if current:
        parts.append(f"{len(current)} up to date")
    if failures:
        parts.append(f"{len(failures)} failed")
    if stopped:
        parts.append(f"{len(stopped)} canceled")
    if skips:
        parts.append(f"{len(skips)} skipped")
    if evaluations:
        parts.append(f"{len(evaluations) - len(failed_checks)}/{len(evaluations)} checks passed")
    head = f"Run {result.run_id} {result.status.value}: {', '.join(parts)} in {elapsed:.2f}s"
    lines = [wrap(head, width)]
    for failure in failures:
        error = failure.error
        what = "check" if failure.check_name else "asset"
        facts = facts_tail(failure.metadata)
        lines.append(wrap(f"✗ {what} '{step_name(failure)}' failed: {error}{facts}", width))
        if error.traceback:
            lines.append(error.traceback.rstrip())
        if error.cause:
            lines.append(wrap(f"  caused by {error.cause}", width))
    if stopped:
        lines.append(wrap(f"- {_names(stopped)} canceled while running", width))
    by_reason: dict[str, list[Event]] = {}
    for skip in skips:
        by_reason.setdefault(skip.reason, []).append(skip)
    for reason, skipped in by_reason.items():
        lines.append(wrap(f"- {_names(skipped)} skipped: {reason}", width))
    for check in failed_checks:
        lines.append(wrap(describe_check(check), width))
        if check.error is not None and check.error.traceback:
            lines.append(check.error.traceback.rstrip())
    return "\n".join(lines)


SUMMARY_NAMES = 10  # steps named on one line of the summary; the rest are counted


def _names(events: list[Any]) -> str:
    names = [step_name(e) for e in events]
    more = len(names) - SUMMARY_NAMES
    return ", ".join(names[:SUMMARY_NAMES]) + (f" and {more} more" if more > 0 else "")
