"""The one base for every SCIM wire schema, and the bridge to attribute definitions.

An attribute's SCIM characteristics (``caseExact``, ``mutability``,
``returned``, ``uniqueness``...) are written once, in the field's
``metadata``, through :func:`attr`.  :func:`definition_of` reads them back into
:class:`~.definitions.Attribute` trees, from which ``/Schemas``, the PATCH
engine's mutability checks, attribute projection and the filter compiler's
case rules are all derived.

marshmallow is used for the wire format only: no database access here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import EXCLUDE, Schema, fields

from . import definitions as d

_META_KEY = "scim"

_TYPE_OF_FIELD: list[tuple[type[fields.Field], str]] = [
    (fields.Boolean, d.BOOLEAN),
    (fields.Integer, d.INTEGER),
    (fields.Float, d.DECIMAL),
    (fields.Decimal, d.DECIMAL),
    (fields.DateTime, d.DATETIME),
    (fields.Url, d.REFERENCE),
    (fields.Nested, d.COMPLEX),
    (fields.String, d.STRING),
]


class Reference(fields.String):
    """A SCIM ``reference`` (RFC 7643 §2.3.7): a URI, kept as a string."""


class DateTime(fields.DateTime):
    """A SCIM ``dateTime`` (RFC 7643 §2.3.5, xsd:dateTime): checked as ISO 8601 on input; on output the
    store's text (UTC, ``Z``) passes through, and a ``datetime`` is written in the same form.

    :func:`attr` uses it for ``fields.DateTime``, so a host's extension declares dates as usual."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        super()._deserialize(value, attr, data, **kwargs)  # the check: an ISO 8601 date-time, else a 400
        return value  # the text as sent: the store parses it for a date-time column, keeps it for a text one

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(timespec="seconds") + "Z"
        return value


class ScimSchema(Schema):
    """Base of all wire schemas.  Identity providers send more than an app keeps,
    so undeclared keys are dropped, not rejected (interop.md §5, Stalwart note)."""

    class Meta:
        unknown = EXCLUDE
        ordered = True


def attr(
    field_cls: type[fields.Field] | fields.Field,
    *,
    case_exact: bool = False,
    mutability: str = d.READ_WRITE,
    returned: str = d.DEFAULT,
    uniqueness: str = "none",
    description: str = "",
    canonical_values: tuple[str, ...] = (),
    reference_types: tuple[str, ...] = (),
    required: bool = False,
    multi_valued: bool = False,
    scim_type: str | None = None,
    **kwargs: Any,
) -> fields.Field:
    """A marshmallow field carrying its SCIM characteristics in ``metadata``.

    ``field_cls`` is a field class (instantiated with ``kwargs``) or, for
    complex attributes, a ready ``fields.Nested``.  ``multi_valued`` wraps the
    field in ``fields.List``.
    """
    if field_cls is fields.DateTime:
        field_cls = DateTime
    inner = field_cls if isinstance(field_cls, fields.Field) else field_cls(**kwargs)
    if not multi_valued:
        inner.required = required
    meta = {
        "caseExact": case_exact,
        "mutability": mutability,
        "returned": returned,
        "uniqueness": uniqueness,
        "description": description,
        "canonicalValues": tuple(canonical_values),
        "referenceTypes": tuple(reference_types),
        "required": required,
        "multiValued": multi_valued,
        "type": scim_type,
    }
    if multi_valued:
        return fields.List(inner, metadata={_META_KEY: meta}, allow_none=True, required=required)
    inner.metadata = {**inner.metadata, _META_KEY: meta}
    inner.allow_none = True
    return inner


def _field_type(field: fields.Field) -> str:
    for cls, scim_type in _TYPE_OF_FIELD:
        if isinstance(field, Reference):
            return d.REFERENCE
        if isinstance(field, cls):
            return scim_type
    return d.STRING


def _attribute_of(name: str, field: fields.Field) -> d.Attribute:
    meta = field.metadata.get(_META_KEY)
    if meta is None:
        raise TypeError(f"field {name!r} was not declared with attr(): its SCIM characteristics are unknown")
    inner = field.inner if isinstance(field, fields.List) else field
    scim_type = meta["type"] or _field_type(inner)
    subs: tuple[d.Attribute, ...] = ()
    if isinstance(inner, fields.Nested):
        nested = inner.schema
        subs = tuple(_attribute_of(f.data_key or n, f) for n, f in nested.fields.items())
    return d.Attribute(
        name=name,
        type=scim_type,
        multi_valued=meta["multiValued"],
        required=meta["required"],
        case_exact=meta["caseExact"],
        mutability=meta["mutability"],
        returned=meta["returned"],
        uniqueness=meta["uniqueness"],
        description=meta["description"],
        canonical_values=meta["canonicalValues"],
        reference_types=meta["referenceTypes"],
        sub_attributes=subs,
    )


def definition_of(schema: type[Schema] | Schema, *, urn: str, name: str, description: str = "") -> d.SchemaDefinition:
    """Read a wire schema's fields back into a :class:`~.definitions.SchemaDefinition`."""
    instance = schema() if isinstance(schema, type) else schema
    attributes = tuple(
        _attribute_of(f.data_key or n, f) for n, f in instance.fields.items() if (f.data_key or n) not in {"schemas"}
    )
    return d.SchemaDefinition(id=urn, name=name, description=description, attributes=attributes)
