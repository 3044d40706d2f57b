"""Bad input gets a one-line MillraceError naming it (issue 14, findings 6, 7, 8 and 14).

Config files and run_config; selections (long unions, non-ASCII keys, empty tag keys, wrong
types, ``*``); config of assets outside the selection; and the "did you mean" of every message.
Through the public API and the CLI, on real files and processes.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
from conftest import Db, run_cli, write_source
from millrace import (
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    AssetSpec,
    Config,
    Definitions,
    DefinitionsError,
    RunConfig,
    SelectionError,
    asset,
    materialize,
)
from millrace.asset_graph import AssetGraph
from millrace.declarations.config import ConfigError
from millrace.selection import parse_selection


class TrainConfig(Config):
    epochs: int = 5


@asset(tags={"tier": "gold"})
def rate() -> int:
    return 3


@asset(tags={"tier": ""})
def untiered() -> int:
    return 4


@asset
def train(config: TrainConfig, rate: int) -> int:
    return config.epochs * rate


def constant(name: str) -> AssetsDefinition:
    """A new asset named ``name``: each call is a new definition from the same line."""

    @asset(name=name)
    def compute() -> int:
        return 1

    return compute


def import_as(path: Path, name: str) -> ModuleType:
    """``path`` imported afresh under ``name``, as a second import path would."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def selected(text: str, graph: AssetGraph) -> set[str]:
    return names(parse_selection(text).resolve(graph))


def names(keys: set[AssetKey]) -> set[str]:
    return {k.to_user_string() for k in keys}


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The CLI's exit 2 with exactly one ``error: ...`` line and no traceback; that line."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


PROJECT = """
    from millrace import Config, asset


    class TrainConfig(Config):
        epochs: int = 5


    @asset(tags={"tier": "gold"})
    def rate() -> int:
        return 3


    @asset(tags={"tier": ""})
    def untiered() -> int:
        return 4


    @asset
    def train(config: TrainConfig, rate: int) -> int:
        return config.epochs * rate
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_source(tmp_path / "proj" / "pipeline.py", PROJECT)


def cli(project: Path, home: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_cli("materialize", project, *args, cwd=project.parent, home=home)


# -- 6: config files and run_config ----------------------------------------------------------


def test_a_config_file_that_is_not_utf8_names_the_file_and_line(project: Path, home: Path) -> None:
    config = project.parent / "latin1.yaml"
    config.write_bytes("ops:\n  train:\n    config: {epochs: 3}  # année\n".encode("latin-1"))

    line = one_error_line(cli(project, home, "--config", config))

    assert f"config file {config} is not UTF-8 text: line 3: invalid continuation byte" in line
    assert not (home / "millrace.db").exists()  # the CLI reads its config first: nothing opened


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("broken.yaml", "ops:\n  train:\n    config: {epochs: 3\n", ":4:1: invalid YAML: "),
        ("broken.json", '{"ops": {\n  "train": {"config": {"epochs": 3,}}}}', ":2:"),
        ("nul.yaml", "ops:\n  train: {config: {name: \x00}}\n", ":2: invalid YAML: special"),
    ],
)
def test_invalid_yaml_and_json_name_the_file_and_line(
    project: Path, home: Path, name: str, text: str, expected: str
) -> None:
    config = project.parent / name
    config.write_text(text)

    line = one_error_line(cli(project, home, "--config", config))

    assert line.startswith(f"error: {config}{expected}"), line


@pytest.mark.parametrize(("run_config", "kind"), [([1, 2], "list"), ("x", "str"), (5, "int")])
def test_run_config_that_is_not_a_mapping_says_what_fits(
    db: Db, run_config: object, kind: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        materialize([rate], run_config=run_config)  # type: ignore[arg-type]

    assert str(caught.value) == (
        f"run_config must be a mapping (Dagster's shape: {{'ops': {{...}}}}) or RunConfig, "
        f"got {kind}"
    )
    assert db.value("SELECT COUNT(*) FROM runs") == 0


def test_run_config_class_rejects_a_list_of_ops_when_built() -> None:
    with pytest.raises(ConfigError, match=r"RunConfig\(ops=\.\.\.\) must be a mapping .* got list"):
        RunConfig(ops=[TrainConfig()])  # type: ignore[arg-type]


# -- 7: selections ---------------------------------------------------------------------------


def test_a_thousand_comma_separated_keys_select_each() -> None:
    keys = [f"asset_{i}" for i in range(1200)]
    defs = Definitions(assets=[constant(name) for name in keys])

    result = materialize(defs.assets, selection=",".join(keys[:1100]))

    assert result.success
    assert len(result.get_asset_materialization_events()) == 1100


def test_thousands_of_chained_operators_resolve() -> None:
    assets = [constant(f"asset_{i}") for i in range(3000)]
    graph = Definitions(assets=assets).graph
    union = AssetSelection.keys("asset_0")
    for each in assets[1:]:
        union = union | AssetSelection.assets(each)
    narrowed = union & AssetSelection.all()
    for each in assets[:1000]:
        narrowed = narrowed - AssetSelection.assets(each)

    assert len(union.resolve(graph)) == 3000
    assert len(narrowed.resolve(graph)) == 2000
    assert not narrowed.needs_statuses
    assert (narrowed | AssetSelection.status("stale")).needs_statuses


@pytest.mark.parametrize("key", ["ñandú", "💥", "a b", "raw//orders"])
def test_a_key_that_cannot_exist_is_a_selection_error(db: Db, key: str) -> None:
    invalid = rf"^invalid asset key {key!r}: "
    with pytest.raises(SelectionError, match=invalid):
        AssetSelection.keys(key)
    for selection in (key, [key]):
        with pytest.raises(SelectionError, match=invalid):
            materialize([rate], selection=selection)
    assert db.value("SELECT COUNT(*) FROM runs") == 0


def test_a_non_ascii_selection_on_the_command_line(project: Path, home: Path) -> None:
    line = one_error_line(cli(project, home, "--select", "rate,💥"))

    assert line.startswith("error: invalid asset key '💥': ")


@pytest.mark.parametrize("text", ["tag:", "tag:=gold", "rate,tag:"])
def test_an_empty_tag_key_is_an_error(project: Path, home: Path, text: str) -> None:
    line = one_error_line(cli(project, home, "--select", text))

    assert "the tag key is empty" in line
    with pytest.raises(SelectionError, match="the tag key is empty"):
        AssetSelection.tag("", "gold")


def test_tag_with_an_empty_value_selects_that_value_as_in_dagster() -> None:
    graph = Definitions(assets=[rate, untiered, train]).graph

    assert names(AssetSelection.tag("tier", "").resolve(graph)) == {"untiered"}
    assert selected("tag:tier=", graph) == {"untiered"}
    assert selected("tag:tier", graph) == {"rate", "untiered"}  # any value


@pytest.mark.parametrize(("selection", "kind"), [(5, "int"), (b"rate", "bytes"), (2.5, "float")])
def test_a_selection_of_the_wrong_type_says_what_is_accepted(selection: object, kind: str) -> None:
    with pytest.raises(SelectionError) as caught:
        materialize([rate], selection=selection)  # type: ignore[arg-type]

    assert str(caught.value) == (
        "selection must be a string (--select syntax), an AssetSelection, or a list of asset "
        f"keys or assets; got {kind}"
    )


def test_star_alone_selects_every_asset_but_external_ones(project: Path, home: Path) -> None:
    graph = Definitions(assets=[AssetSpec("outside"), rate, untiered, train]).graph
    assert selected("*", graph) == {"rate", "untiered", "train"}

    result = cli(project, home, "--select", "*")

    assert result.returncode == 0, result.stderr
    db = Db(home / "millrace.db")
    assert {k for (k,) in db.rows("SELECT asset_key FROM latest_materializations")} == {
        "rate",
        "untiered",
        "train",
    }


# -- 8: config of assets outside the selection ------------------------------------------------


def test_invalid_config_of_an_unselected_asset_is_rejected(db: Db) -> None:
    bad = {"ops": {"train": {"config": {"epochs": "many", "epoch": 2}}}}

    with pytest.raises(ConfigError) as caught:
        materialize([rate, train], selection="rate", run_config=bad)

    message = str(caught.value)
    assert "asset 'train' (ops.train.config, not selected): epochs: " in message
    assert "(given 'many')" in message
    assert (
        "asset 'train' (ops.train.config, not selected): epoch: unknown field "
        "(did you mean 'epochs'?)" in message
    )
    assert db.value("SELECT COUNT(*) FROM runs") == 0


def test_valid_config_of_an_unselected_asset_is_checked_then_ignored(db: Db) -> None:
    result = materialize(
        [rate, train], selection="rate", run_config={"ops": {"train": {"config": {"epochs": 2}}}}
    )

    assert result.success
    assert {k for (k,) in db.rows("SELECT asset_key FROM latest_materializations")} == {"rate"}


def test_an_unknown_op_names_the_closest_asset_even_when_unselected() -> None:
    with pytest.raises(ConfigError) as caught:
        materialize([rate, train], selection="rate", run_config={"ops": {"trian": {"config": {}}}})

    unknown = "ops.trian: no asset with a Config parameter has this op name"
    assert f"{unknown} (did you mean 'train'?)" in str(caught.value)


# -- 14: suggestions and duplicates -----------------------------------------------------------


def test_an_asset_is_never_its_own_suggestion() -> None:
    @asset
    def from_external(external_table: int) -> int:
        return external_table

    @asset
    def orders(order: int) -> int:
        return order

    for assets in ([from_external], [orders], [from_external, orders]):
        with pytest.raises(DefinitionsError) as caught:
            Definitions(assets=assets)
        assert "did you mean" not in str(caught.value).lower()


def test_keys_with_prefixes_are_compared_part_by_part(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MILLRACE_STRICT_DEPS", "1")  # else an external asset, as in Dagster

    @asset(deps=["raw/raw_customers"])
    def needs_customers() -> None:
        pass

    @asset
    def customer_ltv() -> int:
        return 1

    def message(*others: AssetSpec) -> str:
        with pytest.raises(DefinitionsError) as caught:
            Definitions(assets=[needs_customers, customer_ltv, *others])
        return str(caught.value)

    assert "did you mean" not in message().lower()  # customer_ltv only shares a word
    assert "(did you mean 'raw_customers'?)" in message(AssetSpec("raw_customers"))
    same_prefix = message(AssetSpec("raw_customers"), AssetSpec(["raw", "raw_customer"]))
    assert "depends on 'raw/raw_customers' (did you mean 'raw/raw_customer'?)" in same_prefix
    assert "did you mean" not in message(AssetSpec(["ml", "raw_customers"])).lower()
    with pytest.raises(SelectionError) as caught:
        selected("raw/raw_customers", Definitions(assets=[customer_ltv]).graph)
    assert str(caught.value) == "No asset named 'raw/raw_customers'"


def test_every_suggestion_has_the_same_punctuation() -> None:
    @asset
    def churn(custmer_features: int) -> int:
        return custmer_features

    @asset
    def customer_features() -> int:
        return 1

    with pytest.raises(DefinitionsError) as dependency:
        Definitions(assets=[churn, customer_features])
    graph = Definitions(assets=[rate, train]).graph
    with pytest.raises(SelectionError) as selection:
        AssetSelection.keys("trian").resolve(graph)
    with pytest.raises(ConfigError) as config:
        materialize([rate, train], run_config={"ops": {"train": {"config": {"epoch": 1}}}})

    assert "depends on 'custmer_features' (did you mean 'customer_features'?)," in str(
        dependency.value
    )
    assert str(selection.value) == "No asset named 'trian' (did you mean 'train'?)"
    assert "epoch: unknown field (did you mean 'epochs'?)" in str(config.value)


def test_a_factory_making_one_key_twice_names_its_one_location() -> None:
    with pytest.raises(DefinitionsError) as caught:
        Definitions(assets=[constant("twice"), constant("twice")])

    message = str(caught.value)
    assert "asset key 'twice' is defined twice by the same code, at " in message
    assert message.count("test_input_errors.py:") == 1


def test_a_module_imported_under_two_names_says_so(tmp_path: Path) -> None:
    path = write_source(
        tmp_path / "shared.py",
        """
        from millrace import asset


        @asset
        def shared_asset() -> int:
            return 1
        """,
    )
    twice = [import_as(path, "shared").shared_asset, import_as(path, "pkg.shared").shared_asset]

    with pytest.raises(DefinitionsError) as caught:
        Definitions(assets=twice)

    message = str(caught.value)
    assert "is defined twice by the same code, at " in message
    assert "imported under two names" in message
    assert message.count("shared.py:") == 1
    assert "shared.py:4:" in message  # the decorator's line


def test_the_same_asset_listed_twice_says_so() -> None:
    with pytest.raises(DefinitionsError, match=r"asset 'rate' \(.*\) is listed twice"):
        Definitions(assets=[rate, untiered, rate])
