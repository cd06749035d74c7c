"""The bench-only WSGI entry point: the example app, serving SCIM.

"ours" is the extension alone: the example app with its per-request activity log
(``example_app.activity``: a committed ``INSERT INTO scim_activity`` on every SCIM
request, GETs included, with its timer and body logger) taken off, because the peers and floor-eq keep no such log.
``SCIM_BENCH_ACTIVITY=1`` keeps it: the "ours + activity log" row.  With
``SCIM_BENCH_COUNT_SQL=1`` every response carries ``X-SQL-Statements`` (bench/wsgi_counter.py).

    DATABASE_URL=... SECRET_KEY=... gunicorn bench.wsgi:application
"""

from __future__ import annotations

import os

from example_app import create_app

from .wsgi_counter import counting

app = create_app()
if os.environ.get("SCIM_BENCH_ACTIVITY") != "1":
    # All of example_app.activity: its WSGI body logger, its timer and its after_request log.
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
