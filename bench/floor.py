"""floor-eq: bare Flask + SQLAlchemy Core serving byte-for-byte the documents the extension serves.

What any SCIM server over these tables must at least do, written by hand for the example
app's schema, so that "ours / floor-eq" measures the extension's overhead and nothing else:

- the same token check: HMAC-SHA256 of the bearer token with the same key, then one
  ``SELECT`` on ``scim_token`` (no cache: the extension's per-process token cache is one of
  the things measured; bench/README.md says so beside the table);
- the same documents, byte for byte (``python -m bench`` checks it before measuring): emails,
  groups with ``$ref``/display, roles, entitlements, ``meta`` with the same version;
- one statement per request for user documents (JSON aggregation of the links in correlated
  subqueries), a ``COUNT`` only when the page does not prove the total, as the extension;
- two for a group (the row, then its member ids), one ``INSERT`` per table for a POST
  (uniqueness left to the unique index on ``lower(user_name)``, as a minimal server would), writing
  the row the app's model writes (its ``session_token`` default included);
- a read's transaction ends in a ``COMMIT`` (``engine.begin()``), as the extension's reads do: psycopg
  forgets its prepared statements on ``ROLLBACK`` (which ``engine.connect()`` ends with), and PostgreSQL
  would plan each statement again on every request (a 401 or 404 answered from inside the block commits
  too: it wrote nothing).

No ORM, no marshmallow, no filter parser beyond the one ``userName eq`` form, no activity log.
Served with the same gunicorn settings as ours.

    DATABASE_URL=... SECRET_KEY=... gunicorn bench.floor:application
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response, request

from .wsgi_counter import counting

app = Flask(__name__)
_url = os.environ["DATABASE_URL"]
engine = sa.create_engine(_url)
SQLITE = engine.dialect.name == "sqlite"
if SQLITE:
    @sa.event.listens_for(engine, "connect")
    def _wal(dbapi_connection: Any, _record: Any) -> None:  # the example app's settings (example_app/__init__.py)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

KEY = (os.environ.get("SCIM_TOKEN_HASH_KEY") or os.environ["SECRET_KEY"]).encode()
PREFIX = "/scim/v2"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
FILTER = re.compile(r'^\s*userName\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)

TOKEN = sa.text("SELECT id, tenant, token_hash FROM scim_token WHERE token_hash = :h AND revoked_at IS NULL")


def _agg(items: str, source: str, order: str) -> str:
    """A JSON array of arrays, in ``order``, as one correlated subquery."""
    if SQLITE:
        return f"(SELECT json_group_array(json(j)) FROM (SELECT json_array({items}) AS j {source} ORDER BY {order}))"
    return f"(SELECT json_agg(json_build_array({items}) ORDER BY {order}) {source})"


_USER_COLUMNS = (
    "u.id, u.user_name, u.first_name, u.last_name, u.display_name, u.external_id, u.active, u.created_at, "
    "u.updated_at, "
    + _agg('e.value, e.display, e.type, e."primary"', "FROM user_emails e WHERE e.user_id = u.id", "e.id")
    + " AS emails, "
    + _agg("g.id, g.name", "FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = u.id", "g.id")
    + " AS groups, "
    + _agg("c.id, c.name", "FROM user_characteristics uc JOIN characteristics c ON c.id = uc.characteristic_id "
           "WHERE uc.user_id = u.id", "c.id")
    + " AS characteristics, "
    + _agg("r.id, r.name", "FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = u.id", "r.id")
    + " AS roles"
)
_TYPES = {"created_at": sa.DateTime, "updated_at": sa.DateTime, "active": sa.Boolean}
LOOKUP = sa.text(f"SELECT {_USER_COLUMNS} FROM users u "
                 "WHERE u.org_id = :org AND lower(u.user_name) = lower(:name) ORDER BY u.id").columns(**_TYPES)
BY_ID = sa.text(f"SELECT {_USER_COLUMNS} FROM users u WHERE u.org_id = :org AND u.id = :id").columns(**_TYPES)
# The page is cut first, so the correlated subqueries run for its rows only, not for the skipped ones.
PAGE = sa.text(f"SELECT {_USER_COLUMNS} FROM (SELECT * FROM users WHERE org_id = :org ORDER BY id "
               "LIMIT :limit OFFSET :offset) u ORDER BY u.id").columns(**_TYPES)
COUNT = sa.text("SELECT count(u.id) FROM users u WHERE u.org_id = :org")
GROUP = sa.text("SELECT id, name, external_id, created_at, updated_at FROM groups "
                "WHERE org_id = :org AND id = :id").columns(created_at=sa.DateTime, updated_at=sa.DateTime)
MEMBERS = sa.text("SELECT user_id FROM group_members WHERE group_id = :id ORDER BY user_id")
#: The row the example app's model writes: with the ``session_token`` its column default draws
#: (example_app/models.py ``new_session_token``), which a signed-in session names the user by.
INSERT_USER = sa.text(
    "INSERT INTO users (org_id, user_name, first_name, last_name, display_name, external_id, active, "
    "password_hash, session_token, created_at, updated_at) VALUES (:org, :user_name, :first_name, :last_name, "
    ":display_name, :external_id, :active, NULL, :session_token, :now, :now) RETURNING id"
).bindparams(sa.bindparam("now", type_=sa.DateTime))
INSERT_EMAIL = sa.text('INSERT INTO user_emails (user_id, value, type, display, "primary") '
                       "VALUES (:user_id, :value, :type, :display, :primary)")


def _iso(value: datetime) -> str:
    return value.isoformat(timespec="seconds") + "Z"


def _meta(kind: str, endpoint: str, ident: str, created: datetime, modified: datetime, base: str,
          links: str = "") -> dict[str, Any]:
    version = hashlib.sha256(f"{ident}|{modified.isoformat()}{links}".encode()).hexdigest()[:16]
    return {"resourceType": kind, "created": _iso(created), "lastModified": _iso(modified),
            "location": f"{base}{endpoint}/{ident}", "version": f'W/"{version}"'}


def _json(value: Any) -> list[Any]:
    if value is None:
        return []
    return json.loads(value) if isinstance(value, str) else value


def user_document(row: Any, base: str) -> dict[str, Any]:
    """The extension's user document (its wire schema's field order), from one row of _USER_COLUMNS."""
    ident = str(row.id)
    doc: dict[str, Any] = {"userName": row.user_name}
    name = {k: v for k, v in (("familyName", row.last_name), ("givenName", row.first_name)) if v not in (None, "")}
    if name:
        doc["name"] = name
    if row.display_name not in (None, ""):
        doc["displayName"] = row.display_name
    if row.active is not None:
        doc["active"] = bool(row.active)
    emails = []
    for value, display, kind, primary in _json(row.emails):
        item = {k: v for k, v in (("value", value), ("display", display), ("type", kind)) if v not in (None, "")}
        if primary is not None:
            item["primary"] = bool(primary)
        if item:
            emails.append(item)
    if emails:
        doc["emails"] = emails
    groups = [{"value": str(g), "$ref": f"{base}/Groups/{g}", "display": n, "type": "direct"}
              for g, n in _json(row.groups)]
    if groups:
        doc["groups"] = groups
    entitlements = [{"value": str(c), "display": n, "type": "Characteristic"} for c, n in _json(row.characteristics)]
    if entitlements:
        doc["entitlements"] = entitlements
    roles = [{"value": str(r), "display": n} for r, n in _json(row.roles)]
    if roles:
        doc["roles"] = roles
    doc["schemas"] = [USER_URN]
    doc["id"] = ident
    if row.external_id not in (None, ""):
        doc["externalId"] = row.external_id
    # The extension's user version covers the links as rendered (a rename of a group changes it), less their
    # "$ref", which depends on the Host the request names.
    unlocated = [{k: v for k, v in g.items() if k != "$ref"} for g in groups]
    links = json.dumps([unlocated or None, roles or None, entitlements or None], sort_keys=True)
    doc["meta"] = _meta("User", "/Users", ident, row.created_at, row.updated_at, base, links)
    return doc


def _reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, content_type="application/scim+json", headers=headers)


def _error(status: int, detail: str) -> Response:
    return _reply({"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "detail": detail,
                   "status": str(status)}, status)


def _org(conn: Any) -> int | None:
    """The token check: HMAC, then one SELECT on scim_token; the tenant is the org id."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else header.strip()
    digest = hmac.new(KEY, token.encode(), hashlib.sha256).hexdigest()
    row = conn.execute(TOKEN, {"h": digest}).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    return int(row.tenant)


def _base() -> str:
    return request.host_url.rstrip("/") + PREFIX


def _list(docs: list[dict[str, Any]], total: int, start: int) -> Response:
    return _reply({"schemas": [LIST_URN], "totalResults": total, "startIndex": start, "itemsPerPage": len(docs),
                   "Resources": docs})


@app.get(PREFIX + "/Users")
def users() -> Response:
    with engine.begin() as conn:
        org = _org(conn)
        if org is None:
            return _error(401, "A valid token is required")
        base = _base()
        text = request.args.get("filter")
        if text is not None:
            match = FILTER.match(text)
            if match is None:
                return _error(400, "floor-eq knows only userName eq")
            name = json.loads(f'"{match.group(1)}"')
            docs = [user_document(r, base) for r in conn.execute(LOOKUP, {"org": org, "name": name})]
            return _list(docs, len(docs), 1)
        start = max(int(request.args.get("startIndex", 1)), 1)
        count = min(max(int(request.args.get("count", 100)), 0), 1000)
        rows = conn.execute(PAGE, {"org": org, "limit": count, "offset": start - 1}).all()
        docs = [user_document(r, base) for r in rows]
        if len(docs) < count and (docs or start == 1):
            total = start - 1 + len(docs)
        else:
            total = int(conn.execute(COUNT, {"org": org}).scalar_one())
        return _list(docs, total, start)


@app.get(PREFIX + "/Users/<ident>")
def user(ident: str) -> Response:
    if not ident.isascii() or not ident.isdigit():
        return _error(404, "not found")
    with engine.begin() as conn:
        org = _org(conn)
        if org is None:
            return _error(401, "A valid token is required")
        row = conn.execute(BY_ID, {"org": org, "id": int(ident)}).first()
        if row is None:
            return _error(404, "not found")
        doc = user_document(row, _base())
        return _reply(doc, headers={"ETag": doc["meta"]["version"]})


@app.post(PREFIX + "/Users")
def create_user() -> Response:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("userName"), str):
        return _error(400, "userName is required")
    name = body.get("name") or {}
    now = datetime.now(UTC).replace(tzinfo=None)
    values = {"user_name": body["userName"], "first_name": name.get("givenName"), "last_name": name.get("familyName"),
              "display_name": body.get("displayName"), "external_id": body.get("externalId"),
              "active": body.get("active", True), "now": now}
    emails = [{"value": e.get("value"), "type": e.get("type"), "display": e.get("display"),
               "primary": bool(e.get("primary", False))} for e in body.get("emails") or []]
    try:
        with engine.begin() as conn:
            org = _org(conn)
            if org is None:
                return _error(401, "A valid token is required")
            ident = conn.execute(INSERT_USER, {"org": org, "session_token": secrets.token_urlsafe(32),
                                               **values}).scalar_one()
            if emails:
                conn.execute(INSERT_EMAIL, [{"user_id": ident, **e} for e in emails])
    except sa.exc.IntegrityError:
        return _error(409, "userName exists")
    row = {"id": ident, **values, "created_at": now, "updated_at": now, "groups": None, "characteristics": None,
           "roles": None, "emails": [[e["value"], e["display"], e["type"], e["primary"]] for e in emails]}
    doc = user_document(_Row(row), _base())
    return _reply(doc, 201, {"ETag": doc["meta"]["version"], "Location": doc["meta"]["location"]})


class _Row:
    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


@app.get(PREFIX + "/Groups/<ident>")
def group(ident: str) -> Response:
    if not ident.isascii() or not ident.isdigit():
        return _error(404, "not found")
    with engine.begin() as conn:
        org = _org(conn)
        if org is None:
            return _error(401, "A valid token is required")
        row = conn.execute(GROUP, {"org": org, "id": int(ident)}).first()
        if row is None:
            return _error(404, "not found")
        base = _base()
        doc: dict[str, Any] = {"displayName": row.name}
        members = [{"value": str(m), "$ref": f"{base}/Users/{m}", "type": "User"}
                   for (m,) in conn.execute(MEMBERS, {"id": row.id})]
        if members:
            doc["members"] = members
        doc["schemas"] = [GROUP_URN]
        doc["id"] = str(row.id)
        if row.external_id not in (None, ""):
            doc["externalId"] = row.external_id
        doc["meta"] = _meta("Group", "/Groups", doc["id"], row.created_at, row.updated_at, base)
        return _reply(doc, headers={"ETag": doc["meta"]["version"]})


@app.get(PREFIX + "/ServiceProviderConfig")
def ready() -> Response:
    return _reply({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]})


application = counting(app)
