"""Injected faults, on PostgreSQL: lost database connections and a worker killed mid-request.

- ``pg_terminate_backend`` on every backend of the app's database, between two requests, with the app's
  connection pool kept: the request that meets the dead connection is a 503 SCIM error (Retry-After) or,
  if the pool notices first, a normal answer; the request after it is answered normally; a write that
  met the dead connection left nothing behind.  In-process (Flask test client) and under gunicorn.
- SIGKILL of the gunicorn worker serving a large group PATCH (a displayName change and thousands of
  members in one request): the PATCH is applied whole or not at all, and the server keeps serving.  Once
  deterministically (the PATCH is held mid-transaction by a table lock while the worker is killed) and
  at several delays after the request was sent.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import sqlalchemy as sa

from ..conftest import Scim
from .conftest import GROUP_URN, PATCH_URN, USER_URN, Served, assert_scim_error

pytestmark = pytest.mark.postgres

BULK = 3000
INJECTED: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _figures() -> Any:
    yield
    if INJECTED:
        print("\n==== faults injected ====")
        for key, value in sorted(INJECTED.items()):
            print(f"  {key}: {value}")


def _terminate_backends(admin_url: str, database: str) -> int:
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return len(list(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :d AND pid <> pg_backend_pid()"), {"d": database})))
    finally:
        admin.dispose()


# --- a dropped connection, in process --------------------------------------------------------------

@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_dropped_database_connection_is_a_503_scim_error_and_the_next_request_recovers(
        app: Any, scim: Scim, database_url: str) -> None:
    from example_app.models import db

    database = sa.make_url(database_url).database
    assert scim.get("/Users").status_code == 200  # the pool now holds a live connection
    with app.app_context():
        assert db.engine.pool.checkedin() >= 1
    killed = _terminate_backends(database_url, database)
    INJECTED["pg_terminate_backend (in-process, read)"] += killed
    assert killed >= 1
    response = scim.get("/Users")
    INJECTED[f"  in-process read after the drop answered {response.status_code}"] += 1
    if response.status_code != 200:
        assert response.status_code == 503, (response.status_code, response.get_data()[:300])
        assert_scim_error(503, response.get_data())
        assert response.headers.get("Retry-After")
    again = scim.get("/Users")
    assert again.status_code == 200, (again.status_code, again.get_data()[:300])

    # A write that meets a dead connection leaves no row behind; its retry succeeds.
    killed = _terminate_backends(database_url, database)
    INJECTED["pg_terminate_backend (in-process, write)"] += killed
    body = {"schemas": [USER_URN], "userName": "after.drop@gridco.example"}
    first = scim.post("/Users", body)
    INJECTED[f"  in-process write after the drop answered {first.status_code}"] += 1
    assert first.status_code in (201, 503), (first.status_code, first.get_data()[:300])
    if first.status_code == 503:
        assert_scim_error(503, first.get_data())
        with app.app_context(), db.engine.connect() as conn:
            assert conn.scalar(sa.text("SELECT count(*) FROM users WHERE user_name = :n"),
                               {"n": "after.drop@gridco.example"}) == 0
        retry = scim.post("/Users", body)
        assert retry.status_code == 201, (retry.status_code, retry.get_data()[:300])


def test_dropped_connections_under_gunicorn_give_at_most_one_503_per_worker_then_recover(served: Served) -> None:
    """Each worker process meets the dead connections once: at most one 503 per worker per drop (the pool
    is invalidated on the first disconnect it sees), every other request is answered normally."""
    database = sa.make_url(served.database_url).database

    def answered(count: int, statuses: list[int]) -> None:
        for _ in range(count):
            reply = served.request("GET", "/Users?count=1")
            statuses.append(reply.status)
            INJECTED[f"  gunicorn request after the drop answered {reply.status}"] += 1
            assert reply.status in (200, 503), (reply.status, reply.body[:300], statuses)
            if reply.status == 503:
                assert_scim_error(503, reply.body)
                assert reply.headers.get("retry-after"), reply.headers

    for _ in range(8):  # warm every worker's pool
        assert served.request("GET", "/Users?count=1").status == 200
    for _ in range(3):
        killed = _terminate_backends(served.admin_url, database)
        INJECTED["pg_terminate_backend (gunicorn)"] += killed
        statuses: list[int] = []
        # 20 requests, then 8 more that warm the pools for the next drop: a worker the balancer did not
        # pick among the 20 meets its dead connection in those 8, and that 503 still belongs to this drop.
        answered(28, statuses)
        assert statuses.count(503) <= served.workers and statuses[-1] == 200, statuses


# --- a worker killed mid-PATCH ---------------------------------------------------------------------

def _worker_serving(served: Served, client_port: int) -> int | None:
    """The gunicorn worker holding the accepted end of our HTTP connection (via /proc/net/tcp)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as fh:
                lines = fh.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote = parts[1], parts[2]
            if int(local.rsplit(":", 1)[1], 16) == served.port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                inodes.add(parts[9])
    for pid in served.worker_pids():
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return pid
    return None


class Bulk:
    """A group of two members and BULK more users; the PATCH renames it and adds them all."""

    def __init__(self, served: Served) -> None:
        self.served = served
        tag = uuid.uuid4().hex[:8]
        self.tag = tag
        org = served.sql("SELECT id FROM orgs WHERE domain = 'gridco.example'")[0][0]
        served.sql("INSERT INTO users (org_id, user_name, active, created_at, updated_at) "
                   "SELECT :o, 'bulk' || g || '.' || :t || '@gridco.example', true, now(), now() "
                   "FROM generate_series(1, :n) g", o=org, t=tag, n=BULK)
        self.users = [str(r[0]) for r in served.sql(
            "SELECT id FROM users WHERE user_name LIKE :p ORDER BY id", p=f"bulk%.{tag}@gridco.example")]
        founders = [str(r[0]) for r in served.sql(
            "SELECT id FROM users WHERE user_name IN ('somnus@gridco.example', 'trinity@gridco.example')")]
        reply = served.request("POST", "/Groups", {"schemas": [GROUP_URN], "displayName": f"Bulk {tag}",
                                                   "members": [{"value": u} for u in founders]})
        assert reply.status == 201, reply.body[:300]
        self.gid = int(reply.json()["id"])
        self.before = (f"Bulk {tag}", frozenset(founders))
        self.after = (f"Bulk {tag} renamed", frozenset(founders) | frozenset(self.users))
        self.body = json.dumps({"schemas": [PATCH_URN], "Operations": [
            {"op": "replace", "path": "displayName", "value": self.after[0]},
            {"op": "add", "path": "members", "value": [{"value": u} for u in self.users]}]}).encode()

    def state(self) -> tuple[str, frozenset[str]]:
        name = self.served.sql("SELECT name FROM groups WHERE id = :g", g=self.gid)[0][0]
        members = frozenset(str(r[0]) for r in self.served.sql(
            "SELECT user_id FROM group_members WHERE group_id = :g", g=self.gid))
        return name, members

    def reset(self) -> None:
        self.served.sql("DELETE FROM group_members WHERE group_id = :g AND user_id IN "
                        "(SELECT id FROM users WHERE user_name LIKE :p)", g=self.gid,
                        p=f"bulk%.{self.tag}@gridco.example")
        self.served.sql("UPDATE groups SET name = :n WHERE id = :g", n=self.before[0], g=self.gid)
        assert self.state() == self.before

    def send(self) -> tuple[http.client.HTTPConnection, threading.Thread, dict[str, Any]]:
        conn = http.client.HTTPConnection(self.served.host, self.served.port, timeout=60)
        conn.connect()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                conn.request("PATCH", f"{self.served.prefix}/Groups/{self.gid}", body=self.body, headers={
                    "Authorization": f"Bearer {self.served.token}", "Content-Type": "application/scim+json"})
                resp = conn.getresponse()
                outcome["status"] = resp.status
                resp.read()
            except (OSError, http.client.HTTPException) as exc:
                outcome["error"] = type(exc).__name__

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return conn, thread, outcome


def _wait_no_open_transactions(served: Served, timeout: float = 30.0) -> None:
    """Until no backend of the app's database is inside a transaction (the killed worker's is rolled back)."""
    database = sa.make_url(served.database_url).database
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = served.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND pid <> pg_backend_pid() "
                          "AND xact_start IS NOT NULL", d=database)
        if rows[0][0] == 0:
            return
        time.sleep(0.1)
    raise AssertionError("a transaction of the app's database stayed open")


def _kill(served: Served, conn: http.client.HTTPConnection) -> int:
    pid = _worker_serving(served, conn.sock.getsockname()[1])
    assert pid is not None, "could not find the worker serving the request"
    os.kill(pid, signal.SIGKILL)  # one worker of our own gunicorn, by its pid
    served.kills.append(pid)
    return pid


def _serving_again(served: Served, gid: int) -> None:
    """The server answers again.  A worker that has not served since an earlier test dropped every database
    connection still holds a dead one, and meets it once: a 503 (see the drop test above); so each worker
    may answer one 503 before the 200."""
    served.wait_ready(timeout=30)
    statuses = []
    for _ in range(served.workers + 1):
        reply = served.request("GET", f"/Groups/{gid}?attributes=displayName")
        statuses.append(reply.status)
        if reply.status == 200:
            break
        assert reply.status == 503, (reply.status, reply.body[:300])
        assert_scim_error(503, reply.body)
    assert statuses[-1] == 200 and statuses.count(503) <= served.workers, statuses


def test_a_worker_killed_mid_transaction_leaves_the_group_patch_unapplied_and_the_server_serving(
        served: Served) -> None:
    bulk = Bulk(served)
    database = sa.make_url(served.database_url).database
    engine = sa.create_engine(served.database_url)
    try:
        with engine.connect() as blocker:
            # Writers to group_members wait; readers do not: the PATCH stops inside its transaction.
            blocker.execute(sa.text("LOCK TABLE group_members IN EXCLUSIVE MODE"))
            conn, thread, outcome = bulk.send()
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                waiting = served.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = :d "
                                     "AND wait_event_type = 'Lock'", d=database)[0][0]
                if waiting:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError(f"the PATCH never reached its write: {outcome}")
            _kill(served, conn)
            INJECTED["SIGKILL worker (PATCH held mid-transaction)"] += 1
            thread.join(timeout=30)
            blocker.rollback()
        conn.close()
    finally:
        engine.dispose()
    assert "status" not in outcome, f"the killed worker answered: {outcome}"
    _wait_no_open_transactions(served)
    assert bulk.state() == bulk.before, "a killed request left part of its PATCH behind"
    _serving_again(served, bulk.gid)
    # The same PATCH, sent again, applies whole.
    reply = served.request("PATCH", f"/Groups/{bulk.gid}?attributes=displayName",
                           json.loads(bulk.body), timeout=120)
    assert reply.status in (200, 204), (reply.status, reply.body[:300])
    assert bulk.state() == bulk.after


@pytest.mark.parametrize("delay", [0.02, 0.1, 0.25, 0.5, 1.0])
def test_a_worker_killed_at_any_moment_of_a_large_group_patch_leaves_it_whole_or_absent(
        served: Served, delay: float) -> None:
    bulk = Bulk(served)
    started = time.monotonic()
    conn, thread, outcome = bulk.send()
    time.sleep(delay)
    _kill(served, conn)
    INJECTED["SIGKILL worker (PATCH in flight, timed)"] += 1
    thread.join(timeout=60)
    conn.close()
    _wait_no_open_transactions(served)
    state = bulk.state()
    assert state in (bulk.before, bulk.after), (
        f"partial PATCH after a kill at {delay}s: name {state[0]!r}, {len(state[1])} members "
        f"(before: {len(bulk.before[1])}, after: {len(bulk.after[1])}); client saw {outcome}")
    if outcome.get("status") in (200, 204):
        assert state == bulk.after, "a 200 was answered for a PATCH that is not stored"
    INJECTED[f"  timed kill outcome: {'applied' if state == bulk.after else 'not applied'}"] += 1
    _serving_again(served, bulk.gid)
    assert time.monotonic() - started < 90
