"""Turn the measurements into the markdown of RESULTS.md."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from .client import Stats
from .scenarios import OPERATIONS

LABELS = dict(OPERATIONS)


@dataclass
class Row:
    op: str
    server: str      # "ours", "floor", "scim2-server", "django-scim2"
    db: str          # "sqlite", "postgresql", "memory"
    stats: Stats


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    ms = value * 1000
    return f"{ms:.1f}" if ms < 100 else f"{ms:,.0f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def sql_cell(stats: Stats) -> str:
    if not stats.sql:
        return "–"
    core = core_sql(stats)
    med = statistics.median(core)
    lo, hi = min(core), max(core)
    text = f"{med:g}" if lo == hi else f"{med:g} ({lo}–{hi})"
    if stats.sql_activity and max(stats.sql_activity):
        lo, hi = statistics.median(stats.sql_activity), max(stats.sql_activity)
        text += f" + {lo:g} log" if lo == hi else f" + {lo:g}–{hi} log"
    return text


def core_sql(stats: Stats) -> list[int]:
    """Statements per request, without those of the example app's activity log."""
    if len(stats.sql_activity) == len(stats.sql):
        return [t - a for t, a in zip(stats.sql, stats.sql_activity, strict=True)]
    return list(stats.sql)


def notes(row: Row) -> str:
    s = row.stats
    parts = []
    if "first_ms" in s.extra:
        ratio = s.extra["last_ms"] / s.extra["first_ms"] if s.extra["first_ms"] else None
        sql = s.extra["first_sql"] is not None
        parts.append(f"{s.extra['pages']} pages; first page {s.extra['first_ms']:.1f} ms"
                     + (f" ({s.extra['first_sql']} SQL incl. log)" if sql else "")
                     + f", last page {s.extra['last_ms']:.1f} ms"
                     + (f" ({s.extra['last_sql']} SQL incl. log)" if sql else "")
                     + (f", last/first {ratio:.2f}x" if ratio else ""))
    if "startIndex" in s.extra:
        parts.append(f"startIndex={s.extra['startIndex']}")
    if s.errors:
        parts.append(f"{s.errors} errors of {s.requests}: {'; '.join(s.error_samples)[:300]}")
    if s.note:
        parts.append(s.note)
    return "; ".join(parts).replace("|", "\\|").replace("\n", " ")


def usable(stats: Stats | None) -> bool:
    return stats is not None and not stats.extra.get("unsupported") and stats.requests > 0 and \
        stats.errors < stats.requests


def results_table(rows: list[Row]) -> str:
    out = ["| Operation | Server | DB | req/s | p50 ms | p99 ms | SQL/req | Peak RSS MiB | Notes |",
           "|---|---|---|---:|---:|---:|---|---:|---|"]
    order = {op: k for k, (op, _) in enumerate(OPERATIONS)}
    for row in sorted(rows, key=lambda r: order.get(r.op, 99)):
        s = row.stats
        if s.extra.get("unsupported"):
            out.append(f"| {LABELS[row.op]} | {row.server} | {row.db} | n/a | n/a | n/a | n/a | – | {notes(row)} |")
            continue
        rss = s.extra.get("rss_kib")
        out.append(f"| {LABELS[row.op]} | {row.server} | {row.db} | {_num(s.rps)} | {_ms(s.p50)} | {_ms(s.p99)} | "
                   f"{sql_cell(s)} | {_num(rss / 1024 if rss else None, 0)} | {notes(row)} |")
    return "\n".join(out)


def find(rows: list[Row], op: str, server: str, db: str) -> Stats | None:
    for row in rows:
        if row.op == op and row.server == server and row.db == db:
            return row.stats
    return None


def ratio_table(rows: list[Row], dbs: list[str], peers: list[tuple[str, str]]) -> str:
    """Throughput ratios ours/other (>1: ours is faster)."""
    columns = [(f"ours/floor ({db})", "floor", db, db) for db in dbs]
    columns += [(f"ours ({ours_db})/{peer} ({peer_db})", peer, peer_db, ours_db) for peer, peer_db, ours_db in
                [(peer, peer_db, _ours_db_for(peer_db, dbs)) for peer, peer_db in peers]]
    out = ["| Operation | " + " | ".join(c[0] for c in columns) + " |",
           "|---|" + "---:|" * len(columns)]
    for op, label in OPERATIONS:
        cells = []
        for _title, server, other_db, ours_db in columns:
            ours, other = find(rows, op, "ours", ours_db), find(rows, op, server, other_db)
            if other is None:
                cells.append("–")
            elif other.extra.get("unsupported"):
                cells.append("peer n/a")
            elif not usable(ours) or not usable(other) or not ours.rps or not other.rps:
                cells.append("not measured")
            else:
                cells.append(f"{ours.rps / other.rps:.2f}x")
        if any(c != "–" for c in cells):
            out.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def _ours_db_for(peer_db: str, dbs: list[str]) -> str:
    if peer_db in dbs:
        return peer_db
    return "postgresql" if "postgresql" in dbs else dbs[0]


def targets_table(rows: list[Row], dbs: list[str], peers: list[tuple[str, str]]) -> str:
    out = ["| Target | Measured | Met? |", "|---|---|---|"]

    def line(target: str, measured: str, met: bool | None) -> None:
        out.append(f"| {target} | {measured} | {'–' if met is None else ('yes' if met else '**no**')} |")

    for db in dbs:
        ours, floor = find(rows, "lookup", "ours", db), find(rows, "lookup", "floor", db)
        if usable(ours) and usable(floor) and ours.rps and floor.rps:
            r = ours.rps / floor.rps
            line(f"Lookup ≥ 70% of the floor ({db})", f"{r:.0%} ({ours.rps:,.0f} vs {floor.rps:,.0f} req/s)", r >= 0.7)
        imp = find(rows, "import", "ours", db)
        if imp is not None and "first_ms" in imp.extra:
            r = imp.extra["last_ms"] / imp.extra["first_ms"]
            last = find(rows, "last_page", "ours", db)
            r2 = (last.p50 * 1000 / imp.extra["first_ms"]) if usable(last) and last.p50 else None
            measured = (f"import last/first {r:.2f}x ({imp.extra['pages']} pages)"
                        + (f"; last page alone p50 / first page {r2:.2f}x" if r2 else ""))
            line(f"Last page within 2x the first ({db}, {imp.extra['pages'] * 100:,} users)", measured,
                 r <= 2 and (r2 is None or r2 <= 2))
        for size, limit in ((10_000, 1.0), (100_000, 15.0)):
            s = find(rows, f"group_patch_{size}", "ours", db)
            if usable(s) and s.p50 is not None:
                line(f"Membership PATCH of {size:,} < {limit:g} s ({db})",
                     f"p50 {s.p50:.2f} s, max {max(s.latencies):.2f} s",
                     max(s.latencies) < limit if db == "postgresql" else None)
        # statement counts independent of page and group size
        if imp is not None and imp.extra.get("first_sql") is not None:
            pages = sorted(set(core_sql(imp)))
            line(f"SQL per page independent of page ({db}; without the activity log's)",
                 f"statements per page over all {imp.extra['pages']} pages: {pages}", len(pages) == 1)
        counts = {size: find(rows, f"group_patch_{size}", "ours", db) for size in (1_000, 10_000, 100_000)}
        seen = {size: sorted(set(core_sql(s))) for size, s in counts.items() if usable(s) and s.sql}
        if len(seen) > 1:
            same = len({tuple(v) for v in seen.values()}) == 1
            line(f"SQL per membership PATCH independent of group size ({db})",
                 ", ".join(f"{k:,}: {v}" for k, v in seen.items()), same)
    for peer, peer_db in peers:
        ours_db = _ours_db_for(peer_db, dbs)
        ahead, behind, na = [], [], []
        for op, _label in OPERATIONS:
            ours, other = find(rows, op, "ours", ours_db), find(rows, op, peer, peer_db)
            if other is None:
                continue
            if not usable(other) or not usable(ours) or not ours.rps or not other.rps:
                na.append(op)
            elif ours.rps >= other.rps:
                ahead.append(op)
            else:
                behind.append(f"{op} ({ours.rps / other.rps:.2f}x)")
        line(f"Ahead of {peer} ({peer_db}; ours on {ours_db})",
             f"ahead: {', '.join(ahead) or 'none'}; behind: {', '.join(behind) or 'none'}; "
             f"not comparable: {', '.join(na) or 'none'}", not behind if ahead or behind else None)
    return "\n".join(out)


def markdown(rows: list[Row], meta: dict[str, Any], dbs: list[str], peers: list[tuple[str, str]]) -> str:
    head = ["# SCIM benchmark results", ""]
    head += [f"- {k}: {v}" for k, v in meta.items()]
    return "\n".join(head + ["", "## Measurements", "", results_table(rows), "",
                             "## Throughput ratios (ours / other; above 1 means ours is faster)", "",
                             ratio_table(rows, dbs, peers), "",
                             "## Targets (reported, not asserted)", "", targets_table(rows, dbs, peers), ""])
