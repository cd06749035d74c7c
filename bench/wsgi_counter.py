"""Count SQL statements per request (``SCIM_BENCH_COUNT_SQL=1``) and report them in response headers.

Every statement sent through SQLAlchemy counts, and so do the transaction statements
(``BEGIN``, ``COMMIT``, ``ROLLBACK``: the DB-API sends them without a cursor, so they are
counted from the engine's transaction events).  ``X-SQL-Activity-Statements`` counts those
touching the example app's activity log (``activity_events``, ``request_counts``).
"""

from __future__ import annotations

import os
import threading
from typing import Any

_counts = threading.local()
_installed = False


def _bump(activity: bool = False) -> None:
    _counts.total = getattr(_counts, "total", 0) + 1
    if activity:
        _counts.activity = getattr(_counts, "activity", 0) + 1


def _install() -> None:
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        _bump("activity_events" in statement or "request_counts" in statement)

    for name in ("begin", "commit", "rollback"):
        event.listen(Engine, name, lambda conn, *args: _bump())
    _installed = True


def counting(wsgi_app: Any) -> Any:
    """Wrap a WSGI app so each response carries ``X-SQL-Statements`` and ``X-SQL-Activity-Statements``."""
    if os.environ.get("SCIM_BENCH_COUNT_SQL") != "1":
        return wsgi_app
    _install()

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        _counts.total = 0
        _counts.activity = 0
        started: list[Any] = []

        def deferred_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers, exc_info]
            return lambda data: None  # write() is not used by Flask

        # The headers are sent once the app has returned: after Flask's teardown, so the ROLLBACK
        # or COMMIT ending the request's transaction is counted too.
        body = wsgi_app(environ, deferred_start_response)
        status, headers, exc_info = started
        start_response(status, [*headers, ("X-SQL-Statements", str(_counts.total)),
                                ("X-SQL-Activity-Statements", str(_counts.activity))], exc_info)
        return body

    return application
