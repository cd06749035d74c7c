"""Fixtures: the example app as the host, on SQLite and on PostgreSQL.

Every test that takes ``app`` (or ``client``, ``token``...) runs once per
backend.  PostgreSQL comes from ``SCIM_TEST_POSTGRES_URL`` (default: the local
server at 127.0.0.1:5432); each test session gets a database of its own,
created and dropped here.  Without PostgreSQL those tests skip with the reason,
except under ``CI=true``, where a missing PostgreSQL is a failure.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from example_app import create_app
from example_app.commands import seed_data
from example_app.models import db

POSTGRES_ADMIN_URL = os.environ.get("SCIM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"

SCIM = "application/scim+json"


def _postgres_available() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        return f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    reason = _postgres_available()
    if reason is not None:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL: {reason}")
        pytest.skip(reason)
    name = f"scim_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A URL to a database with no tables at all (a fresh one on the test session's PostgreSQL server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
        return
    server = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"scim_migrate_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextlib.contextmanager
def fresh_tables(app: Any, database: Any) -> Iterator[None]:
    """``database``'s tables created (anew) for ``app``, and dropped after."""
    with app.app_context():
        database.drop_all()
        database.create_all()
    try:
        yield
    finally:
        with app.app_context():
            database.session.remove()
            database.drop_all()
            database.engine.dispose()


@contextlib.contextmanager
def example_app(database_url: str, **config: Any) -> Iterator[Any]:
    """The example app on ``database_url`` with ``config``, tables created and seeded, dropped after."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret",
                      **config})
    with fresh_tables(app, db):
        with app.app_context():
            seed_data()
        yield app


@pytest.fixture
def app(database_url: str) -> Iterator[Any]:
    with example_app(database_url) as app:
        yield app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def issue_token(app: Any, tenant_key: str) -> str:
    """A token for ``tenant_key`` on any host app (its tenant_loader, if any, resolves the key)."""
    from flask_scim_entitlements import current_scim

    with app.app_context():
        return str(current_scim.issue_token(tenant_key).value)


@pytest.fixture
def token(app: Any) -> str:
    return issue_token(app, "gridco.example")


@contextlib.contextmanager
def logging_preserved() -> Iterator[None]:
    """Migrations run alembic's logging.fileConfig(), which replaces the root handlers (and, by default,
    disables existing loggers): put logging back as it was for the tests that follow."""
    loggers = [lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)]
    disabled = {lg: lg.disabled for lg in loggers}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        for lg, was in disabled.items():
            lg.disabled = was
        root.handlers[:] = handlers
        root.setLevel(level)


@contextlib.contextmanager
def hosted(host_db: Any, extension: Any, database_url: str) -> Iterator[Any]:
    """A minimal host app (its own models, its own extension object) on ``database_url``, tables created."""
    from flask import Flask

    host = Flask(__name__)
    host.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="k", TESTING=True)
    host_db.init_app(host)
    extension.init_app(host)
    with fresh_tables(host, host_db):
        yield host


class Scim:
    """A small SCIM client over Flask's test client, sending what Okta sends."""

    def __init__(self, client: Any, token: str, prefix: str = "/scim/v2") -> None:
        self.client = client
        self.token = token
        self.prefix = prefix

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.token}", "Accept": SCIM}
        headers.update(extra or {})
        return headers

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(self.prefix + path, headers=self.headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(self.prefix + path, headers=self.headers(kw.pop("headers", None)), **kw)

    def _send(self, method: str, path: str, body: Any, content_type: str = SCIM + "; charset=utf-8",
              **kw: Any) -> Any:
        import json

        headers = self.headers(kw.pop("headers", None))
        headers["Content-Type"] = content_type
        return getattr(self.client, method)(self.prefix + path, data=json.dumps(body), headers=headers, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Any:
        return self._send("post", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Any:
        return self._send("put", path, body, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Any:
        return self._send("patch", path, body, **kw)


@pytest.fixture
def scim(client: Any, token: str) -> Scim:
    return Scim(client, token)


def new_user(scim: Scim, user_name: str = "Barbara.Jensen@example.com", **extra: Any) -> dict[str, Any]:
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "active": True,
        **extra,
    }
    response = scim.post("/Users", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


# --- the interop suite's closing table (tests/interop) -----------------------------------------------
# Per part (test module), the checks (test cases, each backend counted) passed, failed and skipped.
# Here, not in tests/interop/conftest.py: the process that reports (pytest-xdist's controller, which
# collects nothing) loads only this file.

INTEROP = Path(__file__).resolve().parent / "interop"
_OUTCOMES: dict[str, dict[str, str]] = {}


def _is_interop(nodeid: str, rootpath: Path) -> bool:
    return (rootpath / nodeid.split("::", 1)[0]).resolve().parent == INTEROP


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    module, _, _ = report.nodeid.partition("::")
    cases = _OUTCOMES.setdefault(module, {})
    previous = cases.get(report.nodeid)
    if report.failed:
        cases[report.nodeid] = "failed"
    elif report.skipped and previous != "failed":
        cases[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and previous is None:
        cases[report.nodeid] = "passed"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    rows = [(module, cases) for module, cases in sorted(_OUTCOMES.items())
            if cases and _is_interop(module, config.rootpath)]
    if not rows:
        return
    write = terminalreporter.write_line
    terminalreporter.write_sep("=", "Interop conformance")
    write("| part | passed | failed | skipped |")
    write("|---|---|---|---|")
    totals = [0, 0, 0]
    for module, cases in rows:
        counts = [sum(1 for outcome in cases.values() if outcome == kind) for kind in ("passed", "failed", "skipped")]
        totals = [t + c for t, c in zip(totals, counts, strict=True)]
        write(f"| {Path(module).stem} | {counts[0]} | {counts[1]} | {counts[2]} |")
    write(f"| **total** | {totals[0]} | {totals[1]} | {totals[2]} |")
