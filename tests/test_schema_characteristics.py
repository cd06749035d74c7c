"""The server does what ``/Schemas`` says: every characteristic it advertises, walked attribute by attribute.

The example app is discovered through ``/ResourceTypes`` and ``/Schemas`` only; bodies are generated from
the advertised attribute definitions.  For every writable resource type:

- ``uniqueness`` other than "none": a second resource with the same value (another case, unless
  ``caseExact``) is a 409 ``uniqueness``; "none": the same value is accepted;
- ``mutability: readOnly`` (the common ``id`` and ``meta`` included, RFC 7643 §3.1): a value sent on
  POST is ignored (or refused with 400 ``mutability``), never stored;
- ``caseExact`` in filters: ``eq`` with the stored value's case swapped matches exactly when the
  attribute is not case-exact;
- ``returned``: "never" is never sent, not even when asked for; "request" only when asked for;
  "default" unless excluded; "always" even when excluded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import Scim

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
WRITABLE = ("readWrite", "writeOnly", "immutable")
# RFC 7643 §3.1: the common attributes, outside every schema's attribute list.
COMMON = [
    {"name": "id", "type": "string", "multiValued": False, "caseExact": True, "mutability": "readOnly",
     "returned": "always", "uniqueness": "server"},
    {"name": "externalId", "type": "string", "multiValued": False, "caseExact": True, "mutability": "readWrite",
     "returned": "default", "uniqueness": "none"},
    {"name": "meta", "type": "complex", "multiValued": False, "mutability": "readOnly", "returned": "default",
     "uniqueness": "none", "subAttributes": []},
]


def _discover(scim: Scim) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    types = scim.get("/ResourceTypes").get_json()["Resources"]
    schemas = {s["id"]: s for s in scim.get("/Schemas").get_json()["Resources"]}
    return types, schemas


def _attributes(rt: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> Iterator[tuple[str | None, dict[str, Any]]]:
    """(extension URN or None, definition) of every top-level attribute of a resource type, common ones first."""
    for attribute in COMMON:
        yield None, attribute
    for attribute in schemas[rt["schema"]]["attributes"]:
        yield None, attribute
    for ext in rt.get("schemaExtensions", []):
        for attribute in schemas[ext["schema"]]["attributes"]:
            yield ext["schema"], attribute


def _path(urn: str | None, name: str, sub: str | None = None) -> str:
    return (f"{urn}:" if urn else "") + name + (f".{sub}" if sub else "")


def _get(doc: dict[str, Any], urn: str | None, name: str) -> Any:
    holder = doc.get(urn, {}) if urn else doc
    return holder.get(name) if isinstance(holder, dict) else None


def _present(doc: dict[str, Any], urn: str | None, name: str, sub: str | None = None) -> bool:
    value = _get(doc, urn, name)
    if sub is None:
        return value not in (None, [], {}, "")
    elements = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
    return any(isinstance(e, dict) and e.get(sub) not in (None, "") for e in elements)


def _value(attribute: dict[str, Any], tag: str) -> Any:
    kind = attribute["type"]
    if attribute.get("canonicalValues"):
        return attribute["canonicalValues"][0]
    if kind == "boolean":
        return True
    if kind == "integer":
        return 7
    if kind == "decimal":
        return 1.5
    if kind == "dateTime":
        return "2024-01-02T03:04:05Z"
    if kind == "complex":
        return {s["name"]: _value(s, tag) for s in attribute.get("subAttributes", [])
                if s["mutability"] in WRITABLE and s["name"] != "$ref"}
    text = f"Mx{attribute['name']}-{tag}"
    return text + "@Example.com" if attribute["name"] == "value" else text


class Bodies:
    """Valid bodies for a resource type, generated from its advertised attributes."""

    def __init__(self, rt: dict[str, Any], schemas: dict[str, dict[str, Any]], links: dict[str, Any]) -> None:
        self.rt, self.schemas, self.links = rt, schemas, links

    def body(self, tag: str) -> dict[str, Any]:
        doc: dict[str, Any] = {"schemas": [self.rt["schema"]]}
        for urn, attribute in _attributes(self.rt, self.schemas):
            if attribute["mutability"] not in WRITABLE:
                continue
            name = attribute["name"]
            if name in self.links:  # members, roles, entitlements: ids of other resources
                value: Any = [dict(self.links[name])]
            elif attribute["multiValued"]:
                value = [_value({**attribute, "multiValued": False}, tag)]
            else:
                value = _value(attribute, tag)
            if urn:
                doc.setdefault(urn, {})[name] = value
                doc["schemas"].append(urn)
            else:
                doc[name] = value
        return doc


def _create(scim: Scim, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    response = scim.post(endpoint, body)
    assert response.status_code == 201, (endpoint, response.get_json(), body)
    return dict(response.get_json())


def _swap(value: str) -> str:
    return value.swapcase()


@pytest.fixture
def world(scim: Scim) -> dict[str, Any]:
    """Two users and two groups (each group holding the first user), created from generated bodies."""
    types, schemas = _discover(scim)
    by_name = {rt["name"]: rt for rt in types}
    links: dict[str, Any] = {}
    roles = scim.get("/Roles").get_json()["Resources"]
    if roles:
        links["roles"] = {"value": roles[0]["id"]}
    for rt in types:
        if rt["schema"].endswith(":Entitlement"):
            values = scim.get(rt["endpoint"]).get_json()["Resources"]
            if values:
                links["entitlements"] = {"value": values[0]["id"], "type": rt["name"]}
    users = Bodies(by_name["User"], schemas, links)
    created: dict[str, Any] = {"schemas": schemas, "types": by_name, "bodies": {"User": users}}
    created["User"] = [_create(scim, "/Users", users.body(tag)) for tag in ("a", "b")]
    groups = Bodies(by_name["Group"], schemas, {"members": {"value": created["User"][0]["id"]}})
    created["bodies"]["Group"] = groups
    created["Group"] = [_create(scim, "/Groups", groups.body(tag)) for tag in ("a", "b")]
    return created


def test_advertised_uniqueness_is_what_the_server_enforces(scim: Scim, world: dict[str, Any]) -> None:
    checked = []
    for name in ("User", "Group"):
        rt, bodies, first = world["types"][name], world["bodies"][name], world[name][0]
        for urn, attribute in _attributes(rt, world["schemas"]):
            if attribute["multiValued"] or attribute["type"] != "string" or attribute["mutability"] not in WRITABLE \
                    or attribute.get("canonicalValues"):
                continue
            taken = _get(first, urn, attribute["name"])
            if not isinstance(taken, str):
                continue
            body = bodies.body(f"dup-{attribute['name']}")
            holder = body.setdefault(urn, {}) if urn else body
            if attribute["uniqueness"] == "none":
                holder[attribute["name"]] = taken
                assert scim.post(rt["endpoint"], body).status_code == 201, (name, attribute["name"])
            else:
                holder[attribute["name"]] = taken if attribute["caseExact"] else _swap(taken)
                response = scim.post(rt["endpoint"], body)
                assert response.status_code == 409, (name, attribute["name"], response.get_json())
                assert response.get_json()["scimType"] == "uniqueness"
            checked.append((name, attribute["name"], attribute["uniqueness"]))
    assert ("User", "userName", "server") in checked and ("Group", "displayName", "server") in checked
    assert any(uniqueness == "none" for *_, uniqueness in checked)


def test_read_only_attributes_sent_on_post_are_never_stored(scim: Scim, world: dict[str, Any]) -> None:
    checked = []
    for name in ("User", "Group"):
        rt, bodies = world["types"][name], world["bodies"][name]
        body = bodies.body("forged")
        body["id"] = "forged-id"
        body["meta"] = {"resourceType": "Forged", "created": "2000-01-01T00:00:00Z", "version": 'W/"forged"'}
        forged_subs = []
        for urn, attribute in _attributes(rt, world["schemas"]):
            holder = body.setdefault(urn, {}) if urn else body
            if attribute in COMMON:
                continue  # id and meta: forged above
            if attribute["mutability"] == "readOnly":
                element = {"value": "forged", "display": "Forged"}
                holder[attribute["name"]] = [element] if attribute["multiValued"] else "Forged"
                checked.append((name, attribute["name"]))
            elif attribute["name"] in holder:
                for sub in attribute.get("subAttributes", []):
                    if sub["mutability"] == "readOnly" and sub["type"] == "string":
                        value = holder[attribute["name"]]
                        for element in value if isinstance(value, list) else [value]:
                            element[sub["name"]] = "Forged"
                        forged_subs.append((urn, attribute["name"], sub["name"]))
                        checked.append((name, f"{attribute['name']}.{sub['name']}"))
        response = scim.post(rt["endpoint"], body)
        if response.status_code == 400:
            assert response.get_json()["scimType"] == "mutability"
            continue
        assert response.status_code == 201, response.get_json()
        doc = response.get_json()
        assert doc["id"] != "forged-id" and doc["meta"]["resourceType"] == name
        assert doc["meta"]["version"] != 'W/"forged"' and not doc["meta"]["created"].startswith("2000")
        requested = ",".join(_path(urn, attr, sub) for urn, attr, sub in forged_subs)
        query = f"?attributes={requested}" if requested else ""
        stored = scim.get(f"{rt['endpoint']}/{doc['id']}{query}").get_json()
        for urn, attribute in _attributes(rt, world["schemas"]):
            if attribute["mutability"] == "readOnly":
                assert "forged" not in json.dumps(_get(stored, urn, attribute["name"])).lower(), attribute["name"]
        for urn, attr_name, sub in forged_subs:
            value = _get(stored, urn, attr_name)
            assert all(e.get(sub) != "Forged" for e in (value if isinstance(value, list) else [value or {}]))
    assert ("User", "groups") in checked and ("Group", "members.display") in checked


def _string_paths(rt: dict[str, Any], schemas: dict[str, dict[str, Any]]) -> Iterator[tuple[str | None, dict[str, Any],
                                                                                         dict[str, Any] | None]]:
    for urn, attribute in _attributes(rt, schemas):
        if attribute["type"] in ("string", "reference"):
            yield urn, attribute, None
        for sub in attribute.get("subAttributes", []):
            if sub["type"] in ("string", "reference"):
                yield urn, attribute, sub


def _matching(scim: Scim, rt: dict[str, Any], path: str, literal: str, resource_id: str) -> set[str]:
    query = quote(f"{path} eq {json.dumps(literal)} and id eq \"{resource_id}\"")
    response = scim.get(f"{rt['endpoint']}?filter={query}")
    assert response.status_code == 200, (path, response.get_json())
    return {r["id"] for r in response.get_json()["Resources"]}


def test_filters_follow_each_attribute_s_case_exactness(scim: Scim, world: dict[str, Any]) -> None:
    checked = []
    for name in ("User", "Group"):
        rt, first = world["types"][name], world[name][0]
        document = scim.get(f"{rt['endpoint']}/{first['id']}?attributes="
                            + ",".join(_path(u, a["name"], s["name"] if s else None)
                                       for u, a, s in _string_paths(rt, world["schemas"]))).get_json()
        for urn, attribute, sub in _string_paths(rt, world["schemas"]):
            definition = sub or attribute
            # $ref is a URL built from the id: filters say so with 400 invalidFilter (filter on value instead).
            if definition["returned"] == "never" or definition["name"] == "$ref":
                continue
            value = _get(document, urn, attribute["name"])
            if sub is not None:
                elements = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
                value = next((e.get(sub["name"]) for e in elements if isinstance(e, dict) and e.get(sub["name"])), None)
            if not isinstance(value, str) or value == _swap(value):
                continue
            path = _path(urn, attribute["name"], sub["name"] if sub else None)
            assert _matching(scim, rt, path, value, first["id"]) == {first["id"]}, path
            expected = set() if definition["caseExact"] else {first["id"]}
            assert _matching(scim, rt, path, _swap(value), first["id"]) == expected, path
            checked.append((name, path, definition["caseExact"]))
    assert {exact for *_, exact in checked} == {True, False}
    assert ("User", "userName", False) in checked


def test_returned_never_request_default_and_always_are_honoured(scim: Scim, world: dict[str, Any]) -> None:
    checked = set()
    for name in ("User", "Group"):
        rt, first = world["types"][name], world[name][0]
        item = f"{rt['endpoint']}/{first['id']}"
        default = scim.get(item).get_json()
        listed = next(r for r in scim.get(f"{rt['endpoint']}?count=1000").get_json()["Resources"]
                      if r["id"] == first["id"])
        for urn, attribute in _attributes(rt, world["schemas"]):
            for sub in [None, *attribute.get("subAttributes", [])]:
                definition = sub or attribute
                sub_name = sub["name"] if sub else None
                path = _path(urn, attribute["name"], sub_name)
                asked = scim.get(f"{item}?attributes={path}").get_json()
                excluded = scim.get(f"{item}?excludedAttributes={path}").get_json()
                has_value = _present(asked, urn, attribute["name"], sub_name)
                returned = definition["returned"]
                if returned == "never":
                    for doc in (default, listed, asked):
                        assert not _present(doc, urn, attribute["name"], sub_name), path
                elif returned == "request" and has_value:
                    assert not _present(default, urn, attribute["name"], sub_name), path
                    assert not _present(listed, urn, attribute["name"], sub_name), path
                elif returned == "default" and has_value:
                    assert _present(default, urn, attribute["name"], sub_name), path
                    assert not _present(excluded, urn, attribute["name"], sub_name), path
                elif returned == "always":
                    assert _present(default, urn, attribute["name"], sub_name), path
                    assert _present(excluded, urn, attribute["name"], sub_name), path
                else:
                    continue
                checked.add(returned)
    assert checked == {"never", "request", "default", "always"}


def test_member_types_advertised_are_the_ones_the_store_accepts(scim: Scim, world: dict[str, Any]) -> None:
    group_schema = world["schemas"][world["types"]["Group"]["schema"]]
    members = next(a for a in group_schema["attributes"] if a["name"] == "members")
    subs = {s["name"]: s for s in members["subAttributes"]}
    assert subs["type"]["canonicalValues"] == ["User"]  # no nested groups
    assert subs["$ref"]["referenceTypes"] == ["User"]
    user, group = world["User"][1], world["Group"][1]
    accepted = scim.post("/Groups", {"schemas": [group_schema["id"]], "displayName": "Users only",
                                     "members": [{"value": user["id"], "type": "User"}]})
    assert accepted.status_code == 201
    nested = scim.post("/Groups", {"schemas": [group_schema["id"]], "displayName": "Nested",
                                   "members": [{"value": group["id"], "type": "Group"}]})
    assert nested.status_code == 400 and "only User members" in nested.get_json()["detail"]
