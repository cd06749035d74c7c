"""Peak worker memory for the largest requests the default limits allow (issue 16); must stay under 256 MiB.

    python -m bench.limits [--db sqlite|postgresql] [--users 20000]

Seeds one tenant of the example app (``--users`` users with an email and a role; groups of
``SCIM_MAX_MEMBERS_PER_RESPONSE`` members each), then, for each request below, starts a fresh
gunicorn worker (one process, one thread), sends the request once and reads the worker's peak
resident memory (``VmHWM`` in ``/proc/<pid>/status``, the kernel's high-water mark, so no peak is
missed between samples).  Prints a markdown table; exits 1 if a peak reaches the budget.

The requests, each at a default limit: a list of groups whose members fill the per-response member
budget; a page of ``SCIM_MAX_PAGE_SIZE`` users with every attribute; a ``.search`` body of
``SCIM_MAX_BODY_BYTES`` (repeated attribute names); a PATCH of ``SCIM_MAX_PATCH_VALUES`` members;
a POST of ``SCIM_MAX_BODY_BYTES`` of empty objects (the costliest JSON per byte once parsed).
The PostgreSQL database (``SCIM_BENCH_LIMITS_POSTGRES_URL``, default ``.../scim_bench_limits``)
is dropped and re-created.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
BUDGET_MIB = 256
SCIM = "application/scim+json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker_pids(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry))
    return out


def _peak_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def _request(port: int, method: str, path: str, body: bytes | None, token: str) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    headers = {"Authorization": f"Bearer {token}", "Accept": SCIM}
    if body is not None:
        headers["Content-Type"] = SCIM
    conn.request(method, "/scim/v2" + path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, len(data)


def _seed(url: str, users: int, group_size: int) -> tuple[str, list[int]]:
    from example_app import create_app
    from example_app.commands import seed_data
    from example_app.models import Org, db, group_members, user_roles

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-limits"})
    with app.app_context():
        db.drop_all()
        db.create_all()
        seed_data()
        org = db.session.scalar(sa.select(Org).filter_by(domain="gridco.example"))
        now = sa.func.now()
        users_t, emails_t, groups_t = (db.metadata.tables[t] for t in ("users", "user_emails", "groups"))
        db.session.execute(users_t.insert(), [
            {"org_id": org.id, "user_name": f"u{i}@gridco.example", "first_name": "Bench", "last_name": str(i),
             "display_name": f"Bench User {i}", "active": True, "external_id": f"ext-{i}"} for i in range(users)])
        ids = list(db.session.scalars(sa.select(users_t.c.id).where(users_t.c.user_name.like("u%@gridco.example"))))
        db.session.execute(emails_t.insert(), [{"user_id": u, "value": f"user{u}@gridco.example", "type": "work",
                                                "primary": True} for u in ids])
        db.session.execute(user_roles.insert(), [{"user_id": u, "role_id": 1} for u in ids])
        group_ids = []
        for g in range(3):
            result = db.session.execute(groups_t.insert().values(org_id=org.id, name=f"Big {g}", created_at=now,
                                                                 updated_at=now))
            group_ids.append(int(result.inserted_primary_key[0]))
            db.session.execute(group_members.insert(), [{"group_id": group_ids[-1], "user_id": u}
                                                        for u in ids[:group_size]])
        empty = db.session.execute(groups_t.insert().values(org_id=org.id, name="Empty", created_at=now,
                                                            updated_at=now))
        db.session.commit()
        state = app.extensions["scim_entitlements"]
        _id, token = state.tokens.issue(db.session.connection(), org.id, "bench")
        db.session.commit()
        db.engine.dispose()
    return token, [int(empty.inserted_primary_key[0]), *ids]


def _scenarios(config: Any, empty_group: int, user_ids: list[int]) -> list[tuple[str, str, str, bytes | None]]:
    max_body = config.max_body_bytes
    head = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "count": 1000, "attributes": ['
    name = b'"userName",'
    search = head + name * ((max_body - len(head) - 20) // len(name)) + b'"emails"]}'
    junk_head = b'{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "junk@x.test", "nosuch": ['
    item = b'{},'  # the costliest shape per byte once parsed: an empty dict for every 3 bytes
    junk = junk_head + item * ((max_body - len(junk_head) - 10) // len(item)) + b'{}]}'
    members = [{"value": str(u)} for u in user_ids[:config.max_patch_values]]
    patch = json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": "add", "path": "members", "value": members}]}).encode()
    return [
        ("idle worker (first request: GET /ServiceProviderConfig)", "GET", "/ServiceProviderConfig", None),
        (f"GET /Groups?count={config.max_page_size} (member budget {config.max_members_per_response})", "GET",
         f"/Groups?count={config.max_page_size}", None),
        (f"GET /Users?count={config.max_page_size}, every attribute", "GET",
         f"/Users?count={config.max_page_size}", None),
        (f"POST /Users/.search, {len(search) / 2**20:.0f} MiB of attribute names", "POST", "/Users/.search", search),
        (f"PATCH /Groups adding {len(members)} members", "PATCH", f"/Groups/{empty_group}", patch),
        (f"POST /Users, {len(junk) / 2**20:.0f} MiB of empty objects", "POST", "/Users", junk),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--users", type=int, default=20000)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from flask_scim_entitlements.config import DEFAULTS, ScimConfig

    config = ScimConfig.from_mapping({**DEFAULTS, "SECRET_KEY": "x"})
    workdir = Path(tempfile.mkdtemp(prefix="scim-bench-limits-"))
    if args.db == "sqlite":
        url = f"sqlite:///{workdir / 'limits.sqlite3'}"
    else:
        url = os.environ.get("SCIM_BENCH_LIMITS_POSTGRES_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/scim_bench_limits")
        admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            name = sa.make_url(url).database
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    token, ids = _seed(url, args.users, config.max_members_per_response)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    rows, worst = [], 0
    for title, method, path, body in _scenarios(config, ids[0], ids[1:]):
        port = _free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-limits", "REQUEST_LOG_LEVEL": "WARNING"}
        log = open(workdir / "gunicorn.log", "ab")  # noqa: SIM115 - closed below
        proc = subprocess.Popen([gunicorn, "--workers", "1", "--threads", "1", "--bind", f"127.0.0.1:{port}",
                                 "--timeout", "600", "example_app:create_app()"], cwd=REPO, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError((workdir / "gunicorn.log").read_text()[-2000:]) from None
                    time.sleep(0.2)
            (worker,) = _worker_pids(proc.pid)
            started = time.perf_counter()
            status, size = _request(port, method, path, body, token)
            seconds = time.perf_counter() - started
            peak = _peak_kib(worker) / 1024
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            log.close()
        worst = max(worst, peak)
        rows.append(f"| {title} | {len(body or b'') / 2**20:.1f} | {status} | {size / 2**20:.2f} | "
                    f"{seconds:.2f} | {peak:.0f} |")
    print(f"Peak worker memory (VmHWM), example app under gunicorn (1 worker, 1 thread), {args.db}, "
          f"{args.users} users; budget {BUDGET_MIB} MiB\n")
    print("| request | body MiB | status | response MiB | seconds | peak worker MiB |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nlargest peak: {worst:.0f} MiB ({'within' if worst < BUDGET_MIB else 'OVER'} the {BUDGET_MIB} MiB budget)")
    return 0 if worst < BUDGET_MIB else 1


if __name__ == "__main__":
    raise SystemExit(main())
