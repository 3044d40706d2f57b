"""Dagster's config and resources, the corners real projects hit: nested Config, Enum and list
fields, PermissiveConfig, RunConfig, the legacy schema (Field, Permissive, ...) of
@resource(config_schema=...), EnvVar.int, ResourceParam, configure_at_launch, resources that
depend on resources, ResourceDependency. Runs are real: materialize() into a real home."""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any, Literal

import millrace as dg
import pytest
from millrace import DefinitionsError
from millrace.declarations.config import ConfigError
from millrace.declarations.resources import ResourceConfigError, required_resource_keys
from millrace.runtime.resources import open_resources
from pydantic import Field as PydanticField
from pydantic import ValidationError

HERE = Path(__file__).name


class Color(Enum):
    RED = "r"
    BLUE = "b"


class Layer(dg.Config):
    size: int
    activation: str = "relu"


class TrainConfig(dg.Config):
    epochs: int = PydanticField(default=1, description="passes over the data")
    color: Color = Color.RED
    palette: list[Color] = PydanticField(default_factory=list)
    layers: list[Layer] = PydanticField(default_factory=list)
    head: Layer = Layer(size=1)
    note: str | None  # Optional without a default: not required, None


class Cat(dg.Config):
    pet_type: Literal["cat"]
    meows: int


class Dog(dg.Config):
    pet_type: Literal["dog"]
    barks: float


class PetConfig(dg.Config):
    pet: Cat | Dog = PydanticField(discriminator="pet_type")


@dg.asset
def pet(config: PetConfig) -> str:
    return type(config.pet).__name__


@dg.asset
def model(config: TrainConfig) -> dict[str, Any]:
    return {
        "epochs": config.epochs,
        "color": config.color,
        "palette": config.palette,
        "sizes": [layer.size for layer in config.layers],
        "head": (config.head.size, config.head.activation),
        "note": config.note,
    }


# -- Config classes --------------------------------------------------------------------------


def test_nested_enum_list_and_optional_fields_from_the_dict_run_config(home: Path) -> None:
    run_config = {
        "ops": {
            "model": {
                "config": {
                    "epochs": 3,
                    "color": "BLUE",  # Dagster's run config names the member
                    "palette": ["RED", "b"],  # a value is read too
                    "layers": [{"size": 8}, {"size": 4, "activation": "tanh"}],
                    "head": {"size": 2},
                }
            }
        }
    }
    result = dg.materialize([model], run_config=run_config)
    assert result.asset_value("model") == {
        "epochs": 3,
        "color": Color.BLUE,
        "palette": [Color.RED, Color.BLUE],
        "sizes": [8, 4],
        "head": (2, "relu"),
        "note": None,
    }


def test_run_config_object_with_config_instances(home: Path) -> None:
    config = TrainConfig(color="BLUE", layers=[{"size": 5}], note="n")  # type: ignore[arg-type,list-item]
    result = dg.materialize([model], run_config=dg.RunConfig(ops={"model": config}))
    value = result.asset_value("model")
    assert (value["color"], value["sizes"], value["note"]) == (Color.BLUE, [5], "n")


def test_bad_nested_values_name_the_asset_and_the_field_path(home: Path) -> None:
    run_config = {
        "ops": {
            "model": {
                "config": {
                    "color": "GREEN",
                    "layers": [{"size": 1}, {"sise": 2}],
                    "head": {"size": "big"},
                }
            }
        }
    }
    with pytest.raises(ConfigError) as caught:
        dg.materialize([model], run_config=run_config)
    message = str(caught.value)
    where = "asset 'model' (ops.model.config)"
    assert f"{where}: color: Input should be a name of Color: RED, BLUE (given 'GREEN')" in message
    assert f"{where}: layers[1].size: required, not given" in message
    assert f"{where}: layers[1].sise: unknown field" in message
    assert f"{where}: head.size: Input should be a valid integer" in message


class Loose(dg.PermissiveConfig):
    known: int = 0


def test_permissive_config_keeps_fields_it_does_not_declare(home: Path) -> None:
    @dg.asset
    def loose(config: Loose) -> dict[str, Any]:
        return {"known": config.known, **(config.model_extra or {})}

    run_config = {"ops": {"loose": {"config": {"known": 1, "extra": [1, 2]}}}}
    result = dg.materialize([loose], run_config=run_config)
    assert result.asset_value("loose") == {"known": 1, "extra": [1, 2]}
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TrainConfig.model_validate({"epochs": 1, "extra": 2})  # a plain Config still forbids


def test_legacy_field_in_a_config_class_is_an_error_naming_class_field_and_line() -> None:
    with pytest.raises(DefinitionsError) as caught:

        class Wrong(dg.Config):
            lr: float = dg.Field(float, default_value=0.1)

    message = str(caught.value)
    assert message.startswith("Wrong.lr (") and f"{HERE}:" in message
    assert "use pydantic.Field" in message


def test_run_config_object_shapes() -> None:
    plain = dg.RunConfig(
        ops={"model": TrainConfig(epochs=2), "other": {"config": {"x": 1}}},
        resources={"db": {"config": {"url": "u"}}},
        execution={"config": {}},
    ).to_config_dict()
    assert plain["ops"]["model"]["config"]["epochs"] == 2
    assert plain["ops"]["other"] == {"config": {"x": 1}}
    assert plain["resources"] == {"db": {"config": {"url": "u"}}}
    assert plain["execution"] == {"config": {}}
    assert "loggers" not in plain
    with pytest.raises(ConfigError, match=r"RunConfig\(loggers=...\) must be a mapping"):
        dg.RunConfig(loggers=["console"])  # type: ignore[arg-type]


# -- @resource(config_schema=...): Dagster's legacy schema -----------------------------------


@dg.resource(
    config_schema={
        "url": dg.Field(str, description="where the warehouse is"),
        "pool": dg.Field(int, default_value=4),
        "schema_name": dg.Field(str, is_required=False),
        "retry": {
            "times": dg.Field(int, default_value=3),
            "backoff": dg.Field(float, default_value=0.5),
        },
        "tags": dg.Field(dg.Permissive({"team": str}), is_required=False),
        "hosts": [str],
        "timeout": dg.Noneable(int),
        "weights": dg.Map(str, float),
    }
)
def warehouse(init_context: dg.InitResourceContext) -> dict[str, Any]:
    return dict(init_context.resource_config)


def test_legacy_schema_fills_defaults_and_leaves_out_optional_fields(home: Path) -> None:
    @dg.asset(required_resource_keys={"warehouse"})
    def seen(context: dg.AssetExecutionContext) -> dict[str, Any]:
        return context.resources.warehouse

    config = {"url": "sqlite://", "hosts": ["a"], "weights": {"a": 1}}
    result = dg.materialize(
        [seen],
        resources={"warehouse": warehouse},
        run_config={"resources": {"warehouse": {"config": config}}},
    )
    assert result.asset_value("seen") == {
        "url": "sqlite://",
        "pool": 4,
        "retry": {"times": 3, "backoff": 0.5},  # an all-optional shape is optional itself
        "hosts": ["a"],
        "timeout": None,  # Noneable: optional, None
        "weights": {"a": 1.0},
    }  # schema_name and tags: not required, no default, so not in the config at all

    config |= {"tags": {"team": "data", "owner": "kim"}, "schema_name": "s"}
    result = dg.materialize(
        [seen],
        resources={"warehouse": warehouse},
        run_config={"resources": {"warehouse": {"config": config}}},
    )
    assert result.asset_value("seen")["tags"] == {"team": "data", "owner": "kim"}  # permissive
    assert result.asset_value("seen")["schema_name"] == "s"


def test_legacy_schema_problems_are_all_named(home: Path) -> None:
    @dg.asset(required_resource_keys={"warehouse"})
    def seen(context: dg.AssetExecutionContext) -> None:
        pass

    config = {"pool": "many", "retry": {"tims": 1}, "hosts": "a", "tags": {}}
    with pytest.raises(ResourceConfigError) as caught:
        dg.materialize(
            [seen],
            resources={"warehouse": warehouse},
            run_config={"resources": {"warehouse": {"config": config}}},
        )
    message = str(caught.value)
    at = "resources.warehouse.config"
    assert f"{at}: url: required, not given" in message
    assert f"{at}: pool: Input should be a valid integer" in message
    assert f"{at}: retry.tims: unknown field (did you mean 'times'?)" in message
    assert f"{at}: hosts: Input should be a valid list" in message
    assert f"{at}: tags.team: required, not given" in message
    assert f"{at}: weights: required, not given" in message


def test_string_source_reads_an_env_var_when_the_run_starts(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    @dg.resource(config_schema={"token": dg.StringSource, "port": dg.IntSource})
    def api(init_context: dg.InitResourceContext) -> tuple[str, int]:
        return init_context.resource_config["token"], init_context.resource_config["port"]

    @dg.asset
    def called(api: dg.ResourceParam[tuple[str, int]]) -> tuple[str, int]:
        return api

    run_config = {"resources": {"api": {"config": {"token": {"env": "API_TOKEN"}, "port": 80}}}}
    with pytest.raises(
        ResourceConfigError, match="token: environment variable API_TOKEN is not set"
    ):
        dg.materialize([called], resources={"api": api}, run_config=run_config)
    monkeypatch.setenv("API_TOKEN", "t0k")
    result = dg.materialize([called], resources={"api": api}, run_config=run_config)
    assert result.asset_value("called") == ("t0k", 80)


def test_a_scalar_schema_and_a_missing_required_config() -> None:
    @dg.resource(config_schema=str)
    def named(init_context: dg.InitResourceContext) -> str:
        return init_context.resource_config

    assert named.check_config("x") == ("x", [])
    assert named.check_config(None) == (None, ["required, not given"])
    assert warehouse.check_config(None)[1][0] == "url: required, not given"


def test_bad_legacy_schemas_fail_when_declared() -> None:
    with pytest.raises(DefinitionsError, match="a required field cannot have a default value"):
        dg.Field(int, default_value=1, is_required=True)
    with pytest.raises(DefinitionsError, match=r"the default does not fit the type:\n  - value: "):
        dg.Field(int, default_value="x")
    with pytest.raises(DefinitionsError, match=r"retry.times: Input should be a valid integer"):
        dg.Field({"retry": {"times": int}}, default_value={"retry": {"times": "x"}})
    with pytest.raises(DefinitionsError, match=r"a list schema holds one type, as in \[int\]"):

        @dg.resource(config_schema={"hosts": [str, int]})
        def bad() -> None:
            pass

    with pytest.raises(
        DefinitionsError,
        match=r"^@resource odd \(.*test_config_parity.py:\d+\): config schema x: 5 is not a config",
    ):

        @dg.resource(config_schema={"x": 5})
        def odd() -> None:
            pass

    assert dg.Field(dg.Noneable(int)).is_required is False
    assert dg.Field({"a": dg.Field(int, default_value=1)}).is_required is False
    assert dg.Field({"a": int}).is_required is True


# -- ConfigurableResource: EnvVar.int, create_resource, configure_at_launch -----------------


class Server(dg.ConfigurableResource):
    host: str = "localhost"
    port: int


@dg.asset
def address(server: Server) -> str:
    return f"{server.host}:{server.port}"


def test_env_var_int_is_read_as_an_integer_and_never_shown(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server(port=dg.EnvVar.int("SERVER_PORT"))
    assert repr(server) == "Server(host='localhost', port=EnvVar.int('SERVER_PORT'))"
    monkeypatch.setenv("SERVER_PORT", "8080")
    assert dg.materialize([address], resources={"server": server}).asset_value("address") == (
        "localhost:8080"
    )
    monkeypatch.setenv("SERVER_PORT", "hunter2")
    with pytest.raises(ResourceConfigError) as caught:
        dg.materialize([address], resources={"server": server})
    message = str(caught.value)
    assert (
        "resource 'server' (Server): field 'port': environment variable SERVER_PORT is not an "
        "integer (EnvVar.int)" in message
    )
    assert "hunter2" not in message


class Client:
    def __init__(self, url: str) -> None:
        self.url = url
        self.closed = False


class ClientResource(dg.ConfigurableResource):
    """Configures a plain client: assets take it as ResourceParam[Client]."""

    url: str

    def create_resource(self, context: dg.InitResourceContext) -> Client:
        return Client(self.url)


def test_create_resource_hands_out_another_object_to_resource_params(home: Path) -> None:
    @dg.asset
    def fetched(client: dg.ResourceParam[Client]) -> str:
        assert type(client) is Client
        return client.url

    result = dg.materialize([fetched], resources={"client": ClientResource(url="https://x")})
    assert result.asset_value("fetched") == "https://x"


def test_configure_at_launch_takes_its_fields_from_the_run_config(home: Path) -> None:
    resources = {"server": Server.configure_at_launch(host="db.internal")}
    plain = {"resources": {"server": {"config": {"port": 5432}}}}
    typed = dg.RunConfig(resources={"server": Server(port=6543)})  # Dagster's typed form
    assert dg.materialize([address], resources=resources, run_config=plain).asset_value(
        "address"
    ) == ("db.internal:5432")
    # as in Dagster, the typed form gives every field, its defaults too, over the given ones
    assert dg.materialize([address], resources=resources, run_config=typed).asset_value(
        "address"
    ) == ("localhost:6543")


def test_configure_at_launch_without_its_fields_says_where_they_go(home: Path) -> None:
    resources = {"server": Server.configure_at_launch()}
    with pytest.raises(ResourceConfigError) as caught:
        dg.materialize([address], resources=resources)
    message = str(caught.value)
    assert "resources.server.config.port: required, not given" in message
    assert (
        "resources.server: Server.configure_at_launch() takes the fields it was not given from "
        "the run config: resources: {server: {config: {...}}}" in message
    )
    bad = {"resources": {"server": {"config": {"port": "x", "hots": "h"}}}}
    with pytest.raises(ResourceConfigError) as caught:
        dg.materialize([address], resources=resources, run_config=bad)
    assert "resources.server.config.port: Input should be a valid integer" in str(caught.value)
    assert "resources.server.config.hots: unknown field (did you mean 'host'?)" in str(caught.value)


def test_configure_at_launch_with_an_unknown_field_fails_where_it_is_called() -> None:
    with pytest.raises(ResourceConfigError) as caught:
        Server.configure_at_launch(prot=1)
    message = str(caught.value)
    assert message.startswith(f"Server.configure_at_launch() (tests/{HERE}:")
    assert "prot: unknown field (did you mean 'port'?)" in message


def test_run_config_env_reference_for_a_resource_field(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVER_PORT", "99")
    run_config = {"resources": {"server": {"config": {"port": {"env": "SERVER_PORT"}}}}}
    result = dg.materialize([address], resources={"server": Server(port=1)}, run_config=run_config)
    assert result.asset_value("address") == "localhost:99"


# -- resources that depend on resources ------------------------------------------------------


class Credentials(dg.ConfigurableResource):
    username: str
    password: str


class Bucket(dg.ConfigurableResource):
    credentials: Credentials
    region: str
    journal: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # nested resources are ready first, and the context's config is the bucket's own
        assert isinstance(self.credentials, Credentials)
        assert "credentials" not in context.resource_config
        _note(self.journal, f"setup bucket as {self.credentials.username}")

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        _note(self.journal, "teardown bucket")


def _note(path: str, line: str) -> None:
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


@dg.asset
def listing(bucket: Bucket, credentials: Credentials) -> str:
    assert bucket.credentials is credentials  # the one top-level instance, set up once
    return f"{bucket.credentials.username}@{bucket.region}"


def test_a_nested_resource_configured_at_launch_is_the_top_level_one(
    home: Path, tmp_path: Path
) -> None:
    credentials = Credentials.configure_at_launch()
    journal = tmp_path / "journal.txt"
    resources = {
        "credentials": credentials,
        "bucket": Bucket(credentials=credentials, region="eu", journal=str(journal)),
    }
    run_config = dg.RunConfig(
        resources={"credentials": {"config": {"username": "kim", "password": "pw"}}}
    )
    result = dg.materialize([listing], resources=resources, run_config=run_config)
    assert result.asset_value("listing") == "kim@eu"
    assert journal.read_text().splitlines() == ["setup bucket as kim", "teardown bucket"]


def test_a_held_resource_configured_at_launch_is_needed_though_no_asset_names_it(
    home: Path, tmp_path: Path
) -> None:
    # Dagster's "resources that depend on other resources" example: the asset names only the
    # bucket; the run config configures the credentials it holds.
    @dg.asset
    def region(bucket: Bucket) -> str:
        return f"{bucket.credentials.username}@{bucket.region}"

    credentials = Credentials.configure_at_launch()
    journal = tmp_path / "journal.txt"
    resources = {
        "credentials": credentials,
        "bucket": Bucket(credentials=credentials, region="eu", journal=str(journal)),
    }
    run_config = {"resources": {"credentials": {"config": {"username": "kim", "password": "pw"}}}}
    result = dg.materialize([region], resources=resources, run_config=run_config)
    assert result.asset_value("region") == "kim@eu"
    assert journal.read_text().splitlines() == ["setup bucket as kim", "teardown bucket"]


def test_a_nested_fully_configured_resource_is_set_up_for_its_holder(home: Path) -> None:
    @dg.asset
    def region(bucket: Bucket) -> str:
        return f"{bucket.credentials.username}@{bucket.region}"

    bucket = Bucket(credentials=Credentials(username="ann", password="pw"), region="us")
    assert dg.materialize([region], resources={"bucket": bucket}).asset_value("region") == (
        "ann@us"
    )


def test_a_nested_configure_at_launch_resource_must_be_a_top_level_one_too(home: Path) -> None:
    @dg.asset
    def region(bucket: Bucket) -> str:
        return bucket.region

    bucket = Bucket(credentials=Credentials.configure_at_launch(), region="eu")
    with pytest.raises(ResourceConfigError) as caught:
        dg.materialize([region], resources={"bucket": bucket})
    assert (
        "resource 'bucket' (Bucket.credentials) holds Credentials.configure_at_launch(), which "
        "is not a top-level resource: give the same object as one too"
    ) in str(caught.value)
    with pytest.raises(ResourceConfigError, match=r"Bucket.credentials\): takes a Credentials"):
        dg.materialize(
            [region],
            resources={"bucket": Bucket(credentials=Server.configure_at_launch(), region="eu")},  # type: ignore[arg-type]
        )


class Pipeline(dg.ConfigurableResource):
    """Holds what a function resource and a plain object hand out."""

    client: dg.ResourceDependency[Client]
    settings: dg.ResourceDependency[dict[str, int]]
    shared: dg.ResourceDependency[list[str]]


@dg.resource
def client_resource() -> Iterator[Client]:
    client = Client("https://api")
    yield client
    client.closed = True


def test_resource_dependency_fields_hold_what_their_resources_hand_out(home: Path) -> None:
    setups: list[str] = []

    @dg.resource
    def shared_resource() -> list[str]:
        setups.append("shared")
        return setups

    seen: dict[str, Any] = {}

    @dg.asset
    def used(pipeline: Pipeline, shared: dg.ResourceParam[list[str]]) -> str:
        seen["client"] = pipeline.client
        assert pipeline.shared is shared  # a top-level @resource: set up once, handed to both
        return f"{pipeline.client.url} {pipeline.settings['retries']}"

    pipeline = Pipeline(client=client_resource, settings={"retries": 2}, shared=shared_resource)
    result = dg.materialize([used], resources={"pipeline": pipeline, "shared": shared_resource})
    assert result.asset_value("used") == "https://api 2"
    assert seen["client"].closed  # torn down after the run, as a top-level generator is
    assert setups == ["shared"]
    assert pipeline.client is client_resource  # the declared resource is left as it was


def test_definitions_rejects_a_held_launch_configured_resource_that_is_not_top_level() -> None:
    @dg.asset
    def region(bucket: Bucket) -> str:
        return bucket.region

    bucket = Bucket(credentials=Credentials.configure_at_launch(), region="eu")
    with pytest.raises(dg.DagsterInvalidDefinitionError) as caught:
        dg.Definitions(assets=[region], resources={"bucket": bucket})
    assert str(caught.value).splitlines() == [
        "Definitions has misconfigured resources:",
        "  - resource 'bucket' (Bucket.credentials) holds Credentials.configure_at_launch(), "
        "which is not a top-level resource: give the same object as one too, e.g. "
        "resources={'<key>': that_object, 'bucket': ...}, and its fields in the run config "
        "under that key",
    ]

    # held by a resource configured at launch itself, and a @resource that needs config
    @dg.resource(config_schema={"url": str})
    def api(context: dg.InitResourceContext) -> str:
        return context.resource_config["url"]

    pipeline = Pipeline(client=api, settings={}, shared=[])
    with pytest.raises(dg.DagsterInvalidDefinitionError) as caught:
        dg.Definitions(
            resources={
                "bucket": Bucket.configure_at_launch(credentials=Credentials.configure_at_launch()),
                "pipeline": pipeline,
            }
        )
    problems = caught.value.problems  # type: ignore[attr-defined]
    assert [p.split(" holds ")[0] for p in problems] == [
        "resource 'bucket' (Bucket.credentials)",
        "resource 'pipeline' (Pipeline.client)",
    ]
    assert problems[1].endswith(
        "which needs config: give it as a top-level resource too, and configure it there"
    )
    # the same objects as top-level resources too: accepted
    credentials = Credentials.configure_at_launch()
    defs = dg.Definitions(
        assets=[region],
        resources={
            "credentials": credentials,
            "bucket": Bucket(credentials=credentials, region="eu"),
            "api": api,
            "pipeline": pipeline,
        },
    )
    assert set(defs.resources) == {"credentials", "bucket", "api", "pipeline"}


def test_a_holder_requires_the_top_level_resources_it_holds_and_comes_after_them() -> None:
    credentials = Credentials.configure_at_launch()
    holder = Pipeline(client=client_resource, settings={}, shared=[])
    resources = {
        "bucket": Bucket(credentials=credentials, region="eu"),  # first, yet set up second
        "credentials": credentials,
        "client": client_resource,
        "pipeline": holder,
    }
    assert required_resource_keys(resources["bucket"], resources) == {"credentials"}
    assert required_resource_keys(holder, resources) == {"client"}
    assert required_resource_keys(credentials, resources) == set()
    run_config = {"resources": {"credentials": {"config": {"username": "u", "password": "p"}}}}
    with open_resources(resources, run_id="r", run_config=run_config) as live:
        assert live["bucket"].credentials is live["credentials"]
        assert live["pipeline"].client is live["client"]
        assert list(live) == ["credentials", "bucket", "client", "pipeline"]


def test_a_resource_configured_at_launch_may_hold_one_too() -> None:
    credentials = Credentials.configure_at_launch(password="pw")
    bucket = Bucket.configure_at_launch(credentials=credentials)
    resources = {"bucket": bucket, "credentials": credentials}
    assert required_resource_keys(bucket, resources) == {"credentials"}
    run_config = {
        "resources": {
            "bucket": {"config": {"region": "ap"}},
            "credentials": {"config": {"username": "lee"}},
        }
    }
    with open_resources(resources, run_id="r", run_config=run_config) as live:
        assert (live["bucket"].region, live["bucket"].credentials.username) == ("ap", "lee")
        assert live["bucket"].credentials is live["credentials"]


class Painter(dg.ConfigurableResource):
    color: Color
    backup: Color | None  # Optional without a default: None, as in a Config class


def test_resource_enum_fields_take_names_also_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Painter(color="BLUE").color is Color.BLUE  # type: ignore[arg-type]
    painter = Painter(color=dg.EnvVar("PAINT"))  # type: ignore[arg-type]
    monkeypatch.setenv("PAINT", "RED")
    run_config = {"resources": {"other": {"config": {"color": "b"}}}}
    other = Painter(color=Color.RED)
    with open_resources({"p": painter, "other": other}, run_id="r", run_config=run_config) as live:
        assert (live["p"].color, live["p"].backup) == (Color.RED, None)
        assert live["other"].color is Color.BLUE
    monkeypatch.setenv("PAINT", "GREEN")
    with (
        pytest.raises(ResourceConfigError, match=r"color \(from \$PAINT\): Input should be a name"),
        open_resources({"p": painter}, run_id="r"),
    ):
        pass


def test_a_resource_knows_the_context_of_its_run_and_legacy_code_can_build_one(
    home: Path,
) -> None:
    class Tracked(dg.ConfigurableResource):
        label: str

        def create_resource(self, context: dg.InitResourceContext) -> str:
            assert self.get_resource_context() is context
            return f"{self.label} in {context.run_id}"

    @dg.resource(config_schema=Tracked.to_config_schema())
    def legacy(init_context: dg.InitResourceContext) -> str:
        return Tracked.from_resource_context(init_context)

    run_config = {"resources": {"legacy": {"config": {"label": "x"}}}}
    with open_resources({"legacy": legacy}, run_id="run-9", run_config=run_config) as live:
        assert live["legacy"] == "x in run-9"
    bad = {"resources": {"legacy": {"config": {"lable": "x"}}}}
    with (
        pytest.raises(ResourceConfigError, match=r"resources.legacy.config: lable: unknown field"),
        open_resources({"legacy": legacy}, run_id="r", run_config=bad),
    ):
        pass
    with pytest.raises(ResourceConfigError, match="has not been set up by a run"):
        Tracked(label="y").get_resource_context()
    with pytest.raises(
        ResourceConfigError, match=r"Bucket has a teardown: use Bucket.from_resource_context_cm"
    ):
        Bucket.from_resource_context(dg.build_init_resource_context({"region": "eu"}))


def test_assigning_a_resource_field_says_what_to_do_instead() -> None:
    server = Server(port=1)
    with pytest.raises(
        ResourceConfigError,
        match=r"Server.conn cannot be assigned: .*'_conn: Any = PrivateAttr\(None\)'",
    ):
        server.conn = object()  # type: ignore[attr-defined]
    with pytest.raises(ResourceConfigError, match=r"Server\.port cannot be assigned"):
        server.port = 2


def test_a_resource_in_run_config_gives_its_config_fields(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = dg.EnvVar.int("SERVER_PORT")
    bucket = Bucket(credentials=Credentials(username="u", password="p"), region="eu")
    plain = dg.RunConfig(resources={"server": Server(port=port), "bucket": bucket}).to_config_dict()
    assert plain["resources"]["server"] == {"config": {"host": "localhost", "port": port}}
    assert plain["resources"]["bucket"] == {"config": {"region": "eu", "journal": ""}}
    monkeypatch.setenv("SERVER_PORT", "7")
    typed = dg.RunConfig(resources={"server": Server(port=port)})
    resources = {"server": Server.configure_at_launch()}
    result = dg.materialize([address], resources=resources, run_config=typed)
    assert result.asset_value("address") == "localhost:7"  # the EnvVar is read at launch


def test_a_discriminated_union_takes_dagster_selector_form(home: Path) -> None:
    run_config = {"ops": {"pet": {"config": {"pet": {"dog": {"barks": 1}}}}}}
    assert dg.materialize([pet], run_config=run_config).asset_value("pet") == "Dog"
    inline = {"ops": {"pet": {"config": {"pet": {"pet_type": "cat", "meows": 2}}}}}
    assert dg.materialize([pet], run_config=inline).asset_value("pet") == "Cat"
    typed = dg.RunConfig(ops={"pet": PetConfig(pet=Cat(pet_type="cat", meows=1))})
    assert dg.materialize([pet], run_config=typed).asset_value("pet") == "Cat"
    with pytest.raises(ConfigError, match=r"asset 'pet' \(ops.pet.config\): pet: "):
        dg.materialize([pet], run_config={"ops": {"pet": {"config": {"pet": {"cow": {}}}}}})


def test_an_env_reference_is_read_only_for_str_int_and_bool_fields(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Tagged(dg.ConfigurableResource):
        name: str | None = None
        tags: dict[str, str] = PydanticField(default_factory=dict)

    monkeypatch.setenv("TAGGED_NAME", "t")
    config = {"name": {"env": "TAGGED_NAME"}, "tags": {"env": "prod"}}
    run_config = {"resources": {"tagged": {"config": config}}}
    with open_resources({"tagged": Tagged()}, run_id="r", run_config=run_config) as live:
        assert (live["tagged"].name, live["tagged"].tags) == ("t", {"env": "prod"})


def test_a_resource_configured_at_launch_never_shows_the_values_it_was_given() -> None:
    partial = Credentials.configure_at_launch(username=dg.EnvVar("USER_NAME"), password="hunter2")
    assert (
        repr(partial)
        == "Credentials.configure_at_launch(username=EnvVar('USER_NAME'), password=...)"
    )
