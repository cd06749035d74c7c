"""The interop suite's server and its closing table.

Each test module gets the example app served by werkzeug on a real port
(``127.0.0.1:<ephemeral>``, threaded) in a background thread, once per backend:
SQLite in a temp file, and PostgreSQL in a database of its own created on the
server of the session ``postgres_url`` fixture.  Without PostgreSQL the
PostgreSQL cases skip with the reason, except under ``CI=true`` where
``postgres_url`` fails them.

The closing "Interop conformance" table is printed by the root ``tests/conftest.py`` (which the
process that reports, pytest-xdist's controller included, always loads).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import WSGIRequestHandler, make_server

from example_app import create_app
from example_app.commands import seed_data
from example_app.models import db

from ..conftest import issue_token
from .wire import ENTRA, OKTA_CLIENT, ScimHttp

HERE = Path(__file__).resolve().parent
TENANT = "gridco.example"


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class LiveServer:
    """The example app on a real port, with a bearer token for the seeded tenant."""

    app: Any
    backend: str
    host: str
    port: int
    token: str
    prefix: str = "/scim/v2"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}{self.prefix}"

    def client(self, headers: dict[str, str], authorization: str | None = None) -> ScimHttp:
        auth = f"Bearer {self.token}" if authorization is None else authorization
        return ScimHttp(self.host, self.port, self.prefix, auth, headers)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The example app, seeded, served over HTTP on 127.0.0.1 for the whole module."""
    database_url = _database(request)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "interop-secret"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_data()
    token = issue_token(app, TENANT)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"interop-{request.param}", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, request.param, "127.0.0.1", server.server_port, token)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


def _database(request: pytest.FixtureRequest) -> str:
    # Resolved through the indirect fixture so the PostgreSQL skip/fail rule of tests/conftest.py applies.
    return request.getfixturevalue(f"interop_database_{request.param}")


@pytest.fixture(scope="module")
def interop_database_sqlite(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('interop') / 'interop.sqlite3'}"


@pytest.fixture(scope="module")
def interop_database_postgresql(postgres_url: str) -> Iterator[str]:
    name = f"scim_interop_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def okta(live: LiveServer) -> ScimHttp:
    """Okta's provisioning client: ``Authorization: Bearer <token>`` and its captured headers (§1.1)."""
    return live.client(OKTA_CLIENT)


@pytest.fixture(scope="module")
def entra(live: LiveServer) -> ScimHttp:
    """Entra's provisioning client: long-lived bearer token, application/scim+json (§5)."""
    return live.client(ENTRA)
