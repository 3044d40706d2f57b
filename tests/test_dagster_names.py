"""``import millrace as dg``: every Dagster name we export is the thing, never a module."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

import millrace as dg
import pytest

# Dagster's public lowercase names (decorators and functions in ``dagster.__all__``): the
# ones an internal module of ours could shadow, since our module names are lowercase.
DAGSTER_LOWERCASE = {
    "asset", "asset_check", "asset_sensor", "build_asset_context", "build_init_resource_context",
    "build_input_context", "build_output_context", "build_resources", "build_schedule_context",
    "build_sensor_context", "config_mapping", "daily_partitioned_config", "define_asset_job",
    "definitions", "executor", "failure_hook", "file_relative_path", "fs_io_manager",
    "get_dagster_logger", "graph", "graph_asset", "graph_multi_asset", "in_process_executor",
    "input_manager", "io_manager", "job", "load_assets_from_modules",
    "load_assets_from_package_module", "load_definitions_from_module", "load_defs",
    "load_from_defs_folder", "logger", "materialize", "materialize_to_memory", "mem_io_manager",
    "multi_asset", "multi_asset_check", "multi_asset_sensor", "multiprocess_executor",
    "observable_source_asset", "op", "repository", "resource", "run_failure_sensor",
    "run_status_sensor", "schedule", "sensor", "success_hook", "with_resources",
    "with_source_code_references",
}  # fmt: skip


def _all_submodules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(dg.__path__, prefix="millrace."):
        importlib.import_module(info.name)  # importing sets the attribute on its parent
        names.append(info.name)
    return names


def test_no_top_level_module_of_ours_has_a_dagster_name():
    top = {name.split(".")[1] for name in _all_submodules()}
    assert top & DAGSTER_LOWERCASE == set()


@pytest.mark.parametrize("name", sorted(dg.__all__))
def test_every_exported_name_is_what_it_says_after_every_module_is_imported(name: str):
    _all_submodules()
    assert not isinstance(getattr(dg, name), ModuleType)


def test_dg_definitions_is_the_decorator():
    _all_submodules()

    @dg.definitions
    def defs() -> dg.Definitions:
        return dg.Definitions(assets=[])

    assert isinstance(defs, dg.LazyDefinitions)
    assert isinstance(defs(), dg.Definitions)


@pytest.mark.parametrize(
    "name", ["graph", "graph_multi_asset", "failure_hook", "repository", "Component"]
)
def test_a_dagster_name_we_do_not_port_says_so_and_what_to_use(name: str):
    with pytest.raises(AttributeError, match=rf"Millrace does not port Dagster's '{name}': "):
        getattr(dg, name)
