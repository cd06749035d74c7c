"""Input normalisation: the one step where client quirks become RFC-shaped input.

Okta, Entra ID and others do not always send what RFC 7643/7644 describe
(interop.md §6).  Rather than bending the PATCH engine and the wire schemas
around each client, every tolerance lives here, runs before any RFC logic, and
is commented with the client that needs it and its interop.md row.  After this
step the PATCH engine (``patch/engine.py``) and the marshmallow schemas see
only RFC-shaped input and stay strict.

``normalize_resource(body, schema)``
    A POST/PUT body, or an object of attributes inside a PATCH value.  Returns
    a new dict: names in canonical case (RFC 7643 §2.1), extension attributes
    under their extension URN, absent values dropped, scalars coerced to the
    declared types, keys the schema does not declare dropped.

``normalize_patch(body, schema, max_operations=1000, max_values=20000)``
    A PatchOp body.  Returns the operations as
    ``{"op": "add" | "remove" | "replace", "path": PatchPath | None, "value": ...}``
    with paths parsed and resolved and values normalised for the attribute
    the path targets, ready for :func:`~flask_scim_entitlements.patch.apply_patch`.

Absent values
    RFC 7643 §2.5 makes null and unassigned equivalent.  In a resource body a
    ``null`` (and ``""`` for an optional attribute) is simply dropped: PUT
    clears omitted attributes anyway.  In a PATCH, where omission means "leave
    alone", a ``null`` or ``""`` given for a singular attribute (or given to
    ``replace`` a multi-valued one) becomes a ``remove`` of that path, so the
    client's intent to clear is kept; adding ``null`` to a multi-valued
    attribute adds nothing.

Entra app roles (E8)
    Entra sends each role as a JSON string ``{"id", "value", "displayName"}``.
    ``id`` is the GUID Entra generated for the app role, which this server never
    sees; ``value`` is the string the administrator typed when declaring the app
    role, the only one that can be made equal to one of our ``/Roles`` ids
    (Entra does not read ``/Roles``).  So the inner ``value`` becomes our
    ``value``, falling back to the inner ``id`` when there is no ``value``, and
    ``displayName`` becomes ``display``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from .errors import InvalidPathError, InvalidSyntaxError, InvalidValueError
from .filters.ast import And, AttrPath, Compare, Filter, Not, Or, PatchPath, balanced
from .filters.parser import parse_path
from .patch.engine import OPERATIONS, Target, resolve_target
from .schemas.definitions import BOOLEAN, RESOURCE_FRAME, STRING, Attribute, ResourceSchema, SchemaDefinition


def normalize_resource(body: Any, schema: ResourceSchema) -> dict[str, Any]:
    """``body`` in RFC shape for ``schema`` (see the module docstring); the input is not modified."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("The request body must be a JSON object")
    result: dict[str, Any] = {}
    extensions: dict[str, dict[str, Any]] = {}
    for key, value in body.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue
        extension = schema.extension(key)
        if extension is not None:
            if value is None:
                continue  # Entra sends explicit nulls on create (interop.md §6 E11)
            if not isinstance(value, dict):
                raise InvalidValueError(f"'{extension.id}' must be an object of attributes")
            extensions.setdefault(extension.id, {}).update(_attributes(extension, value))
            continue
        located = _locate(key, schema)
        if located is None:
            continue  # identity providers send more than an app keeps: undeclared keys are dropped
        # Entra sends extension attributes URN-qualified at the top level, and does not list
        # their extension in "schemas" (interop.md §6 E5, E9): they move under their extension.
        urn, attribute = located
        normalized = _value(attribute, value)
        if normalized is not None:
            (result if urn is None else extensions.setdefault(urn, {}))[attribute.name] = normalized
    result.update((urn, attributes) for urn, attributes in extensions.items() if attributes)
    declared = next((value for key, value in body.items() if isinstance(key, str) and key.lower() == "schemas"), None)
    if declared is None:
        return result
    return {"schemas": _schemas(declared, result, schema), **result}


def normalize_patch(body: Any, schema: ResourceSchema, *, max_operations: int = 1000,
                    max_values: int = 20000) -> list[dict[str, Any]]:
    """The operations of a PatchOp ``body``, in RFC shape for ``schema`` (see the module docstring)."""
    if not isinstance(body, dict):
        raise InvalidSyntaxError("A PATCH body must be a JSON object with an 'Operations' list")
    # RFC 7643 §2.1: attribute names, message attributes included, are case-insensitive.
    operations = _field(body, "Operations")
    if not isinstance(operations, list):
        raise InvalidSyntaxError("A PATCH body must have an 'Operations' list (RFC 7644 §3.5.2)")
    if len(operations) > max_operations:
        raise InvalidSyntaxError(
            f"A PATCH request may carry at most {max_operations} operations; this one has {len(operations)}"
        )
    # Operations times values bound the work, not operations alone: one "add" may list 400,000 members.
    values = sum(_count_values(_field(op, "value")) for op in operations if isinstance(op, dict))
    if values > max_values:
        raise InvalidSyntaxError(f"A PATCH request may carry at most {max_values} values; this one has {values}")
    # An empty list is a no-op: Entra's validator sends one (interop.md §6 E17).
    result = []
    for index, operation in enumerate(operations):
        result.extend(_operation(operation, index, schema))
    return result


# -- PATCH operations --------------------------------------------------------------


def _count_values(value: Any) -> int:
    """How many values an operation carries: each element of a list, in a path-less object too."""
    if isinstance(value, list):
        return len(value)
    if isinstance(value, dict):
        return sum(len(item) if isinstance(item, list) else 1 for item in value.values()) or 1
    return 1


def _operation(raw: Any, index: int, schema: ResourceSchema) -> list[dict[str, Any]]:
    where = f"Operations[{index}]"
    if not isinstance(raw, dict):
        raise InvalidSyntaxError(f"{where} must be an object with 'op', 'path' and 'value'")
    op = _field(raw, "op")
    # Entra sends "Add", "Replace", "Remove" (interop.md §6 E1).
    if not isinstance(op, str) or op.lower() not in OPERATIONS:
        raise InvalidSyntaxError(f"{where}: unknown op {op!r}; expected 'add', 'remove' or 'replace'")
    op = op.lower()
    text = _field(raw, "path")
    value = _field(raw, "value")
    if text is None:
        if op == "remove":
            return [_op("remove", None)]  # the engine answers noTarget (RFC 7644 §3.5.2.2)
        return _without_path(op, value, schema, where)
    if not isinstance(text, str):
        raise InvalidPathError(f"{where}: 'path' must be a string")
    extension = schema.extension(text)
    if extension is not None:
        # scim2-tester 0.5 names a whole extension as the path ({"path": "urn:...:User", "value": {...}});
        # RFC 7644 §3.5.2 paths name attributes, so read it as the path-less form {"urn:...:User": {...}}.
        if op == "remove":
            return [_op("remove", PatchPath(AttrPath(a.name, urn=extension.id))) for a in extension.attributes]
        return _without_path(op, {extension.id: value}, schema, where)
    single = _single_app_role(op, text, value, schema)
    if single is not None:
        return single
    path, target = _parsed(text, schema)
    if op == "remove":
        return _removal(path, target, value, where)
    if not any(isinstance(key, str) and key.lower() == "value" for key in raw):
        # RFC 7644 §3.5.2.1 / §3.5.2.3: add and replace "MUST contain a 'value' member".
        raise InvalidValueError(f"{where}: '{op}' needs a 'value'")
    return _assignment(op, path, target, value)


def _without_path(op: str, value: Any, schema: ResourceSchema, where: str) -> list[dict[str, Any]]:
    # RFC 7644 §3.5.2.1: without a path, "value" is an object of attributes (Okta deactivates this way, O1).
    if not isinstance(value, dict):
        raise InvalidValueError(f"{where}: '{op}' without a path needs an object of attributes as its value")
    plain: dict[str, Any] = {}
    expanded: list[dict[str, Any]] = []
    for key, item in value.items():
        if not isinstance(key, str) or key.lower() == "schemas":
            continue  # a PATCH value lists attributes, not the resource's schemas
        if _is_path_key(key, schema):
            # Entra (aadOptscim062020) and others send {"name.givenName": "y", "urn:...:User:employeeNumber": "z"}
            # without a path (interop.md §6 E5, sourcegraph#48430): each key becomes an operation with that path.
            expanded.extend(_keyed_operation(op, key, item, schema))
        else:
            plain[key] = item
    operations = []
    attributes = normalize_resource(plain, schema)
    if attributes:
        operations.append(_op(op, None, attributes))
    operations.extend(_op("remove", path) for path in _cleared(op, plain, schema))
    return operations + expanded


def _single_app_role(op: str, text: str, value: Any, schema: ResourceSchema) -> list[dict[str, Any]] | None:
    """Entra's SingleAppRoleAssignment mapping sends ``roles[primary eq "True"].value`` (interop.md §6 E8).

    When the server keeps no per-grant ``primary`` flag (roles backed by a
    relationship), a user in that mode holds exactly one app role, and the path
    names it: ``replace``/``add`` make the user's roles exactly ``[value]``,
    ``remove`` clears them.  Where ``roles.primary`` is stored, the RFC path
    logic applies unchanged.
    """
    try:
        path = parse_path(text)
    except InvalidPathError:
        return None
    roles = schema.top_level(path.attr.attr)
    f = path.filter
    if (
        roles is None
        or not _is_roles(roles)
        or roles.sub("primary") is not None
        or path.sub_attr is None
        or path.sub_attr.lower() != "value"
        or not isinstance(f, Compare)
        or f.op != "eq"
        or f.path.attr.lower() != "primary"
        or str(f.value).lower() != "true"
    ):
        return None
    whole = PatchPath(AttrPath(roles.name))
    if op == "remove":
        return [_op("remove", whole)]
    role = (_entra_role(value) if isinstance(value, str) else None) or {"value": value}
    return [_op("replace", whole, _value(roles, [{"value": role["value"]}]))]


def _keyed_operation(op: str, key: str, item: Any, schema: ResourceSchema) -> list[dict[str, Any]]:
    try:
        path, target = _parsed(key, schema)
    except InvalidPathError:
        return []  # a key naming nothing the schema declares is dropped, like any undeclared key
    return _assignment(op, path, target, item)


def _assignment(op: str, path: PatchPath, target: Target, value: Any) -> list[dict[str, Any]]:
    normalized = _target_value(target, value)
    if normalized is not None:
        return [_op(op, path, normalized)]
    singular = target.sub is not None or (target.filter is None and not target.attribute.multi_valued)
    if op == "replace" or singular:
        return [_op("remove", path)]  # null / "" clears (RFC 7643 §2.5; see the module docstring)
    return []  # adding nothing to a multi-valued attribute changes nothing


def _removal(path: PatchPath, target: Target, value: Any, where: str) -> list[dict[str, Any]]:
    attribute = target.attribute
    if (
        value is None
        or target.filter is not None
        or target.sub is not None
        or not attribute.multi_valued
        or attribute.sub("value") is None
    ):
        return [_op("remove", path)]  # RFC 7644 §3.5.2.2: remove takes no value; any given is ignored
    # Entra removes members with {"op":"Remove","path":"members","value":[{"value":"u1"}]} (interop.md §6 E3):
    # read literally, that path removes every member.  Remove exactly the values listed instead.
    # Only that shape is understood: a list of objects, each with a scalar "value".  Anything else would
    # have to be guessed at, and a wrong guess removes the wrong grants.
    shape = f"{where}: the value of a 'remove' from '{attribute.name}' must be a list of objects with a 'value'"
    if not isinstance(value, list):
        raise InvalidValueError(shape)
    for element in value:
        item = _field(element, "value") if isinstance(element, dict) else None
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise InvalidValueError(shape)
    values = [element["value"] for element in _value(attribute, value) or [] if element.get("value") is not None]
    if not values:
        return []  # an empty list of values to remove removes nothing
    matches = balanced([Compare(AttrPath("value"), "eq", item) for item in values], Or)
    return [_op("remove", replace(path, filter=matches))]


def _parsed(text: str, schema: ResourceSchema) -> tuple[PatchPath, Target]:
    """``text`` parsed and resolved, with Entra's unqualified extension attributes and string literals fixed."""
    path = _qualified(parse_path(text), schema)
    target = resolve_target(path, schema)
    if path.filter is None:
        return path, target
    path = replace(path, filter=_coerced_filter(path.filter, target.attribute))
    return path, replace(target, filter=path.filter)


def _qualified(path: PatchPath, schema: ResourceSchema) -> PatchPath:
    """Entra sends the enterprise ``manager`` as path "manager" (interop.md §6 E7): an attribute that the
    core schema lacks and exactly one extension declares is qualified with that extension's URN."""
    attr = path.attr
    if attr.urn is not None or schema.top_level(attr.attr) is not None:
        return path
    owners = [extension.id for extension in schema.extensions if extension.attribute(attr.attr) is not None]
    if len(owners) != 1:
        return path
    return replace(path, attr=replace(attr, urn=owners[0]))


def _coerced_filter(f: Filter, attribute: Attribute) -> Filter:
    """Filter literals coerced like values, so an element created from the filter is well typed:
    Entra sends ``roles[primary eq "True"]`` (interop.md §6 E2, E8)."""
    if isinstance(f, (And, Or)):
        return type(f)(_coerced_filter(f.left, attribute), _coerced_filter(f.right, attribute))
    if isinstance(f, Not):
        return Not(_coerced_filter(f.expr, attribute))
    if isinstance(f, Compare) and f.path.urn is None and f.path.sub_attr is None:
        sub = attribute.sub(f.path.attr)
        if sub is not None:
            return replace(f, value=_coerced(sub, f.value))
    return f


def _target_value(target: Target, value: Any) -> Any:
    """``value`` normalised for what the path designates: a sub-attribute, one element, or the attribute."""
    if target.sub is not None:
        if _is_roles(target.attribute) and target.sub.name == "value" and isinstance(value, str):
            # Entra's SingleAppRoleAssignment: roles[primary eq "True"].value with a JSON string (E8).
            value = (_entra_role(value) or {"value": value})["value"]
        return _value(target.sub, value)
    if target.filter is not None:
        return _element(target.attribute, _single(value))
    return _value(target.attribute, value)


def _cleared(op: str, attributes: dict[str, Any], schema: ResourceSchema) -> list[PatchPath]:
    """Paths a path-less value clears with ``null`` or ``""`` (see "Absent values" in the module docstring)."""
    paths = _cleared_in(op, attributes, schema.top_level, None)
    for key, item in attributes.items():
        extension = schema.extension(key) if isinstance(key, str) else None
        if extension is not None and isinstance(item, dict):
            paths.extend(_cleared_in(op, item, extension.attribute, extension.id))
    return paths


def _cleared_in(
    op: str, attributes: dict[str, Any], lookup: Callable[[str], Attribute | None], urn: str | None
) -> list[PatchPath]:
    paths = []
    for key, item in attributes.items():
        attribute = lookup(key) if isinstance(key, str) else None
        if attribute is None or attribute.name in RESOURCE_FRAME:
            continue
        if _clears(op, attribute, item):
            paths.append(PatchPath(AttrPath(attribute.name, urn=urn)))
        elif attribute.is_complex and not attribute.multi_valued and isinstance(item, dict):
            for sub_key, sub_item in item.items():
                sub = attribute.sub(sub_key) if isinstance(sub_key, str) else None
                if sub is not None and _clears(op, sub, sub_item):
                    paths.append(PatchPath(AttrPath(attribute.name, sub.name, urn)))
    return paths


def _clears(op: str, attribute: Attribute, item: Any) -> bool:
    blank = item is None or (item == "" and not attribute.required)
    return blank and (op == "replace" or not attribute.multi_valued)


def _is_path_key(key: str, schema: ResourceSchema) -> bool:
    """Whether a key of a path-less value is an attribute path (dotted or URN-qualified), not a name."""
    if any(key.lower() == urn.lower() for urn in schema.urns):
        return False  # an extension object
    return key[:4].lower() == "urn:" or "." in key


def _op(op: str, path: PatchPath | None, value: Any = None) -> dict[str, Any]:
    return {"op": op, "path": path, "value": value}


# -- values ------------------------------------------------------------------------


def _value(attribute: Attribute, value: Any) -> Any:
    """One attribute's value in RFC shape, or None when it counts as absent."""
    if value is None:
        return None  # Entra sends explicit nulls (interop.md §6 E11)
    if attribute.multi_valued:
        # OneLogin sends a single object for a multi-valued attribute (interop.md §6 Others).
        items = value if isinstance(value, list) else [value]
        return [element for element in (_element(attribute, item) for item in items) if element is not None]
    if attribute.is_complex:
        value = _single(value)
    return _element(attribute, value)


def _element(attribute: Attribute, value: Any) -> Any:
    """A singular value, or one element of a multi-valued attribute; None when absent."""
    if value is None:
        return None
    if not attribute.is_complex:
        if value == "" and not attribute.required:
            return None  # OneLogin and Okta send "" for "no value" (interop.md §6 Others, §3 pitfall 19)
        return _coerced(attribute, value)
    if not isinstance(value, dict):
        if attribute.sub("value") is None or isinstance(value, (bool, list)):
            return value  # not ours to guess: the engine or the schema rejects it
        # Entra sends the enterprise manager as a bare id: "271" (interop.md §6 E7).
        value = {"value": value}
    normalized = {}
    for key, item in value.items():
        sub = attribute.sub(key) if isinstance(key, str) else None
        if sub is None:
            continue  # undeclared sub-attribute
        # "$ref": null inside Entra member values is absent like any null (interop.md §6 E4).
        item = _element(sub, item) if not sub.multi_valued else _value(sub, item)
        if item is not None:
            normalized[sub.name] = item
    if _is_roles(attribute):
        normalized = _unwrapped_role(normalized)
    return normalized or None


#: The strings accepted for a boolean: Entra sends "True"/"False" (interop.md §6 E2).
_BOOLEAN_STRINGS = {"true": True, "True": True, "false": False, "False": False}


def _coerced(attribute: Attribute, value: Any) -> Any:
    """A scalar coerced to the attribute's declared type where a client is known to send another."""
    if attribute.type == BOOLEAN and not isinstance(value, bool):
        # RFC 7643 §2.3.2: true or false.  Nothing else is guessed at: 0 or "yes" would deactivate or keep
        # an account by accident of a client's encoding.
        if not isinstance(value, str) or value not in _BOOLEAN_STRINGS:
            raise InvalidValueError(f"'{attribute.name}' must be true or false, not {json.dumps(value)[:40]}")
        return _BOOLEAN_STRINGS[value]
    if attribute.type == STRING and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # Okta sends numeric externalId, employeeNumber, costCenter (interop.md §6 O11)
    return value


def _single(value: Any) -> Any:
    """Entra sends a one-element array for the singular complex ``manager`` (interop.md §6 E7)."""
    if isinstance(value, list) and len(value) <= 1:
        return value[0] if value else None
    return value


def _is_roles(attribute: Attribute) -> bool:
    return attribute.name == "roles" and attribute.multi_valued


def _unwrapped_role(element: dict[str, Any]) -> dict[str, Any]:
    """Entra's PATCH sends app roles as JSON strings in ``value`` (interop.md §6 E8; see the module docstring)."""
    raw = element.get("value")
    inner = _entra_role(raw) if isinstance(raw, str) else None
    if inner is None:
        return element
    unwrapped = {**element, "value": inner["value"]}
    if "display" in inner and "display" not in element:
        unwrapped["display"] = inner["display"]
    return unwrapped


def _entra_role(text: str) -> dict[str, Any] | None:
    """``{"value": ..., "display": ...}`` from Entra's JSON-encoded app role, or None if ``text`` is not one."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        inner = json.loads(text)
    except ValueError:
        return None
    if not isinstance(inner, dict):
        return None
    role_value = _field(inner, "value") or _field(inner, "id")
    if role_value is None:
        return None
    role = {"value": str(role_value)}
    display = _field(inner, "displayName")
    if isinstance(display, str) and display:
        role["display"] = display
    return role


# -- resource helpers --------------------------------------------------------------


def _attributes(definition: SchemaDefinition, body: dict[str, Any]) -> dict[str, Any]:
    """The attributes of one schema's object (an extension), normalised."""
    result = {}
    for key, value in body.items():
        attribute = definition.attribute(key) if isinstance(key, str) else None
        if attribute is None:
            continue
        normalized = _value(attribute, value)
        if normalized is not None:
            result[attribute.name] = normalized
    return result


def _locate(key: str, schema: ResourceSchema) -> tuple[str | None, Attribute] | None:
    """The extension URN (None for core) and definition of a top-level key, which may be URN-qualified."""
    urn, name = None, key
    if key[:4].lower() == "urn:":
        urn, _, name = key.rpartition(":")
    resolved = schema.resolve(urn, name)
    if resolved is None:
        return None
    return (resolved.schema if resolved.is_extension else None), resolved.attribute


def _schemas(declared: Any, body: dict[str, Any], schema: ResourceSchema) -> list[str]:
    """``schemas`` rebuilt from what the schema knows: the core URN, the listed extensions, and every
    extension the body holds.  Entra lists non-standard URIs (E10) and omits custom extensions (E9);
    OneLogin sends the SCIM 1.1 core URN.  The endpoint already says which resource this is."""
    listed = declared if isinstance(declared, list) else [declared]
    held = [key for key in body if schema.extension(key) is not None]
    candidates = [schema.core.id, *(item for item in listed if isinstance(item, str)), *held]
    result: list[str] = []
    for candidate in candidates:
        canonical = next((urn for urn in schema.urns if urn.lower() == candidate.lower()), None)
        if canonical is not None and canonical not in result:
            result.append(canonical)
    return result


def _field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` with the key matched case-insensitively (RFC 7643 §2.1); None when missing."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    return next((value for key, value in obj.items() if isinstance(key, str) and key.lower() == lowered), None)
