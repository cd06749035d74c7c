"""The blueprint mounted at ``SCIM_URL_PREFIX``: routes, authentication, error rendering.

One blueprint is built per app (the prefix is per-app configuration); its
routes are generated from the registry, so every resource type, including
each host-declared entitlement type, gets the same endpoints.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g, request
from werkzeug.exceptions import HTTPException

from .auth import Principal, parse_authorization
from .errors import NotImplementedScimError, ScimError, UnauthorizedError
from .handlers import handle_http_exception, handle_scim_error, handle_unexpected
from .resource_types import ResourceType
from .views import discovery, resources


def _bind(view: Callable[..., Any], rt: ResourceType) -> Callable[..., Any]:
    def bound(**kwargs: Any) -> Any:
        return view(rt, **kwargs)

    bound.__name__ = f"{view.__name__}_{rt.name}"
    return bound


def _authenticate() -> None:
    """Every endpoint, discovery included, needs a credential (interop.md §3 pitfall 11)."""
    state = current_app.extensions["scim_entitlements"]
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
            principal = state.tokens.check(state.db.session.connection(), credential.secret)
    if principal is None:
        raise UnauthorizedError("A valid token is required in the Authorization header")
    g.scim_principal = principal
    if state.rate_limiter is not None:
        state.rate_limiter.hit(principal.tenant)


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


def make_blueprint(state: Any) -> Blueprint:
    bp = Blueprint("scim", __name__, url_prefix=state.config.url_prefix)
    bp.before_request(_authenticate)
    bp.after_request(_rollback)
    bp.register_error_handler(ScimError, handle_scim_error)
    bp.register_error_handler(HTTPException, handle_http_exception)
    bp.register_error_handler(Exception, handle_unexpected)

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

    for rt in state.registry:
        ep = rt.endpoint
        name = rt.name
        bp.add_url_rule(ep, f"{name}_list", _bind(resources.list_resources, rt), methods=["GET"])
        bp.add_url_rule(ep, f"{name}_create", _bind(resources.create_resource, rt), methods=["POST"])
        bp.add_url_rule(f"{ep}/.search", f"{name}_search", _bind(resources.search_resources, rt), methods=["POST"])
        item = f"{ep}/<resource_id>"
        bp.add_url_rule(item, f"{name}_get", _bind(resources.get_resource, rt), methods=["GET"])
        bp.add_url_rule(item, f"{name}_replace", _bind(resources.replace_resource, rt), methods=["PUT"])
        bp.add_url_rule(item, f"{name}_patch", _bind(resources.patch_resource, rt), methods=["PATCH"])
        bp.add_url_rule(item, f"{name}_delete", _bind(resources.delete_resource, rt), methods=["DELETE"])
    return bp
