"""Work per request is bounded by configuration, not by what a client sends (issue 16).

- ``attributes`` / ``excludedAttributes``: de-duplicated, then at most ``SCIM_MAX_ATTRIBUTES`` names;
- a PATCH carries at most ``SCIM_MAX_PATCH_VALUES`` values over all its operations;
- a list response carries at most ``SCIM_MAX_MEMBERS_PER_RESPONSE`` group members: a page of large
  groups holds fewer groups (``itemsPerPage`` below ``count``, RFC 7644 §3.4.2.4) and paging on from
  ``startIndex + itemsPerPage`` still reaches every group and member;
- PostgreSQL: a statement running past ``SCIM_STATEMENT_TIMEOUT_MS`` ends the request with a 503.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from example_app.models import db

from ..conftest import Scim, example_app, issue_token, new_user
from .conftest import GROUP_URN, PATCH_URN, assert_scim_error, send

SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@contextlib.contextmanager
def configured(database_url: str, **config: Any) -> Iterator[tuple[Any, Scim]]:
    with example_app(database_url, **config) as app:
        yield app, Scim(app.test_client(), issue_token(app, "gridco.example"))


def _error(response: Any, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    payload = assert_scim_error(status, response.get_data())
    if scim_type:
        assert payload.get("scimType") == scim_type, payload


# --- attributes ---------------------------------------------------------------------------------------

def test_attributes_are_de_duplicated_so_a_name_repeated_200000_times_costs_one(
        app: Any, scim: Scim, fuzz_counter: Counter[str]) -> None:
    response = send(app, scim, fuzz_counter, "limits", "post", "/Users/.search",
                    {"schemas": [SEARCH_URN], "attributes": ",".join(["userName", "USERNAME"] * 100_000)})
    assert response.status_code == 200, response.get_data()[:300]
    assert all(set(r) <= {"id", "userName", "schemas"} for r in response.get_json()["Resources"])


@pytest.mark.parametrize("param", ["attributes", "excludedAttributes"])
def test_more_distinct_attributes_than_the_maximum_is_400_invalid_value(
        app: Any, scim: Scim, fuzz_counter: Counter[str], param: str) -> None:
    limit = app.extensions["scim_entitlements"].config.max_attributes
    names = [f"x{i}" for i in range(limit + 1)]
    _error(send(app, scim, fuzz_counter, "limits", "get", "/Users", query={param: ",".join(names)}), 400,
           "invalidValue")
    _error(send(app, scim, fuzz_counter, "limits", "post", "/Users/.search",
                {"schemas": [SEARCH_URN], param: names}), 400, "invalidValue")
    ok = send(app, scim, fuzz_counter, "limits", "get", "/Users", query={param: ",".join(names[:limit])})
    assert ok.status_code == 200, ok.get_data()[:300]


# --- PATCH values ---------------------------------------------------------------------------------------

def test_more_patch_values_than_the_maximum_is_400_and_changes_nothing(database_url: str,
                                                                       fuzz_counter: Counter[str]) -> None:
    with configured(database_url, SCIM_MAX_PATCH_VALUES=10) as (app, scim):
        user = new_user(scim, "v@gridco.example")["id"]
        group = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "G"}).get_json()["id"]
        member = {"value": user}
        for operations in ([{"op": "add", "path": "members", "value": [member] * 11}],
                           [{"op": "add", "path": "members", "value": [member] * 6}] * 2,
                           [{"op": "add", "value": {"members": [member] * 11}}],
                           [{"op": "replace", "path": "displayName", "value": "x"}] * 11):
            _error(send(app, scim, fuzz_counter, "limits", "patch", f"/Groups/{group}",
                        {"schemas": [PATCH_URN], "Operations": operations}), 400, "invalidSyntax")
        ok = send(app, scim, fuzz_counter, "limits", "patch", f"/Groups/{group}",
                  {"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [member] * 10}]})
        assert ok.status_code in (200, 204), ok.get_data()[:300]


# --- members per list response --------------------------------------------------------------------------

def test_a_page_of_large_groups_is_cut_to_the_member_budget_and_paging_still_reaches_every_member(
        database_url: str) -> None:
    with configured(database_url, SCIM_MAX_MEMBERS_PER_RESPONSE=5) as (app, scim):
        users = [new_user(scim, f"m{i}@gridco.example")["id"] for i in range(6)]
        sizes = {"G0": 2, "G1": 2, "G2": 6, "G3": 0, "G4": 2}
        expected = {}
        for name, size in sizes.items():
            members = [{"value": u} for u in users[:size]]
            created = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": name, "members": members})
            assert created.status_code == 201, created.get_json()
            expected[name] = sorted(users[:size])
        seen: dict[str, list[str]] = {}
        pages, start = [], 1
        while True:
            page = scim.get("/Groups", query_string={"startIndex": start, "count": 100}).get_json()
            assert page["totalResults"] == len(sizes)
            assert sum(len(g.get("members", [])) for g in page["Resources"]) <= 5 or page["itemsPerPage"] == 1
            pages.append([g["displayName"] for g in page["Resources"]])
            seen.update({g["displayName"]: sorted(m["value"] for m in g.get("members", [])) for g in page["Resources"]})
            if not page["Resources"]:
                break
            assert page["itemsPerPage"] == len(page["Resources"])
            start += page["itemsPerPage"]
        # G0+G1 fill the budget; G2 alone exceeds it and is served alone, whole; G3 (empty) and G4 fit together.
        assert pages == [["G0", "G1"], ["G2"], ["G3", "G4"], []]
        assert seen == expected
        # Without members, the page is not cut.
        whole = scim.get("/Groups", query_string={"excludedAttributes": "members"}).get_json()
        assert whole["itemsPerPage"] == len(sizes)


# --- statement timeout ----------------------------------------------------------------------------------

def test_a_statement_past_the_timeout_is_a_503_and_the_next_request_is_served(postgres_url: str) -> None:
    with configured(postgres_url, SCIM_STATEMENT_TIMEOUT_MS=200) as (app, scim):
        state = app.extensions["scim_entitlements"]

        def slow(secret: str) -> Any:
            # Stands for any statement that runs long (a host's credential check, a costly filter).
            if secret == "slow":
                db.session.execute(sa.text("SELECT pg_sleep(2)"))
            return None

        state.ext._credential_loaders.append(slow)
        try:
            response = app.test_client().get("/scim/v2/Users", headers={"Authorization": "Bearer slow"})
            _error(response, 503)
            assert response.headers["Retry-After"].isdigit()
            assert "longer than" in response.get_json()["detail"]
            assert scim.get("/Users").status_code == 200
        finally:
            state.ext._credential_loaders.remove(slow)
        with app.app_context(), db.engine.connect() as conn:
            # SET LOCAL: the pooled connections do not keep the request's timeout.
            assert conn.execute(sa.text("SHOW statement_timeout")).scalar() == "0"


# --- per-tenant rate and concurrency -------------------------------------------------------------------

def test_a_page_larger_than_the_default_is_charged_as_several_requests_against_the_rate_limit(
        database_url: str) -> None:
    with configured(database_url, SCIM_RATE_LIMIT="12/minute") as (_app, scim):
        assert scim.get("/Users", query_string={"count": 1000}).status_code == 200  # 10 of 12
        assert scim.get("/Users", query_string={"count": 100}).status_code == 200  # 11
        assert scim.get("/Users").status_code == 200  # 12
        refused = scim.get("/Users")
        _error(refused, 429)
        assert refused.headers["Retry-After"].isdigit()


def test_a_page_costlier_than_the_whole_limit_is_still_served_in_an_empty_window(database_url: str) -> None:
    with configured(database_url, SCIM_RATE_LIMIT="5/minute") as (_app, scim):
        assert scim.get("/Users", query_string={"count": 1000}).status_code == 200
        _error(scim.get("/Users"), 429)


def test_requests_of_a_tenant_beyond_its_concurrency_limit_are_429_and_slots_are_released(
        database_url: str) -> None:
    with configured(database_url, SCIM_MAX_CONCURRENT_PER_TENANT=1) as (app, scim):
        for _ in range(3):  # each request gives its slot back, after an error too
            assert scim.get("/Users").status_code == 200
            assert scim.get("/Users/999999").status_code == 404
        state = app.extensions["scim_entitlements"]
        with app.app_context():
            principal = state.tokens.check(db.session.connection(), scim.token)
            tenant = principal.tenant
        state.concurrency.enter(tenant)  # a request of this tenant in progress
        try:
            busy = scim.get("/Users")
            _error(busy, 429)
            assert busy.headers["Retry-After"] == "1"
            other = Scim(app.test_client(), issue_token(app, "other.example"))
            assert other.get("/Users").status_code == 200  # another tenant is not held back
        finally:
            state.concurrency.leave(tenant)
        assert scim.get("/Users").status_code == 200
