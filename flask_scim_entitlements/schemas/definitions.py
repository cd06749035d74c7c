"""SCIM attribute definitions (RFC 7643 §2.2, §7) as plain frozen dataclasses.

These are what the rest of the package reasons about: the filter compiler and
evaluator look up ``caseExact`` and ``type`` here, the PATCH engine checks
``mutability`` and ``multiValued`` here, and ``/Schemas`` renders them.  They
are *derived* from the marshmallow schemas (see :mod:`.base`), which are the
single place where an attribute's characteristics are written down.

This module imports neither Flask nor SQLAlchemy nor marshmallow.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

# RFC 7643 §2.3 data types.
STRING = "string"
BOOLEAN = "boolean"
DECIMAL = "decimal"
INTEGER = "integer"
DATETIME = "dateTime"
BINARY = "binary"
REFERENCE = "reference"
COMPLEX = "complex"

# RFC 7643 §2.2 characteristics.
READ_ONLY = "readOnly"
READ_WRITE = "readWrite"
IMMUTABLE = "immutable"
WRITE_ONLY = "writeOnly"

ALWAYS = "always"
NEVER = "never"
DEFAULT = "default"
REQUEST = "request"


@dataclass(frozen=True)
class Attribute:
    """One attribute definition, as published in ``/Schemas``."""

    name: str
    type: str = STRING
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = DEFAULT
    uniqueness: str = "none"
    description: str = ""
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()

    def sub(self, name: str) -> Attribute | None:
        """The sub-attribute called ``name``, compared case-insensitively (RFC 7643 §2.1)."""
        lowered = name.lower()
        for sub in self.sub_attributes:
            if sub.name.lower() == lowered:
                return sub
        return None

    @property
    def is_complex(self) -> bool:
        return self.type == COMPLEX


@dataclass(frozen=True)
class SchemaDefinition:
    """A schema (core or extension): its URN, name and attribute definitions."""

    id: str
    name: str
    description: str = ""
    attributes: tuple[Attribute, ...] = field(default_factory=tuple)

    def attribute(self, name: str) -> Attribute | None:
        lowered = name.lower()
        for attr in self.attributes:
            if attr.name.lower() == lowered:
                return attr
        return None

    def __iter__(self) -> Iterator[Attribute]:
        return iter(self.attributes)


# RFC 7643 §3.1: attributes every resource has, outside any schema's attribute list.
COMMON_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "id",
        case_exact=True,
        mutability=READ_ONLY,
        returned=ALWAYS,
        uniqueness="server",
        description="Unique identifier for the resource, assigned by the service provider.",
    ),
    Attribute(
        "externalId",
        case_exact=True,
        description="Identifier of the resource as defined by the provisioning client.",
    ),
    Attribute(
        "meta",
        type=COMPLEX,
        mutability=READ_ONLY,
        description="Resource metadata.",
        sub_attributes=(
            Attribute("resourceType", case_exact=True, mutability=READ_ONLY),
            Attribute("created", type=DATETIME, mutability=READ_ONLY),
            Attribute("lastModified", type=DATETIME, mutability=READ_ONLY),
            Attribute("location", type=REFERENCE, case_exact=True, mutability=READ_ONLY, reference_types=("uri",)),
            Attribute("version", case_exact=True, mutability=READ_ONLY),
        ),
    ),
)


#: Keys of a resource document that describe the resource rather than attributes to write:
#: ``schemas`` and the read-only common attributes (``id``, ``meta``).  Clients echo them back.
RESOURCE_FRAME: frozenset[str] = frozenset(
    {"schemas", *(a.name for a in COMMON_ATTRIBUTES if a.mutability == READ_ONLY)})


@dataclass(frozen=True)
class ResolvedPath:
    """Where an attribute path points: the schema it belongs to and its definitions."""

    schema: str  # the URN of the core schema or of the extension
    attribute: Attribute
    sub_attribute: Attribute | None = None
    is_extension: bool = False

    @property
    def target(self) -> Attribute:
        return self.sub_attribute or self.attribute


@dataclass(frozen=True)
class ResourceSchema:
    """A core schema plus its extensions: everything one resource type's documents may hold.

    ``resolve`` is the one place that turns an attribute path (as written in a
    filter, a PATCH path or an ``attributes`` parameter) into definitions;
    names are compared case-insensitively as RFC 7643 §2.1 requires.
    """

    core: SchemaDefinition
    extensions: tuple[SchemaDefinition, ...] = ()

    def extension(self, urn: str) -> SchemaDefinition | None:
        lowered = urn.lower()
        for ext in self.extensions:
            if ext.id.lower() == lowered:
                return ext
        return None

    def top_level(self, name: str) -> Attribute | None:
        attr = self.core.attribute(name)
        if attr is not None:
            return attr
        lowered = name.lower()
        for common in COMMON_ATTRIBUTES:
            if common.name.lower() == lowered:
                return common
        return None

    def resolve(self, urn: str | None, attr: str, sub_attr: str | None = None) -> ResolvedPath | None:
        """Resolve ``[urn:]attr[.sub_attr]``; ``None`` when the schema does not declare it."""
        if urn is not None and urn.lower() != self.core.id.lower():
            ext = self.extension(urn)
            if ext is None:
                return None
            found = ext.attribute(attr)
            schema, is_ext = ext.id, True
        else:
            found = self.top_level(attr)
            schema, is_ext = self.core.id, False
        if found is None:
            return None
        if sub_attr is None:
            return ResolvedPath(schema, found, None, is_ext)
        sub = found.sub(sub_attr)
        if sub is None:
            return None
        return ResolvedPath(schema, found, sub, is_ext)

    @property
    def urns(self) -> tuple[str, ...]:
        return (self.core.id, *(ext.id for ext in self.extensions))
