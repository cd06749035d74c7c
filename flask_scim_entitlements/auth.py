"""Credentials: who is calling, and for which tenant.  Fails closed.

Identity providers put a credential in ``Authorization`` in three shapes
(interop.md §1.1): ``Bearer <token>``, the bare ``<token>`` (Okta Header Auth
forwards the field verbatim) and ``Basic base64(user:password)``.  Each
resolves to a :class:`Principal` carrying the tenant key that the store applies
to every query.  Anything else, or nothing, is a 401 SCIM error.

Tokens issued by ``flask scim create-token`` live in the package's own table
(``scim_token``), stored as keyed hashes (HMAC-SHA256), never in plain text;
they carry a recognisable prefix so secret scanners can find leaked ones.  A
host may instead (or as well) register a loader for its own credentials with
:meth:`ScimEntitlements.credential_loader`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

#: Issued tokens start with this, so that secret scanners can recognise them.
TOKEN_PREFIX = "scimfse_"


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: ``tenant`` is the value of the mappings' tenant columns."""

    tenant: Any
    name: str = ""
    token_id: int | None = None


class IssuedToken(NamedTuple):
    """A newly issued token: ``value`` is shown once, only its hash is stored."""

    id: int
    value: str


def token_table(metadata: sa.MetaData) -> sa.Table:
    """The package's one table, defined on the host's metadata (Alembic branch ``scim_entitlements``)."""
    existing = metadata.tables.get("scim_token")
    if existing is not None:
        return existing
    return sa.Table(
        "scim_token",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("tenant_key", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False, default=""),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("revoked_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_scim_token_token_hash"),
        sa.Index("ix_scim_token_tenant", "tenant"),
    )


def hash_token(token: str, key: bytes) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Credential:
    """What the ``Authorization`` header carried."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    @property
    def secret(self) -> str | None:
        return self.token if self.token is not None else self.password


def parse_authorization(header: str | None, *, allow_basic: bool) -> Credential | None:
    """Parse the header case-insensitively; ``None`` when there is no usable credential."""
    if not header or not header.strip():
        return None
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return Credential(token=rest.strip())
    if scheme.lower() == "basic" and rest.strip():
        if not allow_basic:
            return None
        try:
            decoded = base64.b64decode(rest.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return Credential(username=user, password=password) if sep and password else None
    if " " in header.strip():
        return None
    # Okta Header Auth sends the API token field verbatim, often without "Bearer " (interop.md §1.1).
    return Credential(token=header.strip())


#: Most verified tokens a process remembers (a deployment has a handful: one per IdP connection).
TOKEN_CACHE_SIZE = 1024


class TokenStore:
    """Issue, check and revoke the package's hashed tokens.

    A token verified in the database is remembered in this process for ``cache_seconds``
    (``SCIM_TOKEN_CACHE_SECONDS``), so a burst of requests costs one ``SELECT`` on
    ``scim_token`` rather than one each.  Revocation is immediate in the process that
    revokes (its entry is dropped, and for ``cache_seconds`` that token is checked in the
    database on every request, so a request racing the revoking transaction cannot cache it
    again); other processes (gunicorn workers, other hosts) stop accepting it within
    ``cache_seconds``.  Unknown and revoked tokens are never cached.
    """

    def __init__(self, table: sa.Table, key: bytes, cache_seconds: float = 0.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.table = table
        self.key = key
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._cache: dict[str, tuple[float, Principal]] = {}  # digest -> (expiry, principal)
        self._uncached: dict[Any, float] = {}  # digests and ids revoked here lately -> until when
        self._lock = threading.Lock()

    def issue(self, connection: Any, tenant: Any, tenant_key: str, name: str = "") -> tuple[int, str]:
        token = new_token()
        result = connection.execute(sa.insert(self.table).values(
            tenant=str(tenant), tenant_key=tenant_key, name=name, token_hash=hash_token(token, self.key),
            hint=token[: len(TOKEN_PREFIX) + 4], created_at=datetime.now(UTC).replace(tzinfo=None)))
        return int(result.inserted_primary_key[0]), token

    def check(self, connection: Any, token: str) -> Principal | None:
        """The token's principal, or None.  ``connection`` may be a callable returning one: it is then
        called only when the token is not remembered, so a cached check takes no connection at all."""
        digest = hash_token(token, self.key)
        now = self.clock()
        cached = self._cache.get(digest)
        if cached is not None:
            if now < cached[0]:
                return cached[1]
            self._cache.pop(digest, None)
        if callable(connection):
            connection = connection()
        row = connection.execute(
            sa.select(self.table.c.id, self.table.c.tenant, self.table.c.name, self.table.c.token_hash)
            .where(self.table.c.token_hash == digest, self.table.c.revoked_at.is_(None))).first()
        # The lookup is by digest; compare again in constant time so timing says nothing about near misses.
        if row is None or not hmac.compare_digest(row.token_hash, digest):
            return None
        principal = Principal(tenant=row.tenant, name=row.name or f"token {row.id}", token_id=row.id)
        if self.cache_seconds > 0 and not self._revoked_lately(now, digest, row.id):
            with self._lock:
                if len(self._cache) >= TOKEN_CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)), None)  # the oldest entry
                self._cache[digest] = (now + self.cache_seconds, principal)
        return principal

    def _revoked_lately(self, now: float, *keys: Any) -> bool:
        return any(now < self._uncached.get(key, now) for key in keys)

    def _forget(self, *, token_id: int | None, digest: str | None) -> None:
        """Revocation on this process: drop the cached entry, and cache that token no more for a while."""
        with self._lock:
            until = self.clock() + self.cache_seconds
            self._uncached = {k: v for k, v in self._uncached.items() if v > self.clock()}
            for key in (token_id, digest):
                if key is not None:
                    self._uncached[key] = until
            self._cache = {d: entry for d, entry in self._cache.items()
                           if d != digest and entry[1].token_id != token_id}

    def revoke(self, connection: Any, *, token_id: int | None = None, token: str | None = None) -> int:
        digest = hash_token(token or "", self.key) if token_id is None else None
        self._forget(token_id=token_id, digest=digest)
        condition = self.table.c.id == token_id if token_id is not None else self.table.c.token_hash == digest
        result = connection.execute(sa.update(self.table).where(condition, self.table.c.revoked_at.is_(None))
                                    .values(revoked_at=datetime.now(UTC).replace(tzinfo=None)))
        return int(result.rowcount or 0)

    def list(self, connection: Any, tenant_key: str | None = None) -> list[Any]:
        query = sa.select(self.table).order_by(self.table.c.id)
        if tenant_key is not None:
            query = query.where(self.table.c.tenant_key == tenant_key)
        return list(connection.execute(query))
