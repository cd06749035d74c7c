"""A small load generator: threads, each with its own keep-alive ``http.client`` connection."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SCIM = "application/scim+json"


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def sql(self) -> int | None:
        value = self.headers.get("x-sql-statements")
        return int(value) if value is not None else None

    @property
    def sql_activity(self) -> int | None:
        value = self.headers.get("x-sql-activity-statements")
        return int(value) if value is not None else None


class Client:
    """One keep-alive connection; reconnects once on a dropped connection."""

    def __init__(self, port: int, token: str | None, timeout: float = 30.0) -> None:
        self.port = port
        self.timeout = timeout
        self.base_headers = {"Accept": SCIM}
        if token:
            self.base_headers["Authorization"] = f"Bearer {token}"
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def request(self, method: str, path: str, body: Any = None, timeout: float | None = None,
                extra_headers: dict[str, str] | None = None) -> Reply:
        headers = {**self.base_headers, **(extra_headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = SCIM
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout or self.timeout)
            elif self.conn.sock is not None:
                self.conn.sock.settimeout(timeout or self.timeout)
            started = time.perf_counter()
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
                continue
            except Exception:
                self.close()
                raise
            seconds = time.perf_counter() - started
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return Reply(response.status, payload, {k.lower(): v for k, v in response.getheaders()}, seconds)
        raise RuntimeError("unreachable")


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


@dataclass
class Stats:
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    sql: list[int] = field(default_factory=list)
    sql_activity: list[int] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # response body bytes
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rps(self) -> float | None:
        return self.requests / self.seconds if self.seconds > 0 and self.requests else None

    @property
    def p50(self) -> float | None:
        return percentile(self.latencies, 50)

    @property
    def p99(self) -> float | None:
        return percentile(self.latencies, 99)

    def add(self, reply: Reply, ok: bool) -> None:
        self.requests += 1
        self.latencies.append(reply.seconds)
        self.sizes.append(len(reply.body))
        if reply.sql is not None:
            self.sql.append(reply.sql)
        if reply.sql_activity is not None:
            self.sql_activity.append(reply.sql_activity)
        if not ok:
            self.errors += 1
            if len(self.error_samples) < 3:
                self.error_samples.append(f"{reply.status} {reply.body[:300]!r}")


#: make(i) -> (method, path, body, expected statuses)
Maker = Callable[[int], tuple[str, str, Any, tuple[int, ...]]]


def run_load(port: int, token: str | None, make: Maker, *, total: int, concurrency: int,
             max_seconds: float, timeout: float = 30.0) -> Stats:
    """Send ``total`` requests (``make(0..total-1)``) from ``concurrency`` threads, stopping at ``max_seconds``."""
    stats = Stats()
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.perf_counter() + max_seconds

    def worker() -> None:
        client = Client(port, token, timeout)
        try:
            while time.perf_counter() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                method, path, body, ok = make(i)
                try:
                    reply = client.request(method, path, body)
                except Exception as exc:  # noqa: BLE001 - count it and go on
                    with lock:
                        stats.requests += 1
                        stats.errors += 1
                        if len(stats.error_samples) < 3:
                            stats.error_samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                with lock:
                    stats.add(reply, reply.status in ok)
        finally:
            client.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(max_seconds + timeout + 5)
    stats.seconds = time.perf_counter() - started
    if stats.requests < total:
        stats.note = f"stopped at the time limit after {stats.requests} of {total} requests"
    return stats
