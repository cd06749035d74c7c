"""The floor: a bare Flask + SQLAlchemy app doing Okta's lookup and nothing else.

``GET /Users?filter=userName eq "..."`` runs the one indexed query (``org_id`` and
``lower(user_name)``, the example app's own index) and returns a minimal JSON list.
Authentication is a static bearer token compared in constant time (no database).
No SCIM parsing, no schema, no serialisation framework: what any SCIM server must
at least do for this request.  Served with the same gunicorn settings as ours.

    DATABASE_URL=... BENCH_ORG_ID=1 BENCH_TOKEN=... gunicorn bench.floor:application
"""

from __future__ import annotations

import hmac
import os
import re

import sqlalchemy as sa
from flask import Flask, jsonify, request

from .wsgi_counter import counting

app = Flask(__name__)
_url = os.environ["DATABASE_URL"]
engine = sa.create_engine(_url, pool_size=8) if _url.startswith("postgresql") else sa.create_engine(_url)
ORG_ID = int(os.environ.get("BENCH_ORG_ID", "1"))
EXPECTED = ("Bearer " + os.environ.get("BENCH_TOKEN", "")).encode()
FILTER = re.compile(r'^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
LOOKUP = sa.text("SELECT id, user_name, display_name, active FROM users "
                 "WHERE org_id = :org AND lower(user_name) = :name")


@app.get("/scim/v2/Users")
def users():  # type: ignore[no-untyped-def]
    if not hmac.compare_digest(request.headers.get("Authorization", "").encode(), EXPECTED):
        return jsonify({"status": "401"}), 401
    match = FILTER.match(request.args.get("filter", ""))
    if match is None:
        return jsonify({"status": "400"}), 400
    with engine.connect() as conn:
        rows = conn.execute(LOOKUP, {"org": ORG_ID, "name": match.group(1).lower()}).all()
    return jsonify({"totalResults": len(rows), "Resources": [
        {"id": str(r.id), "userName": r.user_name, "displayName": r.display_name, "active": bool(r.active)}
        for r in rows]})


application = counting(app)
