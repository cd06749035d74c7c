"""Start the peer SCIM servers from their own virtualenv, on the same population, set up as their users would.

- scim2-server (python-scim's reference server): in memory, the same gunicorn workers and threads as
  every server (each worker seeds its own copy); warmed up like every server before the first round
  (its first filtered search builds an equality index).
- django-scim2: a minimal Django project on PostgreSQL with persistent connections and the index
  its ``userName eq`` lookup needs (``UPPER(username)``).
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from ..population import large_groups
from ..scenarios import Target
from ..server import ROOT, Server


def _peer_python(venv: Path) -> str | None:
    python = venv / "bin" / "python"
    return str(python) if python.exists() and (venv / "bin" / "gunicorn").exists() else None


def start_peers(stack: ExitStack, wanted: list[str], args: Any, workdir: Path, *,
                log: Callable[..., Any]) -> list[Target]:
    from ..__main__ import PEERS_VENV, THREADS, WORKERS

    python = _peer_python(PEERS_VENV)
    if python is None:
        log(f"peers: not installed in {PEERS_VENV} (see bench/README.md); running without them")
        return []
    token = secrets.token_urlsafe(24)
    env = {"BENCH_USERS": str(args.users), "BENCH_GROUPS": str(args.groups), "BENCH_TOKEN": token,
           "PYTHONPATH": str(ROOT)}
    large = large_groups(args.users, args.groups)
    targets = []
    if "scim2-server" in wanted:
        log("scim2-server: starting (each worker seeds its own copy in memory)")
        server = stack.enter_context(Server(
            "scim2-server", "bench.peers.scim2_server_app:application", python_bin=python, env=env,
            log_dir=workdir, workers=WORKERS, threads=THREADS, ready_path="/v2/ServiceProviderConfig",
            ready_timeout=1200))
        targets.append(Target(name="scim2-server", db="memory", port=server.port, token=token, prefix="/v2",
                              users=args.users, large_groups=large, group_id=lambda g: f"g{g}", server=server))
    if "django-scim2" in wanted:
        log(f"django-scim2: seeding {args.users:,} users on PostgreSQL")
        subprocess.run([python, "-m", "bench.peers.django_project.seed", str(args.users), str(args.groups)],
                       cwd=ROOT, env={**os.environ, **env}, check=True, timeout=1800)
        server = stack.enter_context(Server(
            "django-scim2", "bench.peers.django_project.wsgi:application", python_bin=python, env=env,
            log_dir=workdir, workers=WORKERS, threads=THREADS, ready_path="/scim/v2/ServiceProviderConfig"))
        targets.append(Target(name="django-scim2", db="postgresql", port=server.port, token=token,
                              prefix="/scim/v2", users=args.users, large_groups=large, server=server))
    return targets
