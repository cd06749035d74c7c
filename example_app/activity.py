"""Make provisioning visible: one console line per request, and an activity log for the admin page.

The console output mimics the morgan logs of Okta's SCIM workshop
(``GET /scim/v2/Users?filter=... 200 4.2 ms``), so a developer can watch Okta
talk to the app; ``REQUEST_LOG_LEVEL=DEBUG`` adds the body of every SCIM write.
Nothing secret is ever written: query-string tokens and passwords, request-body
passwords and the Authorization header are redacted.  Werkzeug's own request
line (which would repeat each request, with the query string unredacted) is
dropped.

The activity log keeps the request off its critical path (issue 13):

- a write that changed something becomes one ``ActivityEvent`` row saying what
  changed, built from the extension's signals (sent after the commit) and
  written after the response has been sent (``call_on_close``);
- every other SCIM request (reads, refused writes) is only counted in memory
  per org, endpoint and status, and the counts are added to ``request_counts``
  in one transaction every ``ACTIVITY_READS_FLUSH_EVERY`` requests or
  ``ACTIVITY_READS_FLUSH_SECONDS`` seconds (also after the response), and
  whenever an admin opens the activity page.  A GET never costs an INSERT.

``ACTIVITY_LOG = False`` (environment ``ACTIVITY_LOG=0``) turns the log off:
no signal subscriber, no counting, only the console line.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
from collections import Counter
from typing import Any

from flask import Flask, current_app, g, has_request_context, request
from flask.logging import has_level_handler

from flask_scim_entitlements import signals

from .models import ActivityEvent, Characteristic, RequestCount, Role, User, db, utcnow

logger = logging.getLogger("example_app.requests")

EXTENSION_KEY = "todo_activity"
#: Activity events kept per org; older ones are pruned.
KEEP = 1000
#: Prune after every this many inserts (by row id), so the log stays bounded without a query per request.
PRUNE_EVERY = 50
REDACTED = "[REDACTED]"
#: Larger bodies are not logged (SCIM bodies from Okta are a few kB).
MAX_LOGGED_BODY = 64 * 1024

_SECRET_PARAM = re.compile(r"(^|&)([^=&]*(?:token|password|secret)[^=&]*)=[^&]*", re.IGNORECASE)
_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
#: Werkzeug's development-server request line: ``127.0.0.1 - - [date] "GET /path?query HTTP/1.1" 200 -``.
_WERKZEUG_REQUEST_LINE = re.compile(r'^\S+ - - \[[^]]*\] "')


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


class _NoWerkzeugRequestLine(logging.Filter):
    """Drop the development server's own line per request: ours says the same, with secrets redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _WERKZEUG_REQUEST_LINE.match(record.getMessage())


def prune(org_id: int, keep: int = KEEP) -> None:
    """Delete all but the newest ``keep`` events of one org, in two indexed queries."""
    oldest_kept = db.session.scalar(
        db.select(ActivityEvent.id).where(ActivityEvent.org_id == org_id)
        .order_by(ActivityEvent.id.desc()).offset(keep - 1).limit(1))
    if oldest_kept is not None:
        db.session.execute(db.delete(ActivityEvent).where(ActivityEvent.org_id == org_id,
                                                          ActivityEvent.id < oldest_kept))


# -- writes: one event per changed resource, from the extension's signals ---------------------------------

#: Grants arrive as ``{type: [ids]}``: "roles", or an entitlement type's name.  Their names come from these.
_GRANT_MODELS: dict[str, Any] = {"roles": Role, "Characteristic": Characteristic}
#: Link attributes: shown as granted/revoked or added/removed, not as changed attributes.
_LINKS = {"roles", "entitlements", "groups", "members", *_GRANT_MODELS}


def _event(tenant: Any, resource_type: str, resource_id: Any, action: str) -> dict[str, Any] | None:
    """The request's pending event for one resource (several signals of one write merge into it)."""
    try:
        org_id = int(tenant)
    except (TypeError, ValueError):
        return None
    events = g.setdefault("activity_events", {})
    key = (org_id, resource_type, str(resource_id))
    event = events.setdefault(key, {"action": action, "label": "", "details": {}})
    if action != "updated":  # created/deleted win over the updates sent with them
        event["action"] = action
    return event


def _label(resource: dict[str, Any] | None) -> str:
    if not resource:
        return ""
    return str(resource.get("userName") or resource.get("displayName") or "")


def _subscribe(app: Flask) -> None:
    """Collect each write's signals into ``g``; ``_write_events`` stores them after the response."""

    def on(signal: Any, resource_type: str | None, action: str) -> None:
        def receiver(sender: Any, tenant: Any = None, id: Any = None, resource: Any = None,  # noqa: A002
                     **extra: Any) -> None:
            if not has_request_context():
                return
            event = _event(tenant, resource_type or extra.get("resource_type", "Resource"), id, action)
            if event is None:
                return
            event["label"] = _label(resource) or event["label"]
            details = event["details"]
            if extra.get("attributes"):
                details["attributes"] = sorted(set(details.get("attributes", [])) | set(extra["attributes"]))
            for key in ("granted", "revoked", "added", "removed"):
                if extra.get(key):
                    details[key] = extra[key]
            if signal is signals.user_deactivated or signal is signals.user_reactivated:
                details["active"] = signal is signals.user_reactivated
            if action == "created" and resource:
                details["attributes"] = sorted(k for k in resource if k not in {"schemas", "id", "meta"})

        signal.connect(receiver, sender=app, weak=False)

    for signal, resource_type, action in (
            (signals.user_created, "User", "created"), (signals.user_updated, "User", "updated"),
            (signals.user_deactivated, "User", "updated"), (signals.user_reactivated, "User", "updated"),
            (signals.user_grants_changed, "User", "updated"), (signals.user_deleted, "User", "deleted"),
            (signals.group_created, "Group", "created"), (signals.group_updated, "Group", "updated"),
            (signals.group_members_changed, "Group", "updated"), (signals.group_deleted, "Group", "deleted"),
            (signals.resource_created, None, "created"), (signals.resource_updated, None, "updated"),
            (signals.resource_deleted, None, "deleted")):
        on(signal, resource_type, action)


def _names(model: Any, ids: list[Any], column: Any) -> list[str]:
    """Display names for ids, in the order given; an id no longer found is shown as itself."""
    numeric = [int(i) for i in ids if str(i).isdigit()]
    found = {key: name for key, name in db.session.execute(db.select(model.id, column).where(model.id.in_(numeric)))}
    return [str(found.get(int(i), i)) if str(i).isdigit() else str(i) for i in ids]


def _row(org_id: int, resource_type: str, resource_id: str, event: dict[str, Any]) -> ActivityEvent:
    details = dict(event["details"])
    for key in ("granted", "revoked"):
        if key in details:
            details[key] = {kind: _names(_GRANT_MODELS[kind], ids, _GRANT_MODELS[kind].name)
                            if kind in _GRANT_MODELS else [str(i) for i in ids]
                            for kind, ids in details[key].items()}
    for key in ("added", "removed"):
        if key in details:
            details[key] = _names(User, details[key], User.user_name)
    if "attributes" in details:
        details["attributes"] = [a for a in details["attributes"] if a not in _LINKS] or None
        if details["attributes"] is None:
            del details["attributes"]
    label = event["label"]
    if not label:  # a deleted resource: the name it had in its last event
        label = db.session.scalar(
            db.select(ActivityEvent.label).filter_by(org_id=org_id, resource_type=resource_type,
                                                     resource_id=resource_id)
            .where(ActivityEvent.label != "").order_by(ActivityEvent.id.desc()).limit(1)) or ""
    return ActivityEvent(org_id=org_id, action=event["action"], resource_type=resource_type,
                         resource_id=resource_id, label=label[:255], details=details)


def _write_events(app: Flask, events: dict[tuple[int, str, str], dict[str, Any]]) -> None:
    """Store one write's events; a failure here never touches the SCIM response (already sent)."""
    with app.app_context():
        try:
            rows = [_row(org_id, kind, rid, event) for (org_id, kind, rid), event in events.items()]
            db.session.add_all(rows)
            db.session.flush()
            for org_id in {row.org_id for row in rows if row.id % PRUNE_EVERY == 0}:
                prune(org_id)
            db.session.commit()
        except Exception:  # noqa: BLE001 - the activity log is best effort
            db.session.rollback()
            logger.exception("could not record SCIM activity")


# -- everything else: counted in memory, added to request_counts in batches ----------------------------------

class ReadCounts:
    """Per-process counts of SCIM requests that changed nothing, waiting to be added to the database."""

    def __init__(self, every: int, seconds: float) -> None:
        self.every, self.seconds = every, seconds
        self.lock = threading.Lock()
        self.pending: Counter[tuple[int, str, str, int]] = Counter()
        self.since = 0.0

    def add(self, key: tuple[int, str, str, int]) -> bool:
        """Count one request; True when the batch is due to be written."""
        with self.lock:
            if not self.pending:
                self.since = time.monotonic()
            self.pending[key] += 1
            return sum(self.pending.values()) >= self.every or time.monotonic() - self.since >= self.seconds

    def take(self) -> Counter[tuple[int, str, str, int]]:
        with self.lock:
            taken, self.pending = self.pending, Counter()
            return taken

    def flush(self) -> None:
        """Add the pending counts to ``request_counts``, in one transaction."""
        taken = self.take()
        if not taken:
            return
        now = utcnow()
        try:
            for (org_id, method, endpoint, status), n in sorted(taken.items()):
                updated = db.session.execute(
                    db.update(RequestCount).filter_by(org_id=org_id, method=method, endpoint=endpoint, status=status)
                    .values(count=RequestCount.count + n, last_at=now))
                if not updated.rowcount:  # type: ignore[attr-defined]
                    db.session.add(RequestCount(org_id=org_id, method=method, endpoint=endpoint, status=status,
                                                count=n, last_at=now))
            db.session.commit()
        except Exception:  # noqa: BLE001 - the activity log is best effort
            db.session.rollback()
            logger.exception("could not record SCIM request counts")


def _reads(app: Flask) -> ReadCounts | None:
    return app.extensions.get(EXTENSION_KEY)


def flush_reads() -> None:
    """Write this process's pending counts now (the admin page, before showing them)."""
    counts = _reads(current_app)
    if counts is not None:
        counts.flush()


def _flush_after_response(app: Flask, counts: ReadCounts) -> None:
    with app.app_context():
        counts.flush()


def _endpoint(prefix: str) -> str:
    """``/Users/{resource_id}``: the route, never the path (bounded, and never a secret)."""
    rule = request.url_rule.rule if request.url_rule is not None else None
    if rule is None:
        return "(no such endpoint)"
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.removeprefix(prefix) or "/")


def register(app: Flask) -> None:
    if logger.level == logging.NOTSET:
        logger.setLevel(os.environ.get("REQUEST_LOG_LEVEL", "INFO").upper())
    if not has_level_handler(logger):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False  # one line per request, even if the host configures the root logger
    werkzeug_logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, _NoWerkzeugRequestLine) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(_NoWerkzeugRequestLine())
    prefix = app.extensions["scim_entitlements"].config.url_prefix
    app.wsgi_app = _BodyLogger(app.wsgi_app, prefix)  # type: ignore[method-assign]
    enabled = bool(app.config.setdefault("ACTIVITY_LOG", True))
    counts = ReadCounts(int(app.config.setdefault("ACTIVITY_READS_FLUSH_EVERY", 100)),
                        float(app.config.setdefault("ACTIVITY_READS_FLUSH_SECONDS", 60.0)))
    if enabled:
        app.extensions[EXTENSION_KEY] = counts
        _subscribe(app)

    @app.before_request
    def start_timer() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Any) -> Any:
        duration_ms = (time.perf_counter() - g.get("request_started", time.perf_counter())) * 1000
        path = with_query(request.path, request.query_string.decode("utf-8", "replace"))
        logger.info("%s %s %s %.1f ms", request.method, path, response.status_code, duration_ms)
        if not enabled or not is_under(request.path, prefix):
            return response
        # The SCIM view has committed and sent its signals: what remains is written after the response.
        events = g.pop("activity_events", None)
        if events:
            response.call_on_close(lambda: _write_events(app, events))
            return response
        org_id = _org_of_caller()
        if org_id is not None and counts.add((org_id, request.method, _endpoint(prefix), response.status_code)):
            response.call_on_close(lambda: _flush_after_response(app, counts))
        return response
