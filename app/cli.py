"""``millrace``: the command line. Thin: it parses, drives the Runtime and prints."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import MillraceError
from .execution.executor import DEFAULT_MAX_CONCURRENCY
from .runtime.loader import CodeLocation, load_code_location
from .runtime.runtime import Runtime, resolve_home
from .storage.event_store import EventStore

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CANCELED = 130


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return int(args.command(args) or 0)
    except MillraceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="millrace", description="A local, asset-centric data orchestrator."
    )
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, fn: Any, help: str, *, path: bool = True) -> argparse.ArgumentParser:
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
            help="where runs and values are kept (default: $MILLRACE_HOME, else .millrace "
            "beside the code)",
        )
        return p

    p = command("materialize", _materialize, "Materialize the selected assets.")
    p.add_argument("--select", "-s", help="e.g. 'customer_features', '*features', 'group:raw'")
    p.add_argument(
        "--max-concurrency",
        type=int,
        default=DEFAULT_MAX_CONCURRENCY,
        help=f"steps running at once (default: {DEFAULT_MAX_CONCURRENCY}, i.e. min(32, CPUs + 4))",
    )
    p.add_argument("--tag", action="append", default=[], metavar="KEY=VALUE", help="run tag")
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
    return parser


# -- materialize -----------------------------------------------------------------------------


def _materialize(args: argparse.Namespace) -> int:
    location = load_code_location(args.path)
    tags = dict(_key_value(t, "--tag") for t in args.tag)
    runtime = Runtime(
        location.defs,
        home=resolve_home(location.directory, args.home),
        max_concurrency=args.max_concurrency,
    )
    return asyncio.run(_run_materialize(runtime, args.select, tags, args.json))


async def _run_materialize(
    runtime: Runtime, select: str | None, tags: dict[str, str], as_json: bool
) -> int:
    from .console import JsonPrinter, LinePrinter, LivePrinter, summarize

    plan = runtime.plan(select)  # a bad selection fails before anything is opened
    async with runtime:
        if as_json:
            printer: Any = JsonPrinter()
        elif sys.stderr.isatty():
            printer = LivePrinter(len(plan))
        else:
            printer = LinePrinter(len(plan))
        runtime.subscribe(printer)
        started = time.monotonic()
        handle = runtime.submit(plan=plan, tags=tags)
        _cancel_on_interrupt(handle, len(plan))
        try:
            result = await handle
        finally:
            printer.close()
    if not as_json:
        print(summarize(result, time.monotonic() - started))
    if result.status.value == "CANCELED":
        return EXIT_CANCELED
    return 0 if result.success else EXIT_FAILURE


def _cancel_on_interrupt(handle: Any, total: int) -> None:
    """First Ctrl-C: stop launching and cancel async steps. Second: exit at once."""
    loop = asyncio.get_running_loop()
    presses = 0

    def on_interrupt() -> None:
        nonlocal presses
        presses += 1
        if presses > 1:
            print("\nforced exit; the run will be marked failed", file=sys.stderr)
            os._exit(EXIT_CANCELED)
        print(
            "\ncanceling: no new steps start; running ones are finishing (Ctrl-C again to force)",
            file=sys.stderr,
        )
        handle.cancel()

    try:
        loop.add_signal_handler(signal.SIGINT, on_interrupt)
        loop.add_signal_handler(signal.SIGTERM, on_interrupt)
    except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
        pass


def _key_value(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise MillraceError(f"{flag} takes KEY=VALUE, got {text!r}")
    return key, value


# -- list ------------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    location = load_code_location(args.path)
    latest = asyncio.run(_latest(_home_of(location, args.home)))
    graph = location.defs.graph
    rows = []
    for key in graph.keys:
        node = graph.nodes[key]
        name = key.to_user_string()
        record = latest.get(name)
        rows.append(
            {
                "key": name,
                "group": node.group_name,
                "deps": [u.to_user_string() for u in graph.upstream[key]],
                "description": node.description,
                "kinds": sorted(node.kinds),
                "tags": dict(node.tags),
                "code_version": node.code_version,
                "materializable": node.is_executable,
                "source": str(node.source) if node.source else None,
                "last_materialized": record.timestamp if record else None,
                "last_run_id": record.run_id if record else None,
            }
        )
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for group, keys in graph.groups().items():
        print(f"{group}")
        for key in keys:
            row = next(r for r in rows if r["key"] == key.to_user_string())
            deps = f" <- {', '.join(row['deps'])}" if row["deps"] else ""
            when = _when(row["last_materialized"]) if row["last_materialized"] else "never"
            kind = "" if row["materializable"] else " (external)"
            print(f"  {row['key']}{kind}{deps}   [last: {when}]")
    return 0


async def _latest(home: Path) -> dict[str, Any]:
    if not (home / "millrace.db").exists():
        return {}
    async with await EventStore.open(home) as store:
        return await store.latest_materializations()


# -- runs and logs ---------------------------------------------------------------------------


def _home_of(location: CodeLocation | None, home: str | None, path: str = ".") -> Path:
    if location is not None:
        return resolve_home(location.directory, home)
    target = Path(path)
    directory = target.parent if target.is_file() else target
    return resolve_home(directory.resolve(), home)


def _runs(args: argparse.Namespace) -> int:
    home = _home_of(None, args.home, args.path)
    runs = asyncio.run(_query(home, lambda store: store.runs(args.limit)))
    if args.json:
        print(json.dumps([r.to_json() for r in runs], indent=2))
        return 0
    if not runs:
        print(f"no runs in {home}")
        return 0
    print(f"{'RUN':10} {'STATUS':9} {'STARTED':19} {'TOOK':>8}  SELECTION")
    for run in runs:
        took = f"{run.end_time - run.start_time:.2f}s" if run.end_time else "-"
        selection = ", ".join(run.selection)
        if len(selection) > 50:
            selection = selection[:47] + "..."
        print(
            f"{run.run_id[:8]:10} {run.status.value:9} {_when(run.start_time):19} "
            f"{took:>8}  {selection}"
        )
    return 0


def _logs(args: argparse.Namespace) -> int:
    from .console import describe_event

    home = _home_of(None, args.home, args.path)

    async def fetch(store: EventStore) -> tuple[Any, list[Any]]:
        run = await store.run(args.run_id)
        return run, (await store.events(run.run_id) if run else [])

    run, events = asyncio.run(_query(home, fetch))
    if run is None:
        raise MillraceError(f"no single run matches {args.run_id!r} in {home}")
    if args.json:
        for event in events:
            print(json.dumps(event.to_json(), default=str))
        return 0
    print(f"run {run.run_id} {run.status.value}, started {_when(run.start_time)}")
    for event in events:
        if event.kind == "STEP_STARTED":
            line: str | None = f"▶ {event.asset_key.to_user_string()} started"
        else:
            line = describe_event(event)
        if line is not None:
            print(f"{_clock(event.timestamp)} {line}")
        if event.kind == "STEP_FAILED" and event.error.traceback:
            print(event.error.traceback.rstrip())
    return 0


async def _query(home: Path, fetch: Any) -> Any:
    if not (home / "millrace.db").exists():
        raise MillraceError(f"no Millrace history in {home}")
    async with await EventStore.open(home) as store:
        return await fetch(store)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S.%f")[:-3]


if __name__ == "__main__":
    sys.exit(main())
