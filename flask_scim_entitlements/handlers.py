"""Render every failure under the SCIM prefix as an RFC 7644 §3.12 Error body.

Identity providers fail on HTML error pages (Okta's SPEC test checks the 401
and 404 bodies, interop.md §2.1), so: ``ScimError`` subclasses, werkzeug
``HTTPException`` s, marshmallow ``ValidationError`` s and unexpected exceptions
all become ``application/scim+json`` bodies with ``status`` as a string.  An
unexpected exception is logged and answered with a generic 500 that reveals no
internals; a lost database connection is a 503 the client may retry.  A table
or column the database lacks (migrations not run) is no reason to retry: a 500,
logged with the command that fixes it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flask import current_app, request
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException

from .errors import ScimError
from .schemas.messages import ErrorSchema
from .store import constraint_error

if TYPE_CHECKING:
    from flask.sansio.app import App

    from .prefix import Mount

SCIM_CONTENT_TYPE = "application/scim+json"

_error_schema = ErrorSchema()


def scim_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Any:
    response = current_app.response_class(
        json.dumps(payload, ensure_ascii=False, separators=(",", ":")), status=status,
        content_type=SCIM_CONTENT_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def error_response(status: int, detail: str, scim_type: str | None = None,
                   headers: dict[str, str] | None = None) -> Any:
    body: dict[str, Any] = {"status": status, "detail": detail or "Error"}
    if scim_type:
        body["scimType"] = scim_type
    response = scim_response(_error_schema.dump(body), status, headers)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="SCIM"'
    return response


def handle_scim_error(error: ScimError) -> Any:
    return error_response(error.status, error.detail, error.scim_type, getattr(error, "headers", None))


def handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    detail = error.description or error.name
    if status == 404:
        detail = f"No SCIM endpoint at {request.path}"
    elif status == 405:
        detail = f"{request.method} is not supported on {request.path}"
    headers = {}
    valid_methods = getattr(error, "valid_methods", None)  # werkzeug's MethodNotAllowed
    if status == 405 and valid_methods:
        headers["Allow"] = ", ".join(valid_methods)
    return error_response(status, detail, None, headers)


# PostgreSQL's SQLSTATEs undefined_table and undefined_column; MySQL/MariaDB's error numbers for the same.
_UNDEFINED_SQLSTATES = frozenset({"42P01", "42703"})
_UNDEFINED_MYSQL_ERRORS = frozenset({1146, 1054})


def schema_missing(error: Exception) -> bool:
    """The database lacks a table or column the mappings use: its migrations have not been run."""
    if not isinstance(error, (OperationalError, ProgrammingError)):
        return False
    orig = error.orig
    if getattr(orig, "sqlstate", None) in _UNDEFINED_SQLSTATES or getattr(orig, "pgcode", None) in _UNDEFINED_SQLSTATES:
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in _UNDEFINED_MYSQL_ERRORS:
        return True
    return str(orig).startswith(("no such table", "no such column"))  # SQLite


def handle_unexpected(error: Exception) -> Any:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, ScimError):
        return handle_scim_error(error)
    if isinstance(error, (DataError, IntegrityError)):
        # A constraint met outside the store's own flushes (e.g. in a host hook): never a 500.
        return handle_scim_error(constraint_error(error, "The resource"))
    if schema_missing(error):
        current_app.logger.error(
            "SCIM request %s %s failed: the database has no such table or column (%s). Run the migrations: "
            "`flask db upgrade` (the package's own tables: `flask scim upgrade`)",
            request.method, request.path, str(getattr(error, "orig", error)).splitlines()[0])
        return error_response(500, "Internal server error")
    if isinstance(error, OperationalError) and getattr(error.orig, "sqlstate", None) == "57014":
        # PostgreSQL's query_canceled: the request ran past SCIM_STATEMENT_TIMEOUT_MS.
        current_app.logger.warning("SCIM request %s %s ran past the statement timeout", request.method, request.path)
        return error_response(503, "The request took longer than this service allows; narrow the filter or "
                                   "ask for smaller pages, then retry", None, {"Retry-After": "5"})
    if isinstance(error, (OperationalError, DBAPIError)) and getattr(error, "connection_invalidated", False) \
            or isinstance(error, OperationalError):
        current_app.logger.warning("SCIM request failed: database unavailable (%s)", type(error).__name__)
        return error_response(503, "The database is unavailable; retry later", None, {"Retry-After": "5"})
    current_app.logger.exception("Unexpected error in SCIM request %s %s", request.method, request.path)
    return error_response(500, "Internal server error")


def register_prefix_handlers(app: App, mount: Mount) -> None:
    """Routing misses (404/405) never reach a blueprint's handlers: catch them app-wide,
    but only under the SCIM prefix (whatever its tenant segment), and hand anything else
    to the host's own handler (or to the one of another registration of the blueprint)."""

    for code in (404, 405):
        previous = app.error_handler_spec.get(None, {}).get(code, {}).copy()

        def handler(error: HTTPException, _previous: dict[Any, Any] = previous) -> Any:
            if mount.covers(request.path):
                return handle_http_exception(error)
            for cls in type(error).__mro__:
                if cls in _previous:
                    return _previous[cls](error)
            return error

        app.register_error_handler(code, handler)
