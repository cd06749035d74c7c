"""Mass assignment: what the server computes, a client cannot set.

``id``, ``meta`` (created, lastModified, version, location, resourceType) and a user's ``groups`` are
readOnly (RFC 7643 §3.1, §4.1.2): POST and PUT ignore them, PATCH ignores an unchanged echo and refuses a
change with 400 ``mutability`` (or ignores it); in every case the stored resource, and every other
resource, is unchanged.  And ``externalId`` is the client's own identifier: whatever its value (even
another user's internal id), GET/PUT/PATCH/DELETE address resources by the URL id only, and member/role
``value`` s are internal ids, never externalIds.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..conftest import Scim, new_user
from .conftest import GROUP_URN, PATCH_URN, USER_URN, assert_scim_error, snapshot

OLD = "2001-01-01T00:00:00Z"
FORGED_META = {"created": OLD, "lastModified": OLD, "version": 'W/"forged"', "resourceType": "Group",
               "location": "https://evil.example/Users/1"}


def _group(scim: Scim, name: str, members: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    response = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": name,
                                     "members": [{"value": m} for m in members or []], **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _patch(scim: Scim, path: str, *operations: dict[str, Any], **kw: Any) -> Any:
    return scim.patch(path, {"schemas": [PATCH_URN], "Operations": list(operations)}, **kw)


def _assert_meta_is_servers(doc: dict[str, Any], kind: str, ident: str) -> None:
    meta = doc["meta"]
    assert meta["resourceType"] == kind
    assert meta.get("created") != OLD and meta.get("lastModified") != OLD, meta
    assert meta["version"] != 'W/"forged"', meta
    assert meta["location"].endswith(f"/{kind}s/{ident}") and "evil.example" not in meta["location"], meta


def _rejected_or_ignored(response: Any) -> None:
    """A write of a readOnly attribute is either ignored (2xx) or a 400 mutability SCIM error."""
    if response.status_code >= 400:
        assert response.status_code == 400, (response.status_code, response.get_json())
        body = assert_scim_error(response.status_code, response.get_data())
        assert body.get("scimType") in ("mutability", "invalidPath", "invalidValue"), body
    else:
        assert response.status_code in (200, 204), (response.status_code, response.get_json())


# --- POST ----------------------------------------------------------------------------------------

def test_post_user_ignores_client_supplied_id_meta_and_groups(app: Any, scim: Scim) -> None:
    victim = new_user(scim, "victim@gridco.example")
    group = _group(scim, "Admins")
    forged_id = str(int(victim["id"]) + 1000)
    created = new_user(scim, "mallory@gridco.example", id=victim["id"], meta=FORGED_META,
                       groups=[{"value": group["id"], "type": "direct"}])
    assert created["id"] not in (victim["id"], forged_id)
    _assert_meta_is_servers(created, "User", created["id"])
    assert not created.get("groups"), created
    assert scim.get(f"/Groups/{group['id']}").get_json().get("members") is None
    # The victim is untouched.
    again = scim.get(f"/Users/{victim['id']}").get_json()
    assert again["userName"] == "victim@gridco.example" and again["meta"] == victim["meta"]


def test_post_group_ignores_client_supplied_id_and_meta(app: Any, scim: Scim) -> None:
    existing = _group(scim, "Existing")
    created = _group(scim, "Mallory's", id=existing["id"], meta=FORGED_META)
    assert created["id"] != existing["id"]
    _assert_meta_is_servers(created, "Group", created["id"])
    assert scim.get(f"/Groups/{existing['id']}").get_json()["displayName"] == "Existing"


def test_post_user_with_urn_qualified_read_only_attributes_ignores_them(app: Any, scim: Scim) -> None:
    victim = new_user(scim, "victim@gridco.example")
    group = _group(scim, "Admins")
    created = new_user(scim, "mallory@gridco.example", **{f"{USER_URN}:id": victim["id"],
                                                         f"{USER_URN}:groups": [{"value": group["id"]}],
                                                         "ID": victim["id"], "Meta": FORGED_META})
    assert created["id"] != victim["id"]
    _assert_meta_is_servers(created, "User", created["id"])
    assert scim.get(f"/Groups/{group['id']}").get_json().get("members") is None


# --- PUT -----------------------------------------------------------------------------------------

def test_put_ignores_id_meta_and_groups_in_the_body_and_changes_only_the_url_resource(app: Any,
                                                                                      scim: Scim) -> None:
    victim = new_user(scim, "victim@gridco.example")
    target = new_user(scim, "target@gridco.example")
    group = _group(scim, "Admins")
    before_victim = scim.get(f"/Users/{victim['id']}").get_json()
    response = scim.put(f"/Users/{target['id']}", {
        "schemas": [USER_URN], "id": victim["id"], "meta": FORGED_META, "userName": "target@gridco.example",
        "displayName": "Renamed", "groups": [{"value": group["id"]}]})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["id"] == target["id"] and body["displayName"] == "Renamed"
    _assert_meta_is_servers(body, "User", target["id"])
    assert not body.get("groups"), body
    assert scim.get(f"/Groups/{group['id']}").get_json().get("members") is None
    assert scim.get(f"/Users/{victim['id']}").get_json() == before_victim


def test_put_group_ignores_id_and_meta_in_the_body(app: Any, scim: Scim) -> None:
    other = _group(scim, "Other")
    target = _group(scim, "Target")
    response = scim.put(f"/Groups/{target['id']}", {"schemas": [GROUP_URN], "id": other["id"], "meta": FORGED_META,
                                                    "displayName": "Target 2"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["id"] == target["id"]
    _assert_meta_is_servers(response.get_json(), "Group", target["id"])
    assert scim.get(f"/Groups/{other['id']}").get_json()["displayName"] == "Other"


# --- PATCH ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "id", "value": "<victim>"},
    {"op": "add", "path": "id", "value": "<victim>"},
    {"op": "remove", "path": "id"},
    {"op": "replace", "path": "meta", "value": FORGED_META},
    {"op": "replace", "path": "meta.created", "value": OLD},
    {"op": "replace", "path": "meta.lastModified", "value": OLD},
    {"op": "replace", "path": "meta.version", "value": 'W/"forged"'},
    {"op": "remove", "path": "meta"},
    {"op": "add", "path": "groups", "value": [{"value": "<group>"}]},
    {"op": "replace", "path": "groups", "value": [{"value": "<group>"}]},
    {"op": "add", "path": f"{USER_URN}:groups", "value": [{"value": "<group>"}]},
    {"op": "replace", "path": f"{USER_URN}:id", "value": "<victim>"},
    {"op": "replace", "value": {"id": "<victim>", "meta": FORGED_META, "groups": [{"value": "<group>"}]}},
    {"op": "Add", "value": {"groups": [{"value": "<group>"}]}},
    {"op": "replace", "value": {f"{USER_URN}:groups": [{"value": "<group>"}], "ID": "<victim>"}},
], ids=lambda op: f"{op['op']}-{op.get('path', 'no-path')}")
def test_patch_user_cannot_set_read_only_attributes(app: Any, scim: Scim, operation: dict[str, Any]) -> None:
    victim = new_user(scim, "victim@gridco.example")
    target = new_user(scim, "target@gridco.example")
    group = _group(scim, "Admins")

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return {"<victim>": victim["id"], "<group>": group["id"]}.get(value, value)
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    before = snapshot(app)
    before_target = scim.get(f"/Users/{target['id']}").get_json()
    response = _patch(scim, f"/Users/{target['id']}", fill(operation))
    _rejected_or_ignored(response)
    after_target = scim.get(f"/Users/{target['id']}").get_json()
    assert after_target["id"] == target["id"]
    assert after_target["meta"] == before_target["meta"], "readOnly meta changed (or a no-op bumped the version)"
    assert not after_target.get("groups")
    assert snapshot(app) == before


@pytest.mark.parametrize("operation", [
    {"op": "replace", "path": "id", "value": "<other>"},
    {"op": "replace", "path": "meta.created", "value": OLD},
    {"op": "replace", "value": {"id": "<other>", "meta": FORGED_META}},
    {"op": "replace", "path": "members[value eq \"<user>\"].$ref", "value": "https://evil.example/Users/1"},
], ids=lambda op: f"{op['op']}-{op.get('path', 'no-path')}")
def test_patch_group_cannot_set_read_only_attributes(app: Any, scim: Scim, operation: dict[str, Any]) -> None:
    user = new_user(scim, "member@gridco.example")
    other = _group(scim, "Other")
    target = _group(scim, "Target", [user["id"]])

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("<other>", other["id"]).replace("<user>", user["id"])
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    before = snapshot(app)
    before_target = scim.get(f"/Groups/{target['id']}").get_json()
    response = _patch(scim, f"/Groups/{target['id']}", fill(operation))
    _rejected_or_ignored(response)
    after = scim.get(f"/Groups/{target['id']}").get_json()
    assert after["id"] == target["id"] and after["meta"] == before_target["meta"]
    assert all("evil.example" not in m.get("$ref", "") for m in after.get("members", []))
    assert snapshot(app) == before


def test_patch_echoing_the_current_id_is_accepted_and_changes_nothing(app: Any, scim: Scim) -> None:
    """Okta echoes the group's own id in a path-less replace (interop.md §1.5): not an error, not a write."""
    group = _group(scim, "Echo")
    response = _patch(scim, f"/Groups/{group['id']}",
                      {"op": "replace", "value": {"id": group["id"], "displayName": "Echo"}})
    assert response.status_code in (200, 204), response.get_json()
    assert scim.get(f"/Groups/{group['id']}").get_json()["meta"] == group["meta"]


def test_password_is_never_returned(app: Any, scim: Scim) -> None:
    """password is writeOnly / returned never: not on create, get, list, attributes=password or PATCH."""
    user = new_user(scim, "pw@gridco.example", password="S3cret!pw")
    responses = [user, scim.get(f"/Users/{user['id']}").get_json(),
                 scim.get(f"/Users/{user['id']}?attributes=password").get_json(),
                 scim.get("/Users?attributes=password,userName").get_json(),
                 _patch(scim, f"/Users/{user['id']}", {"op": "replace", "path": "password",
                                                       "value": "N3w!pw"}).get_json()]
    for body in responses:
        assert "S3cret" not in str(body) and "N3w!pw" not in str(body) and "password" not in str(body), body


# --- externalId is not an id -------------------------------------------------------------------------

def test_external_id_equal_to_another_users_id_never_addresses_that_user(app: Any, scim: Scim) -> None:
    alice = new_user(scim, "alice@gridco.example")
    bob = new_user(scim, "bob@gridco.example", externalId=alice["id"])
    # externalId is stored as given and reported as given.
    assert bob["externalId"] == alice["id"] and bob["id"] != alice["id"]
    # GET by the URL id: alice is alice.
    assert scim.get(f"/Users/{alice['id']}").get_json()["userName"] == "alice@gridco.example"
    # PUT to bob's URL changes bob only, even with alice's id as externalId in the body.
    alice_before = scim.get(f"/Users/{alice['id']}").get_json()
    put = scim.put(f"/Users/{bob['id']}", {"schemas": [USER_URN], "userName": "bob@gridco.example",
                                           "externalId": alice["id"], "displayName": "Bob via PUT"})
    assert put.status_code == 200 and put.get_json()["id"] == bob["id"], put.get_json()
    # PATCH to bob's URL, setting externalId again and displayName: bob only.
    patch = _patch(scim, f"/Users/{bob['id']}", {"op": "replace", "path": "externalId", "value": alice["id"]},
                   {"op": "replace", "path": "displayName", "value": "Bob via PATCH"})
    assert patch.status_code == 200 and patch.get_json()["id"] == bob["id"], patch.get_json()
    assert scim.get(f"/Users/{alice['id']}").get_json() == alice_before
    # Filters keep the two apart.
    by_id = scim.get("/Users", query_string={"filter": f'id eq "{alice["id"]}"'}).get_json()
    by_ext = scim.get("/Users", query_string={"filter": f'externalId eq "{alice["id"]}"'}).get_json()
    assert [u["userName"] for u in by_id["Resources"]] == ["alice@gridco.example"]
    assert [u["userName"] for u in by_ext["Resources"]] == ["bob@gridco.example"]
    # DELETE of bob leaves alice.
    assert scim.delete(f"/Users/{bob['id']}").status_code == 204
    assert scim.get(f"/Users/{alice['id']}").status_code == 200


def test_an_external_id_is_never_accepted_as_a_member_or_role_value(app: Any, scim: Scim) -> None:
    carol = new_user(scim, "carol@gridco.example", externalId="424242")
    dave = new_user(scim, "dave@gridco.example", externalId="ext-dave")
    group = _group(scim, "Team")
    before = snapshot(app)
    for value in ("424242", "ext-dave"):
        response = _patch(scim, f"/Groups/{group['id']}", {"op": "add", "path": "members",
                                                           "value": [{"value": value}]})
        assert response.status_code == 400, response.get_json()
        assert_scim_error(400, response.get_data())
        created = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": f"G {value}",
                                        "members": [{"value": value}]})
        assert created.status_code == 400, created.get_json()
    assert snapshot(app) == before
    assert scim.get(f"/Users/{carol['id']}").get_json().get("groups") is None
    assert scim.get(f"/Users/{dave['id']}").get_json().get("groups") is None


def test_a_group_external_id_equal_to_another_groups_id_never_addresses_that_group(app: Any, scim: Scim) -> None:
    first = _group(scim, "First")
    second = _group(scim, "Second", externalId=first["id"])
    response = _patch(scim, f"/Groups/{second['id']}", {"op": "replace", "path": "displayName", "value": "Second!"})
    assert response.status_code == 204  # a group PATCH answers 204 (SCIM_PATCH_RESPONSE="auto")
    assert scim.get(f"/Groups/{second['id']}").get_json()["displayName"] == "Second!"
    assert scim.get(f"/Groups/{first['id']}").get_json()["displayName"] == "First"
    put = scim.put(f"/Groups/{second['id']}", {"schemas": [GROUP_URN], "displayName": "Second?",
                                                "externalId": first["id"]})
    assert put.status_code == 200 and put.get_json()["id"] == second["id"]
    assert scim.get(f"/Groups/{first['id']}").get_json()["displayName"] == "First"
