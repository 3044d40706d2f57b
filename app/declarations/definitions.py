"""Definitions: everything a code location declares, validated when it is built."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from typing import Any

from ..asset_graph import AssetGraph, describe
from ..automation.schedules import UnresolvedPartitionedAssetScheduleDefinition
from ..errors import AssetNotFoundError, DefinitionsError, InvariantViolationError
from ..suggest import suggestion
from .asset import DEFAULT_IO_MANAGER_KEY, AssetsDefinition, AssetSpec
from .checks import AssetChecksDefinition
from .job import (
    IMPLICIT_ASSET_JOB_NAME,
    JobDefinition,
    UnresolvedAssetJobDefinition,
    implicit_asset_job,
    resolve_jobs,
    unknown_job,
)
from .keys import AssetKey, coerce_key
from .run_queue import RunQueueConfig

_RESOURCES = "millrace.declarations.resources"


class Definitions:
    """The assets, resources, checks and automation of one code location (Dagster's shape)."""

    def __init__(
        self,
        assets: Iterable[AssetsDefinition | AssetSpec] | None = None,
        schedules: Iterable[Any] | None = None,
        sensors: Iterable[Any] | None = None,
        jobs: Iterable[Any] | None = None,
        resources: Mapping[str, Any] | None = None,
        executor: Any = None,
        loggers: Mapping[str, Any] | None = None,
        asset_checks: Iterable[Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        run_queue: Any = None,
    ) -> None:
        self.assets = list(assets or ())
        for item in self.assets:
            if not isinstance(item, AssetsDefinition | AssetSpec):
                raise DefinitionsError(
                    f"Definitions(assets=...) got {item!r}; expected @asset functions or AssetSpecs"
                )
        self.schedules = list(schedules or ())
        self.sensors = list(sensors or ())
        self.jobs = list(jobs or ())
        # As Dagster: a job a schedule or sensor targets is defined with it.
        named = {getattr(job, "name", None) for job in self.jobs}
        for job in _targeted_jobs([*self.schedules, *self.sensors]):
            if job.name not in named:
                named.add(job.name)
                self.jobs.append(job)
        self.resources = dict(resources or {})
        self.executor = executor
        self.loggers = dict(loggers or {})
        self.asset_checks = list(asset_checks or ())
        for item in self.asset_checks:
            if not isinstance(item, AssetChecksDefinition):
                raise DefinitionsError(
                    f"Definitions(asset_checks=...) got {item!r}; expected @asset_check functions"
                )
        self.metadata = dict(metadata or {})
        # Dagster sets this on the instance (dagster.yaml); one process has one, so here.
        self.run_queue = RunQueueConfig.coerce(run_queue)
        self.graph = AssetGraph(self.assets, self.asset_checks)
        _check_resources(self.graph, self.resources)
        _check_held_resources(self.resources)
        _check_names("schedule", self.schedules)
        _check_names("sensor", self.sensors)
        self._jobs = resolve_jobs(self.jobs, self.graph, self)
        self._implicit_job: JobDefinition | None = None
        self.schedules = [
            s.resolve(self) if isinstance(s, UnresolvedPartitionedAssetScheduleDefinition) else s
            for s in self.schedules
        ]

    def get_asset_graph(self) -> AssetGraph:
        return self.graph

    def get_assets_def(self, key: Any) -> AssetsDefinition:
        """The AssetsDefinition that materializes ``key``; a KeyError (with the nearest key)
        for a key these Definitions do not materialize."""
        asset_key = coerce_key(key)
        node = self.graph.nodes.get(asset_key)
        if not isinstance(node, AssetsDefinition):
            shown = asset_key.to_user_string()
            why = "is external (an AssetSpec)" if node is not None else "is not defined"
            near = suggestion(shown, [k.to_user_string() for k in self.graph.keys])
            raise AssetNotFoundError(f"asset '{shown}' {why} in these Definitions{near}")
        return node.multi or node  # an output's multi-asset, as Dagster's has every key

    def load_asset_value(
        self,
        asset_key: Any,
        *,
        python_type: Any = None,
        instance: Any = None,
        partition_key: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Any:
        """The asset's stored value (``partition_key``'s, of a partitioned one), read by its IO
        manager from where ``materialize`` keeps this code's history, or from the home of
        ``instance`` (a Runtime's ``instance``). ``python_type`` and ``metadata`` reach the
        IO manager as the input's annotation and metadata."""
        from ..materialization import load_asset_value

        return load_asset_value(
            self,
            asset_key,
            python_type=python_type,
            instance=instance,
            partition_key=partition_key,
            metadata=metadata,
        )

    def get_job_def(self, name: str) -> JobDefinition:
        """The job ``name``, resolved; ``__ASSET_JOB`` is every asset. An unknown name is a
        KeyError listing the jobs (and the nearest name)."""
        if name == IMPLICIT_ASSET_JOB_NAME:
            return self.get_implicit_global_asset_job_def()
        job = self._jobs.get(name)
        if job is None:
            raise unknown_job(name, self._jobs)
        return job

    def get_implicit_global_asset_job_def(self) -> JobDefinition:
        if self._implicit_job is None:  # built when asked: most code never asks
            self._implicit_job = implicit_asset_job(self.graph, self)
        return self._implicit_job

    @property
    def job_defs(self) -> list[JobDefinition]:
        """The declared jobs, resolved, in the order given."""
        return list(self._jobs.values())

    @property
    def asset_keys(self) -> tuple[AssetKey, ...]:
        return self.graph.keys

    @staticmethod
    def merge(*def_sets: Definitions) -> Definitions:
        """One Definitions with everything of ``def_sets``. Two of them giving one resource
        or logger key different values, or both an executor, is an error (as in Dagster);
        their metadata is laid one over the other."""
        resources: dict[str, Any] = {}
        loggers: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        executor, executor_of = None, 0
        first: dict[tuple[str, str], int] = {}
        for i, d in enumerate(def_sets):
            if not isinstance(d, Definitions):
                raise TypeError(
                    f"Definitions.merge takes Definitions objects; argument {i} is {d!r}"
                )
            for kind, mine, theirs in (
                ("resources", resources, d.resources),
                ("loggers", loggers, d.loggers),
            ):
                for name, value in theirs.items():
                    if name in mine and mine[name] is not value:
                        raise InvariantViolationError(
                            f"Definitions objects {first[kind, name]} and {i} have different "
                            f"{kind} with same key '{name}'"
                        )
                    mine[name] = value
                    first.setdefault((kind, name), i)
            if d.executor is not None:
                if executor is not None and executor is not d.executor:
                    raise InvariantViolationError(
                        f"Definitions objects {executor_of} and {i} both have an executor"
                    )
                executor, executor_of = d.executor, i
            metadata.update(d.metadata)
        queues: list[RunQueueConfig] = []
        for d in def_sets:
            if d.run_queue != RunQueueConfig() and d.run_queue not in queues:
                queues.append(d.run_queue)
        if len(queues) > 1:
            raise InvariantViolationError(
                "Definitions.merge: more than one of the Definitions sets a run_queue"
            )
        return Definitions(
            assets=[a for d in def_sets for a in d.assets],
            schedules=[s for d in def_sets for s in d.schedules],
            sensors=[s for d in def_sets for s in d.sensors],
            jobs=[j for d in def_sets for j in d.jobs],
            resources=resources,
            executor=executor,
            loggers=loggers,
            asset_checks=[c for d in def_sets for c in d.asset_checks],
            metadata=metadata,
            run_queue=queues[0] if queues else None,
        )

    @staticmethod
    def validate_loadable(defs: Definitions) -> None:
        """Raise if ``defs`` would not load: duplicate asset keys, unknown dependencies,
        cycles, missing resources, jobs that do not resolve, schedules or sensors sharing a
        name. Building Definitions already checks all of it (each error names the asset and
        its file:line), so this checks again what it was built from: for unit tests, as in
        Dagster."""
        if not isinstance(defs, Definitions):
            raise TypeError(f"Definitions.validate_loadable takes a Definitions; got {defs!r}")
        Definitions.merge(defs)


def _targeted_jobs(instigators: Iterable[Any]) -> list[UnresolvedAssetJobDefinition]:
    found = []
    for item in instigators:
        target = getattr(item, "target", None)
        jobs = [getattr(target, "job", None), getattr(item, "job", None)]
        jobs += getattr(item, "jobs", ())
        found += [job for job in jobs if isinstance(job, UnresolvedAssetJobDefinition)]
    return found


def _check_names(kind: str, items: Iterable[Any]) -> None:
    """Schedules, or sensors, are run by name: two of one name would be one of them."""
    seen: set[str] = set()
    for item in items:
        name = getattr(item, "name", None)
        if name in seen:
            raise DefinitionsError(f"two {kind}s are named '{name}'; {kind} names must be unique")
        if name is not None:
            seen.add(name)


def _check_resources(graph: AssetGraph, resources: Mapping[str, Any]) -> None:
    problems: list[str] = []
    for node in [*graph.nodes.values(), *graph.checks.values()]:
        needed = set(getattr(node, "required_resource_keys", ()))
        io_manager_key = getattr(node, "io_manager_key", DEFAULT_IO_MANAGER_KEY)
        if io_manager_key != DEFAULT_IO_MANAGER_KEY:
            needed.add(io_manager_key)
        needed.update(
            i.input_manager_key for i in getattr(node, "inputs", ()) if i.input_manager_key
        )
        for missing in sorted(needed - resources.keys()):
            have = ", ".join(sorted(resources)) or "none"
            problems.append(
                f"{describe(node)} requires resource '{missing}', which Definitions does not "
                f"provide (resources: {have})"
            )
    if problems:
        raise DefinitionsError("Missing resources:\n  - " + "\n  - ".join(problems))


def _check_held_resources(resources: Mapping[str, Any]) -> None:
    """As Dagster, when Definitions is built: a resource held by another that is configured at
    launch (or a ``@resource`` needing config) must be a top-level resource too, since the run
    config configures it under that key."""
    loaded = sys.modules.get(_RESOURCES)
    if loaded is None:  # no ConfigurableResource exists: never load pydantic for this
        return
    keys = loaded.TopLevelResources(resources)
    problems = [
        problem
        for key, value in resources.items()
        if isinstance(value, loaded.ConfigurableResource | loaded.PartialResource)
        for problem in keys.problems(key, value)
    ]
    if problems:
        raise loaded.problems_error("Definitions has misconfigured resources:", problems)
