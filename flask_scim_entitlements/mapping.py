"""How a host's SQLAlchemy models map onto SCIM resource types.

The package owns no user, group or role tables: the host describes its own
models with the objects below and hands them to :class:`ScimEntitlements`.

- :class:`UserMapping` and :class:`GroupMapping` map the core resource types;
- :class:`RoleType` maps ``/Roles`` (Okta's Role schema) and :class:`EntitlementType`
  any number of entitlement endpoints (``/Licenses``, ``/Characteristics``...);
- inside ``attributes``, a key is a SCIM attribute path (``"userName"``,
  ``"name.givenName"``, ``"urn:...:enterprise:2.0:User:employeeNumber"``) and a
  value is a column (``User.email``), an :class:`Attr` (getter/setter code), or,
  for multi-valued complex attributes kept in a child table, a :class:`MultiValued`;
- :class:`Extension` declares the host's own schema extension of any resource type.

Declarations are values: frozen, keyword-only after the model (a positional
``EntitlementType(License, "License", "/Licenses")`` is a ``TypeError``, not a
silently misplaced ``id``), their dicts copied read-only.  Each app gets its
own :class:`BoundMapping`, built by :meth:`ResourceMapping.bind` when the
extension is initialised: an unknown SCIM attribute or a column of another
model fails then, with a message naming it, rather than on the first request;
nothing is written to the host's objects.

Multi-valued references between resources (group ``members``, a user's
``roles`` and entitlements) are many-to-many ``relationship()`` s with a
``secondary`` table; the store reads and writes that association table with
set-based statements (:class:`Association`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.orm.relationships import RelationshipProperty

from .schemas import definitions as d
from .schemas.base import definition_of
from .schemas.core import ENTERPRISE_USER_URN, OKTA_ENTITLEMENT_URN, OKTA_ROLE_URN, EnterpriseUserSchema


class MappingError(TypeError):
    """A mapping that cannot work; raised at ``init_app``, naming the culprit."""


@dataclass(frozen=True, kw_only=True, eq=False)
class Attr:
    """An attribute that needs code.

    ``get(obj)`` returns the SCIM value; ``set(obj, value)`` stores it (``None`` clears).
    ``column`` (optional) is the SQL expression used to filter and sort on it;
    without one, filtering on the attribute is a 400 ``invalidFilter``.
    """

    get: Callable[[Any], Any] | None = None
    set: Callable[[Any, Any], None] | None = None
    column: Any = None


@dataclass(frozen=True, eq=False)
class MultiValued:
    """A multi-valued complex attribute (``emails``, ``phoneNumbers``) kept in a child table.

    ``relationship`` is the one-to-many relationship (``User.emails``); the keyword
    arguments map sub-attributes to the child model's columns
    (``value=Email.address, type=Email.kind, primary=Email.primary``).
    """

    relationship: Any
    columns: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, relationship: Any, **columns: Any) -> None:
        object.__setattr__(self, "relationship", relationship)
        object.__setattr__(self, "columns", MappingProxyType(dict(columns)))

    @property
    def child_model(self) -> type:
        return self.relationship.property.mapper.class_

    @property
    def parent_columns(self) -> list[tuple[Any, Any]]:
        """(parent column, child foreign-key column) pairs."""
        return list(self.relationship.property.local_remote_pairs)


@dataclass(frozen=True)
class Association:
    """A many-to-many link through a ``secondary`` table, for set-based reads and writes."""

    table: sa.Table
    owner_key: sa.Column  # the association column pointing at the owning side (group, user)
    target_key: sa.Column  # the association column pointing at the target (member, role)
    owner_id: Any  # the owning model's referenced column
    target_id: Any  # the target model's referenced column

    @classmethod
    def of(cls, relationship: Any, what: str) -> Association:
        prop = getattr(relationship, "property", None)
        if not isinstance(prop, RelationshipProperty) or prop.secondary is None:
            raise MappingError(
                f"{what} must be a many-to-many relationship() with a secondary table, got {relationship!r}")
        sa.orm.configure_mappers()
        (owner_id, owner_key), = prop.synchronize_pairs
        (target_id, target_key), = prop.secondary_synchronize_pairs or ()
        # A secondary table's synchronize pairs are its Columns (typed as the wider ColumnElement).
        return cls(cast(sa.Table, prop.secondary), cast(sa.Column, owner_key), cast(sa.Column, target_key),
                   owner_id, target_id)

    def reversed(self) -> Association:
        """The same link seen from the target's side (a user's groups from group members)."""
        return Association(self.table, self.target_key, self.owner_key, self.target_id, self.owner_id)


def _is_column(value: Any) -> bool:
    return isinstance(value, InstrumentedAttribute) or isinstance(value, sa.ColumnElement)


def _model_of(column: Any) -> type | None:
    return getattr(column, "class_", None)


@dataclass(frozen=True, kw_only=True, eq=False)
class Extension:
    """A schema extension (RFC 7643 §3.3): its own URN, attributes and a marshmallow schema.

    ``schema`` is a :class:`~flask_scim_entitlements.schemas.ScimSchema` whose
    fields are declared with :func:`~flask_scim_entitlements.schemas.attr`, with
    the same types and characteristics as core attributes; ``attributes`` maps
    its attribute names (``"costCenter"``, ``"badge.number"`` for a sub-attribute)
    to the host model's columns, :class:`Attr` or :class:`MultiValued`.
    ``required`` is published in ``/ResourceTypes`` (``schemaExtensions``) and
    enforced on writes: a resource must then carry the extension.
    """

    urn: str
    schema: Any
    attributes: Mapping[str, Any] = field(default_factory=dict)
    required: bool = False
    name: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.urn, str) or not self.urn.lower().startswith("urn:"):
            raise MappingError(f"Extension(urn={self.urn!r}): the URN must start with 'urn:'")
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    def definition(self) -> d.SchemaDefinition:
        return definition_of(self.schema, urn=self.urn, name=self.name or self.urn.rsplit(":", 1)[-1],
                             description=self.description)


#: RFC 7643 §4.3, on every user mapping; its attributes are mapped with URN-qualified keys in ``attributes``.
ENTERPRISE_EXTENSION = Extension(urn=ENTERPRISE_USER_URN, schema=EnterpriseUserSchema, name="EnterpriseUser",
                                 description="Enterprise User")


@dataclass(frozen=True, eq=False)
class ResourceMapping:
    """The declaration of one resource type's mapping onto a host model: a value, never modified.

    At ``init_app`` (or blueprint registration) the registry checks it and builds a
    per-app :class:`BoundMapping` from it, held in ``app.extensions``; the
    declaration itself is left as the host wrote it, so one declaration may serve
    several apps.
    """

    model: type
    _: KW_ONLY
    id: Any = None
    tenant: Any = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    created: Any = None
    last_modified: Any = None
    #: The host's own schema extensions (RFC 7643 §3.3) of this resource type.
    extensions: tuple[Extension, ...] = ()

    def __post_init__(self) -> None:
        # Copies, read-only: a later change to the host's dict or list cannot reach a bound app.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))
        extensions = tuple(self.extensions)
        for ext in extensions:
            if not isinstance(ext, Extension):
                raise MappingError(f"{type(self).__name__}({self.model.__name__}): extensions= takes "
                                   f"Extension(...) objects, got {ext!r}")
        object.__setattr__(self, "extensions", extensions)

    def _check_column(self, path: str, column: Any) -> None:
        owner = _model_of(column)
        if owner is not None and not issubclass(self.model, owner) and not issubclass(owner, self.model):
            raise MappingError(
                f"{type(self).__name__}({self.model.__name__}): attribute {path!r} is mapped to a column of "
                f"{owner.__name__}, not of {self.model.__name__}"
            )

    def _id_column(self) -> Any:
        if self.id is not None:
            return self.id
        primary: tuple[Any, ...] = tuple(sa.inspect(self.model).primary_key)
        if len(primary) != 1:
            raise MappingError(f"{self.model.__name__}: give id= explicitly (composite primary key)")
        return getattr(self.model, primary[0].key)

    def _all_attributes(self, standard: tuple[Extension, ...]) -> dict[str, Any]:
        """``attributes`` and every extension's attributes, the latter under URN-qualified keys."""
        merged = dict(self.attributes)
        seen = {ext.urn.lower() for ext in standard}
        for ext in self.extensions:
            if ext.urn.lower() in seen:
                raise MappingError(f"{type(self).__name__}({self.model.__name__}): extension {ext.urn} is "
                                   "declared twice (the enterprise extension is mapped with URN-qualified keys "
                                   "in attributes=)")
            seen.add(ext.urn.lower())
            for name, target in ext.attributes.items():
                key = f"{ext.urn}:{name}"
                if any(k.lower() == key.lower() for k in merged):
                    raise MappingError(f"{key!r} is mapped twice (in attributes= and in its Extension)")
                merged[key] = target
        return merged

    def bind(self, core: d.SchemaDefinition, standard: Iterable[Extension] = (),
             computed: Iterable[str] | Mapping[str, set[str] | None] = ()) -> BoundMapping:
        """Check the declaration against the schemas; return the per-app bound copy with the advertised schema.

        ``standard`` are the extensions the package knows for this resource type (the
        enterprise extension for users); the declaration's own ``extensions`` come after them.
        """
        standard = tuple(standard)
        extensions = (*standard, *self.extensions)
        full = d.ResourceSchema(core, tuple(ext.definition() for ext in extensions))
        id_column = self._id_column()
        for col in (id_column, self.tenant, self.created, self.last_modified):
            if col is not None:
                self._check_column("(meta)", col)
        mapped: dict[tuple[str, str], set[str] | None] = {}
        targets: dict[tuple[str, str, str | None], Any] = {}
        for path, target in self._all_attributes(standard).items():
            urn, name, sub = split_path(path)
            resolved = full.resolve(urn, name, sub)
            if resolved is None:
                raise MappingError(
                    f"{type(self).__name__}({self.model.__name__}): {path!r} is not an attribute of "
                    f"{', '.join(full.urns)}"
                )
            if resolved.attribute.mutability == d.READ_ONLY and resolved.sub_attribute is None:
                raise MappingError(f"{path!r} is read-only: computed by the package, it cannot be mapped")
            if _is_column(target):
                self._check_column(path, target)
            elif isinstance(target, MultiValued):
                if not resolved.attribute.multi_valued or sub is not None:
                    raise MappingError(f"{path!r}: MultiValued() is for multi-valued complex attributes")
                for sub_name, col in target.columns.items():
                    if resolved.attribute.sub(sub_name) is None:
                        raise MappingError(
                            f"{path!r}: {sub_name!r} is not a sub-attribute of {resolved.attribute.name}")
                    owner = _model_of(col)
                    if owner is not None and owner is not target.child_model:
                        raise MappingError(f"{path!r}.{sub_name}: column of {owner.__name__}, expected "
                                           f"{target.child_model.__name__}")
            elif not isinstance(target, Attr):
                raise MappingError(f"{path!r}: map to a column, Attr(...) or MultiValued(...), got {target!r}")
            key = (resolved.schema, resolved.attribute.name)
            mapped_sub = resolved.sub_attribute.name if resolved.sub_attribute is not None else None
            targets[(resolved.schema, resolved.attribute.name, mapped_sub)] = target
            if sub is None:
                mapped[key] = None
            else:
                subs = mapped.setdefault(key, set())
                if subs is not None:
                    subs.add(resolved.sub_attribute.name)  # type: ignore[union-attr]
        # Attributes the package computes (groups, members, roles...), with the sub-attributes it fills.
        for name in computed:
            mapped[(core.id, name)] = computed[name] if isinstance(computed, Mapping) else None
        # A required attribute (User.userName, Group.displayName) the host does not map could never be
        # stored: every create would fail. Read-only ones are computed (an entitlement's type).
        missing = [a.name for a in core.attributes
                   if a.required and a.mutability != d.READ_ONLY and (core.id, a.name) not in mapped]
        if missing:
            raise MappingError(f"{type(self).__name__}({self.model.__name__}): the required attribute(s) "
                               f"{', '.join(missing)} of {core.id} must be mapped")
        schema = _prune(full, mapped)
        resolved_targets = []
        for (schema_urn, attribute_name, target_sub), target in targets.items():
            found = schema.resolve(schema_urn, attribute_name, target_sub)
            if found is not None:
                resolved_targets.append((found, target))
        advertised = {ext.id for ext in schema.extensions}
        return BoundMapping(
            declaration=self, model=self.model, id=id_column, tenant=self.tenant, created=self.created,
            last_modified=self.last_modified, schema=schema, targets=MappingProxyType(targets),
            resolved_targets=tuple(resolved_targets),
            extension_schemas=MappingProxyType({e.urn: e.schema for e in extensions if e.urn in advertised}),
            required_extensions=frozenset(e.urn for e in extensions if e.required and e.urn in advertised),
        )


@dataclass(frozen=True, eq=False)
class BoundMapping:
    """One app's checked copy of a :class:`ResourceMapping`: what the store and the filter compiler read."""

    declaration: ResourceMapping
    model: type
    id: Any
    tenant: Any
    created: Any
    last_modified: Any
    #: The advertised schema: only what the host maps (unmapped attributes are pruned).
    schema: d.ResourceSchema
    #: (schema URN, attribute, sub-attribute or None) -> column, Attr or MultiValued.
    targets: Mapping[tuple[str, str, str | None], Any]
    #: Every mapped attribute, resolved once against the advertised schema: (path, target).
    resolved_targets: tuple[tuple[d.ResolvedPath, Any], ...]
    #: URN -> the marshmallow schema of each advertised extension (the wire format).
    extension_schemas: Mapping[str, Any]
    #: URNs of the extensions every resource must carry (RFC 7643 §6 ``schemaExtensions.required``).
    required_extensions: frozenset[str]

    def display_column(self) -> Any:
        """The SQL expression of a reference's ``display``: displayName, else userName (None if neither)."""
        columns = []
        for name in ("displayName", "userName"):
            resolved = self.schema.resolve(None, name)
            target = self.target(resolved) if resolved is not None else None
            if isinstance(target, Attr):
                target = target.column
            if target is not None and not isinstance(target, MultiValued):
                columns.append(target)
        if not columns:
            return None
        return columns[0] if len(columns) == 1 else sa.func.coalesce(*columns)

    def target(self, resolved: d.ResolvedPath) -> Any:
        """The mapping target (column, Attr, MultiValued) of a resolved path, or ``None``."""
        sub = resolved.sub_attribute.name if resolved.sub_attribute is not None else None
        return self.targets.get((resolved.schema, resolved.attribute.name, sub))

    def id_python_type(self) -> type:
        try:
            return self.id.type.python_type
        except (AttributeError, NotImplementedError):
            return str

    @cached_property
    def tenant_python_type(self) -> type | None:
        """The tenant column's Python type (None: unknown, or no tenant column), read once."""
        try:
            return None if self.tenant is None else self.tenant.type.python_type  # type: ignore[no-any-return]
        except (AttributeError, NotImplementedError):
            return None

    @cached_property
    def _id_kind(self) -> tuple[type, int]:
        """(the id column's Python type, its bits if an integer): read once, not per id parsed."""
        bits = 16 if isinstance(self.id.type, sa.SmallInteger) else 64 if isinstance(
            self.id.type, sa.BigInteger) else 32
        return self.id_python_type(), bits

    def parse_id(self, text: str) -> Any | None:
        """The id column value for a SCIM id string, or ``None`` when it cannot be one."""
        kind, bits = self._id_kind
        if kind is str:
            return text
        if kind is int:
            # Only the canonical form is an id ("012" is not "12"), and only within the column's range.
            digits = text[1:] if text.startswith("-") else text
            if not (digits.isascii() and digits.isdigit()):  # "¹".isdigit() is True, int("¹") fails
                return None
            if len(digits) > 19:  # past any 64-bit id, and int() refuses 4,300 digits and more
                return None
            value = int(text)
            if str(value) != text or not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
                return None
            return value
        try:
            return kind(text)
        except (TypeError, ValueError):
            return None


def split_path(path: str) -> tuple[str | None, str, str | None]:
    """``"urn:...:User:manager.value"`` -> (urn, "manager", "value")."""
    urn = None
    if path.lower().startswith("urn:"):
        urn, _, path = path.rpartition(":")
    name, _, sub = path.partition(".")
    return urn, name, sub or None


def _prune(full: d.ResourceSchema, mapped: dict[tuple[str, str], set[str] | None]) -> d.ResourceSchema:
    """Keep only what the host maps: unmapped attributes are neither advertised nor returned."""

    def keep(schema: d.SchemaDefinition) -> d.SchemaDefinition:
        attrs = []
        for attribute in schema.attributes:
            key = (schema.id, attribute.name)
            if key not in mapped:
                continue
            subs = mapped[key]
            if subs is not None:
                attribute = d.Attribute(**{**attribute.__dict__, "sub_attributes": tuple(
                    s for s in attribute.sub_attributes if s.name in subs)})
            attrs.append(attribute)
        return d.SchemaDefinition(schema.id, schema.name, schema.description, tuple(attrs))

    extensions = tuple(keep(ext) for ext in full.extensions)
    return d.ResourceSchema(keep(full.core), tuple(ext for ext in extensions if ext.attributes))


@dataclass(frozen=True, eq=False)
class UserMapping(ResourceMapping):
    """Users.  ``password`` may be mapped to an :class:`Attr` whose setter hashes it."""


@dataclass(frozen=True, eq=False, kw_only=True)
class GroupMapping(ResourceMapping):
    """Groups.  ``members`` is the many-to-many relationship to the user model."""

    members: Any = None


@dataclass(frozen=True, eq=False, kw_only=True)
class ValueType(ResourceMapping):
    """Shared by :class:`RoleType` and :class:`EntitlementType`: the values Okta discovers.

    ``holders`` is the many-to-many relationship from the user model to this
    model (``User.roles``); it backs the ``roles`` / ``entitlements`` attribute on
    Users.  ``tenant`` may be ``None`` for values shared by every tenant.
    ``writable`` enables POST/PUT/PATCH/DELETE on the endpoint (Okta only reads it).
    """

    name: str = ""
    endpoint: str = ""
    description: str = ""
    holders: Any = None
    writable: bool = False

    @property
    def urn(self) -> str:
        raise NotImplementedError


@dataclass(frozen=True, eq=False, kw_only=True)
class RoleType(ValueType):
    """``/Roles`` with Okta's ``urn:okta:scim:schemas:core:1.0:Role`` schema."""

    name: str = "Role"
    endpoint: str = "/Roles"

    @property
    def urn(self) -> str:
        return OKTA_ROLE_URN


@dataclass(frozen=True, eq=False, kw_only=True)
class EntitlementType(ValueType):
    """An entitlement endpoint with Okta's ``urn:okta:scim:schemas:core:1.0:Entitlement`` schema.

    ``name`` is the ResourceType name and the ``type`` of each value and of each
    grant in a user's ``entitlements`` (e.g. ``"License"``).
    """

    @property
    def urn(self) -> str:
        return OKTA_ENTITLEMENT_URN
