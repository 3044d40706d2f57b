"""Dagster's control flow and errors: Failure, RetryRequested, RetryPolicy, what
``materialize(raise_on_error=True)`` raises, and the ``Dagster*Error`` names code catches."""

from __future__ import annotations

import millrace as dg
import pytest
from millrace import (
    AssetCheckResult,
    Definitions,
    Failure,
    MetadataValue,
    RetryPolicy,
    RetryRequested,
    StaticPartitionsDefinition,
    asset,
    asset_check,
    materialize,
    materialize_to_memory,
)
from millrace.events import StepStarted


def attempts_of(result: dg.RunResult, name: str) -> list[int]:
    return [
        e.attempt
        for e in result.all_events
        if isinstance(e, StepStarted) and e.asset_key == dg.AssetKey(name) and not e.check_name
    ]


# -- Failure -----------------------------------------------------------------------------------


def test_failure_metadata_lands_on_the_step_failure_event() -> None:
    @asset
    def orders():
        raise Failure(
            description="3 orders have no customer",
            metadata={"bad_rows": 3, "sample": MetadataValue.text("order 17")},
        )

    result = materialize([orders], raise_on_error=False)

    (failure,) = result.get_step_failure_events()
    assert failure.event_type_value == "STEP_FAILURE"
    assert failure.is_step_failure and failure.step_key == "orders"
    data = failure.step_failure_data
    assert data.error.cls_name == "Failure"
    assert data.error.message == "Failure: 3 orders have no customer\n"
    assert data.user_failure_data.label == "intentional-failure"
    assert data.user_failure_data.description == "3 orders have no customer"
    assert data.user_failure_data.metadata["bad_rows"] == MetadataValue.int(3)
    assert data.user_failure_data.metadata["sample"].value == "order 17"
    assert failure.error.message == "3 orders have no customer"


def test_raise_on_error_raises_the_failure_itself() -> None:
    @asset
    def orders():
        raise Failure("no orders today", metadata={"day": "2024-01-02"})

    with pytest.raises(Failure, match="no orders today") as info:
        materialize([orders])
    assert info.value.description == "no orders today"
    assert info.value.metadata["day"].value == "2024-01-02"
    assert info.value.allow_retries is True


def test_failure_without_retries_bypasses_the_retry_policy() -> None:
    calls: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=3))
    def schema_broke():
        calls.append(1)
        raise Failure("the upstream schema changed", allow_retries=False)

    with pytest.raises(Failure, match="schema changed"):
        materialize_to_memory([schema_broke])
    assert calls == [1]


def test_a_retried_failure_keeps_its_metadata_once_the_retries_run_out() -> None:
    @asset(retry_policy=RetryPolicy(max_retries=1))
    def flaky_api():
        raise Failure("HTTP 503", metadata={"status": 503})

    result = materialize_to_memory([flaky_api], raise_on_error=False)

    assert attempts_of(result, "flaky_api") == [1, 2]
    (failure,) = result.get_step_failure_events()
    assert failure.step_failure_data.user_failure_data.metadata["status"].value == 503
    assert isinstance(result.exceptions[dg.AssetKey("flaky_api")], Failure)


# -- RetryRequested ----------------------------------------------------------------------------


def test_retry_requested_retries_without_a_policy() -> None:
    seen: list[int] = []

    @asset
    def eventually(context) -> str:
        seen.append(context.retry_number)
        if len(seen) < 3:
            try:
                raise ConnectionError("not yet")
            except ConnectionError as exc:
                raise RetryRequested(max_retries=2) from exc
        return "done"

    result = materialize_to_memory([eventually])

    assert result.success and result.asset_value("eventually") == "done"
    assert seen == [0, 1, 2]
    retried = [e for e in result.all_events if e.event_type_value == "STEP_UP_FOR_RETRY"]
    assert (
        retried[0].error.message == "retry requested after ConnectionError: not yet (max_retries=2)"
    )
    kinds = [e.event_type_value for e in result.all_events if e.step_key == "eventually"]
    assert kinds.count("STEP_UP_FOR_RETRY") == 2
    assert kinds[-1] == "STEP_SUCCESS"
    assert result.get_step_failure_events() == []


def test_retry_requested_overrides_the_retry_policy() -> None:
    calls: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=5))
    def asks_once():
        calls.append(1)
        raise RetryRequested(max_retries=1) from KeyError("missing")

    result = materialize_to_memory([asks_once], raise_on_error=False)

    assert calls == [1, 1]
    (failure,) = result.get_step_failure_events()
    assert (
        failure.error.message
        == "Exceeded max_retries of 1; the last attempt raised KeyError: 'missing'"
    )
    assert failure.error.cause == "KeyError: 'missing'"
    assert failure.step_failure_data.error.cause.cls_name == "KeyError"


def test_retry_requested_waits_seconds_to_wait_between_attempts() -> None:
    calls: list[int] = []

    @asset
    def slow_to_appear() -> int:
        calls.append(1)
        if len(calls) == 1:
            raise RetryRequested(max_retries=1, seconds_to_wait=0.2)
        return len(calls)

    result = materialize_to_memory([slow_to_appear])

    starts = [e.timestamp for e in result.all_events if isinstance(e, StepStarted)]
    assert len(starts) == 2 and starts[1] - starts[0] >= 0.2
    assert result.asset_value("slow_to_appear") == 2


def test_raise_on_error_after_the_retries_run_out_is_max_retries_exceeded() -> None:
    @asset
    def never():
        raise RetryRequested(max_retries=2) from TimeoutError("the API did not answer")

    with pytest.raises(dg.DagsterMaxRetriesExceededError, match="the API did not answer") as info:
        materialize_to_memory([never])
    assert "exceeded max_retries of 2" in str(info.value)
    assert isinstance(info.value.__cause__, RetryRequested)
    assert isinstance(info.value, dg.DagsterError)


def test_a_retry_policy_that_runs_out_raises_max_retries_exceeded_from_the_users_error() -> None:
    @asset(retry_policy=RetryPolicy(max_retries=1))
    def down():
        raise ConnectionError("warehouse down")

    with pytest.raises(
        dg.DagsterMaxRetriesExceededError, match="ConnectionError: warehouse down"
    ) as info:
        materialize_to_memory([down])
    assert isinstance(info.value.__cause__, ConnectionError)
    assert not info.value.result.success

    result = materialize_to_memory([down], raise_on_error=False)
    assert isinstance(result.exceptions[dg.AssetKey("down")], ConnectionError)
    assert result.failures[dg.AssetKey("down")].message == "warehouse down"


def test_millraces_own_errors_are_not_retried() -> None:
    calls: list[int] = []

    @asset(retry_policy=RetryPolicy(max_retries=2))
    def typed() -> int:
        calls.append(1)
        return "not an int"  # type: ignore[return-value]

    with pytest.raises(dg.DagsterTypeCheckDidNotPass, match="return value"):
        materialize_to_memory([typed])
    assert calls == [1]


def test_a_check_that_requests_a_retry_is_run_again() -> None:
    calls: list[int] = []

    @asset
    def table() -> int:
        return 1

    @asset_check(asset=table)
    def eventually_consistent(table: int) -> AssetCheckResult:
        calls.append(1)
        if len(calls) == 1:
            raise RetryRequested(max_retries=1)
        return AssetCheckResult(passed=True)

    result = materialize_to_memory([table, eventually_consistent])

    assert result.success and calls == [1, 1]
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.passed


def test_a_failure_without_a_description() -> None:
    @asset
    def quiet():
        raise Failure()

    result = materialize_to_memory([quiet], raise_on_error=False)
    assert str(result.failures[dg.AssetKey("quiet")]) == "Failure"


def test_control_flow_arguments_are_checked() -> None:
    with pytest.raises(TypeError, match="max_retries"):
        RetryRequested(max_retries=-1)
    with pytest.raises(TypeError, match="seconds_to_wait"):
        RetryRequested(seconds_to_wait="soon")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="description"):
        Failure(description=42)  # type: ignore[arg-type]
    with pytest.raises(dg.DagsterInvalidMetadata, match="'blob'"):
        Failure("bad", metadata={"blob": object()})


# -- Dagster's error names ---------------------------------------------------------------------


def test_an_invalid_definition_is_a_dagster_invalid_definition_error() -> None:
    @asset(name="twice")
    def first() -> int:
        return 1

    @asset(name="twice")
    def second() -> int:
        return 2

    with pytest.raises(dg.DagsterInvalidDefinitionError, match="twice"):
        Definitions(assets=[first, second])
    with pytest.raises(dg.DagsterError):
        Definitions(assets=[first, second])


def test_a_selection_that_matches_nothing_is_an_invalid_subset() -> None:
    @asset
    def present() -> int:
        return 1

    with pytest.raises(dg.DagsterInvalidSubsetError, match="presnt"):
        materialize_to_memory([present], selection="presnt")


def test_an_unknown_partition_key_is_a_dagster_unknown_partition_error() -> None:
    @asset(partitions_def=StaticPartitionsDefinition(["north", "south"]))
    def regional(context) -> str:
        return context.partition_key

    with pytest.raises(dg.DagsterUnknownPartitionError, match="west"):
        materialize_to_memory([regional], partition_key="west")


def test_a_resource_that_fails_to_set_up_is_a_resource_function_error() -> None:
    @dg.resource
    def warehouse(init_context):
        raise OSError("no route to host")

    @asset(required_resource_keys={"warehouse"})
    def extract() -> int:
        return 1

    with pytest.raises(dg.DagsterResourceFunctionError, match="no route to host") as info:
        materialize_to_memory([extract], resources={"warehouse": warehouse})
    assert isinstance(info.value, dg.DagsterUserCodeExecutionError)
    assert isinstance(info.value.user_exception, OSError)


def test_a_failed_blocking_check_is_an_asset_check_failed_error() -> None:
    @asset
    def prices() -> list[int]:
        return [-1]

    @asset_check(asset=prices, blocking=True)
    def positive(prices: list[int]) -> AssetCheckResult:
        return AssetCheckResult(passed=all(p > 0 for p in prices))

    with pytest.raises(dg.DagsterAssetCheckFailedError) as info:
        materialize_to_memory([prices, positive])
    assert "Blocking check 'positive' for asset 'prices' failed with ERROR severity" in str(
        info.value
    )
    assert not info.value.result.success


def test_asking_a_result_for_what_the_run_did_not_make_is_an_invariant_violation() -> None:
    @asset
    def made() -> int:
        return 1

    result = materialize_to_memory([made])
    with pytest.raises(dg.DagsterInvariantViolationError, match="'nope'"):
        result.asset_value("nope")
    with pytest.raises(dg.DagsterInvariantViolationError, match="no node 'nope'"):
        result.output_for_node("nope")


def test_async_assets_follow_the_same_rules() -> None:
    calls: list[int] = []

    @asset
    async def polled() -> int:
        calls.append(1)
        if len(calls) < 2:
            raise RetryRequested(max_retries=3)
        return len(calls)

    @asset(retry_policy=RetryPolicy(max_retries=2))
    async def refused() -> int:
        raise Failure("quota exhausted", metadata={"quota": 0}, allow_retries=False)

    result = materialize_to_memory([polled, refused], raise_on_error=False)

    assert result.asset_value("polled") == 2
    assert attempts_of(result, "refused") == [1]
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "refused"
    assert failure.step_failure_data.user_failure_data.metadata["quota"].value == 0


def test_an_unknown_resource_is_a_dagster_unknown_resource_error() -> None:
    seen: dict[str, object] = {}

    @asset(required_resource_keys={"warehouse"})
    def extract(context) -> int:
        seen["has"] = hasattr(context.resources, "warehous")  # an AttributeError, as Dagster's
        return context.resources.warehous

    with pytest.raises(dg.DagsterUnknownResourceError) as info:
        materialize_to_memory([extract], resources={"warehouse": "dsn://w"})
    assert seen["has"] is False
    assert info.value.resource_name == "warehous"
    assert isinstance(info.value, AttributeError)
    assert str(info.value) == (
        "no resource 'warehous' in this run (did you mean 'warehouse'?) (resources: "
        "io_manager, warehouse); add it to Definitions(resources=...) and to the asset's "
        "required_resource_keys"
    )


class Limits(dg.Config):
    rows: int


class Warehouse(dg.ConfigurableResource):
    dsn: str


def test_bad_run_config_is_a_dagster_invalid_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    @asset
    def sample(config: Limits, warehouse: Warehouse) -> str:
        return f"{config.rows} from {warehouse.dsn}"

    with pytest.raises(dg.DagsterInvalidConfigError, match=r"ops.sample.config\): rows: "):
        materialize_to_memory(
            [sample],
            resources={"warehouse": Warehouse(dsn="w")},
            run_config={"ops": {"sample": {"config": {"rows": "many"}}}},
        )
    monkeypatch.delenv("NO_SUCH_DSN", raising=False)
    with pytest.raises(dg.DagsterInvalidConfigError, match="NO_SUCH_DSN, which is not set"):
        materialize_to_memory(
            [sample],
            resources={"warehouse": Warehouse(dsn=dg.EnvVar("NO_SUCH_DSN"))},
            run_config={"ops": {"sample": {"config": {"rows": 1}}}},
        )
    with pytest.raises(dg.DagsterInvalidConfigError, match=r"resources.warehouse.config.dns"):
        materialize_to_memory(
            [sample],
            resources={"warehouse": Warehouse.configure_at_launch()},
            run_config={
                "ops": {"sample": {"config": {"rows": 1}}},
                "resources": {"warehouse": {"config": {"dns": "w"}}},
            },
        )


# -- calling an asset directly ------------------------------------------------------------------


def test_an_asset_that_takes_a_context_needs_one_when_called() -> None:
    @asset
    def stamped(context, rows: list[int]) -> str:
        return f"{context.run_id}:{len(rows)}"

    with pytest.raises(
        dg.DagsterInvalidInvocationError,
        match=r"Decorated function 'stamped' \(asset 'stamped' \(.*test_errors_parity.py:\d+\)\) "
        "has context argument, but no context was provided when invoking",
    ):
        stamped()
    with pytest.raises(
        dg.DagsterInvalidInvocationError,
        match=r"has context argument 'context', but no value for 'context' was found when "
        r"invoking\. Provided kwargs: rows",
    ):
        stamped(rows=[1])
    with pytest.raises(dg.DagsterInvalidInvocationError, match="'context' got a list, not a"):
        stamped([1], [2])
    # None stands for an empty context, as in Dagster
    assert stamped(None, [1, 2]) == "test-run:2"
    assert stamped(dg.build_asset_context(run_id="r"), rows=[1]) == "r:1"


def test_direct_invocation_arguments_are_checked_as_dagster_checks_them() -> None:
    @asset
    def joined(left: list[int], right: list[int], scale: int = 1) -> int:
        return (sum(left) + sum(right)) * scale

    # a context the asset does not take is dropped
    assert joined(dg.build_asset_context(), [1], right=[2]) == 3
    assert joined([1], [2], 10) == 30
    invalid = dg.DagsterInvalidInvocationError
    with pytest.raises(invalid, match=r"has 3 positional parameters \(left, right, scale\), "):
        joined([1], [2], 3, 4)
    with pytest.raises(invalid, match=r"asset 'joined' .* got multiple values for argument 'left'"):
        joined([1], left=[2])
    with pytest.raises(invalid, match=r"no parameter 'rigth' \(did you mean 'right'\?\)"):
        joined([1], rigth=[2])
    with pytest.raises(invalid, match='no value provided for required input "right"'):
        joined([1])

    @asset_check(asset=joined)
    def positive(joined: int) -> AssetCheckResult:
        return AssetCheckResult(passed=joined > 0)

    assert positive(3).passed
    with pytest.raises(invalid, match=r"asset check 'joined:positive' .*required input \"joined\""):
        positive()

    @dg.multi_asset_check(specs=[dg.AssetCheckSpec("small", asset="joined")])
    def bounds(joined: int):
        yield AssetCheckResult(asset_key="joined", check_name="small", passed=joined < 10)

    assert [r.passed for r in bounds(3)] == [True]
    with pytest.raises(invalid, match=r"multi_asset_check 'bounds' .* parameter 'joind'"):
        bounds(joind=3)


def test_direct_invocation_takes_resources_from_arguments_or_the_context() -> None:
    @asset
    def dsn(context, warehouse: Warehouse) -> str:
        assert context.resources.warehouse is warehouse
        return warehouse.dsn

    assert dsn(dg.build_asset_context(), warehouse=Warehouse(dsn="arg")) == "arg"
    assert dsn(dg.build_asset_context(resources={"warehouse": Warehouse(dsn="ctx")})) == "ctx"
    with pytest.raises(
        dg.DagsterInvalidInvocationError, match="cannot provide resources in both context"
    ):
        dsn(dg.build_asset_context(resources={"warehouse": Warehouse(dsn="c")}), Warehouse(dsn="a"))
    with pytest.raises(
        dg.DagsterInvalidDefinitionError,
        match=r"resource with key 'warehouse' required by asset 'dsn' .* was not provided",
    ):
        dsn(dg.build_asset_context())


def test_direct_invocation_takes_config_from_an_argument_or_the_context() -> None:
    @asset
    def limited(config: Limits) -> int:
        return config.rows

    assert limited(config=Limits(rows=2)) == 2
    assert limited(config={"rows": 3}) == 3
    assert limited(dg.build_asset_context(asset_config={"rows": 4})) == 4
    with pytest.raises(dg.DagsterInvalidInvocationError, match="has required config, but no"):
        limited()
    with pytest.raises(dg.DagsterInvalidInvocationError, match="config in both context"):
        limited(dg.build_asset_context(asset_config={"rows": 4}), config=Limits(rows=1))
    with pytest.raises(dg.DagsterInvalidConfigError, match="rows: "):
        limited(config={"rows": "many"})
