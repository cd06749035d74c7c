"""Microsoft Entra ID provisioning sequences over real HTTP (interop.md §5, §6 E1-E16).

Bodies follow the Entra SCIM docs' request examples: capitalised ``op``
values, string booleans, member removal with a ``value`` list, ``"$ref": null``,
``excludedAttributes=members`` on group reads, filtered ``emails`` paths and
path-less PATCH with dotted keys.  The tests run in file order on one live
server per backend, like one provisioning cycle, and read every result back.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from .conftest import LiveServer
from .wire import GROUP, LIST, USER, ScimHttp, member_ids, need, patch_op

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


def _entra_user_body(external_id: str, user_name: str, email: str) -> dict[str, Any]:
    """The Entra doc's "Create User" request (§5)."""
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": email}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }


@pytest.fixture(scope="module")
def cycle(live: LiveServer) -> dict[str, Any]:
    return {}


def _by_external_id(entra: ScimHttp, external_id: str) -> Any:
    return entra.get("/Users" + ScimHttp.query(filter=f'externalId eq "{external_id}"'))


def _user(entra: ScimHttp, uid: str, rule: str) -> dict[str, Any]:
    r = entra.get(f"/Users/{uid}")
    assert r.status == 200, f"{rule}: GET /Users/{{id}} is 200 afterwards — {r}"
    return r.json


def _group(entra: ScimHttp, gid: str, rule: str) -> dict[str, Any]:
    r = entra.get(f"/Groups/{gid}")
    assert r.status == 200, f"{rule}: GET /Groups/{{id}} is 200 afterwards — {r}"
    return r.json


def _patch(entra: ScimHttp, path: str, rule: str, *ops: dict[str, Any]) -> Any:
    r = entra.patch(path, patch_op(*ops))
    assert r.status in (200, 204), f"{rule}: PATCH is 200 or 204 — {r}"
    return r


def test_test_connection_user_query_on_a_random_guid_external_id_is_200_with_an_empty_list(entra: ScimHttp) -> None:
    rule = "Entra Test Connection (§5, E13, E14: random GUID on the matching attribute → 200 + empty ListResponse)"
    r = _by_external_id(entra, str(uuid.uuid4()))
    assert r.status == 200, f"{rule}: status 200, not 404 — {r}"
    body = r.json or {}
    assert LIST in body.get("schemas", []), f"{rule}: a ListResponse — {r}"
    assert body.get("totalResults") == 0 and body.get("Resources") == [], \
        f"{rule}: totalResults 0 and Resources [] — {r}"
    assert r.headers.get("content-type", "").startswith("application/scim+json"), \
        f"Entra E15: responses are application/scim+json — {r}"


def test_test_connection_group_query_on_a_random_guid_display_name_is_200_with_an_empty_list(
        entra: ScimHttp) -> None:
    rule = "Entra Test Connection / group matching (§5, E13: Groups by displayName, no match → 200 + empty list)"
    r = entra.get("/Groups" + ScimHttp.query(filter=f'displayName eq "{uuid.uuid4()}"', excludedAttributes="members"))
    assert r.status == 200, f"{rule}: status 200 — {r}"
    assert (r.json or {}).get("totalResults") == 0 and r.json.get("Resources") == [], f"{rule}: empty — {r}"


def test_create_users_then_match_them_by_external_id(entra: ScimHttp, cycle: dict[str, Any]) -> None:
    rule = "Entra create and match (§5: query by externalId, POST on no match, then the query finds it)"
    users = []
    for _ in range(4):
        external_id = str(uuid.uuid4())
        user_name = f"Test_User_{uuid.uuid4()}"
        r = _by_external_id(entra, external_id)
        assert r.status == 200 and r.json.get("totalResults") == 0, f"{rule}: no match before create — {r}"
        r = entra.post("/Users", _entra_user_body(external_id, user_name, f"{user_name}@testuser.com"))
        assert r.status == 201, f"{rule}: POST of Entra's documented body is 201 — {r}"
        assert (r.json or {}).get("id"), f"{rule}: id on every resource — {r}"
        users.append({"id": r.json["id"], "externalId": external_id, "userName": user_name})
    cycle["users"] = users
    for user in users:
        r = _by_external_id(entra, user["externalId"])
        assert r.status == 200, f"{rule}: 200 — {r}"
        found = r.json.get("Resources") or []
        assert [u.get("id") for u in found] == [user["id"]], f"{rule}: externalId matches exactly that user — {r}"
        assert found[0].get("externalId") == user["externalId"] and found[0].get("userName") == user["userName"], \
            f"{rule}: externalId and userName stored as sent (§5: no reformatting) — {r}"


def test_capitalised_replace_ops_update_the_user(entra: ScimHttp, cycle: dict[str, Any]) -> None:
    user = need(cycle, "users", "the create")[0]
    rule = "Entra E1 (op 'Replace' capitalised, §6)"
    _patch(entra, f"/Users/{user['id']}", rule,
           {"op": "Replace", "path": "displayName", "value": "Entra Display"},
           {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"})
    got = _user(entra, user["id"], rule)
    assert got.get("displayName") == "Entra Display", f"{rule}: GET shows the replaced displayName — {got}"
    assert got["name"]["familyName"] == "updatedFamilyName", f"{rule}: GET shows the replaced familyName — {got}"
    assert got["name"]["givenName"] == "givenName", f"{rule}: the untouched givenName is kept — {got}"


def test_replace_of_the_work_email_value_by_filtered_path_updates_that_one_email(
        entra: ScimHttp, cycle: dict[str, Any]) -> None:
    user = need(cycle, "users", "the create")[0]
    rule = "Entra E6 (§6: Replace path emails[type eq \"work\"].value updates the one work email, no duplicate)"
    new_email = f"updated.{uuid.uuid4().hex[:8]}@contoso.com"
    _patch(entra, f"/Users/{user['id']}", rule,
           {"op": "Replace", "path": 'emails[type eq "work"].value', "value": new_email})
    got = _user(entra, user["id"], rule)
    work = [e for e in got.get("emails") or [] if e.get("type") == "work"]
    assert [e.get("value") for e in work] == [new_email], f"{rule}: exactly one work email, with the new value — {got}"
    assert work[0].get("primary") is True, f"{rule}: the element's other sub-attributes are kept — {got}"


def test_pathless_replace_with_dotted_keys_sets_the_sub_attributes(entra: ScimHttp, cycle: dict[str, Any]) -> None:
    user = need(cycle, "users", "the create")[1]
    rule = "Entra E5 (§6, §1.4: path-less replace whose value has dotted keys such as name.givenName)"
    _patch(entra, f"/Users/{user['id']}", rule,
           {"op": "replace", "value": {"displayName": "Dotted Display", "name.givenName": "DottedGiven"}})
    got = _user(entra, user["id"], rule)
    assert got["name"]["givenName"] == "DottedGiven", f"{rule}: GET shows name.givenName set — {got}"
    assert got["name"]["familyName"] == "familyName", f"{rule}: the sibling name.familyName is kept — {got}"
    assert got.get("displayName") == "Dotted Display", f"{rule}: the plain key in the same value is applied — {got}"
    assert "name.givenName" not in got, f"{rule}: the dotted key is a path, not a new attribute — {got}"


def test_string_boolean_false_on_active_deactivates_and_the_user_stays_readable(
        entra: ScimHttp, cycle: dict[str, Any]) -> None:
    user = need(cycle, "users", "the create")[1]
    rule = "Entra E2 (§6: {\"op\":\"Replace\",\"path\":\"active\",\"value\":\"False\"} is boolean false)"
    _patch(entra, f"/Users/{user['id']}", rule, {"op": "Replace", "path": "active", "value": "False"})
    got = _user(entra, user["id"], rule)
    assert got["active"] is False, f"{rule}: GET shows active false (a JSON boolean) — {got}"
    rule = "Entra E2 restore (§5: restore via active=true, sent as the string \"True\")"
    _patch(entra, f"/Users/{user['id']}", rule, {"op": "Replace", "path": "active", "value": "True"})
    got = _user(entra, user["id"], rule)
    assert got["active"] is True, f"{rule}: GET shows active true — {got}"


def test_soft_delete_via_active_false_keeps_the_user_readable_and_matchable(
        entra: ScimHttp, cycle: dict[str, Any]) -> None:
    user = need(cycle, "users", "the create")[2]
    rule = "Entra soft delete (§5, E16: active=false; disabled users are still returned)"
    _patch(entra, f"/Users/{user['id']}", rule, {"op": "Replace", "path": "active", "value": False})
    got = _user(entra, user["id"], rule)
    assert got["active"] is False, f"{rule}: GET is 200 with active false — {got}"
    r = _by_external_id(entra, user["externalId"])
    assert [u.get("id") for u in r.json.get("Resources", [])] == [user["id"]], \
        f"{rule}: the soft-deleted user is still matched by externalId — {r}"
    assert r.json["Resources"][0].get("active") is False, f"{rule}: and listed as inactive — {r}"


def test_group_create_with_the_adscim_schema_uri_and_external_id_is_201(
        entra: ScimHttp, cycle: dict[str, Any]) -> None:
    rule = "Entra create group (§5, E10: Microsoft ADSCIM schema URI in schemas, groups created without members)"
    external_id = str(uuid.uuid4())
    name = f"Entra Group {external_id[:8]}"
    r = entra.post("/Groups", {"schemas": [GROUP, ADSCIM_GROUP], "externalId": external_id, "displayName": name,
                               "meta": {"resourceType": "Group"}})
    assert r.status == 201, f"{rule}: 201 — {r}"
    cycle["group"] = {"id": r.json["id"], "displayName": name, "externalId": external_id}
    got = _group(entra, r.json["id"], rule)
    assert got["displayName"] == name and got.get("externalId") == external_id, \
        f"{rule}: GET shows displayName and externalId as sent — {got}"
    assert member_ids(got) == set(), f"{rule}: no members yet — {got}"


def test_capitalised_add_of_several_members_with_null_ref_adds_them_all(
        entra: ScimHttp, cycle: dict[str, Any]) -> None:
    group = need(cycle, "group", "the group create")
    users = need(cycle, "users", "the create")
    rule = "Entra E1 + E4 (§5-6: 'Add' members with \"$ref\": null, several memberships in one PATCH)"
    _patch(entra, f"/Groups/{group['id']}", rule,
           {"op": "Add", "path": "members", "value": [{"$ref": None, "value": u["id"]} for u in users]})
    got = _group(entra, group["id"], rule)
    assert member_ids(got) == {u["id"] for u in users}, f"{rule}: GET shows all four members — {got}"


def test_capitalised_remove_with_a_value_list_removes_exactly_those_members(
        entra: ScimHttp, cycle: dict[str, Any]) -> None:
    group = need(cycle, "group", "the group create")
    users = need(cycle, "users", "the create")
    rule = "Entra E1 + E3 (§6: 'Remove' path members with a value list removes exactly those, not all)"
    _patch(entra, f"/Groups/{group['id']}", rule,
           {"op": "Remove", "path": "members",
            "value": [{"$ref": None, "value": users[0]["id"]}, {"$ref": None, "value": users[1]["id"]}]})
    got = _group(entra, group["id"], rule)
    assert member_ids(got) == {users[2]["id"], users[3]["id"]}, \
        f"{rule}: GET shows exactly the two members that were not named — {got}"


def test_group_reads_with_excluded_attributes_members_omit_the_member_list(
        entra: ScimHttp, cycle: dict[str, Any]) -> None:
    group = need(cycle, "group", "the group create")
    rule = "Entra E12 (§5: excludedAttributes=members on group reads)"
    r = entra.get(f"/Groups/{group['id']}" + ScimHttp.query(excludedAttributes="members"))
    assert r.status == 200, f"{rule}: GET /Groups/{{id}} is 200 — {r}"
    assert "members" not in r.json and r.json.get("id") == group["id"], \
        f"{rule}: the group comes without members, with its id — {r}"
    assert r.json.get("displayName") == group["displayName"], f"{rule}: other attributes stay — {r}"
    r = entra.get("/Groups" + ScimHttp.query(filter=f'displayName eq "{group["displayName"]}"',
                                             excludedAttributes="members"))
    assert r.status == 200 and [g.get("id") for g in r.json.get("Resources", [])] == [group["id"]], \
        f"{rule}: the displayName query finds the group — {r}"
    assert all("members" not in g for g in r.json["Resources"]), f"{rule}: list results omit members too — {r}"
    full = _group(entra, group["id"], rule)
    assert len(member_ids(full)) == 2, f"{rule}: excluding members from the read did not drop them — {full}"


def test_capitalised_replace_of_the_group_display_name(entra: ScimHttp, cycle: dict[str, Any]) -> None:
    group = need(cycle, "group", "the group create")
    rule = "Entra E1 (§6: 'Replace' path displayName on a group)"
    new_name = group["displayName"] + " renamed"
    _patch(entra, f"/Groups/{group['id']}", rule, {"op": "Replace", "path": "displayName", "value": new_name})
    got = _group(entra, group["id"], rule)
    assert got["displayName"] == new_name, f"{rule}: GET shows the new name — {got}"
    assert len(member_ids(got)) == 2, f"{rule}: renaming kept the members — {got}"
