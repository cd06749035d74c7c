"""The bench-only WSGI entry point: the extension as a host serves it.

"ours" is the extension alone: a bare Flask app with Flask-SQLAlchemy, the example app's models
and its ``ScimEntitlements`` declaration (``example_app.scim``), and the example app's SQLite
settings (WAL, ``busy_timeout``); nothing else of the example app (no cookie session, Flask-Login,
Flask-WTF, activity log or console line), as floor-eq has none of them.  That is what a host
that only serves SCIM runs, and it keeps the extension's cost apart from the host's.

``SCIM_BENCH_ACTIVITY=1`` serves the whole example app instead (its web UI's session handling, its
activity log and its console line per request): the "example app" row.  With
``SCIM_BENCH_COUNT_SQL=1`` every response carries ``X-SQL-Statements`` (bench/wsgi_counter.py).

    DATABASE_URL=... SECRET_KEY=... gunicorn bench.wsgi:application
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask

from example_app import _sqlite_pragmas, create_app
from example_app.models import db
from example_app.scim import scim

from .wsgi_counter import counting

EXAMPLE_APP = os.environ.get("SCIM_BENCH_ACTIVITY") == "1"


def scim_host() -> Flask:
    """A host that serves SCIM and nothing else, over the example app's tables."""
    app = Flask("bench_host")
    app.config.update(
        SQLALCHEMY_DATABASE_URI=os.environ["DATABASE_URL"],
        # The key tokens are hashed with (the example app derives it from SECRET_KEY, and so does floor-eq);
        # no SECRET_KEY of the app's own, so no cookie session is opened per request (floor-eq opens none).
        SCIM_TOKEN_HASH_KEY=os.environ.get("SCIM_TOKEN_HASH_KEY") or os.environ["SECRET_KEY"],
    )
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    scim.init_app(app)
    return app


app = create_app() if EXAMPLE_APP else scim_host()
application = counting(app)
