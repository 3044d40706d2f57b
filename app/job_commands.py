"""``millrace jobs``: the jobs a code location declares (``define_asset_job``), what each
selects, its partitions and tags, so ``materialize --job`` is never run blind."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the parser is built for every command: it loads no definitions
    from .declarations.definitions import Definitions
    from .declarations.job import JobDefinition


def add_jobs_parser(command: Callable[..., argparse.ArgumentParser]) -> None:
    p = command("jobs", jobs, "List the jobs (define_asset_job): their assets, partitions, tags.")
    p.add_argument("--json", action="store_true", help="print JSON")


def jobs(args: argparse.Namespace) -> int:
    from .runtime.loader import load_code_location

    defs = load_code_location(args.path, attribute=args.attribute).defs
    rows = job_rows(defs)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(jobs_text(rows))
    return 0


def job_rows(defs: Definitions) -> list[dict[str, Any]]:
    """One JSON-ready row per declared job, in the order Definitions got them."""
    return [_row(job) for job in defs.job_defs]


def _row(job: JobDefinition) -> dict[str, Any]:
    from .declarations.job import describe_partitions

    return {
        "name": job.name,
        "description": job.description,
        "assets": [k.to_user_string() for k in job.asset_keys],
        "checks": [c.to_user_string() for c in job.asset_check_keys],
        "partitions": describe_partitions(job.partitions_def),
        "tags": job.tags,
        "run_tags": job.run_tags,
    }


def jobs_text(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no jobs: declare them with Definitions(jobs=[define_asset_job(...)])"
    lines: list[str] = []
    for row in rows:
        lines.append(row["name"] + (f"  {row['description']}" if row["description"] else ""))
        lines.append(f"  assets: {', '.join(row['assets'])}")
        if row["partitions"]:
            lines.append(f"  partitions: {row['partitions']}")
        tags = {k: v for k, v in row["run_tags"].items() if k != "dagster/job_name"}
        if tags:
            lines.append("  run tags: " + ", ".join(f"{k}={v}" for k, v in tags.items()))
    return "\n".join(lines)
