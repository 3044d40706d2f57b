"""``millrace``: the command line. Thin: it parses, drives the Runtime and prints."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .errors import MillraceError, SelectionError
from .interrupts import EXIT_CANCELED, on_interrupts
from .reports import when

# The runtime, the store, the loader and asyncio load inside the commands that use them:
# --help, a usage error and each command pay only for what they run.
if TYPE_CHECKING:
    import asyncio

    from .runtime.loader import CodeLocation
    from .runtime.runtime import Runtime
    from .storage.event_store import EventStore

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = _parser(argv[0] if argv else None).parse_args(argv)
    try:
        code = int(args.command(args) or 0)
        sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
        return code
    except MillraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # The reader left early (``millrace list --json | head``): go quiet, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only``, the first argument, the parser of that
    command alone, when it is one: a command then pays for its own options, not for the
    options of twenty (the rest would be parsed nowhere: argparse hands every argument
    after a command's name to that command's parser)."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="millrace", description="A local, asset-centric data orchestrator."
    )
    parser.add_argument("--version", action="version", version=f"millrace {__version__}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    built: list[str] = []

    def command(name: str, fn: Any, help: str, *, path: bool = True) -> argparse.ArgumentParser:
        if only is not None and name != only:
            return cast(argparse.ArgumentParser, _Unbuilt())
        built.append(name)
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(command=fn)
        if path:
            p.add_argument(
                "path",
                nargs="?",
                default=".",
                help="a Python file, a package or directory, or a module name (default: .)",
            )
        p.add_argument(
            "--home",
            help="where runs and values are kept (default: $MILLRACE_HOME, else .millrace in "
            "the project root: the nearest directory above the code with pyproject.toml, "
            "setup.py or .git, else the code's own directory)",
        )
        p.add_argument(
            "-a",
            "--attribute",
            metavar="NAME",
            help="the Definitions object to load, when the code defines several",
        )
        return p

    p = command("materialize", _materialize, "Materialize the selected assets.")
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--job",
        metavar="NAME",
        help="the assets of job NAME (define_asset_job), with its tags and config",
    )
    what.add_argument(
        "--select",
        "-s",
        help="e.g. 'customer_features', '*customer_features' (with all it depends on), "
        "'group:features', 'status:stale'; commas for a union (default: every asset)",
    )
    p.add_argument(
        "--max-concurrency",
        type=_positive_int,
        default=None,
        help="steps running at once (default: min(32, CPUs + 4))",
    )
    _run_options(p, "the partition of partitioned assets to run")
    _config_options(p)

    p = command(
        "observe",
        _observe,
        "Observe the selected observable source assets (every one by default): record the "
        "data version each observation function returns.",
    )
    p.add_argument(
        "--select",
        "-s",
        help="the sources to observe, e.g. 'raw_orders', 'group:sources'; commas for a union "
        "(default: every observable source asset)",
    )
    _run_options(p, "the partition of partitioned sources to observe")

    p = command("check", _check, "Run the checks of the selected assets on stored data.")
    p.add_argument("--select", "-s", help="the assets whose checks run (default: all)")
    p.add_argument("--partition", metavar="KEY", help="the partition checked, if partitioned")
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")

    p = command("list", _list, "List assets, their groups and dependencies.")
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("runs", _runs, "List recent runs.")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="print JSON")

    p = command("logs", _logs, "Print the events and logs of one run.", path=False)
    p.add_argument("run_id", help="a run id, or a unique prefix of one")
    p.add_argument("path", nargs="?", default=".", help="the code location (default: .)")
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")

    from .partition_commands import add_backfill_parsers, add_parser

    add_parser(command)
    add_backfill_parsers(command, _positive_int)

    from .job_commands import add_jobs_parser

    add_jobs_parser(command)

    p = command("status", _status, "Which assets are fresh, stale, missing or failed, and why.")
    p.add_argument("--json", action="store_true", help="one JSON object per line per asset")
    p.add_argument(
        "--partitions",
        metavar="ASSET",
        help="every stale partition of ASSET with its cause (millrace partitions: all, as ranges)",
    )

    p = command(
        "lineage",
        _lineage,
        "Show the materializations that produced an asset's latest one.",
        path=False,
    )
    p.add_argument(
        "asset", help="an asset key, e.g. 'customer_features' (with a key prefix: 'prefix/name')"
    )
    p.add_argument("path", nargs="?", default=".", help="the code location (default: .)")
    p.add_argument(
        "--downstream",
        action="store_true",
        help="the current downstream assets instead, and whether each consumed this data",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")

    command(
        "ui",
        _ui,
        "Open the terminal UI read-only over a home another process writes.",
    )

    p = command(
        "doctor",
        _doctor,
        "Check the home (history database, stored files) and, with --repair, fix it.",
    )
    p.add_argument(
        "--repair",
        action="store_true",
        help="move a damaged database aside and start afresh, keeping what still reads; "
        "mark dead runs failed; remove half-written files",
    )

    p = command(
        "dev",
        _dev,
        "Watch the code: reload on every save and re-run what the edit changed.",
    )
    p.add_argument(
        "--headless",
        action="store_true",
        help="print events as lines instead of opening the terminal UI (also without a terminal)",
    )
    p.add_argument("--json", action="store_true", help="with --headless: print JSON lines")
    p.add_argument(
        "--no-auto",
        dest="auto",
        action="store_false",
        help="reload only: do not re-run what an edit changed",
    )
    p.add_argument(
        "--run-stale",
        action="store_true",
        help="at start, materialize every stale and missing asset",
    )
    _config_options(p)
    p.add_argument(
        "--max-concurrency",
        type=_positive_int,
        default=None,
        help="steps running at once (default: min(32, CPUs + 4))",
    )

    from .automation_commands import add_parsers

    add_parsers(command, _positive_int)
    if only is not None and not built:  # not a command: the full parser says which are
        return _parser()
    return parser


class _Unbuilt:
    """A command's parser, not built: every option added to it goes nowhere."""

    def __getattr__(self, name: str) -> Callable[..., _Unbuilt]:
        return lambda *args, **kwargs: self


def _run_options(p: argparse.ArgumentParser, partition: str) -> None:
    """What every command that starts a run takes: tags, a partition, JSON output."""
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="run tag")
    p.add_argument("--partition", metavar="KEY", help=partition)
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")


def _config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="FILE",
        help="run config, YAML or JSON, in Dagster's shape: {ops: {ASSET: {config: {...}}}}",
    )
    p.add_argument(
        "-c",
        dest="config_values",
        action="append",
        default=[],
        metavar="ASSET.FIELD=VALUE",
        help="one config value (JSON, else a string); wins over --config",
    )


# -- materialize -----------------------------------------------------------------------------


def _location(args: argparse.Namespace) -> CodeLocation:
    from .runtime.loader import load_code_location

    return load_code_location(args.path, attribute=args.attribute)


def _runtime(args: argparse.Namespace, **options: Any) -> Runtime:
    """The code loaded and versioned for a command that does not reload: built as objects
    that live as long as the process (``long_lived``)."""
    from .runtime.long_lived import long_lived
    from .runtime.runtime import Runtime

    with long_lived():
        return Runtime(_location(args), home=args.home, **options)


def _concurrency(args: argparse.Namespace) -> dict[str, Any]:
    """``--max-concurrency`` when given; else the Runtime's own default applies."""
    return {} if args.max_concurrency is None else {"max_concurrency": args.max_concurrency}


def _await(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run``, imported by the commands that run a loop and by no other."""
    import asyncio

    return asyncio.run(main)


def _materialize(args: argparse.Namespace) -> int:
    from .runtime.long_lived import long_lived

    with long_lived():  # as _runtime, with the run's plan and the modules it imports
        from .runtime.runtime import Runtime
        from .selection import as_selection

        location = _location(args)
        tags = dict(_key_value(t, "--tag") for t in args.tag)
        runtime = Runtime(location, home=args.home, **_concurrency(args))
        run_config = _run_config(args.config, args.config_values)
        if args.job is not None:
            from .declarations.job import job_selection

            run = job_selection(location.defs, args.job, tags=tags, run_config=run_config)
            plan = runtime.plan(list(run.asset_keys), args.partition)
            running = _run(runtime, plan, run.tags, args.json, run.run_config)
        elif as_selection(args.select).needs_statuses:  # resolved against the history, once open
            running = _run(
                runtime, args.select, tags, args.json, run_config, partition=args.partition
            )
        else:
            plan = runtime.plan(args.select, args.partition)
            running = _run(runtime, plan, tags, args.json, run_config)
    return _await(running)


def _observe(args: argparse.Namespace) -> int:
    """An observation run (what ``observe_in`` starts): a plan of observation steps alone."""
    from .runtime.long_lived import long_lived

    with long_lived():
        from .observation import observable_keys
        from .runtime.runtime import Runtime

        location = _location(args)
        tags = dict(_key_value(t, "--tag") for t in args.tag)
        runtime = Runtime(location, home=args.home)
        plan = runtime.plan(observable_keys(location.defs.graph, args.select), args.partition)
    return _await(_run(runtime, plan, tags, args.json))


def _run_config(path: str | None, values: list[str]) -> dict[str, Any]:
    if path is None and not values:
        return {}
    from .declarations.config import load_config_file, merge_run_config, parse_config_overrides

    base = load_config_file(path) if path else {}
    return merge_run_config(base, parse_config_overrides(values))


def _check(args: argparse.Namespace) -> int:
    from .runtime.long_lived import long_lived

    with long_lived():
        from .runtime.runtime import Runtime

        runtime = Runtime(_location(args), home=args.home)
        plan = runtime.plan(args.select, args.partition, checks_only=True)
    return _await(_run(runtime, plan, {}, args.json, fail_on_error_checks=True))


async def _run(
    runtime: Runtime,
    plan: Any,
    tags: dict[str, str],
    as_json: bool,
    run_config: dict[str, Any] | None = None,
    *,
    fail_on_error_checks: bool = False,
    partition: str | None = None,
) -> int:
    """Run a plan (made before anything is opened, so a bad selection fails first), or a
    ``status:`` selection, resolved once the history is open.

    ``fail_on_error_checks``: any failed ERROR check fails the command, blocking or not, so
    ``millrace check`` can gate CI.
    """
    async with runtime:
        if isinstance(plan, str):
            try:
                plan = await runtime.resolve_plan(plan, partition)
            except SelectionError as exc:
                if "matches no asset" not in str(exc):
                    raise
                print(f"nothing to materialize: no asset matches {plan}")
                return 0

        async def start() -> Any:
            return runtime.submit(plan=plan, tags=tags, run_config=run_config)

        return await follow(runtime, start, as_json, fail_on_error_checks=fail_on_error_checks)


async def follow(
    runtime: Runtime,
    start: Callable[[], Awaitable[Any]],
    as_json: bool,
    *,
    fail_on_error_checks: bool = False,
    report: Callable[[Any], None] | None = None,
) -> int:
    """Start a run (``start`` returns its handle), print it as it goes and sum it up;
    the exit code says how it ended. ``report`` prints more after the summary."""
    from .console import JsonPrinter, LinePrinter, LivePrinter, summarize, summarized_events
    from .events import AssetCheckEvaluated

    handle = await start()
    steps = len(handle.plan)
    if as_json:
        printer: Any = JsonPrinter()
    elif sys.stderr.isatty():
        printer = LivePrinter(steps)
    else:
        printer = LinePrinter(steps)
    try:  # from here on, every way out puts the terminal back (the cursor, the live line)
        runtime.listen(printer)  # before the run's task takes its first step
        started = time.monotonic()
        _cancel_on_interrupt(handle, printer)
        result = await handle
    finally:
        printer.close()
    events = summarized_events(result)
    if not as_json:
        print(summarize(result, time.monotonic() - started, events=events))
        if report is not None:
            report(result)
    if result.status.value == "CANCELED":
        return EXIT_CANCELED
    failed_checks = [
        e
        for e in events
        if isinstance(e, AssetCheckEvaluated) and not e.passed and e.severity == "ERROR"
    ]
    if not result.success or (fail_on_error_checks and failed_checks):
        return EXIT_FAILURE
    return 0


def _cancel_on_interrupt(handle: Any, printer: Any) -> None:
    """First Ctrl-C: stop launching and cancel async steps. Second: put the terminal back,
    tear down the run's resources (a bounded wait), and exit."""

    def cancel() -> None:
        print(
            "\ncanceling: no new steps start; running ones are finishing (Ctrl-C again to force)",
            file=sys.stderr,
        )
        handle.cancel()

    on_interrupts(
        cancel, forced="forced exit; the run will be marked failed", before_exit=printer.close
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _key_value(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise MillraceError(f"{flag} takes KEY=VALUE, got {text!r}")
    return key, value


# -- list ------------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from .reports import asset_list, list_text

    location = _location(args)
    latest, checks = _await(_latest(_home_of(location, args.home)))
    graph = location.defs.graph
    rows = asset_list(graph, latest, checks)
    print(json.dumps(rows, indent=2) if args.json else list_text(graph, rows))
    return 0


async def _latest(home: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from .storage.event_store import DATABASE, EventStore

    if not (home / DATABASE).exists():
        return {}, {}
    async with await EventStore.open(home, readonly=True) as store:
        return await store.latest_materializations(), await store.latest_check_results()


# -- status and lineage ----------------------------------------------------------------------


def _status(args: argparse.Namespace) -> int:
    from .reports import status_table

    if args.partitions:
        from .partition_commands import stale_partitions

        return stale_partitions(args, args.partitions)
    rows = _with_runtime(args, lambda runtime: runtime.catalog())
    if args.json:
        for row in rows:
            print(json.dumps(row.to_json(), default=str))
    else:
        print(status_table(rows))
    return 0


def _lineage(args: argparse.Namespace) -> int:
    from .reports import lineage_text

    tree = _with_runtime(args, lambda rt: rt.lineage(args.asset, downstream=args.downstream))
    if tree is None:
        raise MillraceError(f"'{args.asset}' has never been materialized")
    if args.json:
        print(json.dumps(tree, indent=2, default=str))
    else:
        print(lineage_text(tree, downstream=args.downstream))
    return 0


def _with_runtime(args: argparse.Namespace, query: Callable[[Runtime], Awaitable[Any]]) -> Any:
    """Load the code, open its history read-only and await ``query(runtime)``."""
    runtime = _runtime(args, readonly=True)

    async def ask() -> Any:
        async with runtime:
            return await query(runtime)

    return _await(ask())


# -- doctor ----------------------------------------------------------------------------------


def _doctor(args: argparse.Namespace) -> int:
    from .storage.doctor import examine, repair

    home = _home_of(None, args.home, args.path)
    if args.repair:
        for line in repair(home):
            print(f"repaired: {line}")
        if home.is_dir():
            _await(_open_and_close(home))  # migrates; marks dead runs failed
    findings = examine(home)
    for finding in findings:
        print(finding)
    return EXIT_FAILURE if any(f.level == "error" for f in findings) else 0


async def _open_and_close(home: Path) -> None:
    from .storage.event_store import EventStore

    store = await EventStore.open(home)
    await store.close()


# -- dev -------------------------------------------------------------------------------------


def _dev(args: argparse.Namespace) -> int:
    return _await(_dev_loop(args))


async def _dev_loop(args: argparse.Namespace) -> int:
    """The terminal UI on a terminal; without one (or with --headless), lines."""
    import asyncio

    from .console import DevPrinter, JsonPrinter
    from .runtime.dev import DevLoop
    from .runtime.runtime import Runtime

    run_config = _run_config(args.config, args.config_values)  # a bad -c fails at once
    tui = not (args.headless or args.json) and sys.stdin.isatty() and sys.stdout.isatty()
    printer: Any = JsonPrinter() if args.json else DevPrinter(sys.stderr if tui else None)
    stop = asyncio.Event()
    if not tui:
        _stop_on_interrupt(stop)
    location = await watched_location(args, printer, stop)
    if location is None:
        return EXIT_CANCELED
    from .runtime.long_lived import long_lived

    with long_lived():  # the first load only: see long_lived
        runtime = Runtime(location, home=args.home, **_concurrency(args))
    async with runtime as rt:
        await rt.start_automation()  # the code's schedules and sensors tick while developing
        loop = DevLoop(rt, auto=args.auto, run_stale=args.run_stale, run_config=run_config)
        if tui:
            from .tui.app import MillraceApp

            await MillraceApp(rt, dev=loop).run_async()
            return 0
        rt.listen(printer)
        await loop.run(stop=stop)
    printer.close()
    return 0


async def watched_location(
    args: argparse.Namespace, printer: Any, stop: asyncio.Event
) -> CodeLocation | None:
    """The code ``dev`` and ``serve`` watch, loaded once it loads (they wait for a file that
    does not load yet to be fixed), or None if stopped first."""
    from .runtime.dev import first_load
    from .runtime.loader import code_directory

    directory = code_directory(args.path)
    home = _home_of(None, args.home, args.path)
    return await first_load(
        args.path, args.attribute, directory, ignore=[home], report=printer, stop=stop
    )


def _ui(args: argparse.Namespace) -> int:
    from .tui.app import MillraceApp

    runtime = _runtime(args, readonly=True)  # never reloads: its code lives as long as it

    async def show() -> None:
        async with runtime:
            await MillraceApp(runtime, readonly=True).run_async()

    _await(show())
    return 0


def _stop_on_interrupt(stop: asyncio.Event) -> None:
    """First Ctrl-C: stop watching, cancel what runs (recorded as canceled). Second: tear down
    the runs' resources (a bounded wait) and exit."""

    def stop_watching() -> None:
        print("\nstopping: canceling runs in flight (Ctrl-C again to force)", file=sys.stderr)
        stop.set()

    on_interrupts(stop_watching, forced="forced exit; runs in flight will be marked failed")


# -- runs and logs ---------------------------------------------------------------------------


def _home_of(location: CodeLocation | None, home: str | None, path: str = ".") -> Path:
    from .runtime.loader import code_directory, project_root
    from .runtime.runtime import HOME_ENV, resolve_home

    if location is not None:
        return resolve_home(location.root, home)
    if home is not None or os.environ.get(HOME_ENV):
        return resolve_home(None, home)
    return resolve_home(project_root(code_directory(path)), home)


def _runs(args: argparse.Namespace) -> int:
    home = _home_of(None, args.home, args.path)
    runs = _await(_query(home, lambda store: store.runs(args.limit)))
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2))
        return 0
    if not runs:
        print(f"no runs in {home}")
        return 0
    print(f"{'RUN':10} {'STATUS':9} {'ORIGIN':10} {'STARTED':19} {'TOOK':>8}  SELECTION")
    for run in runs:
        took = f"{run.end_time - run.start_time:.2f}s" if run.end_time else "-"
        selection = ", ".join(run.selection)
        if len(selection) > 50:
            selection = selection[:47] + "..."
        print(
            f"{run.run_id[:8]:10} {run.status.value:9} {run.origin.value:10} "
            f"{when(run.start_time):19} "
            f"{took:>8}  {selection}"
        )
    return 0


def _logs(args: argparse.Namespace) -> int:
    from .console import describe_event, describe_started

    home = _home_of(None, args.home, args.path)

    async def fetch(store: EventStore) -> tuple[Any, list[Any]]:
        run = await store.run(args.run_id)
        return run, (await store.events(run.run_id) if run else [])

    run, events = _await(_query(home, fetch))
    if run is None:
        raise MillraceError(f"no single run matches {args.run_id!r} in {home}")
    if args.json:
        for event in events:
            print(json.dumps(event.to_json(), default=str))
        return 0
    print(f"run {run.run_id} {run.status.value}, started {when(run.start_time)}")
    for event in events:
        if event.kind == "STEP_STARTED":
            line: str | None = describe_started(event)
        else:
            line = describe_event(event)
        if line is not None:
            print(f"{_clock(event.timestamp)} {line}")
        if event.kind == "STEP_FAILED" and event.error.traceback:
            print(event.error.traceback.rstrip())
    return 0


async def _query(home: Path, fetch: Any) -> Any:
    from .storage.event_store import EventStore

    async with await EventStore.open(home, readonly=True) as store:
        return await fetch(store)


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]


if __name__ == "__main__":
    sys.exit(main())
