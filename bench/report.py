"""Turn the interleaved rounds into the markdown of RESULTS.md: ratios with their spread, never a single run."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from .client import Stats
from .scenarios import LABELS, OPERATIONS

OURS, FLOOR, OURS_LOG = "ours", "floor-eq", "example app"
PEERS = ("scim2-server", "django-scim2")
#: Targets of issue 13: ours / floor-eq, median of the rounds.
FLOOR_TARGET = {"lookup": 0.7, "get": 0.7, "post": 0.7, "page_start": 0.8, "page_deep": 0.8, "group_10k": 0.8}
MEMORY_TARGET = 1.3

#: What each server returns, beside the numbers (the measured body sizes are in the tables).
DIFFERENCES = """\
- **ours** and **floor-eq** return the same bytes (checked at the start of each pass: "Documents" above): users with
  `emails`, `groups` (`$ref`, `display`, `type`), `roles`, `entitlements` (Okta Identity
  Governance) and `meta` with `version`; group members with `value`, `$ref`, `type`.  floor-eq checks
  the token with an HMAC and a `SELECT` on `scim_token` on every request; ours remembers a verified
  token for `SCIM_TOKEN_CACHE_SECONDS` (10 s) per worker, which is part of what is measured.
  floor-eq's POST validates nothing beyond `userName` and leaves uniqueness to the unique index;
  ours validates the body against the schema and checks uniqueness first.  "ours" is a Flask app
  serving SCIM only (bench/wsgi.py); "example app" is the whole example app (web UI, activity log).
  Both end a read's transaction with a `COMMIT`, as a write's, so that psycopg keeps the statements it
  has prepared (a `ROLLBACK` makes it forget them) and PostgreSQL plans each once per connection.
- **scim2-server** keeps everything in memory (no database, nothing survives a restart; each
  worker has its own copy, so a user POSTed to one worker is unknown to the other): its users have
  no `roles` or `entitlements`; it returns `meta` with `version`.
- **django-scim2** (PostgreSQL): users without `roles`/`entitlements`; its pages are ordered by
  `scim_id` (text); its statement counts leave out its transaction statements (not visible to
  Django's `execute_wrapper`).
"""


@dataclass
class Cell:
    db: str          # the database pass: "sqlite" or "postgresql"
    server: str
    store: str       # where that server keeps its data: "sqlite", "postgresql", "memory"
    op: str
    round: int
    stats: Stats


@dataclass
class Memory:
    db: str
    server: str
    store: str
    stats: Stats


def _spread(values: list[float], digits: int = 2) -> str:
    if not values:
        return "–"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f}"
    return f"{med:.{digits}f} ({min(values):.{digits}f}–{max(values):.{digits}f})"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _by(cells: list[Cell]) -> dict[tuple[str, str, str], dict[int, Stats]]:
    out: dict[tuple[str, str, str], dict[int, Stats]] = defaultdict(dict)
    for c in cells:
        out[(c.db, c.server, c.op)][c.round] = c.stats
    return out


def ratios(by: dict[tuple[str, str, str], dict[int, Stats]], db: str, op: str, other: str,
           mine: str = OURS) -> list[float]:
    """ours / other throughput, round by round (only rounds where both completed requests without errors)."""
    a, b = by.get((db, mine, op), {}), by.get((db, other, op), {})
    out = []
    for r in sorted(set(a) & set(b)):
        x, y = a[r], b[r]
        if x.rps and y.rps and not x.errors and not y.errors:
            out.append(x.rps / y.rps)
    return out


def _sql(stats_list: list[Stats]) -> str:
    counts = [n for s in stats_list for n in s.sql]
    if not counts:
        return "–"
    activity = [n for s in stats_list for n in s.sql_activity]
    lo, hi, med = min(counts), max(counts), statistics.median(counts)
    text = f"{med:g}" if lo == hi else f"{med:g} ({lo}–{hi})"
    if activity and max(activity):
        text += f", of which {statistics.median(activity):g} log"
    return text


def markdown(cells: list[Cell], memory: list[Memory], checks: dict[str, list[str]], meta: dict[str, str],
             dbs: list[str]) -> str:
    by = _by(cells)
    servers = list(dict.fromkeys(c.server for c in cells))
    peers = [p for p in PEERS if p in servers]
    lines = ["# SCIM benchmark results", ""]
    lines += [f"- {k}: {v}" for k, v in meta.items()]
    lines += ["", "Ratios are ours ÷ other of throughput (requests per second at 4 concurrent clients), one ratio "
              "per round, shown as **median (min–max)** over the rounds; above 1 ours is faster.", ""]
    for db in dbs:
        lines += [f"## Ratios on {db} (ours on {db})", ""]
        head = ["operation", "ours / floor-eq", *[f"ours / {p} ({'memory' if p == 'scim2-server' else 'postgresql'})"
                                                  for p in peers]]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
        for op, label in OPERATIONS:
            row = [label, _spread(ratios(by, db, op, FLOOR))] + [_spread(ratios(by, db, op, p)) for p in peers]
            lines.append("| " + " | ".join(row) + " |")
        log_ratio = {op: ratios(by, db, op, OURS, mine=OURS_LOG) for op in ("lookup", "get", "post")}
        if any(log_ratio.values()):
            lines += ["", "The whole example app (its web UI's cookie session, Flask-Login and Flask-WTF hooks, its "
                      "activity log: a row per write after the response, reads counted in memory, and its console "
                      "line per request), as its own row: (example app) ÷ ours: "
                      + "; ".join(f"{LABELS[op].split(' `')[0]} {_spread(v)}" for op, v in log_ratio.items() if v)
                      + "."]
        lines += ["", f"### Every server on {db}: median over the rounds", "",
                  "| operation | server | req/s median (min–max) | p50 ms | p99 ms | statements / request | "
                  "body bytes | errors |", "|---|---|---:|---:|---:|---|---:|---:|"]
        for op, label in OPERATIONS:
            for server in servers:
                rounds = by.get((db, server, op))
                if not rounds:
                    continue
                stats = list(rounds.values())
                rps = [s.rps for s in stats if s.rps]
                p50 = statistics.median([s.p50 for s in stats if s.p50 is not None] or [0]) * 1000
                p99 = statistics.median([s.p99 for s in stats if s.p99 is not None] or [0]) * 1000
                sizes = [n for s in stats for n in s.sizes]
                errors = sum(s.errors for s in stats)
                sample = next((e for s in stats for e in s.error_samples), "")
                lines.append(f"| {label} | {server} | {_spread(rps, 1)} | {_num(p50)} | {_num(p99)} | "
                             f"{_sql(stats)} | {statistics.median(sizes) if sizes else 0:,.0f} | "
                             f"{errors}{' ' + sample[:120].replace('|', '/') if sample else ''} |")
        lines += ["", f"### Documents: floor-eq against ours on {db}", ""]
        lines += [f"- {note}" for note in checks.get(db, [])]
        lines.append("")
    if memory:
        lines += ["## Memory: reading the group of every user", "",
                  "Peak resident memory of the one worker that served the read (VmHWM, reset before; exact, not "
                  "sampled), and its resident memory before.", "",
                  "| database pass | server | members | before MiB | peak MiB | peak ÷ floor-eq's | seconds per read |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        floor_peak = {m.db: m.stats.extra.get("peak_worker_kib") for m in memory if m.server == FLOOR}
        for m in memory:
            peak = m.stats.extra.get("peak_worker_kib", 0)
            base = floor_peak.get(m.db)
            ratio = f"{peak / base:.2f}" if base else "–"
            ok = m.stats.requests and not m.stats.errors
            lines.append(f"| {m.db} | {m.server} ({m.store}) | {m.stats.extra.get('members', '')} | "
                         f"{m.stats.extra.get('before_worker_kib', 0) / 1024:,.0f} | {peak / 1024:,.0f} | {ratio} | "
                         f"{_num(m.stats.p50, 2) if ok else 'failed: ' + ' '.join(m.stats.error_samples)[:100]} |")
        lines.append("")
    lines += ["## Targets (issue 13), from this run", "", "| target | measured (median, min–max) | met? |",
              "|---|---|---|"]
    for db in dbs:
        for op, label in OPERATIONS:
            values = ratios(by, db, op, FLOOR)
            goal = FLOOR_TARGET[op]
            met = "yes" if values and statistics.median(values) >= goal else "**no**"
            lines.append(f"| {db}: {label} ≥ {goal} of floor-eq | {_spread(values, 3)} | {met} |")
        for p in peers:
            behind = [LABELS[op] for op, _l in OPERATIONS
                      if ratios(by, db, op, p) and statistics.median(ratios(by, db, op, p)) < 1]
            lines.append(f"| {db}: ahead of {p} on every operation | "
                         f"{'behind on ' + '; '.join(behind) if behind else 'ahead on all'} | "
                         f"{'yes' if not behind else '**no**'} |")
        mine = next((m for m in memory if m.db == db and m.server == OURS), None)
        floor = next((m for m in memory if m.db == db and m.server == FLOOR), None)
        if mine and floor and floor.stats.extra.get("peak_worker_kib"):
            r = mine.stats.extra["peak_worker_kib"] / floor.stats.extra["peak_worker_kib"]
            lines.append(f"| {db}: largest group's peak worker memory ≤ {MEMORY_TARGET}x floor-eq's | {r:.2f}x | "
                         f"{'yes' if r <= MEMORY_TARGET else '**no**'} |")
    lines += ["", "## What each server returns", "", DIFFERENCES]
    return "\n".join(lines)

