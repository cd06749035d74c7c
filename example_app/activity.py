"""Make provisioning visible: a console line per request, and a log of SCIM calls for the admin page.

The console output mimics the morgan logs of Okta's SCIM workshop
(``GET /scim/v2/Users?filter=... 200 4.2 ms``), so a developer can watch Okta
talk to the app.  Nothing secret is ever written: query-string tokens and
passwords, request-body passwords and the Authorization header are redacted.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time
from typing import Any

from flask import Flask, g, request
from flask.logging import has_level_handler

from .models import ScimActivity, db

logger = logging.getLogger("example_app.requests")

#: Rows of SCIM activity kept per org; older ones are pruned.
KEEP = 500
#: Prune after every this many inserts (by row id), so the log stays bounded without a query per request.
PRUNE_EVERY = 50
REDACTED = "[REDACTED]"
#: Larger bodies are not logged (SCIM bodies from Okta are a few kB).
MAX_LOGGED_BODY = 64 * 1024

_SECRET_PARAM = re.compile(r"(^|&)([^=&]*(?:token|password|secret)[^=&]*)=[^&]*", re.IGNORECASE)
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}


def redact_query(query: str) -> str:
    """``a=1&access_token=xyz`` -> ``a=1&access_token=[REDACTED]``: any parameter naming a secret."""
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}={REDACTED}", query)


def redact_body(value: Any) -> Any:
    """Blank out passwords anywhere in a SCIM body, including a PATCH op whose ``path`` is ``password``."""
    if isinstance(value, list):
        return [redact_body(v) for v in value]
    if not isinstance(value, dict):
        return value
    secret_op = str(value.get("path", "")).lower() == "password"
    return {k: REDACTED if k.lower() == "password" or (secret_op and k.lower() == "value") else redact_body(v)
            for k, v in value.items()}


def with_query(path: str, query: str) -> str:
    return path + ("?" + redact_query(query) if query else "")


def is_under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _org_of_caller() -> int | None:
    """The SCIM token's tenant is the org id (as text); unauthenticated calls belong to no org."""
    principal = g.get("scim_principal")
    try:
        return int(principal.tenant) if principal is not None else None
    except (TypeError, ValueError):
        return None


class _BodyLogger:
    """WSGI middleware that logs SCIM write bodies at DEBUG.

    It sits in front of Flask because the SCIM views read the raw input stream
    themselves: the body is read here once and handed on as a fresh stream.
    """

    def __init__(self, wsgi_app: Any, prefix: str) -> None:
        self.wsgi_app = wsgi_app
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if (logger.isEnabledFor(logging.DEBUG) and environ.get("REQUEST_METHOD") in _WRITES
                and is_under(path, self.prefix)):
            auth = environ.get("HTTP_AUTHORIZATION")
            logger.debug("%s %s Authorization: %s body: %s", environ["REQUEST_METHOD"],
                         with_query(path, environ.get("QUERY_STRING", "")),
                         auth.split(" ", 1)[0] + " " + REDACTED if auth else "-", self._tee_body(environ))
        return self.wsgi_app(environ, start_response)

    @staticmethod
    def _tee_body(environ: dict[str, Any]) -> str:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if not 0 < length <= MAX_LOGGED_BODY:
            return f"<{length or 'unknown'} bytes, not logged>"
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)
        try:
            return json.dumps(redact_body(json.loads(raw)))
        except ValueError:
            return f"<{len(raw)} bytes, not JSON>"


def prune(org_id: int | None, keep: int = KEEP) -> None:
    """Delete all but the newest ``keep`` rows of one org, in two indexed queries."""
    same_org = ScimActivity.org_id.is_(None) if org_id is None else ScimActivity.org_id == org_id
    oldest_kept = db.session.scalar(
        db.select(ScimActivity.id).where(same_org).order_by(ScimActivity.id.desc()).offset(keep - 1).limit(1))
    if oldest_kept is not None:
        db.session.execute(db.delete(ScimActivity).where(same_org, ScimActivity.id < oldest_kept))


def record(method: str, path: str, status: int, duration_ms: float, org_id: int | None) -> None:
    """Store one SCIM call; a failure here must never turn a good SCIM response into an error."""
    try:
        row = ScimActivity(org_id=org_id, method=method, path=path[:2000], status=status,
                           duration_ms=round(duration_ms, 2))
        db.session.add(row)
        db.session.flush()
        if row.id % PRUNE_EVERY == 0:
            prune(org_id)
        db.session.commit()
    except Exception:  # noqa: BLE001 - logging activity is best effort
        db.session.rollback()
        logger.exception("could not record SCIM activity")


def register(app: Flask) -> None:
    if logger.level == logging.NOTSET:
        logger.setLevel(os.environ.get("REQUEST_LOG_LEVEL", "INFO").upper())
    if not has_level_handler(logger):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    prefix = app.extensions["scim_entitlements"].config.url_prefix
    app.wsgi_app = _BodyLogger(app.wsgi_app, prefix)  # type: ignore[method-assign]

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Any) -> Any:
        duration_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        path = with_query(request.path, request.query_string.decode("utf-8", "replace"))
        logger.info("%s %s %s %.1f ms", request.method, path, response.status_code, duration_ms)
        if is_under(request.path, prefix):
            # The SCIM blueprint's own after_request has run: its transaction is committed or rolled back.
            record(request.method, path, response.status_code, duration_ms, _org_of_caller())
        return response
