"""Secrets (issue 14, item 18): the value of an ``EnvVar`` never reaches the database, its
WAL, stored values, logs, ``--json`` output or error messages.

A project's ``ConfigurableResource`` reads its ``token`` from ``EnvVar("MY_SECRET")``; the CLI
runs in a real subprocess with MY_SECRET set to a random string. Runs succeed, fail inside an
asset (whose frames hold the token in locals), fail in a resource's setup (a pydantic error
on another field), are rejected when the run reads the environment, and take config from
``-c`` and ``--config``. After each, every byte under the home and everything the commands
printed is searched for the secret: its random part in UTF-8 and UTF-16 (either byte order),
so an escaped or truncated form is found too (the secret has a non-ASCII letter, which JSON
and repr would escape).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import subprocess
from collections.abc import Iterator
from hashlib import sha256
from pathlib import Path

import pytest
import yaml
from conftest import Db, run_cli, stored_value, write_source

RANDOM_PART = secrets.token_hex(12)
SECRET = f"mr-sëcret-{RANDOM_PART}"
FINGERPRINT = sha256(SECRET.encode()).hexdigest()[:12]
NEEDLES = {
    "UTF-8": RANDOM_PART.encode(),
    "UTF-16-LE": RANDOM_PART.encode("utf-16-le"),
    "UTF-16-BE": RANDOM_PART.encode("utf-16-be"),
    "whole, UTF-8": SECRET.encode(),
}

PROJECT = """
    from hashlib import sha256

    from pydantic import BaseModel, Field, model_validator

    from millrace import (
        AssetExecutionContext,
        Config,
        ConfigurableResource,
        Definitions,
        EnvVar,
        InitResourceContext,
        asset,
    )


    class Vault(ConfigurableResource):
        token: str
        port: int = 8200

        @model_validator(mode="after")
        def _no_surrounding_whitespace(self) -> "Vault":
            if self.token != self.token.strip():
                raise ValueError("token has leading or trailing whitespace")
            return self

        def headers(self) -> dict:
            return {"X-Vault-Token": self.token}


    class Connection(BaseModel):
        token: str
        port: int = Field(gt=0, lt=65536)


    class CheckedVault(Vault):
        def setup_for_execution(self, context: InitResourceContext) -> None:
            Connection(token=self.token, port=self.port)  # port 70000: a ValidationError


    class FetchConfig(Config):
        n: int = 1


    def fingerprint(token: str) -> str:
        return sha256(token.encode()).hexdigest()[:12]


    @asset
    def fetch(context: AssetExecutionContext, vault: Vault) -> dict:
        context.log.info(f"using {vault!r}")
        context.log.info(f"as text: {vault}")
        print(f"printed: {vault}")
        return {"length": len(vault.token), "fingerprint": fingerprint(vault.token)}


    @asset
    def broken(vault: Vault) -> dict:
        token = vault.token
        headers = vault.headers()
        raise ConnectionError(
            f"vault on port {vault.port} refused a token of {len(token)} characters"
            f" ({len(headers)} header)"
        )


    @asset
    def guarded(checked: CheckedVault) -> int:
        return checked.port


    @asset
    def configured(config: FetchConfig, vault: Vault) -> dict:
        return {"n": config.n, "port": vault.port, "fingerprint": fingerprint(vault.token)}


    defs = Definitions(
        assets=[fetch, broken, guarded, configured],
        resources={
            "vault": Vault(token=EnvVar("MY_SECRET")),
            "checked": CheckedVault(token=EnvVar("MY_SECRET"), port=70_000),
        },
    )
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_source(tmp_path / "proj" / "secretive.py", PROJECT)


class Commands:
    """``millrace`` commands on this test's home with MY_SECRET set; keeps all they print.

    Once the database exists, a connection to it stays open, so the processes that write
    after that are not its last connection and leave their WAL behind, to be searched too."""

    def __init__(self, project: Path, home: Path) -> None:
        self.project, self.home = project, home
        self.printed: dict[str, str] = {}
        self.reader: sqlite3.Connection | None = None

    def __call__(self, *args: str | Path, secret: str = SECRET) -> subprocess.CompletedProcess[str]:
        done = run_cli(*args, cwd=self.project.parent, home=self.home, env={"MY_SECRET": secret})
        name = " ".join(map(str, args))
        self.printed[f"stdout of {name}"] = done.stdout
        self.printed[f"stderr of {name}"] = done.stderr
        database = self.home / "millrace.db"
        if self.reader is None and database.exists():
            self.reader = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
            self.reader.execute("SELECT COUNT(*) FROM sqlite_master").fetchall()
        return done

    def materialize(self, *args: str | Path, secret: str = SECRET):
        return self("materialize", self.project, *args, secret=secret)

    def logs_of_every_run(self) -> None:
        for (run_id,) in Db(self.home / "millrace.db").rows("SELECT run_id FROM runs"):
            self("logs", run_id)


@pytest.fixture
def cli(project: Path, home: Path) -> Iterator[Commands]:
    commands = Commands(project, home)
    yield commands
    if commands.reader is not None:
        commands.reader.close()


def leaks(home: Path, printed: dict[str, str]) -> list[str]:
    """Where the secret is: every file under ``home``, and every captured output."""
    files = sorted(p for p in home.rglob("*") if p.is_file())
    assert home / "millrace.db" in files, files
    places = {str(p.relative_to(home)): p.read_bytes() for p in files}
    places.update({name: text.encode() for name, text in printed.items()})
    found = []
    for place, data in places.items():
        for form, needle in NEEDLES.items():
            if (at := data.find(needle)) >= 0:
                found.append(f"{place} ({form}): ...{data[max(at - 80, 0) : at + 40]!r}...")
    return found


def assert_no_leak(cli: Commands) -> None:
    cli.logs_of_every_run()
    found = leaks(cli.home, cli.printed)
    assert found == [], "the secret leaked:\n" + "\n".join(found)


# -- runs --------------------------------------------------------------------------------------


def test_a_successful_run_uses_the_secret_and_keeps_it_everywhere_else(cli: Commands, db: Db):
    plain = cli.materialize("--select", "fetch")
    as_json = cli.materialize("--select", "fetch", "--json")

    assert plain.returncode == as_json.returncode == 0, (plain.stderr, as_json.stderr)
    assert stored_value(cli.home, "fetch") == {"length": len(SECRET), "fingerprint": FINGERPRINT}
    payloads = db.rows("SELECT payload FROM events WHERE type = 'LOG'")
    logged = [json.loads(payload)["message"] for (payload,) in payloads]
    assert logged.count("using Vault(token=EnvVar('MY_SECRET'), port=8200)") == 2
    assert logged.count("printed: token=EnvVar('MY_SECRET') port=8200") == 2
    assert "EnvVar('MY_SECRET')" in as_json.stdout
    assert (cli.home / "millrace.db-wal").stat().st_size > 0  # the second run's writes
    assert_no_leak(cli)


def test_an_asset_failing_with_the_secret_in_its_locals_does_not_leak_it(cli: Commands):
    plain = cli.materialize("--select", "broken")
    as_json = cli.materialize("--select", "broken", "--json")

    assert plain.returncode == as_json.returncode == 1, (plain.stdout, plain.stderr)
    reason = f"vault on port 8200 refused a token of {len(SECRET)} characters"
    assert reason in plain.stdout + plain.stderr
    assert "secretive.py" in plain.stdout + plain.stderr  # the user's frames are shown
    [failed] = [
        e for e in map(json.loads, as_json.stdout.splitlines()) if e["type"] == "STEP_FAILED"
    ]
    assert reason in failed["error"]["message"]
    assert "raise ConnectionError(" in failed["error"]["traceback"]
    assert_no_leak(cli)


def test_a_resource_setup_failing_on_another_field_does_not_leak_it(cli: Commands, db: Db):
    plain = cli.materialize("--select", "guarded")
    as_json = cli.materialize("--select", "guarded", "--json")

    assert plain.returncode != 0 and as_json.returncode != 0, plain.stdout
    assert "less than 65536" in plain.stderr + plain.stdout
    message = db.value("SELECT message FROM runs ORDER BY start_time LIMIT 1")
    assert "Setting up resources failed" in message and "port" in message, message
    assert "STEP_STARTED" not in as_json.stdout
    assert_no_leak(cli)


def test_a_secret_the_resource_rejects_when_the_run_reads_it_is_not_shown(cli: Commands, db: Db):
    """The value read is checked by the resource's own model validator (no surrounding
    whitespace): the error says why, and must not show the value it rejected."""
    plain = cli.materialize("--select", "fetch", secret=SECRET + "\n")
    as_json = cli.materialize("--select", "fetch", "--json", secret=SECRET + "\n")

    assert plain.returncode == as_json.returncode == 2, (plain.stdout, plain.stderr)
    assert "resource 'vault' (Vault)" in plain.stderr
    assert "token has leading or trailing whitespace" in plain.stderr
    assert "STEP_STARTED" not in as_json.stdout
    assert [s for (s,) in db.rows("SELECT status FROM runs")] == ["FAILURE", "FAILURE"]
    assert_no_leak(cli)


# -- config ------------------------------------------------------------------------------------


def test_config_from_the_command_line_and_a_file_keeps_the_secret_out(
    cli: Commands, tmp_path: Path, db: Db
):
    run_yaml = tmp_path / "run.yaml"
    run_yaml.write_text(
        yaml.safe_dump(
            {
                "ops": {"configured": {"config": {"n": 2}}},
                "resources": {"vault": {"config": {"port": 8300}}},
            }
        )
    )

    done = cli.materialize("--select", "configured", "--config", run_yaml, "-c", "configured.n=3")

    assert done.returncode == 0, done.stderr
    assert stored_value(cli.home, "configured") == {
        "n": 3,
        "port": 8300,
        "fingerprint": FINGERPRINT,
    }
    config = json.loads(db.value("SELECT config FROM runs"))
    assert config["resources"] == {"vault": {"config": {"port": 8300}}}
    cli("list", cli.project)
    cli("lineage", "configured", cli.project, "--json")
    cli("status", cli.project, "--json")
    assert_no_leak(cli)


def test_resource_config_that_names_an_env_var_keeps_its_value_out(cli: Commands, tmp_path: Path):
    """Dagster's ``{env: NAME}`` in a resource's run config. Whether Millrace reads the
    variable or rejects the form, its value must not be stored or shown."""
    env_yaml = tmp_path / "env.yaml"
    env_yaml.write_text(
        yaml.safe_dump({"resources": {"vault": {"config": {"token": {"env": "MY_SECRET"}}}}})
    )

    done = cli.materialize("--select", "fetch", "--config", env_yaml)

    if done.returncode == 0:
        assert stored_value(cli.home, "fetch")["fingerprint"] == FINGERPRINT
    else:
        assert done.returncode == 2, done.stderr
        assert "resources.vault.config.token" in done.stderr
    assert_no_leak(cli)


def test_the_search_finds_a_secret_that_was_written(cli: Commands):
    """The search can fail: a secret an asset stores on purpose is found, in the database."""
    write_source(
        cli.project,
        PROJECT.replace('return {"length": len(vault.token),', 'return {"token": vault.token,'),
    )
    assert cli.materialize("--select", "fetch").returncode == 0

    found = leaks(cli.home, {})

    assert found and all(place.startswith("millrace.db") for place in found), found
