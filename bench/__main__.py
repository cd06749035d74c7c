"""``python -m bench``: seed, serve, drive, compare, report.  See bench/README.md."""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from .report import Row, markdown
from .scenarios import OPERATIONS, Profile, Target, run_operation
from .server import ROOT, Server

POSTGRES_URL = os.environ.get("SCIM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/scim_bench")
PEERS_VENV = Path(os.environ.get("SCIM_BENCH_PEERS_VENV", "/tmp/bench-peers"))
WORKERS = 2
NOLOG = "ours, no activity log"
THREADS = 4


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=None, help="users seeded (default 100000)")
    parser.add_argument("--groups", type=int, default=None, help="groups seeded (default 1000)")
    parser.add_argument("--quick", action="store_true", help="5,000 users and 100 groups, shorter runs")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--peers", choices=["all", "none", "scim2-server", "django-scim2"], default="all",
                        help=f"peer servers to run (from the virtualenv {PEERS_VENV})")
    parser.add_argument("--out", type=Path, default=Path("bench/RESULTS.md"))
    args = parser.parse_args(argv)
    if args.users is None:
        args.users = 5_000 if args.quick else 100_000
    if args.groups is None:
        args.groups = 100 if args.quick else 1_000
    return args


def profile_for(args: argparse.Namespace) -> Profile:
    if args.quick:
        return Profile(reads=1000, read_seconds=10, writes=200, write_seconds=10, import_seconds=60,
                       last_page_requests=50)
    return Profile()


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def database_url(db: str, workdir: Path) -> str:
    return f"sqlite:///{workdir / 'scim_bench.sqlite3'}" if db == "sqlite" else POSTGRES_URL


def run_ours(db: str, args: argparse.Namespace, profile: Profile, workdir: Path, rows: list[Row]) -> None:
    from .seed import seed

    url = database_url(db, workdir)
    secret = secrets.token_urlsafe(24)
    log(f"{db}: seeding {args.users:,} users, {args.groups:,} groups")
    pop = seed(url, args.users, args.groups, secret)
    log(f"{db}: seeded in {pop.seconds:.1f} s")
    env = {"DATABASE_URL": url, "SECRET_KEY": secret, "SCIM_BENCH_COUNT_SQL": "1",
           "REQUEST_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    with Server(f"ours-{db}", "bench.wsgi:application", python_bin=sys.executable, env=env, log_dir=workdir,
                workers=WORKERS, threads=THREADS, ready_path="/scim/v2/ServiceProviderConfig") as server:
        target = Target(name="ours", port=server.port, token=pop.token, prefix="/scim/v2", users=args.users,
                        user_id=str, patch_groups={k: [str(g) for g in v] for k, v in pop.patch_groups.items()},
                        server=server)
        for op, label in OPERATIONS:
            log(f"ours/{db}: {label}")
            stats = run_operation(op, target, profile)
            if stats is not None:
                rows.append(Row(op, "ours", db, stats))
                _progress(stats)
    env = {"DATABASE_URL": url, "BENCH_ORG_ID": str(pop.org_id), "BENCH_TOKEN": pop.token,
           "SCIM_BENCH_COUNT_SQL": "1", "PYTHONPATH": str(ROOT)}
    with Server(f"floor-{db}", "bench.floor:application", python_bin=sys.executable, env=env, log_dir=workdir,
                workers=WORKERS, threads=THREADS, ready_path="/scim/v2/Users") as server:
        target = Target(name="floor", port=server.port, token=pop.token, prefix="/scim/v2", users=args.users,
                        user_id=str, server=server)
        log(f"floor/{db}: lookup")
        stats = run_operation("lookup", target, profile)
        assert stats is not None
        rows.append(Row("lookup", "floor", db, stats))
        _progress(stats)
    # Diagnostic: the same app without the example app's activity log (see bench/README.md).
    env = {"DATABASE_URL": url, "SECRET_KEY": secret, "SCIM_BENCH_COUNT_SQL": "1", "SCIM_BENCH_NO_ACTIVITY": "1",
           "REQUEST_LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    with Server(f"ours-nolog-{db}", "bench.wsgi:application", python_bin=sys.executable, env=env, log_dir=workdir,
                workers=WORKERS, threads=THREADS, ready_path="/scim/v2/ServiceProviderConfig") as server:
        target = Target(name="ours", port=server.port, token=pop.token, prefix="/scim/v2", users=args.users,
                        user_id=str, server=server)
        for op in ("lookup", "get"):
            log(f"ours without activity log/{db}: {op}")
            stats = run_operation(op, target, profile)
            assert stats is not None
            rows.append(Row(op, NOLOG, db, stats))
            _progress(stats)


def _progress(stats: object) -> None:
    s = stats  # type: ignore[assignment]
    log(f"   {s.requests} req, {s.errors} errors, "  # type: ignore[attr-defined]
        f"{(s.rps or 0):.1f} req/s, p50 {((s.p50 or 0) * 1000):.1f} ms, "  # type: ignore[attr-defined]
        f"p99 {((s.p99 or 0) * 1000):.1f} ms {s.note}")  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = profile_for(args)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    workdir = Path(tempfile.mkdtemp(prefix="scim_bench_"))
    rows: list[Row] = []
    peers_run: list[tuple[str, str]] = []
    started = time.perf_counter()
    log(f"work directory (logs, SQLite files): {workdir}")
    try:
        for db in dbs:
            try:
                run_ours(db, args, profile, workdir, rows)
            except Exception as exc:  # noqa: BLE001 - report what ran
                log(f"{db}: FAILED: {type(exc).__name__}: {exc}")
        if args.peers != "all" and args.peers != "none":
            wanted = [args.peers]
        else:
            wanted = [] if args.peers == "none" else ["scim2-server", "django-scim2"]
        if wanted:
            from .peers.run import run_peers

            peers_run = run_peers(wanted, args, profile, workdir, rows, dbs, log=log, progress=_progress)
    finally:
        meta = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
            "population": f"{args.users:,} users (1 email, 1–2 roles, every 5th a characteristic), "
                          f"{args.groups:,} groups (every other user a member), one org",
            "machine": f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}",
            "servers": f"gunicorn gthread, {WORKERS} workers x {THREADS} threads, loopback; "
                       f"clients: {profile.concurrency} threads with keep-alive http.client connections",
            "run time": f"{time.perf_counter() - started:,.0f} s",
        }
        text = markdown(rows, meta, dbs, peers_run)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(text)
        log(f"wrote {args.out}")
        if os.environ.get("SCIM_BENCH_KEEP_WORKDIR") != "1":
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
