"""The operations, as an identity provider (Okta) sends them, run against one server (a Target)."""

from __future__ import annotations

import random
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .client import Client, Stats, run_load
from .population import user_name

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEACTIVATE = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "value": {"active": False}}]}


@dataclass
class Profile:
    """How hard each operation is driven."""

    concurrency: int = 4
    reads: int = 3000          # requests per read operation
    read_seconds: float = 15.0
    writes: int = 400          # requests per write operation
    write_seconds: float = 15.0
    import_seconds: float = 120.0   # time limit of the full import
    last_page_requests: int = 30
    timeout: float = 60.0
    patch_timeout: float = 180.0


@dataclass
class Target:
    """One running server and what the benchmark knows of its population."""

    name: str
    port: int
    token: str | None
    prefix: str
    users: int
    user_id: Callable[[int], str]            # id of seeded user i (1-based)
    patch_groups: dict[int, list[str]] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)
    server: Any = None

    def path(self, tail: str) -> str:
        return self.prefix + tail


OPERATIONS: list[tuple[str, str]] = [
    ("lookup", 'GET /Users?filter=userName eq "…" (Okta lookup)'),
    ("get", "GET /Users/{id}"),
    ("import", "Full import: every page of count=100, sequential"),
    ("last_page", "Last page alone (count=100), sequential"),
    ("post", "POST /Users"),
    ("deactivate", "PATCH active=false"),
    ("put_roles", "PUT with roles and entitlements"),
    ("group_patch_1000", "Group PATCH add 1,000 members"),
    ("group_patch_10000", "Group PATCH add 10,000 members"),
    ("group_patch_100000", "Group PATCH add 100,000 members"),
    ("groups_list", "GET /Groups?excludedAttributes=members"),
]


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def run_operation(op: str, target: Target, profile: Profile, seed: int = 1) -> Stats | None:
    """Run one operation; None when it does not apply to this population."""
    if op in target.unsupported:
        stats = Stats(note=f"n/a: {target.unsupported[op]}")
        stats.extra["unsupported"] = True
        return stats
    if target.server is not None:
        target.server.take_peak()
    rng = random.Random(seed)
    n = target.users
    p = profile
    stats: Stats | None
    if op == "lookup":
        picks = [rng.randint(1, n) for _ in range(p.reads)]

        def make(i: int) -> Any:
            flt = _quote(f'userName eq "{user_name(picks[i])}"')
            return "GET", target.path(f"/Users?filter={flt}"), None, (200,)

        stats = run_load(target.port, target.token, make, total=p.reads, concurrency=p.concurrency,
                         max_seconds=p.read_seconds, timeout=p.timeout)
        _check_found(target, picks[0], stats)
    elif op == "get":
        picks = [rng.randint(1, n) for _ in range(p.reads)]
        stats = run_load(target.port, target.token,
                         lambda i: ("GET", target.path(f"/Users/{target.user_id(picks[i])}"), None, (200,)),
                         total=p.reads, concurrency=p.concurrency, max_seconds=p.read_seconds, timeout=p.timeout)
    elif op == "import":
        stats = full_import(target, p)
    elif op == "last_page":
        start = max(1, ((n - 1) // 100) * 100 + 1)
        stats = run_load(target.port, target.token,
                         lambda i: ("GET", target.path(f"/Users?startIndex={start}&count=100"), None, (200,)),
                         total=p.last_page_requests, concurrency=1, max_seconds=p.read_seconds,
                         timeout=p.timeout)
        stats.extra["startIndex"] = start
    elif op == "post":
        run = f"{int(time.time()):x}{seed}"

        def make_post(i: int) -> Any:
            name = f"new-{run}-{i}@bench.example"
            body = {"schemas": [USER_URN], "userName": name, "name": {"givenName": "New", "familyName": f"User{i}"},
                    "emails": [{"primary": True, "value": name, "type": "work"}], "active": True,
                    "externalId": f"okta-new-{run}-{i}"}
            return "POST", target.path("/Users"), body, (201,)

        stats = run_load(target.port, target.token, make_post, total=p.writes, concurrency=p.concurrency,
                         max_seconds=p.write_seconds, timeout=p.timeout)
    elif op == "deactivate":
        # distinct users from the top of the population
        stats = run_load(target.port, target.token,
                         lambda i: ("PATCH", target.path(f"/Users/{target.user_id(n - i)}"), DEACTIVATE, (200, 204)),
                         total=min(p.writes, n // 4), concurrency=p.concurrency, max_seconds=p.write_seconds,
                         timeout=p.timeout)
    elif op == "put_roles":
        stats = put_roles(target, p)
    elif op.startswith("group_patch_"):
        size = int(op.rsplit("_", 1)[1])
        if size > n or size not in target.patch_groups:
            return None
        stats = group_patch(target, p, size)
    elif op == "groups_list":
        stats = run_load(target.port, target.token,
                         lambda i: ("GET", target.path("/Groups?excludedAttributes=members"), None, (200,)),
                         total=p.reads // 3, concurrency=p.concurrency, max_seconds=p.read_seconds, timeout=p.timeout)
    else:
        raise ValueError(op)
    if target.server is not None and stats is not None:
        stats.extra["rss_kib"] = target.server.take_peak()
    return stats


def _check_found(target: Target, i: int, stats: Stats) -> None:
    """The lookup must find the user (a server answering an empty list fast would be a fake number)."""
    client = Client(target.port, target.token)
    try:
        reply = client.request("GET", target.path("/Users?filter=" + _quote(f'userName eq "{user_name(i)}"')))
        body = reply.json() or {}
        if reply.status != 200 or body.get("totalResults") != 1:
            stats.note = (stats.note + "; " if stats.note else "") + \
                f"WARNING: lookup of a seeded user answered {reply.status} totalResults={body.get('totalResults')}"
    finally:
        client.close()


def full_import(target: Target, p: Profile) -> Stats:
    """Okta's import: GET every page of 100 in turn, one at a time, until the last."""
    stats = Stats()
    client = Client(target.port, target.token, p.timeout)
    started = time.perf_counter()
    deadline = started + p.import_seconds
    start, total, pages = 1, None, 0
    first = last = None
    try:
        while time.perf_counter() < deadline:
            try:
                reply = client.request("GET", target.path(f"/Users?startIndex={start}&count=100"))
            except Exception as exc:  # noqa: BLE001
                stats.requests += 1
                stats.errors += 1
                stats.error_samples.append(f"{type(exc).__name__}: {exc}")
                break
            ok = reply.status == 200
            stats.add(reply, ok)
            if not ok:
                break
            body = reply.json()
            got = len(body.get("Resources") or [])
            total = body.get("totalResults", total)
            pages += 1
            if first is None:
                first = reply
            last = reply
            if got == 0 or start + got > (total or 0):
                break
            start += got
        else:
            of = -(-(total or 0) // 100)
            stats.note = f"stopped at the {p.import_seconds:.0f} s limit after {pages} pages of {of}"
    finally:
        client.close()
    stats.seconds = time.perf_counter() - started
    stats.extra["pages"] = pages
    if first is not None and last is not None:
        stats.extra["first_ms"] = first.seconds * 1000
        stats.extra["last_ms"] = last.seconds * 1000
        stats.extra["first_sql"] = first.sql
        stats.extra["last_sql"] = last.sql
        stats.extra["complete"] = not stats.note and not stats.errors
    return stats


def put_roles(target: Target, p: Profile) -> Stats:
    setup = Client(target.port, target.token, p.timeout)
    try:
        roles = setup.request("GET", target.path("/Roles")).json()
        chars = setup.request("GET", target.path("/Characteristics")).json()
    finally:
        setup.close()
    role_ids = [r["id"] for r in roles["Resources"]]
    char_ids = [c["id"] for c in chars["Resources"]]
    n = target.users
    base = n // 2

    def make(i: int) -> Any:
        k = base - i
        name = user_name(k)
        body = {"schemas": [USER_URN], "id": target.user_id(k), "userName": name,
                "name": {"givenName": f"First{k}", "familyName": f"Last{k}"},
                "displayName": f"First{k} Last{k}", "externalId": f"okta-{k:08d}",
                "emails": [{"primary": True, "value": name, "type": "work"}], "active": True,
                "roles": [{"value": role_ids[i % len(role_ids)]}, {"value": role_ids[(i + 1) % len(role_ids)]}],
                "entitlements": [{"value": char_ids[i % len(char_ids)], "type": "Characteristic"}]}
        return "PUT", target.path(f"/Users/{target.user_id(k)}"), body, (200,)

    return run_load(target.port, target.token, make, total=min(p.writes, n // 4), concurrency=p.concurrency,
                    max_seconds=p.write_seconds, timeout=p.timeout)


def group_patch(target: Target, p: Profile, size: int) -> Stats:
    """One PATCH per empty seeded group, adding users 1..size in a single operation; sequential."""
    stats = Stats()
    members = [{"value": target.user_id(i)} for i in range(1, size + 1)]
    body = {"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": members}]}
    client = Client(target.port, target.token, p.patch_timeout)
    started = time.perf_counter()
    try:
        for gid in target.patch_groups[size]:
            try:
                reply = client.request("PATCH", target.path(f"/Groups/{gid}"), body, timeout=p.patch_timeout)
            except Exception as exc:  # noqa: BLE001
                stats.requests += 1
                stats.errors += 1
                stats.error_samples.append(f"{type(exc).__name__}: {exc}")
                break
            stats.add(reply, reply.status in (200, 204))
            if time.perf_counter() - started > p.patch_timeout:
                stats.note = "stopped at the time limit"
                break
    finally:
        client.close()
    stats.seconds = time.perf_counter() - started
    return stats
