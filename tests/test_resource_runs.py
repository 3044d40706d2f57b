"""Resources, run config and IO managers through real runs: injection, EnvVar secrets, the
per-run lifecycle (also on failure and cancellation), typed Config from Python and from the
CLI, custom and built-in IO managers across runs, and the warehouse example.

Runs go through ``millrace.materialize``, ``millrace.Runtime`` and the ``millrace`` CLI in a
subprocess; the SQLite history is read back with the standard library. Nothing is mocked;
every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import pickle
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import millrace
import polars as pl
import pytest
import yaml
from conftest import Db, run_cli, stored_value, write_source
from millrace import (
    AssetKey,
    Config,
    ConfigurableIOManager,
    ConfigurableResource,
    Definitions,
    DefinitionsError,
    EnvVar,
    FilesystemIOManager,
    InitResourceContext,
    InMemoryIOManager,
    InputContext,
    IOManager,
    OutputContext,
    RunConfig,
    RunResult,
    RunStatus,
    Runtime,
    asset,
    materialize,
    resource,
)
from millrace.declarations.config import ConfigError
from millrace.events import Event, StepStarted
from pydantic import Field

if TYPE_CHECKING:
    from decimal import Decimal as OnlyForTypeCheckers

REPO = Path(millrace.__file__).resolve().parent.parent
TIMEOUT = 30  # seconds, for subprocesses and awaited events: fail instead of hanging
SECRET = "hunter2-Zq9-not-for-logs"


# -- helpers ---------------------------------------------------------------------------------


async def run(defs: Definitions, selection: Any = None, **kwargs: Any) -> RunResult:
    """One persisted run under this test's MILLRACE_HOME."""
    async with Runtime(defs) as runtime:
        return await runtime.materialize(selection, **kwargs)


async def result_of(handle: Any) -> RunResult:
    return await handle


def cli(
    *args: str | Path, cwd: Path, home: Path, env: dict[str, str | None] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, cwd=cwd, home=home, env=env)


write = write_source


def event_types(db: Db, run_id: str | None = None) -> list[str]:
    if run_id is None:
        return [r[0] for r in db.rows("SELECT type FROM events ORDER BY id")]
    return [
        r[0] for r in db.rows("SELECT type FROM events WHERE run_id = ? ORDER BY id", (run_id,))
    ]


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- resources used by the tests (module level, so annotations resolve) ----------------------


class WarehouseResource(ConfigurableResource):
    url: str
    password: str = "none"

    def query(self, table: str) -> pl.DataFrame:
        return pl.DataFrame({"table": [table], "url": [self.url]})


class Journal(ConfigurableResource):
    """Appends its setup, teardown and uses to a file: one line each, with the run id."""

    path: str
    name: str = "db"

    def note(self, line: str) -> None:
        with open(self.path, "a") as f:
            f.write(line + "\n")

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.note(f"setup {self.name} {context.run_id}")

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        self.note(f"teardown {self.name} {context.run_id}")


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


# -- injection -------------------------------------------------------------------------------


@asset
def raw_by_param(warehouse: WarehouseResource) -> pl.DataFrame:
    return warehouse.query("orders")


@asset(required_resource_keys={"warehouse"})
def raw_by_key(context) -> pl.DataFrame:
    return context.resources.warehouse.query("orders")


@pytest.mark.parametrize("raw", [raw_by_param, raw_by_key], ids=["parameter", "resource-key"])
def test_a_resource_reaches_the_asset_both_ways(raw: Any, home: Path) -> None:
    result = materialize([raw], resources={"warehouse": WarehouseResource(url="sqlite:///w.db")})

    assert result.success
    frame = result.asset_value(raw.key)
    assert frame.to_dicts() == [{"table": "orders", "url": "sqlite:///w.db"}]
    stored = pl.read_parquet(home / "storage" / f"{raw.key.path[-1]}.parquet")
    assert stored.to_dicts() == frame.to_dicts()


@pytest.mark.parametrize("raw", [raw_by_param, raw_by_key], ids=["parameter", "resource-key"])
def test_a_missing_resource_fails_at_definitions_time(raw: Any, home: Path) -> None:
    name = raw.key.path[-1]
    with pytest.raises(DefinitionsError) as caught:
        Definitions(assets=[raw])
    message = str(caught.value)
    assert f"asset '{name}' (" in message
    assert "test_resource_runs.py:" in message  # where the asset is defined
    assert "requires resource 'warehouse', which Definitions does not provide" in message

    with pytest.raises(DefinitionsError, match="requires resource 'warehouse'"):
        materialize([raw])
    assert not (home / "millrace.db").exists()  # nothing was opened, nothing ran


@asset
def rate() -> float:
    return 1.25


@asset
def priced(warehouse: WarehouseResource, rate: OnlyForTypeCheckers) -> float:
    return warehouse.query("prices").height * rate


def test_injection_survives_an_annotation_that_only_type_checkers_can_resolve() -> None:
    result = materialize(
        [rate, priced], resources={"warehouse": WarehouseResource(url="sqlite:///w.db")}
    )

    assert result.asset_value("priced") == 1.25


# -- EnvVar ----------------------------------------------------------------------------------


@asset
def connected(context, warehouse: WarehouseResource) -> dict[str, Any]:
    context.log.info(f"connected with {warehouse!r}")
    context.log.info(f"as text: {warehouse}")
    return {"password_length": len(warehouse.password), "url": warehouse.url}


def secret_warehouse() -> WarehouseResource:
    return WarehouseResource(url="sqlite:///w.db", password=EnvVar("MILLRACE_TEST_PASSWORD"))


def test_env_var_value_reaches_the_asset_but_never_the_history(
    home: Path, db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLRACE_TEST_PASSWORD", SECRET)

    result = materialize([connected], resources={"warehouse": secret_warehouse()})

    assert result.asset_value("connected") == {
        "password_length": len(SECRET),
        "url": "sqlite:///w.db",
    }
    logged = [
        json.loads(r[0])["message"]
        for r in db.rows("SELECT payload FROM events WHERE type = 'LOG'")
    ]
    assert logged == [
        "connected with WarehouseResource(url='sqlite:///w.db', "
        "password=EnvVar('MILLRACE_TEST_PASSWORD'))",
        "as text: url='sqlite:///w.db' password=EnvVar('MILLRACE_TEST_PASSWORD')",
    ]
    assert SECRET not in db.value("SELECT config FROM runs")
    # Every byte Millrace wrote: the database (and any WAL beside it) and stored values.
    written = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.name == "millrace.db" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), f"the secret is in {path}"


def test_an_unset_env_var_fails_the_run_before_any_asset_starts(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MILLRACE_TEST_PASSWORD", raising=False)
    expected = (
        "resource 'warehouse' (WarehouseResource): field 'password' reads environment "
        "variable MILLRACE_TEST_PASSWORD, which is not set"
    )

    with pytest.raises(DefinitionsError) as caught:
        materialize([connected], resources={"warehouse": secret_warehouse()})

    assert expected in str(caught.value)
    status, message = db.rows("SELECT status, message FROM runs")[0]
    assert status == "FAILURE"
    assert expected in message
    assert event_types(db) == ["RUN_STARTED", "RUN_FINISHED"]  # no STEP_STARTED


# -- lifecycle -------------------------------------------------------------------------------


@asset
def orders(db: Journal) -> int:
    db.note("use orders")
    return 3


@asset
def customers(db: Journal) -> int:
    db.note("use customers")
    return 2


@asset(required_resource_keys={"db"})
def summary(context, orders: int, customers: int) -> int:
    context.resources.db.note("use summary")
    return orders + customers


@asset
def broken_report(db: Journal, summary: int) -> int:
    raise RuntimeError("the report template is missing")


def test_a_shared_resource_is_set_up_and_torn_down_once_per_run(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"
    resources = {"db": Journal(path=str(journal))}

    first = materialize([orders, customers, summary], resources=resources)
    second = materialize([orders, customers, summary], resources=resources)

    assert first.success and second.success
    assert first.asset_value("summary") == 5
    written = lines(journal)
    assert len(written) == 10
    for run_lines, run_id in ((written[:5], first.run_id), (written[5:], second.run_id)):
        assert run_lines[0] == f"setup db {run_id}"
        assert run_lines[-1] == f"teardown db {run_id}"
        assert sorted(run_lines[1:-1]) == ["use customers", "use orders", "use summary"]


def test_teardown_runs_when_an_asset_fails(tmp_path: Path) -> None:
    journal = tmp_path / "journal.log"

    result = materialize(
        [orders, customers, summary, broken_report],
        resources={"db": Journal(path=str(journal))},
        raise_on_error=False,
    )

    assert result.status is RunStatus.FAILURE
    assert result.failures[AssetKey("broken_report")].message == "the report template is missing"
    written = lines(journal)
    assert written[0] == f"setup db {result.run_id}"
    assert written[-1] == f"teardown db {result.run_id}"
    assert written.count(f"teardown db {result.run_id}") == 1


async def test_teardown_runs_when_the_run_is_canceled(tmp_path: Path, db: Db) -> None:
    journal = tmp_path / "journal.log"
    never = asyncio.Event()  # set only in the finally below, so a broken cancel cannot hang
    hang_running = asyncio.Event()

    @asset
    async def hang(ledger: Journal) -> int:
        ledger.note("use hang")
        hang_running.set()
        await never.wait()
        return 1

    @asset
    def after_hang(hang: int) -> int:
        return hang

    defs = Definitions(
        assets=[hang, after_hang], resources={"ledger": Journal(path=str(journal), name="ledger")}
    )

    async with Runtime(defs) as runtime:
        handle = runtime.submit()
        try:
            await asyncio.wait_for(hang_running.wait(), TIMEOUT)
            handle.cancel()
            result = await asyncio.wait_for(result_of(handle), TIMEOUT)
        finally:
            never.set()

    assert result.status is RunStatus.CANCELED
    assert {e.asset_key.to_user_string(): e.reason for e in result.get_step_skipped_events()} == {
        "after_hang": "run canceled"
    }
    assert lines(journal) == [
        f"setup ledger {result.run_id}",
        "use hang",
        f"teardown ledger {result.run_id}",
    ]
    assert db.value("SELECT status FROM runs") == "CANCELED"


def test_a_generator_resource_is_torn_down_when_an_asset_fails() -> None:
    journal: list[str] = []

    @resource
    def connection(init_context: InitResourceContext):
        journal.append(f"open {init_context.run_id}")
        yield {"rows": 3}
        journal.append("close")  # no try/finally: Millrace resumes the generator

    @asset(required_resource_keys={"connection"})
    def extract(context) -> int:
        journal.append("extract")
        raise ConnectionResetError(f"lost after {context.resources.connection['rows']} rows")

    result = materialize([extract], resources={"connection": connection}, raise_on_error=False)

    assert result.status is RunStatus.FAILURE
    assert result.failures[AssetKey("extract")].message == "lost after 3 rows"
    assert journal == [f"open {result.run_id}", "extract", "close"]


def test_resources_the_selected_assets_do_not_need_are_not_set_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "journal.log"
    monkeypatch.delenv("MILLRACE_TEST_PASSWORD", raising=False)

    @resource
    def broken(init_context: InitResourceContext):
        raise ConnectionRefusedError("the broken resource was set up")

    @asset
    def cached(cache: Journal) -> int:
        return 1

    @asset(required_resource_keys={"broken"})
    def flaky(context) -> int:
        return 2

    result = materialize(
        [orders, cached, flaky, connected],
        resources={
            "db": Journal(path=str(journal), name="db"),
            "cache": Journal(path=str(journal), name="cache"),
            "broken": broken,
            "warehouse": secret_warehouse(),  # its variable is unset: reading it would fail
        },
        selection="orders",
    )

    assert result.success
    assert lines(journal) == [
        f"setup db {result.run_id}",
        "use orders",
        f"teardown db {result.run_id}",
    ]


# -- config ----------------------------------------------------------------------------------


class TrainConfig(Config):
    epochs: int = 5
    learning_rate: float = 0.1
    optimizer: str = "sgd"


class EvalConfig(Config):
    metric: str
    threshold: float = Field(0.5, ge=0, le=1)


@asset
def train(config: TrainConfig) -> dict[str, Any]:
    return config.model_dump()


@asset
def evaluate(config: EvalConfig, train: dict[str, Any]) -> str:
    return f"{config.metric} >= {config.threshold} after {train['epochs']} epochs"


@pytest.mark.parametrize(
    ("run_config", "expected"),
    [
        (
            {"ops": {"train": {"config": {"epochs": 3, "optimizer": "adam"}}}},
            {"epochs": 3, "learning_rate": 0.1, "optimizer": "adam"},
        ),
        (
            RunConfig(ops={"train": TrainConfig(epochs=3, learning_rate=0.01)}),
            {"epochs": 3, "learning_rate": 0.01, "optimizer": "sgd"},
        ),
        (None, {"epochs": 5, "learning_rate": 0.1, "optimizer": "sgd"}),
    ],
    ids=["dict", "RunConfig", "defaults"],
)
def test_config_reaches_the_asset_and_is_stored_resolved(
    db: Db, run_config: Any, expected: dict[str, Any]
) -> None:
    result = materialize([train], run_config=run_config)

    assert result.asset_value("train") == expected
    run_config_stored = json.loads(db.value("SELECT config FROM runs"))
    assert run_config_stored["ops"] == {"train": {"config": expected}}
    stored = db.value("SELECT config FROM latest_materializations WHERE asset_key = 'train'")
    assert json.loads(stored) == expected
    (event,) = result.get_asset_materialization_events()
    assert event.config == expected


async def test_every_bad_field_of_every_asset_is_reported_before_anything_runs(db: Db) -> None:
    bad = {
        "ops": {
            "train": {"config": {"epochs": "many", "learning_rate": "fast"}},
            "evaluate": {"config": {"threshold": 2, "thresold": 0.3}},
        }
    }
    async with Runtime(Definitions(assets=[train, evaluate])) as runtime:
        with pytest.raises(ConfigError) as caught:
            runtime.submit(run_config=bad)

    message = str(caught.value)
    assert message.startswith("Invalid run config:\n  - ")
    for line in [
        "asset 'train' (ops.train.config): epochs: ",
        "(given 'many')",
        "asset 'train' (ops.train.config): learning_rate: ",
        "(given 'fast')",
        "asset 'evaluate' (ops.evaluate.config): metric: required, not given",
        "asset 'evaluate' (ops.evaluate.config): threshold: ",
        "(given 2)",
        "asset 'evaluate' (ops.evaluate.config): thresold: unknown field "
        "(did you mean 'threshold'?)",
    ]:
        assert line in message
    assert len(message.splitlines()) == 6  # the header and one line per problem
    assert db.value("SELECT COUNT(*) FROM runs") == 0
    assert event_types(db) == []


def test_config_of_an_unselected_asset_is_not_reported_as_unknown() -> None:
    run_config = {"ops": {"train": {"config": {"epochs": 2}}}}
    try:
        result = materialize([rate, train], run_config=run_config, selection="rate")
    except ConfigError as exc:
        assert "no asset with a Config parameter" not in str(exc), str(exc)
        assert "select" in str(exc)
    else:
        assert result.success


TRAIN_PROJECT = """
    from millrace import Config, Definitions, asset


    class TrainConfig(Config):
        epochs: int = 5
        learning_rate: float = 0.1
        optimizer: str = "sgd"


    @asset
    def train(config: TrainConfig) -> dict:
        return config.model_dump()


    defs = Definitions(assets=[train])
"""


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_cli_config_file_with_an_override(tmp_path: Path, home: Path, db: Db, suffix: str) -> None:
    project = write(tmp_path / "proj" / "training.py", TRAIN_PROJECT)
    config = {"ops": {"train": {"config": {"epochs": 7, "optimizer": "adam"}}}}
    config_file = tmp_path / f"run{suffix}"
    config_file.write_text(yaml.safe_dump(config) if suffix == ".yaml" else json.dumps(config))

    done = cli(
        "materialize", project, "--config", config_file, "-c", "train.epochs=3",
        cwd=tmp_path, home=home,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    expected = {"epochs": 3, "learning_rate": 0.1, "optimizer": "adam"}
    assert stored_value(home, "train") == expected
    assert json.loads(db.value("SELECT config FROM latest_materializations")) == expected
    assert json.loads(db.value("SELECT config FROM runs"))["ops"] == {"train": {"config": expected}}


def test_cli_bad_config_value_fails_before_anything_runs(
    tmp_path: Path, home: Path, db: Db
) -> None:
    project = write(tmp_path / "proj" / "training.py", TRAIN_PROJECT)

    done = cli("materialize", project, "-c", "train.epochs=many", cwd=tmp_path, home=home)

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "error: Invalid run config:" in done.stderr
    assert "asset 'train' (ops.train.config): epochs: " in done.stderr
    assert "Traceback" not in done.stderr
    assert db.value("SELECT COUNT(*) FROM runs") == 0
    assert not (home / "storage").exists()


# -- IO managers -----------------------------------------------------------------------------


class JsonIOManager(IOManager):
    """Keeps each value as ``<base_dir>/<key>.json`` and counts what it loads."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.loaded: list[str] = []

    def path(self, key: AssetKey) -> Path:
        return self.base_dir / f"{key.to_user_string()}.json"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.path(context.asset_key).write_text(json.dumps(obj))
        context.add_output_metadata({"json_path": str(self.path(context.asset_key))})

    def load_input(self, context: InputContext) -> Any:
        self.loaded.append(context.asset_key.to_user_string())
        return json.loads(self.path(context.asset_key).read_text())


@asset(io_manager_key="json_io")
def settings() -> dict[str, int]:
    return {"threshold": 3}


@asset
def flagged(settings: dict[str, int]) -> list[int]:
    return [n for n in range(8) if n > settings["threshold"]]


def test_the_downstream_run_alone_loads_through_the_upstream_io_manager(
    tmp_path: Path, home: Path, db: Db
) -> None:
    json_dir = tmp_path / "json"

    first = materialize(
        [settings, flagged], resources={"json_io": JsonIOManager(json_dir)}, selection="settings"
    )

    assert first.success
    assert files_under(json_dir) == ["settings.json"]
    assert not (home / "storage").exists()  # the default manager stored nothing
    (event,) = first.get_asset_materialization_events()
    assert event.metadata["json_path"].value == str(json_dir / "settings.json")
    # Edit the stored value: the second run must read this very file.
    (json_dir / "settings.json").write_text(json.dumps({"threshold": 5}))

    manager = JsonIOManager(json_dir)
    second = materialize([settings, flagged], resources={"json_io": manager}, selection="flagged")

    assert second.success
    assert second.asset_value("flagged") == [6, 7]
    assert manager.loaded == ["settings"]
    assert stored_value(home, "flagged") == [6, 7]  # flagged itself went to the default one


def test_replacing_the_default_io_manager(tmp_path: Path, home: Path) -> None:
    json_dir = tmp_path / "json"

    @asset
    def numbers() -> list[int]:
        return [1, 2, 3]

    @asset
    def total(numbers: list[int]) -> int:
        return sum(numbers)

    first = materialize([numbers, total], resources={"io_manager": JsonIOManager(json_dir)})
    manager = JsonIOManager(json_dir)
    again = materialize([numbers, total], resources={"io_manager": manager}, selection="total")

    assert first.success and again.success
    assert files_under(json_dir) == ["numbers.json", "total.json"]
    assert json.loads((json_dir / "total.json").read_text()) == 6
    assert manager.loaded == ["numbers"]
    assert not (home / "storage").exists()


@asset
def greeting() -> str:
    return "hello"


@asset
def shout(greeting: str) -> str:
    return greeting.upper() + "!"


def test_filesystem_io_manager_as_a_resource_across_runs(tmp_path: Path, home: Path) -> None:
    base = tmp_path / "fs"
    resources = {"io_manager": FilesystemIOManager(base_dir=str(base))}

    first = materialize([greeting, shout], resources=resources, selection="greeting")
    second = materialize([greeting, shout], resources=resources, selection="shout")

    assert first.success and second.success
    assert files_under(base) == ["greeting", "shout"]  # Dagster's layout: no suffix
    with open(base / "shout", "rb") as f:
        assert pickle.load(f) == "HELLO!"
    (event,) = second.get_asset_materialization_events()
    assert event.metadata["path"].value == str(base / "shout")
    assert not (home / "storage").exists()


async def test_in_memory_io_manager_as_a_resource_across_runs(home: Path) -> None:
    manager = InMemoryIOManager()
    defs = Definitions(assets=[greeting, shout], resources={"io_manager": manager})

    async with Runtime(defs) as runtime:
        first = await runtime.materialize("greeting")
        second = await runtime.materialize("shout")

    assert first.success and second.success
    assert manager.values[(AssetKey("shout"), None)] == "HELLO!"
    assert not (home / "storage").exists()


class IndentedJsonIOManager(ConfigurableIOManager):
    """A user IO manager with typed fields: JSON files under ``base_dir``, ``indent`` wide."""

    base_dir: str
    indent: int = 2

    def path(self, key: AssetKey) -> Path:
        return Path(self.base_dir) / f"{key.to_user_string()}.json"

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        Path(self.base_dir).mkdir(parents=True, exist_ok=True)
        self.path(context.asset_key).write_text(json.dumps(obj, indent=self.indent))

    def load_input(self, context: InputContext) -> Any:
        return json.loads(self.path(context.asset_key).read_text())


def test_configurable_io_manager_subclass_with_fields(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "from-env"
    monkeypatch.setenv("MILLRACE_TEST_JSON_DIR", str(base))
    manager = IndentedJsonIOManager(base_dir=EnvVar("MILLRACE_TEST_JSON_DIR"), indent=4)

    first = materialize([settings, flagged], resources={"json_io": manager}, selection="settings")
    second = materialize([settings, flagged], resources={"json_io": manager}, selection="flagged")

    assert first.success and second.success
    assert (base / "settings.json").read_text() == json.dumps({"threshold": 3}, indent=4)
    assert second.asset_value("flagged") == [4, 5, 6, 7]
    with pytest.raises(DefinitionsError, match=r"indent: Input should be a valid integer"):
        IndentedJsonIOManager(base_dir=str(base), indent="wide")


# -- the warehouse example -------------------------------------------------------------------


def test_warehouse_example_materializes_and_stores_its_config(tmp_path: Path) -> None:
    home = tmp_path / "warehouse-home"
    history = Db(home / "millrace.db")

    plain = cli("materialize", "examples/warehouse", "--home", home, cwd=REPO, home=home)

    assert plain.returncode == 0, (plain.stdout, plain.stderr)
    assert "SUCCESS: 4 materialized" in plain.stdout
    query = "SELECT config, metadata FROM latest_materializations WHERE asset_key = 'spend_model'"
    config, _ = history.rows(query)[0]
    assert json.loads(config) == {"learning_rate": 0.1, "epochs": 5}

    tuned = cli(
        "materialize", "examples/warehouse", "--home", home, "--select", "spend_model",
        "-c", "spend_model.epochs=2", cwd=REPO, home=home,
    )  # fmt: skip

    assert tuned.returncode == 0, (tuned.stdout, tuned.stderr)
    assert "spend_model INFO: epoch 2: mse" in tuned.stdout
    assert "epoch 3" not in tuned.stdout
    config, metadata = history.rows(query)[0]
    assert json.loads(config) == {"learning_rate": 0.1, "epochs": 2}
    assert json.loads(metadata)["epochs"] == {"type": "int", "value": 2}
    assert set(stored_value(home, "spend_model")) == {"slope", "intercept", "mse"}

    listed = cli("list", "examples/warehouse", "--home", home, cwd=REPO, home=home)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    model = next(i for i, line in enumerate(lines) if line.strip().startswith("spend_model"))
    assert lines[model + 1].strip() == 'config: {"learning_rate": 0.1, "epochs": 2}'


def warehouse_example(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(REPO))
    return importlib.import_module("examples.warehouse")


async def test_warehouse_prod_without_its_url_fails_before_any_asset_runs(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = warehouse_example(monkeypatch)
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    seen: list[Event] = []

    async with Runtime(example.prod) as runtime:
        runtime.listen(seen.append)
        handle = runtime.submit()
        with pytest.raises(DefinitionsError) as caught:
            await asyncio.wait_for(result_of(handle), TIMEOUT)

    assert "WAREHOUSE_URL" in str(caught.value)
    assert "resource 'warehouse' (WarehouseResource): field 'connection_string'" in str(
        caught.value
    )
    assert not any(isinstance(e, StepStarted) for e in seen)
    assert "STEP_STARTED" not in event_types(db)
    status, message = db.rows("SELECT status, message FROM runs")[0]
    assert status == "FAILURE" and "WAREHOUSE_URL" in message


async def test_warehouse_prod_reads_its_url_when_the_run_starts(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = warehouse_example(monkeypatch)
    monkeypatch.setenv("WAREHOUSE_URL", f"sqlite:///{example.DEV_DATABASE}")

    async with Runtime(example.prod) as runtime:
        result = await runtime.materialize("raw_customers")

    assert result.status is RunStatus.SUCCESS, result.failures
    assert pl.read_parquet(home / "storage" / "raw_customers.parquet").height == 400


PROD = """
    from examples.warehouse import prod as defs
"""


def test_cli_warehouse_prod_without_its_url_fails_cleanly(tmp_path: Path, home: Path, db: Db):
    project = write(tmp_path / "prod.py", PROD)

    done = cli(
        "materialize", project, cwd=tmp_path, home=home,
        env={"PYTHONPATH": str(REPO), "WAREHOUSE_URL": None},
    )  # fmt: skip

    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback (most recent call last)" not in done.stderr
    assert (
        "error: Cannot set up resources:\n  - resource 'warehouse' (WarehouseResource): field "
        "'connection_string' reads environment variable WAREHOUSE_URL, which is not set"
    ) in done.stderr
    assert "STEP_STARTED" not in event_types(db)
    assert db.value("SELECT status FROM runs") == "FAILURE"


def test_cli_warehouse_prod_with_a_url_to_nowhere_fails_cleanly(
    tmp_path: Path, home: Path, db: Db
) -> None:
    project = write(tmp_path / "prod.py", PROD)
    nowhere = tmp_path / "missing.sqlite"

    done = cli(
        "materialize", project, cwd=tmp_path, home=home,
        env={"PYTHONPATH": str(REPO), "WAREHOUSE_URL": f"sqlite:///{nowhere}"},
    )  # fmt: skip

    assert "STEP_STARTED" not in event_types(db)  # it does fail before any asset runs
    assert db.value("SELECT status FROM runs") == "FAILURE"
    assert done.returncode != 0
    assert f"the warehouse database {nowhere} does not exist" in done.stderr
    assert "resource 'warehouse'" in done.stderr
    assert "Traceback (most recent call last)" not in done.stderr, done.stderr
