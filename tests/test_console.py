"""The line-mode console (``millrace materialize``, ``millrace dev --headless``): one summary at
the end of a run, a WARN check told once, the live line's counts and ticking clock, wrapping
on a terminal only, ``millrace logs`` naming check steps, ``--version`` and the help examples.

The end-to-end tests run real subprocesses; the printers are tested in process, writing to a
StringIO or to a Rich console that records.
"""

from __future__ import annotations

import io
import re
import subprocess
import time
from pathlib import Path

import millrace
import pytest
from conftest import run_cli, write_source
from millrace.cli import main
from millrace.console import (
    DevPrinter,
    LinePrinter,
    LivePrinter,
    ProgressLine,
    Tally,
    describe_started,
    summarize,
    wrap,
)
from millrace.declarations.keys import AssetKey
from millrace.events import (
    AssetCheckEvaluated,
    ErrorInfo,
    LogMessage,
    RunFinished,
    RunStarted,
    RunStatus,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepSucceeded,
)
from millrace.execution.result import RunResult
from millrace.runtime.loader import load_code_location
from millrace.selection import resolve_selection
from rich.console import Console

QUICKSTART = Path(__file__).resolve().parents[1] / "examples" / "quickstart"

PROJECT = """
    from millrace import AssetCheckResult, AssetCheckSeverity, asset, asset_check


    def parse(value):
        raise ValueError(f"cannot parse {value!r}")


    @asset
    def source() -> int:
        return 7


    @asset
    def broken(source: int) -> int:
        return parse(source)


    @asset
    def after_broken(broken: int) -> int:
        return broken + 1


    @asset
    def report(after_broken: int) -> int:
        return after_broken


    @asset_check(asset=source)
    def source_is_recent(source: int) -> AssetCheckResult:
        return AssetCheckResult(
            passed=False,
            severity=AssetCheckSeverity.WARN,
            description="3 customers have not bought anything this week",
            metadata={"stale_customers": 3},
        )


    @asset_check(asset=source)
    def source_is_positive(source: int) -> AssetCheckResult:
        return AssetCheckResult(passed=source > 0)
"""


class Runs:
    """The project materialized twice: ``source`` alone (SUCCESS, with its WARN check), then
    everything (FAILURE: ``broken`` fails, its downstream is skipped)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.code = write_source(root / "proj" / "project.py", PROJECT)
        self.success = self.cli("materialize", self.code, "--select", "source")
        self.failure = self.cli("materialize", self.code)

    def cli(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, cwd=self.root, home=self.home)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("console"))


def summary_at(lines: list[str], status: str) -> int:
    """The index of the only line that names the run's status: the summary's first."""
    found = [i for i, line in enumerate(lines) if status in line]
    assert len(found) == 1, lines
    assert re.fullmatch(rf"Run [0-9a-f]{{32}} {status}: .* in \d+\.\d\ds", lines[found[0]])
    return found[0]


# -- the end of a run, end to end ------------------------------------------------------------


def test_a_successful_run_ends_with_one_summary_and_its_warn_check_once(runs: Runs):
    result = runs.success
    assert result.returncode == 0, (result.stdout, result.stderr)  # a WARN check never fails
    lines = result.stdout.splitlines()

    at = summary_at(lines + result.stderr.splitlines(), "SUCCESS")
    assert lines[at].startswith("Run ") and "1 materialized, 1/2 checks passed" in lines[at]
    told = [line for line in lines if "source_is_recent" in line]
    assert told == [
        "✗ check source:source_is_recent failed (WARN): 3 customers have not bought anything "
        "this week [stale_customers=3]"
    ]
    assert lines.index(told[0]) > at  # in the summary, not also as it happened
    assert "source_is_recent" not in result.stderr
    assert "✓ check source:source_is_positive passed" in lines[:at]  # a step's line, live


def test_a_failed_run_lists_its_failed_and_skipped_steps_with_why(runs: Runs):
    result = runs.failure
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()

    at = summary_at(lines + result.stderr.splitlines(), "FAILURE")
    assert "1 failed, 2 skipped" in lines[at]
    after = lines[at + 1 :]
    assert "✗ asset 'broken' failed: ValueError: cannot parse 7" in after
    assert any(re.search(r'File ".*project\.py", line \d+, in broken', line) for line in after)
    assert "- after_broken, report skipped: upstream broken failed" in after
    assert [line for line in lines if "source_is_recent" in line] == [
        next(line for line in after if "source_is_recent" in line)
    ]
    assert not any(line.startswith("run ") for line in lines)  # no second "run <id> FAILURE"


def test_logs_names_the_check_of_a_check_step(runs: Runs):
    run_id = re.search(r"^Run ([0-9a-f]{32}) FAILURE", runs.failure.stdout, re.M)
    assert run_id, runs.failure.stdout
    result = runs.cli("logs", run_id[1], runs.code)

    assert result.returncode == 0, result.stderr
    started = re.findall(r"▶ (\S+) started$", result.stdout, re.M)
    assert {"source:source_is_recent", "source:source_is_positive", "source"} <= set(started)
    assert "✗ check source:source_is_recent failed (WARN)" in result.stdout


def test_version(tmp_path: Path):
    result = run_cli("--version", cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == f"millrace {millrace.__version__}\n"


# -- the help examples -----------------------------------------------------------------------


def select_examples(capsys: pytest.CaptureFixture[str]) -> list[str]:
    with pytest.raises(SystemExit):
        main(["materialize", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    match = re.search(r"--select SELECT, -s SELECT (.*?) --max-concurrency", text)
    assert match, text
    return re.findall(r"'([^']+)'", match[1])


def test_the_select_help_examples_select_something_in_the_quickstart(
    capsys: pytest.CaptureFixture[str],
):
    examples = select_examples(capsys)
    graph = load_code_location(QUICKSTART).defs.graph
    # As after the README's edit of top_customers: it is stale, the others fresh.
    statuses = {key: "fresh" for key in graph.nodes}
    statuses[AssetKey("top_customers")] = "stale"

    assert len(examples) >= 4, examples
    selected = {e: resolve_selection(e, graph, statuses) for e in examples}  # none is empty
    names = {e: {k.to_user_string() for k in keys} for e, keys in selected.items()}
    assert names["customer_features"] == {"customer_features"}
    assert names["*customer_features"] == {
        "raw_transactions",
        "clean_transactions",
        "customer_features",
    }
    assert names["group:features"] == {"clean_transactions", "customer_features"}
    assert names["status:stale"] == {"top_customers"}


# -- the printers, in process ----------------------------------------------------------------

RUN = "0" * 32


def key(name: str) -> AssetKey:
    return AssetKey(name)


def started_run(*names: str) -> RunStarted:
    return RunStarted(run_id=RUN, selection=names)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def rendered(line: ProgressLine) -> str:
    console = Console(file=io.StringIO(), width=100, record=True)
    console.print(line)
    return console.export_text()


def terminal_console() -> tuple[Console, io.StringIO]:
    """A Rich console that draws as on a terminal (the live display), into a StringIO."""
    drawn = io.StringIO()
    return Console(file=drawn, width=100, force_terminal=True), drawn


def test_the_live_line_counts_assets_and_checks_apart():
    tally = Tally(7)
    line = ProgressLine(tally)
    for event in (
        started_run("a", "b", "c", "d", "a:x", "a:y", "b:z"),
        StepStarted(run_id=RUN, asset_key=key("a")),
        StepSucceeded(run_id=RUN, asset_key=key("a")),
        StepStarted(run_id=RUN, asset_key=key("b")),
        StepSucceeded(run_id=RUN, asset_key=key("b")),
        StepStarted(run_id=RUN, asset_key=key("a"), check_name="x"),
        StepSucceeded(run_id=RUN, asset_key=key("a"), check_name="x"),
        AssetCheckEvaluated(run_id=RUN, asset_key=key("a"), check_name="x", passed=False),
        StepStarted(run_id=RUN, asset_key=key("c")),
    ):
        tally.update(event)

    text = rendered(line)
    assert "done 2/4 assets, 1/3 checks (1 did not pass)" in text
    assert "running 1" in text and "now: c" in text


def test_a_check_its_asset_reports_is_counted_when_it_arrives():
    tally = Tally(1)
    tally.update(started_run("a"))
    tally.update(StepSucceeded(run_id=RUN, asset_key=key("a")))
    for _ in range(2):  # the same verdict twice (a retry) is one check
        tally.update(AssetCheckEvaluated(run_id=RUN, asset_key=key("a"), check_name="own"))

    assert tally.snapshot().counts() == "done 1/1 assets, 1/1 checks"


def test_the_live_lines_clock_is_read_when_it_renders_not_when_an_event_comes():
    clock = FakeClock()
    line = ProgressLine(Tally(3, clock=clock))

    clock.now += 1.5  # no event in between
    first = rendered(line)
    clock.now += 1.5
    second = rendered(line)

    assert re.search(r"  1\.5s$", first, re.M), first
    assert re.search(r"  3\.0s$", second, re.M), second


def test_the_live_display_refreshes_on_a_timer_without_events():
    console, drawn = terminal_console()
    printer = LivePrinter(2, console, refresh_per_second=50)
    try:
        printer(started_run("slow", "slow:check"))
        printer(StepStarted(run_id=RUN, asset_key=key("slow")))
        time.sleep(0.35)  # a long first step: nothing is published
    finally:
        printer.close()

    text = drawn.getvalue()
    clocks = {float(s) for s in re.findall(r"(\d+\.\d)s", text)}
    assert len(clocks) >= 2 and max(clocks) >= 0.2, text
    assert "done 0/1 assets, 0/1 checks" in text and "now: slow" in text


def test_the_live_display_prints_a_failure_above_it_but_not_a_failed_check():
    console, drawn = terminal_console()
    printer = LivePrinter(2, console)
    try:
        printer(started_run("a", "a:warns"))
        printer(StepFailed(run_id=RUN, asset_key=key("a"), error=ErrorInfo("ValueError", "no")))
        printer(
            AssetCheckEvaluated(
                run_id=RUN, asset_key=key("a"), check_name="warns", passed=False, severity="WARN"
            )
        )
    finally:
        printer.close()

    assert "✗ a: ValueError: no" in drawn.getvalue()
    assert "a:warns" not in drawn.getvalue()  # told once, by the summary


def test_the_line_printer_leaves_the_end_and_failed_checks_to_the_summary():
    out = io.StringIO()
    printer = LinePrinter(3, out)
    for event in (
        started_run("a", "a:ok", "a:warns"),
        StepSucceeded(run_id=RUN, asset_key=key("a"), duration=0.5),
        AssetCheckEvaluated(run_id=RUN, asset_key=key("a"), check_name="ok"),
        AssetCheckEvaluated(
            run_id=RUN, asset_key=key("a"), check_name="warns", passed=False, severity="WARN"
        ),
        RunFinished(run_id=RUN, status=RunStatus.SUCCESS),
    ):
        printer(event)
    printer.close()

    assert out.getvalue() == "✓ a (0.50s)\n✓ check a:ok passed\n"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


LONG = "kept 979,944 of 1,000,000 transactions after dropping the nulls and the outliers above"


PRINTERS = {
    "materialize": (lambda out: LinePrinter(1, out), "  clean INFO: "),
    "dev --headless": (DevPrinter, "clean INFO: "),
}


@pytest.mark.parametrize("command", PRINTERS)
def test_lines_wrap_at_words_on_a_terminal(command: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "40")
    make, prefix = PRINTERS[command]
    out = Terminal()
    printer = make(out)
    printer(LogMessage(run_id=RUN, asset_key=key("clean"), message=LONG))
    printer.close()

    lines = out.getvalue().splitlines()
    assert len(lines) > 1 and all(len(line) <= 40 for line in lines), lines
    assert lines[0].startswith(f"{prefix}kept")
    indent = " " * (len(prefix) - len(prefix.lstrip()) + 4)  # its own indent, and 4 more
    assert all(line.startswith(indent) and line[len(indent)] != " " for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == f"{prefix.strip()} {LONG}"


@pytest.mark.parametrize("command", PRINTERS)
def test_lines_never_wrap_in_a_pipe(command: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "40")
    make, prefix = PRINTERS[command]
    out = io.StringIO()  # not a terminal
    printer = make(out)
    printer(LogMessage(run_id=RUN, asset_key=key("clean"), message=LONG))
    printer.close()

    assert out.getvalue() == f"{prefix}{LONG}\n"


def test_wrap_keeps_long_words_whole_and_other_lines_as_they_are():
    path = "/a/very/long/path/that/cannot/be/broken/anywhere.parquet"
    text = wrap(f"✗ cannot read {path} at all\n  short", 30)

    assert text.splitlines() == ["✗ cannot read", f"    {path}", "    at all", "  short"]
    assert wrap("anything at all, however long it is", None) == (
        "anything at all, however long it is"
    )


def test_the_summary_groups_skips_by_reason_and_never_wraps_a_traceback():
    trace = '  File "/p/assets.py", line 3, in broken\n    return parse(source, and_more_arguments)'
    events = [
        StepFailed(run_id=RUN, asset_key=key("broken"), error=ErrorInfo("ValueError", "x", trace)),
        *(
            StepSkipped(run_id=RUN, asset_key=key(n), reason="upstream broken failed")
            for n in ("b", "c")
        ),
        StepSkipped(run_id=RUN, asset_key=key("d"), reason="blocked by check gate on a"),
    ]
    result = RunResult(RUN, RunStatus.FAILURE, events)

    text = summarize(result, 1.5, width=None)
    assert text.splitlines() == [
        f"Run {RUN} FAILURE: 0 materialized, 1 failed, 3 skipped in 1.50s",
        "✗ asset 'broken' failed: ValueError: x",
        *trace.splitlines(),
        "- b, c skipped: upstream broken failed",
        "- d skipped: blocked by check gate on a",
    ]
    narrow = summarize(result, 1.5, width=40).splitlines()
    assert narrow[:2] == [f"Run {RUN}", "    FAILURE: 0 materialized, 1 failed, 3"]
    assert trace in "\n".join(narrow)


def test_a_started_line_names_the_check_and_the_attempt():
    check = StepStarted(run_id=RUN, asset_key=key("a"), check_name="no_nulls")
    retry = StepStarted(run_id=RUN, asset_key=key("a"), attempt=2)

    assert describe_started(check) == "▶ a:no_nulls started"
    assert describe_started(retry) == "▶ a started (attempt 2)"
