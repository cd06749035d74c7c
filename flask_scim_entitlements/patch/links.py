"""PATCH on link attributes (``members``, ``roles``, ``entitlements``) as a plan of set operations.

A link attribute is not a value kept on the resource's row: each element is a
row of an association table (group <-> user, user <-> role).  Applying a
PATCH to it by loading the whole list, editing it in Python and writing the
list back costs what the group holds, not what the request changes, and two
such requests racing each other undo one another's work.  So normalised
operations are split here, before anything is read:

- operations on ordinary attributes go to the document engine
  (:func:`~flask_scim_entitlements.patch.engine.apply_patch`), unchanged;
- operations on link attributes become :class:`LinkOperation` s, a plan the
  store runs directly as statements on the association table
  (:meth:`~flask_scim_entitlements.store.Store.apply_link_operations`): ``add``
  inserts the missing pairs, ``remove`` deletes the rows a value list or filter
  selects, ``replace`` makes the set exactly the one given.  Nothing in the
  plan depends on how many links the resource already has.

The module is pure Python (no Flask, no SQLAlchemy), like the engine.  Values
are checked here against the attribute's definition (RFC 7643 §2.3 types,
known sub-attributes); whether the ids exist in the caller's tenant is the
store's question, asked once per request for the ids the request names.

Semantics (RFC 7644 §3.5.2), for link attributes whose sub-attributes other
than ``value`` are computed by the server (``display``, ``type``, ``$ref``):

- ``add`` (path ``members``, or a path-less value holding ``members``): the
  values are added; values already present are left alone (§3.5.2.1).
- ``replace`` without a filter: the set becomes exactly the values given
  (§3.5.2.3); ``[]`` empties it (Okta's empty-group "Push Now").
- ``remove`` without a filter: every value goes (§3.5.2.2).
- ``remove`` with a filter (``members[value eq "x"]``, ``co``, ``and``/``or``,
  Entra's value list once normalised): the matching values go; none matching
  is a no-op, so retries stay idempotent.
- ``replace``/``add`` with a filter: the matching values are replaced by the
  one given (``add`` with a filter that matches nothing adds the value the
  filter's ``value eq`` term names, as the engine does for Entra's E6);
  ``replace`` matching nothing is ``noTarget``.
- A path to a sub-attribute other than ``value`` (``members.display``) names
  something the server computes: ``mutability``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidValueError, MutabilityError, NoTargetError
from ..filters.ast import Compare, Filter, Or, PatchPath
from ..schemas.definitions import Attribute, ResourceSchema
from .engine import _checked, _without_server_computed, resolve_target

ADD, REMOVE, REPLACE = "add", "remove", "replace"


@dataclass(frozen=True)
class LinkOperation:
    """One set operation on one link attribute of the resource being patched.

    ``values`` are the ids named by the request (for ``add``/``replace``, and for
    ``remove`` when the filter is a plain list of ``value eq`` terms); ``filter``
    selects existing links for ``remove`` (and for filtered ``replace``/``add``);
    ``types`` restricts entitlements to those of the given types (``type`` sub-attribute).
    """

    attribute: str
    op: str
    values: tuple[str, ...] | None = None
    filter: Filter | None = None
    items: tuple[dict[str, Any], ...] = ()
    label: str = ""

    @property
    def removes_all(self) -> bool:
        return self.op == REMOVE and self.values is None and self.filter is None


@dataclass(frozen=True)
class PatchPlan:
    """A PATCH split in two: operations for the document engine, and link set operations in request order."""

    document_operations: list[dict[str, Any]]
    link_operations: list[LinkOperation]

    @property
    def document_attributes(self) -> set[str]:
        """Top-level names (lower-cased) the document operations may touch: the engine needs their current value."""
        names: set[str] = set()
        for operation in self.document_operations:
            path = operation.get("path")
            if path is not None:
                names.add(path.attr.attr.lower())
            elif isinstance(operation.get("value"), dict):
                names.update(str(key).lower() for key in operation["value"])
        return names


def plan_patch(operations: Iterable[dict[str, Any]], schema: ResourceSchema,
               link_attributes: Collection[str]) -> PatchPlan:
    """Split normalised ``operations`` (see ``normalize_patch``) into document operations and link operations.

    ``link_attributes`` are the writable link attributes of the resource type (``{"members"}`` on groups,
    ``{"roles", "entitlements"}`` on users); read-only ones (a user's ``groups``) stay with the engine, which
    rejects a change to them as it does for any readOnly attribute.
    """
    links = {name.lower() for name in link_attributes}
    document: list[dict[str, Any]] = []
    planned: list[LinkOperation] = []
    for operation in operations:
        op, path, value = operation["op"], operation.get("path"), operation.get("value")
        if path is None:
            if not isinstance(value, dict) or not any(str(k).lower() in links for k in value):
                document.append(operation)
                continue
            rest = {k: v for k, v in value.items() if str(k).lower() not in links}
            if rest:
                document.append({**operation, "value": rest})
            for key, item in value.items():
                if str(key).lower() in links:
                    attribute = schema.top_level(key)
                    assert attribute is not None  # normalize_patch keeps declared keys only
                    planned.append(_whole(attribute, op, item, attribute.name))
            continue
        if path.attr.urn is not None and path.attr.urn != schema.core.id or path.attr.attr.lower() not in links:
            document.append(operation)
            continue
        planned.append(_with_path(path, op, value, schema))
    return PatchPlan(document, planned)


def _whole(attribute: Attribute, op: str, value: Any, label: str) -> LinkOperation:
    """add/replace of the whole attribute: ``value`` is the list of elements."""
    items = tuple(_without_server_computed(attribute, item) for item in _checked(attribute, value, label))
    for item in items:
        if not isinstance(item.get("value"), str) or not item["value"]:
            raise InvalidValueError(f"'{label}': every element needs a 'value', the id of the resource it names")
    return LinkOperation(attribute.name, op, tuple(item["value"] for item in items), None, items, label)


def _with_path(path: PatchPath, op: str, value: Any, schema: ResourceSchema) -> LinkOperation:
    target = resolve_target(path, schema)
    attribute, sub = target.attribute, target.sub
    label = target.label
    if sub is not None and sub.name != "value":
        # display, type, $ref: what the server computes from the linked resource (RFC 7643 §2.2 readOnly).
        raise MutabilityError(f"'{label}' is computed by the server and cannot be changed")
    if op == REMOVE:
        if target.filter is None:
            if sub is not None:
                raise MutabilityError(f"'{label}': remove the elements, not their 'value'")
            return LinkOperation(attribute.name, REMOVE, label=label)
        values = _equality_values(target.filter)
        return LinkOperation(attribute.name, REMOVE, values, None if values is not None else target.filter,
                             label=label)
    if target.filter is None:
        if sub is not None:
            raise MutabilityError(f"'{label}': give whole elements, not their 'value' alone")
        return _whole(attribute, op, value, label)
    # A filtered add/replace: the matching elements are replaced by the value given.
    if sub is not None:
        element = _checked(attribute, {"value": value}, label, element=True)
    else:
        element = _without_server_computed(attribute, _checked(attribute, value, label, element=True))
    if not element.get("value"):
        seed = _equality_values(target.filter)
        if op == ADD and seed is not None and len(seed) == 1:
            element = {**element, "value": seed[0]}
        else:
            raise NoTargetError(f"'{label}': the value to put in place of the matching elements needs a 'value'")
    return LinkOperation(attribute.name, op, (str(element["value"]),), target.filter, (element,), label)


def _equality_values(f: Filter) -> tuple[str, ...] | None:
    """``value eq "a" or value eq "b"`` -> ("a", "b"): a removal by ids, run as ``IN``; None for any other filter."""
    if isinstance(f, Or):
        left, right = _equality_values(f.left), _equality_values(f.right)
        return None if left is None or right is None else left + right
    if (isinstance(f, Compare) and f.op == "eq" and f.path.urn is None and f.path.sub_attr is None
            and f.path.attr.lower() == "value" and isinstance(f.value, str)):
        return (f.value,)
    return None


__all__ = ["ADD", "REMOVE", "REPLACE", "LinkOperation", "PatchPlan", "plan_patch"]
