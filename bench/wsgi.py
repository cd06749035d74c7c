"""The bench-only WSGI entry point: the example app, plus a count of its SQL statements per request.

With ``SCIM_BENCH_COUNT_SQL=1`` every response carries ``X-SQL-Statements`` (statements
executed while serving it) and ``X-SQL-Activity-Statements`` (those of them writing or
pruning the example app's own ``scim_activity`` log).  The product code is untouched.

    DATABASE_URL=... SECRET_KEY=... gunicorn bench.wsgi:application
"""

from __future__ import annotations

import os

from example_app import create_app

from .wsgi_counter import counting

app = create_app()
if os.environ.get("SCIM_BENCH_NO_ACTIVITY") == "1":
    # Diagnostic only: drop the example app's per-request activity log (a committed INSERT per SCIM call),
    # to show what the extension itself costs.  Never set for the main "ours" rows.
    app.after_request_funcs[None] = [f for f in app.after_request_funcs.get(None, [])
                                     if getattr(f, "__name__", "") != "log_request"]
application = counting(app)
