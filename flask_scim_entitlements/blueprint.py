"""The public blueprint: routes, authentication, error rendering; ``scim.blueprint``.

Registering it is enough: ``app.register_blueprint(scim.blueprint, url_prefix="/scim/v2")``
sets up the app's state (``app.extensions["scim_entitlements"]``, built from
the extension's declarations), the SCIM error handlers for the prefix and the
``flask scim`` commands; ``scim.init_app(app)`` does the same and mounts it at
``SCIM_URL_PREFIX``.  One blueprint object serves every app: the routes of
each resource type (each host-declared entitlement type included) are added
per registration from that app's registry (:meth:`ScimBlueprint.register`,
then a :meth:`~flask.Blueprint.record` callback), so two apps may map
different resource types.

The prefix may hold one variable, the tenant (``/scim/v2/<tenant>``): it must
name the credential's tenant, or the request is a 404 (see :mod:`.prefix`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flask import Blueprint, current_app, g, request
from flask.sansio.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException

from .auth import Principal, parse_authorization
from .errors import NotFoundError, NotImplementedScimError, ScimError, UnauthorizedError
from .handlers import handle_http_exception, handle_scim_error, handle_unexpected, register_prefix_handlers
from .prefix import Mount
from .resource_types import ResourceType
from .views import discovery, resources

if TYPE_CHECKING:
    from flask.sansio.app import App

    from .extension import ScimEntitlements


def _bind(view: Callable[..., Any], rt: ResourceType) -> Callable[..., Any]:
    def bound(**kwargs: Any) -> Any:
        return view(rt, **kwargs)

    bound.__name__ = f"{view.__name__}_{rt.name}"
    return bound


def _take_path_tenant(_endpoint: str | None, values: dict[str, Any] | None) -> None:
    """The tenant segment of the prefix is not a view argument: keep it for the credential check."""
    mount = current_app.extensions["scim_entitlements"].mounts.get(request.blueprint)
    if mount is not None and mount.variable is not None and values:
        g.scim_path_tenant = values.pop(mount.variable, None)


def _authenticate() -> None:
    """Every endpoint, discovery included, needs a credential (interop.md §3 pitfall 11)."""
    state = current_app.extensions["scim_entitlements"]
    _limit_statement_time(state)
    credential = parse_authorization(request.headers.get("Authorization"), allow_basic=state.config.basic_auth)
    principal = None
    if credential is not None and credential.token and state.jwt_verifier is not None:
        from .oauth import looks_like_jwt

        if looks_like_jwt(credential.token):
            claimed = state.jwt_verifier.verify(credential.token)
            if claimed is not None:
                tenant = state.resolve_tenant(str(claimed.tenant), create=False)
                principal = None if tenant is None else Principal(tenant=tenant, name=claimed.name)
    if principal is None and credential is not None and credential.secret:
        for loader in state.credential_loaders:
            principal = loader(credential.secret)
            if principal is not None:
                break
        if principal is None and state.config.token_table:
            principal = state.tokens.check(state.db.session.connection, credential.secret)
    if principal is None:
        raise UnauthorizedError("A valid token is required in the Authorization header")
    mount = state.mounts.get(request.blueprint)
    if mount is not None and mount.variable is not None:
        # A tenant in the path is resolved like `flask scim create-token --tenant KEY` and must be the
        # credential's: another tenant's base URL answers as if nothing were there (no hint it exists).
        key = g.get("scim_path_tenant")
        tenant = state.resolve_tenant(str(key), create=False) if key else None
        if tenant is None or str(tenant) != str(principal.tenant):
            raise NotFoundError(f"No SCIM endpoint at {request.path}")
    g.scim_principal = principal
    if state.concurrency is not None:
        state.concurrency.enter(principal.tenant)
        g.scim_concurrency_slot = principal.tenant
    if state.rate_limiter is not None:
        state.rate_limiter.hit(principal.tenant)


def _leave(_exc: BaseException | None) -> None:
    if "scim_concurrency_slot" in g:
        current_app.extensions["scim_entitlements"].concurrency.leave(g.pop("scim_concurrency_slot"))


def _limit_statement_time(state: Any) -> None:
    """PostgreSQL: no statement of this request runs past ``SCIM_STATEMENT_TIMEOUT_MS`` (then a 503).

    ``set_config(..., true)`` is ``SET LOCAL``: it lasts until the request's transaction ends (one
    request, one transaction: design-notes.md), so a pooled connection goes back without it.
    """
    if state.config.statement_timeout_ms > 0 and state.db.engine.dialect.name == "postgresql":
        # Sent as the driver's text (the value is a validated int): no statement to build or compile.
        state.db.session.connection().exec_driver_sql(
            f"SELECT set_config('statement_timeout', '{int(state.config.statement_timeout_ms)}', true)")


def _rollback(response: Any) -> Any:
    # Nothing of a failed request is kept: the teardown would roll back too, but say it where it happens.
    if response.status_code >= 400:
        current_app.extensions["scim_entitlements"].db.session.rollback()
    return response


def _not_implemented(what: str) -> Callable[..., Any]:
    def view(**_kwargs: Any) -> Any:
        raise NotImplementedScimError(f"{what} is not supported by this service provider")

    view.__name__ = "not_implemented_" + "".join(c for c in what if c.isalnum())
    return view


def _mount(setup: BlueprintSetupState) -> None:
    """Per registration: record where it is mounted, add this app's resource routes and prefix handlers."""
    state = setup.app.extensions["scim_entitlements"]
    mount = Mount.parse(setup.url_prefix)
    state.mounts[f"{setup.name_prefix}.{setup.name}".lstrip(".")] = mount
    for rt in state.registry:
        ep = rt.endpoint
        name = rt.name
        setup.add_url_rule(ep, f"{name}_list", _bind(resources.list_resources, rt), methods=["GET"])
        setup.add_url_rule(ep, f"{name}_create", _bind(resources.create_resource, rt), methods=["POST"])
        setup.add_url_rule(f"{ep}/.search", f"{name}_search", _bind(resources.search_resources, rt), methods=["POST"])
        item = f"{ep}/<resource_id>"
        setup.add_url_rule(item, f"{name}_get", _bind(resources.get_resource, rt), methods=["GET"])
        setup.add_url_rule(item, f"{name}_replace", _bind(resources.replace_resource, rt), methods=["PUT"])
        setup.add_url_rule(item, f"{name}_patch", _bind(resources.patch_resource, rt), methods=["PATCH"])
        setup.add_url_rule(item, f"{name}_delete", _bind(resources.delete_resource, rt), methods=["DELETE"])
    register_prefix_handlers(setup.app, mount)


class ScimBlueprint(Blueprint):
    """The blueprint of one :class:`~.extension.ScimEntitlements`; registering it sets the app up."""

    def __init__(self, extension: ScimEntitlements) -> None:
        super().__init__("scim", __name__, cli_group=None)
        self._extension = extension

    def register(self, app: App, options: dict[str, Any]) -> None:
        # The app's state first: the record callbacks read its registry and configuration.
        state = self._extension._state_for(app)  # noqa: SLF001 - the extension and its blueprint are one unit
        if options.get("url_prefix") is None:
            options = {**options, "url_prefix": state.config.url_prefix}
        super().register(app, options)


def make_blueprint(extension: ScimEntitlements) -> ScimBlueprint:
    from .cli import scim_cli

    bp = ScimBlueprint(extension)
    bp.url_value_preprocessor(_take_path_tenant)
    bp.before_request(_authenticate)
    bp.after_request(_rollback)
    bp.teardown_request(_leave)
    bp.register_error_handler(ScimError, handle_scim_error)
    bp.register_error_handler(HTTPException, handle_http_exception)
    bp.register_error_handler(Exception, handle_unexpected)
    bp.cli.add_command(scim_cli)

    bp.add_url_rule("/ServiceProviderConfig", view_func=discovery.service_provider_config)
    bp.add_url_rule("/ResourceTypes", view_func=discovery.resource_types)
    bp.add_url_rule("/ResourceTypes/<name>", view_func=discovery.resource_type)
    bp.add_url_rule("/Schemas", view_func=discovery.schemas)
    bp.add_url_rule("/Schemas/<path:urn>", view_func=discovery.schema)
    # RFC 7644 §3.7 (Bulk), §3.11 (/Me) and root §3.4.3 searches are not offered;
    # /ServiceProviderConfig says bulk.supported=false.
    bp.add_url_rule("/Bulk", view_func=_not_implemented("Bulk"), methods=["POST"])
    bp.add_url_rule("/Me", view_func=_not_implemented("/Me"), methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    bp.add_url_rule("/.search", view_func=_not_implemented("Searching across resource types (POST /.search)"),
                    methods=["POST"])
    bp.record(_mount)
    return bp
