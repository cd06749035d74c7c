"""Groups as Okta Group Push and Entra send them (interop.md §1.5, §6 E3, E4, E12, O1-O3)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from example_app.models import db, group_members
from flask_scim_entitlements import signals

from .conftest import Scim, new_user

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _members(app: Any, gid: str) -> set[str]:
    with app.app_context():
        rows = db.session.scalars(sa.select(group_members.c.user_id).where(group_members.c.group_id == int(gid)))
        return {str(r) for r in rows}


def _users(scim: Scim, n: int) -> list[str]:
    return [new_user(scim, f"member{i}@example.com")["id"] for i in range(n)]


def _group(scim: Scim, name: str = "Test SCIMv2", members: list[str] | None = None) -> dict[str, Any]:
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": name,
                              "members": [{"value": m} for m in members or []]})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_okta_group_create_returns_201_with_id_display_name_and_resource_type(scim: Scim) -> None:
    body = _group(scim)
    assert body["id"] and body["displayName"] == "Test SCIMv2"
    assert body["meta"]["resourceType"] == "Group"


def test_group_lookup_by_display_name_filter_and_empty_result_is_200(scim: Scim) -> None:
    gid = _group(scim)["id"]
    found = scim.get('/Groups?filter=displayName eq "Test SCIMv2"&startIndex=1&count=100').get_json()
    assert [g["id"] for g in found["Resources"]] == [gid]
    none = scim.get('/Groups?filter=displayName eq "nope"').get_json()
    assert none["totalResults"] == 0 and none["Resources"] == []


def test_okta_rename_patch_carrying_the_group_id_in_value_is_accepted(scim: Scim) -> None:
    gid = _group(scim)["id"]
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Renamed"}}]}
    r = scim.patch(f"/Groups/{gid}", body)
    assert r.status_code == 204 and r.data == b""
    assert scim.get(f"/Groups/{gid}").get_json()["displayName"] == "Renamed"


def test_okta_membership_patch_removes_by_filter_and_adds_in_one_request(app: Any, scim: Scim) -> None:
    a, b, c = _users(scim, 3)
    gid = _group(scim, members=[a, b])["id"]
    body = {"schemas": [PATCH], "Operations": [
        {"op": "remove", "path": f'members[value eq "{a}"]'},
        {"op": "add", "path": "members", "value": [{"value": c, "display": "member2@example.com"}]},
    ]}
    assert scim.patch(f"/Groups/{gid}", body).status_code == 204
    assert _members(app, gid) == {b, c}


def test_push_now_replace_of_members_overwrites_and_an_empty_list_empties_the_group(app: Any, scim: Scim) -> None:
    a, b, c = _users(scim, 3)
    gid = _group(scim, members=[a])["id"]
    replace = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members",
                                                   "value": [{"value": b}, {"value": c}]}]}
    assert scim.patch(f"/Groups/{gid}", replace).status_code == 204
    assert _members(app, gid) == {b, c}
    empty = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": []}]}
    assert scim.patch(f"/Groups/{gid}", empty).status_code == 204
    assert _members(app, gid) == set()


def test_entra_member_removal_with_a_value_list_removes_exactly_those_members(app: Any, scim: Scim) -> None:
    a, b, c = _users(scim, 3)
    gid = _group(scim, members=[a, b, c])["id"]
    body = {"schemas": [PATCH], "Operations": [
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": a}, {"$ref": None, "value": c}]}]}
    assert scim.patch(f"/Groups/{gid}", body).status_code == 204
    assert _members(app, gid) == {b}


def test_an_unknown_member_id_is_invalid_value_naming_it_and_nothing_changes(app: Any, scim: Scim) -> None:
    a, b = _users(scim, 2)
    gid = _group(scim, members=[a])["id"]
    body = {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"displayName": "Should not stick"}},
        {"op": "add", "path": "members", "value": [{"value": b}, {"value": "424242"}]}]}
    r = scim.patch(f"/Groups/{gid}", body)
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    assert "424242" in r.get_json()["detail"]
    assert _members(app, gid) == {a}
    assert scim.get(f"/Groups/{gid}").get_json()["displayName"] == "Test SCIMv2"


def test_a_failing_last_operation_rolls_back_the_whole_patch(app: Any, scim: Scim) -> None:
    a, b = _users(scim, 2)
    gid = _group(scim, members=[a])["id"]
    body = {"schemas": [PATCH], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": b}]},
        {"op": "replace", "value": {"displayName": "Renamed"}},
        {"op": "replace", "path": 'members[value eq "999"].display', "value": "x"}]}
    r = scim.patch(f"/Groups/{gid}", body)
    assert r.status_code == 400
    assert _members(app, gid) == {a}
    assert scim.get(f"/Groups/{gid}").get_json()["displayName"] == "Test SCIMv2"


def test_put_replaces_membership_and_ignores_display(app: Any, scim: Scim) -> None:
    a, b, c = _users(scim, 3)
    gid = _group(scim, members=[a, b])["id"]
    r = scim.put(f"/Groups/{gid}", {"schemas": [GROUP], "id": gid, "displayName": "Test SCIMv2",
                                    "members": [{"value": c, "display": "whatever"}]})
    assert r.status_code == 200
    assert _members(app, gid) == {c}
    assert r.get_json()["members"] == [{"value": c, "$ref": f"http://localhost/scim/v2/Users/{c}", "type": "User"}]


def test_member_display_is_computed_and_returned_only_on_request(scim: Scim) -> None:
    (a,) = _users(scim, 1)
    gid = _group(scim, members=[a])["id"]
    assert "display" not in scim.get(f"/Groups/{gid}").get_json()["members"][0]
    asked = scim.get(f"/Groups/{gid}?attributes=members.value,members.display").get_json()
    assert asked["members"] == [{"value": a, "display": "member0@example.com"}]


def test_excluded_attributes_members_omits_members(scim: Scim) -> None:
    (a,) = _users(scim, 1)
    gid = _group(scim, members=[a])["id"]
    one = scim.get(f"/Groups/{gid}?excludedAttributes=members").get_json()
    assert "members" not in one and one["displayName"] == "Test SCIMv2"
    listed = scim.get("/Groups?excludedAttributes=members").get_json()["Resources"]
    assert all("members" not in g for g in listed)


def test_members_filter_finds_groups_by_member_as_entra_checks_membership(scim: Scim) -> None:
    a, b = _users(scim, 2)
    gid = _group(scim, members=[a])["id"]
    _group(scim, "Other", members=[b])
    for f in (f'members[value eq "{a}"]', f'members.value eq "{a}"', f'id eq "{gid}" and members.value eq "{a}"'):
        assert [g["id"] for g in scim.get(f"/Groups?filter={f}").get_json()["Resources"]] == [gid], f


def test_users_show_their_groups_read_only(scim: Scim) -> None:
    (a,) = _users(scim, 1)
    gid = _group(scim, members=[a])["id"]
    user = scim.get(f"/Users/{a}").get_json()
    assert [g["value"] for g in user["groups"]] == [gid]
    # Okta's AIW PUT carries groups: []: ignored, memberships are managed through /Groups (interop.md O4).
    r = scim.put(f"/Users/{a}", {**user, "groups": []})
    assert r.status_code == 200 and [g["value"] for g in r.get_json()["groups"]] == [gid]


def test_delete_group_is_204_then_404(app: Any, scim: Scim) -> None:
    (a,) = _users(scim, 1)
    gid = _group(scim, members=[a])["id"]
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert scim.get(f"/Groups/{gid}").status_code == 404
    assert _members(app, gid) == set()


def test_membership_signal_carries_added_and_removed_after_commit(app: Any, scim: Scim) -> None:
    a, b = _users(scim, 2)
    gid = _group(scim, members=[a])["id"]
    seen: list[dict[str, Any]] = []

    def record(sender: Any, **kw: Any) -> None:
        seen.append(kw)

    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": [{"value": b}]}]}
    with signals.group_members_changed.connected_to(record, app):
        scim.patch(f"/Groups/{gid}", body)
    assert len(seen) == 1 and seen[0]["added"] == [b] and seen[0]["removed"] == [a]


def test_a_users_version_changes_with_its_groups(app: Any, scim: Scim) -> None:
    """RFC 7644 §3.14: a 304 must never hide a changed representation; a user's ``groups`` is part of it."""
    (a,) = _users(scim, 1)
    first = scim.get(f"/Users/{a}").headers["ETag"]
    gid = _group(scim, members=[a])["id"]
    joined = scim.get(f"/Users/{a}", headers={"If-None-Match": first})
    assert joined.status_code == 200 and [g["value"] for g in joined.get_json()["groups"]] == [gid]
    second = joined.headers["ETag"]
    assert second != first
    rename = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"displayName": "Renamed"}}]}
    assert scim.patch(f"/Groups/{gid}", rename).status_code == 204
    renamed = scim.get(f"/Users/{a}", headers={"If-None-Match": second})
    assert renamed.status_code == 200 and renamed.get_json()["groups"][0]["display"] == "Renamed"
    assert scim.get(f"/Users/{a}", headers={"If-None-Match": renamed.headers["ETag"]}).status_code == 304


def test_a_users_version_does_not_depend_on_the_host_the_request_names(app: Any, scim: Scim) -> None:
    (a,) = _users(scim, 1)
    _group(scim, members=[a])
    here = scim.get(f"/Users/{a}")
    there = scim.get(f"/Users/{a}", headers={"Host": "tenant.example.com"})
    assert here.get_json()["groups"][0]["$ref"] != there.get_json()["groups"][0]["$ref"]
    assert here.headers["ETag"] == there.headers["ETag"]
