"""Run configuration: Config classes, resolving the run config of assets (every problem at
once), config files (JSON, YAML, syntax errors), overrides and merging."""

import json
from pathlib import Path

import pytest
from millrace import AssetKey, MillraceError
from millrace.declarations.config import (
    Config,
    ConfigError,
    RunConfig,
    is_config_annotation,
    load_config_file,
    merge_run_config,
    parse_config_overrides,
    resolve_asset_configs,
)


class TrainConfig(Config):
    learning_rate: float = 0.1
    epochs: int = 5


class Optimizer(Config):
    name: str = "sgd"
    momentum: float = 0.0


class ReportConfig(Config):
    threshold: float
    recipients: list[str]
    optimizer: Optimizer = Optimizer()


TRAIN = AssetKey("train_model")
REPORT = AssetKey(["ml", "report"])
PARAMS = {TRAIN: ("config", TrainConfig), REPORT: ("config", ReportConfig)}


def problems(error: pytest.ExceptionInfo[ConfigError]) -> list[str]:
    """The listed problems of a ConfigError, one per line, without the header."""
    header, *lines = str(error.value).splitlines()
    assert header == "Invalid run config:"
    return [line.removeprefix("  - ") for line in lines]


# -- Config ----------------------------------------------------------------------------------


def test_config_is_typed_frozen_and_rejects_unknown_fields() -> None:
    config = TrainConfig(learning_rate="0.5")
    assert config.learning_rate == 0.5 and config.epochs == 5
    with pytest.raises(Exception, match="frozen"):
        config.epochs = 3  # type: ignore[misc]
    with pytest.raises(Exception, match="Extra inputs"):
        TrainConfig(epoch=3)


def test_is_config_annotation() -> None:
    assert is_config_annotation(TrainConfig)
    assert not is_config_annotation(Config.__mro__[1])  # pydantic's BaseModel
    assert not is_config_annotation(dict)
    assert not is_config_annotation("TrainConfig")
    assert not is_config_annotation(None)


# -- resolve_asset_configs -------------------------------------------------------------------


def test_defaults_apply_without_any_run_config() -> None:
    resolved = resolve_asset_configs({TRAIN: ("config", TrainConfig)}, {})
    assert resolved == {TRAIN: TrainConfig()}


def test_values_are_read_by_op_name_and_converted() -> None:
    run_config = {
        "ops": {
            "train_model": {"config": {"epochs": "3"}},
            "ml__report": {
                "config": {"threshold": 0.9, "recipients": ["a@x"], "optimizer": {"name": "adam"}}
            },
        }
    }
    resolved = resolve_asset_configs(PARAMS, run_config)
    assert resolved[TRAIN] == TrainConfig(epochs=3)
    assert resolved[REPORT].threshold == 0.9
    assert resolved[REPORT].optimizer == Optimizer(name="adam")


def test_every_bad_field_of_every_asset_is_listed_at_once() -> None:
    run_config = {
        "ops": {
            "train_model": {"config": {"learning_rate": "fast", "epoch": 3}},
            "ml__report": {
                "config": {"threshold": "high", "recipients": "ops@x", "optimizer": {"momentm": 1}}
            },
        }
    }
    with pytest.raises(ConfigError) as caught:
        resolve_asset_configs(PARAMS, run_config)
    train = "asset 'train_model' (ops.train_model.config)"
    report = "asset 'ml/report' (ops.ml__report.config)"
    assert problems(caught) == [
        f"{train}: learning_rate: Input should be a valid number, unable to parse string as a "
        "number (given 'fast')",
        f"{train}: epoch: unknown field (did you mean 'epochs'?)",
        f"{report}: threshold: Input should be a valid number, unable to parse string as a "
        "number (given 'high')",
        f"{report}: recipients: Input should be a valid list (given 'ops@x')",
        f"{report}: optimizer.momentm: unknown field (did you mean 'momentum'?)",
    ]
    assert isinstance(caught.value, MillraceError)


def test_required_fields_without_config_are_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_asset_configs(PARAMS, {"ops": {"train_model": {"config": {"epochs": 1}}}})
    assert problems(caught) == [
        "asset 'ml/report' (ops.ml__report.config): threshold: required, not given",
        "asset 'ml/report' (ops.ml__report.config): recipients: required, not given",
    ]


def test_config_of_unselected_assets_is_checked_when_given_and_never_required() -> None:
    train_only = {TRAIN: ("config", TrainConfig)}
    unselected = {REPORT: ("config", ReportConfig)}
    # ReportConfig has required fields: absent, they are not asked for.
    assert resolve_asset_configs(train_only, {}, unselected=unselected) == {TRAIN: TrainConfig()}
    given = {"ops": {"ml__report": {"config": {"threshold": 1, "recipients": []}}}}
    assert resolve_asset_configs(train_only, given, unselected=unselected) == {
        TRAIN: TrainConfig()
    }  # valid, and ignored

    bad = {"ops": {"ml__report": {"config": {"threshold": "high"}}}}
    with pytest.raises(ConfigError) as caught:
        resolve_asset_configs(train_only, bad, unselected=unselected)
    listed = problems(caught)
    assert listed[0].startswith(
        "asset 'ml/report' (ops.ml__report.config, not selected): threshold: "
    )
    assert listed[1] == (
        "asset 'ml/report' (ops.ml__report.config, not selected): recipients: required, not given"
    )


def test_unknown_op_names_suggest_the_closest_asset() -> None:
    run_config = {
        "ops": {
            "train_modle": {"config": {}},
            "ml/report": {"config": {"threshold": 1, "recipients": []}},
            "zzz": {},
        },
    }
    with pytest.raises(ConfigError) as caught:
        resolve_asset_configs(PARAMS, run_config)
    listed = problems(caught)
    assert listed[:3] == [
        "ops.train_modle: no asset with a Config parameter has this op name (did you mean "
        "'train_model'?) (assets with config: ml__report, train_model)",
        "ops.ml/report: write the op name 'ml__report' for asset 'ml/report'",
        "ops.zzz: no asset with a Config parameter has this op name (assets with config: "
        "ml__report, train_model)",
    ]


def test_malformed_run_config_shapes() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_asset_configs(PARAMS, {"op": {}, "ops": {"train_model": {"epochs": 3}}})
    listed = problems(caught)
    assert listed[0] == (
        "unknown top-level key 'op' (did you mean 'ops'?); expected ops, resources, execution, "
        "loggers"
    )
    assert listed[1] == (
        "asset 'train_model' (ops.train_model.config): ops.train_model must be "
        "{'config': {...}}, got {'epochs': 3}"
    )
    with pytest.raises(ConfigError, match="'ops' must be a mapping"):
        resolve_asset_configs(PARAMS, {"ops": ["train_model"]})


def test_config_objects_and_run_config_class() -> None:
    given = TrainConfig(epochs=9)
    run_config = RunConfig(ops={"train_model": given, "ml__report": {"config": {"threshold": 1}}})
    assert run_config.to_config_dict() == {
        "ops": {
            "train_model": {"config": {"learning_rate": 0.1, "epochs": 9}},
            "ml__report": {"config": {"threshold": 1}},
        },
        "resources": {},
    }
    resolved = resolve_asset_configs(
        {TRAIN: ("config", TrainConfig)}, {"ops": {"train_model": {"config": given}}}
    )
    assert resolved[TRAIN] is given


# -- config files ----------------------------------------------------------------------------

RUN_CONFIG = {
    "ops": {"train_model": {"config": {"learning_rate": 0.05, "epochs": 20}}},
    "resources": {"warehouse": {"config": {"timeout": 2.5}}},
}


def test_json_and_yaml_files(tmp_path: Path) -> None:
    as_json = tmp_path / "run.json"
    as_json.write_text(json.dumps(RUN_CONFIG))
    as_yaml = tmp_path / "run.yaml"
    as_yaml.write_text(
        "ops:\n"
        "  train_model:\n"
        "    config:\n"
        "      learning_rate: 0.05\n"
        "      epochs: 20\n"
        "resources:\n"
        "  warehouse:\n"
        "    config: {timeout: 2.5}\n"
    )
    as_yml = tmp_path / "run.YML"
    as_yml.write_text(as_yaml.read_text())
    assert load_config_file(as_json) == RUN_CONFIG
    assert load_config_file(str(as_yaml)) == RUN_CONFIG
    assert load_config_file(as_yml) == RUN_CONFIG


def test_empty_files_are_empty_config(tmp_path: Path) -> None:
    for name in ("empty.yaml", "empty.json"):
        (tmp_path / name).write_text("\n")
        assert load_config_file(tmp_path / name) == {}


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("ops:\n  train_model:\n    config: {epochs: 3\n  other: 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config_file(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:4:")
    assert "invalid YAML" in message
    assert "flow mapping" in message  # yaml's own words for the unclosed brace


def test_json_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{\n  "ops": {\n    "train_model": {"config": {"epochs": 3,}}\n  }\n}\n')
    with pytest.raises(ConfigError, match=r"broken\.json:3:\d+: invalid JSON: "):
        load_config_file(path)


def test_bad_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_config_file(tmp_path / "missing.yaml")
    (tmp_path / "run.toml").write_text("")
    with pytest.raises(ConfigError, match=r"must end in \.json, \.yaml or \.yml"):
        load_config_file(tmp_path / "run.toml")
    (tmp_path / "list.yaml").write_text("- ops\n")
    with pytest.raises(ConfigError, match=r"must be a mapping .* not a list"):
        load_config_file(tmp_path / "list.yaml")


# -- overrides and merging -------------------------------------------------------------------


def test_overrides_parse_values_as_json_or_keep_strings() -> None:
    parsed = parse_config_overrides(
        [
            "train_model.epochs=3",
            "train_model.learning_rate=1e-3",
            "ml/report.optimizer.name=adam",
            'ml/report.recipients=["a@x", "b@x"]',
            "ml/report.threshold=0.5",
            'notes.text="42"',
            "notes.flag=true",
            "notes.empty=",
            "notes.query=a=b",
        ]
    )
    assert parsed == {
        "ops": {
            "train_model": {"config": {"epochs": 3, "learning_rate": 0.001}},
            "ml__report": {
                "config": {
                    "optimizer": {"name": "adam"},
                    "recipients": ["a@x", "b@x"],
                    "threshold": 0.5,
                }
            },
            "notes": {"config": {"text": "42", "flag": True, "empty": "", "query": "a=b"}},
        }
    }
    assert parse_config_overrides([]) == {}


def test_later_overrides_win() -> None:
    parsed = parse_config_overrides(["a.x.y=1", "a.x=2", "a.z=1", "a.z=2"])
    assert parsed == {"ops": {"a": {"config": {"x": 2, "z": 2}}}}


@pytest.mark.parametrize(
    "override, problem",
    [
        ("train_model.epochs", "expected ASSET.FIELD=VALUE"),
        ("train_model=3", "expected ASSET.FIELD=VALUE"),
        (".epochs=3", "expected ASSET.FIELD=VALUE"),
        ("train_model..epochs=3", "expected ASSET.FIELD=VALUE"),
        ("bad key!.epochs=3", "Invalid asset key component"),
    ],
)
def test_malformed_overrides(override: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse_config_overrides([override])


def test_override_below_a_value_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"a\.x is set to a value, so it has no fields"):
        parse_config_overrides(["a.x=1", "a.x.y=2"])


def test_merge_is_deep_and_leaves_inputs_alone() -> None:
    base = {
        "ops": {"train_model": {"config": {"learning_rate": 0.05, "epochs": 20}}},
        "resources": {"warehouse": {"config": {"timeout": 2.5}}},
    }
    override = {
        "ops": {"train_model": {"config": {"epochs": 3}}, "other": {"config": {"k": 1}}},
        "resources": {"warehouse": {"config": "replaced"}},
    }
    snapshot = json.dumps([base, override], sort_keys=True)
    merged = merge_run_config(base, override)
    assert merged == {
        "ops": {
            "train_model": {"config": {"learning_rate": 0.05, "epochs": 3}},
            "other": {"config": {"k": 1}},
        },
        "resources": {"warehouse": {"config": "replaced"}},
    }
    assert json.dumps([base, override], sort_keys=True) == snapshot


def test_file_then_overrides_then_resolution(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("ops:\n  train_model:\n    config:\n      learning_rate: 0.05\n")
    run_config = merge_run_config(
        load_config_file(path), parse_config_overrides(["train_model.epochs=50"])
    )
    resolved = resolve_asset_configs({TRAIN: ("config", TrainConfig)}, run_config)
    assert resolved[TRAIN] == TrainConfig(learning_rate=0.05, epochs=50)
