"""Okta's test steps as functions, so that any host runs them: the example app (``test_okta_spec.py``,
``test_entitlements.py``) and the README's host (``test_readme_host.py``).

- :func:`okta_spec_steps`: the "SCIM 2.0 SPEC Test" (interop.md §2.1), all twelve steps and every
  assertion, in order.
- :func:`entitlements_test_count_one`: the Runscope "Entitlements Test" request on one endpoint (§2.3).
- :func:`okta_entitlement_steps`: discovery as Okta Identity Governance runs it, then grants and
  revocations in the forms Okta sends them (§1.2-1.6), read back with a GET.
"""

from __future__ import annotations

import random
import string

from .conftest import Scim, new_user

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OKTA_ROLE = "urn:okta:scim:schemas:core:1.0:Role"
OKTA_ENTITLEMENT = "urn:okta:scim:schemas:core:1.0:Entitlement"
# The GET headers of the Runscope suite (interop.md §1.1).
OKTA_GET = {"User-Agent": "OKTA SCIM Integration", "Accept": "application/scim+json",
            "Content-Type": "application/scim+json; charset=utf-8"}


def _random_identity() -> tuple[str, str, str]:
    given = "Runscope" + "".join(random.choices(string.digits, k=3))
    family = random.choice(string.ascii_uppercase) + "".join(random.choices(string.ascii_lowercase, k=8)) + \
        "".join(random.choices(string.digits, k=3))
    return given, family, f"{given}{family}@atko.com"


def okta_spec_steps(scim: Scim) -> None:
    """The twelve steps, against any host whose first user (count=1) has a name, an email and ``active``."""
    given, family, user_name = _random_identity()

    # 1. GET /Users?count=1&startIndex=1: a seeded (active) user comes first.
    r = scim.get("/Users?count=1&startIndex=1", headers=OKTA_GET)
    assert r.status_code == 200
    body = r.get_json()
    assert body["Resources"]
    assert LIST in body["schemas"]
    for key in ("itemsPerPage", "startIndex", "totalResults"):
        assert isinstance(body[key], int) and not isinstance(body[key], bool)
    first = body["Resources"][0]
    for value in (first["id"], first["name"]["familyName"], first["name"]["givenName"], first["userName"],
                  first["emails"][0]["value"]):
        assert value
    assert first["active"] is not None
    isv_user_id = first["id"]

    # 2. GET /Users/{id}
    r = scim.get(f"/Users/{isv_user_id}", headers=OKTA_GET)
    assert r.status_code == 200
    user = r.get_json()
    assert user["id"] == isv_user_id
    assert user["name"]["familyName"] and user["name"]["givenName"] and user["userName"]
    assert user["active"] is not None and user["emails"][0]["value"]

    # 3. A filter that matches nothing is 200 with totalResults 0, never 404.
    r = scim.get('/Users?filter=userName eq "abcdefgh@atko.com"', headers=OKTA_GET)
    assert r.status_code == 200
    assert LIST in r.get_json()["schemas"] and r.get_json()["totalResults"] == 0

    # 4. An unknown id is a 404 SCIM error with a detail.
    r = scim.get("/Users/010101001010101011001010101011", headers=OKTA_GET)
    assert r.status_code == 404
    assert r.get_json()["detail"] and ERROR in r.get_json()["schemas"]

    # 5. The random user does not exist yet.
    r = scim.get(f'/Users?filter=userName eq "{user_name}"', headers=OKTA_GET)
    assert r.status_code == 200 and r.get_json()["totalResults"] == 0 and LIST in r.get_json()["schemas"]

    # 6. POST with Content-Type application/json.
    payload = {"schemas": [USER], "userName": user_name, "name": {"givenName": given, "familyName": family},
               "emails": [{"primary": True, "value": user_name, "type": "work"}],
               "displayName": f"{given} {family}", "active": True}
    r = scim.post("/Users", payload, content_type="application/json",
                  headers={"Accept": "application/scim+json; charset=utf-8"})
    assert r.status_code == 201
    created = r.get_json()
    assert created["active"] is True and created["id"]
    assert created["name"]["familyName"] == family and created["name"]["givenName"] == given
    assert USER in created["schemas"]
    assert created["userName"] == user_name  # case preserved, never lower-cased
    user_id = created["id"]
    assert created["emails"][0]["value"] == user_name

    # 7. GET it back.
    r = scim.get(f"/Users/{user_id}", headers=OKTA_GET)
    assert r.status_code == 200
    assert r.get_json()["userName"] == user_name
    assert r.get_json()["name"] == {"givenName": given, "familyName": family}

    # 8. The same POST again is a conflict.
    r = scim.post("/Users", payload, content_type="application/json")
    assert r.status_code == 409

    # 9. "Username Case Sensitivity Check": the upper-cased userName finds the user.
    r = scim.get(f'/Users?filter=userName eq "{user_name.upper()}"', headers=OKTA_GET)
    assert r.status_code == 200
    assert [u["id"] for u in r.get_json()["Resources"]] == [user_id]

    # 10. GET /Groups answers 200 with a Resources array.
    r = scim.get("/Groups", headers=OKTA_GET)
    assert r.status_code == 200 and isinstance(r.get_json()["Resources"], list)

    # 11. A bad credential is a 401 SCIM error.
    r = scim.client.get(f'{scim.prefix}/Users?filter=userName eq "{user_name.upper()}"',
                        headers={**OKTA_GET, "Authorization": "non-token"})
    assert r.status_code == 401
    body = r.get_json()
    assert body["detail"] and body["status"] == "401" and ERROR in body["schemas"]
    assert r.content_type.startswith("application/scim+json")

    # 12. Another unknown id.
    r = scim.get("/Users/00919288221112222", headers=OKTA_GET)
    assert r.status_code == 404
    body = r.get_json()
    assert body["detail"] and body["status"] == "404" and ERROR in body["schemas"]


def entitlements_test_count_one(scim: Scim, endpoint: str) -> None:
    """The "Entitlements Test": an endpoint discovered from /ResourceTypes answers count=1 with one item."""
    endpoints = {rt["endpoint"] for rt in scim.get("/ResourceTypes").get_json()["Resources"]}
    assert endpoint in endpoints
    r = scim.get(f"{endpoint}?count=1&startIndex=1")
    assert r.status_code == 200
    body = r.get_json()
    assert body["Resources"]
    assert LIST in body["schemas"]
    assert isinstance(body["startIndex"], int)
    assert body["itemsPerPage"] == 1
    assert isinstance(body["totalResults"], int)


def okta_entitlement_steps(scim: Scim, user_name: str = "Grant.Tester@atko.com") -> None:
    """Discover every Role and Entitlement endpoint, then grant, replace and revoke on a new user.

    The host needs at least two roles and one entitlement value, all visible to the caller's tenant.
    """
    types = scim.get("/ResourceTypes").get_json()["Resources"]
    discovered = [rt for rt in types if rt["schema"] in (OKTA_ROLE, OKTA_ENTITLEMENT)]
    assert any(rt["schema"] == OKTA_ROLE for rt in discovered)
    assert any(rt["schema"] == OKTA_ENTITLEMENT for rt in discovered)
    schemas = {s["id"] for s in scim.get("/Schemas").get_json()["Resources"]}
    roles: list[dict[str, str]] = []
    entitlements: list[dict[str, str]] = []
    for rt in discovered:
        assert rt["schema"] in schemas
        entitlements_test_count_one(scim, rt["endpoint"])
        for value in scim.get(f"{rt['endpoint']}?count=100").get_json()["Resources"]:
            if rt["schema"] == OKTA_ROLE:
                roles.append({"value": value["id"], "display": value["displayName"]})
            else:
                assert value["type"] == rt["name"]  # the ResourceType name (interop.md §1.6)
                entitlements.append({"value": value["id"], "display": value["displayName"], "type": value["type"]})
    first, second = roles[0], roles[1]
    grant = entitlements[0]

    # Granted on create; display is the value's displayName whatever the client sends.
    user = new_user(scim, user_name, roles=[{"value": first["value"], "display": "Wrong name"}],
                    entitlements=[{"value": grant["value"], "type": grant["type"]}])
    uid = user["id"]
    assert user["roles"] == [first] and user["entitlements"] == [grant]

    # Okta's grant on the Governance tab: GET, then PUT of the whole user with the complete arrays.
    current = scim.get(f"/Users/{uid}").get_json()
    body = {k: v for k, v in current.items() if k not in ("meta", "entitlements")}
    body["roles"] = [{"value": second["value"]}]
    r = scim.put(f"/Users/{uid}", body)
    assert r.status_code == 200, r.get_json()
    read = scim.get(f"/Users/{uid}").get_json()
    assert read["roles"] == [second] and "entitlements" not in read  # an omitted array clears that set

    # PATCH, each form Okta and others send.
    ops = [{"op": "add", "path": "roles", "value": [{"value": first["value"]}]},
           {"op": "add", "path": "entitlements", "value": [{"value": grant["value"], "type": grant["type"]}]}]
    assert scim.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": ops}).status_code == 200
    read = scim.get(f"/Users/{uid}").get_json()
    assert sorted(r["value"] for r in read["roles"]) == sorted([first["value"], second["value"]])
    assert read["entitlements"] == [grant]
    ops = [{"op": "remove", "path": f'roles[value eq "{first["value"]}"]'},
           {"op": "remove", "path": f'entitlements[type eq "{grant["type"]}"]'}]
    assert scim.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": ops}).status_code == 200
    read = scim.get(f"/Users/{uid}").get_json()
    assert read["roles"] == [second] and "entitlements" not in read

    # Import: grants are listed, and found by a filter on them.
    listed = scim.get(f'/Users?filter=roles.value eq "{second["value"]}"').get_json()["Resources"]
    assert uid in {u["id"] for u in listed}
