"""materialize() end to end, with the brief's pandas pipeline exactly as the brief writes it."""

from millrace import asset, AssetIn, MetadataValue  # noqa: I001 - the brief's own import line
import pandas as pd

warehouse_calls: list[str] = []


def fetch_from_warehouse(sql: str) -> pd.DataFrame:
    """A deterministic stand-in for the warehouse: one missing amount, one outlier."""
    warehouse_calls.append(sql)
    return pd.DataFrame(
        {
            "customer_id": [1, 1, 2, 2, 3, 3, 3, 4],
            "amount": [10.0, 20.0, None, 5.0, 7.0, 9.0, 1000.0, 3.0],
            "date": pd.to_datetime(
                [
                    "2024-03-01",
                    "2024-03-05",
                    "2024-03-02",
                    "2024-03-04",
                    "2024-03-01",
                    "2024-03-09",
                    "2024-03-10",
                    "2024-03-07",
                ]
            ),
        }
    )


# ---- the brief's pipeline, verbatim --------------------------------------------------------
# fmt: off


@asset(
    description="Raw customer transaction data from warehouse",
    group_name="raw_data"
)
def raw_transactions() -> pd.DataFrame:
    return fetch_from_warehouse("SELECT * FROM transactions WHERE date > CURRENT_DATE - 30")

@asset(
    ins={"raw_transactions": AssetIn()},
    description="Cleaned transactions with outliers removed",
    group_name="features"
)
def clean_transactions(raw_transactions: pd.DataFrame) -> pd.DataFrame:
    df = raw_transactions.dropna()
    df = df[df["amount"] < df["amount"].quantile(0.99)]
    return df

@asset(
    ins={"clean_transactions": AssetIn()},
    description="Customer lifetime value features for ML training",
    group_name="features",
    metadata={"feature_count": MetadataValue.int(5)}
)
def customer_features(clean_transactions: pd.DataFrame) -> pd.DataFrame:
    return clean_transactions.groupby("customer_id").agg(
        transaction_count=("amount", "count"),
        total_spend=("amount", "sum"),
        avg_spend=("amount", "mean"),
        last_transaction=("date", "max")
    ).reset_index()


# ---- end of the brief's code ---------------------------------------------------------------
# fmt: on

import asyncio  # noqa: E402
import sys  # noqa: E402
import textwrap  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from conftest import stored_value  # noqa: E402
from millrace import (  # noqa: E402
    AssetKey,
    MillraceError,
    MissingInputError,
    ParquetIOManager,
    RunStatus,
    build_asset_context,
    materialize,
    materialize_to_memory,
)
from millrace.events import StepStarted  # noqa: E402
from millrace.runtime.loader import load_code_location  # noqa: E402
from millrace.storage.io_managers import OutputContext  # noqa: E402

ALL_ASSETS = [raw_transactions, clean_transactions, customer_features]

EXPECTED_CLEAN = pd.DataFrame(
    {
        "customer_id": [1, 1, 2, 3, 3, 4],
        "amount": [10.0, 20.0, 5.0, 7.0, 9.0, 3.0],
        "date": pd.to_datetime(
            ["2024-03-01", "2024-03-05", "2024-03-04", "2024-03-01", "2024-03-09", "2024-03-07"]
        ),
    },
    index=[0, 1, 3, 4, 5, 7],  # the NaN row and the outlier are gone
)

EXPECTED_FEATURES = pd.DataFrame(
    {
        "customer_id": [1, 2, 3, 4],
        "transaction_count": [2, 1, 2, 1],
        "total_spend": [30.0, 5.0, 16.0, 3.0],
        "avg_spend": [15.0, 5.0, 8.0, 3.0],
        "last_transaction": pd.to_datetime(
            ["2024-03-05", "2024-03-04", "2024-03-09", "2024-03-07"]
        ),
    }
)


@pytest.fixture(autouse=True)
def _fresh_warehouse_log() -> None:
    warehouse_calls.clear()


def assert_frames(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    # Parquet may store datetimes at another resolution than pandas' default; values matter.
    pd.testing.assert_frame_equal(actual, expected, check_dtype=False)


def started(result) -> list[str]:
    return [e.asset_key.to_user_string() for e in result.all_events if isinstance(e, StepStarted)]


# -- the brief's pipeline --------------------------------------------------------------------


def test_brief_declarations() -> None:
    assert raw_transactions.group_name == "raw_data"
    assert customer_features.group_name == "features"
    assert clean_transactions.description == "Cleaned transactions with outliers removed"
    assert customer_features.metadata == {"feature_count": MetadataValue.int(5)}
    assert [i.key for i in customer_features.inputs] == [AssetKey("clean_transactions")]


def test_brief_pipeline_materializes_to_pandas(home: Path) -> None:
    result = materialize(ALL_ASSETS)

    assert result.success
    assert result.status is RunStatus.SUCCESS
    assert len(warehouse_calls) == 1
    raw = result.asset_value("raw_transactions")
    assert isinstance(raw, pd.DataFrame) and len(raw) == 8
    assert_frames(result.asset_value("clean_transactions"), EXPECTED_CLEAN)
    features = result.asset_value(AssetKey("customer_features"))
    assert isinstance(features, pd.DataFrame)
    assert_frames(features, EXPECTED_FEATURES)
    assert result.output_for_node("customer_features") is features
    assert_frames(result.output_for_node("clean_transactions"), EXPECTED_CLEAN)

    events = result.get_asset_materialization_events()
    assert [e.asset_key.to_user_string() for e in events] == [
        "raw_transactions",
        "clean_transactions",
        "customer_features",
    ]
    assert all(e.run_id == result.run_id for e in events)
    assert events[2].metadata["dagster/row_count"] == MetadataValue.int(4)
    assert [e.asset_key for e in result.asset_materializations_for_node("clean_transactions")] == [
        AssetKey("clean_transactions")
    ]

    storage = home / "storage"
    assert sorted(p.name for p in storage.iterdir()) == [
        "clean_transactions.parquet",
        "customer_features.parquet",
        "raw_transactions.parquet",
    ]
    on_disk = pd.read_parquet(storage / "clean_transactions.parquet")
    assert_frames(on_disk, EXPECTED_CLEAN)  # the filtered index is kept in the file


def test_partial_rerun_uses_stored_upstream_values(home: Path) -> None:
    first = materialize(ALL_ASSETS)
    assert first.success and len(warehouse_calls) == 1

    second = materialize(ALL_ASSETS, selection="customer_features")

    assert second.success
    assert len(warehouse_calls) == 1  # raw_transactions did not run again
    assert started(second) == ["customer_features"]  # nor did clean_transactions
    assert [e.asset_key for e in second.get_asset_materialization_events()] == [
        AssetKey("customer_features")
    ]
    assert_frames(second.asset_value("customer_features"), EXPECTED_FEATURES)
    with pytest.raises(MillraceError, match="no value for asset 'clean_transactions'"):
        second.asset_value("clean_transactions")


def test_partial_rerun_really_reads_the_stored_file(home: Path) -> None:
    materialize(ALL_ASSETS)
    # Replace what storage holds for clean_transactions; a recomputation would not see this.
    stored = pd.DataFrame(
        {
            "customer_id": [42, 42],
            "amount": [1.0, 2.0],
            "date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
        },
        index=[10, 20],
    )
    ParquetIOManager(home / "storage").handle_output(
        OutputContext(AssetKey("clean_transactions")), stored
    )

    result = materialize(ALL_ASSETS, selection="customer_features")

    features = result.asset_value("customer_features")
    assert features["customer_id"].tolist() == [42]
    assert features["total_spend"].tolist() == [3.0]
    assert len(warehouse_calls) == 1


def test_selection_with_upstream_recomputes_it(home: Path) -> None:
    materialize(ALL_ASSETS)
    result = materialize(ALL_ASSETS, selection="+customer_features")
    assert started(result) == ["clean_transactions", "customer_features"]
    assert len(warehouse_calls) == 1


def test_input_never_materialized_is_named() -> None:
    with pytest.raises(MissingInputError) as info:
        materialize(ALL_ASSETS, selection="customer_features")
    message = str(info.value)
    assert "asset 'customer_features' needs 'clean_transactions'" in message
    assert "never been materialized" in message
    assert "--select +customer_features" in message
    assert warehouse_calls == []


def test_input_never_materialized_fails_the_run_without_raising(db) -> None:
    result = materialize(ALL_ASSETS, selection="customer_features", raise_on_error=False)
    assert result.status is RunStatus.FAILURE
    failure = result.failures[AssetKey("customer_features")]
    assert failure.type == "MissingInputError"
    assert "'clean_transactions'" in failure.message
    assert db.value("SELECT status FROM runs") == "FAILURE"


def test_materialize_to_memory_writes_no_files(home: Path, tmp_path: Path) -> None:
    repo_millrace = Path(__file__).parent / ".millrace"
    existed = repo_millrace.exists()

    result = materialize_to_memory(ALL_ASSETS)

    assert result.success
    assert_frames(result.asset_value("customer_features"), EXPECTED_FEATURES)
    assert not home.exists()
    assert list(tmp_path.iterdir()) == []
    assert repo_millrace.exists() == existed


def test_materialize_to_memory_selection_cannot_read_storage(home: Path) -> None:
    materialize(ALL_ASSETS)  # values on disk do not leak into an in-memory run
    with pytest.raises(MissingInputError, match="needs 'clean_transactions'"):
        materialize_to_memory(ALL_ASSETS, selection="customer_features")


# -- calling assets directly -----------------------------------------------------------------


def test_brief_assets_can_be_called_directly() -> None:
    raw = raw_transactions()
    clean = clean_transactions(raw)
    assert_frames(clean, EXPECTED_CLEAN)
    assert_frames(customer_features(clean), EXPECTED_FEATURES)


def test_build_asset_context_lets_you_call_an_asset() -> None:
    seen = {}

    @asset(required_resource_keys={"warehouse"})
    def uses_context(context, clean_transactions: pd.DataFrame) -> int:
        seen["key"] = context.asset_key
        seen["run_id"] = context.run_id
        seen["warehouse"] = context.resources.warehouse
        context.log.info("rows: %s", len(clean_transactions))
        context.add_output_metadata({"rows": len(clean_transactions)})
        return len(clean_transactions)

    context = build_asset_context(resources={"warehouse": "dsn://test"})
    assert uses_context(context, EXPECTED_CLEAN) == 6
    assert seen == {
        "key": AssetKey("uses_context"),
        "run_id": "test-run",
        "warehouse": "dsn://test",
    }
    assert context.output_metadata == {"rows": MetadataValue.int(6)}

    keyword = build_asset_context(resources={"warehouse": "x"})
    assert uses_context(context=keyword, clean_transactions=EXPECTED_CLEAN.head(2)) == 2
    assert keyword.asset_key == AssetKey("uses_context")


def test_build_asset_context_partition_key() -> None:
    @asset
    def partitioned(context) -> str:
        return context.partition_key

    assert partitioned(build_asset_context(partition_key="2024-01-01")) == "2024-01-01"
    with pytest.raises(MillraceError, match="not running for a partition"):
        partitioned(build_asset_context())


# -- errors ----------------------------------------------------------------------------------


def test_raise_on_error_reraises_the_users_exception(db) -> None:
    class WarehouseDown(Exception):
        pass

    @asset
    def unlucky() -> int:
        raise WarehouseDown("connection refused")

    @asset
    def after_unlucky(unlucky: int) -> int:
        return unlucky

    with pytest.raises(WarehouseDown, match="connection refused") as info:
        materialize([unlucky, after_unlucky])
    run_id = db.value("SELECT run_id FROM runs")
    assert f"raised by asset 'unlucky' in run {run_id}" in info.value.__notes__
    assert db.value("SELECT status FROM runs") == "FAILURE"

    result = materialize([unlucky, after_unlucky], raise_on_error=False)
    assert not result.success
    assert isinstance(result.exceptions[AssetKey("unlucky")], WarehouseDown)


def test_instance_is_refused() -> None:
    with pytest.raises(TypeError, match="pass home="):
        materialize(ALL_ASSETS, instance=object())


def test_asset_value_needs_a_selected_key() -> None:
    result = materialize_to_memory([raw_transactions])
    with pytest.raises(MillraceError, match="no value for asset 'nope'"):
        result.asset_value("nope")


def test_output_for_node_uses_the_node_name_of_a_prefixed_key() -> None:
    @asset(key_prefix=["sales", "eu"])
    def totals() -> int:
        return 7

    result = materialize_to_memory([totals])
    assert result.output_for_node("sales__eu__totals") == 7
    assert result.asset_value("sales/eu/totals") == 7


# -- where history goes ----------------------------------------------------------------------


def test_explicit_home_wins_over_the_environment(home: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    materialize(ALL_ASSETS, home=elsewhere)
    assert (elsewhere / "millrace.db").is_file()
    assert (elsewhere / "storage" / "customer_features.parquet").is_file()
    assert not home.exists()


def test_default_home_is_beside_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MILLRACE_HOME")
    code = tmp_path / "project" / "pipeline.py"
    code.parent.mkdir()
    code.write_text(
        textwrap.dedent(
            """
            from millrace import asset

            @asset
            def numbers():
                return [1, 2, 3]
            """
        )
    )
    monkeypatch.setattr(sys, "path", list(sys.path))  # the loader adds the code's directory
    location = load_code_location(code)
    result = materialize(location.defs.assets)
    assert result.success
    assert (code.parent / ".millrace" / "millrace.db").is_file()
    assert stored_value(code.parent / ".millrace", "numbers") is not None


# -- inside a running event loop -------------------------------------------------------------


async def test_materialize_inside_a_running_event_loop(home: Path) -> None:
    loop = asyncio.get_running_loop()
    assert loop.is_running()
    result = materialize(ALL_ASSETS)
    assert result.success
    assert_frames(result.asset_value("customer_features"), EXPECTED_FEATURES)
    assert (home / "storage" / "customer_features.parquet").is_file()

    in_memory = materialize_to_memory(ALL_ASSETS)
    assert in_memory.success

    class Boom(Exception):
        pass

    @asset
    def explodes() -> int:
        raise Boom("inside a loop")

    with pytest.raises(Boom):
        materialize([explodes])
