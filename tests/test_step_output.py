"""What a step prints, and what it returns: real ``millrace`` processes on real files.

A step's stdout and stderr are its log (LOG events with the levels STDOUT and STDERR, shown
live and stored), whichever thread prints: the worker running a ``def`` asset, a thread the
asset starts, or the event loop shared by interleaved ``async def`` assets. So ``--json``
prints nothing but JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import CLI_TIMEOUT, Db, cli_env, run_cli, write_source

PRINTING = """
    import asyncio
    import sys
    import threading

    from millrace import asset


    @asset
    def own_thread(context) -> int:
        print("printed by own_thread")
        print("warned by own_thread", file=sys.stderr)
        context.log.info("logged by own_thread")
        sys.stdout.write("no newline at the end")
        return 1


    @asset
    def starts_threads() -> int:
        def child():
            print("printed by a thread starts_threads started")
            grandchild = threading.Thread(target=print, args=("printed by its own thread",))
            grandchild.start()
            grandchild.join()

        thread = threading.Thread(target=child)
        thread.start()
        thread.join()
        return 2


    # Two async assets taking turns on the loop: each prints between the other's prints.
    first_printed = asyncio.Event()
    second_printed = asyncio.Event()


    @asset
    async def async_first(context) -> int:
        print("async_first, before")
        first_printed.set()
        await second_printed.wait()
        print("async_first, after")
        context.log.info("logged by async_first")
        return 3


    @asset
    async def async_second() -> int:
        await first_printed.wait()
        print("async_second, before")
        second_printed.set()
        await asyncio.sleep(0)  # let async_first print in between
        print("async_second, after")
        return 4
"""

EXPECTED = {
    ("own_thread", "STDOUT", "printed by own_thread"),
    ("own_thread", "STDERR", "warned by own_thread"),
    ("own_thread", "INFO", "logged by own_thread"),
    ("own_thread", "STDOUT", "no newline at the end"),
    ("starts_threads", "STDOUT", "printed by a thread starts_threads started"),
    ("starts_threads", "STDOUT", "printed by its own thread"),
    ("async_first", "STDOUT", "async_first, before"),
    ("async_first", "STDOUT", "async_first, after"),
    ("async_first", "INFO", "logged by async_first"),
    ("async_second", "STDOUT", "async_second, before"),
    ("async_second", "STDOUT", "async_second, after"),
}


def logs(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["asset_key"], e["level"], e["message"]) for e in events if e["type"] == "LOG"]


def test_json_output_is_only_json_and_prints_are_the_steps_logs(tmp_path: Path, home: Path, db: Db):
    write_source(tmp_path / "printing.py", PRINTING)

    result = run_cli("materialize", "printing.py", "--json", cwd=tmp_path, home=home)

    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]  # every line is JSON
    assert result.stderr == ""
    shown = logs(printed)
    assert sorted(shown) == sorted(EXPECTED)  # each line once, none doubled by the printers
    # The interleaving really happened, and each line still went to its own asset.
    messages = [message for _, _, message in shown]
    assert messages.index("async_second, before") < messages.index("async_first, after")
    stored = db.rows(
        "SELECT asset_key, json_extract(payload, '$.level'), json_extract(payload, '$.message')"
        " FROM events WHERE type = 'LOG' ORDER BY id"
    )
    assert stored == shown


def test_in_a_pipe_prints_are_lines_of_their_step(tmp_path: Path, home: Path):
    write_source(tmp_path / "printing.py", PRINTING)

    result = run_cli("materialize", "printing.py", cwd=tmp_path, home=home)

    assert result.returncode == 0, result.stderr
    assert "  own_thread STDOUT: printed by own_thread\n" in result.stdout
    assert "  own_thread STDERR: warned by own_thread\n" in result.stdout
    assert "  starts_threads STDOUT: printed by its own thread\n" in result.stdout
    assert result.stdout.count("async_first, after") == 1
    assert result.stderr == ""


def test_without_a_view_prints_still_reach_the_terminal_and_are_stored(
    tmp_path: Path, home: Path, db: Db
):
    """``materialize()`` in a script shows no log: a print is written through, as without
    Millrace, and kept in the history; the streams are the process's own again afterwards."""
    write_source(
        tmp_path / "script.py",
        """
        import sys

        from millrace import asset, materialize

        stdout, stderr = sys.stdout, sys.stderr


        @asset
        def chatty() -> int:
            print("hello from chatty")
            return 1


        assert materialize([chatty]).success
        assert (sys.stdout, sys.stderr) == (stdout, stderr)
        print("after the run")
        """,
    )

    result = subprocess.run(
        [sys.executable, "script.py"],
        cwd=tmp_path,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout == "hello from chatty\nafter the run\n"
    [(key, level, message)] = db.rows(
        "SELECT asset_key, json_extract(payload, '$.level'), json_extract(payload, '$.message')"
        " FROM events WHERE type = 'LOG'"
    )
    assert (key, level, message) == ("chatty", "STDOUT", "hello from chatty")


# -- what an asset returns -------------------------------------------------------------------


def test_a_plain_function_returning_a_generator_is_a_clear_failure(tmp_path: Path, home: Path):
    write_source(
        tmp_path / "generators.py",
        """
        from millrace import Output, asset


        @asset
        def numbers():
            return (n for n in range(3))  # a value, not yields: it cannot be pickled


        @asset
        def yielded():
            yield Output([0, 1, 2])


        @asset
        def total(yielded: list) -> int:
            return sum(yielded)
        """,
    )

    result = run_cli("materialize", "generators.py", "--json", cwd=tmp_path, home=home)

    assert result.returncode == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    [failed] = [e for e in events if e["type"] == "STEP_FAILED"]
    assert failed["asset_key"] == "numbers"
    assert failed["error"]["message"] == (
        "asset 'numbers' returned a generator object, which cannot be stored; return a list, "
        "or make the asset a generator function that yields Output(...)"
    )
    materialized = {e["asset_key"] for e in events if e["type"] == "ASSET_MATERIALIZED"}
    assert materialized == {"yielded", "total"}  # a generator function still yields outputs


# -- hints -----------------------------------------------------------------------------------


def test_the_missing_input_hint_for_a_prefixed_key_is_a_selection_that_works(
    tmp_path: Path, home: Path
):
    write_source(
        tmp_path / "sales.py",
        """
        from millrace import AssetIn, asset


        @asset(key_prefix="sales")
        def orders() -> list:
            return [1, 2]


        @asset(key_prefix="sales", ins={"orders": AssetIn(key_prefix="sales")})
        def summary(orders: list) -> int:
            return len(orders)
        """,
    )

    first = run_cli("materialize", "sales.py", "--select", "sales/summary", cwd=tmp_path, home=home)

    assert first.returncode == 1
    assert "asset 'sales/summary' needs 'sales/orders', which has never been materialized" in (
        first.stdout
    )
    hint = re.search(r"--select (\S+?)\)", first.stdout)
    assert hint, first.stdout
    assert hint[1] == "+sales/summary"
    again = run_cli("materialize", "sales.py", "--select", hint[1], cwd=tmp_path, home=home)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "2 materialized" in again.stdout


def test_an_async_generator_asset_runs_on_the_loop_and_yields_its_outputs(home: Path) -> None:
    from millrace import AssetCheckResult, AssetCheckSpec, Output, asset, materialize

    @asset(check_specs=[AssetCheckSpec("positive", asset="streamed")])
    async def streamed():
        yield Output(41, metadata={"how": "async generator"})
        yield AssetCheckResult(passed=True)

    result = materialize([streamed])

    assert result.asset_value("streamed") == 41
    [check] = result.get_asset_check_evaluations()
    assert check.passed
