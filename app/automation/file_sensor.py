"""``file_arrival_sensor``: a run per file that lands in (or changes in) a directory.

Not in Dagster, where each project writes this sensor by hand. The cursor is JSON
``{"<absolute path>": [mtime_ns, size]}`` of the files already requested: a file is new when
its path is absent, changed when its mtime or size differs; a deleted file leaves the cursor,
so one written again later is new. Each request has run key ``"<path>@<mtime_ns>"`` (a file
is asked for once per version, even across restarts), the path in tag ``millrace/file_path``,
and, if ``config_op`` names an asset, run config
``{"ops": {config_op: {"config": {"path": "<path>"}}}}`` (give that asset a Config with
``path: str``). The runtime re-evaluates on watchfiles events in ``directory``, or every
``poll_interval_seconds`` when set (filesystems without events); either way the sensor
itself only compares listings.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..declarations.run_request import RunRequest
from ..errors import DefinitionsError
from .sensors import DefaultSensorStatus, SensorDefinition, SensorEvaluationContext
from .tick import SkipReason

FILE_PATH_TAG = "millrace/file_path"


@dataclass(frozen=True, order=True)
class FileState:
    """A file as listed: its absolute path, size and modification time."""

    path: str
    size: int
    mtime_ns: int


def list_matching_files(
    directory: str | Path, pattern: str, recursive: bool = False
) -> list[FileState]:
    """The regular files of ``directory`` matching the glob ``pattern`` (in subdirectories
    too if ``recursive``), sorted by path; hidden files (``.name``, often partial writes) are
    left out, and a file removed while listing is skipped."""
    root = Path(directory).resolve()
    found: list[FileState] = []
    for path in root.rglob(pattern) if recursive else root.glob(pattern):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        try:
            stat = path.stat()
        except OSError:
            continue
        if path.is_file():
            found.append(FileState(str(path), stat.st_size, stat.st_mtime_ns))
    return sorted(found)


def file_arrival_requests(
    files: Sequence[FileState],
    cursor: str | None,
    config_op: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> tuple[list[RunRequest], str]:
    """The requests for the files new or changed since ``cursor``, in path order, and the
    cursor describing ``files`` (module docstring)."""
    seen: dict[str, list[int]] = json.loads(cursor) if cursor else {}
    requests = []
    for file in sorted(files):
        if seen.get(file.path) == [file.mtime_ns, file.size]:
            continue
        config = {"ops": {config_op: {"config": {"path": file.path}}}} if config_op else {}
        requests.append(
            RunRequest(
                run_key=f"{file.path}@{file.mtime_ns}",
                run_config=config,
                tags={**(tags or {}), FILE_PATH_TAG: file.path},
            )
        )
    now = {file.path: [file.mtime_ns, file.size] for file in sorted(files)}
    return requests, json.dumps(now, sort_keys=True)


class FileArrivalSensorDefinition(SensorDefinition):
    """A sensor whose each tick lists ``directory`` and requests the new and changed files."""

    def __init__(
        self,
        directory: str | Path,
        pattern: str,
        recursive: bool,
        poll_interval_seconds: float | None,
        config_op: str | None,
        run_tags: Mapping[str, str] | None,
        **kwargs: Any,
    ) -> None:
        super().__init__(evaluation_fn=self._evaluate, **kwargs)
        self.directory = Path(directory)
        self.pattern = pattern
        self.recursive = recursive
        self.poll_interval_seconds = poll_interval_seconds
        self.config_op = config_op
        self.run_tags = dict(run_tags or {})

    def _evaluate(self, context: SensorEvaluationContext) -> list[RunRequest] | SkipReason:
        if not self.directory.is_dir():
            return SkipReason(f"{self.directory} is not a directory (yet)")
        files = list_matching_files(self.directory, self.pattern, self.recursive)
        requests, cursor = file_arrival_requests(
            files, context.cursor, self.config_op, self.run_tags
        )
        context.update_cursor(cursor)
        return requests or SkipReason(f"No new or changed {self.pattern} in {self.directory}")


def file_arrival_sensor(
    directory: str | Path,
    pattern: str = "*.csv",
    *,
    target: Any = None,
    job: Any = None,
    name: str | None = None,
    minimum_interval_seconds: int | None = None,
    recursive: bool = False,
    poll_interval_seconds: float | None = None,
    config_op: str | None = None,
    run_tags: Mapping[str, str] | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.STOPPED,
    description: str | None = None,
) -> FileArrivalSensorDefinition:
    """A sensor requesting a run of ``target`` (or ``job``) per new or changed file matching
    ``pattern`` in ``directory`` (module docstring). Named ``<directory name>_files`` unless
    ``name`` is given."""
    if poll_interval_seconds is not None and poll_interval_seconds <= 0:
        raise DefinitionsError("file_arrival_sensor: poll_interval_seconds must be positive")
    return FileArrivalSensorDefinition(
        directory,
        pattern,
        recursive,
        poll_interval_seconds,
        config_op,
        run_tags,
        name=name or f"{_slug(Path(directory).name)}_files",
        minimum_interval_seconds=minimum_interval_seconds,
        description=description or f"A run per new or changed {pattern} in {directory}",
        job=job,
        target=target,
        default_status=default_status,
    )


def _slug(text: str) -> str:
    slug = "".join(ch if ch.isalnum() else "_" for ch in text).strip("_")
    return slug or "directory"
