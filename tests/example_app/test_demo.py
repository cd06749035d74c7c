"""``python -m example_app`` and the example's commands, as a new user first meets them."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import example_app.__main__ as demo
from example_app import create_app
from example_app.models import db

from ..conftest import logging_preserved


class NoServe:
    """Stands in for the server: bound like the real one, returns at once instead of serving."""

    def __init__(self, host: str, port: int, app: Any, threaded: bool) -> None:
        self.server_port = port

    def serve_forever(self) -> None:
        return None


def run_demo(monkeypatch: pytest.MonkeyPatch, capsys: Any, url: str, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setattr(demo, "make_server", NoServe)
    with logging_preserved():
        code = demo.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_busy_port_is_reported_before_anything_is_written_or_minted(monkeypatch: pytest.MonkeyPatch,
                                                                       capsys: Any, tmp_path: Path) -> None:
    database = tmp_path / "demo.sqlite3"
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        code, out, err = run_demo(monkeypatch, capsys, f"sqlite:///{database}", "--port", str(port))
    assert code == 1 and out == ""
    assert f"Port {port} on 127.0.0.1 is busy" in err and f"--port {port + 1}" in err and "no token" in err
    assert not database.exists()


def test_the_port_comes_from_the_option_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "5123")
    assert demo.parse_args([]).port == 5123
    assert demo.parse_args(["--port", "5200"]).port == 5200
    monkeypatch.delenv("PORT")
    assert demo.parse_args([]).port == 5000


def test_a_rerun_says_how_to_list_and_revoke_the_tokens_of_earlier_runs(monkeypatch: pytest.MonkeyPatch,
                                                                         capsys: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    port = str(free_port())
    code, first, _ = run_demo(monkeypatch, capsys, url, "--port", port)
    assert code == 0 and "older live token" not in first
    assert "somnus@gridco.example (Manager)" in first and "trinity@gridco.example (Todo-er)" in first
    assert f"http://127.0.0.1:{port}/scim/v2" in first
    code, second, _ = run_demo(monkeypatch, capsys, url, "--port", port)
    assert code == 0 and "1 older live token" in second
    assert "scim list-tokens --tenant gridco.example" in second and "scim revoke-token ID" in second
    assert first.splitlines()[-1] != second.splitlines()[-1]  # a new token each run, on the last line


def test_a_missing_postgresql_database_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: Any,
                                                          postgres_url: str) -> None:
    missing = sa.make_url(postgres_url).set(database=f"missing_{uuid.uuid4().hex[:8]}")
    code, out, err = run_demo(monkeypatch, capsys, missing.render_as_string(hide_password=False),
                              "--port", str(free_port()))
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "does not exist" in err and "DATABASE_URL" in err
    assert "Traceback" not in err


def test_create_token_for_an_unknown_org_fails_unless_create_is_given(app: Any) -> None:
    runner = app.test_cli_runner()
    assert runner.invoke(args=["scim", "create-token", "--tenant", "gridco.example"]).exit_code == 0
    typo = runner.invoke(args=["scim", "create-token", "--tenant", "gridc0.example"])
    assert typo.exit_code != 0
    assert "unknown tenant 'gridc0.example'" in typo.output and "gridco.example" in typo.output
    assert "--create" in typo.output and "scimfse_" not in typo.output
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT count(*) FROM orgs WHERE domain = 'gridc0.example'")) == 0
    created = runner.invoke(args=["scim", "create-token", "--tenant", "gridc0.example", "--create"])
    assert created.exit_code == 0 and created.output.strip().splitlines()[-1].startswith("scimfse_")


def test_seed_lists_who_is_who(app: Any) -> None:
    result = app.test_cli_runner().invoke(args=["seed"])
    assert result.exit_code == 0
    assert "somnus@gridco.example (Manager); trinity@gridco.example (Todo-er)" in result.output


def test_create_app_reads_the_activity_switch_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVITY_LOG", "0")
    assert create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["ACTIVITY_LOG"] is False
