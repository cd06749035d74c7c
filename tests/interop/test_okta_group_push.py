"""Okta Group Push over real HTTP (interop.md §1.5, §3.13-14, §6 O1-O3, QA plan C9312-C9333).

The tests run in file order on one live server per backend and follow one
pushed group through its life: lookup and create, rename (with ``id`` inside the
PATCH value), add and remove members, "Push Now", an empty group's push, an AIW
PUT, and unlink-with-delete.  Every step reads the group back with a GET.
"""

from __future__ import annotations

import random
import string
from typing import Any

import pytest

from .conftest import LiveServer
from .wire import GROUP, LIST, ScimHttp, member_ids, need, okta_user_body, patch_op


@pytest.fixture(scope="module")
def push(live: LiveServer, okta: ScimHttp) -> dict[str, Any]:
    """Three users assigned through Okta (so they exist in the app) and the group's name."""
    suffix = "".join(random.choices(string.ascii_lowercase, k=6))
    users = []
    for n in range(3):
        email = f"Pushed.Member{n}.{suffix}@atko.com"
        r = okta.post("/Users", okta_user_body(email, f"Member{n}", "Pushed"))
        assert r.status == 201, f"Okta assignment (§1.4) creating a member to push: 201 — {r}"
        users.append({"value": r.json["id"], "display": email})
    return {"users": users, "name": f"Test SCIMv2 {suffix}"}


def _by_name(okta: ScimHttp, name: str) -> Any:
    return okta.get("/Groups" + ScimHttp.query(filter=f'displayName eq "{name}"', startIndex=1, count=100))


def _read(okta: ScimHttp, gid: str, rule: str) -> dict[str, Any]:
    r = okta.get(f"/Groups/{gid}")
    assert r.status == 200, f"{rule}: GET /Groups/{{id}} is 200 afterwards — {r}"
    return r.json


def _patch(okta: ScimHttp, gid: str, rule: str, *ops: dict[str, Any]) -> Any:
    r = okta.patch(f"/Groups/{gid}", patch_op(*ops))
    assert r.status in (200, 204), f"{rule}: PATCH is 200 with the group, or 204 — {r}"
    return r


def test_push_looks_up_by_display_name_then_creates_the_group_201(okta: ScimHttp, push: dict[str, Any]) -> None:
    rule = "Okta Group Push create (§1.5, C9312: displayName lookup, then POST /Groups → 201)"
    r = _by_name(okta, push["name"])
    assert r.status == 200 and LIST in r.json.get("schemas", []) and r.json.get("totalResults") == 0, \
        f"{rule}: the lookup of an unknown group is 200 with an empty ListResponse — {r}"
    r = okta.post("/Groups", {"schemas": [GROUP], "displayName": push["name"], "members": []})
    assert r.status == 201, f"{rule}: 201 — {r}"
    body = r.json or {}
    assert body.get("id") and body.get("displayName") == push["name"], f"{rule}: id and displayName returned — {r}"
    assert (body.get("meta") or {}).get("resourceType") == "Group", f"{rule}: meta.resourceType Group — {r}"
    push["gid"] = body["id"]
    group = _read(okta, push["gid"], rule)
    assert group["displayName"] == push["name"] and member_ids(group) == set(), \
        f"{rule}: GET shows the created, empty group — {group}"
    found = _by_name(okta, push["name"])
    assert [g["id"] for g in found.json.get("Resources", [])] == [push["gid"]], \
        f"{rule}: the displayName filter now finds it — {found}"


def test_rename_patch_carrying_the_group_id_in_value_renames_and_ignores_the_id(
        okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    rule = "Okta Group Push rename (§1.5, §3.13, O1: ignore id inside a path-less replace value)"
    renamed = push["name"] + " renamed"
    _patch(okta, gid, rule, {"op": "replace", "value": {"id": gid, "displayName": renamed}})
    group = _read(okta, gid, rule)
    assert group["id"] == gid and group["displayName"] == renamed, f"{rule}: GET shows the new name, same id — {group}"
    found = _by_name(okta, renamed)
    assert [g["id"] for g in found.json.get("Resources", [])] == [gid], f"{rule}: the new name is filterable — {found}"
    push["name"] = renamed


def test_add_members_patch_adds_exactly_those_members(okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    a, b, _ = push["users"]
    rule = "Okta Group Push add members (§1.5, C9332: add path members, values carry value and display, no type)"
    _patch(okta, gid, rule, {"op": "add", "path": "members", "value": [a, b]})
    group = _read(okta, gid, rule)
    assert member_ids(group) == {a["value"], b["value"]}, f"{rule}: GET shows exactly the two members — {group}"


def test_membership_update_removes_by_value_filter_and_adds_in_one_request(
        okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    a, b, c = push["users"]
    rule = ("Okta Group Push membership update (§1.5, §3.14, O2-O3, C9333: remove members[value eq \"id\"], "
            "add members, and the rename Okta sends with every membership update, applied in order)")
    _patch(okta, gid, rule,
           {"op": "remove", "path": f'members[value eq "{a["value"]}"]'},
           {"op": "add", "path": "members", "value": [c]})
    _patch(okta, gid, rule, {"op": "replace", "value": {"id": gid, "displayName": push["name"]}})
    group = _read(okta, gid, rule)
    assert member_ids(group) == {b["value"], c["value"]}, \
        f"{rule}: only the filtered member was removed and the new one added — {group}"
    assert group["displayName"] == push["name"], f"{rule}: the repeated rename is idempotent — {group}"


def test_remove_member_by_value_filter_removes_only_that_member(okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    _, b, c = push["users"]
    rule = "Okta Group Push remove members (§1.5, §3.14, C9333: remove path members[value eq \"id\"])"
    _patch(okta, gid, rule, {"op": "remove", "path": f'members[value eq "{b["value"]}"]'})
    group = _read(okta, gid, rule)
    assert member_ids(group) == {c["value"]}, f"{rule}: GET shows only the other member left — {group}"
    user = okta.get(f"/Users/{b['value']}")
    assert user.status == 200, f"{rule}: removing a member does not delete the user — {user}"


def test_push_now_replace_of_members_overwrites_the_membership(okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    a, b, _ = push["users"]
    rule = "Okta Group Push 'Push Now' (§1.5, C9316: replace path members is a full overwrite)"
    _patch(okta, gid, rule, {"op": "replace", "path": "members", "value": [a, b]})
    group = _read(okta, gid, rule)
    assert member_ids(group) == {a["value"], b["value"]}, f"{rule}: GET shows exactly the pushed members — {group}"


def test_push_now_of_a_group_emptied_in_okta_replaces_members_with_an_empty_list(
        okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    rule = "Okta Group Push of an emptied group (§1.5, §3.14, C9316: replace members [] must succeed)"
    _patch(okta, gid, rule, {"op": "replace", "path": "members", "value": []})
    group = _read(okta, gid, rule)
    assert member_ids(group) == set(), f"{rule}: GET shows no members — {group}"


def test_push_now_of_an_empty_group_replace_with_an_empty_list_succeeds(okta: ScimHttp, push: dict[str, Any]) -> None:
    rule = "Okta Group Push of an empty group (§1.5, C9317, SCIM-SDK#757: replace members [] on an empty group)"
    name = push["name"] + " empty"
    r = okta.post("/Groups", {"schemas": [GROUP], "displayName": name, "members": []})
    assert r.status == 201, f"{rule}: creating the empty group is 201 — {r}"
    gid = r.json["id"]
    _patch(okta, gid, rule, {"op": "replace", "value": {"id": gid, "displayName": name}},
           {"op": "replace", "path": "members", "value": []})
    group = _read(okta, gid, rule)
    assert member_ids(group) == set() and group["displayName"] == name, \
        f"{rule}: GET shows the group, still empty — {group}"


def test_aiw_put_replaces_the_name_and_the_whole_membership(okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    _, _, c = push["users"]
    rule = "Okta Group Push for AIW apps (§1.5: PUT /Groups/{id} is a full replacement; id and display ignored)"
    renamed = push["name"] + " put"
    r = okta.put(f"/Groups/{gid}", {"schemas": [GROUP], "id": gid, "displayName": renamed, "members": [c]})
    assert r.status == 200, f"{rule}: PUT is 200 — {r}"
    group = _read(okta, gid, rule)
    assert group["displayName"] == renamed, f"{rule}: GET shows the PUT name — {group}"
    assert member_ids(group) == {c["value"]}, f"{rule}: GET shows exactly the PUT membership — {group}"
    push["name"] = renamed


def test_unlink_with_delete_is_204_and_the_group_is_gone(okta: ScimHttp, push: dict[str, Any]) -> None:
    gid = need(push, "gid", "the create")
    rule = "Okta Group Push unlink + delete (§1.5, C9318: DELETE /Groups/{id} → 204)"
    r = okta.delete(f"/Groups/{gid}")
    assert r.status == 204, f"{rule}: 204 — {r}"
    r = okta.get(f"/Groups/{gid}")
    assert r.status == 404 and (r.json or {}).get("detail"), f"{rule}: GET is then a 404 SCIM Error — {r}"
    found = _by_name(okta, push["name"])
    assert found.json.get("totalResults") == 0, f"{rule}: the displayName filter no longer finds it — {found}"
    for user in push["users"]:
        r = okta.get(f"/Users/{user['value']}")
        assert r.status == 200, f"{rule}: deleting the group leaves its (former) members in place — {r}"
