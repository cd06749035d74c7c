"""``python -m bench``: seed, serve every server at once, drive interleaved rounds, report.  See bench/README.md."""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from .report import Cell, Memory, markdown
from .scenarios import OPERATIONS, QUICK, Profile, Target, fetch, read_largest_group, run_cell
from .server import ROOT, Server

POSTGRES_URL = os.environ.get("SCIM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/scim_bench")
PEERS_VENV = Path(os.environ.get("SCIM_BENCH_PEERS_VENV", "/tmp/bench-peers"))
WORKERS = 2
THREADS = 4
OURS, OURS_LOG, FLOOR = "ours", "example app", "floor-eq"
#: The whole example app's row (web UI session handling, activity log): the small requests, where it shows.
LOG_OPS = ("lookup", "get", "post")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=None, help="users seeded (default 100000; --quick 5000)")
    parser.add_argument("--groups", type=int, default=None, help="regular groups seeded (default 1000; --quick 100)")
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="5,000 users, short cells: a few minutes")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--peers", choices=["all", "none", "scim2-server", "django-scim2"], default="all",
                        help=f"peer servers to run (from the virtualenv {PEERS_VENV})")
    parser.add_argument("--ops", default=None,
                        help="comma-separated operations (default all): " + ", ".join(op for op, _ in OPERATIONS))
    parser.add_argument("--out", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args(argv)
    if args.users is None:
        args.users = 5_000 if args.quick else 100_000
    if args.groups is None:
        args.groups = 100 if args.quick else 1_000
    return args


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _serve(stack: ExitStack, name: str, app: str, env: dict[str, str], workdir: Path, python: str = sys.executable,
           ready: str = "/scim/v2/ServiceProviderConfig", timeout: float = 300) -> Server:
    return stack.enter_context(Server(name, app, python_bin=python, env={"PYTHONPATH": str(ROOT), **env},
                                      log_dir=workdir, workers=WORKERS, threads=THREADS, ready_path=ready,
                                      ready_timeout=timeout))


def start_ours(stack: ExitStack, db: str, args: argparse.Namespace, workdir: Path) -> list[Target]:
    from .seed import seed

    url = f"sqlite:///{workdir / 'scim_bench.sqlite3'}" if db == "sqlite" else POSTGRES_URL
    secret = secrets.token_urlsafe(24)
    log(f"{db}: seeding {args.users:,} users, {args.groups:,} groups")
    pop = seed(url, args.users, args.groups, secret)
    log(f"{db}: seeded in {pop.seconds:.1f} s")
    env = {"DATABASE_URL": url, "SECRET_KEY": secret, "SCIM_BENCH_COUNT_SQL": "1", "REQUEST_LOG_LEVEL": "WARNING"}
    targets = []
    for name, app, extra, ops in ((OURS, "bench.wsgi:application", {}, None),
                                  (FLOOR, "bench.floor:application", {}, None),
                                  (OURS_LOG, "bench.wsgi:application", {"SCIM_BENCH_ACTIVITY": "1"}, LOG_OPS)):
        server = _serve(stack, f"{name}-{db}".replace(" ", "").replace("+", "-"), app, {**env, **extra}, workdir)
        targets.append(Target(name=name, db=db, port=server.port, token=pop.token, prefix="/scim/v2",
                              users=args.users, large_groups=pop.large_groups, server=server, ops=ops))
    return targets


def check_documents(ours: Target, floor: Target) -> list[str]:
    """floor-eq must serve the same bytes as ours, or its ratios mean nothing."""
    notes = []
    gid = ours.large_groups["10k"][0]
    for path in ("/Users/10", '/Users?filter=userName%20eq%20%22user000010%40bench.example%22',
                 "/Users?startIndex=1&count=100", f"/Groups/{gid}"):
        # The same Host header for both: URLs (and so a user's version, which covers its links) follow it.
        a, b = fetch(ours, path, host="scim.bench.example"), fetch(floor, path, host="scim.bench.example")
        body_a, body_b = a.body, b.body
        same = a.status == b.status == 200 and body_a == body_b and a.headers.get("etag") == b.headers.get("etag")
        if not same:
            at = next((i for i, (x, y) in enumerate(zip(body_a, body_b, strict=False)) if x != y),
                      min(len(body_a), len(body_b)))
            notes.append(f"DIFFERENT {path}: {a.status}/{b.status}, first difference at byte {at}: "
                         f"{body_a[max(0, at - 40):at + 40]!r} vs {body_b[max(0, at - 40):at + 40]!r}")
        else:
            notes.append(f"identical: GET {path} ({len(body_a):,} bytes)")
    return notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = QUICK if args.quick else Profile()
    if args.rounds:
        profile.rounds = args.rounds
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    known = [op for op, _label in OPERATIONS]
    chosen = known if args.ops is None else [op.strip() for op in args.ops.split(",") if op.strip()]
    unknown = [op for op in chosen if op not in known]
    if unknown:
        raise SystemExit(f"unknown operation(s) {', '.join(unknown)}; known: {', '.join(known)}")
    operations = [(op, label) for op, label in OPERATIONS if op in chosen]
    workdir = Path(tempfile.mkdtemp(prefix="scim_bench_"))
    cells: list[Cell] = []
    memory: list[Memory] = []
    checks: dict[str, list[str]] = {}
    started = time.perf_counter()
    loads = [os.getloadavg()[0]]
    log(f"work directory (logs, SQLite files): {workdir}")
    wanted = {"all": ["scim2-server", "django-scim2"], "none": []}.get(args.peers, [args.peers])
    try:
        with ExitStack() as peers_stack:
            peers: list[Target] = []
            if wanted:
                from .peers.run import start_peers

                peers = start_peers(peers_stack, wanted, args, workdir, log=log)
            for db in dbs:
                with ExitStack() as stack:
                    ours_targets = start_ours(stack, db, args, workdir)
                    checks[db] = check_documents(ours_targets[0], ours_targets[1])
                    for note in checks[db]:
                        log(f"{db}: {note}")
                    targets = ours_targets + peers
                    log(f"{db}: warm-up (every operation on every server)")
                    for target in targets:
                        for op, _label in operations:
                            if target.does(op):
                                run_cell(op, target, profile, -1, db=db, warmup=True)
                    for r in range(profile.rounds):
                        for k, (op, _label) in enumerate(operations):
                            shift = (r + k) % len(targets)
                            for target in targets[shift:] + targets[:shift]:  # server order rotates
                                if not target.does(op):
                                    continue
                                loads.append(os.getloadavg()[0])
                                stats = run_cell(op, target, profile, r, db=db)
                                cells.append(Cell(db, target.name, target.db, op, r, stats))
                                log(f"{db} round {r + 1}/{profile.rounds} {op:<10} {target.name:<20} "
                                    f"{stats.rps or 0:8.1f} req/s  p50 {(stats.p50 or 0) * 1000:7.1f} ms"
                                    f"{'  ERRORS ' + str(stats.errors) if stats.errors else ''}")
                    for target in targets if "group_10k" in chosen else []:  # (--ops without it: no memory row)
                        if target.name == OURS_LOG:
                            continue
                        stats = read_largest_group(target, profile)
                        memory.append(Memory(db, target.name, target.db, stats))
                        log(f"{db}: largest group on {target.name}: peak worker RSS "
                            f"{stats.extra['peak_worker_kib'] / 1024:.0f} MiB, {(stats.p50 or 0):.2f} s")
    finally:
        meta = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
            "population": f"{args.users:,} users (1 email, 1–2 roles, every 5th a characteristic, every other in "
                          f"one of {args.groups:,} groups), a 10,000-member group and a group of every user; one org",
            "rounds": f"{profile.rounds} interleaved rounds (every server, every operation, server order rotated); "
                      f"per cell up to {max(profile.requests.values())} requests or {profile.seconds:.0f} s, "
                      f"{profile.concurrency} client threads with keep-alive connections; one warm-up cell first",
            "servers": f"gunicorn gthread, {WORKERS} workers x {THREADS} threads each, loopback, all up at once",
            "machine": f"{os.cpu_count()} cores shared with other work (1-minute load average during the "
                       f"rounds: median {statistics.median(loads):.1f}, {min(loads):.1f}–{max(loads):.1f}), "
                       f"Python {platform.python_version()}, {platform.system()}",
            "run time": f"{time.perf_counter() - started:,.0f} s",
        }
        text = markdown(cells, memory, checks, meta, dbs)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(text)
        log(f"wrote {args.out}")
        if os.environ.get("SCIM_BENCH_KEEP_WORKDIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
