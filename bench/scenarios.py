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


@dataclass
class Profile:
    """How hard each operation is driven, per server and round."""

    rounds: int = 3
    concurrency: int = 4
    #: requests per cell (one operation on one server in one round), and its time limit: about two seconds of
    #: each operation for ours and floor-eq (a cell of 40 group reads, under a second, swung by a third)
    requests: dict[str, int] = field(default_factory=lambda: {
        "lookup": 800, "get": 800, "post": 300, "page_start": 200, "page_deep": 200, "group_10k": 100})
    seconds: float = 10.0
    timeout: float = 180.0
    memory_reads: int = 2  # sequential reads of the largest group, for the memory row


QUICK = Profile(rounds=3, requests={"lookup": 200, "get": 200, "post": 100, "page_start": 30, "page_deep": 30,
                                   "group_10k": 10}, seconds=5.0, memory_reads=2)


@dataclass
class Target:
    """One running server and what the benchmark knows of its population."""

    name: str
    db: str
    port: int
    token: str | None
    prefix: str
    users: int
    large_groups: dict[str, tuple[int, int]]
    user_id: Callable[[int], str] = str  # id of seeded user i (1-based)
    group_id: Callable[[int], str] = str  # id of seeded group n
    server: Any = None
    ops: tuple[str, ...] | None = None  # None: every operation
    posted: int = 0

    def path(self, tail: str) -> str:
        return self.prefix + tail

    def does(self, op: str) -> bool:
        return self.ops is None or op in self.ops


OPERATIONS: list[tuple[str, str]] = [
    ("lookup", 'lookup `GET /Users?filter=userName eq "…"`'),
    ("get", "GET /Users/{id}"),
    ("post", "POST /Users"),
    ("page_start", "page of 100, first (`startIndex=1&count=100`)"),
    ("page_deep", "page of 100, last (`startIndex=N-99&count=100`)"),
    ("group_10k", "GET a 10,000-member group"),
]
LABELS = dict(OPERATIONS)


def _quote(value: str) -> str:
    return urllib.parse.quote(value, safe="")


def request_maker(op: str, target: Target, count: int, seed: int, tag: str) -> Callable[[int], Any]:
    """make(i) -> (method, path, body, expected statuses) for request i of a cell."""
    rng = random.Random(seed)
    n = target.users
    if op == "lookup":
        picks = [rng.randint(1, n) for _ in range(count)]
        return lambda i: ("GET", target.path("/Users?filter=" + _quote(f'userName eq "{user_name(picks[i])}"')),
                          None, (200,))
    if op == "get":
        picks = [rng.randint(1, n) for _ in range(count)]
        return lambda i: ("GET", target.path(f"/Users/{target.user_id(picks[i])}"), None, (200,))
    if op == "post":
        def make_post(i: int) -> Any:
            name = f"new-{tag}-{i}@bench.example"
            body = {"schemas": [USER_URN], "userName": name, "name": {"givenName": "New", "familyName": f"User{i}"},
                    "emails": [{"primary": True, "value": name, "type": "work"}], "active": True,
                    "externalId": f"okta-new-{tag}-{i}"}
            return "POST", target.path("/Users"), body, (201,)
        return make_post
    if op == "page_start":
        return lambda i: ("GET", target.path("/Users?startIndex=1&count=100"), None, (200,))
    if op == "page_deep":
        start = max(1, n - 99)
        return lambda i: ("GET", target.path(f"/Users?startIndex={start}&count=100"), None, (200,))
    if op == "group_10k":
        gid = target.group_id(target.large_groups["10k"][0])
        return lambda i: ("GET", target.path(f"/Groups/{gid}"), None, (200,))
    raise ValueError(op)


#: Distinguishes this run's POSTed user names from any earlier run's.
RUN = f"{int(time.time()):x}"


def run_cell(op: str, target: Target, profile: Profile, round_no: int, *, db: str, warmup: bool = False) -> Stats:
    """One cell: ``op`` on ``target`` in round ``round_no`` of the ``db`` pass (peers serve every pass)."""
    count = profile.requests[op] if not warmup else max(8, profile.concurrency * 2)
    tag = f"{RUN}-{target.name}-{db}-{round_no}{'w' if warmup else ''}".replace(" ", "").replace("+", "")
    make = request_maker(op, target, count, seed=round_no * 7919 + len(op), tag=tag)
    # Warm-up opens twice the connections, so that every worker of every server sees each operation.
    concurrency = profile.concurrency * 2 if warmup else profile.concurrency
    return run_load(target.port, target.token, make, total=count, concurrency=concurrency,
                    max_seconds=profile.timeout if warmup else profile.seconds, timeout=profile.timeout)


def read_largest_group(target: Target, profile: Profile) -> Stats:
    """GET the group of every user, sequentially, while the server samples its workers' memory."""
    stats = Stats()
    gid, size = target.large_groups["all"]
    stats.extra["members"] = f"{size:,}"
    client = Client(target.port, target.token, profile.timeout)
    stats.extra["before_worker_kib"] = target.server.reset_worker_peaks()
    try:
        for _ in range(profile.memory_reads):
            reply = client.request("GET", target.path(f"/Groups/{target.group_id(gid)}"))
            stats.add(reply, reply.status == 200)
    finally:
        client.close()
    stats.extra["peak_worker_kib"] = target.server.take_worker_peak()
    return stats


def fetch(target: Target, path: str, host: str | None = None) -> Any:
    client = Client(target.port, target.token, 120)
    try:
        return client.request("GET", target.path(path), extra_headers={"Host": host} if host else None)
    finally:
        client.close()
