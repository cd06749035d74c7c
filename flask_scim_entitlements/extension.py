"""The Flask extension object: ``ScimEntitlements(app=None, ...)``, ``init_app`` and ``blueprint``.

Per-app state lives in ``app.extensions["scim_entitlements"]`` (never on the
extension), so one extension object serves any number of apps built by a
factory.  It is created by ``init_app`` or by the first registration of
``scim.blueprint``: either is enough.  The mappings are checked then: a
mistake fails there, with a message naming it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app
from marshmallow import Schema
from werkzeug.local import LocalProxy

from .auth import IssuedToken, Principal, TokenStore, token_table
from .blueprint import make_blueprint
from .config import DEFAULTS, ScimConfig
from .mapping import EntitlementType, GroupMapping, MappingError, RoleType, UserMapping
from .prefix import Mount
from .resource_types import Registry, ResourceType
from .schemas.core import (
    GROUP_URN,
    OKTA_ENTITLEMENT_URN,
    OKTA_ROLE_URN,
    USER_URN,
    GroupSchema,
    OktaEntitlementSchema,
    OktaRoleSchema,
    UserSchema,
)
from .schemas.messages import resource_wire_schema

EXTENSION_KEY = "scim_entitlements"

_CORE_WIRE = {USER_URN: UserSchema, GROUP_URN: GroupSchema, OKTA_ROLE_URN: OktaRoleSchema,
              OKTA_ENTITLEMENT_URN: OktaEntitlementSchema}


class _State:
    """What one app knows of the extension: its bound registry, configuration, token store and mounts."""

    def __init__(self, ext: ScimEntitlements, db: Any, registry: Registry, config: ScimConfig) -> None:
        self.ext = ext
        self.db = db
        self.registry = registry
        self.config = config
        self.tokens = TokenStore(token_table(db.metadata), config.token_hash_key,
                                 cache_seconds=config.token_cache_seconds)
        #: Registered blueprint name -> where that registration is mounted (see prefix.py).
        self.mounts: dict[str, Mount] = {}
        self._wire: dict[str, Schema] = {}
        #: Request host key -> this app's ``request.host_url`` for it (views.common.base_url).
        self.host_urls: dict[tuple[str, ...], str] = {}
        # Optional features: their libraries are imported only when configured.
        self.rate_limiter = None
        if config.rate_limit:
            from .ratelimit import RateLimiter

            self.rate_limiter = RateLimiter(config.rate_limit, config.rate_limit_storage)
        self.concurrency = None
        if config.max_concurrent_per_tenant:
            from .ratelimit import ConcurrencyLimiter

            self.concurrency = ConcurrencyLimiter(config.max_concurrent_per_tenant)
        self.jwt_verifier = None
        if config.oauth_issuer:
            from .oauth import JwtVerifier

            self.jwt_verifier = JwtVerifier(
                issuer=config.oauth_issuer, audience=config.oauth_audience or "",
                tenant_claim=config.oauth_tenant_claim, algorithms=list(config.oauth_algorithms),
                jwks_url=config.oauth_jwks_url, jwks=config.oauth_jwks)

    @property
    def credential_loaders(self) -> list[Callable[[str], Principal | None]]:
        return self.ext._credential_loaders

    def wire_schema(self, rt: ResourceType) -> Schema:
        schema = self._wire.get(rt.name)
        if schema is None:
            schema = resource_wire_schema(rt.name, _CORE_WIRE[rt.schema_urn], dict(rt.mapping.extension_schemas),
                                          required=rt.mapping.required_extensions)
            self._wire[rt.name] = schema
        return schema

    def resolve_tenant(self, key: str, *, create: bool = False) -> Any:
        loader = self.ext._tenant_loader
        return key if loader is None else loader(key, create)

    def issue_token(self, tenant_key: str, name: str = "") -> IssuedToken:
        """Issue a token for the tenant ``tenant_key`` (resolved by the tenant loader) and commit it.

        The value is shown once: only its hash is stored.  Raises ``LookupError`` for an unknown tenant.
        """
        tenant = self.resolve_tenant(tenant_key, create=True)
        if tenant is None:
            raise LookupError(f"unknown tenant {tenant_key!r}")
        session = self.db.session
        issued = IssuedToken(*self.tokens.issue(session.connection(), tenant, tenant_key, name))
        session.commit()
        return issued

    def revoke_token(self, *, token_id: int | None = None, token: str | None = None) -> bool:
        """Revoke a token given its id or its value, and commit; False if there was no such active token."""
        session = self.db.session
        count = self.tokens.revoke(session.connection(), token_id=token_id, token=token)
        session.commit()
        return count > 0


_MAPPING_ARGUMENTS = ("db", "users", "groups", "roles", "entitlement_types")


class ScimEntitlements:
    """A SCIM 2.0 server over the host's own Flask-SQLAlchemy models.

    ::

        scim = ScimEntitlements(db=db, users=UserMapping(User, tenant=User.org_id, attributes={...}))
        app.register_blueprint(scim.blueprint)     # or: scim.init_app(app)

    The arguments are declarations, shared by every app the extension serves and
    never modified; ``init_app(app, users=...)`` overrides one for that app only.
    """

    def __init__(self, app: Flask | None = None, *, db: Any = None, users: UserMapping | None = None,
                 groups: GroupMapping | None = None, roles: RoleType | None = None,
                 entitlement_types: tuple[EntitlementType, ...] | list[EntitlementType] = ()) -> None:
        self.db = db
        self.users = users
        self.groups = groups
        self.roles = roles
        self.entitlement_types = tuple(entitlement_types)
        self._credential_loaders: list[Callable[[str], Principal | None]] = []
        self._tenant_loader: Callable[[str, bool], Any] | None = None
        #: Register it on an app (``app.register_blueprint(scim.blueprint, url_prefix=...)``) to serve SCIM there.
        self.blueprint = make_blueprint(self)
        if db is not None:
            token_table(db.metadata)  # so that create_all() and autogenerate know the package's table
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **mappings: Any) -> None:
        """Set the app up and mount the blueprint at ``SCIM_URL_PREFIX``; ``mappings`` apply to this app only."""
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("ScimEntitlements is already registered on this app")
        state = self._create_state(app, mappings)
        app.register_blueprint(self.blueprint, url_prefix=state.config.url_prefix)

    def _state_for(self, app: Flask | Any) -> _State:
        """The app's state, created from the extension's declarations on a first ``register_blueprint``."""
        state = app.extensions.get(EXTENSION_KEY)
        if state is None:
            return self._create_state(app, {})
        if state.ext is not self:
            raise RuntimeError("another ScimEntitlements is already registered on this app")
        return state  # type: ignore[no-any-return]

    def _create_state(self, app: Flask | Any, mappings: dict[str, Any]) -> _State:
        for key in mappings:
            if key not in _MAPPING_ARGUMENTS:
                raise TypeError(f"init_app() got an unexpected argument {key!r}")
        # This app's declarations: the extension's, overridden by init_app's (kept here, never on self).
        declared = {key: mappings.get(key, getattr(self, key)) for key in _MAPPING_ARGUMENTS}
        db, users = declared["db"], declared["users"]
        if db is None or users is None:
            raise MappingError("ScimEntitlements needs db= (Flask-SQLAlchemy) and users=UserMapping(...)")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        config = ScimConfig.from_mapping(app.config)
        token_table(db.metadata)
        with app.app_context():
            registry = Registry(users, declared["groups"], declared["roles"], tuple(declared["entitlement_types"]))
            _warn_if_sqlite_reuses_ids(db, (registry.users, registry.groups))
        state = _State(self, db, registry, config)
        app.extensions[EXTENSION_KEY] = state
        return state

    def credential_loader(self, fn: Callable[[str], Principal | None]) -> Callable[[str], Principal | None]:
        """Register ``fn(secret) -> Principal | None`` for the host's own credentials (e.g. an org API key).

        Loaders are tried in order before the package's token table.
        """
        self._credential_loaders.append(fn)
        return fn

    def tenant_loader(self, fn: Callable[[str, bool], Any]) -> Callable[[str, bool], Any]:
        """Register ``fn(key, create) -> tenant value or None``, used by ``flask scim create-token --tenant KEY``.

        Without one, the key itself is the tenant value.
        """
        self._tenant_loader = fn
        return fn

    def issue_token(self, tenant_key: str, name: str = "") -> IssuedToken:
        """``(id, token)``: a new token for ``tenant_key`` on the current app (inside an app context),
        committed; the token's value is shown only here.  Same as ``current_scim.issue_token``."""
        return _current().issue_token(tenant_key, name)

    def revoke_token(self, *, token_id: int | None = None, token: str | None = None) -> bool:
        """Revoke a token of the current app by id or value; same as ``current_scim.revoke_token``."""
        return _current().revoke_token(token_id=token_id, token=token)


def _warn_if_sqlite_reuses_ids(db: Any, mappings: tuple[Any, ...]) -> None:
    """RFC 7643 §3.1: an id is never reassigned, and identity providers keep it as the account's anchor.

    SQLite hands the largest deleted rowid out again unless the table is declared ``AUTOINCREMENT``
    (``__table_args__ = {"sqlite_autoincrement": True}``): the next user, in any tenant, would take a
    deleted user's id, and with it whatever the host keyed on it.  A warning, not an error: a host's
    existing schema may need a migration first.
    """
    try:
        engines = db.engines
    except (KeyError, RuntimeError):  # db.init_app(app) not called yet: nothing to tell
        return
    for mapping in mappings:
        if mapping is None:
            continue
        column: Any = getattr(mapping.id, "expression", None)
        table: Any = getattr(column, "table", None)
        if table is None or not isinstance(column.type, sa.Integer) or list(table.primary_key.columns) != [column]:
            continue
        engine = engines.get(table.info.get("bind_key"))
        if engine is not None and engine.dialect.name == "sqlite" and not table.kwargs.get("sqlite_autoincrement"):
            logging.getLogger(__name__).warning(
                "%s.%s is an SQLite integer primary key without AUTOINCREMENT: SQLite reuses the id of the "
                "newest deleted row, and SCIM ids must never be reused (RFC 7643 §3.1). Declare the table with "
                '__table_args__ = {"sqlite_autoincrement": True} (and migrate it), or use ids that are never '
                "reused (e.g. UUIDs).", table.name, column.name)


def _current() -> _State:
    return current_app.extensions[EXTENSION_KEY]


#: The current app's extension state, inside a request or app context: ``current_scim.issue_token(key)``,
#: ``current_scim.revoke_token(token_id=...)``, ``current_scim.config``.
current_scim: Any = LocalProxy(_current)
