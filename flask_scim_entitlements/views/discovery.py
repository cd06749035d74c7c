"""Discovery endpoints (RFC 7644 §4): ``/ServiceProviderConfig``, ``/ResourceTypes``, ``/Schemas``.

All three are generated from the registry and the configuration, so they
advertise exactly what is implemented and mapped: a feature the server does not
support is reported as unsupported, never faked.  Okta Identity Governance
reads ``/ResourceTypes`` and ``/Schemas`` to discover entitlement endpoints
(interop.md §1.2).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from flask import current_app, g

from ..errors import NotFoundError
from ..handlers import scim_response
from ..resource_types import ResourceType
from ..schemas.definitions import SchemaDefinition
from ..schemas.messages import (
    ResourceTypeSchema,
    SchemaResourceSchema,
    ServiceProviderConfigSchema,
    list_response,
)
from ..store import Store
from .common import base_url

_resource_type_schema = ResourceTypeSchema()
_schema_schema = SchemaResourceSchema()
_spc_schema = ServiceProviderConfigSchema()


def _state() -> Any:
    return current_app.extensions["scim_entitlements"]


def _list(resources: list[dict[str, Any]]) -> Any:
    return scim_response(list_response(resources, len(resources)))


def service_provider_config() -> Any:
    state = _state()
    config = state.config
    user = state.registry.user
    schemes = [{"type": "oauthbearertoken", "name": "OAuth Bearer Token", "primary": True,
                "description": "A token in the Authorization header, with or without the 'Bearer' prefix"}]
    if config.basic_auth:
        schemes.append({"type": "httpbasic", "name": "HTTP Basic",
                        "description": "HTTP Basic; the password is an API token"})
    body = {
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": True, "maxResults": config.max_page_size},
        "changePassword": {"supported": user.schema.core.attribute("password") is not None},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": schemes,
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url()}/ServiceProviderConfig"},
    }
    if config.documentation_uri:
        body["documentationUri"] = config.documentation_uri
    return scim_response(_spc_schema.dump(body))


def _resource_type_json(rt: ResourceType) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": rt.name,
        "name": rt.name,
        "endpoint": rt.endpoint,
        "description": rt.description,
        "schema": rt.schema_urn,
        "meta": {"resourceType": "ResourceType", "location": f"{base_url()}/ResourceTypes/{rt.name}"},
    }
    if rt.schema.extensions:
        body["schemaExtensions"] = [{"schema": ext.id, "required": ext.id in rt.mapping.required_extensions}
                                    for ext in rt.schema.extensions]
    return _resource_type_schema.dump(body)


def resource_types() -> Any:
    return _list([_resource_type_json(rt) for rt in _state().registry])


def resource_type(name: str) -> Any:
    rt = _state().registry.by_name(name)
    if rt is None:
        raise NotFoundError(f"ResourceType {name} not found")
    return scim_response(_resource_type_json(rt))


#: Up to this many role or entitlement ids are published as canonicalValues of ``roles.value``.
_MAX_HINTED_VALUES = 100


def _value_hints(schema: SchemaDefinition) -> SchemaDefinition:
    """Publish the ids a user's ``roles`` and ``entitlements`` may take as ``canonicalValues``.

    RFC 7643 §7 calls canonical values suggestions; here they tell a client
    which values exist (in the caller's tenant), so a generic client such as
    scim2-tester grants real roles instead of random ones.
    """
    registry = _state().registry
    if schema.id != registry.user.schema.core.id:
        return schema
    store = Store(_state().db.session, registry, g.scim_principal.tenant, base_url())

    def ids(rt: ResourceType) -> list[str]:
        total, objs = store.search(rt, None, count=_MAX_HINTED_VALUES + 1)
        if total > _MAX_HINTED_VALUES:
            return []
        return [str(getattr(obj, rt.mapping.id.key)) for obj in objs]

    hints: dict[str, dict[str, tuple[str, ...]]] = {}
    if registry.roles is not None:
        role_rt = registry.by_name(registry.roles.name)
        if role_rt is not None:
            hints["roles"] = {"value": tuple(ids(role_rt))}
    entitlement_types = registry.entitlement_resource_types()
    if entitlement_types:
        values = [v for rt in entitlement_types for v in ids(rt)]
        hints["entitlements"] = {"type": tuple(rt.name for rt in entitlement_types),
                                 "value": tuple(values) if len(values) <= _MAX_HINTED_VALUES else ()}
    attributes = []
    for attribute in schema.attributes:
        subs = hints.get(attribute.name)
        if subs:
            attribute = replace(attribute, sub_attributes=tuple(
                replace(sub, canonical_values=subs[sub.name]) if subs.get(sub.name) else sub
                for sub in attribute.sub_attributes))
        attributes.append(attribute)
    return replace(schema, attributes=tuple(attributes))


def _schema_json(schema: SchemaDefinition) -> dict[str, Any]:
    schema = _value_hints(schema)
    return _schema_schema.dump({"schema": schema, "location": f"{base_url()}/Schemas/{schema.id}"})


def schemas() -> Any:
    return _list([_schema_json(s) for s in _state().registry.schemas()])


def schema(urn: str) -> Any:
    wanted = unquote(urn).lower()
    for candidate in _state().registry.schemas():
        if candidate.id.lower() == wanted:
            return scim_response(_schema_json(candidate))
    raise NotFoundError(f"Schema {unquote(urn)} not found")
