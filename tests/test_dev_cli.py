"""``millrace dev --headless``: a real process watching real files, read line by line."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from conftest import Spawned, run_cli, write_source

ASSETS = """
    from millrace import asset

    @asset
    def alpha() -> int:
        return 1

    @asset
    def beta_mid(alpha: int) -> int:
        return alpha + 1

    @asset
    def gamma_out(beta_mid: int) -> int:
        return beta_mid * 10
"""


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_dev_headless_prints_reloads_and_reruns_and_stops_on_ctrl_c(tmp_path: Path, home: Path):
    code = write_source(tmp_path / "proj" / "assets.py", ASSETS)
    assert run_cli("materialize", "proj", cwd=tmp_path, home=home).returncode == 0

    env = {"MILLRACE_HOME": str(home)}
    with Spawned("dev", "proj", "--headless", cwd=tmp_path, env=env) as dev:
        dev.wait_for_line(lambda line: line.startswith("watching "), "watching")
        edit(code, "return alpha + 1", "return 1 + alpha")  # same output

        dev.wait_for_line(
            lambda line: line == "reloaded: 1 changed (beta_mid: code), 0 added, 0 removed\n",
            "the reload line",
        )
        dev.wait_for_line(lambda line: line == "beta_mid started\n", "beta_mid started")
        dev.wait_for_line(lambda line: line.startswith("beta_mid materialized in "), "stored")
        dev.wait_for_line(
            lambda line: line == "gamma_out up to date (inputs unchanged)\n", "early cutoff"
        )
        dev.wait_for_line(lambda line: " SUCCESS" in line, "the run's end")

        edit(code, "return 1 + alpha", "return 1 +")
        line = 1 + code.read_text().splitlines().index("    return 1 +")
        dev.wait_for_line(
            lambda text: text == f"Syntax error in proj/assets.py:{line}: invalid syntax\n",
            "the syntax error, with file and line",
        )
        edit(code, "return 1 +", "return 1 + alpha")
        dev.wait_for_line(lambda text: text == "the code loads again\n", "recovery")

        dev.proc.send_signal(signal.SIGINT)
        assert dev.finish() == 0
    assert "Traceback" not in "".join(dev.err_lines)


def test_dev_json_prints_events_and_run_stale_materializes_at_start(tmp_path: Path, home: Path):
    write_source(tmp_path / "proj" / "assets.py", ASSETS)
    env = {"MILLRACE_HOME": str(home)}

    args = ("dev", "proj", "--headless", "--json", "--run-stale")
    with Spawned(*args, cwd=tmp_path, env=env) as dev:
        dev.wait_for_line(lambda line: json.loads(line)["type"] == "RUN_FINISHED", "the run")
        dev.proc.send_signal(signal.SIGINT)
        assert dev.finish() == 0

    events = [json.loads(line) for line in dev.out_lines]
    assert all(isinstance(e["seq"], int) and e["seq"] > 0 for e in events)
    materialized = {e["asset_key"] for e in events if e["type"] == "ASSET_MATERIALIZED"}
    assert materialized == {"alpha", "beta_mid", "gamma_out"}
    [started] = [e for e in events if e["type"] == "RUN_STARTED"]
    assert started["tags"] == {"millrace/reason": "stale at start"}
    assert started["origin"] == "dev"
    status = run_cli("status", "proj", "--json", cwd=tmp_path, home=home)
    assert {json.loads(line)["status"] for line in status.stdout.splitlines()} == {"fresh"}


def test_dev_without_a_terminal_behaves_as_headless(tmp_path: Path, home: Path):
    write_source(tmp_path / "proj" / "assets.py", ASSETS)

    # stdin and stdout are pipes here: no terminal UI, the same lines as --headless
    with Spawned("dev", "proj", cwd=tmp_path, env={"MILLRACE_HOME": str(home)}) as dev:
        dev.wait_for_line(lambda line: line.startswith("watching "), "watching")
        dev.proc.send_signal(signal.SIGINT)
        assert dev.finish() == 0
    assert "Traceback" not in "".join(dev.err_lines)


def test_dev_starts_on_broken_code_and_waits_for_the_fix(tmp_path: Path, home: Path):
    code = write_source(tmp_path / "proj" / "assets.py", ASSETS.replace("return 1\n", "return (\n"))
    env = {"MILLRACE_HOME": str(home)}

    with Spawned("dev", "proj", "--headless", cwd=tmp_path, env=env) as dev:
        dev.wait_for_line(lambda line: line.startswith("Syntax error in proj/assets.py:"), "error")
        edit(code, "return (\n", "return 1\n")
        dev.wait_for_line(lambda line: line.startswith("watching "), "watching after the fix")
        dev.proc.send_signal(signal.SIGINT)
        assert dev.finish() == 0


def test_a_home_that_cannot_be_written_is_one_clear_line(tmp_path: Path):
    write_source(tmp_path / "proj" / "assets.py", ASSETS)
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_text("")

    for command in ("materialize", "status"):
        result = run_cli(command, "proj", "--home", not_a_dir, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr == (
            f"error: cannot keep history in {not_a_dir}: it is a file, not a directory; make it "
            "writable, or choose another home with --home or MILLRACE_HOME\n"
        )
