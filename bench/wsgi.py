"""The bench-only WSGI entry point: the example app, serving SCIM.

"ours" is the extension alone: the example app with its activity log switched off
(``ACTIVITY_LOG=False``: no signal subscribers, no rows written after writes, no read counts) and its
console line per request (timer, body logger, ``log_request``) taken off, because the peers and floor-eq
keep neither.  ``SCIM_BENCH_ACTIVITY=1`` keeps both: the "ours + activity log" row.  With
``SCIM_BENCH_COUNT_SQL=1`` every response carries ``X-SQL-Statements`` (bench/wsgi_counter.py).

    DATABASE_URL=... SECRET_KEY=... gunicorn bench.wsgi:application
"""

from __future__ import annotations

import os

from example_app import create_app

from .wsgi_counter import counting

ACTIVITY = os.environ.get("SCIM_BENCH_ACTIVITY") == "1"
app = create_app({"ACTIVITY_LOG": ACTIVITY})
if not ACTIVITY:
    # The rest of example_app.activity: its WSGI body logger, its timer and its after_request console line.
    from example_app.activity import _BodyLogger

    hooks = {"start_timer": app.before_request_funcs, "log_request": app.after_request_funcs}
    for name, registry in hooks.items():
        kept = [f for f in registry.get(None, []) if getattr(f, "__name__", "") != name]
        if len(kept) == len(registry.get(None, [])):
            raise RuntimeError(f"bench/wsgi.py: the example app's activity hook {name} was not found; "
                               "update how the bench switches the activity log off")
        registry[None] = kept
    if isinstance(app.wsgi_app, _BodyLogger):
        app.wsgi_app = app.wsgi_app.wsgi_app  # type: ignore[method-assign]
application = counting(app)
