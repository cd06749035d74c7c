"""The server side of Okta's "SCIM 2.0 CRUD Test" (interop.md §2.2) over real HTTP.

The Runscope CRUD suite drives Okta's API; Okta then calls this server.  Each
test sends what Okta sends for one lifecycle event (assign, profile update,
deactivate, reactivate, unassign) and then makes the suite's own SCIM-side
assertion (steps 4, 6, 8, 11, 13) by GETting the user back.  The tests run in
file order against one live server per backend and share the user's ``scim_id``.
"""

from __future__ import annotations

import random
import string
import uuid
from typing import Any

import pytest

from .conftest import LiveServer
from .wire import LIST, USER, ScimHttp, need, okta_user_body, patch_op


@pytest.fixture(scope="module")
def crud(live: LiveServer) -> dict[str, Any]:
    """The suite's Initial script: a random first and last name and a mixed-case @atko.com email."""
    first = "Crud" + "".join(random.choices(string.ascii_lowercase, k=6))
    last = "Test" + "".join(random.choices(string.ascii_lowercase, k=6))
    return {"first": first, "last": last, "email": f"{first}.{last}@atko.com", "okta_id": "00u" + uuid.uuid4().hex[:17]}


def _lookup(okta: ScimHttp, user_name: str) -> Any:
    """Okta's existence check: always userName eq, with startIndex=1&count=100 (§1.4)."""
    return okta.get("/Users" + ScimHttp.query(filter=f'userName eq "{user_name}"', startIndex=1, count=100))


def _get_then_put(okta: ScimHttp, scim_id: str, change: Any) -> tuple[Any, Any]:
    """Okta GETs the user before every PUT and sends the GET representation with the change applied (§1.4)."""
    current = okta.get(f"/Users/{scim_id}")
    assert current.status == 200, f"Okta PUT flow (§1.4): the GET before the PUT is 200 — {current}"
    body = dict(current.json)
    change(body)
    return current, okta.put(f"/Users/{scim_id}", body)


def test_assignment_looks_up_by_user_name_filter_then_creates_the_user(okta: ScimHttp, crud: dict[str, Any]) -> None:
    rule = "Okta CRUD step 3 (§2.2, §1.4: assign = filter GET, then POST when nothing matches)"
    r = _lookup(okta, crud["email"])
    assert r.status == 200 and (r.json or {}).get("totalResults") == 0, \
        f"{rule}: the lookup of a new user is 200 with totalResults 0 — {r}"
    assert LIST in r.json.get("schemas", []) and r.json.get("Resources") == [], \
        f"{rule}: the empty lookup is a ListResponse with Resources [] — {r}"
    r = okta.post("/Users", okta_user_body(crud["email"], crud["first"], crud["last"], externalId=crud["okta_id"]))
    assert r.status == 201, f"{rule}: POST /Users with Okta's documented body (password, groups []) is 201 — {r}"
    assert (r.json or {}).get("id") and USER in r.json.get("schemas", []), \
        f"{rule}: the 201 carries the full user with its id — {r}"
    crud["scim_id"] = r.json["id"]


def test_step04_the_filter_finds_the_created_user_with_exact_user_name_email_and_names(
        okta: ScimHttp, crud: dict[str, Any]) -> None:
    scim_id = need(crud, "scim_id", "the assignment")
    r = _lookup(okta, crud["email"])
    rule = "Okta CRUD step 4 (§2.2: GET /Users?filter=userName eq email)"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    resources = (r.json or {}).get("Resources") or []
    assert [u.get("id") for u in resources] == [scim_id], f"{rule}: exactly the created user — {r}"
    user = resources[0]
    assert user.get("userName") == crud["email"], f"{rule}: Resources[0].userName == email (case kept) — {r}"
    assert user["emails"][0]["value"] == crud["email"], f"{rule}: Resources[0].emails[0].value == email — {r}"
    assert user["name"]["familyName"] == crud["last"], f"{rule}: name.familyName == last name — {r}"
    assert user["name"]["givenName"] == crud["first"], f"{rule}: name.givenName == first name — {r}"


def test_profile_update_is_get_then_put_with_the_changed_given_name(okta: ScimHttp, crud: dict[str, Any]) -> None:
    scim_id = need(crud, "scim_id", "the assignment")
    updated = crud["first"] + "update"
    rule = "Okta CRUD step 5 (§2.2, §1.4: profile update = GET, then PUT of the full object)"

    def rename(body: dict[str, Any]) -> None:
        body["name"] = {**body["name"], "givenName": updated}
        body.setdefault("groups", [])  # Okta's PUT carries id, meta and groups: []; they are ignored

    _, r = _get_then_put(okta, scim_id, rename)
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    assert (r.json or {}).get("name", {}).get("givenName") == updated, f"{rule}: PUT returns the updated user — {r}"
    # Step 6: the SCIM-side check.
    r = okta.get(f"/Users/{scim_id}")
    step6 = "Okta CRUD step 6 (§2.2: GET /Users/{scim_id} shows the updated first name)"
    assert r.status == 200, f"{step6}: status 200 — {r}"
    assert r.json["name"]["givenName"] == updated, f"{step6}: name.givenName == updated first name — {r}"
    assert r.json["name"]["familyName"] == crud["last"], f"{step6}: the PUT kept name.familyName — {r}"
    assert r.json["userName"] == crud["email"] and r.json["active"] is True, \
        f"{step6}: the PUT kept userName and active — {r}"
    crud["first"] = updated


def test_deactivation_by_pathless_patch_keeps_the_user_readable_with_active_false(
        okta: ScimHttp, crud: dict[str, Any]) -> None:
    scim_id = need(crud, "scim_id", "the assignment")
    rule = "Okta CRUD step 7 (§2.2, §1.4, §3.1: deactivate = path-less PATCH replace {active: false})"
    r = okta.patch(f"/Users/{scim_id}", patch_op({"op": "replace", "value": {"active": False}}))
    assert r.status in (200, 204), f"{rule}: 200 with the user, or 204 — {r}"
    if r.status == 200:
        assert (r.json or {}).get("active") is False, f"{rule}: the 200 body shows active false — {r}"
    r = okta.get(f"/Users/{scim_id}")
    step8 = "Okta CRUD step 8 (§2.2, §3.16: a deactivated user is still retrievable)"
    assert r.status == 200, f"{step8}: GET is 200 after deactivation — {r}"
    assert r.json["active"] is False, f"{step8}: active == false — {r}"
    assert r.json["name"]["givenName"] == crud["first"], f"{step8}: deactivation changed nothing else — {r}"


def test_reactivation_finds_and_reuses_the_same_id_through_the_user_name_filter(
        okta: ScimHttp, crud: dict[str, Any]) -> None:
    scim_id = need(crud, "scim_id", "the assignment")
    rule = "Okta CRUD steps 9-11 (§2.2, §2.5 C9293: reactivation finds the user by filter and reuses its id)"
    # Re-assigning: Okta looks the user up by userName (inactive users included) ...
    r = _lookup(okta, crud["email"])
    assert r.status == 200, f"{rule}: the lookup is 200 — {r}"
    assert [u.get("id") for u in r.json.get("Resources", [])] == [scim_id], \
        f"{rule}: the lookup finds the deactivated user, so Okta links instead of creating — {r}"
    # ... and activates the linked user with the same path-less PATCH shape.
    r = okta.patch(f"/Users/{scim_id}", patch_op({"op": "replace", "value": {"active": True}}))
    assert r.status in (200, 204), f"{rule}: PATCH active true is 200 or 204 — {r}"
    r = okta.get(f"/Users/{scim_id}")
    step11 = "Okta CRUD step 11 (§2.2: GET /Users/{scim_id} is active again, same id)"
    assert r.status == 200 and r.json["active"] is True, f"{step11}: active == true — {r}"
    assert r.json["id"] == scim_id, f"{step11}: the same id — {r}"
    assert r.json["name"]["givenName"] == crud["first"], f"{step11} (C9293): same attributes — {r}"
    again = _lookup(okta, crud["email"])
    assert again.json.get("totalResults") == 1, f"{rule}: no duplicate user was created — {again}"


def test_unassignment_deactivates_by_put_and_the_user_stays_readable_with_active_false(
        okta: ScimHttp, crud: dict[str, Any]) -> None:
    scim_id = need(crud, "scim_id", "the assignment")
    rule = "Okta CRUD step 12 (§2.2, §3.15: AIW apps deactivate with a PUT of the full object, active false)"

    def deactivate(body: dict[str, Any]) -> None:
        body["active"] = False

    _, r = _get_then_put(okta, scim_id, deactivate)
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    assert (r.json or {}).get("active") is False, f"{rule}: the PUT response shows active false — {r}"
    r = okta.get(f"/Users/{scim_id}")
    step13 = "Okta CRUD step 13 (§2.2: GET /Users/{scim_id} is 200 with active false)"
    assert r.status == 200, f"{step13}: the unassigned user is still retrievable — {r}"
    assert r.json["active"] is False, f"{step13}: active == false — {r}"
    assert r.json["userName"] == crud["email"], f"{step13}: the PUT kept userName — {r}"
    assert r.json["name"] == {"givenName": crud["first"], "familyName": crud["last"]}, \
        f"{step13}: the PUT kept the name — {r}"


def test_aiw_reactivation_by_put_after_filter_lookup_reuses_the_same_id(okta: ScimHttp, crud: dict[str, Any]) -> None:
    scim_id = need(crud, "scim_id", "the assignment")
    rule = "Okta CRUD steps 9-11 for AIW apps (§2.2, §3.15: reactivation by PUT, same id via the filter)"
    r = _lookup(okta, crud["email"].upper())
    assert [u.get("id") for u in (r.json or {}).get("Resources", [])] == [scim_id], \
        f"{rule}: the (case-insensitive) lookup finds the inactive user — {r}"

    def activate(body: dict[str, Any]) -> None:
        body["active"] = True

    _, r = _get_then_put(okta, scim_id, activate)
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    r = okta.get(f"/Users/{scim_id}")
    assert r.status == 200 and r.json["active"] is True and r.json["id"] == scim_id, \
        f"{rule}: GET shows the same id active again — {r}"
