"""The registry of resource types: one machinery for Users, Groups, Roles and entitlements.

A :class:`ResourceType` is a SCIM schema (+ extensions) and a mapping onto a
host model.  ``/ResourceTypes`` and ``/Schemas`` are rendered from the
registry, the views are generic over it, and the store reads the mapping from
it.  Adding a ``License`` type to an app is one :class:`EntitlementType`
declaration, not new views.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .mapping import (
    Association,
    EntitlementType,
    GroupMapping,
    MappingError,
    ResourceMapping,
    RoleType,
    UserMapping,
    ValueType,
)
from .schemas import definitions as d
from .schemas.core import ENTERPRISE_USER, GROUP, GROUP_URN, OKTA_ENTITLEMENT, OKTA_ROLE, USER, USER_URN

USER_KIND, GROUP_KIND, VALUE_KIND = "user", "group", "value"


@dataclass(frozen=True)
class Link:
    """A multi-valued attribute filled from another resource type through an association table.

    The store reads and writes it, the filter compiler queries it: both take it from here.
    """

    attribute: str  # "members", "groups", "roles" or "entitlements"
    association: Association  # oriented from the resource that carries the attribute
    target: ResourceMapping  # the mapping of the resources it refers to
    constants: dict[str, Any]  # sub-attributes equal on every element, e.g. {"type": "User"}


@dataclass
class ResourceType:
    name: str
    endpoint: str
    description: str
    schema_urn: str
    mapping: ResourceMapping
    kind: str

    @property
    def schema(self) -> d.ResourceSchema:
        return self.mapping.schema

    @property
    def value_type(self) -> ValueType:
        assert isinstance(self.mapping, ValueType)
        return self.mapping

    @property
    def is_entitlement(self) -> bool:
        return isinstance(self.mapping, EntitlementType)

    @property
    def writable(self) -> bool:
        return not isinstance(self.mapping, ValueType) or self.mapping.writable


class Registry:
    """Built once per extension at ``init_app``; read-only afterwards."""

    def __init__(self, users: UserMapping, groups: GroupMapping | None, roles: RoleType | None,
                 entitlement_types: tuple[EntitlementType, ...]) -> None:
        self.types: dict[str, ResourceType] = {}
        self.users = users
        self.groups = groups
        self.roles = roles
        self.entitlement_types = entitlement_types
        self.members: Association | None = None
        self.grants: dict[str, Association] = {}  # value type name -> user<->value association
        self._links: dict[str, list[Link]] = {}

        user_computed: dict[str, set[str] | None] = {}
        if groups is not None and groups.members is not None:
            self.members = Association.of(groups.members, "GroupMapping(members=...)")
            user_computed["groups"] = None
        value_types: list[ValueType] = [*([roles] if roles else []), *entitlement_types]
        seen: set[str] = set()
        for vt in value_types:
            if not vt.name or not vt.endpoint.startswith("/"):
                raise MappingError(f"{type(vt).__name__}: name and an endpoint starting with '/' are required")
            if vt.name.lower() in seen or vt.name in {"User", "Group"}:
                raise MappingError(f"resource type name {vt.name!r} is used twice")
            seen.add(vt.name.lower())
            if vt.holders is not None:
                self.grants[vt.name] = Association.of(vt.holders, f"{vt.name}(holders=...)")
        if roles is not None and roles.holders is not None:
            user_computed["roles"] = {"value", "display"}
        if any(et.holders is not None for et in entitlement_types):
            user_computed["entitlements"] = {"value", "display", "type"}

        users.bind(USER, (ENTERPRISE_USER,), computed=user_computed)
        self._add(ResourceType("User", "/Users", "User Account", USER_URN, users, USER_KIND))
        if groups is not None:
            groups.bind(GROUP, (), computed=["members"] if self.members else [])
            self._add(ResourceType("Group", "/Groups", "Group", GROUP_URN, groups, GROUP_KIND))
        for vt in value_types:
            core = OKTA_ROLE if isinstance(vt, RoleType) else OKTA_ENTITLEMENT
            extensions = (vt.extension.definition(),) if vt.extension else ()
            if vt.extension is not None:
                for attr_name, column in vt.extension.attributes.items():
                    vt.attributes.setdefault(f"{vt.extension.urn}:{attr_name}", column)
            vt.bind(core, extensions, computed=["type"] if isinstance(vt, EntitlementType) else [])
            self._add(ResourceType(vt.name, vt.endpoint, vt.description or vt.name, vt.urn, vt, VALUE_KIND))

    def _add(self, rt: ResourceType) -> None:
        for other in self.types.values():
            if other.endpoint.lower() == rt.endpoint.lower():
                raise MappingError(f"endpoint {rt.endpoint!r} is used by {other.name} and {rt.name}")
        self.types[rt.name] = rt

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self.types.values())

    def by_name(self, name: str) -> ResourceType | None:
        for rt in self.types.values():
            if rt.name.lower() == name.lower():
                return rt
        return None

    @property
    def user(self) -> ResourceType:
        return self.types["User"]

    @property
    def group(self) -> ResourceType | None:
        return self.types.get("Group")

    def links(self, rt: ResourceType) -> list[Link]:
        """The linked attributes of ``rt``: group members; a user's groups, roles and entitlements."""
        cached = self._links.get(rt.name)
        if cached is not None:
            return cached
        out: list[Link] = []
        if rt.kind == GROUP_KIND and self.members is not None:
            out.append(Link("members", self.members, self.users, {"type": "User"}))
        if rt.kind == USER_KIND:
            if self.members is not None and self.groups is not None:
                out.append(Link("groups", self.members.reversed(), self.groups, {"type": "direct"}))
            if self.roles is not None and self.roles.name in self.grants:
                out.append(Link("roles", self.grants[self.roles.name], self.roles, {}))
            for ert in self.entitlement_resource_types():
                out.append(Link("entitlements", self.grants[ert.name], ert.mapping, {"type": ert.name}))
        self._links[rt.name] = out
        return out

    def value_types(self) -> list[ResourceType]:
        return [rt for rt in self.types.values() if rt.kind == VALUE_KIND]

    def entitlement_resource_types(self) -> list[ResourceType]:
        return [rt for rt in self.value_types() if rt.is_entitlement and rt.name in self.grants]

    def schemas(self) -> list[d.SchemaDefinition]:
        """Every schema advertised in ``/Schemas``, each once."""
        out: dict[str, d.SchemaDefinition] = {}
        for rt in self.types.values():
            for schema in (rt.schema.core, *rt.schema.extensions):
                out.setdefault(schema.id, schema)
        return list(out.values())
