"""Property tests: whatever a client sends, the server answers without a 5xx, every 4xx is a SCIM Error,
and a rejected request leaves the database exactly as it was.

Fuzzed, on SQLite and on PostgreSQL: filters (arbitrary text and near-valid structured filters, in the
query string and in ``/.search`` bodies), PATCH bodies (arbitrary JSON and near-valid PatchOps on Users and
Groups), POST/PUT resource bodies (random types for each attribute, nested junk, huge strings) and the
list/get query parameters.  The limits of ``config.py`` are checked by example at the end of the file.

Every fuzzed request is counted in the session-scoped ``fuzz_counter``; the total is printed at the end
of the session (run with ``-s``).  ``SCIM_FUZZ_EXAMPLES`` scales the number of examples per property.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import Scim, new_user
from .conftest import ERROR_URN, GROUP_URN, PATCH_URN, USER_URN, assert_scim_error, send, snapshot

EXAMPLES = int(os.environ.get("SCIM_FUZZ_EXAMPLES", "250"))
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CHARACTERISTIC_URN = "urn:bestapps:scim:schemas:extension:todoapp:1.0:Characteristic"
SEARCH_URN = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written outside tests/security
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much],
)


# --- shared strategies --------------------------------------------------------------------------------

WEIRD_STRINGS = st.sampled_from([
    "", " ", "a" * 256, "x" * 5000, "\x00", "a\x00b", "\ud800", "\udfff", "é", "𝔘𝔫𝔦", "%", "_", "'", '"', "\\",
    "${jndi:ldap://x}", "<script>", "1", "-1", "0", "99999999999999999999", "1e309", "NaN", "true", "True",
    "FALSE", "null", "None", "2011-05-13T04:42:34Z", "not-a-date", "urn:", "urn:ietf:params:scim:schemas:core:2.0:User",
    "\u202e", "\n", "\t", "😀" * 100, "'; DROP TABLE users; --",
])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30), WEIRD_STRINGS,
)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.one_of(st.text(max_size=12), st.sampled_from(
                        ["value", "type", "primary", "display", "givenName", "$ref", "op", "path"])), inner,
                        max_size=4), max_leaves=12)


def _ids(world: dict[str, Any]) -> st.SearchStrategy[str]:
    known = [*world["users"], world["group"], *world["roles"], *world["characteristics"]]
    return st.one_of(st.sampled_from(known), st.sampled_from(["0", "-1", "999999", "99999999999999999999", "abc",
                                                                "1.0", " 1", "1 ", "0x1", ""]), st.text(max_size=8))


def _ref_items(world: dict[str, Any]) -> st.SearchStrategy[Any]:
    item = st.fixed_dictionaries(
        {"value": st.one_of(_ids(world), SCALARS)},
        optional={"type": st.sampled_from(["User", "user", "Group", "Characteristic", "direct", "", None]),
                  "display": st.one_of(st.text(max_size=10), SCALARS),
                  "primary": st.sampled_from([True, False, "true", "False", None, 1]),
                  "$ref": st.sampled_from(["https://x/Users/1", "", None])})
    return st.one_of(st.lists(item, max_size=4), item, JSON)


# --- filters -----------------------------------------------------------------------------------------

ATTRS = ["userName", "username", "USERNAME", "name.givenName", "name.familyName", "name", "displayName", "active",
         "emails", "emails.value", "emails.type", "emails.primary", "externalId", "id", "meta.created",
         "meta.lastModified", "meta.resourceType", "meta", "members", "members.value", "members.display", "groups",
         "groups.value", "roles", "roles.value", "entitlements.value", "entitlements.type", "password", "schemas",
         f"{USER_URN}:userName", f"{USER_URN}:name.givenName", f"{GROUP_URN}:displayName",
         f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:manager.value", f"{CHARACTERISTIC_URN}:category",
         "urn:unknown:Thing:attr", "nosuch", "name.nosuch", "emails[type", "x.y.z", "a-b", "$ref", "1abc"]
OPS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Co", "pr", "PR", "xx", "==", ""]
LITERALS = ['"bjensen"', '"somnus@gridco.example"', '""', '"a\\"b"', '"\\u0000"', '"\\ud800"', "true", "false",
            "True", "null", "NULL", "42", "-1", "1.5", "1e400", "99999999999999999999", '"2011-05-13T04:42:34Z"',
            '"not a date"', '"1"', "unquoted", '"unterminated', "'single'", '"%"', '"_"', '"\\\\"', '"é"',
            '"' + "z" * 300 + '"']


@st.composite
def structured_filters(draw: Any, depth: int = 0) -> str:
    choice = draw(st.integers(0, 9 if depth < 3 else 4))
    if choice <= 3:
        attr, op = draw(st.sampled_from(ATTRS)), draw(st.sampled_from(OPS))
        if op.lower() == "pr" and draw(st.booleans()):
            return f"{attr} {op}"
        return f"{attr} {op} {draw(st.sampled_from(LITERALS))}"
    if choice == 4:
        attr = draw(st.sampled_from(["emails", "members", "roles", "groups", "entitlements", "name", "userName"]))
        return f"{attr}[{draw(structured_filters(depth + 1))}]" + draw(st.sampled_from(["", ".value", ".nosuch"]))
    if choice in (5, 6):
        joiner = draw(st.sampled_from([" and ", " or ", " AND ", " Or ", " xor ", " "]))
        return draw(structured_filters(depth + 1)) + joiner + draw(structured_filters(depth + 1))
    if choice == 7:
        return "not (" + draw(structured_filters(depth + 1)) + ")"
    if choice == 8:
        return "(" + draw(structured_filters(depth + 1)) + draw(st.sampled_from([")", "", "))", "]"]))
    return draw(st.sampled_from(["(", ")", "[", "]", "not", "and", "or", '"', "\x00", "\\", " ", "()", "[]"])) + \
        draw(structured_filters(depth + 1))


FILTERS = st.one_of(st.text(max_size=80), structured_filters(),
                    st.builds(lambda a, b: a + b, structured_filters(), st.text(max_size=10)))


@FUZZ
@given(text=FILTERS, endpoint=st.sampled_from(["/Users", "/Groups", "/Roles", "/Characteristics"]),
       via_search=st.booleans())
def test_any_filter_is_answered_without_5xx_and_4xx_is_scim_error_without_side_effects(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], text: str, endpoint: str,
        via_search: bool) -> None:
    if via_search or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        send(app, scim, fuzz_counter, "filter", "post", f"{endpoint}/.search",
             {"schemas": [SEARCH_URN], "filter": text})
    else:
        send(app, scim, fuzz_counter, "filter", "get", endpoint, query={"filter": text})


# --- query parameters ------------------------------------------------------------------------------

# A query string is UTF-8 on the wire: lone surrogates cannot be sent at all.
QUERY_SAFE_STRINGS = WEIRD_STRINGS.filter(lambda s: not any(0xD800 <= ord(c) <= 0xDFFF for c in s))
PARAM_JUNK = st.one_of(st.text(max_size=20), QUERY_SAFE_STRINGS, st.sampled_from(
    ["1", "0", "-1", "100", "1000", "1001", "2147483648", "9" * 30, "1.5", "1e3", " 2", "0x10", "", "userName",
     "name.givenName", "emails", "emails.value", "members", "meta.lastModified", "id", "ascending", "DESCENDING",
     "userName,emails", f"{USER_URN}:userName", ",", "a b", "[", "groups", "roles.value", "password"]))


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["startIndex", "count", "attributes", "excludedAttributes", "sortBy",
                                               "sortOrder", "filter", "StartIndex", "COUNT"]), PARAM_JUNK,
                              max_size=5),
       endpoint=st.sampled_from(["/Users", "/Groups", "/Roles", "/Characteristics", "<user>", "<group>"]))
def test_any_query_parameters_are_answered_without_5xx_and_4xx_is_scim_error(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], params: dict[str, str],
        endpoint: str) -> None:
    path = {"<user>": f"/Users/{world['users'][0]}", "<group>": f"/Groups/{world['group']}"}.get(endpoint, endpoint)
    response = send(app, scim, fuzz_counter, "query", "get", path, query=params)
    if response.status_code == 200 and "Resources" in (response.get_json() or {}):
        limit = app.extensions["scim_entitlements"].config.max_page_size
        assert len(response.get_json()["Resources"]) <= limit


@FUZZ
@given(body=st.one_of(
    st.fixed_dictionaries({"schemas": st.one_of(st.just([SEARCH_URN]), JSON)},
                          optional={k: st.one_of(PARAM_JUNK, JSON) for k in
                                    ("filter", "startIndex", "count", "sortBy", "sortOrder", "attributes",
                                     "excludedAttributes")}),
    JSON))
def test_any_search_request_body_is_answered_without_5xx_and_4xx_is_scim_error(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], body: Any) -> None:
    send(app, scim, fuzz_counter, "search body", "post", "/Users/.search", body)


# --- PATCH -------------------------------------------------------------------------------------------

USER_PATHS = ["userName", "UserName", "name.givenName", "name", "name.nosuch", "displayName", "active", "ACTIVE",
              "emails", 'emails[type eq "work"].value', 'emails[type eq "work"]', "emails[primary eq true].type",
              'emails[value co "@"].primary', "emails.value", "emails[", 'emails[type eq "work"', "externalId",
              "roles", 'roles[value eq "1"]', 'roles[value eq "2"].display', "roles.value", "entitlements",
              'entitlements[type eq "Characteristic"]', 'entitlements[value eq "1"]', "groups", 'groups[value eq "1"]',
              "id", "meta", "meta.created", "meta.version", "password", "schemas", f"{USER_URN}:userName",
              f"{USER_URN}:name.familyName", f"{USER_URN}:active", f"{USER_URN}:emails",
              f"{ENTERPRISE}:employeeNumber", f"{ENTERPRISE}:manager", f"{ENTERPRISE}:manager.value", ENTERPRISE,
              f"{CHARACTERISTIC_URN}:category", "urn:unknown:x:attr", "nosuch", "members", "", " ", ".", "a.b.c",
              "emails[type eq \"work\"].value.x", "emails[not (type pr)]"]
GROUP_PATHS = ["displayName", "DisplayName", "members", "Members", "members.value", "members.display",
               "members[type eq \"User\"]", "externalId", f"{GROUP_URN}:displayName", f"{GROUP_URN}:members",
               "id", "meta", "meta.lastModified", "schemas", "nosuch", "", "members[", "members[value pr]",
               "members[value eq 1]", "emails"]
OP_NAMES = st.sampled_from(["add", "remove", "replace", "Add", "REPLACE", "Remove", "delete", "move", "copy",
                            "test", "", None, 1, True])


@st.composite
def patch_values(draw: Any, world: dict[str, Any], group: bool) -> Any:
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return draw(_ref_items(world))
    if choice == 1:
        return draw(st.sampled_from(["True", "false", "TRUE", "yes", True, False, None, "", 0, 1, [], {}, [None],
                                     "somnus@gridco.example", "trinity@gridco.example"]))
    if choice == 2:
        keys = (["displayName", "members", "externalId", "id", "meta", "schemas", GROUP_URN, "nosuch"] if group else
                ["userName", "name", "active", "emails", "roles", "entitlements", "groups", "id", "meta", "password",
                 "externalId", f"{USER_URN}:userName", f"{ENTERPRISE}:employeeNumber", ENTERPRISE, "nosuch",
                 "name.givenName", f"{CHARACTERISTIC_URN}:category"])
        return draw(st.dictionaries(st.sampled_from(keys), st.one_of(SCALARS, _ref_items(world), JSON), max_size=4))
    if choice == 3:
        return {"givenName": draw(SCALARS), "familyName": draw(SCALARS)}
    return draw(st.one_of(SCALARS, JSON))


@st.composite
def patch_bodies(draw: Any, world: dict[str, Any], group: bool) -> Any:
    paths = GROUP_PATHS if group else USER_PATHS
    op = st.fixed_dictionaries(
        {"op": OP_NAMES},
        optional={"path": st.one_of(st.sampled_from(paths), st.sampled_from(paths).map(str.lower),
                                    st.builds(lambda ident: f'members[value eq "{ident}"]', _ids(world)),
                                    st.text(max_size=15), SCALARS),
                  "value": patch_values(world, group),
                  "Value": SCALARS})
    operations = draw(st.one_of(st.lists(op, max_size=5), JSON, st.none()))
    body: dict[str, Any] = {}
    schemas = draw(st.sampled_from([[PATCH_URN], [PATCH_URN], [], None, "x", [USER_URN], "missing"]))
    if schemas != "missing":
        body["schemas"] = schemas
    body[draw(st.sampled_from(["Operations", "Operations", "operations", "OPERATIONS", "ops"]))] = operations
    return body


@FUZZ
@given(data=st.data(), group=st.booleans(), arbitrary=st.integers(0, 4), if_match=st.sampled_from(
    [None, None, None, "*", 'W/"nope"', "", "garbage, *"]))
def test_any_patch_is_answered_without_5xx_and_4xx_is_scim_error_without_side_effects(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], data: Any, group: bool,
        arbitrary: int, if_match: str | None) -> None:
    body = data.draw(JSON) if arbitrary == 0 else data.draw(patch_bodies(world, group))
    target = data.draw(st.sampled_from([world["group"]] if group else world["users"]) | _ids(world))
    path = f"/Groups/{target}" if group else f"/Users/{target}"
    headers = {"If-Match": if_match} if if_match is not None else None
    send(app, scim, fuzz_counter, "patch", "patch", path, body, headers=headers)


# --- POST / PUT resource bodies ----------------------------------------------------------------------

@st.composite
def user_bodies(draw: Any, world: dict[str, Any]) -> Any:
    body: dict[str, Any] = {}
    if draw(st.integers(0, 4)):
        body["schemas"] = draw(st.sampled_from([[USER_URN], [USER_URN, ENTERPRISE], [], None, [GROUP_URN], "x"]))
    if draw(st.integers(0, 5)):
        body["userName"] = draw(st.one_of(st.text(min_size=1, max_size=20), WEIRD_STRINGS, SCALARS))
    fields = {
        "name": st.one_of(st.fixed_dictionaries({}, optional={"givenName": SCALARS, "familyName": SCALARS,
                                                              "formatted": SCALARS, "nosuch": SCALARS}), JSON),
        "displayName": SCALARS, "active": st.one_of(SCALARS, st.sampled_from(["True", "false", "yes"])),
        "externalId": st.one_of(SCALARS, _ids(world)), "emails": _ref_items(world) | st.lists(
            st.fixed_dictionaries({"value": SCALARS}, optional={"type": SCALARS, "primary": SCALARS}), max_size=3),
        "roles": _ref_items(world), "entitlements": _ref_items(world), "groups": _ref_items(world),
        "members": _ref_items(world), "password": SCALARS, "id": _ids(world), "meta": JSON,
        ENTERPRISE: st.one_of(st.fixed_dictionaries({}, optional={"employeeNumber": SCALARS, "manager": JSON}), JSON),
        CHARACTERISTIC_URN: JSON, f"{USER_URN}:userName": SCALARS, f"{ENTERPRISE}:employeeNumber": SCALARS,
        "USERNAME": SCALARS, "nosuch": JSON,
    }
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=6, unique=True)):
        body[key] = draw(fields[key])
    return body


@st.composite
def group_bodies(draw: Any, world: dict[str, Any]) -> Any:
    body: dict[str, Any] = {}
    if draw(st.integers(0, 4)):
        body["schemas"] = draw(st.sampled_from([[GROUP_URN], [], None, [USER_URN]]))
    if draw(st.integers(0, 5)):
        body["displayName"] = draw(st.one_of(st.text(min_size=1, max_size=20), WEIRD_STRINGS, SCALARS))
    fields = {"members": _ref_items(world), "externalId": st.one_of(SCALARS, _ids(world)), "id": _ids(world),
              "meta": JSON, "nosuch": JSON, f"{GROUP_URN}:displayName": SCALARS, "DISPLAYNAME": SCALARS}
    for key in draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True)):
        body[key] = draw(fields[key])
    return body


@FUZZ
@given(data=st.data(), group=st.booleans(), method=st.sampled_from(["post", "put"]), arbitrary=st.integers(0, 5))
def test_any_resource_body_is_answered_without_5xx_and_4xx_is_scim_error_without_side_effects(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], data: Any, group: bool,
        method: str, arbitrary: int) -> None:
    if arbitrary == 0:
        body = data.draw(JSON)
    else:
        body = data.draw(group_bodies(world) if group else user_bodies(world))
    endpoint = "/Groups" if group else "/Users"
    if method == "put":
        target = data.draw(st.sampled_from([world["group"]] if group else world["users"]) | _ids(world))
        endpoint = f"{endpoint}/{target}"
    send(app, scim, fuzz_counter, method, method, endpoint, body)


@FUZZ
@given(raw=st.one_of(st.binary(max_size=60), st.text(max_size=60).map(str.encode),
                     st.sampled_from([b"", b"{", b"[]", b"null", b"1", b'"x"', b"{}", b'{"a":1}{', b"\xff\xfe",
                                      b'{"userName": "\xff"}', b'{"userName": "\\ud800"}', b"NaN", b"Infinity",
                                      b'{"userName": NaN}', b'{"userName": 1e99999}'])),
       method=st.sampled_from(["post", "put", "patch"]), group=st.booleans())
def test_any_raw_body_bytes_are_answered_without_5xx(
        app: Any, scim: Scim, world: dict[str, Any], fuzz_counter: Counter[str], raw: bytes, method: str,
        group: bool) -> None:
    endpoint = "/Groups" if group else "/Users"
    if method != "post":
        endpoint += f"/{world['group'] if group else world['users'][0]}"
    send(app, scim, fuzz_counter, "raw body", method, endpoint, raw=raw)


# --- the limits ------------------------------------------------------------------------------------

def _limits(app: Any) -> Any:
    return app.extensions["scim_entitlements"].config


def _check_error(response: Any, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.get_data()[:400])
    payload = assert_scim_error(response.status_code, response.get_data())
    if scim_type is not None:
        assert payload.get("scimType") == scim_type, payload
    return payload


def test_a_body_over_the_size_limit_is_413_and_creates_nothing(app: Any, scim: Scim,
                                                                fuzz_counter: Counter[str]) -> None:
    limit = _limits(app).max_body_bytes
    # The padding goes into an attribute the server does not know (dropped), so that only the size matters.
    prefix = json.dumps({"schemas": [USER_URN], "userName": "big@gridco.example", "padding": ""})[:-2]
    raw = (prefix + "x" * (limit + 1 - len(prefix) - 2) + '"}').encode()
    assert len(raw) == limit + 1
    before = snapshot(app)
    response = send(app, scim, fuzz_counter, "limits", "post", "/Users", raw=raw)
    _check_error(response, 413)
    assert snapshot(app) == before
    # The same body at the limit exactly is not refused for its size.
    ok = send(app, scim, fuzz_counter, "limits", "post", "/Users", raw=raw[:-3] + b'"}')
    assert ok.status_code != 413, ok.get_data()[:300]


def test_a_filter_over_the_maximum_length_is_400_invalid_filter(app: Any, scim: Scim,
                                                                fuzz_counter: Counter[str]) -> None:
    limit = _limits(app).max_filter_length
    head = 'userName eq "'
    text = head + "a" * (limit - len(head) - 1) + '"'
    assert len(text) == limit
    ok = send(app, scim, fuzz_counter, "limits", "get", "/Users", query={"filter": text})
    assert ok.status_code == 200, ok.get_data()[:300]
    too_long = head + "a" * (limit - len(head)) + '"'
    for response in (send(app, scim, fuzz_counter, "limits", "get", "/Users", query={"filter": too_long}),
                     send(app, scim, fuzz_counter, "limits", "post", "/Users/.search",
                          {"schemas": [SEARCH_URN], "filter": too_long})):
        _check_error(response, 400, "invalidFilter")


@pytest.mark.parametrize("shape", ["parentheses", "not"])
def test_a_filter_over_the_maximum_depth_is_400_invalid_filter(app: Any, scim: Scim, fuzz_counter: Counter[str],
                                                               shape: str) -> None:
    depth = _limits(app).max_filter_depth

    def nested(levels: int) -> str:
        leaf = 'userName eq "somnus@gridco.example"'
        if shape == "parentheses":
            return "(" * levels + leaf + ")" * levels
        return "not (" * levels + leaf + ")" * levels

    shallow = send(app, scim, fuzz_counter, "limits", "get", "/Users", query={"filter": nested(depth // 2)})
    assert shallow.status_code == 200, shallow.get_data()[:300]
    for levels in (depth + 1, depth * 3, 1000):
        response = send(app, scim, fuzz_counter, "limits", "get", "/Users", query={"filter": nested(levels)[:4096]})
        _check_error(response, 400, "invalidFilter")


def test_a_long_or_chain_of_ids_is_accepted_because_chains_count_log2_of_their_length(
        app: Any, scim: Scim, fuzz_counter: Counter[str]) -> None:
    # An IdP or admin tool may OR many ids together; 200 terms are a tree 8 levels deep.
    text = " or ".join(f'id eq "{i}"' for i in range(1, 201))
    assert len(text) <= _limits(app).max_filter_length
    response = send(app, scim, fuzz_counter, "limits", "get", "/Users", query={"filter": text})
    assert response.status_code == 200, response.get_data()[:300]
    assert response.get_json()["totalResults"] == 2  # the two seeded users


def test_more_patch_operations_than_the_maximum_is_400_and_changes_nothing(
        app: Any, scim: Scim, fuzz_counter: Counter[str]) -> None:
    limit = _limits(app).max_patch_operations
    user = new_user(scim, "ops@gridco.example")
    op = {"op": "replace", "path": "displayName", "value": "Changed"}
    response = send(app, scim, fuzz_counter, "limits", "patch", f"/Users/{user['id']}",
                    {"schemas": [PATCH_URN], "Operations": [op] * (limit + 1)})
    _check_error(response, 400)
    assert scim.get(f"/Users/{user['id']}").get_json().get("displayName") != "Changed"
    ok = send(app, scim, fuzz_counter, "limits", "patch", f"/Users/{user['id']}",
              {"schemas": [PATCH_URN], "Operations": [op] * limit})
    assert ok.status_code in (200, 204), ok.get_data()[:300]


def test_a_count_over_the_maximum_page_size_is_clamped(database_url: str, fuzz_counter: Counter[str]) -> None:
    from example_app import create_app
    from example_app.commands import seed_data
    from example_app.models import db

    from ..conftest import issue_token

    small = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "s",
                        "SCIM_MAX_PAGE_SIZE": 3})
    with small.app_context():
        db.drop_all()
        db.create_all()
        seed_data()
    try:
        scim = Scim(small.test_client(), issue_token(small, "gridco.example"))
        for n in range(4):
            new_user(scim, f"page{n}@gridco.example")
        for count in ("4", "1000", "2147483648", "9" * 30):
            response = send(small, scim, fuzz_counter, "limits", "get", "/Users", query={"count": count})
            assert response.status_code == 200, response.get_data()[:300]
            page = response.get_json()
            assert page["totalResults"] == 6 and page["itemsPerPage"] == 3 and len(page["Resources"]) == 3, page
        search = send(small, scim, fuzz_counter, "limits", "post", "/Users/.search",
                      {"schemas": [SEARCH_URN], "count": 10**6})
        assert search.status_code == 200 and len(search.get_json()["Resources"]) == 3, search.get_data()[:300]
    finally:
        with small.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.mark.parametrize("shape", ["lists", "objects", "inside-value"])
@pytest.mark.parametrize("levels", [100_000, 900, 500])
def test_deeply_nested_json_is_400_or_handled_never_a_crash(app: Any, scim: Scim, world: dict[str, Any],
                                                 fuzz_counter: Counter[str], shape: str, levels: int) -> None:
    if shape == "lists":
        nested = "[" * levels + "]" * levels
    elif shape == "objects":
        nested = '{"a":' * levels + "1" + "}" * levels
    else:
        nested = '{"value":[' * levels + '"1"' + "]}" * levels
    user = world["users"][0]
    cases = [
        ("post", "/Users", f'{{"schemas": ["{USER_URN}"], "userName": "deep@gridco.example", "name": {nested}}}'),
        ("put", f"/Users/{user}", f'{{"schemas": ["{USER_URN}"], "userName": "deep@gridco.example", '
                                  f'"emails": {nested}}}'),
        ("patch", f"/Users/{user}", f'{{"schemas": ["{PATCH_URN}"], '
                                    f'"Operations": [{{"op": "add", "path": "roles", "value": {nested}}}]}}'),
        ("patch", f"/Groups/{world['group']}", f'{{"schemas": ["{PATCH_URN}"], '
                                               f'"Operations": [{{"op": "add", "value": {{"members": {nested}}}}}]}}'),
        ("post", "/Users/.search", f'{{"schemas": ["{SEARCH_URN}"], "filter": {nested}}}'),
        ("post", "/Groups", nested),
    ]
    failures = []
    for method, path, raw in cases:
        try:
            # send() checks: no 5xx, a 4xx is a SCIM error and changed nothing.
            response = send(app, scim, fuzz_counter, "limits", method, path, raw=raw.encode())
            if levels > 10_000:  # deeper than any parser recursion: refused as unparseable
                assert response.status_code == 400, (response.status_code, response.get_data()[:300])
                assert ERROR_URN in response.get_json()["schemas"]
        except AssertionError as exc:
            status = next((ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("->")), str(exc)[:200])
            failures.append(f"{method.upper()} {path} (depth {levels}): {status[:200]}")
    assert not failures, "\n".join(failures)


# --- values a column cannot hold -------------------------------------------------------------------

UNSTORABLE = {"256 chars": "a" * 256, "5000 chars": "x" * 5000, "NUL": "a\x00b", "lone surrogate": "\ud800"}


@pytest.mark.parametrize("value", list(UNSTORABLE.values()), ids=list(UNSTORABLE))
def test_a_value_the_database_cannot_store_is_a_4xx_not_a_500(app: Any, scim: Scim, world: dict[str, Any],
                                                              fuzz_counter: Counter[str], value: str) -> None:
    """Over-long strings (the example app's columns are VARCHAR(255)), NUL bytes and lone surrogates
    are the client's fault: a 400 SCIM error, not a 500, on every backend."""
    user, group = world["users"][0], world["group"]
    cases = [
        ("post", "/Users", {"schemas": [USER_URN], "userName": value}),
        ("post", "/Users", {"schemas": [USER_URN], "userName": "ok@gridco.example", "name": {"givenName": value}}),
        ("post", "/Users", {"schemas": [USER_URN], "userName": "ok2@gridco.example", "externalId": value}),
        ("put", f"/Users/{user}", {"schemas": [USER_URN], "userName": "somnus@gridco.example",
                                   "emails": [{"value": value, "primary": True}]}),
        ("patch", f"/Users/{user}", {"schemas": [PATCH_URN],
                                     "Operations": [{"op": "replace", "path": "displayName", "value": value}]}),
        ("post", "/Groups", {"schemas": [GROUP_URN], "displayName": value}),
        ("patch", f"/Groups/{group}", {"schemas": [PATCH_URN],
                                       "Operations": [{"op": "replace", "path": "displayName", "value": value}]}),
        ("post", "/Users/.search", {"schemas": [SEARCH_URN], "filter": f"userName eq {json.dumps(value)}"}),
    ]
    failures = []
    for method, path, body in cases:
        try:
            send(app, scim, fuzz_counter, "unstorable", method, path, body)
        except AssertionError as exc:
            status = next((ln.strip() for ln in str(exc).splitlines() if ln.strip().startswith("->")), str(exc)[:200])
            failures.append(f"{method.upper()} {path} {json.dumps(body)[:120]} {status[:160]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("body", [
    {"schemas": 1}, {"schemas": 1.5}, {"schemas": True},
    {"schemas": [SEARCH_URN], "filter": {}}, {"schemas": [SEARCH_URN], "filter": ["userName pr"]},
    {"schemas": [SEARCH_URN], "filter": 7}, {"schemas": [SEARCH_URN], "filter": True},
], ids=lambda b: json.dumps(b)[:60])
def test_a_search_request_with_wrongly_typed_members_is_400(app: Any, scim: Scim, fuzz_counter: Counter[str],
                                                            body: dict[str, Any]) -> None:
    response = send(app, scim, fuzz_counter, "search body", "post", "/Users/.search", body)
    _check_error(response, 400)


@pytest.mark.parametrize("start", ["2147483648", "9223372036854775808", "9" * 30])
@pytest.mark.parametrize("endpoint", ["/Users", "/Groups"])
def test_a_start_index_past_any_result_is_an_empty_page_not_a_500(app: Any, scim: Scim, fuzz_counter: Counter[str],
                                                                  start: str, endpoint: str) -> None:
    response = send(app, scim, fuzz_counter, "query", "get", endpoint, query={"startIndex": start})
    assert response.status_code == 200, response.get_data()[:300]
    assert response.get_json()["Resources"] == []
