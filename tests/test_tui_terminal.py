"""``millrace dev`` and ``millrace ui`` in a real terminal: a pseudo-terminal the process
draws its app on, keys written to it as a user types them."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
import threading
import time
from pathlib import Path

from conftest import CLI_TIMEOUT, MILLRACE, cli_env, run_cli
from tui_harness import write_project

ESCAPES = re.compile(rb"\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-Z\\-_])")


class Terminal:
    """A process on a 130 x 40 pseudo-terminal; ``screen`` is what it drew, escapes removed."""

    def __init__(self, *args: str | Path, cwd: Path, home: Path) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 130, 0, 0))
        env = cli_env(home, {"TERM": "xterm-256color", "COLUMNS": None, "LINES": None})
        self.proc = subprocess.Popen(
            [*MILLRACE, *map(str, args)],
            cwd=cwd,
            env=env,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self.output = bytearray()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:  # the process closed the terminal
                return
            if not chunk:
                return
            self.output += chunk

    @property
    def screen(self) -> str:
        return ESCAPES.sub(b"", bytes(self.output)).decode(errors="replace")

    def wait_for(self, *texts: str) -> None:
        deadline = time.monotonic() + CLI_TIMEOUT
        while not all(t in self.screen for t in texts):
            assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.screen[-2000:]}"
            assert time.monotonic() < deadline, f"no {texts} in {self.screen[-2000:]}"
            time.sleep(0.05)  # polling a pipe another thread fills: no event to await here

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self) -> int:
        code = self.proc.wait(timeout=CLI_TIMEOUT)
        self._reader.join(timeout=CLI_TIMEOUT)
        os.close(self.master)
        return code

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=CLI_TIMEOUT)


def fresh_count(tmp_path: Path, home: Path) -> int:
    status = run_cli("status", "proj", "--json", cwd=tmp_path, home=home)
    assert status.returncode == 0, status.stderr
    return status.stdout.count('"fresh"')


def test_dev_on_a_terminal_opens_the_app_and_q_quits(tmp_path: Path, home: Path) -> None:
    write_project(tmp_path)
    with Terminal("dev", "proj", cwd=tmp_path, home=home) as term:
        term.wait_for("alpha", "beta_mid", "gamma_out", "missing", "watching")
        term.type("s")  # every stale and missing asset
        term.wait_for("fresh")
        term.type("q")
        assert term.finish() == 0
    assert "Traceback" not in term.screen
    assert fresh_count(tmp_path, home) == 3


def test_the_readmes_command_materializes_at_start_on_a_terminal(
    tmp_path: Path, home: Path
) -> None:
    write_project(tmp_path)
    with Terminal("dev", "proj", "--run-stale", cwd=tmp_path, home=home) as term:
        term.wait_for("alpha", "fresh")
        deadline = time.monotonic() + CLI_TIMEOUT
        while fresh_count(tmp_path, home) < 3:  # read by another process, as `millrace ui` does
            assert time.monotonic() < deadline, term.screen[-2000:]
        term.type("q")
        assert term.finish() == 0


def test_ui_shows_the_history_another_process_wrote_and_cannot_run(
    tmp_path: Path, home: Path
) -> None:
    write_project(tmp_path)
    assert run_cli("materialize", "proj", cwd=tmp_path, home=home).returncode == 0
    with Terminal("ui", "proj", cwd=tmp_path, home=home) as term:
        term.wait_for("alpha", "beta_mid", "gamma_out", "fresh")
        term.type("m")
        term.wait_for("read-only")
        term.type("q")
        assert term.finish() == 0
    assert "Traceback" not in term.screen
