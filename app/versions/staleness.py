"""Staleness: is what was stored still what the current code and inputs would produce, and why not.

Pure functions over plain data: the graph as it is declared now, the code version of each
asset, and the provenance of each latest materialization (the code version it ran with and
the data version of every upstream it consumed). The causes use Dagster's three categories
(code, data, dependencies) and its wording where it fits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from ..declarations.keys import AssetKey
from ..events import InputVersion


class Status(StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    MISSING = "missing"  # never materialized
    FAILED = "failed"  # its last attempt failed
    RUNNING = "running"


class Category(StrEnum):
    CODE = "code"
    DATA = "data"
    DEPENDENCIES = "dependencies"


@dataclass(frozen=True, slots=True)
class Cause:
    category: Category
    message: str
    asset_key: AssetKey | None = None  # the upstream asset concerned, where there is one
    root: Cause | None = None  # for "upstream X is stale": the root cause, about its asset

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "category": self.category.value,
            "message": self.message,
            "asset_key": self.asset_key.to_user_string() if self.asset_key else None,
        }
        if self.root is not None:
            out["root"] = self.root.to_json()
        return out


class Stored(Protocol):
    """What staleness needs of a stored materialization (``MaterializationRecord`` has it)."""

    @property
    def code_version(self) -> str | None: ...

    @property
    def data_version(self) -> str | None: ...

    @property
    def inputs(self) -> tuple[InputVersion, ...] | None: ...


@dataclass(frozen=True, slots=True)
class Assessment:
    status: Status
    causes: tuple[Cause, ...]  # empty when fresh

    @property
    def stale(self) -> bool:
        """Re-running would use other code or other inputs (whatever the last attempt did)."""
        return bool(self.causes)


NEVER_MATERIALIZED = "has never been materialized"


Read = tuple[AssetKey, str | None]  # an upstream asset and the partition read (None: all of it)


def own_causes(
    code_version: str | None,
    stored: Stored,
    reads: Iterable[Read],
    upstream_versions: Mapping[Read, str | None],
    judged_elsewhere: Collection[AssetKey] = (),
) -> list[Cause]:
    """Why ``stored`` is not what the asset would produce now: its code changed, an upstream
    (partition) has other data than it consumed, or its dependencies changed. A
    materialization with no recorded provenance is judged on its code alone. What it read of
    the upstreams in ``judged_elsewhere`` (partitioned ones, for an unpartitioned asset) is
    not compared here."""
    causes: list[Cause] = []
    if code_version is not None and stored.code_version != code_version:
        causes.append(
            Cause(
                Category.CODE,
                f"has a new code version ({short(stored.code_version)} -> {short(code_version)})",
            )
        )
    if stored.inputs is None:
        return causes
    consumed = {(i.asset_key, i.partition_key): i.data_version for i in stored.inputs}
    consumed_assets = {up for up, _ in consumed}
    wanted = list(dict.fromkeys(reads))
    wanted_assets = {up for up, _ in wanted}
    for read in wanted:
        up = read[0]
        name = _read_name(read)
        if read not in consumed:
            if up not in consumed_assets:
                message = f"has a new dependency on {up.to_user_string()}"
            else:
                message = f"has a new dependency on {name}"
            causes.append(Cause(Category.DEPENDENCIES, message, up))
        elif consumed[read] != upstream_versions.get(read):
            causes.append(Cause(Category.DATA, f"upstream {name} has a new data version", up))
    for read in consumed:
        up = read[0]
        if up not in wanted_assets and up not in judged_elsewhere:
            causes.append(
                Cause(Category.DEPENDENCIES, f"removed dependency on {up.to_user_string()}", up)
            )
    return _one_per_asset(causes)


def _read_name(read: Read) -> str:
    up, partition = read
    name = up.to_user_string()
    return name if partition is None else f"{name} partition {partition}"


def _one_per_asset(causes: list[Cause]) -> list[Cause]:
    """A new dependency named once per upstream asset, not once per partition read."""
    seen: set[tuple[Category, AssetKey | None, str]] = set()
    out = []
    for cause in causes:
        marker = (cause.category, cause.asset_key, cause.message)
        if cause.category is Category.DEPENDENCIES and marker in seen:
            continue
        seen.add(marker)
        out.append(cause)
    return out


def assess(
    order: Iterable[AssetKey],
    upstream: Mapping[AssetKey, tuple[AssetKey, ...]],
    materializable: Collection[AssetKey],
    code_versions: Mapping[AssetKey, str],
    latest: Mapping[AssetKey, Stored],
    failed: Collection[AssetKey] = (),
    running: Collection[AssetKey] = (),
    partitioned: Mapping[AssetKey, PartitionedAssessor] | None = None,
) -> dict[AssetKey, Assessment]:
    """The status and causes of every asset in ``order`` (topological: upstream first).

    An upstream that is stale or missing makes its downstream stale too ("upstream X is
    stale: Y has a new code version", naming the root cause), since re-running it may change
    what the downstream would consume. External assets are never stale themselves.

    A partitioned asset is assessed by its ``partitioned`` entry (its partitions, given the
    roots so far); an unpartitioned asset reading it is stale if it has partitions newer
    than those it read, or stale or missing ones.
    """
    partitioned = partitioned or {}
    out: dict[AssetKey, Assessment] = {}
    roots: dict[AssetKey, Cause] = {}  # the first root cause behind each stale asset, about it
    versions: dict[Read, str | None] = {
        (key, None): record.data_version for key, record in latest.items()
    }
    for key in order:
        if key in partitioned:
            assessment = partitioned[key].assess(roots)
            out[key] = assessment
            if assessment.causes:
                first = assessment.causes[0]
                roots[key] = first.root or Cause(first.category, first.message, key)
            continue
        stored = latest.get(key)
        ups = upstream.get(key, ())
        causes: list[Cause] = []
        if key in materializable:
            if stored is None:
                causes.append(Cause(Category.DATA, NEVER_MATERIALIZED))
            else:
                reads = [(up, None) for up in ups if up not in partitioned]
                causes = own_causes(
                    code_versions.get(key), stored, reads, versions, judged_elsewhere=partitioned
                )
                causes += _newer_partitions(stored, ups, partitioned)
            if causes:
                roots[key] = Cause(causes[0].category, causes[0].message, key)
            for up in dict.fromkeys(ups):
                root = roots.get(up)
                if root is not None:
                    causes.append(Cause(root.category, _upstream_message(up, root), up, root))
                    roots.setdefault(key, root)
        out[key] = Assessment(_status(key, stored, causes, failed, running), tuple(causes))
    return out


class PartitionedAssessor(Protocol):
    """A partitioned asset's assessment, given the root causes of the assets before it."""

    @property
    def newest_event_id(self) -> int | None: ...

    def assess(self, roots: Mapping[AssetKey, Cause]) -> Assessment: ...


def _newer_partitions(
    stored: Stored, ups: Iterable[AssetKey], partitioned: Mapping[AssetKey, PartitionedAssessor]
) -> list[Cause]:
    """Partitioned upstreams with a materialization newer than any this one read."""
    if stored.inputs is None:
        return []
    causes = []
    for up in ups:
        assessor = partitioned.get(up)
        if assessor is None or assessor.newest_event_id is None:
            continue
        read = [i.event_id for i in stored.inputs if i.asset_key == up and i.event_id]
        name = up.to_user_string()
        if not read:
            causes.append(Cause(Category.DEPENDENCIES, f"has a new dependency on {name}", up))
        elif assessor.newest_event_id > max(read):
            causes.append(
                Cause(Category.DATA, f"upstream {name} has partitions newer than it read", up)
            )
    return causes


def _upstream_message(up: AssetKey, root: Cause) -> str:
    name = up.to_user_string()
    if root.asset_key == up and root.message == NEVER_MATERIALIZED:
        return f"upstream {name} {NEVER_MATERIALIZED}"
    about = root.asset_key.to_user_string() if root.asset_key else name
    return f"upstream {name} is stale: {about} {root.message}"


def _status(
    key: AssetKey,
    stored: Stored | None,
    causes: list[Cause],
    failed: Collection[AssetKey],
    running: Collection[AssetKey],
) -> Status:
    if key in running:
        return Status.RUNNING
    if key in failed:
        return Status.FAILED
    if stored is None and causes:
        return Status.MISSING
    return Status.STALE if causes else Status.FRESH


def short(version: str | None) -> str:
    """A version as people read it: hashes cut to 8 characters, explicit versions whole."""
    if version is None:
        return "none"
    if len(version) == 16 and all(c in "0123456789abcdef" for c in version):
        return version[:8]
    return version
