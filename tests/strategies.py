"""Hypothesis strategies: SCIM filter ASTs and the documents they are evaluated against.

``filters(schema)`` generates ASTs that are valid for ``schema``: comparisons
with type-appropriate operators and literals, ``pr``, ``eq null``/``ne null``,
value paths, sub-attributes, URN-qualified attributes (extension attributes
always, core attributes sometimes), names in varying case, and ``and``/``or``/
``not`` nesting.  ``documents(schema)`` generates SCIM documents for the same
schema: core and common attributes at the top level, extension attributes
under their URN, ``schemas`` listing the URNs in use, and absent values in
every form (missing key, ``None``, ``""``, ``[]``, ``{}``).

Both draw from the same small pools, chosen by attribute name and type, so
that comparisons often match; the pools mix case (``bjensen``/``BJensen``) so
that ``caseExact`` matters.  Literals are ASCII: SQLite's ``LOWER()`` folds
ASCII only, and these strategies feed a differential test of the SQL compiler
against :func:`flask_scim_entitlements.filters.evaluate`.

``id`` and ``userName`` come from pools too: a test storing several documents
should draw them with ``unique_by`` (``id``, lower-cased ``userName``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import strategies as st

from flask_scim_entitlements.filters.ast import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from flask_scim_entitlements.filters.evaluate import SCHEMAS_ATTRIBUTE
from flask_scim_entitlements.schemas.definitions import (
    BINARY,
    BOOLEAN,
    COMMON_ATTRIBUTES,
    DATETIME,
    DECIMAL,
    INTEGER,
    NEVER,
    REFERENCE,
    STRING,
    Attribute,
    ResourceSchema,
)

USER_NAMES = ("bjensen", "BJensen", "jsmith", "JSmith", "alice", "Alice.W", "o'malley", "bob_42")
PERSON_NAMES = ("Barbara", "barbara", "Jensen", "O'Malley", "Smith", "SMITH", 'Jim "Jimbo" Beam',
                "Ms. Barbara J Jensen")
TYPES = ("work", "Work", "home", "HOME", "other", "xmpp", "direct", "User")
RESOURCE_TYPES = ("User", "user", "Group")
EMAILS = ("bjensen@example.com", "BJensen@Example.com", "alice@example.org", "bob@foo.com", "alice@foo.com")
PHONES = ("+1 555 0100", "+1 555 0199", "555-0100")
IDS = ("2819c223", "2819C223", "abc-1", "ABC-1", "123", "e9e30dba")
REFERENCES = ("https://example.com/Users/2819c223", "https://example.com/Users/2819C223",
              "https://example.com/Groups/abc-1")
BINARIES = ("TUlJREhq", "tuljrehq", "YWJj")
WORDS = ("Employee", "employee", "Intern", "en-US", "EN-us", "Sales", "Sales & Marketing", "100%_off")
INTEGERS = (0, 1, 42, -7)
DECIMALS = (0.5, 1.0, 42.25, -7.0)
# Instants in documents, and literals that name some of them in other notations (and one in between).
DATETIMES = ("2011-05-13T04:42:34Z", "2011-05-13T04:42:35Z", "2020-01-01T00:00:00Z")
DATETIME_LITERALS = (*DATETIMES, "2011-05-13T04:42:34+00:00", "2011-05-13T06:42:34+02:00", "2011-05-13T04:42:34.5Z",
                     "2019-12-31T22:00:00-02:00")

_STRING_POOLS = {
    "username": USER_NAMES,
    "formatted": PERSON_NAMES,
    "givenname": PERSON_NAMES,
    "familyname": PERSON_NAMES,
    "middlename": PERSON_NAMES,
    "displayname": PERSON_NAMES,
    "nickname": PERSON_NAMES,
    "display": PERSON_NAMES,
    "type": TYPES,
    "resourcetype": RESOURCE_TYPES,
    "id": IDS,
    "externalid": IDS,
    "employeenumber": IDS,
    "value": IDS,
}
_VALUE_POOLS = {"emails": EMAILS, "ims": EMAILS, "phonenumbers": PHONES}
_TEXT_OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
_ORDER_OPERATORS = ("eq", "ne", "gt", "ge", "lt", "le")


def _pool(attribute: Attribute, parent: str | None) -> tuple:
    """The values documents hold for ``attribute`` (a sub-attribute of ``parent``, if given)."""
    kind = attribute.type
    if kind == BOOLEAN:
        return (True, False)
    if kind == DATETIME:
        return DATETIMES
    if kind == INTEGER:
        return INTEGERS
    if kind == DECIMAL:
        return DECIMALS
    if kind == REFERENCE:
        return REFERENCES
    if kind == BINARY:
        return BINARIES
    name = attribute.name.lower()
    if name == "value" and parent is not None and parent.lower() in _VALUE_POOLS:
        return _VALUE_POOLS[parent.lower()]
    return _STRING_POOLS.get(name, WORDS)


def _fragments(pool: tuple[str, ...]) -> tuple[str, ...]:
    """Prefixes, suffixes and infixes of the pool's strings, as written and upper-cased (for co/sw/ew)."""
    pieces = {piece for text in pool for size in (1, 3) for piece in (text[:size], text[-size:], text[1:1 + size])}
    return tuple(sorted({piece for piece in pieces | {p.upper() for p in pieces} if piece}))


def _literals(attribute: Attribute, parent: str | None, op: str, schema: ResourceSchema) -> st.SearchStrategy:
    kind = attribute.type
    if attribute is SCHEMAS_ATTRIBUTE:
        pool = (*schema.urns, *(urn.lower() for urn in schema.urns), "urn:example:other")
    elif kind == BOOLEAN:
        pool = (True, False, "True", "false")  # Entra quotes booleans
    elif kind == DATETIME:
        pool = DATETIME_LITERALS
    elif kind in (INTEGER, DECIMAL):
        pool = (*_pool(attribute, parent), "42")
    else:
        pool = _pool(attribute, parent)
        if pool is IDS:
            pool = (*pool, 123)  # Okta sends numeric ids unquoted
    if op in ("co", "sw", "ew"):
        pool = _fragments(tuple(str(value) for value in pool))
    elif op in ("eq", "ne"):
        pool = (*pool, None)
    return st.sampled_from(pool)


def _operators(attribute: Attribute) -> tuple[str, ...]:
    if attribute.type == BOOLEAN:
        return ("eq", "ne")
    if attribute.type in (STRING, REFERENCE, BINARY):
        return _TEXT_OPERATORS
    return _ORDER_OPERATORS


def _spelled(name: str) -> st.SearchStrategy[str]:
    """``name`` as written, or in another case: names are case-insensitive (RFC 7643 §2.1)."""
    return st.sampled_from((name, name.lower(), name.upper()))


def _condition(path: st.SearchStrategy[AttrPath], compared: Attribute | None, parent: str | None,
               schema: ResourceSchema) -> st.SearchStrategy[Filter]:
    """``pr``, or a comparison of ``compared`` (None: a complex attribute compared to null only)."""
    if compared is None:
        return st.one_of(path.map(Present), st.builds(Compare, path, st.sampled_from(("eq", "ne")), st.none()))

    def condition(op: str) -> st.SearchStrategy[Filter]:
        if op == "pr":
            return path.map(Present)
        return st.builds(Compare, path, st.just(op), _literals(compared, parent, op, schema))

    return st.sampled_from((*_operators(compared), "pr")).flatmap(condition)


def _filterable(attribute: Attribute) -> bool:
    return attribute.returned != NEVER


def _resource_leaves(schema: ResourceSchema) -> list[st.SearchStrategy[Filter]]:
    """One strategy per path of the resource: ``attr``, ``attr.sub``, ``urn:attr``..., ``schemas``."""
    core_urn = schema.core.id
    placed = [(st.none(), attribute) for attribute in COMMON_ATTRIBUTES]
    # Core attributes are sometimes qualified with the core URN, extension attributes always with theirs.
    placed += [(st.sampled_from((None, None, core_urn)), attribute) for attribute in schema.core.attributes]
    placed += [(st.sampled_from((ext.id, ext.id.lower())), attribute)
               for ext in schema.extensions for attribute in ext.attributes]
    leaves = [_condition(st.just(AttrPath("schemas")), SCHEMAS_ATTRIBUTE, None, schema)]
    for urns, attribute in placed:
        if not _filterable(attribute):
            continue
        compared = attribute.sub("value") if attribute.is_complex else attribute
        leaves.append(_condition(st.builds(AttrPath, _spelled(attribute.name), st.none(), urns), compared,
                                 attribute.name, schema))
        leaves += [
            _condition(st.builds(AttrPath, _spelled(attribute.name), _spelled(sub.name), urns), sub, attribute.name,
                       schema)
            for sub in attribute.sub_attributes if _filterable(sub)
        ]
    return leaves


def _logic(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.one_of(st.builds(And, children, children), st.builds(Or, children, children), st.builds(Not, children))


def _value_paths(schema: ResourceSchema) -> list[st.SearchStrategy[Filter]]:
    """``attr[valFilter]`` for every complex attribute, the filter over the element's sub-attributes."""
    placed = [(None, attribute) for attribute in (*COMMON_ATTRIBUTES, *schema.core.attributes)]
    placed += [(ext.id, attribute) for ext in schema.extensions for attribute in ext.attributes]
    paths = []
    for urn, attribute in placed:
        if not attribute.is_complex or not _filterable(attribute):
            continue
        leaves = [_condition(st.builds(AttrPath, _spelled(sub.name)), sub, attribute.name, schema)
                  for sub in attribute.sub_attributes]
        inner = st.recursive(st.one_of(leaves), _logic, max_leaves=4)
        paths.append(st.builds(ValuePath, st.builds(AttrPath, _spelled(attribute.name), st.none(), st.just(urn)),
                               inner))
    return paths


def filters(schema: ResourceSchema) -> st.SearchStrategy[Filter]:
    """Valid filter ASTs over ``schema``'s attributes, nested with and/or/not (depth well under 32)."""
    leaves = st.one_of(st.one_of(_resource_leaves(schema)), st.one_of(_value_paths(schema)))
    return st.recursive(leaves, _logic, max_leaves=8)


# -- documents ---------------------------------------------------------------------


def _simple_values(attribute: Attribute, parent: str | None, *, required: bool) -> st.SearchStrategy:
    pool = _pool(attribute, parent)
    if attribute.type == DATETIME:  # stored as ISO strings or as datetimes, aware or naive (UTC)
        parsed = [datetime.fromisoformat(text) for text in pool]
        pool = (*pool, *parsed, *(value.astimezone(UTC).replace(tzinfo=None) for value in parsed))
    if not required:
        pool = (*pool, None, "") if attribute.type in (STRING, REFERENCE, BINARY) else (*pool, None)
    return st.sampled_from(pool)


def _complex_values(attribute: Attribute) -> st.SearchStrategy[dict]:
    return st.fixed_dictionaries({}, optional={
        sub.name: _simple_values(sub, attribute.name, required=False)
        for sub in attribute.sub_attributes if _filterable(sub)
    })


def _values(attribute: Attribute) -> st.SearchStrategy:
    required = attribute.required or attribute.name == "id"
    single = (_complex_values(attribute) if attribute.is_complex
              else _simple_values(attribute, None, required=required))
    if attribute.multi_valued:
        return st.lists(single, max_size=3)
    return single


def _attributes(attributes: tuple[Attribute, ...]) -> st.SearchStrategy[dict]:
    kept = [attribute for attribute in attributes if _filterable(attribute)]
    return st.fixed_dictionaries(
        {a.name: _values(a) for a in kept if a.required or a.name == "id"},
        optional={a.name: _values(a) for a in kept if not (a.required or a.name == "id")},
    )


def documents(schema: ResourceSchema) -> st.SearchStrategy[dict]:
    """SCIM documents of ``schema``: ``id`` and required attributes always present, the rest maybe absent."""

    def assemble(parts: tuple[dict, dict]) -> dict:
        document, extensions = parts
        document.update(extensions)
        document["schemas"] = [schema.core.id, *(ext.id for ext in schema.extensions if ext.id in extensions)]
        return document

    extensions = st.fixed_dictionaries({}, optional={ext.id: _attributes(ext.attributes) for ext in schema.extensions})
    return st.tuples(_attributes((*COMMON_ATTRIBUTES, *schema.core.attributes)), extensions).map(assemble)
