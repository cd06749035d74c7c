"""Inputs that once gave a 500 (issue 16), by class, on SQLite and on PostgreSQL.

Each class is checked by example (the answer the RFC asks for) and by a property test (whatever is
sent: no 5xx, a 4xx is a SCIM error and changes nothing; :func:`.conftest.send` checks all three):

- date-times at the edges of the calendar (years 1 and 9999, with offsets that push them past it);
- integers of hundreds or thousands of digits in filters;
- ids longer than Python converts to an int (4,300 digits);
- PATCH ``remove`` values of the wrong shape;
- JSON ``NaN`` / ``Infinity``;
- booleans: JSON ``true``/``false`` and the strings identity providers send, nothing else.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import Scim
from .conftest import PATCH_URN, USER_URN, assert_scim_error, send

EXAMPLES = int(os.environ.get("SCIM_FUZZ_EXAMPLES", "250")) // 5
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _total(response: Any) -> int:
    assert response.status_code == 200, response.get_data()[:300]
    return int(response.get_json()["totalResults"])


def _error(response: Any, status: int, *scim_types: str) -> None:
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    payload = assert_scim_error(status, response.get_data())
    if scim_types:
        assert payload.get("scimType") in scim_types, payload


# --- date-times at the edges of the calendar ----------------------------------------------------------

#: (filter, every user matches?) — the seeded users were all modified between years 1 and 9999.
EDGE_DATES = [
    ('meta.lastModified gt "9999-12-31T23:59:59Z"', False),
    ('meta.lastModified ge "9999-12-31T23:59:59.999999Z"', False),
    ('meta.lastModified eq "9999-12-31T23:59:59Z"', False),
    ('meta.lastModified lt "9999-12-31T23:59:59Z"', True),
    ('meta.lastModified le "9999-12-31T23:59:59Z"', True),
    ('meta.lastModified gt "9999-12-31T23:59:59-01:00"', False),  # an hour past the last datetime
    ('meta.lastModified lt "9999-12-31T23:00:00-14:00"', True),
    ('meta.created lt "0001-01-01T00:00:00Z"', False),
    ('meta.created ge "0001-01-01T00:00:00Z"', True),
    ('meta.created gt "0001-01-01T00:00:00+01:00"', True),  # an hour before the first datetime
    ('meta.created le "0001-01-01T00:30:00+01:00"', False),
    ('meta.created eq "0001-01-01T00:00:00+14:00"', False),
    ('not (meta.created lt "0001-01-01T00:00:00+14:00")', True),
]


@pytest.mark.parametrize(("text", "everyone"), EDGE_DATES, ids=[t for t, _ in EDGE_DATES])
def test_a_filter_on_a_date_at_the_edge_of_the_calendar_gives_the_correct_list(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], text: str, everyone: bool) -> None:
    users = len(world["users"])
    for response in (send(app, scim, fuzz_counter, "edge dates", "get", "/Users", query={"filter": text}),
                     send(app, scim, fuzz_counter, "edge dates", "post", "/Users/.search",
                          {"schemas": [SEARCH_URN], "filter": text})):
        assert _total(response) == (users if everyone else 0), text


DATES = st.builds(
    lambda year, rest, offset: f"{year:04d}-{rest}{offset}",
    st.sampled_from([1, 2, 1969, 1970, 9998, 9999]),
    st.sampled_from(["01-01T00:00:00", "12-31T23:59:59", "12-31T23:59:59.999999", "01-01T00:00:00.5",
                     "06-15T12:00:00"]),
    st.sampled_from(["Z", "z", "", "+00:00", "+01:00", "-01:00", "+14:00", "-14:00", "+23:59", "-23:59"]))


@FUZZ
@given(date=DATES, attr=st.sampled_from(["meta.created", "meta.lastModified"]),
       op=st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"]), negate=st.booleans())
def test_any_date_filter_is_answered_without_5xx(app: Any, scim: Scim, world: dict[str, Any],
                                                 fuzz_counter: Counter[str], date: str, attr: str, op: str,
                                                 negate: bool) -> None:
    text = f'{attr} {op} "{date}"'
    response = send(app, scim, fuzz_counter, "dates", "get", "/Users",
                    query={"filter": f"not ({text})" if negate else text})
    assert response.status_code == 200, response.get_data()[:300]


# --- integers of hundreds of digits -------------------------------------------------------------------

@pytest.mark.parametrize("digits", [19, 20, 309, 310, 400, 4300, 4301])
@pytest.mark.parametrize("attr", ["userName", "externalId", "emails.value", "roles.value", "members.value",
                                  "active", "id", "meta.created"])
def test_a_filter_with_a_huge_integer_is_answered_or_invalid_filter(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], digits: int, attr: str) -> None:
    literal = "9" * digits
    if len(f"{attr} eq {literal}") > app.extensions["scim_entitlements"].config.max_filter_length:
        return  # the length limit answers first (tests/security/test_fuzz.py)
    endpoint = "/Groups" if attr == "members.value" else "/Users"
    for op in ("eq", "gt", "lt"):
        response = send(app, scim, fuzz_counter, "big numbers", "get", endpoint,
                        query={"filter": f"{attr} {op} {literal}"})
        if response.status_code == 200:
            # No value is a 19+ digit number (gt and lt compare strings by code point: they may match).
            assert response.get_json()["totalResults"] == 0 or op != "eq", (attr, op, response.get_json())
        else:
            _error(response, 400, "invalidFilter")


@FUZZ
@given(number=st.one_of(st.integers(min_value=-(10**400), max_value=10**400).map(str),
                        st.integers(1, 5000).map(lambda n: "9" * n),
                        st.builds(lambda a, b: f"{a}.{b}e{'-' if b % 2 else ''}{b}", st.integers(0, 10**30),
                                  st.integers(0, 400))),
       attr=st.sampled_from(["userName", "externalId", "emails.value", "id", "active", "meta.lastModified",
                             "roles.value", "entitlements.value"]),
       op=st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le", "co"]))
def test_any_number_in_a_filter_is_answered_without_5xx(app: Any, scim: Scim, world: dict[str, Any],
                                                        fuzz_counter: Counter[str], number: str, attr: str,
                                                        op: str) -> None:
    text = f"{attr} {op} {number}"[:4096]
    send(app, scim, fuzz_counter, "big numbers", "post", "/Users/.search", {"schemas": [SEARCH_URN], "filter": text})


# --- ids longer than an int converts --------------------------------------------------------------------

@pytest.mark.parametrize("digits", [20, 4300, 4301, 5000])
@pytest.mark.parametrize("endpoint", ["/Users", "/Groups", "/Roles", "/Characteristics"])
def test_an_id_of_thousands_of_digits_is_404_never_500(app: Any, scim: Scim, world: dict[str, Any],
                                                       fuzz_counter: Counter[str], digits: int,
                                                       endpoint: str) -> None:
    path = f"{endpoint}/{'7' * digits}"
    _error(send(app, scim, fuzz_counter, "long ids", "get", path), 404)
    if endpoint in ("/Users", "/Groups"):
        _error(send(app, scim, fuzz_counter, "long ids", "delete", path), 404)
        _error(send(app, scim, fuzz_counter, "long ids", "patch", path,
                    {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "externalId", "value": "x"}]}),
               404)
    text = f'id eq "{"7" * digits}"'
    found = send(app, scim, fuzz_counter, "long ids", "post", f"{endpoint}/.search",
                 {"schemas": [SEARCH_URN], "filter": text})
    if len(text) > app.extensions["scim_entitlements"].config.max_filter_length:
        _error(found, 400, "invalidFilter")
    else:
        assert _total(found) == 0


@pytest.mark.parametrize("digits", [4301, 5000])
def test_a_reference_of_thousands_of_digits_is_400_invalid_value(app: Any, scim: Scim, world: dict[str, Any],
                                                                  fuzz_counter: Counter[str], digits: int) -> None:
    huge = "7" * digits
    _error(send(app, scim, fuzz_counter, "long ids", "patch", f"/Groups/{world['group']}",
                {"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "members", "value": [{"value": huge}]}]}),
           400, "invalidValue")
    _error(send(app, scim, fuzz_counter, "long ids", "patch", f"/Users/{world['users'][0]}",
                {"schemas": [PATCH_URN], "Operations": [{"op": "add", "path": "roles", "value": [{"value": huge}]}]}),
           400, "invalidValue")
    response = send(app, scim, fuzz_counter, "long ids", "patch", f"/Groups/{world['group']}",
                    {"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": f'members[value eq "{huge}"]'}]})
    _error(response, 400, "invalidPath")  # longer than a path may be


@FUZZ
@given(ident=st.one_of(st.integers(1, 6000).map(lambda n: "1" * n), st.integers(-(10**30), 10**30).map(str),
                       st.text(alphabet="0123456789-+ ._e", min_size=1, max_size=40)),
       endpoint=st.sampled_from(["/Users", "/Groups", "/Roles", "/Characteristics"]),
       method=st.sampled_from(["get", "delete", "patch", "put"]))
def test_any_id_in_a_url_is_answered_without_5xx(app: Any, scim: Scim, world: dict[str, Any],
                                                 fuzz_counter: Counter[str], ident: str, endpoint: str,
                                                 method: str) -> None:
    from urllib.parse import quote

    if endpoint in ("/Roles", "/Characteristics"):
        method = "get"  # read-only endpoints: a write is a 501 whatever the id

    body = {"schemas": [PATCH_URN], "Operations": [{"op": "replace", "path": "externalId", "value": "x"}]} \
        if method == "patch" else {"schemas": [USER_URN], "userName": "x@gridco.example", "displayName": "x"}
    send(app, scim, fuzz_counter, "long ids", method, f"{endpoint}/{quote(ident)}",
         body if method in ("patch", "put") else None)


# --- PATCH remove values of the wrong shape ------------------------------------------------------------

BAD_REMOVE_VALUES = [True, False, 0, 7, "x", "1", {"value": "1"}, {}, [["x"]], [[]], [True], [1], ["1"],
                     [{"value": {}}], [{"value": []}], [{"value": ["1"]}], [{"value": True}], [{"value": 1.5}],
                     [{"value": None}], [{}], [{"value": "1"}, "x"], [{"value": {"value": "1"}}]]


@pytest.mark.parametrize("value", BAD_REMOVE_VALUES, ids=repr)
@pytest.mark.parametrize("target", ["roles", "entitlements", "emails", "members"])
def test_a_patch_remove_value_of_the_wrong_shape_is_400_and_changes_nothing(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], value: Any, target: str) -> None:
    path = f"/Groups/{world['group']}" if target == "members" else f"/Users/{world['users'][-1]}"
    response = send(app, scim, fuzz_counter, "remove shapes", "patch", path,
                    {"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": target, "value": value}]})
    _error(response, 400, "invalidValue", "invalidSyntax")


def test_a_patch_remove_with_a_list_of_values_removes_exactly_those(app: Any, scim: Scim, world: dict[str, Any],
                                                                    fuzz_counter: Counter[str]) -> None:
    """Entra's member removal (interop.md §6 E3) keeps working: the well-formed shape is not refused."""
    user = world["users"][-1]
    response = send(app, scim, fuzz_counter, "remove shapes", "patch", f"/Users/{user}",
                    {"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": "roles",
                                                             "value": [{"value": "1", "display": None}]}]})
    assert response.status_code == 200, response.get_data()[:300]
    assert not response.get_json().get("roles")


@FUZZ
@given(value=st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                                    st.text(max_size=5), st.sampled_from(["1", "2", "3"])),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                              st.sampled_from(["value", "type", "display", "primary", "$ref", "x"]), inner,
                              max_size=3), max_leaves=8),
       target=st.sampled_from(["roles", "entitlements", "emails", "members", "groups", "name", "active"]))
def test_any_patch_remove_value_is_answered_without_5xx(app: Any, scim: Scim, world: dict[str, Any],
                                                        fuzz_counter: Counter[str], value: Any, target: str) -> None:
    path = f"/Groups/{world['group']}" if target == "members" else f"/Users/{world['users'][-1]}"
    send(app, scim, fuzz_counter, "remove shapes", "patch", path,
         {"schemas": [PATCH_URN], "Operations": [{"op": "remove", "path": target, "value": value}]})


# --- NaN and Infinity ------------------------------------------------------------------------------------

@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("method", ["post", "put", "patch", "search"])
def test_json_nan_and_infinity_are_400_invalid_syntax(app: Any, scim: Scim, world: dict[str, Any],
                                                      fuzz_counter: Counter[str], constant: str,
                                                      method: str) -> None:
    user = world["users"][0]
    path, raw = {
        "post": ("/Users", f'{{"schemas": ["{USER_URN}"], "userName": {constant}}}'),
        "put": (f"/Users/{user}", f'{{"schemas": ["{USER_URN}"], "userName": "n@x.test", "displayName": '
                                  f'{constant}}}'),
        "patch": (f"/Users/{user}", f'{{"schemas": ["{PATCH_URN}"], "Operations": [{{"op": "replace", '
                                    f'"path": "externalId", "value": [{constant}]}}]}}'),
        "search": ("/Users/.search", f'{{"schemas": ["{SEARCH_URN}"], "count": {constant}}}'),
    }[method]
    response = send(app, scim, fuzz_counter, "NaN", "post" if method == "search" else method, path, raw=raw.encode())
    _error(response, 400, "invalidSyntax")


# --- booleans -------------------------------------------------------------------------------------------

def _send_active(app: Any, scim: Scim, world: dict[str, Any], counter: Counter[str], method: str,
                 sent: Any) -> Any:
    """``active`` set to ``sent`` by POST, PUT, PATCH with a path, or PATCH without one."""
    user = world["users"][0]
    if method in ("post", "put"):
        body = {"schemas": [USER_URN], "userName": "somnus@gridco.example", "active": sent}
        if method == "post":
            return send(app, scim, counter, "booleans", "post", "/Users", {**body, "userName": "bool@gridco.example"})
        return send(app, scim, counter, "booleans", "put", f"/Users/{user}", body)
    operation = {"op": "replace", "path": "active", "value": sent} if method == "patch" else \
        {"op": "replace", "value": {"active": sent}}
    return send(app, scim, counter, "booleans", "patch", f"/Users/{user}",
                {"schemas": [PATCH_URN], "Operations": [operation]})


@pytest.mark.parametrize(("sent", "stored"), [(True, True), (False, False), ("True", True), ("False", False),
                                              ("true", True), ("false", False)])
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_booleans_accept_json_and_the_strings_identity_providers_send(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], sent: Any, stored: bool,
        method: str) -> None:
    response = _send_active(app, scim, world, fuzz_counter, method, sent)
    assert response.status_code in (200, 201), response.get_data()[:300]
    assert response.get_json()["active"] is stored


@pytest.mark.parametrize("sent", [0, 1, 0.0, "0", "1", "yes", "no", "on", " true", "t", [], [True], {}],
                         ids=repr)
@pytest.mark.parametrize("method", ["post", "put", "patch", "patch-no-path"])
def test_anything_else_given_for_a_boolean_is_400_invalid_value(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], sent: Any, method: str) -> None:
    _error(_send_active(app, scim, world, fuzz_counter, method, sent), 400, "invalidValue")


@pytest.mark.parametrize("sent", [0, 1, "yes", []], ids=repr)
def test_a_non_boolean_primary_of_an_email_is_400(app: Any, scim: Scim, world: dict[str, Any],
                                                  fuzz_counter: Counter[str], sent: Any) -> None:
    response = send(app, scim, fuzz_counter, "booleans", "post", "/Users",
                    {"schemas": [USER_URN], "userName": "prim@gridco.example",
                     "emails": [{"value": "prim@gridco.example", "primary": sent}]})
    _error(response, 400, "invalidValue")
