"""Run the peer SCIM servers, from their own virtualenv, on the same population, through the same scenarios."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..population import patch_group_ids, patch_runs, patch_sizes
from ..report import Row
from ..scenarios import OPERATIONS, Profile, Stats, Target, run_operation
from ..server import ROOT, Server

NO_ROLES = "no /Roles or entitlement-type endpoints (Okta Identity Governance) to take them from"


def _peer_python(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    return str(python) if python.exists() and (venv / "bin" / "gunicorn").exists() else None


def _unavailable(rows: list[Row], peer: str, db: str, reason: str) -> None:
    for op, _label in OPERATIONS:
        stats = Stats(note=f"n/a: {reason}")
        stats.extra["unsupported"] = True
        rows.append(Row(op, peer, db, stats))


def _drive(peer: str, db: str, target: Target, profile: Profile, rows: list[Row], log: Callable[..., Any],
           progress: Callable[..., Any]) -> None:
    for op, label in OPERATIONS:
        log(f"{peer}/{db}: {label}")
        try:
            stats = run_operation(op, target, profile)
        except Exception as exc:  # noqa: BLE001 - a peer failing an operation is a result, not a crash
            stats = Stats(note=f"failed: {type(exc).__name__}: {exc}"[:300])
            stats.requests = stats.errors = 1
        if stats is not None:
            rows.append(Row(op, peer, db, stats))
            progress(stats)


def run_peers(wanted: list[str], args: Any, profile: Profile, workdir: Path, rows: list[Row], dbs: list[str], *,
              log: Callable[..., Any], progress: Callable[..., Any]) -> list[tuple[str, str]]:
    from ..__main__ import PEERS_VENV, THREADS, WORKERS

    python = _peer_python(PEERS_VENV)
    done: list[tuple[str, str]] = []
    token = secrets.token_urlsafe(24)
    env = {"BENCH_USERS": str(args.users), "BENCH_GROUPS": str(args.groups), "BENCH_TOKEN": token,
           "PYTHONPATH": str(ROOT)}
    if "scim2-server" in wanted:
        done.append(("scim2-server", "memory"))
        if python is None:
            _unavailable(rows, "scim2-server", "memory", f"not installed in {PEERS_VENV}")
        else:
            try:
                # In-memory storage is per process: one worker, threads share it.
                with Server("scim2-server", "bench.peers.scim2_server_app:application", python_bin=python, env=env,
                            log_dir=workdir, workers=1, threads=THREADS, ready_path="/v2/ServiceProviderConfig",
                            ready_timeout=600) as server:
                    groups = {size: [f"p{size}-{run}" for run in range(patch_runs(size))]
                              for size in patch_sizes(args.users)}
                    target = Target(name="scim2-server", port=server.port, token=token, prefix="/v2",
                                    users=args.users, user_id=str, patch_groups=groups, server=server,
                                    unsupported={"put_roles": NO_ROLES})
                    _drive("scim2-server", "memory", target, profile, rows, log, progress)
            except Exception as exc:  # noqa: BLE001
                log(f"scim2-server FAILED: {exc}")
                _unavailable(rows, "scim2-server", "memory", f"could not run: {type(exc).__name__}")
    if "django-scim2" in wanted:
        db = "sqlite"
        done.append(("django-scim2", db))
        if python is None:
            _unavailable(rows, "django-scim2", db, f"not installed in {PEERS_VENV}")
        else:
            django_db = workdir / "django-scim2.sqlite3"
            denv = {**env, "BENCH_DJANGO_DB": str(django_db)}
            try:
                log(f"django-scim2: seeding {args.users:,} users")
                subprocess.run([python, "-m", "bench.peers.django_project.seed", str(args.users), str(args.groups)],
                               cwd=ROOT, env={**__import__("os").environ, **denv}, check=True, timeout=600)
                with Server("django-scim2", "bench.peers.django_project.wsgi:application", python_bin=python,
                            env=denv, log_dir=workdir, workers=WORKERS, threads=THREADS,
                            ready_path="/scim/v2/ServiceProviderConfig") as server:
                    groups = {k: [str(g) for g in v] for k, v in patch_group_ids(args.users, args.groups).items()}
                    target = Target(name="django-scim2", port=server.port, token=token, prefix="/scim/v2",
                                    users=args.users, user_id=str, patch_groups=groups, server=server,
                                    unsupported={"put_roles": NO_ROLES})
                    _drive("django-scim2", db, target, profile, rows, log, progress)
            except Exception as exc:  # noqa: BLE001
                log(f"django-scim2 FAILED: {exc}")
                _unavailable(rows, "django-scim2", db, f"could not run: {type(exc).__name__}")
    return done
