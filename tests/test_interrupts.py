"""Leaving a run early, and code that tries to leave: real ``millrace`` processes, real
signals, a real pseudo-terminal. Every wait has a timeout.

The second Ctrl-C exits without waiting for the steps, but first puts the terminal back (the
live line cleared, the cursor shown) and tears down the resources the runs hold, for at most
FORCED_TEARDOWN_SECONDS.
"""

from __future__ import annotations

import json
import os
import pty
import signal
import subprocess
import threading
import time
from pathlib import Path

from conftest import CLI_TIMEOUT, MILLRACE, Spawned, cli_env, run_cli, write_source
from millrace.runtime.resources import FORCED_TEARDOWN_SECONDS

SHOW_CURSOR, HIDE_CURSOR, ERASE_LINE = b"\x1b[?25h", b"\x1b[?25l", b"\x1b[2K"

# ``stuck`` never returns (a thread cannot be canceled): only a forced exit ends the run. Its
# resources: ``marker`` notes its teardown in a file; ``hang`` never finishes its own, and is
# set up first (``marker`` requires it), so it is torn down last.
STUCK_WITH_RESOURCES = """
    import threading
    from pathlib import Path

    from millrace import Definitions, asset, resource


    @resource
    def hang():
        yield "hang"
        threading.Event().wait()  # its teardown


    @resource(required_resource_keys={"hang"})
    def marker(init_context):
        yield "marker"
        Path(__file__).with_name("torn-down").write_text(init_context.run_id)


    @asset(required_resource_keys={"marker"})
    def stuck() -> int:
        threading.Event().wait()
        return 1


    defs = Definitions(assets=[stuck], resources={"hang": hang, "marker": marker})
"""


def wait_for_event(run: Spawned, kind: str, asset_key: str) -> dict[str, object]:
    def matches(line: str) -> bool:
        event = json.loads(line)
        return event["type"] == kind and event["asset_key"] == asset_key

    return json.loads(run.wait_for_line(matches, f"{kind} {asset_key}"))


def test_a_second_ctrl_c_tears_down_resources_within_the_deadline(tmp_path: Path, home: Path):
    write_source(tmp_path / "stuck.py", STUCK_WITH_RESOURCES)
    env = {"MILLRACE_HOME": str(home)}
    with Spawned("materialize", "stuck.py", "--json", cwd=tmp_path, env=env) as run:
        started = wait_for_event(run, "STEP_STARTED", "stuck")
        run.proc.send_signal(signal.SIGINT)
        run.wait_for_stderr("canceling")
        forced = time.monotonic()
        run.proc.send_signal(signal.SIGINT)
        code = run.finish()
        took = time.monotonic() - forced

    assert code == 130
    assert (tmp_path / "torn-down").read_text() == started["run_id"]
    errors = "".join(run.err_lines)
    assert "forced exit" in errors
    assert "resource teardown did not finish in time; exiting anyway" in errors  # ``hang``
    assert FORCED_TEARDOWN_SECONDS <= took < FORCED_TEARDOWN_SECONDS + 3, took


def test_a_second_ctrl_c_in_dev_tears_down_resources(tmp_path: Path, home: Path):
    source = STUCK_WITH_RESOURCES.replace("threading.Event().wait()  # its teardown", "pass")
    assert source != STUCK_WITH_RESOURCES  # here ``hang`` tears down at once
    write_source(tmp_path / "proj" / "stuck.py", source)
    args = ("dev", "proj", "--headless", "--json", "--run-stale")
    with Spawned(*args, cwd=tmp_path, env={"MILLRACE_HOME": str(home)}) as dev:
        started = wait_for_event(dev, "STEP_STARTED", "stuck")
        dev.proc.send_signal(signal.SIGINT)
        dev.wait_for_stderr("stopping")
        dev.proc.send_signal(signal.SIGINT)
        code = dev.finish()

    assert code == 130
    assert (tmp_path / "proj" / "torn-down").read_text() == started["run_id"]
    assert "forced exit" in "".join(dev.err_lines)


class Terminal:
    """``millrace ARGS`` with a pseudo-terminal as stdin and stderr (so it draws its live
    progress line), stdout a pipe; everything written to the terminal is kept."""

    def __init__(self, *args: str, cwd: Path, home: Path) -> None:
        master, slave = pty.openpty()
        env = cli_env(home, {"TERM": "xterm-256color", "COLUMNS": "100"})
        self.proc = subprocess.Popen(
            [*MILLRACE, *args], cwd=cwd, env=env, stdin=slave, stderr=slave, stdout=subprocess.PIPE
        )
        os.close(slave)
        self._master = master
        self._output = bytearray()
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self._master, 4096)
            except OSError:  # EIO: the process has exited and closed the terminal
                chunk = b""
            with self._changed:
                self._output += chunk
                self._changed.notify_all()
            if not chunk:
                return

    def wait_for(self, text: bytes) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: text in self._output, timeout=CLI_TIMEOUT):
                raise AssertionError(f"no {text!r} on the terminal: {bytes(self._output)!r}")

    def finish(self) -> tuple[int, bytes]:
        code = self.proc.wait(timeout=CLI_TIMEOUT)
        self._reader.join(timeout=CLI_TIMEOUT)
        os.close(self._master)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        return code, bytes(self._output)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.finish()


def assert_terminal_restored(output: bytes) -> None:
    """The cursor was hidden for the live line, shown again after it; the line was drawn and
    then erased (transient), with nothing drawn after that."""
    assert HIDE_CURSOR in output, output
    assert output.rfind(SHOW_CURSOR) > output.rfind(HIDE_CURSOR), output[-300:]
    last_drawn = output.rfind(b"done ")
    assert last_drawn != -1, output
    assert ERASE_LINE in output[last_drawn:], output[last_drawn:]


def test_a_second_ctrl_c_on_a_terminal_clears_the_live_line_and_shows_the_cursor(
    tmp_path: Path, home: Path
):
    write_source(
        tmp_path / "stuck.py",
        """
        import threading

        from millrace import asset


        @asset
        def stuck() -> int:
            threading.Event().wait()
            return 1
        """,
    )
    terminal = Terminal("materialize", "stuck.py", cwd=tmp_path, home=home)
    try:
        terminal.wait_for(b"now: stuck")  # the live line, with the step that runs
        terminal.proc.send_signal(signal.SIGINT)
        terminal.wait_for(b"canceling")
        terminal.proc.send_signal(signal.SIGINT)
        code, output = terminal.finish()
    finally:
        terminal.close()

    assert code == 130
    assert_terminal_restored(output)
    assert output.rfind(b"forced exit") > output.rfind(SHOW_CURSOR)  # said on a clean line


def test_a_config_error_is_told_before_the_live_line_touches_the_terminal(
    tmp_path: Path, home: Path
):
    """Config is checked against the assets when the run is submitted, before the live line
    is drawn: the error leaves the terminal as it found it (the cursor never hidden)."""
    write_source(
        tmp_path / "plain.py",
        """
        from millrace import asset


        @asset
        def plain() -> int:
            return 1
        """,
    )
    terminal = Terminal("materialize", "plain.py", "-c", "plain.x=1", cwd=tmp_path, home=home)
    try:
        code, output = terminal.finish()
    finally:
        terminal.close()

    assert code == 2
    assert HIDE_CURSOR not in output and b"done " not in output
    assert b"error: Invalid run config" in output


# -- code that exits -------------------------------------------------------------------------


def test_sys_exit_at_import_is_a_load_error_naming_file_and_line(tmp_path: Path, home: Path):
    code = write_source(
        tmp_path / "exits.py",
        """
        import sys

        from millrace import asset


        @asset
        def never() -> int:
            return 1


        sys.exit(3)
        """,
    )
    line = code.read_text().splitlines().index("sys.exit(3)") + 1

    result = run_cli("materialize", "exits.py", cwd=tmp_path, home=home)

    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith(f"error: Importing {code} raised SystemExit: 3\n")
    assert f'File "{code}", line {line}' in result.stderr
    assert "sys.exit(3)" in result.stderr
    assert not home.exists()  # nothing ran
