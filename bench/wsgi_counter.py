"""Count SQL statements per request (``SCIM_BENCH_COUNT_SQL=1``) and report them in response headers."""

from __future__ import annotations

import os
import threading
from typing import Any

_counts = threading.local()
_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        _counts.total = getattr(_counts, "total", 0) + 1
        if "scim_activity" in statement:
            _counts.activity = getattr(_counts, "activity", 0) + 1

    _installed = True


def counting(wsgi_app: Any) -> Any:
    """Wrap a WSGI app so each response carries ``X-SQL-Statements`` and ``X-SQL-Activity-Statements``."""
    if os.environ.get("SCIM_BENCH_COUNT_SQL") != "1":
        return wsgi_app
    _install()

    def application(environ: dict[str, Any], start_response: Any) -> Any:
        _counts.total = 0
        _counts.activity = 0

        def counting_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            headers = [*headers, ("X-SQL-Statements", str(_counts.total)),
                       ("X-SQL-Activity-Statements", str(_counts.activity))]
            return start_response(status, headers, exc_info)

        return wsgi_app(environ, counting_start_response)

    return application
