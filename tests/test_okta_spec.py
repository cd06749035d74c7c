"""Okta's "SCIM 2.0 SPEC Test" (interop.md §2.1), all twelve steps and every assertion, in order."""

from __future__ import annotations

import random
import string

from .conftest import Scim

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
# The GET headers of the Runscope suite (interop.md §1.1).
OKTA_GET = {"User-Agent": "OKTA SCIM Integration", "Accept": "application/scim+json",
            "Content-Type": "application/scim+json; charset=utf-8"}


def _random_identity() -> tuple[str, str, str]:
    given = "Runscope" + "".join(random.choices(string.digits, k=3))
    family = random.choice(string.ascii_uppercase) + "".join(random.choices(string.ascii_lowercase, k=8)) + \
        "".join(random.choices(string.digits, k=3))
    return given, family, f"{given}{family}@atko.com"


def test_okta_spec_test_all_twelve_steps(scim: Scim) -> None:
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
    r = scim.client.get(f'/scim/v2/Users?filter=userName eq "{user_name.upper()}"',
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
