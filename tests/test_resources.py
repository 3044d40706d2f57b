"""Resources: ConfigurableResource validation, EnvVar resolution and redaction, @resource,
open_resources (order, teardown on every exit path), and the configurable IO managers."""

import asyncio
import inspect
import logging
import os
import pickle
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from millrace import (
    AssetKey,
    DefinitionsError,
    InputContext,
    IOManager,
    MetadataValue,
    OutputContext,
    ParquetIOManager,
)
from millrace.declarations.resources import (
    ConfigurableResource,
    EnvVar,
    InitResourceContext,
    ResourceConfigError,
    ResourceDefinition,
    ResourceParam,
    build_init_resource_context,
    is_resource_annotation,
    resolve_env_vars,
    resource,
)
from millrace.runtime.resources import open_resources
from millrace.storage.configurable_io import ConfigurableIOManager, FilesystemIOManager
from millrace.storage.files import write_atomically
from polars.testing import assert_frame_equal
from pydantic import PrivateAttr, field_validator

HERE = os.path.basename(__file__)
SECRET = "postgres://admin:hunter2@db.internal/prod"


class WarehouseResource(ConfigurableResource):
    connection_string: str
    timeout: float = 5.0


class Events:
    """A real logger whose records are kept in order: resources report setup and teardown
    through ``context.log``, as user code would."""

    def __init__(self, name: str) -> None:
        self.messages: list[str] = []
        self.log = logging.getLogger(f"millrace.tests.{name}")
        self.log.propagate = False
        self.log.setLevel(logging.DEBUG)
        self.log.handlers = [_ListHandler(self.messages)]


class _ListHandler(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__()
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@pytest.fixture
def events(request: pytest.FixtureRequest) -> Events:
    return Events(request.node.name)


class Recorded(ConfigurableResource):
    """Logs its setup and teardown; fails in either when asked to."""

    name: str
    fail_setup: bool = False
    fail_teardown: bool = False
    _opened: bool = PrivateAttr(False)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        context.log.info(f"setup {self.name}")
        if self.fail_setup:
            raise ConnectionError(f"{self.name} is down")
        self._opened = True

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        context.log.info(f"teardown {self.name}")
        if self.fail_teardown:
            raise OSError(f"{self.name} would not close")


@resource
def generated(init_context: InitResourceContext) -> Iterator[str]:
    init_context.log.info("setup generated")
    yield "generated value"
    init_context.log.info("teardown generated")  # no try/finally: must still run on failure


@resource
@contextmanager
def managed(init_context: InitResourceContext) -> Iterator[str]:
    init_context.log.info("setup managed")
    yield "managed value"
    init_context.log.info("teardown managed")


def open_for_test(events: Events, resources: dict[str, Any], **kwargs: Any) -> Any:
    return open_resources(resources, run_id="run-1", log=events.log, **kwargs)


def open_only(events: Events, resources: dict[str, Any], **kwargs: Any) -> None:
    with open_for_test(events, resources, **kwargs):
        pass


# -- ConfigurableResource --------------------------------------------------------------------


def test_valid_resource_is_typed_and_frozen() -> None:
    warehouse = WarehouseResource(connection_string="sqlite:///x.db", timeout="2.5")
    assert warehouse.timeout == 2.5
    assert warehouse.connection_string == "sqlite:///x.db"
    with pytest.raises(Exception, match="frozen"):
        warehouse.timeout = 3.0  # type: ignore[misc]


def test_invalid_values_name_the_class_every_field_and_the_given_value() -> None:
    built_at = inspect.currentframe().f_lineno + 2  # type: ignore[union-attr]
    with pytest.raises(ResourceConfigError) as caught:
        WarehouseResource(connection_string=42, timeout="soon", conection_string="x")
    message = str(caught.value)
    first_line = message.splitlines()[0]  # the path is relative to the working directory
    assert first_line.startswith("WarehouseResource (")
    assert first_line.endswith(f"{HERE}:{built_at}) is misconfigured:")
    assert "connection_string: Input should be a valid string (given 42)" in message
    assert "timeout: Input should be a valid number" in message
    assert "(given 'soon')" in message
    assert "conection_string: unknown field (did you mean 'connection_string'?)" in message
    assert isinstance(caught.value, DefinitionsError)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_missing_required_field_is_named() -> None:
    with pytest.raises(ResourceConfigError, match="connection_string: required, not given"):
        WarehouseResource()


def test_env_var_field_is_not_validated_at_construction_but_other_fields_are() -> None:
    deferred = WarehouseResource(connection_string="x", timeout=EnvVar("WAREHOUSE_TIMEOUT"))
    assert deferred.timeout == EnvVar("WAREHOUSE_TIMEOUT")
    with pytest.raises(ResourceConfigError) as caught:
        WarehouseResource(connection_string=EnvVar("WAREHOUSE_URL"), timeout="soon")
    assert "timeout" in str(caught.value)
    assert "connection_string" not in str(caught.value)


class SqliteWarehouse(ConfigurableResource):
    url: str

    @field_validator("url")
    @classmethod
    def _sqlite_only(cls, url: str) -> str:
        if not url.startswith("sqlite:///"):
            raise ValueError("needs a sqlite:/// URL")
        return url


def test_field_validators_of_subclasses_see_the_value_not_the_env_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared = SqliteWarehouse(url=EnvVar("WAREHOUSE_URL"))  # the validator does not run yet
    with pytest.raises(ResourceConfigError, match="url: Value error, needs a sqlite:/// URL"):
        SqliteWarehouse(url="postgres://x")
    monkeypatch.setenv("WAREHOUSE_URL", "postgres://admin:hunter2@db")
    with pytest.raises(ResourceConfigError) as caught:
        resolve_env_vars("warehouse", declared)
    assert "url (from $WAREHOUSE_URL): Value error, needs a sqlite:/// URL" in str(caught.value)
    assert "hunter2" not in "".join(traceback.format_exception(caught.value))
    monkeypatch.setenv("WAREHOUSE_URL", "sqlite:///ok.db")
    assert resolve_env_vars("warehouse", declared).url == "sqlite:///ok.db"


def test_env_var_is_a_str_naming_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MILLRACE_TEST_VAR", raising=False)
    var = EnvVar("MILLRACE_TEST_VAR")
    assert isinstance(var, str)
    assert var.env_var_name == "MILLRACE_TEST_VAR"
    assert repr(var) == "EnvVar('MILLRACE_TEST_VAR')"
    assert var.get_value() is None
    assert var.get_value(default="fallback") == "fallback"
    monkeypatch.setenv("MILLRACE_TEST_VAR", "42")
    assert var.get_value() == "42"
    assert EnvVar.int("MILLRACE_TEST_VAR") == var
    assert pickle.loads(pickle.dumps(var)) == var


def test_resolve_env_vars_reads_and_validates_into_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", SECRET)
    monkeypatch.setenv("WAREHOUSE_TIMEOUT", "2.5")
    declared = WarehouseResource(
        connection_string=EnvVar("WAREHOUSE_URL"), timeout=EnvVar("WAREHOUSE_TIMEOUT")
    )
    resolved = resolve_env_vars("warehouse", declared)
    assert resolved.connection_string == SECRET
    assert resolved.timeout == 2.5
    assert declared.connection_string == EnvVar("WAREHOUSE_URL")  # the definition is untouched
    expected = "connection_string=EnvVar('WAREHOUSE_URL'), timeout=EnvVar('WAREHOUSE_TIMEOUT')"
    assert repr(resolved) == f"WarehouseResource({expected})"
    assert repr(declared) == repr(resolved)
    assert SECRET not in str(resolved)
    assert "hunter2" not in repr(resolved)


def test_missing_variables_are_all_named_with_key_and_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("WAREHOUSE_TIMEOUT", raising=False)
    declared = WarehouseResource(
        connection_string=EnvVar("WAREHOUSE_URL"), timeout=EnvVar("WAREHOUSE_TIMEOUT")
    )
    with pytest.raises(ResourceConfigError) as caught:
        resolve_env_vars("warehouse", declared)
    message = str(caught.value)
    assert (
        "resource 'warehouse' (WarehouseResource): field 'connection_string' reads environment "
        "variable WAREHOUSE_URL, which is not set" in message
    )
    assert "field 'timeout' reads environment variable WAREHOUSE_TIMEOUT" in message


def test_invalid_variable_value_is_reported_without_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret_timeout = "hunter2-not-a-number"
    monkeypatch.setenv("WAREHOUSE_TIMEOUT", secret_timeout)
    declared = WarehouseResource(connection_string="x", timeout=EnvVar("WAREHOUSE_TIMEOUT"))
    with pytest.raises(ResourceConfigError) as caught:
        resolve_env_vars("warehouse", declared)
    assert "timeout (from $WAREHOUSE_TIMEOUT): Input should be a valid number" in str(caught.value)
    printed = "".join(traceback.format_exception(caught.value))
    assert secret_timeout not in printed  # neither in the message nor in a chained exception


class Credentials(ConfigurableResource):
    password: str


class Client(ConfigurableResource):
    credentials: Credentials
    retries: int = 3


def test_nested_resources_are_resolved_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLIENT_PASSWORD", "hunter2")
    monkeypatch.setenv("CLIENT_RETRIES", "7")
    declared = Client(
        credentials=Credentials(password=EnvVar("CLIENT_PASSWORD")),
        retries=EnvVar("CLIENT_RETRIES"),
    )
    resolved = resolve_env_vars("client", declared)
    assert resolved.credentials.password == "hunter2"
    assert resolved.retries == 7
    assert declared.credentials.password == EnvVar("CLIENT_PASSWORD")
    assert "hunter2" not in repr(resolved)
    monkeypatch.delenv("CLIENT_PASSWORD")
    with pytest.raises(
        ResourceConfigError, match=r"resource 'client\.credentials' \(Credentials\)"
    ):
        resolve_env_vars("client", declared)


def test_is_resource_annotation() -> None:
    assert is_resource_annotation(WarehouseResource)
    assert is_resource_annotation(FilesystemIOManager)
    assert is_resource_annotation(ResourceParam[dict])
    assert not is_resource_annotation(dict)
    assert not is_resource_annotation(pl.DataFrame)
    assert not is_resource_annotation("WarehouseResource")
    assert not is_resource_annotation(None)


# -- @resource -------------------------------------------------------------------------------


def test_resource_decorator_forms() -> None:
    @resource
    def bare(init_context: InitResourceContext) -> str:
        """A bare resource."""
        return f"bare:{init_context.resource_config}"

    @resource(config_schema={"greeting": str}, description="greets", required_resource_keys={"x"})
    def configured(init_context: InitResourceContext) -> str:
        return init_context.resource_config["greeting"]

    @resource
    def no_context() -> int:
        return 7

    assert isinstance(bare, ResourceDefinition)
    assert bare.description == "A bare resource."
    assert bare(build_init_resource_context(config="c")) == "bare:c"
    assert configured.description == "greets"
    assert configured.required_resource_keys == frozenset({"x"})
    assert configured(build_init_resource_context(config={"greeting": "hi"})) == "hi"
    assert no_context() == 7


# -- open_resources --------------------------------------------------------------------------


def test_setup_in_order_and_teardown_in_reverse(events: Events) -> None:
    plain = object()
    resources = {"a": Recorded(name="a"), "b": generated, "c": managed, "plain": plain}
    with open_for_test(events, resources) as live:
        events.log.info("body")
        assert live["b"] == "generated value"
        assert live["c"] == "managed value"
        assert live["plain"] is plain
        assert live["a"]._opened
    assert events.messages == [
        "setup a",
        "setup generated",
        "setup managed",
        "body",
        "teardown managed",
        "teardown generated",
        "teardown a",
    ]


def test_each_run_sets_up_its_own_instance(events: Events) -> None:
    declared = Recorded(name="a")
    with open_for_test(events, {"a": declared}) as live:
        assert live["a"] is not declared
        assert live["a"]._opened
    assert not declared._opened


def test_body_failure_tears_everything_down_and_propagates(events: Events) -> None:
    resources = {"a": Recorded(name="a"), "b": generated, "c": managed}
    with pytest.raises(ZeroDivisionError), open_for_test(events, resources):
        1 / 0  # noqa: B018
    assert events.messages[-3:] == ["teardown managed", "teardown generated", "teardown a"]


def test_cancellation_tears_everything_down(events: Events) -> None:
    resources = {"a": Recorded(name="a"), "b": generated}
    with pytest.raises(asyncio.CancelledError), open_for_test(events, resources):
        raise asyncio.CancelledError
    assert events.messages[-2:] == ["teardown generated", "teardown a"]


def test_setup_failure_tears_down_what_was_set_up(events: Events) -> None:
    resources = {
        "a": Recorded(name="a"),
        "b": generated,
        "c": Recorded(name="c", fail_setup=True),
        "d": Recorded(name="d"),
    }
    with (
        pytest.raises(ConnectionError, match="c is down") as caught,
        open_for_test(events, resources),
    ):
        pytest.fail("the body must not run")
    assert "while setting up resource 'c'" in caught.value.__notes__
    assert events.messages == [
        "setup a",
        "setup generated",
        "setup c",
        "teardown generated",
        "teardown a",
    ]


def test_teardown_error_does_not_hide_the_body_error(events: Events) -> None:
    resources = {"a": Recorded(name="a"), "b": Recorded(name="b", fail_teardown=True)}
    with pytest.raises(KeyError) as caught, open_for_test(events, resources):
        raise KeyError("body")
    assert events.messages[-3:] == ["teardown b", "tearing down resource 'b' failed", "teardown a"]
    assert caught.value.__notes__ == [
        "tearing down resource 'b' also failed: OSError: b would not close"
    ]


def test_teardown_error_after_a_clean_body_is_raised_after_all_teardowns(events: Events) -> None:
    resources = {"a": Recorded(name="a", fail_teardown=True), "b": Recorded(name="b")}
    with pytest.raises(OSError, match="a would not close") as caught:
        open_only(events, resources)
    assert "while tearing down resource 'a'" in caught.value.__notes__
    assert [m for m in events.messages if m.startswith("teardown")] == ["teardown b", "teardown a"]


def test_missing_variable_fails_before_anything_is_set_up(
    events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    resources = {
        "a": Recorded(name="a"),
        "b": generated,
        "warehouse": WarehouseResource(connection_string=EnvVar("WAREHOUSE_URL")),
    }
    with (
        pytest.raises(ResourceConfigError, match="WAREHOUSE_URL, which is not set"),
        open_for_test(events, resources),
    ):
        pytest.fail("the body must not run")
    assert events.messages == []


def test_live_resource_holds_the_variable_value(
    events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WAREHOUSE_URL", SECRET)
    declared = WarehouseResource(connection_string=EnvVar("WAREHOUSE_URL"))
    with open_for_test(events, {"warehouse": declared}) as live:
        assert live["warehouse"].connection_string == SECRET
        assert SECRET not in repr(live)


def test_required_resources_are_set_up_first_and_passed_in(events: Events) -> None:
    @resource(required_resource_keys={"db"})
    def cache(init_context: InitResourceContext) -> str:
        return f"cache over {init_context.resources.db}"

    @resource
    def db(init_context: InitResourceContext) -> str:
        init_context.log.info(f"db for {init_context.run_id}")
        return "db"

    with open_for_test(events, {"cache": cache, "db": db}) as live:
        assert live["cache"] == "cache over db"
    assert events.messages == ["db for run-1"]


def test_unknown_required_resource_and_cycles_are_errors(events: Events) -> None:
    @resource(required_resource_keys={"dbb"})
    def cache() -> str:
        return "cache"

    @resource(required_resource_keys={"b"})
    def a() -> str:
        return "a"

    @resource(required_resource_keys={"a"})
    def b() -> str:
        return "b"

    with pytest.raises(ResourceConfigError, match=r"requires resource 'dbb'.*did you mean 'db'"):
        open_only(events, {"cache": cache, "db": generated})
    with pytest.raises(ResourceConfigError, match="cycle: a -> b -> a"):
        open_only(events, {"a": a, "b": b})
    assert events.messages == []


def test_run_config_reaches_resource_functions_and_is_checked(events: Events) -> None:
    @resource(config_schema={"greeting": str, "times": (int, 1)})
    def greeter(init_context: InitResourceContext) -> str:
        return init_context.resource_config["greeting"] * init_context.resource_config["times"]

    run_config = {"resources": {"greeter": {"config": {"greeting": "hi", "times": "2"}}}}
    with open_for_test(events, {"greeter": greeter}, run_config=run_config) as live:
        assert live["greeter"] == "hihi"

    bad = {"resources": {"greeter": {"config": {"times": "x", "greting": "hi"}}, "gretter": {}}}
    with pytest.raises(ResourceConfigError) as caught:
        open_only(events, {"greeter": greeter}, run_config=bad)
    message = str(caught.value)
    assert "resources.gretter, but there is no resource 'gretter' (did you mean 'greeter'?)" in (
        message
    )
    assert "resources.greeter.config: greeting: required, not given" in message
    assert "resources.greeter.config: times: Input should be a valid integer" in message
    assert "greting: unknown field (did you mean 'greeting'?)" in message


def test_run_config_overrides_configurable_resource_fields(events: Events) -> None:
    declared = WarehouseResource(connection_string="dev")
    run_config = {"resources": {"warehouse": {"config": {"timeout": "9"}}}}
    with open_for_test(events, {"warehouse": declared}, run_config=run_config) as live:
        assert live["warehouse"].timeout == 9.0
        assert live["warehouse"].connection_string == "dev"
    assert declared.timeout == 5.0
    bad = {"resources": {"warehouse": {"config": {"timeot": 1, "timeout": "x"}}}}
    with pytest.raises(ResourceConfigError) as caught:
        open_only(events, {"warehouse": declared}, run_config=bad)
    assert "resources.warehouse.config.timeot: unknown field (did you mean 'timeout'?)" in str(
        caught.value
    )
    assert "resources.warehouse.config.timeout: Input should be a valid number" in str(caught.value)


def test_generator_must_yield_exactly_once(events: Events) -> None:
    @resource
    def never() -> Iterator[str]:
        return
        yield "unreachable"

    @resource
    def twice() -> Iterator[str]:
        yield "one"
        yield "two"

    with pytest.raises(ResourceConfigError, match="'never': its function returned without"):
        open_only(events, {"never": never})
    with (
        pytest.raises(ResourceConfigError, match="'twice': its function yielded more than once"),
        open_for_test(events, {"twice": twice}) as live,
    ):
        assert live["twice"] == "one"


def test_yield_for_execution_can_wrap_the_run(events: Events) -> None:
    class Session(ConfigurableResource):
        @contextmanager
        def yield_for_execution(self, context: InitResourceContext) -> Iterator["Session"]:
            context.log.info("open session")
            try:
                yield self
            finally:
                context.log.info("close session")

    with pytest.raises(RuntimeError), open_for_test(events, {"session": Session()}):
        raise RuntimeError("body")
    assert events.messages == ["open session", "close session"]


# -- configurable IO managers ----------------------------------------------------------------


def store(manager: IOManager, key: Any, value: Any, partition: str | None = None) -> OutputContext:
    context = OutputContext(AssetKey(key), partition_key=partition)
    manager.handle_output(context, value)
    return context


def load(manager: IOManager, key: Any, partition: str | None = None) -> Any:
    return manager.load_input(InputContext(AssetKey(key), partition_key=partition))


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_filesystem_io_manager_pickles_to_the_key_path(tmp_path: Path) -> None:
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    frame = pl.DataFrame({"id": [1, 2], "name": ["a", None]})
    context = store(manager, ["sales", "daily"], frame)
    store(manager, "counts", {"a": 1})
    store(manager, "events", [1, 2], partition="2026-01-31")
    # A partition is a file name no asset key component can be (``=``): never an asset's.
    assert files(tmp_path) == ["counts", "events/partition=2026-01-31", "sales/daily"]
    with open(tmp_path / "sales" / "daily", "rb") as f:
        assert_frame_equal(pickle.load(f), frame)  # plain pickle, readable without Millrace
    assert_frame_equal(load(manager, ["sales", "daily"]), frame)
    assert load(manager, "counts") == {"a": 1}
    assert load(manager, "events", partition="2026-01-31") == [1, 2]
    assert context.output_metadata == {"path": MetadataValue.path(tmp_path / "sales" / "daily")}
    with pytest.raises(FileNotFoundError):
        load(manager, "never_stored")


def test_filesystem_io_manager_is_a_validated_resource(
    tmp_path: Path, events: Events, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ResourceConfigError, match=r"(?s)FilesystemIOManager .*base_dir: required"):
        FilesystemIOManager()
    monkeypatch.setenv("MILLRACE_TEST_STORAGE", str(tmp_path / "from-env"))
    declared = FilesystemIOManager(base_dir=EnvVar("MILLRACE_TEST_STORAGE"))
    with open_for_test(events, {"io_manager": declared}) as live:
        store(live["io_manager"], "value", 42)
    assert load(resolve_env_vars("io_manager", declared), "value") == 42
    assert files(tmp_path / "from-env") == ["value"]


class UpperIOManager(ConfigurableIOManager):
    """A user-written IO manager with a field: keeps upper-cased strings under a prefix."""

    prefix: str
    _values: dict[str, str] = PrivateAttr(default_factory=dict)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._values[self.prefix + context.asset_key.to_user_string()] = obj.upper()

    def load_input(self, context: InputContext) -> Any:
        return self._values[self.prefix + context.asset_key.to_user_string()]


def test_configurable_io_manager_subclass(events: Events) -> None:
    manager = UpperIOManager(prefix="p:")
    assert isinstance(manager, IOManager) and isinstance(manager, ConfigurableResource)
    store(manager, "a", "shout")
    assert load(manager, "a") == "SHOUT"
    with open_for_test(events, {"io_manager": manager}) as live:
        store(live["io_manager"], "b", "run")
    assert load(manager, "b") == "RUN"  # a run's copy shares what the manager stores
    with pytest.raises(TypeError, match="abstract"):
        ConfigurableIOManager()


def test_parquet_io_manager_takes_base_dir_by_position_or_keyword(tmp_path: Path) -> None:
    frame = pl.DataFrame({"x": [1, 2, 3]})
    by_position = ParquetIOManager(tmp_path / "one")
    by_keyword = ParquetIOManager(base_dir=str(tmp_path / "two"))
    for manager in (by_position, by_keyword):
        store(manager, ["a", "b"], frame)
        assert_frame_equal(load(manager, ["a", "b"]), frame)
    assert files(tmp_path) == ["one/a/b.parquet", "two/a/b.parquet"]
    assert repr(by_keyword) == f"ParquetIOManager(base_dir={str(tmp_path / 'two')!r})"


def test_write_atomically_keeps_the_old_file_when_a_write_fails(tmp_path: Path) -> None:
    final = tmp_path / "deep" / "value"
    made: set[Path] = set()
    write_atomically(final, made, lambda tmp: tmp.write_text("old"))
    assert made == {final.parent}

    def half_write(tmp: Path) -> None:
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(final, made, half_write)
    assert final.read_text() == "old"
    assert files(tmp_path) == ["deep/value"]  # no temporary file left behind
