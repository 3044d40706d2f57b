"""The dev loop, end to end in one process: real files edited on disk, real file-system events
(watchfiles), a real store; every wait is on a runtime event, with a timeout.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
import threading
import types
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from conftest import Db, stored_value, write_source
from millrace import AssetKey
from millrace.declarations.source import SourceLocation
from millrace.events import (
    AssetMaterialized,
    CodeError,
    CodeRecovered,
    Event,
    ReloadApplied,
    RunFinished,
    StepUpToDate,
    StepWaiting,
)
from millrace.runtime.dev import DevLoop
from millrace.runtime.loader import load_code_location
from millrace.runtime.runs import RunHandle
from millrace.runtime.runtime import Runtime

TIMEOUT = 20  # seconds: generous on a loaded machine, short enough to fail rather than hang

PIPELINE = """
    from millrace import asset
    from helpers import scale

    @asset
    def alpha() -> int:
        return 1

    @asset
    def beta_mid(alpha: int) -> int:
        return alpha + 1

    @asset
    def gamma_out(beta_mid: int) -> int:
        return scale(beta_mid)

    @asset
    def other() -> int:
        return 7
"""

HELPERS = """
    FACTOR = 10

    def scale(x):
        return x * FACTOR
"""


class Dev:
    """A dev loop over ``proj/`` in a temporary directory, driven by editing its files."""

    def __init__(
        self, root: Path, home: Path, *, auto: bool = True, run_config: dict | None = None
    ) -> None:
        self.proj = root / "proj"
        self.home = home
        self.auto = auto
        self.run_config = run_config
        self.stop = asyncio.Event()

    async def __aenter__(self) -> Dev:
        self.runtime = Runtime(load_code_location(self.proj), home=self.home)
        await self.runtime.start()
        self.loop = DevLoop(self.runtime, auto=self.auto, run_config=self.run_config)
        ready = asyncio.Event()
        self.task = asyncio.create_task(self.loop.run(stop=self.stop, on_ready=ready.set))
        await asyncio.wait_for(ready.wait(), TIMEOUT)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, TIMEOUT)
        await self.runtime.close()

    async def save(
        self, name: str, old: str | None = None, new: str | None = None, *, source: str = ""
    ) -> tuple[ReloadApplied | CodeError, RunHandle | None]:
        """Edit (or write) a file, then wait for the reload it causes and what it led to."""
        path = self.proj / name
        if old is not None:
            text = path.read_text()
            assert old in text, f"{old!r} not in {name}"
            path.write_text(text.replace(old, new or ""))
        else:
            write_source(path, source)
        return await asyncio.wait_for(self.loop.outcomes.get(), TIMEOUT)

    async def run_events(self, handle: RunHandle | None) -> list[Event]:
        assert handle is not None, "the edit started no run"
        result = await asyncio.wait_for(handle, TIMEOUT)
        return result.all_events


def materialized(events: list[Event]) -> list[str]:
    return sorted(
        e.asset_key.to_user_string()
        for e in events
        if isinstance(e, AssetMaterialized) and e.asset_key
    )


def up_to_date(events: list[Event]) -> list[str]:
    return sorted(
        e.asset_key.to_user_string()
        for e in events
        if isinstance(e, StepUpToDate) and e.asset_key and e.check_name is None
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    write_source(tmp_path / "proj" / "assets.py", PIPELINE)
    write_source(tmp_path / "proj" / "helpers.py", HELPERS)
    return tmp_path


@pytest.fixture
async def dev(project: Path, home: Path) -> AsyncIterator[Dev]:
    async with Runtime(load_code_location(project / "proj"), home=home) as first:
        await first.materialize()  # everything is fresh before the edits start
    async with Dev(project, home) as session:
        yield session


# -- what an edit re-runs ----------------------------------------------------------------------


async def test_an_edit_reruns_the_asset_and_its_downstream_only(dev: Dev, home: Path) -> None:
    applied, handle = await dev.save("assets.py", "return alpha + 1", "return alpha + 2")

    assert isinstance(applied, ReloadApplied)
    assert [(c.asset_key, c.attributes) for c in applied.changed] == [
        (AssetKey("beta_mid"), ("code",))
    ]
    events = await dev.run_events(handle)
    assert materialized(events) == ["beta_mid", "gamma_out"]
    assert stored_value(home, "gamma_out") == 30


async def test_a_comment_only_edit_reruns_nothing(dev: Dev) -> None:
    applied, handle = await dev.save(
        "assets.py", "return alpha + 1", "return alpha + 1  # the same, said differently"
    )

    assert isinstance(applied, ReloadApplied)
    assert (applied.changed, applied.added, applied.removed) == ((), (), ())
    assert handle is None
    assert dev.runtime.active_runs() == []


async def test_a_helper_edit_in_another_module_reruns_its_users_only(dev: Dev, home: Path) -> None:
    applied, handle = await dev.save("helpers.py", "FACTOR = 10", "FACTOR = 100")

    assert isinstance(applied, ReloadApplied)
    assert [c.asset_key.to_user_string() for c in applied.changed] == ["gamma_out"]
    assert materialized(await dev.run_events(handle)) == ["gamma_out"]
    assert stored_value(home, "gamma_out") == 200


async def test_a_same_output_edit_stops_at_the_edited_asset(dev: Dev) -> None:
    _, handle = await dev.save("assets.py", "return alpha + 1", "return 1 + alpha")

    events = await dev.run_events(handle)
    assert materialized(events) == ["beta_mid"]
    assert up_to_date(events) == ["gamma_out"]
    [cut] = [e for e in events if isinstance(e, StepUpToDate)]
    assert cut.reason == "inputs unchanged"
    statuses = await dev.runtime.status()
    assert {k.to_user_string(): a.status.value for k, a in statuses.items()} == {
        "alpha": "fresh",
        "beta_mid": "fresh",
        "gamma_out": "fresh",
        "other": "fresh",
    }


async def test_a_new_asset_is_materialized_and_a_deleted_one_disappears(dev: Dev) -> None:
    applied, handle = await dev.save(
        "assets.py",
        "@asset\ndef other() -> int:\n    return 7\n",
        "@asset\ndef fresh_one(alpha: int) -> int:\n    return alpha * 5\n",
    )

    assert isinstance(applied, ReloadApplied)
    assert applied.added == (AssetKey("fresh_one"),)
    assert applied.removed == (AssetKey("other"),)
    assert materialized(await dev.run_events(handle)) == ["fresh_one"]
    catalog = {row.asset_key.to_user_string() for row in await dev.runtime.catalog()}
    assert catalog == {"alpha", "beta_mid", "gamma_out", "fresh_one"}


# -- broken saves --------------------------------------------------------------------------


async def test_a_syntax_error_keeps_the_last_good_graph_until_the_fix(dev: Dev, home: Path) -> None:
    seen = dev.runtime.subscribe(kinds={CodeError.kind, CodeRecovered.kind})
    line = PIPELINE_LINES.index("return alpha + 1") + 1

    broken, handle = await dev.save("assets.py", "return alpha + 1", "return alpha +")

    assert isinstance(broken, CodeError) and handle is None
    assert broken.line == line and broken.file is not None
    assert Path(broken.file).resolve() == (dev.proj / "assets.py").resolve()
    shown = SourceLocation(broken.file, line)  # relative to the cwd where it is under it
    assert broken.message.splitlines()[0] == f"Syntax error in {shown}: invalid syntax"
    assert dev.runtime.code_error is broken
    assert set(dev.runtime.code.graph.nodes) == {AssetKey(k) for k in KEYS}  # still serving
    result = await asyncio.wait_for(dev.runtime.materialize("alpha"), TIMEOUT)
    assert result.success

    fixed, handle = await dev.save("assets.py", "return alpha +", "return alpha + 3")

    assert isinstance(fixed, ReloadApplied)
    assert dev.runtime.code_error is None
    kinds = [(await asyncio.wait_for(anext(seen), TIMEOUT)).kind for _ in range(2)]
    assert kinds == ["CODE_ERROR", "CODE_RECOVERED"]
    await seen.aclose()
    assert materialized(await dev.run_events(handle)) == ["beta_mid", "gamma_out"]
    assert stored_value(home, "beta_mid") == 4


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ("import no_such_module_anywhere\n", "No module named 'no_such_module_anywhere'"),
        ("raise RuntimeError('at import time')\n", "at import time"),
        ("from millrace import asset\n@asset\ndef x(nowhere): ...\n", "nowhere"),
    ],
    ids=["import-error", "raises-at-import", "invalid-graph"],
)
async def test_every_broken_save_is_an_error_event_and_the_runtime_stays_up(
    dev: Dev, broken: str, message: str
) -> None:
    error, handle = await dev.save("broken.py", source=broken)

    assert isinstance(error, CodeError) and handle is None
    assert message in error.message
    assert error.file is not None and error.file.endswith("broken.py")
    assert not dev.task.done()
    (dev.proj / "broken.py").unlink()
    recovered, _ = await asyncio.wait_for(dev.loop.outcomes.get(), TIMEOUT)
    assert isinstance(recovered, ReloadApplied)


# -- staleness without auto-run -----------------------------------------------------------


async def test_staleness_causes_after_code_and_upstream_changes(project: Path, home: Path) -> None:
    async with Runtime(load_code_location(project / "proj"), home=home) as first:
        await first.materialize()
    async with Dev(project, home, auto=False) as dev:
        _, handle = await dev.save("assets.py", "return alpha + 1", "return alpha + 5")
        assert handle is None  # --no-auto: reload only

        causes = {k.to_user_string(): a.causes for k, a in (await dev.runtime.status()).items()}
        [code] = causes["beta_mid"]
        assert (code.category.value, code.message.split(" (")[0]) == (
            "code",
            "has a new code version",
        )
        [upstream] = causes["gamma_out"]
        assert upstream.asset_key == AssetKey("beta_mid")
        assert upstream.message.startswith("upstream beta_mid is stale: beta_mid has a new code")
        assert causes["alpha"] == causes["other"] == ()

        await asyncio.wait_for(dev.runtime.materialize("beta_mid"), TIMEOUT)
        causes = {k.to_user_string(): a.causes for k, a in (await dev.runtime.status()).items()}
        [data] = causes["gamma_out"]
        assert (data.category.value, data.message) == (
            "data",
            "upstream beta_mid has a new data version",
        )
        assert causes["beta_mid"] == ()


# -- overlapping runs ----------------------------------------------------------------------


@pytest.fixture
def gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[types.ModuleType]:
    """What ``GATED`` imports, outside the code directory so reloads keep it: ``entered`` is
    set when ``slow`` starts computing, ``release`` lets it finish (set at the end, so no
    step thread outlives the test)."""
    module = types.ModuleType("gate")
    module.entered, module.release = threading.Event(), threading.Event()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "gate", module)
    yield module
    module.release.set()  # type: ignore[attr-defined]


GATED = """
    import gate
    from millrace import asset

    @asset
    def slow(context) -> str:
        gate.entered.set()
        while not gate.release.wait(0.01):
            if context.is_canceled:
                return "canceled version"  # returned after the cancel: must never be stored
        return "VERSION"

    @asset
    def after(slow: str) -> str:
        return slow + "!"
"""


async def test_cancel_then_supersede_leaves_the_newer_runs_value(
    tmp_path: Path, home: Path, gate: types.ModuleType
) -> None:
    write_source(tmp_path / "proj" / "assets.py", GATED.replace("VERSION", "v0"))

    async with Dev(tmp_path, home) as dev:
        _, first = await dev.save("assets.py", '"v0"', '"v1"')
        assert first is not None
        assert await asyncio.to_thread(gate.entered.wait, TIMEOUT)  # v1 is computing
        gate.entered.clear()

        _, second = await dev.save("assets.py", '"v1"', '"v2"')

        assert second is not None
        old = await asyncio.wait_for(first, TIMEOUT)  # superseded: canceled, stored nothing
        assert old.status.value == "CANCELED"
        assert materialized(old.all_events) == []
        gate.release.set()
        new = await asyncio.wait_for(second, TIMEOUT)
        assert new.success and materialized(new.all_events) == ["after", "slow"]
    assert stored_value(home, "slow") == "v2"
    assert stored_value(home, "after") == "v2!"


async def test_a_second_run_waits_for_the_first_to_finish_writing(
    tmp_path: Path, home: Path, gate: types.ModuleType
) -> None:
    write_source(tmp_path / "proj" / "assets.py", GATED.replace("VERSION", "v0"))

    async with Runtime(load_code_location(tmp_path / "proj"), home=home) as runtime:
        waiting = runtime.subscribe(kinds={StepWaiting.kind})
        first = runtime.submit("slow")
        assert await asyncio.to_thread(gate.entered.wait, TIMEOUT)
        second = runtime.submit("slow")
        wait = await asyncio.wait_for(anext(waiting), TIMEOUT)
        await waiting.aclose()
        assert wait.run_id == second.run_id and wait.holder_run_id == first.run_id
        assert wait.reason == f"waiting for slow: run {first.run_id[:8]}… is writing it"
        gate.release.set()
        one, two = await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
    assert one.success and two.success
    finished = [e.run_id for e in one.all_events + two.all_events if isinstance(e, RunFinished)]
    assert sorted(finished) == sorted([first.run_id, second.run_id])


async def test_a_canceled_run_stores_nothing_after_its_cancel_is_acknowledged(
    tmp_path: Path, home: Path, db: Db, gate: types.ModuleType
) -> None:
    write_source(tmp_path / "proj" / "assets.py", GATED.replace("VERSION", "v0"))

    async with Runtime(load_code_location(tmp_path / "proj"), home=home) as runtime:
        handle = runtime.submit()
        assert await asyncio.to_thread(gate.entered.wait, TIMEOUT)
        assert await runtime.cancel(handle.run_id)  # acknowledged: nothing more is stored
        gate.release.set()  # the thread now returns a value, which must be discarded
        result = await asyncio.wait_for(handle, TIMEOUT)
    assert result.status.value == "CANCELED"
    assert materialized(result.all_events) == []
    assert db.rows("SELECT asset_key FROM materializations") == []
    assert not (home / "storage").exists() or not any((home / "storage").iterdir())


PIPELINE_LINES = textwrap.dedent(PIPELINE).lstrip().splitlines()
PIPELINE_LINES = [line.strip() for line in PIPELINE_LINES]
KEYS = ("alpha", "beta_mid", "gamma_out", "other")


async def test_a_step_queued_behind_another_run_does_not_run_once_canceled(
    tmp_path: Path, home: Path, gate: types.ModuleType
) -> None:
    marker = tmp_path / "queued-ran"
    queued = f"""
        @asset
        def queued() -> int:
            open({str(marker)!r}, "w").close()
            return 1
    """
    source = textwrap.dedent(GATED.replace("VERSION", "v0")) + textwrap.dedent(queued)
    write_source(tmp_path / "proj" / "assets.py", source)

    # One step at a time across runs: the second run's step waits for the first's slot.
    location = load_code_location(tmp_path / "proj")
    async with Runtime(location, home=home, max_concurrency=1) as runtime:
        first = runtime.submit("slow")
        assert await asyncio.to_thread(gate.entered.wait, TIMEOUT)
        started = runtime.subscribe(kinds={"RUN_STARTED"})
        second = runtime.submit("queued")
        assert (await asyncio.wait_for(anext(started), TIMEOUT)).run_id == second.run_id
        await started.aclose()
        assert runtime.slots.in_use == 1
        assert await runtime.cancel(second.run_id)
        gate.release.set()
        one, two = await asyncio.wait_for(asyncio.gather(first, second), TIMEOUT)
        steps = [e.kind for e in await runtime.run_events(second.run_id)]
    assert one.success
    assert two.status.value == "CANCELED"
    assert "STEP_STARTED" not in steps and "STEP_SKIPPED" in steps
    assert not marker.exists()  # its function never ran


async def test_an_import_that_never_finishes_is_an_error_and_the_last_graph_serves(
    dev: Dev, gate: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MILLRACE_LOAD_TIMEOUT", "0.3")
    error, handle = await dev.save("waits_forever.py", source="import gate\ngate.release.wait()\n")

    assert isinstance(error, CodeError) and handle is None
    assert "did not finish within 0.3s" in error.message
    assert error.file is not None and error.file.endswith("waits_forever.py")
    assert error.line == 2
    assert set(dev.runtime.code.graph.nodes) == {AssetKey(k) for k in KEYS}
    assert (await asyncio.wait_for(dev.runtime.materialize("alpha"), TIMEOUT)).success


def test_the_watcher_ignores_what_is_not_user_code(tmp_path: Path) -> None:
    from millrace.runtime.watcher import CodeFilter
    from watchfiles import Change

    (tmp_path / "env_dir").mkdir()
    (tmp_path / "env_dir" / "pyvenv.cfg").write_text("home = /usr\n")
    home = tmp_path / ".millrace"
    keep = CodeFilter(tmp_path, [home])

    def seen(relative: str) -> bool:
        return keep(Change.modified, str(tmp_path / relative))

    assert seen("assets.py") and seen("pkg/helpers.py")
    for ignored in (
        ".millrace/storage/x.py",
        "pkg/__pycache__/helpers.cpython-311.pyc",
        ".git/hooks/x.py",
        ".venv/lib/site.py",
        "env_dir/lib/python3.11/site-packages/x.py",  # a virtualenv under any name
        ".assets.py.swp",
        "assets.py~",
        "data.csv",
    ):
        assert not seen(ignored), ignored


SIZED = """
    from millrace import Config, asset

    class SizeConfig(Config):
        n: int  # no default: every run must say

    @asset
    def sized(config: SizeConfig) -> int:
        return config.n * 2
"""


async def test_a_rerun_that_cannot_start_is_reported_and_the_loop_goes_on(
    project: Path, home: Path
) -> None:
    async with Dev(project, home) as dev:
        errors = dev.runtime.subscribe(kinds={"LOG"})
        applied, handle = await dev.save("sized.py", source=SIZED)

        assert isinstance(applied, ReloadApplied) and applied.added == (AssetKey("sized"),)
        assert handle is None
        error = await asyncio.wait_for(anext(errors), TIMEOUT)
        await errors.aclose()
        assert error.level == "ERROR" and error.message.startswith("not re-run: ")
        assert "asset 'sized' (ops.sized.config): n: required, not given" in error.message
        assert not dev.task.done()

    config = {"ops": {"sized": {"config": {"n": 21}}}}
    async with Dev(project, home, run_config=config) as dev:
        _, handle = await dev.save("sized.py", "config.n * 2", "config.n * 2 + 0")
        assert materialized(await dev.run_events(handle)) == ["sized"]
    assert stored_value(home, "sized") == 42


PARTITIONED = """
    from millrace import StaticPartitionsDefinition, asset

    ABC = StaticPartitionsDefinition(["a", "b", "c"])

    @asset(partitions_def=ABC)
    def letters(context) -> str:
        return context.partition_key * 1

    @asset(partitions_def=ABC)
    def shout(letters: str) -> str:
        return letters.upper()
"""


async def test_an_edit_of_a_partitioned_asset_reruns_the_partitions_that_exist(
    tmp_path: Path, home: Path
) -> None:
    write_source(tmp_path / "proj" / "assets.py", PARTITIONED)
    async with Runtime(load_code_location(tmp_path / "proj"), home=home) as first:
        for key in ("a", "b"):
            assert (await first.materialize(partition_key=key)).success
    async with Dev(tmp_path, home) as session:
        # What --run-stale does at start: the missing partition, and nothing else.
        started = await session.loop.materialize_stale()
        assert started is not None
        events = await session.run_events(started)
        made = sorted(
            (e.asset_key.to_user_string(), e.partition_key)
            for e in events
            if isinstance(e, AssetMaterialized) and e.asset_key
        )
        assert made == [("letters", "c"), ("shout", "c")]

        applied, handle = await session.save("assets.py", "* 1", "* 2")
        assert isinstance(applied, ReloadApplied)
        events = await session.run_events(handle)
        made = sorted(
            (e.asset_key.to_user_string(), e.partition_key)
            for e in events
            if isinstance(e, AssetMaterialized) and e.asset_key
        )
        assert made == [(a, k) for a in ("letters", "shout") for k in "abc"]
