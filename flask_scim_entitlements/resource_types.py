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
    ENTERPRISE_EXTENSION,
    Association,
    BoundMapping,
    EntitlementType,
    GroupMapping,
    MappingError,
    ResourceMapping,
    RoleType,
    UserMapping,
    ValueType,
)
from .schemas import definitions as d
from .schemas.core import GROUP, GROUP_URN, OKTA_ENTITLEMENT, OKTA_ROLE, USER, USER_URN

USER_KIND, GROUP_KIND, VALUE_KIND = "user", "group", "value"


@dataclass(frozen=True)
class Link:
    """A multi-valued attribute filled from another resource type through an association table.

    The store reads and writes it, the filter compiler queries it: both take it from here.
    """

    attribute: str  # "members", "groups", "roles" or "entitlements"
    association: Association  # oriented from the resource that carries the attribute
    target: BoundMapping  # the mapping of the resources it refers to
    constants: dict[str, Any]  # sub-attributes equal on every element, e.g. {"type": "User"}


@dataclass(frozen=True, eq=False)
class ResourceType:
    name: str
    endpoint: str
    description: str
    schema_urn: str
    mapping: BoundMapping  # this app's bound copy of the host's declaration
    kind: str

    @property
    def schema(self) -> d.ResourceSchema:
        return self.mapping.schema

    @property
    def declaration(self) -> ResourceMapping:
        return self.mapping.declaration

    @property
    def value_type(self) -> ValueType:
        assert isinstance(self.declaration, ValueType)
        return self.declaration

    @property
    def is_entitlement(self) -> bool:
        return isinstance(self.declaration, EntitlementType)

    @property
    def writable(self) -> bool:
        return not isinstance(self.declaration, ValueType) or self.declaration.writable


class Registry:
    """Built per app at ``init_app`` (or blueprint registration) from the host's declarations; read-only afterwards.

    The declarations are values: the registry binds a copy of each for this app
    (:meth:`ResourceMapping.bind`) and never writes to what the host passed in,
    so one declaration may serve several apps with different configurations.
    """

    def __init__(self, users: UserMapping, groups: GroupMapping | None, roles: RoleType | None,
                 entitlement_types: tuple[EntitlementType, ...]) -> None:
        self.types: dict[str, ResourceType] = {}
        self.roles = roles  # the declaration (its name finds the bound resource type)
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
            if vt.writable and vt.tenant is None:
                # Values without a tenant are shared by every tenant: writable, any tenant could rename or
                # delete what the others grant (issue 16).
                raise MappingError(f"{type(vt).__name__}({vt.name}): writable=True needs tenant= (the column naming "
                                   "the tenant); values shared by every tenant must stay read-only")
            if vt.holders is not None:
                self.grants[vt.name] = Association.of(vt.holders, f"{vt.name}(holders=...)")
        if roles is not None and roles.holders is not None:
            user_computed["roles"] = {"value", "display"}
        if any(et.holders is not None for et in entitlement_types):
            user_computed["entitlements"] = {"value", "display", "type"}

        self.users = users.bind(USER, (ENTERPRISE_EXTENSION,), computed=user_computed)
        self._add(ResourceType("User", "/Users", "User Account", USER_URN, self.users, USER_KIND))
        self.groups: BoundMapping | None = None
        if groups is not None:
            self.groups = groups.bind(GROUP, (), computed=["members"] if self.members else [])
            self._add(ResourceType("Group", "/Groups", "Group", GROUP_URN, self.groups, GROUP_KIND))
        for vt in value_types:
            core = OKTA_ROLE if isinstance(vt, RoleType) else OKTA_ENTITLEMENT
            bound = vt.bind(core, (), computed=["type"] if isinstance(vt, EntitlementType) else [])
            self._add(ResourceType(vt.name, vt.endpoint, vt.description or vt.name, vt.urn, bound, VALUE_KIND))

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
                out.append(Link("roles", self.grants[self.roles.name], self.types[self.roles.name].mapping, {}))
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
