"""Dagster's IO manager API: build_input_context / build_output_context / build_resources,
the context attributes IO managers read, UPathIOManager over local files, the
ConfigurableIOManagerFactory, @io_manager with fs_io_manager and mem_io_manager, InputManager
and AssetIn(input_manager_key=...).

Runs go through ``millrace.materialize`` into each test's own home; files are read back from
disk. Nothing is mocked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import millrace as dg
import pytest
from millrace import (
    AssetIn,
    AssetKey,
    AssetSpec,
    ConfigurableIOManagerFactory,
    ConfigurableResource,
    DailyPartitionsDefinition,
    InitResourceContext,
    InputContext,
    InputManager,
    IOManager,
    MultiPartitionsDefinition,
    OutputContext,
    PartitionKeyRange,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    UPathIOManager,
    asset,
    build_init_resource_context,
    build_input_context,
    build_output_context,
    build_resources,
    fs_io_manager,
    io_manager,
    materialize,
    mem_io_manager,
    resource,
)
from millrace.storage.io_context import IOContextError

# -- IO managers used below ------------------------------------------------------------------


class JsonIOManager(UPathIOManager):
    """Dagster's documented pattern: a UPathIOManager subclass with an extension."""

    extension = ".json"

    def dump_to_path(self, context: OutputContext, obj: Any, path: Path) -> None:
        path.write_text(json.dumps(obj))

    def load_from_path(self, context: InputContext, path: Path) -> Any:
        return json.loads(path.read_text())

    def get_metadata(self, context: OutputContext, obj: Any) -> dict[str, Any]:
        return {"items": len(obj)}


class DictIOManager(IOManager):
    """Keeps values in a dict it was given, and records every context it was handed."""

    def __init__(self, store: dict[Any, Any], seen: list[Any] | None = None) -> None:
        self.store = store
        self.seen = seen if seen is not None else []

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self.seen.append(context)
        self.store[tuple(context.get_asset_identifier())] = obj
        context.add_output_metadata({"stored_in": "dict"})

    def load_input(self, context: InputContext) -> Any:
        self.seen.append(context)
        return self.store[tuple(context.get_asset_identifier())]


# -- building contexts in a test -------------------------------------------------------------


def test_a_manager_round_trips_through_built_contexts(tmp_path: Path) -> None:
    manager = JsonIOManager(base_path=tmp_path)
    out = build_output_context(asset_key="orders", definition_metadata={"owner": "ops"})
    manager.handle_output(out, [1, 2, 3])
    stored = tmp_path / "orders.json"
    assert json.loads(stored.read_text()) == [1, 2, 3]
    logged = out.get_logged_metadata()
    assert logged["path"].value == str(stored)
    assert logged["items"].value == 3
    assert out.definition_metadata == out.metadata == {"owner": "ops"}
    assert out.run_id == "__EPHEMERAL_RUN_ID"
    assert manager.load_input(build_input_context(asset_key=AssetKey("orders"))) == [1, 2, 3]


def test_contexts_say_what_they_were_not_given() -> None:
    context = build_input_context()
    assert not context.has_asset_key and not context.has_partition_key
    assert not context.has_asset_partitions and not context.has_input_name
    with pytest.raises(IOContextError, match="no asset_key"):
        _ = context.asset_key
    with pytest.raises(IOContextError, match="non-partitioned run"):
        _ = context.partition_key
    with pytest.raises(IOContextError, match="dagster_type"):
        _ = context.dagster_type
    with pytest.raises(IOContextError, match="not partitioned"):
        _ = build_output_context(asset_key="a").asset_partition_key
    assert context.upstream_output is None


def test_input_context_partitions_are_the_runs_and_the_assets() -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    context = build_input_context(
        asset_key="events",
        name="events",
        metadata={"columns": ["a"]},
        dagster_type=list,
        partition_key="2024-01-05",
        asset_partition_key_range=PartitionKeyRange("2024-01-02", "2024-01-04"),
        asset_partitions_def=daily,
    )
    assert context.partition_key == "2024-01-05"  # the run's
    assert context.asset_partition_keys == ["2024-01-02", "2024-01-03", "2024-01-04"]
    assert context.asset_partition_key_range == PartitionKeyRange("2024-01-02", "2024-01-04")
    window = context.asset_partitions_time_window
    assert (window.start.day, window.end.day) == (2, 5)
    with pytest.raises(IOContextError, match="exactly one partition"):
        _ = context.asset_partition_key
    assert context.metadata == {"columns": ["a"]} and context.dagster_type.typing_type is list
    assert context.name == "events"
    with pytest.raises(TypeError, match="asset_partitions_def"):
        build_input_context(asset_partition_key_range=PartitionKeyRange("a", "b"))
    with pytest.raises(TypeError, match="op_def not supported"):
        build_input_context(op_def=object())


def test_output_metadata_cannot_be_added_twice() -> None:
    context = build_output_context(asset_key="a")
    context.add_output_metadata({"rows": 1})
    with pytest.raises(IOContextError, match="already have metadata: rows"):
        context.add_output_metadata({"rows": 2})


def test_get_identifier_is_run_step_and_output() -> None:
    context = build_output_context(step_key="orders", name="result", run_id="r1")
    assert context.get_identifier() == ["r1", "orders", "result"]
    versioned = build_output_context(step_key="orders", name="result", version="v3")
    assert versioned.get_identifier() == ["versioned_outputs", "v3", "orders", "result"]
    assert build_input_context(upstream_output=context).get_identifier() == [
        "r1",
        "orders",
        "result",
    ]


def test_build_resources_sets_up_and_tears_down() -> None:
    events: list[str] = []

    @resource(config_schema={"greeting": str})
    def greeter(init_context: InitResourceContext) -> Any:
        events.append("setup")
        yield init_context.resource_config["greeting"]
        events.append("teardown")

    class Counter(ConfigurableResource):
        start: int

        def setup_for_execution(self, context: InitResourceContext) -> None:
            events.append(f"counter from {self.start}")

    with build_resources(
        {"greeter": greeter, "counter": Counter(start=3), "plain": 7},
        resource_config={"greeter": {"config": {"greeting": "hi"}}},
    ) as resources:
        assert resources.greeter == "hi" and resources.counter.start == 3 and resources.plain == 7
        assert events == ["setup", "counter from 3"]
    assert events[-1] == "teardown"


def test_built_contexts_hold_their_resources_until_the_with_block_ends() -> None:
    closed: list[bool] = []

    @resource
    def connection() -> Any:
        yield {"open": True}
        closed.append(True)

    with build_input_context(asset_key="a", resources={"conn": connection}) as context:
        assert context.resources.conn == {"open": True}
        assert not closed
    assert closed == [True]
    output = build_output_context(resources={"conn": connection})
    assert output.resources.conn == {"open": True}


# -- UPathIOManager in runs ------------------------------------------------------------------


def test_upath_manager_stores_assets_at_dagsters_paths(tmp_path: Path) -> None:
    @asset(key_prefix=["raw"])
    def orders() -> list[int]:
        return [1, 2, 3]

    @asset(ins={"orders": AssetIn(key=["raw", "orders"])})
    def total(orders: list[int]) -> list[int]:
        return [sum(orders)]

    result = materialize([orders, total], resources={"io_manager": JsonIOManager(tmp_path)})
    assert result.success
    assert json.loads((tmp_path / "raw" / "orders.json").read_text()) == [1, 2, 3]
    assert json.loads((tmp_path / "total.json").read_text()) == [6]
    [materialization] = [
        m for m in result.get_asset_materialization_events() if "orders" in str(m.asset_key)
    ]
    assert materialization.metadata["items"].value == 3


def test_upath_manager_partitions_and_a_window_of_them(tmp_path: Path) -> None:
    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=daily)
    def visits(context: dg.AssetExecutionContext) -> list[str]:
        return [context.partition_key]

    @asset(
        partitions_def=daily,
        ins={
            "visits": AssetIn(
                partition_mapping=TimeWindowPartitionMapping(start_offset=-2),
                metadata={"allow_missing_partitions": True},
            )
        },
    )
    def recent(visits: dict[str, list[str]]) -> list[str]:
        return sorted(visits)

    manager = JsonIOManager(tmp_path)
    for day in ("2024-01-02", "2024-01-03"):
        assert materialize([visits], partition_key=day, resources={"io_manager": manager}).success
    result = materialize(
        [visits, recent],
        partition_key="2024-01-03",
        resources={"io_manager": manager},
        selection=[recent],
    )
    assert result.success
    assert json.loads((tmp_path / "visits" / "2024-01-02.json").read_text()) == ["2024-01-02"]
    # 2024-01-01 was never stored: the manager skipped it, as its metadata allows
    assert json.loads((tmp_path / "recent" / "2024-01-03.json").read_text()) == [
        "2024-01-02",
        "2024-01-03",
    ]


def test_upath_manager_refuses_a_missing_partition_unless_allowed(tmp_path: Path) -> None:
    manager = JsonIOManager(tmp_path)
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    context = build_input_context(
        asset_key="visits",
        asset_partition_key_range=PartitionKeyRange("2024-01-01", "2024-01-02"),
        asset_partitions_def=daily,
    )
    with pytest.raises(FileNotFoundError):
        manager.load_input(context)


def test_upath_manager_multi_partitions_and_keys_that_would_escape(tmp_path: Path) -> None:
    multi = MultiPartitionsDefinition(
        {"region": StaticPartitionsDefinition(["eu"]), "day": StaticPartitionsDefinition(["d1"])}
    )

    @asset(partitions_def=multi)
    def sales() -> list[int]:
        return [5]

    manager = JsonIOManager(tmp_path)
    assert materialize([sales], partition_key="d1|eu", resources={"io_manager": manager}).success
    # dimensions by name: day, then region
    assert json.loads((tmp_path / "sales" / "d1" / "eu.json").read_text()) == [5]

    with pytest.raises(dg.MillraceError, match="would leave the asset's directory"):
        manager.handle_output(build_output_context(asset_key="x", partition_key="../up"), [1])
    assert not (tmp_path / "up.json").exists()


def test_upath_manager_paths_for_outputs_without_assets_and_a_repartitioned_asset(
    tmp_path: Path,
) -> None:
    manager = JsonIOManager(tmp_path)
    op_output = build_output_context(step_key="clean", name="result", run_id="r1")
    assert not manager.has_output(op_output)
    manager.handle_output(op_output, [1])
    assert (tmp_path / "r1" / "clean" / "result.json").is_file() and manager.has_output(op_output)
    # a file where the partitioned asset's directory goes is the unpartitioned past: replaced
    (tmp_path / "events").write_text("[]")
    manager.handle_output(build_output_context(asset_key="events", partition_key="a"), [2])
    assert json.loads((tmp_path / "events" / "a.json").read_text()) == [2]


def test_nothing_stored_under_a_manager_of_ones_own_is_a_missing_input(tmp_path: Path) -> None:
    @asset
    def raw() -> list[int]:
        return [1]

    @asset
    def clean(raw: list[int]) -> list[int]:
        return raw

    with pytest.raises(dg.MissingInputError, match="needs 'raw', which has never been") as caught:
        materialize(
            [raw, clean], selection=[clean], resources={"io_manager": JsonIOManager(tmp_path)}
        )
    assert "raw.json" in "".join(caught.value.__notes__)


def test_upath_manager_extension_must_have_a_dot() -> None:
    class Bad(JsonIOManager):
        extension = "json"

    with pytest.raises(ValueError, match="must start with a dot"):
        Bad()


def test_async_load_from_path(tmp_path: Path) -> None:
    class AsyncJson(JsonIOManager):
        async def load_from_path(self, context: InputContext, path: Path) -> Any:  # type: ignore[override]
            return json.loads(path.read_text())

    manager = AsyncJson(tmp_path)
    manager.handle_output(build_output_context(asset_key="a"), {"x": 1})
    assert manager.load_input(build_input_context(asset_key="a")) == {"x": 1}


# -- the contexts a run hands an IO manager --------------------------------------------------


def test_a_run_tells_the_manager_about_the_asset_and_its_upstream() -> None:
    store: dict[Any, Any] = {}
    seen: list[Any] = []
    regions = StaticPartitionsDefinition(["north", "south"])

    @asset(partitions_def=regions, metadata={"owner": "sales"})
    def sales(context: dg.AssetExecutionContext) -> list[str]:
        return [context.partition_key]

    @asset(partitions_def=regions, ins={"sales": AssetIn(metadata={"cols": ["x"]})})
    def report(sales: list[str]) -> list[str]:
        return [*sales, "report"]

    manager = DictIOManager(store, seen)
    result = materialize([sales, report], partition_key="north", resources={"io_manager": manager})
    assert result.success
    assert store[("report", "north")] == ["north", "report"]
    out = next(c for c in seen if isinstance(c, OutputContext) and c.asset_key == AssetKey("sales"))
    assert out.partition_key == out.asset_partition_key == "north"
    assert out.definition_metadata["owner"].value == "sales"
    assert out.name == "result" and out.run_id == result.run_id
    assert out.asset_partitions_def is regions and out.dagster_type.typing_type == list[str]
    [loaded] = [c for c in seen if isinstance(c, InputContext)]
    # a manager of one's own is asked even though the upstream ran in this very run
    assert loaded.asset_key == AssetKey("sales") and loaded.name == "sales"
    assert loaded.partition_key == "north" and loaded.asset_partition_keys == ["north"]
    assert loaded.metadata == {"cols": ["x"]}
    assert loaded.upstream_output.asset_key == AssetKey("sales")
    assert "owner" in loaded.upstream_output.definition_metadata
    assert loaded.dagster_type.typing_type == list[str]
    loaded.log.info("the log is the step's")


def test_an_unannotated_value_has_type_any() -> None:
    seen: list[Any] = []

    @asset
    def raw():  # type: ignore[no-untyped-def]  # no annotation on purpose
        return 1

    @asset
    def wrapped(raw):  # type: ignore[no-untyped-def]
        return [raw]

    assert materialize([raw, wrapped], resources={"io_manager": DictIOManager({}, seen)}).success
    assert {c.dagster_type.typing_type for c in seen} == {Any}
    assert seen[0].dagster_type.display_name == "Any"


# -- factories, decorators and the built-in definitions --------------------------------------


def test_configurable_io_manager_factory_creates_one_manager_per_run() -> None:
    made: list[str] = []
    store: dict[Any, Any] = {}

    class DictFactory(ConfigurableIOManagerFactory):
        label: str

        def create_io_manager(self, context: InitResourceContext) -> IOManager:
            made.append(self.label)
            return DictIOManager(store)

    @asset
    def numbers() -> list[int]:
        return [1]

    @asset
    def doubled(numbers: list[int]) -> list[int]:
        return numbers * 2

    factory = DictFactory(label="a")
    assert materialize([numbers, doubled], resources={"io_manager": factory}).success
    assert materialize([numbers], resources={"io_manager": factory}).success
    assert made == ["a", "a"] and store[("doubled",)] == [1, 1]

    class Wrong(ConfigurableIOManagerFactory):
        def create_io_manager(self, context: InitResourceContext) -> IOManager:
            return "not a manager"  # type: ignore[return-value]

    with pytest.raises(dg.MillraceError, match="create_io_manager returned str, not an IOManager"):
        materialize([numbers], resources={"io_manager": Wrong()})


def test_io_manager_decorator_with_config_and_required_resources() -> None:
    store: dict[Any, Any] = {}

    @io_manager(config_schema={"prefix": str}, required_resource_keys={"store"})
    def prefixed(init_context: InitResourceContext) -> IOManager:
        prefix = init_context.resource_config["prefix"]
        target = init_context.resources.store

        class Prefixed(DictIOManager):
            def handle_output(self, context: OutputContext, obj: Any) -> None:
                super().handle_output(context, f"{prefix}{obj}")

        return Prefixed(target)

    assert isinstance(prefixed, dg.IOManagerDefinition)

    @asset
    def word() -> str:
        return "x"

    result = materialize(
        [word],
        resources={"io_manager": prefixed, "store": store},
        run_config={"resources": {"io_manager": {"config": {"prefix": ">"}}}},
    )
    assert result.success and store[("word",)] == ">x"
    with pytest.raises(dg.DefinitionsError, match="input_config_schema is not supported"):
        io_manager(input_config_schema={"x": int})(lambda _: DictIOManager({}))
    hardcoded = dg.IOManagerDefinition.hardcoded_io_manager(DictIOManager(store))
    assert isinstance(hardcoded(build_init_resource_context()), DictIOManager)


def test_fs_io_manager_pickles_under_its_base_dir(tmp_path: Path) -> None:
    @asset
    def numbers() -> list[int]:
        return [1, 2]

    @asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    config = {"resources": {"io_manager": {"config": {"base_dir": str(tmp_path)}}}}
    result = materialize(
        [numbers, total], resources={"io_manager": fs_io_manager}, run_config=config
    )
    assert result.success
    assert (tmp_path / "numbers").is_file() and (tmp_path / "total").is_file()
    with pytest.raises(dg.MillraceError, match="fs_io_manager needs base_dir"):
        materialize([numbers], resources={"io_manager": fs_io_manager})


def test_mem_io_manager_keeps_values_for_the_run() -> None:
    @asset
    def numbers() -> list[int]:
        return [1, 2]

    @asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    result = materialize([numbers, total], resources={"io_manager": mem_io_manager})
    assert result.success and result.asset_value("total") == 3
    # a new run has a new memory: the upstream is not there
    again = materialize(
        [numbers, total],
        resources={"io_manager": mem_io_manager},
        selection=[total],
        raise_on_error=False,
    )
    assert not again.success


# -- input managers --------------------------------------------------------------------------


class TableLoader(InputManager):
    """Loads any asset as a description of where it lives: an input manager, not an IO one."""

    def load_input(self, context: InputContext) -> Any:
        return {"table": ".".join(context.asset_key.path), "meta": context.upstream_output.metadata}


def test_input_manager_is_an_abstract_loader() -> None:
    assert issubclass(IOManager, InputManager)
    with pytest.raises(TypeError):
        InputManager()  # type: ignore[abstract]
    loaded = TableLoader().load_input(build_input_context(asset_key=["db", "users"]))
    assert loaded["table"] == "db.users"


def test_input_manager_decorator_loads_with_its_config() -> None:
    @dg.input_manager(config_schema={"database": str})
    def table_loader(context: InputContext) -> str:
        return f"{context.resource_config['database']}.{context.asset_key.path[-1]}"

    assert isinstance(table_loader, dg.InputManagerDefinition)
    assert "table_loader" in repr(table_loader)
    loader = table_loader(build_init_resource_context(config={"database": "public"}))
    assert isinstance(loader, InputManager)
    assert loader.load_input(build_input_context(asset_key="users")) == "public.users"

    @dg.input_manager
    def constant() -> Any:
        return TableLoader()  # an InputManager it returns does the loading

    loaded = constant(build_init_resource_context()).load_input(build_input_context(asset_key="t"))
    assert loaded["table"] == "t"
    with pytest.raises(dg.DefinitionsError, match="input_config_schema is not supported"):
        dg.input_manager(input_config_schema={"path": str})(lambda context: None)


def test_asset_in_input_manager_key_loads_an_external_asset() -> None:
    users = AssetSpec(["db", "users"], metadata={"schema": "public"})

    @asset(ins={"users": AssetIn(key=["db", "users"], input_manager_key="tables")})
    def active(users: dict[str, Any]) -> str:
        return users["table"]

    result = materialize([users, active], resources={"tables": TableLoader()})
    assert result.success and result.asset_value("active") == "db.users"

    @dg.input_manager(config_schema={"database": str})
    def table_loader(context: InputContext) -> str:
        return f"{context.resource_config['database']}.{context.asset_key.path[-1]}"

    @asset(ins={"users": AssetIn(key=["db", "users"], input_manager_key="loader")})
    def named(users: str) -> str:
        return users

    result = materialize(
        [users, named],
        resources={"loader": table_loader},
        run_config={"resources": {"loader": {"config": {"database": "public"}}}},
    )
    assert result.asset_value("named") == "public.users"


def test_input_manager_key_loads_even_when_the_upstream_ran_in_the_run() -> None:
    @asset
    def users() -> list[str]:
        return ["ann"]

    @asset(ins={"users": AssetIn(input_manager_key="tables")})
    def active(users: dict[str, Any]) -> str:
        return users["table"]

    result = materialize([users, active], resources={"tables": TableLoader()})
    assert result.success and result.asset_value("active") == "users"
    with pytest.raises(dg.DefinitionsError, match="requires resource 'tables'"):
        materialize([users, active])  # refused before it runs


def test_a_missing_input_manager_is_named_when_definitions_are_built() -> None:
    users = AssetSpec(["db", "users"])

    @asset(ins={"users": AssetIn(key=["db", "users"], input_manager_key="tables")})
    def active(users: dict[str, Any]) -> str:
        return users["table"]

    with pytest.raises(dg.DefinitionsError, match="requires resource 'tables'"):
        dg.Definitions(assets=[users, active])
