"""``millrace serve`` (schedules and sensors, headless, with hot reload) and ``millrace
schedules`` / ``millrace sensors`` (list them with their next tick and last result; start or
stop one: the choice is stored, so a running ``serve`` and every later start see it)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import MillraceError
from .interrupts import EXIT_CANCELED
from .reports import when

# The parsers are built for every command: the runtime, the store and asyncio load only in
# the commands here that run.
if TYPE_CHECKING:
    from .storage.records import InstigatorState

# runtime.automation's names for the two kinds, spelled here so the parsers need no runtime
# (tests/test_imports.py checks they agree).
SCHEDULE, SENSOR = "schedule", "sensor"
SHUTDOWN_GRACE = 5.0  # seconds a canceled step may take to return before serve exits anyway


def add_parsers(command: Callable[..., argparse.ArgumentParser], positive: Any) -> None:
    p = command(
        "serve",
        serve,
        "Run the schedules and sensors headless (events as lines), reloading on code changes.",
    )
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")
    p.add_argument(
        "--no-catch-up",
        dest="catch_up",
        action="store_false",
        help="do not run a schedule's latest tick missed while nothing was serving",
    )
    p.add_argument("--max-concurrency", type=positive, default=None, help="steps at once")
    p.add_argument(
        "--grace",
        type=float,
        default=SHUTDOWN_GRACE,
        metavar="SECONDS",
        help="on SIGTERM or Ctrl-C, how long a canceled step may take to return before serve "
        f"records its run canceled and exits anyway (default: {SHUTDOWN_GRACE:g})",
    )
    for kind in (SCHEDULE, SENSOR):
        p = command(
            f"{kind}s",
            instigators,
            f"List the {kind}s (next tick, last result), or start or stop one: "
            f"millrace {kind}s [start|stop NAME] [PATH].",
            path=False,
        )
        p.set_defaults(kind=kind)
        p.add_argument("words", nargs="*", metavar="[start|stop NAME] [PATH]")
        p.add_argument("--json", action="store_true", help="print JSON")


# -- serve -----------------------------------------------------------------------------------


def serve(args: argparse.Namespace) -> int:
    import asyncio

    return asyncio.run(_serve(args))


async def _serve(args: argparse.Namespace) -> int:
    import asyncio

    from .cli import _stop_on_interrupt, watched_location
    from .console import DevPrinter, JsonPrinter
    from .runtime.dev import DevLoop
    from .runtime.runtime import Runtime

    printer: Any = JsonPrinter() if args.json else DevPrinter()
    stop = asyncio.Event()
    _stop_on_interrupt(stop)
    location = await watched_location(args, printer, stop)
    if location is None:
        return EXIT_CANCELED
    options: dict[str, Any] = {}
    if args.max_concurrency is not None:
        options["max_concurrency"] = args.max_concurrency
    from .runtime.long_lived import long_lived

    with long_lived():  # the first load only: see long_lived
        served = Runtime(location, home=args.home, **options)
    async with served as runtime:
        runtime.listen(printer)
        automation = await runtime.start_automation(catch_up=args.catch_up)
        running = [i.name for i in automation.instigators() if i.running]
        print(
            f"serving {len(automation.instigators())} schedules and sensors"
            f" ({', '.join(running) or 'none running'}); Ctrl-C or SIGTERM stops",
            file=sys.stderr,
        )
        # Reloads apply new code; what runs is automation's to decide, not the edit's.
        await DevLoop(runtime, auto=False).run(stop=stop)
        await runtime.close(grace=args.grace)
    printer.close()
    if runtime.abandoned:  # a step thread that never returns must not hold the exit
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


# -- schedules and sensors -------------------------------------------------------------------


def instigators(args: argparse.Namespace) -> int:
    import asyncio

    from .cli import _home_of
    from .runtime.automation import instigators_of
    from .runtime.loader import load_code_location

    words = list(args.words)
    action = words.pop(0) if words and words[0] in ("start", "stop", "list") else "list"
    name = None
    if action != "list":
        if not words:
            raise MillraceError(f"millrace {args.kind}s {action} NAME: which {args.kind}?")
        name = words.pop(0)
    if len(words) > 1:
        raise MillraceError(f"unexpected arguments: {' '.join(words[1:])}")
    path = words[0] if words else "."
    location = load_code_location(path, attribute=args.attribute)
    found = {n: d for n, (k, d) in instigators_of(location.defs).items() if k == args.kind}
    home = _home_of(location, args.home, path)
    if name is not None:
        if name not in found:
            known = ", ".join(sorted(found)) or "none"
            raise MillraceError(f"no {args.kind} named {name!r} in {path} (these: {known})")
        asyncio.run(_set_running(home, name, args.kind, action == "start"))
        print(f"{args.kind} {name} {'started' if action == 'start' else 'stopped'}")
        return 0
    states = asyncio.run(_states(home))
    rows = [_row(args.kind, d, states.get(n), time.time()) for n, d in sorted(found.items())]
    if args.json:
        print(json.dumps(rows, indent=2))
    elif not rows:
        print(f"no {args.kind}s: declare them with Definitions({args.kind}s=[...])")
    else:
        print(_table(args.kind, rows))
    return 0


async def _set_running(home: Any, name: str, kind: str, running: bool) -> None:
    from .events import InstigatorChanged
    from .storage.event_store import EventStore

    store = await EventStore.open(home)
    try:
        store.append(InstigatorChanged(name=name, instigator=kind, running=running))
        await store.flush()
    finally:
        await store.close()


async def _states(home: Any) -> dict[str, InstigatorState]:
    from .storage.event_store import EventStore

    if not (home / "millrace.db").exists():
        return {}
    store = await EventStore.open(home, readonly=True)
    try:
        return await store.instigator_states()
    finally:
        await store.close()


def _row(kind: str, definition: Any, state: InstigatorState | None, now: float) -> dict[str, Any]:
    from .runtime.automation import default_running

    running = default_running(definition)
    if state is not None and state.status is not None:
        running = state.status == "RUNNING"
    tick = state.last_tick if state else None
    row: dict[str, Any] = {
        "name": definition.name,
        "status": "RUNNING" if running else "STOPPED",
        "next_tick": _next_tick(kind, definition, tick, now) if running else None,
        "last_tick": tick.to_json() if tick else None,
    }
    if kind == SCHEDULE:
        row["cron_schedule"] = definition.cron_schedule
        row["execution_timezone"] = definition.schedule.timezone
    else:
        row["minimum_interval_seconds"] = definition.minimum_interval_seconds
    return row


def _next_tick(kind: str, definition: Any, tick: Any, now: float) -> float:
    if kind == SCHEDULE:
        return float(definition.schedule.next_tick_after(now).timestamp())
    last = tick.timestamp if tick is not None else now
    return max(now, last + definition.minimum_interval_seconds)


def _table(kind: str, rows: list[dict[str, Any]]) -> str:
    lines = [f"{kind.upper():24} {'STATUS':8} {'NEXT TICK':19}  LAST TICK"]
    for row in rows:
        next_tick = when(row["next_tick"]) if row["next_tick"] else "-"
        tick = row["last_tick"]
        last = "never"
        if tick is not None:
            last = f"{tick['status']} {when(tick['timestamp'])}"
            detail = tick["error"] or tick["skip_reason"]
            if detail:
                last += f": {detail.splitlines()[0]}"
            elif tick["run_ids"]:
                last += f": runs {', '.join(r[:8] for r in tick['run_ids'])}"
        lines.append(f"{row['name']:24} {row['status']:8} {next_tick:19}  {last}")
        if kind == SCHEDULE:
            zone = row["execution_timezone"] or "UTC"
            lines.append(f"  {row['cron_schedule']} ({zone})")
    return "\n".join(lines)
