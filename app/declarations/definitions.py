"""Definitions: everything a code location declares, validated when it is built."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..asset_graph import AssetGraph, describe
from ..automation.schedules import UnresolvedPartitionedAssetScheduleDefinition
from ..errors import DefinitionsError
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
        self._jobs = resolve_jobs(self.jobs, self.graph, self)
        self._implicit_job: JobDefinition | None = None
        self.schedules = [
            s.resolve(self) if isinstance(s, UnresolvedPartitionedAssetScheduleDefinition) else s
            for s in self.schedules
        ]

    def get_asset_graph(self) -> AssetGraph:
        return self.graph

    def get_assets_def(self, key: Any) -> AssetsDefinition:
        node = self.graph.nodes.get(coerce_key(key))
        if not isinstance(node, AssetsDefinition):
            raise KeyError(f"no materializable asset {coerce_key(key).to_user_string()!r}")
        return node

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
    def merge(*defs: Definitions) -> Definitions:
        resources: dict[str, Any] = {}
        for d in defs:
            for name, res in d.resources.items():
                if name in resources and resources[name] is not res:
                    raise DefinitionsError(f"Definitions.merge: resource {name!r} defined twice")
                resources[name] = res
        return Definitions(
            assets=[a for d in defs for a in d.assets],
            schedules=[s for d in defs for s in d.schedules],
            sensors=[s for d in defs for s in d.sensors],
            jobs=[j for d in defs for j in d.jobs],
            resources=resources,
            asset_checks=[c for d in defs for c in d.asset_checks],
        )


def _targeted_jobs(instigators: Iterable[Any]) -> list[UnresolvedAssetJobDefinition]:
    found = []
    for item in instigators:
        target = getattr(item, "target", None)
        jobs = [getattr(target, "job", None), getattr(item, "job", None)]
        jobs += getattr(item, "jobs", ())
        found += [job for job in jobs if isinstance(job, UnresolvedAssetJobDefinition)]
    return found


def _check_resources(graph: AssetGraph, resources: Mapping[str, Any]) -> None:
    problems: list[str] = []
    for node in [*graph.nodes.values(), *graph.checks.values()]:
        needed = set(getattr(node, "required_resource_keys", ()))
        io_manager_key = getattr(node, "io_manager_key", DEFAULT_IO_MANAGER_KEY)
        if io_manager_key != DEFAULT_IO_MANAGER_KEY:
            needed.add(io_manager_key)
        for missing in sorted(needed - resources.keys()):
            have = ", ".join(sorted(resources)) or "none"
            problems.append(
                f"{describe(node)} requires resource '{missing}', which Definitions does not "
                f"provide (resources: {have})"
            )
    if problems:
        raise DefinitionsError("Missing resources:\n  - " + "\n  - ".join(problems))
