"""The RFC 7644 §3.5.2 PATCH engine: operations applied to a SCIM document in memory.

``apply_patch(document, operations, schema)`` takes:

- a resource as a plain dict: core and common attributes at the top level,
  extension attributes under their schema URN, names in their canonical case;
- operations as :func:`flask_scim_entitlements.normalize.normalize_patch`
  returns them: ``{"op": "add" | "remove" | "replace", "path": PatchPath | None, "value": ...}``;
- the resource type's :class:`ResourceSchema`, where every attribute's type,
  ``multiValued``, ``required``, ``caseExact`` and ``mutability`` are read.

It returns a :class:`PatchResult`: a new document (the input is never
mutated) and the top-level keys that changed, so the store writes only those.
The engine is pure Python (no Flask, no SQLAlchemy) and strict: client quirks
(``"Replace"``, ``"False"``, Entra's member removal with a value...) are
rewritten before it, in ``normalize.py``.

How it works
------------
Every operation reads the target attribute's current value, computes its new
value without mutating anything it read, and ends in :func:`_commit`, the one
place where RFC 7643 §2.2 mutability and ``required`` are checked against the
before/after pair and the value is written back.  A singular complex attribute
addressed with a value filter (Entra's ``manager[value eq "id"]``, interop.md
§6 E7) is handled as a list of at most one element, so the filter code serves
both shapes.  An attribute left ``null``, ``[]`` or ``{}`` is unassigned
(RFC 7643 §2.5) and removed from the document; so is an extension object
left empty.

Choices where the RFC is silent or loose
----------------------------------------
- Removing or emptying a ``required`` attribute raises ``MutabilityError``:
  RFC 7644 §3.5.2.2 says so for "removed or becomes unassigned", and the
  §3.12 table defines ``mutability`` as a modification incompatible with the
  attribute's "current state".  Removing an attribute that is already
  unassigned is a no-op, whatever its mutability (nothing is removed).
- A readOnly attribute named by a path, or a top-level key of a path-less
  value, is ignored when the value equals the current one (Okta echoes the
  group ``id``, interop.md §1.5, §6 O1) and is otherwise a ``MutabilityError``.
  ``id``, ``meta`` and ``schemas`` inside a path-less value are always ignored.
  readOnly *sub-attributes inside a value* of a writable attribute (Okta's
  ``members[].display``, interop.md §1.5) are server-computed and ignored, not
  rejected; a replacement element keeps them from the element it replaces.
- Two elements are "the same value" (so ``add`` merges instead of appending)
  when their ``value`` sub-attributes are equal under the sub-attribute's
  ``caseExact``, and their ``type`` too when both have one; elements without
  a ``value`` are the same only when equal.  A full ``replace`` keeps one
  element per value.
- ``primary``: when an operation leaves several elements with
  ``primary: true``, the last one the operation set wins and the others get
  ``primary: false`` (RFC 7643 §2.4 "MUST appear no more than once").
- A filter matching nothing: ``remove`` is a no-op (retries stay idempotent);
  ``add``, and ``replace`` of a sub-attribute, create one element from the
  filter's ``eq`` terms when the filter is made of nothing else (Entra
  ``emails[type eq "work"].value``, interop.md §6 E6); otherwise ``noTarget``.
- ``attr.sub`` on a multi-valued attribute without a filter addresses that
  sub-attribute of every element (``noTarget`` for add/replace when there is
  none).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ..errors import (
    InvalidFilterError,
    InvalidPathError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
    NoTargetError,
)
from ..filters.ast import And, Compare, Filter, PatchPath
from ..filters.evaluate import element_matches
from ..filters.parser import unparse
from ..schemas.definitions import (
    BINARY,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    IMMUTABLE,
    INTEGER,
    READ_ONLY,
    REFERENCE,
    STRING,
    Attribute,
    ResourceSchema,
)

#: RFC 7644 §3.5.2: the three PATCH operations, lower-cased.
OPERATIONS = frozenset({"add", "remove", "replace"})

# Keys of a path-less value that are never patched: Okta sends the resource's own
# ``id`` (interop.md §1.5, §6 O1) and clients echo ``meta`` and ``schemas``.
_IGNORED_IN_VALUE = frozenset({"id", "meta", "schemas"})

# The JSON types each SCIM type accepts (RFC 7643 §2.3); bool is excluded from numbers below.
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    STRING: (str,),
    REFERENCE: (str,),
    BINARY: (str,),
    DATETIME: (str,),
    BOOLEAN: (bool,),
    INTEGER: (int,),
    DECIMAL: (int, float),
}
_TYPE_NAMES = {STRING: "a string", REFERENCE: "a string (a reference)", BINARY: "a string (base64)",
               DATETIME: "a string (a dateTime)", BOOLEAN: "a boolean", INTEGER: "an integer", DECIMAL: "a number"}


@dataclass(frozen=True)
class PatchResult:
    """A patched document and the top-level keys (core attribute names or extension URNs) that changed."""

    document: dict[str, Any]
    changed: frozenset[str]


@dataclass(frozen=True)
class Target:
    """What a PATCH path designates: an attribute, optionally filtered, optionally one of its sub-attributes."""

    extension: str | None  # the URN key holding the attribute in the document; None for core attributes
    attribute: Attribute
    filter: Filter | None = None
    sub: Attribute | None = None

    @property
    def label(self) -> str:
        """The path as written in error messages."""
        name = self.attribute.name
        if self.filter is not None:
            name = f"{name}[{unparse(self.filter)}]"
        if self.sub is not None:
            name = f"{name}.{self.sub.name}"
        return name if self.extension is None else f"{self.extension}:{name}"


def resolve_target(path: PatchPath, schema: ResourceSchema) -> Target:
    """Resolve a parsed PATCH path against ``schema``; InvalidPathError when it names nothing the schema declares."""
    attr_path = path.attr
    resolved = schema.resolve(attr_path.urn, attr_path.attr, attr_path.sub_attr)
    if resolved is None:
        raise InvalidPathError(f"unknown attribute '{attr_path}' in path")
    extension = resolved.schema if resolved.is_extension else None
    if path.filter is None:
        return Target(extension, resolved.attribute, None, resolved.sub_attribute)
    attribute = resolved.attribute
    if resolved.sub_attribute is not None or not attribute.is_complex:
        raise InvalidPathError(f"'{attr_path}' is not a complex attribute; it cannot take a value filter")
    try:
        # Compiling the filter resolves every name in it, whatever the document holds.
        element_matches(path.filter, {}, attribute)
    except InvalidFilterError as exc:
        raise InvalidPathError(exc.detail) from None
    sub = None
    if path.sub_attr is not None:
        sub = attribute.sub(path.sub_attr)
        if sub is None:
            raise InvalidPathError(f"'{attribute.name}' has no sub-attribute '{path.sub_attr}'")
    return Target(extension, attribute, path.filter, sub)


def apply_patch(document: dict[str, Any], operations: list[dict[str, Any]], schema: ResourceSchema) -> PatchResult:
    """Apply ``operations`` in order (RFC 7644 §3.5.2: all or nothing, so any error leaves no result)."""
    patched = copy.deepcopy(document)
    for operation in operations:
        _apply(patched, operation, schema)
    changed = frozenset(
        key for key in {*document, *patched} if not _equivalent(document.get(key), patched.get(key))
    )
    return PatchResult(patched, changed)


def _apply(doc: dict[str, Any], operation: dict[str, Any], schema: ResourceSchema) -> None:
    op, path, value = operation["op"], operation.get("path"), operation.get("value")
    if op not in OPERATIONS:
        raise InvalidSyntaxError(f"unknown PATCH op '{op}': expected add, remove or replace")
    if path is None:
        if op == "remove":
            # RFC 7644 §3.5.2.2: "If 'path' is unspecified, the operation fails ... 'noTarget'".
            raise NoTargetError("'remove' needs a path")
        _apply_without_path(doc, op, value, schema)
        return
    target = resolve_target(path, schema)
    if op == "remove":
        _remove(doc, target)
    elif target.filter is None and target.sub is None:
        _assign(doc, target, op, value)
    elif target.filter is None and not target.attribute.multi_valued:
        _assign_sub_attribute(doc, target, value)
    else:
        _update_elements(doc, target, op, value)


def _apply_without_path(doc: dict[str, Any], op: str, value: Any, schema: ResourceSchema) -> None:
    # RFC 7644 §3.5.2.1 / §3.5.2.3: without a path, "value" holds the attributes to add or replace.
    if not isinstance(value, dict):
        raise InvalidValueError(f"'{op}' without a path needs an object of attributes as its value")
    for key, item in value.items():
        if key.lower() in _IGNORED_IN_VALUE:
            continue
        extension = schema.extension(key)
        if extension is None:
            attribute = schema.top_level(key)
            if attribute is None:
                raise InvalidPathError(f"unknown attribute '{key}'")
            _assign(doc, Target(None, attribute), op, item)
            continue
        if not isinstance(item, dict):
            raise InvalidValueError(f"'{extension.id}' must be an object of attributes")
        for name, sub_item in item.items():
            attribute = extension.attribute(name)
            if attribute is None:
                raise InvalidPathError(f"unknown attribute '{extension.id}:{name}'")
            _assign(doc, Target(extension.id, attribute), op, sub_item)


# -- operations ------------------------------------------------------------------


def _assign(doc: dict[str, Any], target: Target, op: str, value: Any) -> None:
    """add/replace of a whole attribute (a path without filter or sub-attribute, or a key of a path-less value)."""
    attribute = target.attribute
    new = _checked(attribute, value, target.label)
    before = _read(doc, target)
    if attribute.multi_valued:
        # §3.5.2.1: "the new values are added"; §3.5.2.3: "the attribute and all values are replaced".
        after = _added(attribute, before, new, target.label) if op == "add" else _replaced(attribute, before, new)
    elif attribute.is_complex:
        # §3.5.2.1 / §3.5.2.3: the sub-attributes given replace or are added; the others are left unchanged.
        after = _merged(attribute, before if isinstance(before, dict) else {}, new, target.label)
    else:
        # §3.5.2.1: add to a singular attribute replaces it; §3.5.2.3: replace of an absent attribute adds it.
        after = new
    _commit(doc, target, before, after)


def _assign_sub_attribute(doc: dict[str, Any], target: Target, value: Any) -> None:
    """add/replace of one sub-attribute of a singular complex attribute (``name.givenName``), created if absent."""
    sub = target.sub
    assert sub is not None
    new = _checked(sub, value, target.label)
    before = _read(doc, target)
    current = before if isinstance(before, dict) else {}
    if _guard(sub, current.get(sub.name), new, target.label):
        _commit(doc, target, before, {**current, sub.name: new})


def _update_elements(doc: dict[str, Any], target: Target, op: str, value: Any) -> None:
    """add/replace with a value filter, or of a sub-attribute of every element of a multi-valued attribute."""
    attribute, sub = target.attribute, target.sub
    new = _checked(sub, value, target.label) if sub is not None else _checked(attribute, value, target.label,
                                                                             element=True)
    before = _read(doc, target)
    elements = _elements_of(attribute, before)
    matched = _matching(target, elements)
    if not matched:
        elements.append(_created_element(target, op, elements))
        matched = [len(elements) - 1]
    fresh = []
    for index in matched:
        element = elements[index]
        if sub is not None:
            # §3.5.2.3: "... the sub-attribute ... of each matching value is replaced".
            if not _guard(sub, element.get(sub.name), new, target.label):
                continue
            updated = {**element, sub.name: new}
        elif op == "replace":
            # §3.5.2.3: "all matching record values SHALL be replaced".
            updated = _replaced_element(attribute, element, new, target.label)
        else:
            updated = _merged(attribute, element, new, target.label)
        elements[index] = updated
        fresh.append(updated)
    _commit(doc, target, before, _from_elements(attribute, _settle_primary(elements, fresh)))


def _created_element(target: Target, op: str, elements: list[Any]) -> dict[str, Any]:
    """The element a filter that matched nothing creates (Entra, interop.md §6 E6), or NoTargetError."""
    attribute = target.attribute
    # §3.12 noTarget: "the specified 'path' value contains a filter that yields no match".  Entra sends
    # emails[type eq "work"].value for an absent work email: add it, carrying the filter's eq terms.
    seed = _equalities(target.filter, attribute) if (op == "add" or target.sub is not None) else None
    if seed is None or (elements and not attribute.multi_valued):
        raise NoTargetError(f"no value of '{attribute.name}' matches the path '{target.label}'")
    return _without_ignored(attribute, _checked(attribute, seed, target.label, element=True))


def _remove(doc: dict[str, Any], target: Target) -> None:
    attribute = target.attribute
    before = _read(doc, target)
    if target.filter is None and target.sub is None:
        # §3.5.2.2: a singular attribute becomes unassigned; a multi-valued one without filter loses all values.
        _commit(doc, target, before, None)
        return
    elements = _elements_of(attribute, before)
    matched = set(_matching(target, elements))
    sub = target.sub
    remaining = []
    for index, element in enumerate(elements):
        if index in matched:
            if sub is None:
                # §3.5.2.2: "the values matched by the filter are removed"; no match removes nothing.
                continue
            if sub.name in element:
                _guard(sub, element[sub.name], None, target.label)
                element = {key: item for key, item in element.items() if key != sub.name}
        if element:
            remaining.append(element)
    _commit(doc, target, before, _from_elements(attribute, remaining))


# -- values ----------------------------------------------------------------------


def _checked(attribute: Attribute, value: Any, label: str, *, element: bool = False) -> Any:
    """``value`` checked against the attribute's type, complex keys in canonical case, null sub-attributes dropped."""
    if value is None:
        raise InvalidValueError(f"'{label}' needs a value; use 'remove' to unassign it")
    if attribute.multi_valued and not element:
        if not isinstance(value, list):
            raise InvalidValueError(f"'{label}' is multi-valued: its value must be an array, not {_json_type(value)}")
        return [_checked(attribute, item, label, element=True) for item in value]
    if attribute.is_complex:
        if not isinstance(value, dict):
            raise InvalidValueError(f"'{label}' is complex: its value must be an object, not {_json_type(value)}")
        checked = {}
        for key, item in value.items():
            sub = attribute.sub(key)
            if sub is None:
                raise InvalidValueError(f"'{label}' has no sub-attribute '{key}'")
            if item is not None:
                checked[sub.name] = _checked(sub, item, f"{attribute.name}.{sub.name}")
        return checked
    expected = _PYTHON_TYPES.get(attribute.type, (str,))
    if not isinstance(value, expected) or (isinstance(value, bool) and attribute.type != BOOLEAN):
        raise InvalidValueError(
            f"'{label}' must be {_TYPE_NAMES.get(attribute.type, 'a string')}, not {_json_type(value)}"
        )
    return value


def _added(attribute: Attribute, before: Any, new: list[Any], label: str) -> list[Any]:
    elements = list(before or [])
    fresh = []
    for element in new:
        index = _find_same(attribute, elements, element)
        if index is None:
            entry = _without_ignored(attribute, element)
            if _is_unassigned(entry):
                continue
            elements.append(entry)
        else:
            entry = _merged(attribute, elements[index], element, label)
            elements[index] = entry
        fresh.append(entry)
    return _settle_primary(elements, fresh)


def _replaced(attribute: Attribute, before: Any, new: list[Any]) -> list[Any]:
    previous = list(before or [])
    elements: list[Any] = []
    for element in new:
        if _find_same(attribute, elements, element) is not None:
            continue  # a value listed twice is kept once
        index = _find_same(attribute, previous, element)
        kept = _server_computed(attribute, previous[index]) if index is not None else {}
        entry = _without_ignored(attribute, element)
        elements.append({**kept, **entry} if attribute.is_complex else entry)
    return _settle_primary(elements, elements)


def _merged(attribute: Attribute, old: dict[str, Any], new: dict[str, Any], label: str) -> dict[str, Any]:
    """``old`` with the sub-attributes of ``new`` set; immutable ones may only be set when absent (RFC 7643 §2.2)."""
    merged = dict(old)
    for name, value in new.items():
        sub = attribute.sub(name)
        assert sub is not None  # names come from _checked
        if _ignored(attribute, sub):
            continue
        if sub.mutability == IMMUTABLE and not _is_unassigned(old.get(name)) and not _equivalent(old.get(name), value):
            raise MutabilityError(f"'{attribute.name}.{name}' is immutable and already has a value (in '{label}')")
        merged[name] = value
    return merged


def _replaced_element(attribute: Attribute, old: dict[str, Any], new: dict[str, Any], label: str) -> dict[str, Any]:
    """``new`` replacing ``old``, keeping what the client may not change: server-computed and immutable values."""
    replacement = _without_ignored(attribute, new)
    for name, value in old.items():
        sub = attribute.sub(name)
        if sub is None:
            continue
        if _ignored(attribute, sub):
            replacement[name] = value
        elif sub.mutability == IMMUTABLE and not _is_unassigned(value):
            if name in replacement and not _equivalent(replacement[name], value):
                raise MutabilityError(f"'{attribute.name}.{name}' is immutable and already has a value (in '{label}')")
            replacement[name] = value
    return replacement


def _equalities(f: Filter | None, attribute: Attribute) -> dict[str, Any] | None:
    """The sub-attribute values a filter made only of ``eq`` terms joined by ``and`` pins down, else None."""
    if isinstance(f, Compare):
        sub = attribute.sub(f.path.attr) if f.path.urn is None and f.path.sub_attr is None else None
        if f.op != "eq" or sub is None or f.value is None:
            return None
        return {sub.name: f.value}
    if isinstance(f, And):
        left, right = _equalities(f.left, attribute), _equalities(f.right, attribute)
        if left is None or right is None or any(key in left and left[key] != item for key, item in right.items()):
            return None
        return {**left, **right}
    return None


def _settle_primary(elements: list[Any], fresh: list[Any]) -> list[Any]:
    """RFC 7643 §2.4: "primary" is true at most once; the last element this operation set wins."""
    fresh_ids = {id(entry) for entry in fresh}
    winners = [e for e in elements if isinstance(e, dict) and e.get("primary") is True and id(e) in fresh_ids]
    if not winners:
        return elements
    winner = winners[-1]
    return [
        {**e, "primary": False} if isinstance(e, dict) and e is not winner and e.get("primary") is True else e
        for e in elements
    ]


# -- mutability and writing back ---------------------------------------------------


def _commit(doc: dict[str, Any], target: Target, before: Any, after: Any) -> None:
    """Check the attribute's before/after pair against its characteristics, then write ``after``."""
    attribute = target.attribute
    if _guard(attribute, before, after, target.label):
        _write(doc, target, after)


def _guard(attribute: Attribute, before: Any, after: Any, label: str) -> bool:
    """Whether ``after`` may be written over ``before``: False when it is an allowed no-op, else raise."""
    if attribute.mutability == READ_ONLY:
        # RFC 7643 §2.2 readOnly "SHALL NOT be modified"; an unchanged echo (Okta's group id, O1) is ignored.
        if _equivalent(before, after):
            return False
        raise MutabilityError(f"'{label}' is readOnly")
    if attribute.mutability == IMMUTABLE and not _is_unassigned(before):
        # RFC 7644 §3.5.2: a client "MAY 'add' a value to an 'immutable' attribute if [it] had no previous value".
        if _equivalent(before, after):
            return False
        raise MutabilityError(f"'{label}' is immutable and already has a value")
    if attribute.required and _is_blank(after) and not _is_blank(before):
        # RFC 7644 §3.5.2.2: a required attribute that "is removed or becomes unassigned" -> "mutability".
        raise MutabilityError(f"'{label}' is required: it cannot be removed or emptied")
    return True


def _read(doc: dict[str, Any], target: Target) -> Any:
    container = doc if target.extension is None else doc.get(target.extension)
    return container.get(target.attribute.name) if isinstance(container, dict) else None


def _write(doc: dict[str, Any], target: Target, value: Any) -> None:
    name = target.attribute.name
    container = doc if target.extension is None else dict(doc.get(target.extension) or {})
    if _is_unassigned(value):
        container.pop(name, None)  # RFC 7643 §2.5: null and [] are "unassigned"
    else:
        container[name] = value
    if target.extension is not None:
        if container:
            doc[target.extension] = container
        else:
            doc.pop(target.extension, None)  # an extension object left empty is removed


# -- helpers -----------------------------------------------------------------------


def _elements_of(attribute: Attribute, value: Any) -> list[Any]:
    """The elements a filter runs over: a multi-valued attribute's, or a singular complex value as a list of 0 or 1."""
    if attribute.multi_valued:
        return list(value or [])
    return [value] if isinstance(value, dict) and value else []


def _from_elements(attribute: Attribute, elements: list[Any]) -> Any:
    if attribute.multi_valued:
        return elements
    return elements[0] if elements else None


def _matching(target: Target, elements: list[Any]) -> list[int]:
    return [
        index
        for index, element in enumerate(elements)
        if isinstance(element, dict)
        and (target.filter is None or element_matches(target.filter, element, target.attribute))
    ]


def _find_same(attribute: Attribute, elements: list[Any], element: Any) -> int | None:
    for index, existing in enumerate(elements):
        if _same_element(attribute, existing, element):
            return index
    return None


def _same_element(attribute: Attribute, a: Any, b: Any) -> bool:
    """Whether two elements of a multi-valued attribute are the same value (see the module docstring)."""
    if not attribute.is_complex:
        return _equal_values(attribute, a, b)
    value_sub, type_sub = attribute.sub("value"), attribute.sub("type")
    if not isinstance(a, dict) or not isinstance(b, dict) or value_sub is None or None in (a.get("value"),
                                                                                          b.get("value")):
        return a == b
    if not _equal_values(value_sub, a["value"], b["value"]):
        return False
    a_type, b_type = a.get("type"), b.get("type")
    return type_sub is None or a_type is None or b_type is None or _equal_values(type_sub, a_type, b_type)


def _equal_values(attribute: Attribute, a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str) and not attribute.case_exact:
        return a.lower() == b.lower()
    return a == b


def _ignored(attribute: Attribute, sub: Attribute) -> bool:
    """A readOnly sub-attribute inside the value of a writable attribute is server-computed: ignored."""
    return sub.mutability == READ_ONLY and attribute.mutability != READ_ONLY


def _without_ignored(attribute: Attribute, element: Any) -> Any:
    """``element`` without the sub-attributes the client may not set (names are canonical: see _checked)."""
    if not attribute.is_complex or not isinstance(element, dict):
        return element
    return {name: item for name, item in element.items() if not _is_ignored(attribute, name)}


def _server_computed(attribute: Attribute, element: Any) -> dict[str, Any]:
    """The sub-attributes of a stored element that the server computes, to carry into its replacement."""
    if not isinstance(element, dict):
        return {}
    return {name: item for name, item in element.items() if _is_ignored(attribute, name)}


def _is_ignored(attribute: Attribute, name: str) -> bool:
    sub = attribute.sub(name)
    return sub is not None and _ignored(attribute, sub)


def _is_unassigned(value: Any) -> bool:
    """RFC 7643 §2.5: unassigned, null and an empty array are equivalent."""
    return value is None or (isinstance(value, (list, dict)) and not value)


def _is_blank(value: Any) -> bool:
    return _is_unassigned(value) or value == ""


def _equivalent(a: Any, b: Any) -> bool:
    return (_is_unassigned(a) and _is_unassigned(b)) or a == b


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else type(value).__name__
