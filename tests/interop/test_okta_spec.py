"""Okta's "SCIM 2.0 SPEC Test" (Runscope, interop.md §2.1) over real HTTP: twelve steps, in order.

Each step is one test, run in file order against one live server per backend,
sharing the Runscope variables (``ISVUserid``, ``idUserOne``, the random
identity) through the module's ``spec`` state, exactly as the suite chains its
requests.  Steps 1-5, 7 and 9-12 send the suite's GET headers; step 6 sends its
POST headers (``Content-Type: application/json``).  The ``auth`` variable is
the whole Authorization value, ``Bearer <token>``.
"""

from __future__ import annotations

import random
import string
from typing import Any

import pytest

from .conftest import LiveServer
from .wire import ERROR, LIST, RUNSCOPE_GET, RUNSCOPE_POST, USER, ScimHttp, is_int, need

UNKNOWN_ID_STEP4 = "010101001010101011001010101011"
UNKNOWN_ID_STEP12 = "00919288221112222"
INVALID_USER_EMAIL = "abcdefgh@atko.com"


def _random_identity() -> dict[str, str]:
    """The suite's Initial_Script_Spec: a mixed-case username, and its UPPER-cased twin."""
    given = "Runscope" + "".join(random.choices(string.digits, k=3))
    family = (random.choice(string.ascii_uppercase) + "".join(random.choices(string.ascii_lowercase, k=8))
              + "".join(random.choices(string.digits, k=3)))
    user_name = f"{given}{family}@atko.com"
    return {"given": given, "family": family, "userName": user_name, "userNameCaps": user_name.upper()}


@pytest.fixture(scope="module")
def spec(live: LiveServer) -> dict[str, Any]:
    """The Runscope variables for one run of the suite (one per backend)."""
    return _random_identity()


@pytest.fixture(scope="module")
def runscope(live: LiveServer) -> ScimHttp:
    return live.client(RUNSCOPE_GET)


def _filter(user_name: str) -> str:
    return ScimHttp.query(filter=f'userName eq "{user_name}"')


def test_step01_list_users_count_1_is_a_list_response_whose_first_user_is_complete(
        runscope: ScimHttp, spec: dict[str, Any]) -> None:
    r = runscope.get("/Users" + ScimHttp.query(count=1, startIndex=1))
    rule = "Okta SPEC step 1 (§2.1: GET /Users?count=1&startIndex=1)"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    body = r.json or {}
    assert body.get("Resources"), f"{rule}: Resources not empty — {r}"
    assert LIST in body.get("schemas", []), f"{rule}: schemas has the ListResponse URN — {r}"
    for key in ("itemsPerPage", "startIndex", "totalResults"):
        assert is_int(body.get(key)), f"{rule}: {key} is a number (JSON integer, §0.12) — {r}"
    first = body["Resources"][0]
    assert first.get("id"), f"{rule}: Resources[0].id not empty — {r}"
    assert (first.get("name") or {}).get("familyName"), f"{rule}: Resources[0].name.familyName not empty — {r}"
    assert (first.get("name") or {}).get("givenName"), f"{rule}: Resources[0].name.givenName not empty — {r}"
    assert first.get("userName"), f"{rule}: Resources[0].userName not empty — {r}"
    assert isinstance(first.get("active"), bool), f"{rule}: Resources[0].active not empty (a boolean) — {r}"
    assert (first.get("emails") or [{}])[0].get("value"), f"{rule}: Resources[0].emails[0].value not empty — {r}"
    spec["ISVUserid"] = first["id"]


def test_step02_get_user_by_id_returns_that_complete_user(runscope: ScimHttp, spec: dict[str, Any]) -> None:
    isv_user_id = need(spec, "ISVUserid", "step 1")
    r = runscope.get(f"/Users/{isv_user_id}")
    rule = "Okta SPEC step 2 (§2.1: GET /Users/{ISVUserid})"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    user = r.json or {}
    assert user.get("id"), f"{rule}: id not empty — {r}"
    assert (user.get("name") or {}).get("familyName"), f"{rule}: name.familyName not empty — {r}"
    assert (user.get("name") or {}).get("givenName"), f"{rule}: name.givenName not empty — {r}"
    assert user.get("userName"), f"{rule}: userName not empty — {r}"
    assert isinstance(user.get("active"), bool), f"{rule}: active not empty — {r}"
    assert (user.get("emails") or [{}])[0].get("value"), f"{rule}: emails[0].value not empty — {r}"
    assert user.get("id") == isv_user_id, f"{rule}: id equals ISVUserid — {r}"


def test_step03_filter_on_a_user_name_that_does_not_exist_is_200_with_zero_results(runscope: ScimHttp) -> None:
    r = runscope.get("/Users" + _filter(INVALID_USER_EMAIL))
    rule = "Okta SPEC step 3 (§2.1, §1.4: a filter with no match is 200, never 404)"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    assert LIST in (r.json or {}).get("schemas", []), f"{rule}: schemas has the ListResponse URN — {r}"
    assert (r.json or {}).get("totalResults") == 0, f"{rule}: totalResults == 0 — {r}"


def test_step04_unknown_user_id_is_404_scim_error_with_detail(runscope: ScimHttp) -> None:
    r = runscope.get(f"/Users/{UNKNOWN_ID_STEP4}")
    rule = "Okta SPEC step 4 (§2.1, §1.7: unknown id is a 404 SCIM Error)"
    assert r.status == 404, f"{rule}: status 404 — {r}"
    assert (r.json or {}).get("detail"), f"{rule}: detail not empty — {r}"
    assert ERROR in (r.json or {}).get("schemas", []), f"{rule}: schemas has the Error URN — {r}"


def test_step05_random_user_name_is_not_found_before_creation(runscope: ScimHttp, spec: dict[str, Any]) -> None:
    r = runscope.get("/Users" + _filter(spec["userName"]))
    rule = "Okta SPEC step 5 (§2.1: filter for the random user before it exists)"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    assert (r.json or {}).get("totalResults") == 0, f"{rule}: totalResults equal_number 0 — {r}"
    assert LIST in (r.json or {}).get("schemas", []), f"{rule}: schemas has the ListResponse URN — {r}"


def _step6_body(spec: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [USER], "userName": spec["userName"],
            "name": {"givenName": spec["given"], "familyName": spec["family"]},
            "emails": [{"primary": True, "value": spec["userName"], "type": "work"}],
            "displayName": f"{spec['given']} {spec['family']}", "active": True}


def test_step06_post_user_as_application_json_is_201_and_preserves_user_name_case(
        live: LiveServer, spec: dict[str, Any]) -> None:
    client = live.client(RUNSCOPE_POST)
    r = client.post("/Users", _step6_body(spec))
    rule = "Okta SPEC step 6 (§2.1, §1.4: POST /Users with Content-Type application/json)"
    assert r.status == 201, f"{rule}: status 201 — {r}"
    user = r.json or {}
    assert user.get("active") is True, f"{rule}: active == true — {r}"
    assert user.get("id"), f"{rule}: id not empty — {r}"
    assert (user.get("name") or {}).get("familyName") == spec["family"], f"{rule}: name.familyName == F — {r}"
    assert (user.get("name") or {}).get("givenName") == spec["given"], f"{rule}: name.givenName == G — {r}"
    assert USER in user.get("schemas", []), f"{rule}: schemas contains the User URN — {r}"
    assert user.get("userName") == spec["userName"], f"{rule}: userName == R in its exact (mixed) case — {r}"
    spec["idUserOne"] = user["id"]
    spec["email"] = (user.get("emails") or [{}])[0].get("value")


def test_step07_get_created_user_returns_posted_user_name_and_names(runscope: ScimHttp, spec: dict[str, Any]) -> None:
    user_id = need(spec, "idUserOne", "step 6")
    r = runscope.get(f"/Users/{user_id}")
    rule = "Okta SPEC step 7 (§2.1: GET /Users/{idUserOne})"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    user = r.json or {}
    assert user.get("userName") == spec["userName"], f"{rule}: userName == R — {r}"
    assert (user.get("name") or {}).get("familyName") == spec["family"], f"{rule}: familyName == F — {r}"
    assert (user.get("name") or {}).get("givenName") == spec["given"], f"{rule}: givenName == G — {r}"


def test_step08_second_post_of_the_same_user_name_is_409(
        live: LiveServer, runscope: ScimHttp, spec: dict[str, Any]) -> None:
    user_id = need(spec, "idUserOne", "step 6")
    r = live.client(RUNSCOPE_POST).post("/Users", _step6_body(spec))
    rule = "Okta SPEC step 8 (§2.1, §1.4: duplicate userName is 409)"
    assert r.status == 409, f"{rule}: status 409 — {r}"
    # State: the conflict created nothing.
    found = runscope.get("/Users" + _filter(spec["userName"]))
    assert [u["id"] for u in (found.json or {}).get("Resources", [])] == [user_id], \
        f"{rule}: the rejected POST left exactly one user with that userName — {found}"


def test_step09_upper_cased_user_name_filter_finds_the_user(runscope: ScimHttp, spec: dict[str, Any]) -> None:
    user_id = need(spec, "idUserOne", "step 6")
    r = runscope.get("/Users" + _filter(spec["userNameCaps"]))
    rule = "Okta SPEC step 9 (§2.1 'Username Case Sensitivity Check', §3.3: userName matches case-insensitively)"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    resources = (r.json or {}).get("Resources") or []
    assert [u.get("id") for u in resources] == [user_id], f"{rule}: the upper-cased filter returns the user — {r}"
    assert resources[0].get("userName") == spec["userName"], f"{rule}: returned with its case preserved — {r}"


def test_step10_list_groups_is_200_within_600_ms_with_a_resources_array(runscope: ScimHttp) -> None:
    r = runscope.get("/Groups")
    rule = "Okta SPEC step 10 (§2.1 optional: GET /Groups)"
    assert r.status == 200, f"{rule}: status 200 — {r}"
    assert r.elapsed < 0.6, f"{rule}: response time < 600 ms (took {r.elapsed * 1000:.0f} ms) — {r}"
    body = r.json or {}
    if body.get("totalResults") != 0:
        assert isinstance(body.get("Resources"), list), f"{rule}: Resources is an array — {r}"


def test_step11_non_token_authorization_is_401_scim_error(live: LiveServer, spec: dict[str, Any]) -> None:
    client = live.client(RUNSCOPE_GET, authorization="non-token")
    r = client.get("/Users" + _filter(spec["userNameCaps"]))
    rule = "Okta SPEC step 11 (§2.1, §1.7: a bad credential is a 401 SCIM Error)"
    assert r.status == 401, f"{rule}: status 401 — {r}"
    body = r.json or {}
    assert body.get("detail"), f"{rule}: detail not empty — {r}"
    assert str(body.get("status")) == "401", f"{rule}: status == 401 — {r}"
    assert ERROR in body.get("schemas", []), f"{rule}: schemas has the Error URN — {r}"


def test_step12_another_unknown_user_id_is_404_with_status_404(runscope: ScimHttp) -> None:
    r = runscope.get(f"/Users/{UNKNOWN_ID_STEP12}")
    rule = "Okta SPEC step 12 (§2.1, §1.7: unknown id is a 404 SCIM Error)"
    assert r.status == 404, f"{rule}: status 404 — {r}"
    body = r.json or {}
    assert body.get("detail"), f"{rule}: detail not empty — {r}"
    assert str(body.get("status")) == "404", f"{rule}: status == 404 — {r}"
    assert ERROR in body.get("schemas", []), f"{rule}: schemas has the Error URN — {r}"
