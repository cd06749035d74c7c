"""Users: the semantics real clients rely on (interop.md §1.4, §2.2) and the error contract."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from example_app.models import User, db
from flask_scim_entitlements import signals

from .conftest import Scim, new_user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def test_user_name_is_unique_case_insensitively_with_409_uniqueness(scim: Scim) -> None:
    new_user(scim, "Case.Sensitive@Example.com")
    r = scim.post("/Users", {"schemas": [USER], "userName": "case.sensitive@example.COM"})
    assert r.status_code == 409
    body = r.get_json()
    assert body["scimType"] == "uniqueness" and body["status"] == "409"


def test_password_is_write_only_hashed_by_the_host_and_never_returned(app: Any, scim: Scim) -> None:
    user = new_user(scim, password="1mz050nq")
    assert "password" not in user
    assert "password" not in scim.get(f"/Users/{user['id']}").get_json()
    with app.app_context():
        row = db.session.get(User, int(user["id"]))
        assert row.password_hash and "1mz050nq" not in row.password_hash and row.check_password("1mz050nq")
    assert scim.get(f"/Users/{user['id']}?attributes=password").get_json().get("password") is None


def test_okta_create_body_with_groups_and_external_id_is_accepted_and_groups_ignored(scim: Scim) -> None:
    body = {"schemas": [USER], "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": True}
    r = scim.post("/Users", body)
    assert r.status_code == 201
    created = r.get_json()
    assert created["externalId"] == "00ujl29u0le5T6Aj10h7" and "groups" not in created
    assert "locale" not in created  # not stored by the example app, so not returned
    assert r.headers["Location"] == created["meta"]["location"]
    found = scim.get('/Users?filter=externalId eq "00ujl29u0le5T6Aj10h7"').get_json()
    assert [u["id"] for u in found["Resources"]] == [created["id"]]


def test_deactivated_user_stays_readable_and_reactivates_with_the_same_id(scim: Scim) -> None:
    user = new_user(scim)
    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{user['id']}", off).get_json()["active"] is False
    assert scim.get(f"/Users/{user['id']}").get_json()["active"] is False
    found = scim.get(f'/Users?filter=userName eq "{user["userName"]}"').get_json()["Resources"]
    assert [u["id"] for u in found] == [user["id"]]
    on = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": True}}]}
    assert scim.patch(f"/Users/{user['id']}", on).get_json()["active"] is True


def test_okta_aiw_deactivation_by_put_then_reactivation(scim: Scim) -> None:
    user = new_user(scim)
    r = scim.put(f"/Users/{user['id']}", {**user, "active": False})
    assert r.status_code == 200 and r.get_json()["active"] is False
    r = scim.put(f"/Users/{user['id']}", {**user, "active": True})
    assert r.get_json()["active"] is True and r.get_json()["id"] == user["id"]


def test_put_is_a_full_replace_that_clears_omitted_optional_attributes(scim: Scim) -> None:
    user = new_user(scim, displayName="Babs", externalId="ext-1")
    body = {"schemas": [USER], "id": "ignored", "meta": {"resourceType": "User"}, "userName": user["userName"],
            "name": {"givenName": "Another", "familyName": "User"}, "active": True}
    r = scim.put(f"/Users/{user['id']}", body)
    assert r.status_code == 200
    updated = r.get_json()
    assert updated["id"] == user["id"]
    assert updated["name"] == {"givenName": "Another", "familyName": "User"}
    assert "displayName" not in updated and "externalId" not in updated and "emails" not in updated


def test_deactivation_and_update_signals_are_sent_after_commit(app: Any, scim: Scim) -> None:
    user = new_user(scim)
    seen: list[tuple[str, dict[str, Any]]] = []

    def on(name: str) -> Any:
        def record(sender: Any, **kw: Any) -> None:
            with app.app_context():
                # The change is visible to a fresh session: the signal came after the commit.
                seen.append((name, {"active": db.session.get(User, int(kw["id"])).active, **kw}))
        return record

    off = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]}
    with signals.user_deactivated.connected_to(on("deactivated"), app), \
            signals.user_updated.connected_to(on("updated"), app):
        scim.patch(f"/Users/{user['id']}", off)
    assert [name for name, _ in seen] == ["updated", "deactivated"]
    assert all(kw["active"] is False and kw["id"] == user["id"] for _, kw in seen)
    assert seen[0][1]["attributes"] == ["active"]


def test_delete_user_is_204_and_then_404(scim: Scim) -> None:
    user = new_user(scim)
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    assert scim.get(f"/Users/{user['id']}").status_code == 404


def test_meta_has_resource_type_created_last_modified_absolute_location_and_version(scim: Scim) -> None:
    meta = new_user(scim)["meta"]
    assert meta["resourceType"] == "User"
    assert meta["created"].endswith("Z") and meta["lastModified"].endswith("Z")
    assert meta["location"].startswith("http://localhost/scim/v2/Users/")
    assert meta["version"].startswith('W/"')


def test_meta_version_changes_on_every_write_and_if_match_guards_updates(scim: Scim) -> None:
    user = new_user(scim)
    v1 = user["meta"]["version"]
    r = scim.put(f"/Users/{user['id']}", {**user, "displayName": "v2"}, headers={"If-Match": v1})
    assert r.status_code == 200
    v2 = r.get_json()["meta"]["version"]
    assert v2 != v1 and r.headers["ETag"] == v2
    stale = scim.put(f"/Users/{user['id']}", {**user, "displayName": "v3"}, headers={"If-Match": v1})
    assert stale.status_code == 412
    assert scim.get(f"/Users/{user['id']}").get_json()["displayName"] == "v2"
    assert scim.get(f"/Users/{user['id']}", headers={"If-None-Match": v2}).status_code == 304


def test_pagination_follows_rfc_7644_clamping_with_integer_counters(app: Any, scim: Scim) -> None:
    for i in range(5):
        new_user(scim, f"page{i}@example.com")
    total = scim.get("/Users").get_json()["totalResults"]
    assert total == 7
    zero = scim.get("/Users?count=0").get_json()
    assert zero["totalResults"] == 7 and zero["itemsPerPage"] == 0 and zero["Resources"] == []
    negative = scim.get("/Users?count=-5&startIndex=-3").get_json()
    assert negative["itemsPerPage"] == 0 and negative["startIndex"] == 1
    beyond = scim.get("/Users?startIndex=99").get_json()
    assert beyond["totalResults"] == 7 and beyond["Resources"] == [] and beyond["startIndex"] == 99
    pages = [scim.get(f"/Users?startIndex={s}&count=2").get_json() for s in (1, 3, 5, 7)]
    ids = [u["id"] for p in pages for u in p["Resources"]]
    assert len(ids) == len(set(ids)) == 7  # a stable order: no overlap, no gap
    assert [p["itemsPerPage"] for p in pages] == [2, 2, 2, 1]
    assert scim.get("/Users?count=abc").status_code == 400


def test_count_above_the_maximum_is_clamped(app: Any, scim: Scim) -> None:
    assert app.extensions["scim_entitlements"].config.max_page_size == 1000
    body = scim.get("/Users?count=100000").get_json()
    assert body["itemsPerPage"] == body["totalResults"]


def test_attributes_and_excluded_attributes_shape_the_response(scim: Scim) -> None:
    uid = new_user(scim)["id"]
    only = scim.get(f"/Users/{uid}?attributes=userName,name.givenName").get_json()
    assert set(only) == {"schemas", "id", "userName", "name"} and only["name"] == {"givenName": "Barbara"}
    without = scim.get(f"/Users/{uid}?excludedAttributes=emails,meta").get_json()
    assert "emails" not in without and "meta" not in without and without["id"] == uid


def test_invalid_json_is_400_invalid_syntax(scim: Scim) -> None:
    r = scim.client.post("/scim/v2/Users", data="{not json", headers=scim.headers(
        {"Content-Type": "application/scim+json"}))
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidSyntax"


def test_a_body_that_is_not_an_object_is_400_invalid_syntax(scim: Scim) -> None:
    r = scim.post("/Users", ["not", "an", "object"])
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidSyntax"


def test_missing_user_name_is_400_invalid_value(scim: Scim) -> None:
    r = scim.post("/Users", {"schemas": [USER], "name": {"givenName": "No"}})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    assert "userName" in r.get_json()["detail"]


def test_a_wrong_type_is_400_invalid_value(scim: Scim) -> None:
    r = scim.post("/Users", {"schemas": [USER], "userName": "x@example.com", "active": "maybe"})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"


def test_unsupported_content_type_is_a_scim_error(scim: Scim) -> None:
    r = scim.post("/Users", {"userName": "x"}, content_type="text/plain")
    assert r.status_code == 415 and r.get_json()["status"] == "415"


def test_an_oversized_body_is_413(app: Any, scim: Scim) -> None:
    big = {"schemas": [USER], "userName": "big@example.com", "displayName": "x" * (17 * 1024 * 1024)}
    r = scim.post("/Users", big)
    assert r.status_code == 413 and r.get_json()["status"] == "413"


def test_an_unexpected_exception_is_a_generic_500_without_internals(app: Any, scim: Scim) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def explode(*_a: Any, **_k: Any) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    original = User.set_password
    User.set_password = explode  # type: ignore[method-assign]
    try:
        mapping = app.extensions["scim_entitlements"].registry.user.mapping
        target = next(t for (s, n, sub), t in mapping.targets.items() if n == "password")
        object.__setattr__(target, "set", explode)
        r = scim.post("/Users", {"schemas": [USER], "userName": "boom@example.com", "password": "x"})
    finally:
        User.set_password = original  # type: ignore[method-assign]
        object.__setattr__(target, "set", original)
    assert r.status_code == 500
    body = r.get_json()
    assert body["status"] == "500" and "secret" not in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(User).filter_by(user_name="boom@example.com")) is None


def test_scim_json_with_charset_and_plain_json_are_both_accepted(scim: Scim) -> None:
    for i, ctype in enumerate(["application/scim+json", "application/scim+json; charset=utf-8",
                               "application/json", "application/json; charset=UTF-8"]):
        r = scim.post("/Users", {"schemas": [USER], "userName": f"ct{i}@example.com"}, content_type=ctype)
        assert r.status_code == 201, ctype
        assert r.content_type == "application/scim+json"


def test_unimplemented_endpoints_answer_501(scim: Scim) -> None:
    assert scim.post("/Bulk", {}).status_code == 501
    assert scim.get("/Me").status_code == 501
    assert scim.post("/.search", {}).status_code == 501


def test_ids_that_are_not_canonical_integers_are_404_not_500(scim: Scim) -> None:
    for odd in ("¹", "０1", "012", "1.0", "-0", "99999999999999999999", "%00"):
        r = scim.get(f"/Users/{odd}")
        assert r.status_code == 404, odd
        assert r.get_json()["status"] == "404"
