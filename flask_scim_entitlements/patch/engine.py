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
  rejected.  An element that is replaced (by a filtered ``replace``, or by a
  full ``replace`` that lists its value again, as Okta's "Push Now" does) keeps
  its server-computed and immutable sub-attributes; a complex value given a
  new ``value`` (another manager) drops the server-computed ones, which
  described the old value.
- Two elements are "the same value" (so ``add`` merges instead of appending)
  when their ``value`` sub-attributes are equal under the sub-attribute's
  ``caseExact``, and their ``type`` too when both have one; elements without
  a ``value`` are the same only when equal.  A full ``replace`` keeps one
  element per value.  Elements are indexed by value, and a filter that is
  only ``value eq ... or ...`` is matched as a set, so that groups with
  thousands of members patch in linear time.
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
from ..filters.ast import And, Compare, Filter, Or, PatchPath
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
    RESOURCE_FRAME,
    STRING,
    Attribute,
    ResourceSchema,
)

#: RFC 7644 §3.5.2: the three PATCH operations, lower-cased.
OPERATIONS = frozenset({"add", "remove", "replace"})

# Keys of a path-less value that are never patched: Okta sends the resource's own
# ``id`` (interop.md §1.5, §6 O1) and clients echo ``meta`` and ``schemas``.
_IGNORED_IN_VALUE = RESOURCE_FRAME

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
    after: Any
    if attribute.multi_valued:
        # §3.5.2.1: "the new values are added"; §3.5.2.3: "the attribute and all values are replaced".
        after = (_added if op == "add" else _replaced)(attribute, before, new, target.label)
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
    if sub is None:
        new = _checked(attribute, value, target.label, element=True)
    else:
        new = _checked(sub, value, target.label)
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
    return _without_server_computed(attribute, _checked(attribute, seed, target.label, element=True))


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
    elements = _Elements(attribute, before or [])
    fresh = []
    for element in new:
        index = elements.find(element)
        if index is None:
            entry = _without_server_computed(attribute, element)
            if _is_unassigned(entry):
                continue
            elements.append(entry)
        else:
            entry = _merged(attribute, elements.items[index], element, label)
            elements.items[index] = entry
        fresh.append(entry)
    return _settle_primary(elements.items, fresh)


def _replaced(attribute: Attribute, before: Any, new: list[Any], label: str) -> list[Any]:
    previous = _Elements(attribute, before or [])
    elements = _Elements(attribute)
    for element in new:
        if elements.find(element) is not None:
            continue  # a value listed twice is kept once
        index = previous.find(element)
        if index is not None and attribute.is_complex:
            # A value that stays is that element replaced: what the client may not change is kept.
            elements.append(_replaced_element(attribute, previous.items[index], element, label))
        else:
            elements.append(_without_server_computed(attribute, element))
    return _settle_primary(elements.items, elements.items)


def _merged(attribute: Attribute, old: dict[str, Any], new: dict[str, Any], label: str) -> dict[str, Any]:
    """``old`` with the sub-attributes of ``new`` set; immutable ones may only be set when absent (RFC 7643 §2.2)."""
    merged = _without_server_computed(attribute, old) if _is_new_value(attribute, old, new) else dict(old)
    for name, value in new.items():
        sub = attribute.sub(name)
        if _server_computed(attribute, name):
            continue
        current = old.get(name)
        if sub is not None and sub.mutability == IMMUTABLE and not _is_unassigned(current) and current != value:
            raise MutabilityError(f"'{attribute.name}.{name}' is immutable and already has a value (in '{label}')")
        merged[name] = value
    return merged


def _replaced_element(attribute: Attribute, old: dict[str, Any], new: dict[str, Any], label: str) -> dict[str, Any]:
    """``new`` replacing ``old``, keeping what the client may not change: server-computed and immutable values."""
    replacement = _without_server_computed(attribute, new)
    new_value = _is_new_value(attribute, old, new)
    for name, value in old.items():
        sub = attribute.sub(name)
        if sub is None:
            continue
        if _server_computed(attribute, name):
            if not new_value:
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
    """The positions of the elements the target's filter selects (all of them without a filter)."""
    candidates = [index for index, element in enumerate(elements) if isinstance(element, dict)]
    if target.filter is None:
        return candidates
    lookup = _equality_set(target.filter, target.attribute)
    if lookup is None:
        return [index for index in candidates if element_matches(target.filter, elements[index], target.attribute)]
    sub, values = lookup
    return [index for index in candidates if _folded(sub, elements[index].get(sub.name)) in values]


def _equality_set(f: Filter, attribute: Attribute) -> tuple[Attribute, frozenset[str]] | None:
    """``value eq "u1" or value eq "u2" ...`` (Entra's member removal once normalised, interop.md §6 E3) as
    the compared sub-attribute and its folded values, so that matching thousands of members against
    thousands of terms is a set lookup.  None for any other filter, which the evaluator then runs.  Same
    semantics as the evaluator: text compared case-insensitively unless caseExact; "" never matches."""
    if isinstance(f, Or):
        left, right = _equality_set(f.left, attribute), _equality_set(f.right, attribute)
        if left is None or right is None or left[0] is not right[0]:
            return None
        return left[0], left[1] | right[1]
    if not isinstance(f, Compare) or f.op != "eq" or not isinstance(f.value, str) or f.value == "":
        return None
    sub = attribute.sub(f.path.attr) if f.path.urn is None and f.path.sub_attr is None else None
    if sub is None or sub.type not in (STRING, REFERENCE, BINARY):
        return None
    return sub, frozenset({_folded(sub, f.value)})


def _folded(attribute: Attribute, value: Any) -> Any:
    return value.lower() if isinstance(value, str) and not attribute.case_exact else value


class _Elements:
    """The elements of a multi-valued attribute, indexed by their folded ``value`` so that finding "the same
    value" is a lookup, not a scan: Okta's "Push Now" replaces thousands of members in one operation."""

    def __init__(self, attribute: Attribute, elements: list[Any] | None = None) -> None:
        self.attribute = attribute
        self.items: list[Any] = []
        self._positions: dict[Any, list[int]] = {}
        for element in elements or []:
            self.append(element)

    def find(self, element: Any) -> int | None:
        """The position of the element that is the same value as ``element`` (see _same_element), if any."""
        for index in self._positions.get(self._key(element), ()):
            if _same_element(self.attribute, self.items[index], element):
                return index
        return None

    def append(self, element: Any) -> None:
        self._positions.setdefault(self._key(element), []).append(len(self.items))
        self.items.append(element)

    def _key(self, element: Any) -> Any:
        """Equal for the same value; None for elements without a (hashable) value, compared whole."""
        compared = self.attribute.sub("value") if self.attribute.is_complex else self.attribute
        if compared is None:
            return None
        value = _folded(compared, element.get("value") if isinstance(element, dict) else element)
        return value if isinstance(value, (str, int, float, bool)) else None


def _same_element(attribute: Attribute, a: Any, b: Any) -> bool:
    """Whether two elements of a multi-valued attribute are the same value (see the module docstring)."""
    if not attribute.is_complex:
        return _equal_values(attribute, a, b)
    value_sub, type_sub = attribute.sub("value"), attribute.sub("type")
    if not isinstance(a, dict) or not isinstance(b, dict) or value_sub is None:
        return a == b
    if a.get("value") is None or b.get("value") is None:
        return a == b
    if not _equal_values(value_sub, a["value"], b["value"]):
        return False
    a_type, b_type = a.get("type"), b.get("type")
    return type_sub is None or a_type is None or b_type is None or _equal_values(type_sub, a_type, b_type)


def _equal_values(attribute: Attribute, a: Any, b: Any) -> bool:
    return _folded(attribute, a) == _folded(attribute, b)


def _server_computed(attribute: Attribute, name: str) -> bool:
    """Whether sub-attribute ``name`` is readOnly inside a writable attribute: the server computes it, so a
    value sent for it is ignored (Okta's ``members[].display``, interop.md §1.5)."""
    sub = attribute.sub(name)
    return sub is not None and sub.mutability == READ_ONLY and attribute.mutability != READ_ONLY


def _without_server_computed(attribute: Attribute, element: Any) -> Any:
    if not attribute.is_complex or not isinstance(element, dict):
        return element
    return {name: item for name, item in element.items() if not _server_computed(attribute, name)}


def _is_new_value(attribute: Attribute, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether ``new`` points a complex value elsewhere (another manager): what the server computed from the
    old ``value`` (the manager's ``displayName``) no longer holds."""
    value_sub = attribute.sub("value")
    return (value_sub is not None and new.get("value") is not None and old.get("value") is not None
            and not _equal_values(value_sub, old["value"], new["value"]))


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
