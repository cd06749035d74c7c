"""Okta Identity Governance: /Roles, entitlement endpoints, and grants on users (interop.md §1.3, §1.6, §2.3)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
import sqlalchemy as sa

from example_app.models import Characteristic, Role, User, db, user_characteristics, user_roles
from flask_scim_entitlements import signals

from .conftest import Scim, new_user
from .okta_steps import entitlements_test_count_one, okta_entitlement_steps

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def _ids(app, model) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with app.app_context():
        return {row.name: str(row.id) for row in db.session.scalars(sa.select(model))}


def _grants(app, user_id: str) -> tuple[set[str], set[str]]:  # type: ignore[no-untyped-def]
    with app.app_context():
        roles = set(db.session.scalars(sa.select(Role.name).join(user_roles).where(
            user_roles.c.user_id == int(user_id))))
        chars = set(db.session.scalars(sa.select(Characteristic.name).join(user_characteristics).where(
            user_characteristics.c.user_id == int(user_id))))
        return roles, chars


@pytest.mark.parametrize("endpoint", ["/Roles", "/Characteristics"])
def test_okta_entitlements_test_count_one_gives_items_per_page_one(scim: Scim, endpoint: str) -> None:
    # Discovered from /ResourceTypes as Okta does (interop.md §2.3).
    entitlements_test_count_one(scim, endpoint)


def test_okta_discovery_grant_replace_and_revoke_steps_pass(scim: Scim) -> None:
    okta_entitlement_steps(scim)


def test_roles_list_total_results_is_the_total_not_the_page_length(scim: Scim) -> None:
    body = scim.get("/Roles?count=2").get_json()
    assert body["totalResults"] == 3 and body["itemsPerPage"] == 2
    second = scim.get("/Roles?count=2&startIndex=3").get_json()
    assert second["itemsPerPage"] == 1
    names = [r["displayName"] for r in body["Resources"] + second["Resources"]]
    assert sorted(names) == ["Manager", "Todo Auditor", "Todo-er"]
    for role in body["Resources"]:
        assert role["schemas"] == ["urn:okta:scim:schemas:core:1.0:Role"]
        assert isinstance(role["id"], str) and role["description"]


def test_entitlement_values_carry_type_equal_to_the_resource_type_name_and_their_extension(scim: Scim) -> None:
    body = scim.get("/Characteristics").get_json()
    (value,) = body["Resources"]
    assert value["type"] == "Characteristic" and value["displayName"] == "is_tall"
    ext = "urn:bestapps:scim:schemas:extension:todoapp:1.0:Characteristic"
    assert value["schemas"] == ["urn:okta:scim:schemas:core:1.0:Entitlement", ext]
    assert value[ext] == {"category": "physical"}
    one = scim.get(f"/Characteristics/{value['id']}").get_json()
    assert one["displayName"] == "is_tall"


def test_value_endpoints_filter_on_display_name_and_id(scim: Scim) -> None:
    body = scim.get('/Roles?filter=displayName eq "manager"').get_json()
    assert [r["displayName"] for r in body["Resources"]] == ["Manager"]
    rid = body["Resources"][0]["id"]
    assert scim.get(f'/Roles?filter=id eq "{rid}"').get_json()["totalResults"] == 1


def test_value_endpoints_are_read_only_unless_the_host_enables_writes(scim: Scim) -> None:
    r = scim.post("/Roles", {"schemas": ["urn:okta:scim:schemas:core:1.0:Role"], "displayName": "X"})
    assert r.status_code == 501 and r.get_json()["status"] == "501"


def test_grant_roles_and_entitlements_on_post_with_display_filled_in(app, scim: Scim) -> None:  # type: ignore[no-untyped-def]
    roles, chars = _ids(app, Role), _ids(app, Characteristic)
    user = new_user(scim, roles=[{"value": roles["Manager"], "display": "Wrong name"}],
                    entitlements=[{"value": chars["is_tall"], "type": "Characteristic"}])
    # display is the value's displayName, whatever the client sent (interop.md §1.6).
    assert user["roles"] == [{"value": roles["Manager"], "display": "Manager"}]
    assert user["entitlements"] == [{"value": chars["is_tall"], "display": "is_tall", "type": "Characteristic"}]
    assert _grants(app, user["id"]) == ({"Manager"}, {"is_tall"})


def test_put_arrays_are_authoritative_and_an_omitted_array_clears_that_set(app, scim: Scim) -> None:  # type: ignore[no-untyped-def]
    roles, chars = _ids(app, Role), _ids(app, Characteristic)
    user = new_user(scim, roles=[{"value": roles["Manager"]}], entitlements=[{"value": chars["is_tall"]}])
    body = {k: v for k, v in user.items() if k not in ("roles", "entitlements")}
    body["roles"] = [{"value": roles["Todo-er"]}, {"value": roles["Todo Auditor"]}]
    r = scim.put(f"/Users/{user['id']}", body)
    assert r.status_code == 200
    assert _grants(app, user["id"]) == ({"Todo-er", "Todo Auditor"}, set())


def test_an_unknown_role_value_is_invalid_value_and_nothing_changes(app, scim: Scim) -> None:  # type: ignore[no-untyped-def]
    roles = _ids(app, Role)
    user = new_user(scim, roles=[{"value": roles["Manager"]}])
    body = {**user, "roles": [{"value": roles["Todo-er"]}, {"value": "999999"}], "displayName": "Changed"}
    r = scim.put(f"/Users/{user['id']}", body)
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    assert "999999" in r.get_json()["detail"]
    assert _grants(app, user["id"]) == ({"Manager"}, set())
    assert scim.get(f"/Users/{user['id']}").get_json().get("displayName") != "Changed"


def test_patch_grants_and_revokes_in_each_form(app, scim: Scim) -> None:  # type: ignore[no-untyped-def]
    roles, chars = _ids(app, Role), _ids(app, Characteristic)
    user = new_user(scim)
    uid = user["id"]
    ops = [
        {"op": "add", "path": "roles", "value": [{"value": roles["Manager"], "display": "Manager"}]},
        {"op": "add", "path": "entitlements", "value": [{"value": chars["is_tall"], "type": "Characteristic"}]},
    ]
    assert scim.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": ops}).status_code == 200
    assert _grants(app, uid) == ({"Manager"}, {"is_tall"})
    ops = [{"op": "remove", "path": f'roles[value eq "{roles["Manager"]}"]'},
           {"op": "Add", "value": {"roles": [{"value": roles["Todo-er"]}]}}]
    assert scim.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": ops}).status_code == 200
    assert _grants(app, uid) == ({"Todo-er"}, {"is_tall"})
    ops = [{"op": "remove", "path": 'entitlements[type eq "Characteristic"]'},
           {"op": "replace", "path": "roles", "value": [{"value": roles["Todo Auditor"]}]}]
    assert scim.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": ops}).status_code == 200
    assert _grants(app, uid) == ({"Todo Auditor"}, set())
    ops = [{"op": "replace", "value": {"entitlements": [{"value": chars["is_tall"]}]}}]
    assert scim.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": ops}).status_code == 200
    assert _grants(app, uid) == ({"Todo Auditor"}, {"is_tall"})


def test_grant_signals_carry_what_was_granted_and_revoked(app, scim: Scim) -> None:  # type: ignore[no-untyped-def]
    roles = _ids(app, Role)
    user = new_user(scim, roles=[{"value": roles["Manager"]}])
    seen = []

    def record(sender, **kw):  # type: ignore[no-untyped-def]
        seen.append(kw)

    with signals.user_grants_changed.connected_to(record, app):
        scim.put(f"/Users/{user['id']}", {**user, "roles": [{"value": roles["Todo-er"]}]})
    assert seen == [{"tenant": seen[0]["tenant"], "id": user["id"], "granted": {"roles": [roles["Todo-er"]]},
                     "revoked": {"roles": [roles["Manager"]]}}]


def test_roles_are_returned_in_lists_so_okta_import_seeds_grants(app, scim: Scim) -> None:  # type: ignore[no-untyped-def]
    roles = _ids(app, Role)
    with app.app_context():
        trinity = db.session.scalar(sa.select(User).filter_by(user_name="trinity@gridco.example"))
        tid = str(trinity.id)
    listed = scim.get("/Users?count=100").get_json()["Resources"]
    trinity_doc = next(u for u in listed if u["id"] == tid)
    assert trinity_doc["roles"] == [{"value": roles["Todo-er"], "display": "Todo-er"}]


def _deleted_role(app: Any) -> str:
    """A role the app created and then deleted, as Okta still holds grants of it."""
    with app.app_context():
        role = Role(name="Retired", code="retired", description="gone")
        db.session.add(role)
        db.session.commit()
        role_id = str(role.id)
        db.session.delete(role)
        db.session.commit()
    return role_id


def test_a_grant_of_a_deleted_role_is_rejected_by_default_and_changes_nothing(app: Any, scim: Scim) -> None:
    retired = _deleted_role(app)
    user = new_user(scim, "grants.reject@example.com")
    r = scim.put(f"/Users/{user['id']}", {**user, "displayName": "Changed", "roles": [{"value": retired}]})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue" and retired in r.get_json()["detail"]
    assert scim.get(f"/Users/{user['id']}").get_json().get("displayName") != "Changed"


def test_with_unknown_grants_dropped_a_put_naming_a_deleted_role_applies_the_rest_logs_and_signals(
        app: Any, scim: Scim, caplog: pytest.LogCaptureFixture) -> None:
    app.extensions["scim_entitlements"].config = dataclasses.replace(
        app.extensions["scim_entitlements"].config, unknown_grants="drop")
    retired = _deleted_role(app)
    roles = {r["displayName"]: r["id"] for r in scim.get("/Roles").get_json()["Resources"]}
    user = new_user(scim, "grants.drop@example.com")
    dropped: list[Any] = []
    with signals.user_grants_dropped.connected_to(lambda sender, **kw: dropped.append(kw["dropped"]), app), \
            caplog.at_level(logging.WARNING, logger="flask_scim_entitlements.store"):
        r = scim.put(f"/Users/{user['id']}", {**user, "displayName": "Changed",
                                               "roles": [{"value": retired}, {"value": roles["Manager"]}]})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["displayName"] == "Changed"
    assert [x["value"] for x in r.get_json()["roles"]] == [roles["Manager"]]
    assert dropped == [{"roles": [retired]}]
    assert any(retired in rec.getMessage() for rec in caplog.records if rec.name == "flask_scim_entitlements.store")
