"""Wire schemas of the protocol messages (RFC 7644 §3.4.2, §3.12, §3.4.3) and of the
per-resource-type documents, and of the discovery resources (RFC 7643 §5-§7).

Output is exact: counters are integers, ids strings, ``status`` a string, and
nothing the schema does not declare is emitted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, missing, post_load
from marshmallow.decorators import POST_LOAD, PRE_LOAD, VALIDATES, VALIDATES_SCHEMA

from . import definitions as d
from .base import Reference, ScimSchema

LIST_RESPONSE_URN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_URN = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH_REQUEST_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
SPC_URN = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RESOURCE_TYPE_URN = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_URN = "urn:ietf:params:scim:schemas:core:2.0:Schema"


class ErrorSchema(Schema):
    schemas = fields.List(fields.String(), dump_default=[ERROR_URN])
    status = fields.Function(lambda obj: str(obj["status"]))  # RFC 7644 §3.12: a string
    scimType = fields.String()
    detail = fields.String()


def list_response(resources: list[Any], total: int, start: int = 1) -> dict[str, Any]:
    """A ListResponse (RFC 7644 §3.4.2) through its schema: integer counters, the URN, nothing else."""
    return LIST_RESPONSE_SCHEMA.dump({"totalResults": total, "startIndex": start, "itemsPerPage": len(resources),
                                      "Resources": resources})


class ListResponseSchema(Schema):
    schemas = fields.List(fields.String(), dump_default=[LIST_RESPONSE_URN])
    totalResults = fields.Integer(required=True)
    startIndex = fields.Integer(required=True)
    itemsPerPage = fields.Integer(required=True)
    Resources = fields.Raw(required=True)  # already rendered by the resource type's schema


LIST_RESPONSE_SCHEMA = ListResponseSchema()


def _common_field(attribute: d.Attribute) -> fields.Field:
    """The wire field of a common attribute (``id``, ``externalId``, ``meta``), from its one definition.
    All of them are strings on the wire: ``meta``'s date-times are rendered before they get here."""
    if attribute.sub_attributes:
        nested = ScimSchema.from_dict({s.name: _common_field(s) for s in attribute.sub_attributes},
                                      name=f"{attribute.name.capitalize()}Schema")
        return fields.Nested(nested)
    return fields.String()


class _ExtensionField(fields.Nested):
    """An extension object, read from and written to the document under its URN.

    (marshmallow would split an ``attribute`` containing "2.0" on the dot.)"""

    def __init__(self, schema: type[Schema] | Schema, urn: str, *, required: bool = False) -> None:
        super().__init__(schema, data_key=urn, required=required)
        self.urn = urn

    def serialize(self, attr: str, obj: Any, accessor: Any = None, **kwargs: Any) -> Any:
        value = obj.get(self.urn, missing) if isinstance(obj, dict) else missing
        return missing if value is missing else self._serialize(value, attr, obj, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any) -> Any:
        return super().deserialize(value, attr, data, **kwargs)


def resource_wire_schema(name: str, core: type[Schema], extensions: dict[str, type[Schema] | Schema],
                         required: Collection[str] = ()) -> Schema:
    """The dump schema of one resource type: common attributes + core + extensions under their URN.

    An extension in ``required`` must be present on input (RFC 7643 §6 ``schemaExtensions.required``)."""
    attrs: dict[str, Any] = {
        "schemas": fields.List(fields.String()),
        **{common.name: _common_field(common) for common in d.COMMON_ATTRIBUTES},
    }
    placed: dict[str, str] = {}
    for index, (urn, ext) in enumerate(extensions.items()):
        attrs[f"_extension_{index}"] = _ExtensionField(ext, urn, required=urn in required)
        placed[f"_extension_{index}"] = urn

    @post_load
    def under_their_urns(self: Schema, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        # A loaded document has the shape the store and the PATCH engine read: extensions under their URN.
        return {placed.get(key, key): value for key, value in data.items()}

    under_their_urns.scim_extensions_under_urns = True  # type: ignore[attr-defined]  # (compile_load does it too)
    attrs["_under_their_urns"] = under_their_urns
    cls = type(f"{name}WireSchema", (core,), attrs)
    return cls()


class ShapedItems(fields.Field):
    """A multi-valued attribute whose items are already in wire shape: dumped as they are.

    The store builds link items (``members``, ``groups``, ``roles``, ``entitlements``) with
    exactly the nested schema's keys, in its field order, so dumping each through the nested
    schema would only copy them: for a 100,000-member group, 100,000 dictionaries built twice.
    (tests/test_query_counts.py checks the two dumps are the same.)
    """

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value


#: The hooks that change what ``dump`` gives (load hooks, as the wire schemas' ``post_load``, do not).
_DUMP_HOOKS = ("pre_dump", "post_dump")


class LinkItems(list):  # type: ignore[type-arg]
    """A list of link items the store built, knowing which sub-attributes it ``omitted``.

    The store leaves out what the response will not carry (``members.display`` unless asked
    for), so the projection need not look through 100,000 members for keys to drop.
    """

    __slots__ = ("omitted",)

    def __init__(self, omitted: frozenset[str]) -> None:
        super().__init__()
        self.omitted = omitted


def compile_dump(schema: Schema) -> Callable[[Any], Any]:
    """``schema.dump`` for documents (dicts), with the per-field machinery resolved once.

    The output is defined by the schema alone, exactly as its ``dump`` would give it (fields,
    order, ``data_key`` s, nested schemas); only the dispatch is done ahead of time:
    string fields pass ``str`` values through, boolean and :class:`ShapedItems` fields pass
    their values, nested schemas and lists of them recurse.  Any other field (an
    extension's, a ``Function``...) is serialised by the field itself, and a schema with
    ``pre_dump``/``post_dump`` hooks is dumped by marshmallow.  (tests/test_query_counts.py
    compares the two dumps.)
    """
    if any(schema._hooks.get(tag) for tag in _DUMP_HOOKS):
        return schema.dump
    steps: list[tuple[str, str, Any, Any]] = []  # (source key, output key, converter or None, field)
    for name, field in schema.dump_fields.items():
        if type(field) is _ExtensionField and not any(field.schema._hooks.get(tag) for tag in _DUMP_HOOKS):
            # An extension's object is read under its URN (see _ExtensionField.serialize).
            steps.append((field.urn, field.data_key or name, _nested(compile_dump(field.schema)), field))
            continue
        steps.append((field.attribute or name, field.data_key or name, _converter(field), field))
    get_attribute = schema.get_attribute
    # A document's keys -> the steps it takes: the fields serialised by themselves (whatever the document holds)
    # and those whose source key it holds, in the schema's order.  A document holds a few of a schema's fields
    # (a user a dozen of thirty), and the documents of one response mostly the same few.
    by_keys: dict[tuple[str, ...], list[tuple[str, str, Any, Any]]] = {}

    def dump(obj: Any) -> Any:
        if type(obj) is not dict:
            return schema.dump(obj)
        keys = tuple(obj)
        chosen = by_keys.get(keys)
        if chosen is None:
            chosen = [step for step in steps if step[2] is None or step[0] in obj]
            if len(by_keys) < _DUMP_SHAPES_KEPT:
                by_keys[keys] = chosen
        out = {}
        for source, key, convert, field in chosen:
            if convert is None:
                value = field.serialize(source, obj, accessor=get_attribute)
                if value is not missing:
                    out[key] = value
                continue
            out[key] = convert(obj[source])
        return out

    return dump


#: Most shapes (sets of keys, in order) of documents whose steps one compiled dump keeps.
_DUMP_SHAPES_KEPT = 256


def _text(value: Any) -> Any:
    return value if type(value) is str or value is None else str(value)


def _same(value: Any) -> Any:
    return value


def _nested(inner_dump: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else inner_dump(value)


def _converter(field: fields.Field) -> Callable[[Any], Any] | None:
    """How to dump a field's value, or None when only the field itself can (see :func:`compile_dump`)."""
    if "." in (field.attribute or field.name or "") or field.dump_default is not missing:
        return None
    kind = type(field)
    if kind in (fields.String, Reference):
        return _text
    if kind in (fields.Boolean, ShapedItems):
        return _same
    if isinstance(field, fields.Nested) and kind is fields.Nested and not field.many and not field.only \
            and not field.exclude:
        return _nested(compile_dump(field.schema))
    if isinstance(field, fields.List) and kind is fields.List:
        inner = _converter(field.inner)
        if inner is not None:
            return lambda value: None if value is None else [inner(item) for item in value]
    return None


class _Declined(Exception):  # noqa: N818 - a signal within compile_load, never raised out of it
    """The compiled load met something only marshmallow's ``load`` answers exactly (a value that fails, an
    unusual type): the document is loaded again by marshmallow."""


_LOAD_HOOKS = (PRE_LOAD, POST_LOAD, VALIDATES, VALIDATES_SCHEMA)


def compile_load(schema: Schema, partial: tuple[str, ...] = ()) -> Callable[[Any], Any]:
    """``schema.load(data, partial=partial)`` for documents, with the per-field machinery resolved once.

    A POST or PUT body goes through the wire schema's ``load`` (types and ``required`` checked,
    undeclared keys dropped); marshmallow does that by calling, for every declared field, a getter,
    an error store and the field's ``deserialize``, present in the body or not.  Here the dispatch is
    done ahead of time, for what documents carry: a string field takes a ``str`` as it is, a boolean
    field a ``bool``, a nested schema a ``dict`` and a list a ``list``, each as marshmallow's field
    would; any other field or value goes to the field's own ``deserialize``, with the arguments
    marshmallow gives it.  Whatever would be an error (a value a field refuses, a required attribute
    missing, a body that is not an object) is loaded again by ``schema.load``, so errors and their
    messages are marshmallow's own (a failing body's field functions then run twice).  A schema with
    load hooks (other than the wire schema's own placing of extensions under their URN) or its own
    ``load``, ``_do_load``, ``_deserialize`` or ``dict_class``, a field with validators, a
    ``load_default`` or a dotted ``attribute`` is loaded by marshmallow
    (tests/unit/test_compiled_load.py compares the two loads).
    """
    compiled = _compiled_load(schema, frozenset(partial), schema.unknown) \
        if isinstance(partial, tuple | list | set | frozenset) else None

    if compiled is None:
        return lambda data: schema.load(data, partial=partial)

    def load(data: Any) -> Any:
        try:
            return compiled(data)
        except _Declined:
            return schema.load(data, partial=partial)

    return load


def _loads_as_marshmallow(schema: Schema) -> bool:
    """Does ``schema`` load with marshmallow's own machinery (no method of its own on the load path)?"""
    cls = type(schema)
    return cls.load is Schema.load and cls._do_load is Schema._do_load and cls._deserialize is Schema._deserialize \
        and schema.dict_class is dict and not schema.many


def _compiled_load(schema: Schema, partial: frozenset[str], unknown: Any) -> Callable[[Any], Any] | None:
    if not _loads_as_marshmallow(schema) or unknown != EXCLUDE:
        return None  # its own load, or undeclared keys kept or refused
    for tag in _LOAD_HOOKS:
        for hook in schema._hooks.get(tag, ()):
            function = getattr(getattr(schema, hook[0], None), "__func__", None)
            if not getattr(function, "scim_extensions_under_urns", False):
                return None
    steps: list[tuple[str, str, Callable[[Any, str, Any], Any]]] = []  # (key in the body, key loaded, converter)
    required: list[str] = []  # keys that must be in the body
    for name, field in schema.load_fields.items():
        if field.load_default is not missing:
            return None
        key = field.data_key if field.data_key is not None else name
        if type(field) is _ExtensionField:
            target = field.urn
        else:
            target = field.attribute or name
            if "." in target:
                return None  # marshmallow would nest the value under the dotted path
        if field.required and name not in partial:
            required.append(key)
        # What marshmallow hands the field as its partial: the names under it, without its prefix.
        prefix = name + "."
        steps.append((key, target, _load_converter(field, [f[len(prefix):] for f in partial if f.startswith(prefix)])))

    def load(data: Any) -> Any:
        if type(data) is not dict:
            raise _Declined
        for key in required:
            if key not in data:
                raise _Declined
        out = {}
        for key, target, convert in steps:
            value = data.get(key, missing)
            if value is not missing:
                value = convert(value, key, data)
                if value is not missing:  # (a field may load a value as nothing: marshmallow leaves it out)
                    out[target] = value
        return out

    return load


def _bool_is_itself(field: fields.Boolean) -> bool:
    """Does the field load ``True`` as ``True`` and ``False`` as ``False`` (its truthy and falsy values)?"""
    return not field.truthy or (True in field.truthy and False not in field.truthy and False in field.falsy)


def _load_converter(field: Any, partial: list[str]) -> Callable[[Any, Any, Any], Any]:
    """How to load one value of ``field`` as its ``deserialize(value, attr, data, partial=partial)`` would
    (marshmallow's call), raising :class:`_Declined` where marshmallow must decide."""
    allow_none = field.allow_none

    def by_the_field(value: Any, attr: Any, data: Any) -> Any:
        try:
            return field.deserialize(value, attr, data, partial=partial)
        except ValidationError:
            raise _Declined from None

    kind = type(field)
    if field.validators or field.pre_load or field.post_load \
            or (kind is fields.Boolean and not _bool_is_itself(field)):
        return by_the_field
    if kind in (fields.String, Reference, fields.Boolean):
        exact = bool if kind is fields.Boolean else str

        def scalar(value: Any, attr: Any, data: Any) -> Any:
            if type(value) is exact or (value is None and allow_none):
                return value
            return by_the_field(value, attr, data)

        return scalar
    if kind in (fields.Nested, _ExtensionField) and not field.many and not field.only and not field.exclude \
            and isinstance(field.schema, Schema):
        inner = _compiled_load(field.schema, frozenset(partial), field.unknown or field.schema.unknown)
        if inner is None:
            return by_the_field
        nested = inner

        def one(value: Any, attr: Any, data: Any) -> Any:
            if type(value) is dict:
                return nested(value)
            return by_the_field(value, attr, data)

        return one
    if kind is fields.List:
        item = _load_converter(field.inner, partial)

        def many(value: Any, attr: Any, data: Any) -> Any:
            if type(value) is list:
                return [item(each, None, None) for each in value]  # (List hands its items no attr or data)
            return by_the_field(value, attr, data)

        return many
    return by_the_field


def resource_dump_schema(wire: Schema, shaped: tuple[str, ...]) -> Schema:
    """``wire``'s schema with the ``shaped`` fields passed through (:class:`ShapedItems`), same order."""
    overrides: dict[str, Any] = {}
    for name in shaped:
        original = wire.declared_fields.get(name)
        if original is not None:
            overrides[name] = ShapedItems(data_key=original.data_key, attribute=original.attribute)
    cls = type(f"{type(wire).__name__}Dump", (type(wire),), overrides)
    return cls()


def attribute_json(attr: d.Attribute) -> dict[str, Any]:
    """RFC 7643 §7 representation of one attribute definition."""
    out: dict[str, Any] = {
        "name": attr.name,
        "type": attr.type,
        "multiValued": attr.multi_valued,
        "description": attr.description,
        "required": attr.required,
        "caseExact": attr.case_exact,
        "mutability": attr.mutability,
        "returned": attr.returned,
        "uniqueness": attr.uniqueness,
    }
    if attr.canonical_values:
        out["canonicalValues"] = list(attr.canonical_values)
    if attr.type == d.REFERENCE:
        out["referenceTypes"] = list(attr.reference_types) or ["external"]
    if attr.sub_attributes:
        out["subAttributes"] = [attribute_json(s) for s in attr.sub_attributes]
    return out


class SchemaResourceSchema(Schema):
    schemas = fields.Function(lambda obj: [SCHEMA_URN])
    id = fields.Function(lambda obj: obj["schema"].id)
    name = fields.Function(lambda obj: obj["schema"].name)
    description = fields.Function(lambda obj: obj["schema"].description)
    attributes = fields.Function(lambda obj: [attribute_json(a) for a in obj["schema"].attributes])
    meta = fields.Function(lambda obj: {"resourceType": "Schema", "location": obj["location"]})


class SchemaExtensionSchema(Schema):
    schema = fields.String()
    required = fields.Boolean()


class ResourceTypeSchema(Schema):
    schemas = fields.Function(lambda obj: [RESOURCE_TYPE_URN])
    id = fields.String()
    name = fields.String()
    endpoint = fields.String()
    description = fields.String()
    schema = fields.String()
    schemaExtensions = fields.List(fields.Nested(SchemaExtensionSchema))
    meta = fields.Dict()


class ServiceProviderConfigSchema(Schema):
    schemas = fields.Function(lambda obj: [SPC_URN])
    documentationUri = fields.String()
    patch = fields.Dict()
    bulk = fields.Dict()
    filter = fields.Dict()
    changePassword = fields.Dict()
    sort = fields.Dict()
    etag = fields.Dict()
    authenticationSchemes = fields.List(fields.Dict())
    meta = fields.Dict()
