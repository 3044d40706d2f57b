"""Asset jobs: ``define_asset_job`` names a selection of assets with its tags, config and
partitions, as Dagster does; ``Definitions(jobs=...)`` resolves each against the graph.

Declaring and resolving are pure and light (no asyncio, no pydantic): a module that defines
jobs imports none of the runtime. ``JobDefinition.execute_in_process`` loads it on first use.
``job_selection`` is what a caller holding a ``RunRequest(job_name=...)`` runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..asset_graph import AssetGraph
from ..errors import DefinitionsError, MillraceError, SelectionError
from ..selection import AssetSelection, as_selection
from ..suggest import suggestion
from .asset import RetryPolicy
from .checks import AssetCheckKey
from .keys import AssetKey

if TYPE_CHECKING:
    from ..execution.result import RunResult
    from ..partitions import PartitionsDefinition
    from .definitions import Definitions

# Dagster's tag naming the job a run belongs to, and the name of the job of every asset.
JOB_NAME_TAG = "dagster/job_name"
IMPLICIT_ASSET_JOB_NAME = "__ASSET_JOB"
_VALID_NAME = re.compile(r"^[A-Za-z0-9_]+$")  # Dagster's check_valid_name


class JobNotFoundError(MillraceError, KeyError):
    """No job of that name: a KeyError (as a dict lookup raises) whose text lists the jobs."""

    def __str__(self) -> str:  # KeyError would print the message quoted, as a repr
        return str(self.args[0]) if self.args else ""


class UnresolvedAssetJobDefinition:
    """A job as declared: a selection not yet resolved, since the assets it names are only
    known once ``Definitions`` gathers them (Dagster's class of the same name)."""

    def __init__(
        self,
        name: str,
        selection: AssetSelection,
        config: Any = None,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
        run_tags: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        partitions_def: PartitionsDefinition | None = None,
        op_retry_policy: Any = None,
    ) -> None:
        self.name = name
        self.selection = selection
        self.config = config
        self.description = description
        self.tags = _string_tags(tags, name, "tags")
        self.run_tags = None if run_tags is None else _string_tags(run_tags, name, "run_tags")
        self.metadata = dict(metadata or {})
        self.partitions_def = partitions_def
        if op_retry_policy is not None and not isinstance(op_retry_policy, RetryPolicy):
            raise DefinitionsError(
                f"job '{name}': op_retry_policy must be a RetryPolicy, got {op_retry_policy!r}"
            )
        self.op_retry_policy: RetryPolicy | None = op_retry_policy

    def __repr__(self) -> str:
        return f"UnresolvedAssetJobDefinition(name={self.name!r})"

    def resolve(self, asset_graph: AssetGraph, defs: Definitions | None = None) -> JobDefinition:
        """The job over ``asset_graph``: its asset keys (in topological order), their checks
        and its partitions definition. Raises DefinitionsError naming the job when the
        selection names an unknown asset, selects nothing, or mixes partitions definitions."""
        try:
            keys = self.selection.resolve(asset_graph)
        except SelectionError as exc:
            raise DefinitionsError(f"job '{self.name}': {exc}") from None
        if not keys:
            raise DefinitionsError(f"job '{self.name}': its selection matches no asset")
        nodes = asset_graph.nodes
        # As in Dagster, a job may observe observable source assets, not the other externals.
        external = sorted(
            k.to_user_string()
            for k in keys
            if not nodes[k].is_executable and not getattr(nodes[k], "is_observable", False)
        )
        if external:
            raise DefinitionsError(
                f"job '{self.name}' selects {', '.join(external)}, which cannot be materialized "
                "or observed (declared as AssetSpec or a SourceAsset without observe_fn, not "
                "@asset or @observable_source_asset)"
            )
        ordered = tuple(asset_graph.toposorted(keys))
        partitions_def = _job_partitions(self.name, asset_graph, ordered, self.partitions_def)
        checks = tuple(asset_graph.checks_of(ordered))
        return JobDefinition(self, ordered, checks, partitions_def, defs)


class JobDefinition:
    """A job resolved against one code location's assets: what it runs and with which run
    tags and config. ``execute_in_process`` runs it like ``materialize`` does."""

    def __init__(
        self,
        unresolved: UnresolvedAssetJobDefinition,
        asset_keys: tuple[AssetKey, ...],
        asset_check_keys: tuple[AssetCheckKey, ...],
        partitions_def: PartitionsDefinition | None,
        defs: Definitions | None,
    ) -> None:
        self.unresolved = unresolved
        self.asset_keys = asset_keys
        self.asset_check_keys = asset_check_keys
        self.partitions_def = partitions_def
        self._defs = defs

    def __repr__(self) -> str:
        return f"JobDefinition(name={self.name!r}, assets={len(self.asset_keys)})"

    @property
    def name(self) -> str:
        return self.unresolved.name

    @property
    def description(self) -> str | None:
        return self.unresolved.description

    @property
    def tags(self) -> dict[str, str]:
        return dict(self.unresolved.tags)

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self.unresolved.metadata)

    @property
    def config(self) -> Any:
        return self.unresolved.config

    @property
    def op_retry_policy(self) -> RetryPolicy | None:
        """The retry policy of the job's steps that have none of their own."""
        return self.unresolved.op_retry_policy

    @property
    def run_tags(self) -> dict[str, str]:
        """The tags every run of the job gets: ``run_tags`` if given, else ``tags`` (Dagster
        1.8's split of definition tags from run tags), and the job's name."""
        declared = self.unresolved.run_tags
        tags = dict(self.unresolved.tags if declared is None else declared)
        tags[JOB_NAME_TAG] = self.name
        return tags

    @property
    def partitioned(self) -> bool:
        return self.partitions_def is not None

    def execute_in_process(
        self,
        run_config: Any = None,
        instance: Any = None,
        partition_key: str | None = None,
        raise_on_error: bool = True,
        tags: Mapping[str, str] | None = None,
        resources: Mapping[str, Any] | None = None,
        asset_selection: Iterable[Any] | None = None,
    ) -> RunResult:
        """Run the job's assets (or ``asset_selection``, a subset of them) and their checks,
        persisting history where ``materialize`` would for the same code. The job's config
        and tags are laid under the call's. ``instance`` is None or the runtime's
        ``instance`` (its DynamicPartitions), whose database says the home."""
        if self._defs is None:
            raise MillraceError(
                f"job '{self.name}' was resolved without Definitions; get it from "
                "Definitions(jobs=...).get_job_def(name) to run it"
            )
        from ..materialization import run_job

        run = job_selection(
            self._defs,
            self.name,
            asset_selection=asset_selection,
            tags=tags,
            run_config=run_config,
        )
        return run_job(
            self._defs,
            run,
            instance=instance,
            partition_key=partition_key,
            raise_on_error=raise_on_error,
            resources=resources,
        )


@dataclass(frozen=True)
class JobRun:
    """What one run of a job runs: its asset keys (topological order) and their checks, the
    run's tags and config (the job's, with the caller's laid over), its partitions."""

    job_name: str
    asset_keys: tuple[AssetKey, ...]
    asset_check_keys: tuple[AssetCheckKey, ...]
    tags: dict[str, str]
    run_config: dict[str, Any]
    partitions_def: PartitionsDefinition | None


def job_selection(
    defs: Definitions,
    job_name: str,
    *,
    asset_selection: Iterable[Any] | None = None,
    tags: Mapping[str, str] | None = None,
    run_config: Any = None,
) -> JobRun:
    """The run ``RunRequest(job_name=..., asset_selection=..., tags=..., run_config=...)``
    asks for, so every way of starting a job (a request, ``execute_in_process``, the CLI)
    runs the same thing. Pure: reads ``defs`` only.

    - ``asset_selection`` narrows the job to those of its assets (anything ``--select``
      takes); an asset outside the job is a SelectionError, as Dagster refuses it.
    - ``tags`` win over the job's run tags; ``dagster/job_name`` is always the job's name.
    - ``run_config`` (a mapping or RunConfig) is merged over the job's ``config``, key by key.
    - Unknown ``job_name``: JobNotFoundError (a KeyError) listing the jobs.

    Pass ``asset_keys`` and ``run_config`` to ``Runtime.plan``/``submit`` (partition key
    as asked: the plan validates it against the assets' definitions).
    """
    job = defs.get_job_def(job_name)
    keys = job.asset_keys
    checks = job.asset_check_keys
    if asset_selection is not None:
        wanted = as_selection(asset_selection).resolve(defs.graph)
        outside = sorted(k.to_user_string() for k in wanted - set(keys))
        if outside:
            raise SelectionError(
                f"job '{job_name}' does not include {', '.join(outside)} (it runs: "
                f"{', '.join(k.to_user_string() for k in keys)})"
            )
        if not wanted:
            raise SelectionError(f"the asset_selection for job '{job_name}' matches no asset")
        keys = tuple(k for k in keys if k in wanted)
        checks = tuple(defs.graph.checks_of(keys))
    run_tags = {**job.run_tags, **(tags or {}), JOB_NAME_TAG: job.name}
    return JobRun(
        job.name, keys, checks, run_tags, _merged_config(job.config, run_config), job.partitions_def
    )


def define_asset_job(
    name: str,
    selection: str | AssetSelection | Iterable[Any] | None = None,
    config: Any = None,
    description: str | None = None,
    tags: Mapping[str, Any] | None = None,
    run_tags: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    partitions_def: PartitionsDefinition | None = None,
    executor_def: Any = None,
    hooks: Any = None,
    op_retry_policy: Any = None,
) -> UnresolvedAssetJobDefinition:
    """A job over ``selection`` (default: every asset): a string in ``--select`` syntax, an
    AssetSelection, or a list of asset keys, key strings or assets. It resolves when
    ``Definitions(jobs=[...])`` is built, so a job can name assets defined elsewhere.

    ``op_retry_policy`` retries the job's steps whose asset (or check) has no
    ``retry_policy`` of its own, in every run of the job. ``executor_def`` and ``hooks`` are
    refused: Millrace's own executor runs every job, and it has no hooks."""
    for given, what in (
        (executor_def, "executor_def: every job runs on Millrace's in-process executor"),
        (hooks, "hooks: Millrace has none; react to runs with @run_status_sensor"),
    ):
        if given is not None:
            raise DefinitionsError(f"define_asset_job('{name}') cannot take {what}")
    if not isinstance(name, str) or not _VALID_NAME.match(name):
        raise DefinitionsError(
            f"define_asset_job: name {name!r} must be letters, digits and underscores "
            "(Dagster's rule for job names)"
        )
    try:
        resolved_selection = as_selection(selection)
    except SelectionError as exc:
        raise DefinitionsError(f"job '{name}': {exc}") from None
    return UnresolvedAssetJobDefinition(
        name,
        resolved_selection,
        config=config,
        description=description,
        tags=tags,
        run_tags=run_tags,
        metadata=metadata,
        partitions_def=partitions_def,
        op_retry_policy=op_retry_policy,
    )


def resolve_jobs(
    jobs: Iterable[Any], graph: AssetGraph, defs: Definitions
) -> dict[str, JobDefinition]:
    """``Definitions(jobs=...)``: each job resolved, names unique (so a RunRequest's
    ``job_name`` means one thing)."""
    resolved: dict[str, JobDefinition] = {}
    for item in jobs:
        if isinstance(item, JobDefinition):
            item = item.unresolved
        if not isinstance(item, UnresolvedAssetJobDefinition):
            raise DefinitionsError(
                f"Definitions(jobs=...) got {item!r}; expected define_asset_job(...) "
                "(Millrace has no op-based @job)"
            )
        if item.name == IMPLICIT_ASSET_JOB_NAME:
            raise DefinitionsError(f"the job name '{item.name}' is reserved for every asset")
        if item.name in resolved:
            raise DefinitionsError(f"two jobs are named '{item.name}'; job names must be unique")
        resolved[item.name] = item.resolve(graph, defs)
    return resolved


def implicit_asset_job(graph: AssetGraph, defs: Definitions) -> JobDefinition:
    """Dagster's ``__ASSET_JOB``: every materializable asset. Its partitions definition is
    the assets' one if they share it, else None (each asset then runs its own partitions)."""
    job = UnresolvedAssetJobDefinition(IMPLICIT_ASSET_JOB_NAME, AssetSelection.all())
    keys = tuple(graph.toposorted(job.selection.resolve(graph)))
    found = {id(d): d for d in _partitions_defs(graph, keys)}
    partitions_def = next(iter(found.values())) if len(found) == 1 else None
    return JobDefinition(job, keys, tuple(graph.checks_of(keys)), partitions_def, defs)


def describe_partitions(partitions_def: PartitionsDefinition | None) -> str | None:
    """A partitions definition in a line (its repr is written to be read), for listings."""
    return None if partitions_def is None else repr(partitions_def)


# -- helpers -----------------------------------------------------------------------------------


def _partitions_defs(graph: AssetGraph, keys: Iterable[AssetKey]) -> list[PartitionsDefinition]:
    found: list[PartitionsDefinition] = []
    for key in keys:
        definition = getattr(graph.nodes[key], "partitions_def", None)
        if definition is not None and all(definition != seen for seen in found):
            found.append(definition)
    return found


def _job_partitions(
    name: str,
    graph: AssetGraph,
    keys: tuple[AssetKey, ...],
    declared: PartitionsDefinition | None,
) -> PartitionsDefinition | None:
    """The one partitions definition of the job's partitioned assets (unpartitioned ones may
    join them, as in Dagster), which a declared ``partitions_def`` must equal."""
    found = _partitions_defs(graph, keys)
    if len(found) > 1:
        by_def = []
        for definition in found:
            members = [
                k.to_user_string()
                for k in keys
                if getattr(graph.nodes[k], "partitions_def", None) == definition
            ]
            by_def.append(f"{definition!r}: {', '.join(members)}")
        raise DefinitionsError(
            f"job '{name}' selects assets with different partitions definitions; a job runs "
            "one partition key, so its partitioned assets must share one:\n  - "
            + "\n  - ".join(by_def)
        )
    if declared is not None:
        if found and found[0] != declared:
            raise DefinitionsError(
                f"job '{name}': partitions_def {declared!r} is not that of the assets it selects "
                f"({found[0]!r})"
            )
        if not found:
            raise DefinitionsError(
                f"job '{name}': partitions_def {declared!r} is given but none of the assets it "
                "selects is partitioned"
            )
        return declared
    return found[0] if found else None


def _string_tags(tags: Mapping[str, Any] | None, job: str, argument: str) -> dict[str, str]:
    """Run tags are strings in the store; anything else JSON-encodes, as Dagster does."""
    if tags is None:
        return {}
    if not isinstance(tags, Mapping):
        raise DefinitionsError(f"job '{job}': {argument} must be a mapping, got {tags!r}")
    import json

    out: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str):
            raise DefinitionsError(f"job '{job}': {argument} keys are strings, got {key!r}")
        out[key] = value if isinstance(value, str) else json.dumps(value, default=str)
    return out


def _merged_config(base: Any, override: Any) -> dict[str, Any]:
    """The job's config with the call's over it; loads the config module only when there is
    config to merge."""
    if base is None and override is None:
        return {}
    from ..runtime.runs import as_run_config
    from .config import merge_run_config

    return merge_run_config(as_run_config(base), as_run_config(override))


def unknown_job(name: str, names: Iterable[str]) -> JobNotFoundError:
    known = sorted(names)
    listed = ", ".join(known) if known else "none: Definitions(jobs=[...]) declares them"
    return JobNotFoundError(f"no job named '{name}'{suggestion(name, known)} (jobs: {listed})")
