"""The Flask extension object: ``ScimEntitlements(app=None, ...)`` + ``init_app``.

Per-app state lives in ``app.extensions["scim_entitlements"]`` (never on the
extension), so one extension object serves any number of apps built by a
factory.  The mappings are checked at ``init_app``: a mistake fails there, with
a message naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, current_app
from marshmallow import Schema
from werkzeug.local import LocalProxy

from .auth import IssuedToken, Principal, TokenStore, token_table
from .blueprint import make_blueprint
from .config import DEFAULTS, ScimConfig
from .handlers import register_prefix_handlers
from .mapping import EntitlementType, GroupMapping, MappingError, RoleType, UserMapping
from .resource_types import Registry, ResourceType
from .schemas.core import (
    ENTERPRISE_USER_URN,
    GROUP_URN,
    OKTA_ENTITLEMENT_URN,
    OKTA_ROLE_URN,
    USER_URN,
    EnterpriseUserSchema,
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
    """What one app knows of the extension."""

    def __init__(self, ext: ScimEntitlements, db: Any, registry: Registry, config: ScimConfig) -> None:
        self.ext = ext
        self.db = db
        self.registry = registry
        self.config = config
        self.tokens = TokenStore(token_table(db.metadata), config.token_hash_key)
        self._wire: dict[str, Schema] = {}
        # Optional features: their libraries are imported only when configured.
        self.rate_limiter = None
        if config.rate_limit:
            from .ratelimit import RateLimiter

            self.rate_limiter = RateLimiter(config.rate_limit, config.rate_limit_storage)
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
            extensions: dict[str, Any] = {}
            for ext in rt.schema.extensions:
                if ext.id == ENTERPRISE_USER_URN:
                    extensions[ext.id] = EnterpriseUserSchema
                elif rt.kind == "value" and rt.value_type.extension is not None:
                    extensions[ext.id] = rt.value_type.extension.schema
            schema = resource_wire_schema(rt.name, _CORE_WIRE[rt.schema_urn], extensions)
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


class ScimEntitlements:
    """A SCIM 2.0 server over the host's own Flask-SQLAlchemy models.

    ::

        scim = ScimEntitlements(db=db, users=UserMapping(User, tenant=User.org_id, attributes={...}))
        scim.init_app(app)
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
        if db is not None:
            token_table(db.metadata)  # so that create_all() and autogenerate know the package's table
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask, **mappings: Any) -> None:
        if EXTENSION_KEY in app.extensions:
            raise RuntimeError("ScimEntitlements is already registered on this app")
        for key, value in mappings.items():
            if key not in ("db", "users", "groups", "roles", "entitlement_types"):
                raise TypeError(f"init_app() got an unexpected argument {key!r}")
            setattr(self, key, tuple(value) if key == "entitlement_types" else value)
        if self.db is None or self.users is None:
            raise MappingError("ScimEntitlements needs db= (Flask-SQLAlchemy) and users=UserMapping(...)")
        for key, value in DEFAULTS.items():
            app.config.setdefault(key, value)
        config = ScimConfig.from_mapping(app.config)
        token_table(self.db.metadata)
        with app.app_context():
            registry = Registry(self.users, self.groups, self.roles, self.entitlement_types)
        state = _State(self, self.db, registry, config)
        app.extensions[EXTENSION_KEY] = state
        app.register_blueprint(make_blueprint(state))
        register_prefix_handlers(app, config.url_prefix)
        from .cli import scim_cli

        if "scim" not in app.cli.commands:
            app.cli.add_command(scim_cli)

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


def _current() -> _State:
    return current_app.extensions[EXTENSION_KEY]


#: The current app's extension state, inside a request or app context: ``current_scim.issue_token(key)``,
#: ``current_scim.revoke_token(token_id=...)``, ``current_scim.config``.
current_scim: Any = LocalProxy(_current)
