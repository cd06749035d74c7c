"""Shared pieces of the security and reliability suite.

- :func:`snapshot`: every row of the SCIM-managed tables, to prove a rejected
  request changed nothing.
- :func:`send`: one request checked for the three properties: no 5xx, a 4xx is a SCIM error, and a
  4xx changed nothing; ``world``: ids to aim at.
- :func:`assert_scim_error`: a 4xx/5xx body is an RFC 7644 §3.12 Error whose
  ``status`` is the HTTP status as a string.
- ``fuzz_counter``: a session-scoped count of the cases fuzzed, printed at the
  end of the session (visible with ``-s``).
- ``served``: the example app under gunicorn (several worker processes) on a
  fresh PostgreSQL database built with ``flask_migrate.upgrade()`` and seeded;
  the server is always terminated.  Skips without PostgreSQL, except under
  ``CI=true`` (via the ``postgres_url`` fixture of ``tests/conftest.py``).
- ``raced``: the same app, migrated and seeded, served four ways: on a SQLite
  file in WAL mode (the example app's default) and on PostgreSQL, each by a
  threaded server (what ``flask run`` runs) and by gunicorn (2 workers x 4 threads).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from example_app import create_app
from example_app.commands import seed_data
from example_app.models import db

from ..conftest import Scim, issue_token, logging_preserved, new_user

ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SCIM = "application/scim+json"
TENANT = "gridco.example"
SECRET = "security-suite-secret"
#: The tables whose rows SCIM requests create, change and delete.
TABLES = ("users", "user_emails", "groups", "group_members", "user_roles", "user_characteristics")
REPO = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).with_name("gunicorn")


def snapshot(app: Any) -> dict[str, list[str]]:
    """Every row of :data:`TABLES`, as sorted reprs (rows with NULLs sort too)."""
    with app.app_context(), db.engine.connect() as conn:
        return {t: sorted(repr(tuple(row)) for row in conn.execute(sa.text(f"SELECT * FROM {t}"))) for t in TABLES}


def assert_scim_error(status: int, body: bytes, context: str = "") -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise AssertionError(f"{status} body is not JSON: {body[:300]!r}\n{context}") from None
    assert isinstance(payload, dict), f"{status} body is not an object: {payload!r}\n{context}"
    assert ERROR_URN in (payload.get("schemas") or []), f"{status} body lacks the Error URN: {payload}\n{context}"
    assert payload.get("status") == str(status), f"Error status {payload.get('status')!r} != {status}\n{context}"
    return payload


# --- one fuzzed request and its three properties -----------------------------------------------------

def backend(app: Any) -> str:
    return str(app.config["SQLALCHEMY_DATABASE_URI"]).split(":", 1)[0].split("+", 1)[0]


def send(app: Any, scim: Scim, counter: Counter[str], kind: str, method: str, path: str, body: Any = None,
         raw: bytes | None = None, query: dict[str, Any] | None = None,
         headers: dict[str, str] | None = None) -> Any:
    """Send one fuzzed request and check the three properties; return the response."""
    before = snapshot(app)
    kw: dict[str, Any] = {}
    if query is not None:
        kw["query_string"] = query
    if headers:
        kw["headers"] = headers
    if method in ("post", "put", "patch"):
        h = scim.headers(kw.pop("headers", None))
        h["Content-Type"] = "application/scim+json"
        data = raw if raw is not None else json.dumps(body)
        response = getattr(scim.client, method)(scim.prefix + path, data=data, headers=h, **kw)
    else:
        response = getattr(scim, method)(path, **kw)
    counter[f"{kind} [{backend(app)}]"] += 1
    counter[f"status:{response.status_code}"] += 1
    shown = raw[:500] if raw is not None else json.dumps(body)[:1500]
    context = f"{method.upper()} {path} query={query!r}\nbody={shown}\n-> {response.status_code} " \
              f"{response.get_data()[:600]!r}"
    assert response.status_code < 500, f"5xx from the server\n{context}"
    if 400 <= response.status_code < 500:
        assert_scim_error(response.status_code, response.get_data(), context)
        after = snapshot(app)
        changed = {t: (sorted(set(before[t]) - set(after[t]))[:5], sorted(set(after[t]) - set(before[t]))[:5])
                   for t in before if before[t] != after[t]}
        assert not changed, f"a {response.status_code} changed the database: {changed}\n{context}"
    return response


@pytest.fixture
def world(app: Any, scim: Scim) -> dict[str, Any]:
    """Ids to aim at: the seeded users, a group with a member, the roles and the characteristic."""
    users = scim.get("/Users").get_json()["Resources"]
    alice = new_user(scim, "alice@gridco.example", externalId="ext-alice",
                     roles=[{"value": "1"}], entitlements=[{"value": "1", "type": "Characteristic"}])
    user_ids = [u["id"] for u in users] + [alice["id"]]
    group = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "Engineers",
                                  "members": [{"value": user_ids[0]}]})
    assert group.status_code == 201, group.get_json()
    roles = [r["id"] for r in scim.get("/Roles").get_json()["Resources"]]
    chars = [c["id"] for c in scim.get("/Characteristics").get_json()["Resources"]]
    return {"users": user_ids, "group": group.get_json()["id"], "roles": roles, "characteristics": chars}


# --- the fuzz counter --------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def fuzz_counter() -> Iterator[Counter[str]]:
    counter: Counter[str] = Counter()
    yield counter
    if counter:
        total = sum(v for k, v in counter.items() if not k.startswith("status:"))
        lines = [f"  {k}: {v}" for k, v in sorted(counter.items()) if not k.startswith("status:")]
        statuses = ", ".join(f"{k[7:]}={v}" for k, v in sorted(counter.items()) if k.startswith("status:"))
        print("\n==== security fuzz summary ====")
        print("\n".join(lines))
        print(f"  responses by status: {statuses}")
        print(f"  TOTAL cases fuzzed: {total}")


# --- HTTP over a real socket ------------------------------------------------------------------------

@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


def http_request(host: str, port: int, method: str, path: str, body: Any = None, token: str | None = None,
                 headers: dict[str, str] | None = None, timeout: float = 30.0) -> Reply:
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        h = {"Accept": SCIM}
        if token:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            h["Content-Type"] = SCIM
        h.update(headers or {})
        conn.request(method, path, body=data, headers=h)
        resp = conn.getresponse()
        payload = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload)
    finally:
        conn.close()


# --- a PostgreSQL database of its own, migrated ------------------------------------------------------

@contextlib.contextmanager
def migrated_postgres(server_url: str) -> Iterator[tuple[str, Any]]:
    """A fresh database on the session's PostgreSQL server, ``flask db upgrade``-d and seeded: (url, app)."""
    name = f"scim_security_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    try:
        with _migrated(url) as app:
            yield url, app
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def _migrated(url: str) -> Iterator[Any]:
    """The example app on ``url``, built by ``flask_migrate.upgrade()`` (the deployment path) and seeded."""
    import flask_migrate

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET})
    try:
        with app.app_context(), logging_preserved(), warnings.catch_warnings():
            # Two known deprecation warnings of the migration environment (see tests/example_app/test_migrations.py).
            warnings.simplefilter("ignore", DeprecationWarning)
            flask_migrate.upgrade()
        with app.app_context():
            seed_data()
            db.session.remove()
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- gunicorn ---------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            out.append(int(entry))
    return sorted(out)


@dataclass
class Served:
    """The example app under gunicorn (or, with ``proc`` None, a threaded server) on 127.0.0.1, with a token."""

    app: Any
    database_url: str
    admin_url: str
    proc: subprocess.Popen[bytes] | None
    port: int
    token: str
    log: Path | None
    workers: int
    host: str = "127.0.0.1"
    prefix: str = "/scim/v2"
    kills: list[int] = field(default_factory=list)

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
                timeout: float = 30.0) -> Reply:
        return http_request(self.host, self.port, method, self.prefix + path, body, self.token, headers, timeout)

    @property
    def in_process(self) -> bool:
        """A threaded server in the test's own process: its signals reach the test's subscribers."""
        return self.proc is None

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        return _children(self.proc.pid)

    def wait_ready(self, timeout: float = 30.0, workers: int | None = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.log is not None
            assert self.proc.poll() is None, f"gunicorn exited: {self.log.read_text()[-3000:]}"
            try:
                ok = self.request("GET", "/ServiceProviderConfig", timeout=5).status == 200
            except OSError:
                ok = False
            if ok and len(self.worker_pids()) >= (workers or self.workers):
                return
            time.sleep(0.1)
        raise AssertionError(f"gunicorn not ready after {timeout}s: {self.log.read_text()[-3000:]}")

    def sql(self, text: str, **params: Any) -> list[Any]:
        engine = sa.create_engine(self.database_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                result = conn.execute(sa.text(text), params)
                return list(result) if result.returns_rows else []
        finally:
            engine.dispose()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def gunicorn(database_url: str, app: Any, admin_url: str, log: Path, workers: int = 3,
             threads: int = 4, config: dict[str, Any] | None = None) -> Iterator[Served]:
    token = issue_token(app, TENANT)
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": SECRET, "REQUEST_LOG_LEVEL": "WARNING"}
    port = _free_port()
    cmd = [str(GUNICORN), "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
           "--bind", f"127.0.0.1:{port}", "--timeout", "120", "--graceful-timeout", "3",
           "--log-level", "info", f"example_app:create_app({config or {}!r})"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    served = Served(app, database_url, admin_url, proc, port, token, log, workers)
    try:
        served.wait_ready()
        text = log.read_text()
        match = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        assert match and int(match.group(1)) == port, text[-2000:]
        yield served
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the server's own process group, started above
                proc.wait(timeout=10)


@contextlib.contextmanager
def migrated_sqlite(directory: Path) -> Iterator[tuple[str, Any]]:
    """A SQLite file (WAL mode, as the example app sets it up), ``flask db upgrade``-d and seeded: (url, app)."""
    url = f"sqlite:///{directory / 'served.sqlite3'}"
    with _migrated(url) as app:
        yield url, app


@contextlib.contextmanager
def threaded_server(database_url: str, app: Any) -> Iterator[Served]:
    """The app served as ``flask run`` serves it: werkzeug's threaded server, one thread per request."""
    from werkzeug.serving import make_server

    token = issue_token(app, TENANT)
    served_app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": SECRET})
    server = make_server("127.0.0.1", 0, served_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(served_app, database_url, "", None, server.port, token, None, 1)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with served_app.app_context():
            db.session.remove()
            db.engine.dispose()


def _serve(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    backend, kind = str(request.param).split("-")
    directory = tmp_path_factory.mktemp("raced")
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            url, app = stack.enter_context(migrated_sqlite(directory))
        else:
            url, app = stack.enter_context(migrated_postgres(request.getfixturevalue("postgres_url")))
        if kind == "threaded":
            yield stack.enter_context(threaded_server(url, app))
        else:
            yield stack.enter_context(gunicorn(url, app, "", directory / "gunicorn.log", workers=2, threads=4))


@pytest.fixture(scope="module", params=["sqlite-threaded", "sqlite-gunicorn", "postgresql-threaded",
                                        "postgresql-gunicorn"])
def raced(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The example app on SQLite and on PostgreSQL, under a threaded server and under gunicorn (2 x 4)."""
    yield from _serve(request, tmp_path_factory)


@pytest.fixture(scope="module", params=["sqlite-threaded", "postgresql-threaded"])
def raced_in_process(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The threaded servers alone: they run in the test's process, so a test can count the signals they send."""
    yield from _serve(request, tmp_path_factory)


@pytest.fixture(scope="module")
def served(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The example app under gunicorn (3 workers x 4 threads) on a migrated, seeded PostgreSQL database."""
    if not GUNICORN.exists():
        pytest.fail(f"gunicorn is required for this suite: {GUNICORN} missing (pip install gunicorn)")
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with migrated_postgres(postgres_url) as (url, app), gunicorn(url, app, postgres_url, log) as server:
        yield server
