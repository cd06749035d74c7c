"""Okta Identity Governance over real HTTP: discovery, the Entitlements test, and grants (interop.md §1.2-1.6, §2.3).

Okta discovers entitlement categories as it does on enabling provisioning:
``/ResourceTypes``, then ``/Schemas`` for extension URNs it does not know, then
every endpoint named by a ResourceType whose ``schema`` is the Okta Role or
Entitlement URN.  The Runscope "Entitlements Test" request runs once per
discovered endpoint.  Grants and revocations then arrive as Okta sends them:
a GET of the user, then a PUT of the full object with the complete ``roles`` /
``entitlements`` arrays; every result is read back with a GET.
"""

from __future__ import annotations

import random
import string
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import LiveServer
from .wire import LIST, OKTA_ENTITLEMENT, OKTA_ROLE, RUNSCOPE_GET, ScimHttp, is_int, need, okta_user_body

OKTA_URNS = (OKTA_ROLE, OKTA_ENTITLEMENT)


@pytest.fixture(scope="module")
def oig(live: LiveServer) -> dict[str, Any]:
    suffix = "".join(random.choices(string.ascii_lowercase, k=6))
    return {"email": f"Grant.Tester.{suffix}@atko.com"}


def _roles(user: dict[str, Any]) -> set[str]:
    return {r["value"] for r in user.get("roles") or []}


def _entitlements(user: dict[str, Any]) -> set[tuple[str, str]]:
    return {(e["value"], e.get("type")) for e in user.get("entitlements") or []}


def _role_values(oig: dict[str, Any]) -> list[dict[str, Any]]:
    values = need(oig, "values", "paging every discovered endpoint")
    return [v for endpoint, items in values.items() for v in items if oig["types"][endpoint]["schema"] == OKTA_ROLE]


def _entitlement_values(oig: dict[str, Any]) -> list[dict[str, Any]]:
    values = need(oig, "values", "paging every discovered endpoint")
    return [v for endpoint, items in values.items() for v in items
            if oig["types"][endpoint]["schema"] == OKTA_ENTITLEMENT]


def _as_role(item: dict[str, Any]) -> dict[str, Any]:
    """§1.6: roles[].value is the Role's id, display its displayName."""
    return {"value": item["id"], "display": item["displayName"]}


def _as_entitlement(item: dict[str, Any]) -> dict[str, Any]:
    """§1.6: entitlements[].type is the ResourceType name."""
    return {"value": item["id"], "display": item["displayName"], "type": item["type"]}


def _put_grants(okta: ScimHttp, scim_id: str, roles: list[dict[str, Any]] | None = None,
                entitlements: list[dict[str, Any]] | None = None) -> Any:
    """Okta's grant/revoke (§1.6): GET the user, then PUT it whole with the complete arrays."""
    current = okta.get(f"/Users/{scim_id}")
    assert current.status == 200, f"OIG grant flow (§1.6): the GET before the PUT is 200 — {current}"
    body = dict(current.json)
    if roles is not None:
        body["roles"] = roles
    if entitlements is not None:
        body["entitlements"] = entitlements
    return okta.put(f"/Users/{scim_id}", body)


def test_resource_types_discovery_finds_okta_role_and_entitlement_endpoints(
        okta: ScimHttp, oig: dict[str, Any]) -> None:
    rule = "OIG discovery step 1 (§1.2: GET /ResourceTypes, Okta Role/Entitlement URNs name the endpoints)"
    r = okta.get("/ResourceTypes")
    assert r.status == 200, f"{rule}: status 200 — {r}"
    assert LIST in (r.json or {}).get("schemas", []), f"{rule}: a ListResponse — {r}"
    types = {rt["endpoint"]: rt for rt in r.json.get("Resources", []) if rt.get("schema") in OKTA_URNS}
    assert "/Roles" in types, f"{rule}: a ResourceType with the Okta Role URN names /Roles — {r}"
    assert "/Characteristics" in types, \
        f"{rule}: a ResourceType with the Okta Entitlement URN names /Characteristics — {r}"
    for endpoint, rt in types.items():
        assert rt.get("id") and rt.get("name"), f"{rule}: {endpoint}'s ResourceType has id and name — {r}"
    oig["types"] = types


def test_schemas_serves_every_extension_urn_the_resource_types_name(okta: ScimHttp, oig: dict[str, Any]) -> None:
    types = need(oig, "types", "the /ResourceTypes discovery")
    rule = "OIG discovery step 2 (§1.2: /Schemas/{urn} for each extension URN Okta does not know)"
    urns = [ext["schema"] for rt in types.values() for ext in rt.get("schemaExtensions") or []]
    for urn in urns:
        r = okta.get(f"/Schemas/{quote(urn, safe=':')}")
        assert r.status == 200, f"{rule}: {urn} is served — {r}"
        assert (r.json or {}).get("id") == urn and isinstance(r.json.get("attributes"), list), \
            f"{rule}: the schema's id is the URN and it lists attributes — {r}"
    listing = okta.get("/Schemas")
    listed = {s.get("id") for s in (listing.json or {}).get("Resources", [])}
    assert set(urns) <= listed, f"{rule}: GET /Schemas lists the extension URNs {urns} — {listing}"


def test_entitlements_test_count_1_page_of_every_discovered_endpoint(live: LiveServer, oig: dict[str, Any]) -> None:
    types = need(oig, "types", "the /ResourceTypes discovery")
    runscope = live.client(RUNSCOPE_GET)
    problems = []
    for endpoint in sorted(types):
        rule = f"Okta Entitlements Test (§2.3) on {endpoint}"
        r = runscope.get(endpoint + ScimHttp.query(count=1, startIndex=1))
        body = r.json if isinstance(r.json, dict) else {}
        checks = [
            (r.status == 200, "status 200"),
            (bool(body.get("Resources")), "Resources not empty"),
            (LIST in body.get("schemas", []), "schemas has the ListResponse URN"),
            (is_int(body.get("startIndex")), "startIndex is a number"),
            (body.get("itemsPerPage") == 1, "itemsPerPage == 1"),
            (is_int(body.get("totalResults")), "totalResults is a number"),
        ]
        problems += [f"{rule}: {what} — {r}" for ok, what in checks if not ok]
    assert not problems, "\n".join(problems)


def test_okta_retrieves_all_values_of_every_discovered_endpoint_by_paging(
        okta: ScimHttp, oig: dict[str, Any]) -> None:
    types = need(oig, "types", "the /ResourceTypes discovery")
    values: dict[str, list[dict[str, Any]]] = {}
    for endpoint, rt in sorted(types.items()):
        rule = f"OIG discovery step 3 (§1.3: Okta retrieves all values of {endpoint}, paged, stable order)"
        items: list[dict[str, Any]] = []
        start = 1
        while True:
            r = okta.get(endpoint + ScimHttp.query(startIndex=start, count=2))
            assert r.status == 200 and is_int(r.json.get("totalResults")), f"{rule}: each page is 200 — {r}"
            page = r.json.get("Resources") or []
            assert r.json.get("itemsPerPage") == len(page), f"{rule}: itemsPerPage is the page length — {r}"
            items += page
            start += len(page)
            if not page or start > r.json["totalResults"]:
                break
        ids = [item.get("id") for item in items]
        assert len(ids) == len(set(ids)) == r.json["totalResults"], \
            f"{rule}: the pages hold totalResults distinct ids, none repeated or skipped — ids {ids}, {r}"
        for item in items:
            assert item.get("id") and item.get("displayName"), f"{rule}: id and displayName required (§1.3) — {item}"
            assert rt["schema"] in item.get("schemas", []), f"{rule}: schemas carries {rt['schema']} — {item}"
            if rt["schema"] == OKTA_ENTITLEMENT:
                assert item.get("type") == rt["name"], \
                    f"{rule}: an Entitlement's type is the ResourceType name {rt['name']!r} (§1.3, §3.8) — {item}"
        values[endpoint] = items
    oig["values"] = values


def test_create_with_roles_and_entitlements_grants_them(okta: ScimHttp, oig: dict[str, Any]) -> None:
    roles, entitlements = _role_values(oig), _entitlement_values(oig)
    rule = "OIG create (§1.4, §1.6: the POST body carries roles and entitlements arrays)"
    body = okta_user_body(oig["email"], "Grant", "Tester", roles=[_as_role(roles[0])],
                          entitlements=[_as_entitlement(entitlements[0])])
    r = okta.post("/Users", body)
    assert r.status == 201, f"{rule}: 201 — {r}"
    oig["scim_id"] = r.json["id"]
    r = okta.get(f"/Users/{oig['scim_id']}")
    assert _roles(r.json) == {roles[0]["id"]}, f"{rule}: GET shows the role granted at create — {r}"
    assert _entitlements(r.json) == {(entitlements[0]["id"], entitlements[0]["type"])}, \
        f"{rule}: GET shows the entitlement (value, type) granted at create — {r}"


def test_role_grant_is_a_put_with_the_complete_roles_array(okta: ScimHttp, oig: dict[str, Any]) -> None:
    scim_id = need(oig, "scim_id", "the create")
    roles, entitlements = _role_values(oig), _entitlement_values(oig)
    rule = "OIG role grant (§1.6: GET, then PUT with the complete roles array)"
    r = _put_grants(okta, scim_id, roles=[_as_role(roles[0]), _as_role(roles[1])])
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    r = okta.get(f"/Users/{scim_id}")
    assert _roles(r.json) == {roles[0]["id"], roles[1]["id"]}, f"{rule}: GET shows both roles — {r}"
    assert _entitlements(r.json) == {(entitlements[0]["id"], entitlements[0]["type"])}, \
        f"{rule}: the entitlements Okta sent back unchanged are kept — {r}"


def test_role_revoke_is_a_put_without_the_revoked_role(okta: ScimHttp, oig: dict[str, Any]) -> None:
    scim_id = need(oig, "scim_id", "the create")
    roles = _role_values(oig)
    rule = "OIG role revoke (§1.6: a PUT with the item missing; the array is authoritative)"
    r = _put_grants(okta, scim_id, roles=[_as_role(roles[1])])
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    r = okta.get(f"/Users/{scim_id}")
    assert _roles(r.json) == {roles[1]["id"]}, f"{rule}: GET shows only the remaining role — {r}"


def test_entitlement_grant_is_a_put_with_the_complete_entitlements_array(okta: ScimHttp, oig: dict[str, Any]) -> None:
    scim_id = need(oig, "scim_id", "the create")
    roles, entitlements = _role_values(oig), _entitlement_values(oig)
    rule = "OIG entitlement grant (§1.6: GET, then PUT with the complete entitlements array)"
    r = _put_grants(okta, scim_id, entitlements=[_as_entitlement(e) for e in entitlements])
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    r = okta.get(f"/Users/{scim_id}")
    assert _entitlements(r.json) == {(e["id"], e["type"]) for e in entitlements}, \
        f"{rule}: GET shows every entitlement with its type — {r}"
    assert _roles(r.json) == {roles[1]["id"]}, f"{rule}: the roles Okta sent back unchanged are kept — {r}"


def test_entitlement_revoke_is_a_put_with_an_empty_entitlements_array(okta: ScimHttp, oig: dict[str, Any]) -> None:
    scim_id = need(oig, "scim_id", "the create")
    roles = _role_values(oig)
    rule = "OIG entitlement revoke (§1.6: a PUT with the item missing from entitlements)"
    r = _put_grants(okta, scim_id, entitlements=[])
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    r = okta.get(f"/Users/{scim_id}")
    assert _entitlements(r.json) == set(), f"{rule}: GET shows no entitlements — {r}"
    assert _roles(r.json) == {roles[1]["id"]}, f"{rule}: the role is kept — {r}"


def test_import_pages_users_with_their_roles_and_entitlements(okta: ScimHttp, oig: dict[str, Any]) -> None:
    scim_id = need(oig, "scim_id", "the create")
    roles, entitlements = _role_values(oig), _entitlement_values(oig)
    rule = "OIG import (§1.4: import reads each user's roles and entitlements to seed grants)"
    r = _put_grants(okta, scim_id, roles=[_as_role(roles[2])], entitlements=[_as_entitlement(entitlements[0])])
    assert r.status == 200, f"{rule}: the setup PUT is 200 — {r}"
    r = okta.get("/Users" + ScimHttp.query(startIndex=1, count=100))
    assert r.status == 200, f"{rule}: GET /Users?startIndex=1&count=100 is 200 — {r}"
    imported = {u["id"]: u for u in r.json.get("Resources", [])}
    assert scim_id in imported, f"{rule}: the user is on the import page — {r}"
    assert _roles(imported[scim_id]) == {roles[2]["id"]}, f"{rule}: the imported user carries its role — {r}"
    assert _entitlements(imported[scim_id]) == {(entitlements[0]["id"], entitlements[0]["type"])}, \
        f"{rule}: the imported user carries its entitlement — {r}"


def test_user_reads_carry_display_on_roles_and_entitlements(okta: ScimHttp, oig: dict[str, Any]) -> None:
    scim_id = need(oig, "scim_id", "the create")
    values = need(oig, "values", "paging every discovered endpoint")
    # Ids are unique per endpoint only: role 1 and characteristic 1 are different values.
    role_names = {item["id"]: item["displayName"] for item in values.get("/Roles", [])}
    entitlement_names = {(item.get("type"), item["id"]): item["displayName"]
                         for endpoint, items in values.items() if endpoint != "/Roles" for item in items}
    rule = ("OIG grant representation (§0.11, §1.6: users carry roles[] (value, display) and entitlements[] "
            "(value, display, type) on GET and import; display = the item's displayName)")
    r = okta.get(f"/Users/{scim_id}")
    assert r.status == 200 and r.json.get("roles") and r.json.get("entitlements"), \
        f"{rule}: the user holds a role and an entitlement — {r}"
    for kind in ("roles", "entitlements"):
        for grant in r.json[kind]:
            expected = role_names.get(grant["value"]) if kind == "roles" else \
                entitlement_names.get((grant.get("type"), grant["value"]))
            assert grant.get("display") == expected, \
                f"{rule}: {kind}[value={grant['value']}].display == {expected!r} — {r}"
