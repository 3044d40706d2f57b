"""The partition commands: ``millrace partitions`` (an asset's partitions as ranges with their
status; dynamic partitions' keys added and deleted), ``millrace backfill`` and
``millrace backfills``."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import MillraceError, SelectionError

# The parsers are built for every command: the runtime, the loader and asyncio load only in
# the commands here that run.
if TYPE_CHECKING:
    from .asset_graph import AssetGraph
    from .versions.partition_status import PartitionStatuses

USAGE = """\
millrace partitions ASSET [PATH] [--json]      the partitions of ASSET, as ranges by status
millrace partitions add NAME KEY... [--path PATH]
millrace partitions delete NAME KEY... [--path PATH]
                                               keys of DynamicPartitionsDefinition(name=NAME)"""


def add_parser(command: Callable[..., argparse.ArgumentParser]) -> None:
    p = command(
        "partitions",
        run,
        "List an asset's partitions by status, or add and delete dynamic partitions.",
        path=False,
    )
    p.usage = USAGE
    p.add_argument("words", nargs="+", metavar="ASSET [PATH] | add NAME KEY...")
    p.add_argument("--path", default=None, help="the code, for add and delete (default: .)")
    p.add_argument("--json", action="store_true", help="print JSON")


def add_backfill_parsers(
    command: Callable[..., argparse.ArgumentParser], positive_int: Callable[[str], int]
) -> None:
    p = command(
        "backfill",
        backfill,
        "Materialize many partitions of the selected assets in one run, recorded and resumable.",
    )
    p.add_argument("--select", "-s", help="the assets (default: every asset)")
    p.add_argument("--from", dest="start", metavar="KEY", help="the first partition")
    p.add_argument("--to", dest="end", metavar="KEY", help="the last partition (included)")
    p.add_argument("--partitions", metavar="A,B,C", help="these partitions")
    p.add_argument(
        "--missing", action="store_true", help="every partition missing or whose last run failed"
    )
    p.add_argument("--stale", action="store_true", help="every stale partition")
    p.add_argument("--resume", metavar="ID", help="run what backfill ID did not materialize")
    p.add_argument("--max-concurrency", type=positive_int, default=None, help="steps at once")
    p.add_argument("--json", action="store_true", help="print every event as a JSON line")

    p = command("backfills", backfills, "List backfills and how far they got.")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="print JSON")


def backfill(args: argparse.Namespace) -> int:
    import asyncio

    from .cli import follow
    from .execution.plan import NOTHING_LEFT
    from .runtime.backfill import BackfillSpec
    from .runtime.loader import load_code_location
    from .runtime.runtime import Runtime

    spec = None
    if args.resume is None:
        keys = tuple(k.strip() for k in (args.partitions or "").split(",") if k.strip())
        spec = BackfillSpec(args.start, args.end, keys, args.missing, args.stale)
    elif args.select or args.start or args.end or args.partitions or args.missing or args.stale:
        raise MillraceError("--resume takes no other choice: it runs what the backfill asked")
    location = load_code_location(args.path, attribute=args.attribute)
    runtime = Runtime(location, home=args.home)
    started: list[tuple[str, Any]] = []

    async def start() -> Any:
        backfill_id, handle = await runtime.backfill(
            args.select, spec, resume=args.resume, max_concurrency=args.max_concurrency
        )
        started.append((backfill_id, handle))
        if not args.json:
            verb = "resuming" if args.resume else "backfill"
            print(f"{verb} {backfill_id}: {len(handle.plan.writes):,} partitions to materialize")
        return handle

    def report(result: Any) -> None:
        backfill_id, handle = started[0]
        order = {(s.key, s.partition_key): s.index for s in handle.plan.steps}
        failed = result.failed_partitions
        for key, partitions in failed.items():
            partitions = sorted(partitions, key=lambda p: order.get((key, p), 0))
            print(f"✗ {key.to_user_string()}: failed partitions {_shown(partitions)}")
        if failed:
            print(f"  millrace backfill --resume {backfill_id} runs what did not succeed")

    async def go() -> int:
        async with runtime:
            try:
                return await follow(runtime, start, args.json, report=report)
            except SelectionError as exc:
                if NOTHING_LEFT not in str(exc):
                    raise
                print(f"nothing to backfill: {NOTHING_LEFT}")
                return 0

    return asyncio.run(go())


def backfills(args: argparse.Namespace) -> int:
    import asyncio

    from .reports import when
    from .runtime.loader import load_code_location
    from .runtime.runtime import Runtime

    location = load_code_location(args.path, attribute=args.attribute)

    async def ask() -> Any:
        async with Runtime(location, home=args.home, readonly=True) as runtime:
            return await runtime.backfills(args.limit)

    records = asyncio.run(ask())
    if args.json:
        for record in records:
            print(json.dumps(record.to_json(), default=str))
        return 0
    if not records:
        print("no backfills yet")
        return 0
    print(
        f"{'BACKFILL':12}  {'STATUS':9} {'CREATED':19}  {'DONE':>7} {'FAILED':>7} "
        f"{'LEFT':>7}  ASKED"
    )
    for r in records:
        asked = _asked(r.spec) + (f" of {r.selection}" if r.selection else "")
        print(
            f"{r.backfill_id:12}  {r.status:9} {when(r.created):19}  {r.done:7,} {r.failed:7,} "
            f"{r.remaining:7,}  {asked}"
        )
    return 0


def _asked(spec: dict[str, Any]) -> str:
    if spec.get("from"):
        return f"{spec['from']}..{spec['to']}"
    if spec.get("partitions"):
        return _shown(spec["partitions"])
    return " and ".join(w for w in ("missing", "stale") if spec.get(w))


def run(args: argparse.Namespace) -> int:
    words = args.words
    if words[0] in ("add", "delete"):
        if len(words) < 3:
            raise MillraceError(f"usage: millrace partitions {words[0]} NAME KEY...")
        return _edit(args, words[0], words[1], words[2:])
    if len(words) > 2:
        raise MillraceError(f"usage:\n{USAGE}")
    asset, path = words[0], words[1] if len(words) == 2 else "."
    return _show(args, asset, path)


def _edit(args: argparse.Namespace, verb: str, name: str, keys: Sequence[str]) -> int:
    import asyncio

    from .runtime.loader import load_code_location
    from .runtime.runtime import Runtime
    from .suggest import suggestion

    location = load_code_location(args.path or ".", attribute=args.attribute)
    known = _dynamic_names(location.defs.graph)
    if name not in known:
        raise MillraceError(
            f"no DynamicPartitionsDefinition named '{name}' in {location.directory}"
            f"{suggestion(name, known)} (defined: {', '.join(sorted(known)) or 'none'})"
        )

    async def edit() -> Sequence[str]:
        async with Runtime(location, home=args.home) as runtime:
            if verb == "add":
                runtime.instance.add_dynamic_partitions(name, keys)
            else:
                for key in keys:
                    runtime.instance.delete_dynamic_partition(name, key)
            return runtime.instance.get_dynamic_partitions(name)

    now = asyncio.run(edit())
    print(
        f"{name}: {len(now):,} partition{'s' * (len(now) != 1)}"
        + (f" ({_shown(now)})" if now else "")
    )
    return 0


def _statuses(args: argparse.Namespace, asset: str, path: str) -> tuple[Any, PartitionStatuses]:
    """A partitioned asset's node and its partitions' statuses, from the history."""
    import asyncio

    from .declarations.keys import AssetKey
    from .runtime.loader import load_code_location
    from .runtime.runtime import Runtime
    from .suggest import suggestion

    location = load_code_location(path, attribute=args.attribute)
    graph = location.defs.graph
    key = AssetKey.from_user_string(asset)
    node = graph.nodes.get(key)
    if node is None:
        names = [k.to_user_string() for k in graph.nodes]
        raise MillraceError(f"no asset '{asset}' in {location.directory}{suggestion(asset, names)}")
    if node.partitions_def is None:
        raise MillraceError(f"asset '{asset}' is not partitioned")

    async def ask() -> PartitionStatuses:
        async with Runtime(location, home=args.home, readonly=True) as runtime:
            return (await runtime.partition_status(key))[key]

    return node, asyncio.run(ask())


def stale_partitions(args: argparse.Namespace, asset: str) -> int:
    """``millrace status --partitions ASSET``: each stale partition and why, transitively."""
    from .versions.staleness import Status

    _, statuses = _statuses(args, asset, args.path)
    stale = [k for k in statuses.keys if statuses.of(k) is Status.STALE]
    if args.json:
        for key in stale:
            print(json.dumps({"partition": key, "cause": statuses.causes[key].to_json()}))
        return 0
    if not stale:
        print(f"{asset}: no stale partition ({_counts(statuses)})")
        return 0
    print(f"{asset}: {len(stale):,} stale of {len(statuses.keys):,} partitions")
    width = max(len(k) for k in stale)
    for key in stale:
        print(f"  {key:{width}}  {statuses.causes[key].message}")
    return 0


def _counts(statuses: PartitionStatuses) -> str:
    return ", ".join(f"{n:,} {s}" for s, n in statuses.summary().items() if n)


def _show(args: argparse.Namespace, asset: str, path: str) -> int:
    from .versions.partition_status import status_ranges
    from .versions.staleness import Status

    node, statuses = _statuses(args, asset, path)
    ranges = status_ranges(statuses)
    if args.json:
        print(
            json.dumps(
                {
                    "asset_key": asset,
                    "partitions_def": repr(node.partitions_def),
                    "counts": statuses.summary(),
                    "ranges": [
                        {"first": a, "last": b, "count": n, "status": s.value}
                        for a, b, n, s in ranges
                    ],
                    "stale": {
                        k: c.to_json()
                        for k, c in statuses.causes.items()
                        if statuses.of(k) is Status.STALE
                    },
                },
                default=str,
            )
        )
        return 0
    counts = _counts(statuses)
    print(f"{asset}: {len(statuses.keys):,} partitions of {node.partitions_def!r}: {counts}")
    width = max((len(_span(a, b)) for a, b, _, _ in ranges), default=0)
    for first, last, n, status in ranges:
        line = f"  {_span(first, last):{width}}  {status.value}"
        if n > 1:
            line += f" ({n:,})"
        if status is Status.STALE and first == last:
            line += f": {statuses.causes[first].message}"
        elif status is Status.STALE:
            line += f": {statuses.causes[first].message} (first of the range)"
        print(line)
    return 0


def _dynamic_names(graph: AssetGraph) -> set[str]:
    from .partitions.dynamic import DynamicPartitionsDefinition
    from .partitions.multi import MultiPartitionsDefinition

    names = set()
    for node in graph.nodes.values():
        definition: Any = node.partitions_def
        parts = (
            [d.partitions_def for d in definition.partitions_defs]
            if isinstance(definition, MultiPartitionsDefinition)
            else [definition]
        )
        names |= {d.name for d in parts if isinstance(d, DynamicPartitionsDefinition)}
    return names


def _span(first: str, last: str) -> str:
    return first if first == last else f"{first}..{last}"


def _shown(keys: Sequence[str], limit: int = 5) -> str:
    head = ", ".join(keys[:limit])
    return head + (f", ... {len(keys) - limit:,} more" if len(keys) > limit else "")
