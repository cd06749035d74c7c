"""In-memory evaluation of SCIM filters (RFC 7644 §3.4.2.2) against SCIM JSON documents.

The PATCH engine uses :func:`element_matches` for value-path filters
(``members[value eq "x"]``); the test-suite uses :func:`evaluate` as the
oracle for the SQL compiler, which must implement exactly these semantics.

A filter is first compiled into a Python predicate against the schema, then
applied.  Compilation resolves every attribute and checks every literal, so
errors never depend on the document: ``title pr or bogus eq 1`` is rejected
even for a document where ``title pr`` already decides the result.

Semantics
---------
Documents hold core and common attributes at the top level and extension
attributes under their schema URN.  Names in filters and keys in documents
are matched case-insensitively (RFC 7643 §2.1).

Absence
    ``None``, ``""``, ``[]`` and ``{}`` count as absent.  A complex value is
    absent unless one of its declared sub-attributes is present.

Which values a path yields
    ``attr`` yields the attribute's value, or each element of a multi-valued
    attribute; ``attr.sub`` yields ``sub`` of the complex value or of each
    element.  ``schemas`` is a multi-valued, case-insensitive string present
    on every document.  Attributes that are never returned (``password``)
    cannot be filtered on.

``pr``
    True when the path yields at least one present value.

``eq co sw ew gt ge lt le``
    True when at least one present value yielded by the path matches; absent
    values never match.  A comparison on a complex attribute without a
    sub-attribute (``emails co "x"``) compares its ``value`` sub-attribute,
    and is an error when there is none.

``ne``
    Exactly ``not eq``: true when the attribute is absent, and for a
    multi-valued attribute when no value equals the literal.

``null``
    ``eq null`` is ``not pr`` and ``ne null`` is ``pr``; other operators
    reject null.

By type of the compared attribute
    - string, reference, binary: all operators.  Unless the attribute is
      ``caseExact``, both sides are ``.lower()``-ed first (the SQL side uses
      ``LOWER()``).  ``gt ge lt le`` compare by Unicode code point.  A number
      literal compares as ``str(number)``; a boolean literal is an error.
    - integer, decimal: ``eq ne gt ge lt le``, numerically.  A string
      literal must be a JSON number (``"42"``).
    - dateTime: ``eq ne gt ge lt le`` on instants.  The literal must be an
      ISO 8601 string (``Z`` allowed); document values may be ``datetime``
      objects or ISO strings; values without an offset are UTC.  A document
      value that does not parse matches no comparison.
    - boolean: ``eq ne`` with ``true``/``false`` or the strings ``"true"``/
      ``"false"`` in any case.
    A document value of the wrong type (e.g. a number in a string attribute)
    matches no comparison.

Value paths
    ``attr[filter]`` is true when some element of ``attr`` (or its single
    complex value) satisfies ``filter``, whose paths name the element's
    sub-attributes.  ``and``, ``or`` and ``not`` are two-valued Boolean logic.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ..errors import InvalidFilterError
from ..schemas.definitions import (
    BINARY,
    BOOLEAN,
    DATETIME,
    DECIMAL,
    INTEGER,
    NEVER,
    REFERENCE,
    STRING,
    Attribute,
    ResourceSchema,
)
from .ast import And, AttrPath, Compare, Filter, Literal, Not, Or, Present, ValuePath
from .lexer import decode_number

Predicate = Callable[[Any], bool]

# RFC 7643 §3: every resource lists its schema URNs; RFC 7644 §3.4.2.2 filters on them.
SCHEMAS_ATTRIBUTE = Attribute("schemas", multi_valued=True, case_exact=False)

_TEXT_TYPES = frozenset({STRING, REFERENCE, BINARY})
_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq, "gt": operator.gt, "ge": operator.ge, "lt": operator.lt, "le": operator.le}
_SUBSTRING: dict[str, Callable[[Any, Any], bool]] = {"co": operator.contains, "sw": str.startswith, "ew": str.endswith}


def evaluate(f: Filter, document: dict, schema: ResourceSchema) -> bool:
    """Whether ``document`` (a resource described by ``schema``) matches ``f``."""
    return _compile(f, _DocumentScope(schema))(document)


def element_matches(f: Filter, element: Any, attribute: Attribute) -> bool:
    """Whether one element of the complex attribute ``attribute`` matches the value filter ``f``."""
    return _compile(f, _ElementScope(attribute))(element)


# -- where values come from ------------------------------------------------------


def _lookup(container: Any, name: str) -> Any:
    """``container[name]`` with the key matched case-insensitively; None when missing."""
    if not isinstance(container, dict):
        return None
    if name in container:
        return container[name]
    lowered = name.lower()
    for key, value in container.items():
        if isinstance(key, str) and key.lower() == lowered:
            return value
    return None


@dataclass(frozen=True)
class _Target:
    """A resolved path: how to read its values from a document (or an element)."""

    extension: str | None  # the URN key holding the attribute; None at the top level
    attribute: Attribute
    sub_attribute: Attribute | None = None

    @property
    def compared(self) -> Attribute:
        return self.sub_attribute or self.attribute

    def values(self, root: Any) -> list[Any]:
        """The attribute's value, or each element of a multi-valued one, or their sub-attribute."""
        container = root if self.extension is None else _lookup(root, self.extension)
        value = _lookup(container, self.attribute.name)
        items = value if isinstance(value, list) else [value]
        if self.sub_attribute is None:
            return items
        return [_lookup(item, self.sub_attribute.name) for item in items]


class _DocumentScope:
    """Resolves paths against a whole resource."""

    def __init__(self, schema: ResourceSchema) -> None:
        self.schema = schema

    def resolve(self, path: AttrPath) -> _Target:
        core = path.urn is None or path.urn.lower() == self.schema.core.id.lower()
        if core and path.attr.lower() == "schemas" and path.sub_attr is None:
            return _Target(None, SCHEMAS_ATTRIBUTE)
        resolved = self.schema.resolve(path.urn, path.attr, path.sub_attr)
        if resolved is None:
            raise InvalidFilterError(f"unknown attribute '{path}' in filter")
        if NEVER in (resolved.attribute.returned, resolved.target.returned):
            raise InvalidFilterError(f"attribute '{path}' cannot be used in a filter")
        extension = resolved.schema if resolved.is_extension else None
        return _Target(extension, resolved.attribute, resolved.sub_attribute)

    def value_path(self, path: AttrPath) -> tuple[_Target, _ElementScope]:
        target = self.resolve(path)
        if target.sub_attribute is not None or not target.attribute.is_complex:
            raise InvalidFilterError(f"'{path}' is not a complex attribute; it cannot take a value filter")
        return target, _ElementScope(target.attribute)


class _ElementScope:
    """Resolves the paths inside a value filter: sub-attributes of one element."""

    def __init__(self, attribute: Attribute) -> None:
        if not attribute.is_complex:
            raise InvalidFilterError(f"'{attribute.name}' is not a complex attribute; it cannot take a value filter")
        self.attribute = attribute

    def resolve(self, path: AttrPath) -> _Target:
        sub = self.attribute.sub(path.attr) if path.urn is None and path.sub_attr is None else None
        if sub is None:
            raise InvalidFilterError(f"unknown attribute '{path}' in the value filter of '{self.attribute.name}'")
        return _Target(None, sub)

    def value_path(self, path: AttrPath) -> tuple[_Target, _ElementScope]:
        raise InvalidFilterError(f"value filters cannot be nested ('{path}' inside '{self.attribute.name}')")


_Scope = _DocumentScope | _ElementScope


# -- compilation -------------------------------------------------------------------


def _compile(f: Filter, scope: _Scope) -> Predicate:
    if isinstance(f, And):
        left, right = _compile(f.left, scope), _compile(f.right, scope)
        return lambda root: left(root) and right(root)
    if isinstance(f, Or):
        left, right = _compile(f.left, scope), _compile(f.right, scope)
        return lambda root: left(root) or right(root)
    if isinstance(f, Not):
        inner = _compile(f.expr, scope)
        return lambda root: not inner(root)
    if isinstance(f, Present):
        return _present(scope.resolve(f.path))
    if isinstance(f, Compare):
        return _compare(f, scope.resolve(f.path))
    if isinstance(f, ValuePath):
        elements, element_scope = scope.value_path(f.path)
        condition = _compile(f.filter, element_scope)
        return lambda root: any(isinstance(e, dict) and condition(e) for e in elements.values(root))
    raise TypeError(f"not a filter node: {f!r}")


def _is_present(value: Any, attribute: Attribute) -> bool:
    if attribute.is_complex:
        return isinstance(value, dict) and any(
            _is_present(_lookup(value, sub.name), sub) for sub in attribute.sub_attributes
        )
    return value is not None and not (isinstance(value, (str, list, dict)) and len(value) == 0)


def _present(target: _Target) -> Predicate:
    compared = target.compared
    return lambda root: any(_is_present(value, compared) for value in target.values(root))


def _compare(f: Compare, target: _Target) -> Predicate:
    if f.value is None:
        # RFC 7644 §3.4.2.2 has no null semantics; "eq null" is "not pr" and "ne null" is "pr".
        if f.op not in ("eq", "ne"):
            raise InvalidFilterError(f"operator '{f.op}' cannot compare '{f.path}' with null")
        present = _present(target)
        return present if f.op == "ne" else lambda root: not present(root)
    if target.compared.is_complex:
        # RFC 7644 §3.4.2.2: a complex attribute without a sub-attribute is compared through its "value".
        value_sub = target.attribute.sub("value")
        if value_sub is None:
            raise InvalidFilterError(f"'{f.path}' is complex and has no 'value'; name one of its sub-attributes")
        target = replace(target, sub_attribute=value_sub)
    compared = target.compared
    # "ne" is "not eq" (so an absent attribute matches "ne").
    matches = _value_test("eq" if f.op == "ne" else f.op, f.value, compared, f.path)

    def any_matches(root: Any) -> bool:
        return any(matches(value) for value in target.values(root) if _is_present(value, compared))

    return (lambda root: not any_matches(root)) if f.op == "ne" else any_matches


def _value_test(op: str, literal: Literal, attribute: Attribute, path: AttrPath) -> Predicate:
    """A test of one present document value against ``literal``, by the attribute's type."""
    kind = attribute.type
    if kind in _TEXT_TYPES:
        expected = _as_text(literal, path)
        fold: Callable[[str], str] = (lambda text: text) if attribute.case_exact else str.lower
        test = _SUBSTRING.get(op) or _ORDERING[op]
        folded = fold(expected)
        return lambda value: isinstance(value, str) and test(fold(value), folded)
    if op in _SUBSTRING:
        raise InvalidFilterError(f"operator '{op}' applies to strings only, not to {kind} attribute '{path}'")
    if kind == BOOLEAN:
        if op != "eq":
            raise InvalidFilterError(f"operator '{op}' cannot compare boolean attribute '{path}'")
        truth = _as_boolean(literal, path)
        return lambda value: isinstance(value, bool) and value is truth
    test = _ORDERING[op]
    if kind in (INTEGER, DECIMAL):
        number = _as_number(literal, path)
        return lambda value: isinstance(value, (int, float)) and not isinstance(value, bool) and test(value, number)
    if kind == DATETIME:
        instant = _as_datetime(literal, path)
        return lambda value: (parsed := _document_datetime(value)) is not None and test(parsed, instant)
    raise InvalidFilterError(f"attribute '{path}' of type {kind} cannot be compared")


# -- literal coercion --------------------------------------------------------------


def _as_text(literal: Literal, path: AttrPath) -> str:
    if isinstance(literal, str):
        return literal
    if isinstance(literal, bool):
        raise InvalidFilterError(f"string attribute '{path}' cannot be compared with {str(literal).lower()}")
    # Okta sends numeric ids unquoted (externalId eq 123): compare the number's string form.
    return str(literal)


def _as_boolean(literal: Literal, path: AttrPath) -> bool:
    if isinstance(literal, bool):
        return literal
    # Entra sends quoted booleans in any case: roles[primary eq "True"].
    if isinstance(literal, str) and literal.lower() in ("true", "false"):
        return literal.lower() == "true"
    raise InvalidFilterError(f"boolean attribute '{path}' cannot be compared with {literal!r}")


def _as_number(literal: Literal, path: AttrPath) -> int | float:
    if isinstance(literal, (int, float)) and not isinstance(literal, bool):
        return literal
    number = decode_number(literal) if isinstance(literal, str) else None
    if number is None:
        raise InvalidFilterError(f"numeric attribute '{path}' cannot be compared with {literal!r}")
    return number


def _parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 date-time (RFC 7643 §2.3.5) as an aware datetime; UTC when no offset is given."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _as_datetime(literal: Literal, path: AttrPath) -> datetime:
    parsed = _parse_datetime(literal) if isinstance(literal, str) else None
    if parsed is None:
        raise InvalidFilterError(f"dateTime attribute '{path}' cannot be compared with {literal!r}: not ISO 8601")
    return parsed


def _document_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return _parse_datetime(value) if isinstance(value, str) else None
