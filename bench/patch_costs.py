"""What Okta's group pushes cost as a group grows: PATCH on groups of 0, 10,000 and 100,000 members.

Run from the project root::

    python -m bench.patch_costs                       # SQLite and PostgreSQL, groups of 0 / 10,000 / 100,000
    python -m bench.patch_costs --db sqlite --sizes 0,1000,10000 --repeat 5

Each scenario is a request Okta sends (interop.md §1.5), sent to the example app through Flask's test
client (no HTTP, no server: the figures are the server's own work, which is what grows with the data):

- ``add one``: ``{"op":"add","path":"members","value":[{"value":id}]}`` of a user not yet in the group;
- ``remove one``: ``{"op":"remove","path":"members[value eq \\"id\\"]"}`` of a member;
- ``rename``: Okta's ``{"op":"replace","value":{"id":...,"displayName":...}}``, sent on every membership update;
- ``1,000 ops``: one PATCH of 1,000 one-member operations (500 adds and 500 removes), on the largest group.

For each: the median time over ``--repeat`` interleaved rounds (each round sends the request once per
group size, so every size meets the same load; min-max beside it), the ratio to the same request on the
smallest group, and the peak of Python memory allocated while the request ran (``tracemalloc``, measured
in a separate request so that tracing does not slow the timed ones), beside an idle request's.

Targets (issue 12): a one-member change on a 100,000-member group within 1.5x of the empty group; the
1,000-operation PATCH under 1 s; memory within 20 MiB of idle.

PostgreSQL comes from ``SCIM_BENCH_POSTGRES_URL`` (default: a database ``scim_patch_bench`` on
127.0.0.1:5432, dropped and re-created on each run).  Seeding uses bulk inserts (SQLAlchemy Core).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
POSTGRES = os.environ.get("SCIM_BENCH_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/scim_patch_bench")


def _prepare_postgres(url: str) -> None:
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    admin.dispose()


class Bench:
    def __init__(self, url: str, sizes: list[int], spare: int) -> None:
        from example_app import create_app
        from example_app.commands import seed_data
        from example_app.models import Group, Org, User, db, group_members

        self.app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
        self.db = db
        with self.app.app_context():
            db.create_all()
            seed_data()
            org_id = db.session.scalar(sa.select(Org.id).filter_by(domain="gridco.example"))
            total = max(sizes) + spare
            tag = uuid.uuid4().hex[:6]
            for start in range(0, total, 20000):
                db.session.execute(sa.insert(User), [
                    {"org_id": org_id, "user_name": f"u{i}.{tag}@bench.example", "first_name": "B",
                     "last_name": str(i), "display_name": f"u{i}", "active": True}
                    for i in range(start, min(total, start + 20000))])
            ids = list(db.session.scalars(sa.select(User.id).where(User.user_name.like(f"%.{tag}@bench.example"))
                                          .order_by(User.id)))
            self.members, self.spare = ids[:max(sizes)], ids[max(sizes):]  # members: the largest group's
            self.groups: dict[int, int] = {}
            for size in sizes:
                group = Group(org_id=org_id, name=f"group of {size}")
                db.session.add(group)
                db.session.flush()
                for start in range(0, size, 20000):
                    db.session.execute(sa.insert(group_members), [
                        {"group_id": group.id, "user_id": u} for u in self.members[start:min(size, start + 20000)]])
                self.groups[size] = group.id
            db.session.commit()
            state = self.app.extensions["scim_entitlements"]
            _id, self.token = state.tokens.issue(db.session.connection(), org_id, "gridco.example")
            db.session.commit()
        self.client = self.app.test_client()
        self._spare = iter(self.spare)

    def patch(self, group_id: int, *operations: dict[str, Any]) -> None:
        response = self.client.patch(f"/scim/v2/Groups/{group_id}", json={"schemas": [PATCH],
                                     "Operations": list(operations)},
                                     headers={"Authorization": f"Bearer {self.token}",
                                              "Content-Type": "application/scim+json"})
        assert response.status_code in (200, 204), response.get_data(as_text=True)[:300]

    def next_spare(self) -> int:
        return next(self._spare)

    # -- scenarios: each returns a callable sending one request (fresh ids each time) -------------
    def add_one(self, size: int) -> Callable[[], None]:
        return lambda: self.patch(self.groups[size], {"op": "add", "path": "members",
                                                      "value": [{"value": str(self.next_spare())}]})

    def remove_one(self, size: int) -> Callable[[], None]:
        def run() -> None:
            uid = self.next_spare()
            self.patch(self.groups[size], {"op": "add", "path": "members", "value": [{"value": str(uid)}]})
            started = time.perf_counter()
            self.patch(self.groups[size], {"op": "remove", "path": f'members[value eq "{uid}"]'})
            self._timed = time.perf_counter() - started
        return run

    def rename(self, size: int) -> Callable[[], None]:
        gid = self.groups[size]
        return lambda: self.patch(gid, {"op": "replace", "value": {"id": str(gid),
                                                                   "displayName": f"renamed {uuid.uuid4().hex[:6]}"}})

    def thousand_ops(self, size: int) -> Callable[[], None]:
        def run() -> None:
            adds = [{"op": "add", "path": "members", "value": [{"value": str(self.next_spare())}]}
                    for _ in range(500)]
            leaving, self.members = self.members[-500:], self.members[:-500]  # the largest group's last members
            removes = [{"op": "remove", "path": f'members[value eq "{u}"]'} for u in leaving]
            self.patch(self.groups[size], *[op for pair in zip(adds, removes, strict=True) for op in pair])
        return run


def _timed(run: Callable[[], None], bench: Bench) -> float:
    bench._timed = None  # type: ignore[attr-defined]
    started = time.perf_counter()
    run()
    elapsed = time.perf_counter() - started
    inner = getattr(bench, "_timed", None)  # remove_one times only its removal, not the add that prepares it
    return inner if inner is not None else elapsed


def _peak(run: Callable[[], None]) -> float:
    """MiB of Python memory allocated at the peak of one request, above what was allocated before it."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak / 2**20


def measure(runs: dict[int, Callable[[], None]], bench: Bench, repeat: int,
            max_seconds: float) -> dict[int, tuple[list[float], float] | None]:
    """Interleaved rounds: each round sends one request per group size, so every size meets the same load."""
    results: dict[int, tuple[list[float], float] | None] = {}
    live = {}
    for size, run in runs.items():
        if _timed(run, bench) > max_seconds:  # the warm-up: compiled statements, caches
            results[size] = None  # too slow to repeat (the code before issue 12): reported as "> max_seconds"
        else:
            live[size] = run
    times: dict[int, list[float]] = {size: [] for size in live}
    order = list(live)
    for round_ in range(repeat if order else 0):
        for size in order[round_ % len(order):] + order[:round_ % len(order)]:  # rotated: no size always first
            times[size].append(_timed(live[size], bench))
    for size, run in live.items():
        results[size] = (times[size], _peak(run))
    return results


def _row(name: str, label: str, size: int | None, measured: tuple[list[float], float] | None, base: float | None,
         max_seconds: float) -> str:
    if measured is None:
        return f"| {name} | {label} | {size:,} | > {max_seconds:.0f} s (not repeated) | – | – |"
    shown = "–" if size is None else f"{size:,}"
    times, peak = measured
    median = statistics.median(times)
    ratio = f"{median / base:.2f}x" if base else "–"
    return (f"| {name} | {label} | {shown} | {median * 1000:.1f} ({min(times) * 1000:.1f}–{max(times) * 1000:.1f})"
            f" | {ratio} | {peak:.2f} |")


def run_db(name: str, url: str, sizes: list[int], repeat: int, max_seconds: float) -> list[str]:
    spare = (repeat + 2) * 4 * len(sizes) + (repeat + 2) * 500 + 100
    print(f"seeding {name}: {max(sizes):,} members + {spare:,} spare users ...", file=sys.stderr, flush=True)
    bench = Bench(url, sizes, spare)
    headers = {"Authorization": f"Bearer {bench.token}"}
    idle = measure({0: lambda: bench.client.get("/scim/v2/ServiceProviderConfig", headers=headers)}, bench,
                   repeat, max_seconds)[0]
    rows = [_row(name, "idle: GET /ServiceProviderConfig", None, idle, None, max_seconds)]
    scenarios = [("add one member", bench.add_one), ("remove one member", bench.remove_one),
                 ("rename (Okta's replace)", bench.rename)]
    for label, make in scenarios:
        results = measure({size: make(size) for size in sizes}, bench, repeat, max_seconds)
        first = results[sizes[0]]
        base = statistics.median(first[0]) if first is not None else None
        for size in sizes:
            rows.append(_row(name, label, size, results[size], base, max_seconds))
            print(rows[-1], file=sys.stderr, flush=True)
    largest = max(sizes)
    results = measure({largest: bench.thousand_ops(largest)}, bench, max(1, repeat // 2), max_seconds)
    rows.append(_row(name, "1,000 one-member ops in one PATCH", largest, results[largest], None, max_seconds))
    print(rows[-1], file=sys.stderr, flush=True)
    with bench.app.app_context():
        bench.db.session.remove()
        bench.db.engine.dispose()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--sizes", default="0,10000,100000", help="group sizes, comma-separated")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="a request slower than this is not repeated (for runs against slow code)")
    args = parser.parse_args(argv)
    sizes = sorted({int(s) for s in args.sizes.split(",")})
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.db in ("sqlite", "both"):
            rows += run_db("SQLite", f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", sizes, args.repeat, args.max_seconds)
        if args.db in ("postgresql", "both"):
            _prepare_postgres(POSTGRES)
            rows += run_db("PostgreSQL", POSTGRES, sizes, args.repeat, args.max_seconds)
    print(f"\nPATCH cost by group size ({args.repeat} requests per cell after a warm-up; "
          f"`python -m bench.patch_costs --db {args.db} --sizes {args.sizes} --repeat {args.repeat}`)\n")
    print("| database | request | group size | median ms (min–max) | vs empty group | Python memory peak MiB |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
