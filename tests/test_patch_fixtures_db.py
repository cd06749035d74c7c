"""Every body in ``tests/fixtures/patch/`` replayed over HTTP against a real database, on SQLite and PostgreSQL.

``tests/unit/test_patch_engine.py`` and ``test_normalize.py`` replay these fixtures (interop.md §1.4-1.6 and the
quirk rows E1-E11, E17, O1, O3 of §6) against the pure PATCH engine.  Here each one goes through the Flask test
client to the real views, store and database, and the test asserts what is *stored* afterwards: read back through
the host's models, and through ``GET`` of the resource.

Two hosts:

- the example Todo app (``tests/conftest.py``) for users, emails, groups, roles and the ``Characteristic``
  entitlement type;
- a small host defined below (tables ``fx_*``) that maps what the Todo app does not keep: ``nickName``, ``title``,
  ``addresses``, the enterprise extension (``employeeNumber``, ``department``, ``manager``), and roles and
  ``License`` / ``Profile`` entitlements whose ids are the strings the fixtures use (``role-1``, ``lic-basic``...),
  so that the OIG and Entra app-role fixtures apply verbatim there.

Fixtures carry placeholder ids.  Each test creates the resources a fixture refers to and substitutes the
placeholders with their real ids (:func:`body`, a replacement over the JSON text of ``"placeholder"`` and
``\\"placeholder\\"`` inside filters and JSON strings).  :data:`SUBSTITUTIONS` documents, per fixture, which
resource each placeholder stands for.  :data:`COVERAGE` lists the tests of each fixture; a test checks that every
fixture file is in it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from example_app.models import Characteristic, Group, Role, User
from example_app.models import db as todo_db
from flask_scim_entitlements import (
    EntitlementType,
    MultiValued,
    RoleType,
    ScimEntitlements,
    UserMapping,
)

from .conftest import Scim, hosted, issue_token, new_user

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "patch"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

#: Per fixture: placeholder in the file -> the resource the test creates for it (its real id replaces it).
SUBSTITUTIONS: dict[str, dict[str, str]] = {
    "okta_group_rename.json": {"abf4dd94-…": "the group being renamed"},
    "okta_group_membership.json": {
        "89bb1940-b905-4575-9e7f-6f887cfb368e": "member leaving the group",
        "23a35c27-…": "user joining the group",
    },
    "okta_group_membership_mixed.json": {
        "89bb1940-b905-4575-9e7f-6f887cfb368e": "member leaving the group",
        "23a35c27-23d3-4c03-b4c5-6443c09e7173": "user joining (test.user@okta.local)",
        "6d2a0f1e-5b7c-4c1d-9e8f-0a1b2c3d4e5f": "second user of the full push (other.user@okta.local)",
    },
    "okta_group_push_now.json": {"…": "the one user pushed (both elided members are the same placeholder)"},
    "entra_remove_members_value_list.json": {"u1": "the member Entra removes"},
    "entra_add_members_null_ref.json": {"u1": "the user Entra adds"},
    "okta_replace_user.json": {"23a35c27-23d3-4c03-b4c5-6443c09e7173": "the user being replaced"},
    # Todo app only (the fx host has these ids verbatim): its roles and Characteristic entitlements.
    "okta_oig_roles_entitlements.json": {
        "role-1": "Todo-er role", "role-2": "Todo Auditor role",
        "lic-pro": "characteristic is_fast", "lic-basic": "characteristic is_tall", "License": "Characteristic",
    },
    "okta_oig_pathless_add_roles.json": {"role-1": "Todo-er role"},
    "okta_oig_pathless_replace_entitlements.json": {"lic-basic": "characteristic is_tall",
                                                    "License": "Characteristic"},
    "okta_oig_user_with_roles_entitlements.json": {
        "2819c223-7f76-453a-919d-413861904646": "the user (PUT only; POST ignores the id)",
        "role-1": "Todo-er role", "lic-basic": "characteristic is_tall", "profile-123": "characteristic is_fast",
        "License": "Characteristic", "Profile": "Characteristic",
    },
    "entra_roles_json_string.json": {"Admin": "Manager role (an Entra app role whose value is the role id)"},
    "entra_single_app_role_primary.json": {"Admin": "Manager role"},
    "entra_assertive_replace_roles.json": {"Reader": "Todo Auditor role"},
    # fx host: the enterprise manager.
    "entra_manager_array.json": {"id": "the manager"},
    "entra_manager_bare_id.json": {"271": "the manager"},
    "entra_manager_remove_filter.json": {"id": "the manager"},
}

#: Fixture -> the tests that replay it (checked against the fixture directory and this module).
COVERAGE: dict[str, list[str]] = {
    "buildbuddy_8811_add_for_replace.json": ["test_add_on_an_existing_display_name_replaces_it_in_the_database"],
    "entra_add_members_null_ref.json": ["test_entra_member_addition_with_null_ref_adds_the_member_in_the_database"],
    "entra_add_work_email_filtered_path.json": [
        "test_entra_filtered_email_path_creates_the_work_email_row_when_absent",
        "test_entra_filtered_email_path_updates_the_work_email_row_in_place_when_present",
    ],
    "entra_assertive_replace_roles.json": [
        "test_entra_app_role_fixture_naming_an_unknown_app_role_is_invalid_value_and_changes_nothing",
        "test_entra_assertive_app_role_assignment_replaces_all_stored_roles",
        "test_entra_app_role_fixtures_apply_verbatim_where_the_app_roles_exist",
    ],
    "entra_capitalised_ops.json": [
        "test_entra_capitalised_ops_are_applied_and_stored",
        "test_a_failing_last_operation_after_the_capitalised_ops_persists_nothing",
    ],
    "entra_create_group_nonstandard_schema.json": [
        "test_entra_group_create_with_a_non_standard_schema_uri_stores_the_group"],
    "entra_create_user_explicit_nulls.json": ["test_entra_create_with_explicit_nulls_stores_them_as_absent"],
    "entra_create_user_extension_missing_from_schemas.json": [
        "test_entra_create_with_extension_attributes_missing_from_schemas_stores_them"],
    "entra_custom_extension_attribute_patch.json": [
        "test_entra_undeclared_custom_extension_attribute_is_dropped_and_the_declared_one_stored"],
    "entra_manager_array.json": ["test_entra_manager_forms_store_the_manager"],
    "entra_manager_bare_id.json": ["test_entra_manager_forms_store_the_manager"],
    "entra_manager_remove_filter.json": [
        "test_entra_manager_removal_by_filter_clears_the_stored_manager",
        "test_entra_manager_removal_by_a_filter_naming_someone_else_keeps_the_stored_manager",
    ],
    "entra_pathless_dotted_and_urn_keys.json": [
        "test_entra_pathless_dotted_and_urn_keys_land_on_their_columns"],
    "entra_remove_members_value_list.json": [
        "test_entra_member_removal_with_value_list_removes_only_those_members_in_the_database"],
    "entra_roles_json_string.json": [
        "test_entra_app_role_fixture_naming_an_unknown_app_role_is_invalid_value_and_changes_nothing",
        "test_entra_app_role_json_string_adds_the_role_in_the_database",
        "test_entra_app_role_fixtures_apply_verbatim_where_the_app_roles_exist",
    ],
    "entra_single_app_role_primary.json": [
        "test_entra_app_role_fixture_naming_an_unknown_app_role_is_invalid_value_and_changes_nothing",
        "test_entra_single_app_role_assignment_grants_the_role_in_the_database",
        "test_entra_app_role_fixtures_apply_verbatim_where_the_app_roles_exist",
    ],
    "entra_string_boolean_active.json": ["test_okta_and_entra_activation_fixtures_store_active"],
    "entra_validator_empty_operations.json": [
        "test_entra_empty_operations_change_nothing_in_the_database_user",
        "test_entra_empty_operations_change_nothing_in_the_database_group",
    ],
    "entra_work_address_several_ops.json": ["test_entra_several_filtered_address_ops_land_in_one_stored_row"],
    "okta_create_user.json": ["test_okta_create_user_stores_the_user_and_a_hashed_password"],
    "okta_deactivate_user.json": ["test_okta_and_entra_activation_fixtures_store_active"],
    "okta_group_membership.json": [
        "test_okta_membership_patch_removes_the_filtered_member_and_adds_the_new_one_in_the_database"],
    "okta_group_membership_mixed.json": [
        "test_okta_mixed_membership_operations_apply_in_order_in_the_database",
        "test_a_failing_last_membership_operation_persists_none_of_the_earlier_ones",
    ],
    "okta_group_push_now.json": ["test_okta_push_now_stores_exactly_the_pushed_members"],
    "okta_group_push_now_empty.json": ["test_okta_push_now_with_an_empty_list_empties_the_stored_group"],
    "okta_group_rename.json": [
        "test_okta_group_rename_ignores_the_echoed_id_and_stores_the_name",
        "test_okta_group_rename_with_the_placeholder_id_is_still_a_rename_okta_o1",
        "test_okta_group_rename_sent_again_writes_nothing",
    ],
    "okta_oig_pathless_add_roles.json": [
        "test_okta_oig_path_less_add_grants_the_role_and_keeps_the_others",
        "test_okta_oig_fixtures_apply_verbatim_on_a_host_with_those_ids",
    ],
    "okta_oig_pathless_replace_entitlements.json": [
        "test_okta_oig_path_less_replace_replaces_the_stored_entitlements",
        "test_okta_oig_fixtures_apply_verbatim_on_a_host_with_those_ids",
    ],
    "okta_oig_roles_entitlements.json": [
        "test_okta_oig_patch_adds_and_removes_roles_and_replaces_entitlements_in_the_database",
        "test_a_failing_last_entitlement_operation_persists_none_of_the_role_changes",
        "test_okta_oig_fixtures_apply_verbatim_on_a_host_with_those_ids",
    ],
    "okta_oig_user_with_roles_entitlements.json": [
        "test_okta_oig_user_post_stores_roles_and_entitlements",
        "test_okta_oig_user_put_replaces_roles_and_entitlements",
        "test_okta_oig_user_with_an_unknown_entitlement_type_is_invalid_value_and_changes_nothing",
        "test_okta_oig_user_post_verbatim_stores_the_enterprise_attributes_roles_and_entitlements",
    ],
    "okta_password_sync.json": ["test_okta_password_sync_stores_a_new_password_hash_and_nothing_else"],
    "okta_reactivate_user.json": ["test_okta_and_entra_activation_fixtures_store_active"],
    "okta_replace_user.json": ["test_okta_put_replaces_the_stored_user_and_keeps_group_memberships_okta_o4"],
    "sourcegraph_48430_dotted_keys.json": ["test_path_less_dotted_keys_set_the_name_columns_sourcegraph_48430"],
}


def raw(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def body(name: str, ids: dict[str, Any] | None = None) -> Any:
    """The fixture with each placeholder replaced by a real id, as a JSON string or inside a filter or JSON string."""
    text = raw(name)
    for placeholder, real in (ids or {}).items():
        text = text.replace(f'"{placeholder}"', f'"{real}"').replace(f'\\"{placeholder}\\"', f'\\"{real}\\"')
    return json.loads(text)


def assert_scim_error(response: Any, status: int, scim_type: str | None) -> None:
    assert response.status_code == status, response.get_json()
    error = response.get_json()
    assert error["schemas"] == [ERROR]
    assert error["status"] == str(status)
    if scim_type is not None:
        assert error.get("scimType") == scim_type, error


def test_every_fixture_file_is_replayed_by_a_test_of_this_module() -> None:
    files = {path.name for path in FIXTURES.glob("*.json")}
    assert files == set(COVERAGE)
    defined = {name for name in globals() if name.startswith("test_")}
    assert {test for tests in COVERAGE.values() for test in tests} <= defined
    assert set(SUBSTITUTIONS) <= files


# == the Todo app ===================================================================================================


def user_state(app: Flask, user_id: str) -> dict[str, Any]:
    """What the Todo app stores for a user (updated_at aside, see :func:`updated_at`)."""
    with app.app_context():
        user = todo_db.session.get(User, int(user_id))
        assert user is not None
        groups = todo_db.session.scalars(sa.select(Group.name).where(Group.members.any(User.id == user.id)))
        return {
            "userName": user.user_name,
            "externalId": user.external_id,
            "givenName": user.first_name,
            "familyName": user.last_name,
            "displayName": user.display_name,
            "active": user.active,
            "password_hash": user.password_hash,
            "emails": [(e.value, e.type, e.display, e.primary) for e in user.emails],
            "roles": sorted(r.code for r in user.roles),
            "characteristics": sorted(c.name for c in user.characteristics),
            "groups": sorted(groups),
        }


def updated_at(app: Flask, model: type, key: str) -> Any:
    with app.app_context():
        return todo_db.session.get(model, int(key)).updated_at


def count_users(app: Flask) -> int:
    with app.app_context():
        return todo_db.session.scalar(sa.select(sa.func.count()).select_from(User))


def group_state(app: Flask, group_id: str) -> dict[str, Any]:
    with app.app_context():
        group = todo_db.session.get(Group, int(group_id))
        assert group is not None
        return {"displayName": group.name, "externalId": group.external_id,
                "members": sorted(str(u.id) for u in group.members)}


def role_id(app: Flask, code: str) -> str:
    with app.app_context():
        return str(todo_db.session.scalar(sa.select(Role.id).where(Role.code == code)))


def characteristic_id(app: Flask, name: str) -> str:
    with app.app_context():
        found = todo_db.session.scalar(sa.select(Characteristic.id).where(Characteristic.name == name))
        if found is None:
            item = Characteristic(name=name, description=name, category="test")
            todo_db.session.add(item)
            todo_db.session.commit()
            found = item.id
        return str(found)


def grant(app: Flask, user_id: str, roles: tuple[str, ...] = (), characteristics: tuple[str, ...] = ()) -> None:
    """Give a user roles (by code) and characteristics (by name) directly in the database."""
    for name in characteristics:
        characteristic_id(app, name)
    with app.app_context():
        user = todo_db.session.get(User, int(user_id))
        user.roles = list(todo_db.session.scalars(sa.select(Role).where(Role.code.in_(roles))))
        user.characteristics = list(todo_db.session.scalars(
            sa.select(Characteristic).where(Characteristic.name.in_(characteristics))))
        todo_db.session.commit()


def users(scim: Scim, *names: str) -> list[str]:
    return [new_user(scim, f"{name}@okta.local")["id"] for name in names]


def new_group(scim: Scim, name: str, member_ids: list[str]) -> str:
    response = scim.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
                                     "members": [{"value": m} for m in member_ids]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def get_members(scim: Scim, group_id: str) -> list[str]:
    response = scim.get(f"/Groups/{group_id}")
    assert response.status_code == 200
    return sorted(m["value"] for m in response.get_json().get("members") or [])


def no_content(response: Any) -> None:
    """A group PATCH answers 204 by default (SCIM_PATCH_RESPONSE="auto"): its body would grow with its members."""
    assert response.status_code == 204, response.get_json()
    assert response.data == b""


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# -- users: create, replace, activation, password ---------------------------------------------------------------


def test_okta_create_user_stores_the_user_and_a_hashed_password(app: Flask, scim: Scim) -> None:
    response = scim.post("/Users", body("okta_create_user.json"))

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    state = user_state(app, created["id"])
    assert state | {"password_hash": None} == {
        "userName": "test.user@okta.local", "externalId": "00ujl29u0le5T6Aj10h7", "givenName": "Test",
        "familyName": "User", "displayName": "Test User", "active": True, "password_hash": None,
        "emails": [("test.user@okta.local", "work", None, True)], "roles": [], "characteristics": [], "groups": [],
    }
    with app.app_context():
        assert todo_db.session.get(User, int(created["id"])).check_password("1mz050nq")
    fetched = ok(scim.get(f"/Users/{created['id']}"))
    assert "password" not in fetched and "groups" not in fetched and "locale" not in fetched
    assert fetched["userName"] == "test.user@okta.local"


def test_okta_put_replaces_the_stored_user_and_keeps_group_memberships_okta_o4(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim, "test.user@okta.local", externalId="00ujl29u0le5T6Aj10h7", displayName="Test User")["id"]
    new_group(scim, "Tour Guides", [user_id])

    fetched = ok(scim.put(f"/Users/{user_id}",
                          body("okta_replace_user.json", {"23a35c27-23d3-4c03-b4c5-6443c09e7173": user_id})))

    # A PUT is a full replace: displayName and externalId, not in the body, are cleared; groups: [] is read-only.
    assert user_state(app, user_id) | {"password_hash": None} == {
        "userName": "test.user@okta.local", "externalId": None, "givenName": "Another", "familyName": "User",
        "displayName": None, "active": True, "password_hash": None,
        "emails": [("test.user@okta.local", "work", "test.user@okta.local", True)],
        "roles": [], "characteristics": [], "groups": ["Tour Guides"],
    }
    assert fetched["name"] == {"givenName": "Another", "familyName": "User"}
    assert [g["display"] for g in ok(scim.get(f"/Users/{user_id}"))["groups"]] == ["Tour Guides"]


@pytest.mark.parametrize(
    ("fixture", "before", "after"),
    [("okta_deactivate_user.json", True, False), ("okta_reactivate_user.json", False, True),
     ("entra_string_boolean_active.json", True, False)],
    ids=["okta-deactivate", "okta-reactivate", "entra-e2-string-false"],
)
def test_okta_and_entra_activation_fixtures_store_active(app: Flask, scim: Scim, fixture: str, before: bool,
                                                          after: bool) -> None:
    user_id = new_user(scim, active=before)["id"]
    grant(app, user_id, roles=("todoer",))
    expected = user_state(app, user_id) | {"active": after}

    response = scim.patch(f"/Users/{user_id}", body(fixture))

    assert ok(response)["active"] is after
    assert user_state(app, user_id) == expected
    assert ok(scim.get(f"/Users/{user_id}"))["active"] is after


def test_okta_password_sync_stores_a_new_password_hash_and_nothing_else(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim, password="old-password")["id"]
    before = user_state(app, user_id)

    response = scim.patch(f"/Users/{user_id}", body("okta_password_sync.json"))

    assert "password" not in ok(response)
    after = user_state(app, user_id)
    assert after["password_hash"] != before["password_hash"]
    assert after | {"password_hash": None} == before | {"password_hash": None}
    with app.app_context():
        stored = todo_db.session.get(User, int(user_id))
        assert stored.check_password("…") and not stored.check_password("old-password")


# -- users: attributes -----------------------------------------------------------------------------------------------


def test_add_on_an_existing_display_name_replaces_it_in_the_database(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim, displayName="Babs")["id"]
    expected = user_state(app, user_id) | {"displayName": "Babs Jensen"}

    assert ok(scim.patch(f"/Users/{user_id}", body("buildbuddy_8811_add_for_replace.json")))["displayName"] == \
        "Babs Jensen"

    assert user_state(app, user_id) == expected
    assert ok(scim.get(f"/Users/{user_id}"))["displayName"] == "Babs Jensen"


def test_path_less_dotted_keys_set_the_name_columns_sourcegraph_48430(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim, name={"givenName": "B", "familyName": "J"}, displayName="Babs")["id"]
    expected = user_state(app, user_id) | {"givenName": "Barbara", "familyName": "Jensen"}

    ok(scim.patch(f"/Users/{user_id}", body("sourcegraph_48430_dotted_keys.json")))

    assert user_state(app, user_id) == expected
    assert ok(scim.get(f"/Users/{user_id}"))["name"] == {"givenName": "Barbara", "familyName": "Jensen"}


def test_entra_filtered_email_path_creates_the_work_email_row_when_absent(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim, emails=[{"value": "bjensen@example.com", "type": "home", "primary": True}])["id"]

    ok(scim.patch(f"/Users/{user_id}", body("entra_add_work_email_filtered_path.json")))

    assert user_state(app, user_id)["emails"] == [("bjensen@example.com", "home", None, True),
                                                  ("a@b", "work", None, False)]
    assert ok(scim.get(f"/Users/{user_id}"))["emails"] == [
        {"value": "bjensen@example.com", "type": "home", "primary": True}, {"value": "a@b", "type": "work",
                                                                            "primary": False}]


def test_entra_filtered_email_path_updates_the_work_email_row_in_place_when_present(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim, emails=[{"value": "old@b", "type": "work", "primary": True}])["id"]

    ok(scim.patch(f"/Users/{user_id}", body("entra_add_work_email_filtered_path.json")))

    assert user_state(app, user_id)["emails"] == [("a@b", "work", None, True)]
    assert ok(scim.get(f"/Users/{user_id}"))["emails"] == [{"value": "a@b", "type": "work", "primary": True}]


def test_entra_empty_operations_change_nothing_in_the_database_user(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim)["id"]
    before, stamp = user_state(app, user_id), updated_at(app, User, user_id)

    ok(scim.patch(f"/Users/{user_id}", body("entra_validator_empty_operations.json")))

    assert user_state(app, user_id) == before
    assert updated_at(app, User, user_id) == stamp


# -- groups ---------------------------------------------------------------------------------------------------------


def test_entra_group_create_with_a_non_standard_schema_uri_stores_the_group(app: Flask, scim: Scim) -> None:
    response = scim.post("/Groups", body("entra_create_group_nonstandard_schema.json"))

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Group"]
    assert group_state(app, created["id"]) == {"displayName": "displayName",
                                               "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "members": []}
    assert ok(scim.get(f"/Groups/{created['id']}"))["displayName"] == "displayName"


def test_okta_group_rename_ignores_the_echoed_id_and_stores_the_name(app: Flask, scim: Scim) -> None:
    members = users(scim, "a", "b")
    group_id = new_group(scim, "Old Name", members)

    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_rename.json", {"abf4dd94-…": group_id})))

    renamed = ok(scim.get(f"/Groups/{group_id}"))
    assert renamed["id"] == group_id and renamed["displayName"] == "Test SCIMv2"
    assert group_state(app, group_id) == {"displayName": "Test SCIMv2", "externalId": None,
                                          "members": sorted(members)}


def test_okta_group_rename_with_the_placeholder_id_is_still_a_rename_okta_o1(app: Flask, scim: Scim) -> None:
    """Verbatim, the echoed id is not the group's: ``id`` in a path-less value is ignored all the same."""
    group_id = new_group(scim, "Old Name", [])

    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_rename.json")))

    assert group_state(app, group_id)["displayName"] == "Test SCIMv2"


def test_okta_group_rename_sent_again_writes_nothing(app: Flask, scim: Scim) -> None:
    group_id = new_group(scim, "Old Name", users(scim, "a"))
    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_rename.json", {"abf4dd94-…": group_id})))
    before, stamp = group_state(app, group_id), updated_at(app, Group, group_id)

    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_rename.json", {"abf4dd94-…": group_id})))

    assert group_state(app, group_id) == before
    assert updated_at(app, Group, group_id) == stamp  # interop.md O2: sent on every membership update


def test_okta_membership_patch_removes_the_filtered_member_and_adds_the_new_one_in_the_database(
        app: Flask, scim: Scim) -> None:
    leaving, staying, joining = users(scim, "leaving", "staying", "test.user")
    group_id = new_group(scim, "Tour Guides", [leaving, staying])
    ids = {"89bb1940-b905-4575-9e7f-6f887cfb368e": leaving, "23a35c27-…": joining}

    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_membership.json", ids)))

    assert group_state(app, group_id)["members"] == sorted([staying, joining])
    assert get_members(scim, group_id) == sorted([staying, joining])


def test_okta_mixed_membership_operations_apply_in_order_in_the_database(app: Flask, scim: Scim) -> None:
    leaving, staying, joining, other = users(scim, "leaving", "staying", "test.user", "other.user")
    group_id = new_group(scim, "Tour Guides", [leaving, staying])
    ids = {"89bb1940-b905-4575-9e7f-6f887cfb368e": leaving, "23a35c27-23d3-4c03-b4c5-6443c09e7173": joining,
           "6d2a0f1e-5b7c-4c1d-9e8f-0a1b2c3d4e5f": other}

    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_membership_mixed.json", ids)))

    assert group_state(app, group_id)["members"] == sorted([joining, other])
    assert get_members(scim, group_id) == sorted([joining, other])


def test_a_failing_last_membership_operation_persists_none_of_the_earlier_ones(app: Flask, scim: Scim) -> None:
    """The full push names a user that does not exist: 400, and the remove and add before it are not stored."""
    leaving, staying, joining = users(scim, "leaving", "staying", "test.user")
    group_id = new_group(scim, "Tour Guides", [leaving, staying])
    before, stamp = group_state(app, group_id), updated_at(app, Group, group_id)
    ids = {"89bb1940-b905-4575-9e7f-6f887cfb368e": leaving, "23a35c27-23d3-4c03-b4c5-6443c09e7173": joining}

    response = scim.patch(f"/Groups/{group_id}", body("okta_group_membership_mixed.json", ids))

    assert_scim_error(response, 400, "invalidValue")
    assert "6d2a0f1e-5b7c-4c1d-9e8f-0a1b2c3d4e5f" in response.get_json()["detail"]
    assert group_state(app, group_id) == before
    assert updated_at(app, Group, group_id) == stamp
    assert get_members(scim, group_id) == sorted([leaving, staying])


def test_okta_push_now_stores_exactly_the_pushed_members(app: Flask, scim: Scim) -> None:
    old, pushed = users(scim, "old", "pushed")
    group_id = new_group(scim, "Tour Guides", [old])

    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_push_now.json", {"…": pushed})))

    assert group_state(app, group_id)["members"] == [pushed]
    assert get_members(scim, group_id) == [pushed]


def test_okta_push_now_with_an_empty_list_empties_the_stored_group(app: Flask, scim: Scim) -> None:
    group_id = new_group(scim, "Tour Guides", users(scim, "a", "b"))

    no_content(scim.patch(f"/Groups/{group_id}", body("okta_group_push_now_empty.json")))

    assert group_state(app, group_id) == {"displayName": "Tour Guides", "externalId": None, "members": []}
    assert get_members(scim, group_id) == []


def test_entra_member_removal_with_value_list_removes_only_those_members_in_the_database(
        app: Flask, scim: Scim) -> None:
    u1, u2, u3 = users(scim, "u1", "u2", "u3")
    group_id = new_group(scim, "Tour Guides", [u1, u2, u3])

    no_content(scim.patch(f"/Groups/{group_id}", body("entra_remove_members_value_list.json", {"u1": u1})))

    assert group_state(app, group_id)["members"] == sorted([u2, u3])
    assert get_members(scim, group_id) == sorted([u2, u3])


def test_entra_member_addition_with_null_ref_adds_the_member_in_the_database(app: Flask, scim: Scim) -> None:
    u1, u2 = users(scim, "u1", "u2")
    group_id = new_group(scim, "Tour Guides", [u2])

    no_content(scim.patch(f"/Groups/{group_id}", body("entra_add_members_null_ref.json", {"u1": u1})))

    assert group_state(app, group_id)["members"] == sorted([u1, u2])
    assert get_members(scim, group_id) == sorted([u1, u2])


def test_entra_empty_operations_change_nothing_in_the_database_group(app: Flask, scim: Scim) -> None:
    group_id = new_group(scim, "Tour Guides", users(scim, "a"))
    before, stamp = group_state(app, group_id), updated_at(app, Group, group_id)

    no_content(scim.patch(f"/Groups/{group_id}", body("entra_validator_empty_operations.json")))

    assert group_state(app, group_id) == before
    assert updated_at(app, Group, group_id) == stamp


# -- roles and entitlements (Okta OIG, Entra app roles) ---------------------------------------------------------------


def oig_ids(app: Flask) -> dict[str, str]:
    """The Todo app's stand-ins for the OIG fixture ids (see SUBSTITUTIONS)."""
    return {"role-1": role_id(app, "todoer"), "role-2": role_id(app, "auditor"),
            "lic-basic": characteristic_id(app, "is_tall"), "lic-pro": characteristic_id(app, "is_fast"),
            "profile-123": characteristic_id(app, "is_fast"), "License": "Characteristic",
            "Profile": "Characteristic"}


def test_okta_oig_patch_adds_and_removes_roles_and_replaces_entitlements_in_the_database(
        app: Flask, scim: Scim) -> None:
    user_id = new_user(scim)["id"]
    grant(app, user_id, roles=("auditor",), characteristics=("is_fast",))
    expected = user_state(app, user_id) | {"roles": ["todoer"], "characteristics": ["is_tall"]}

    ok(scim.patch(f"/Users/{user_id}", body("okta_oig_roles_entitlements.json", oig_ids(app))))

    assert user_state(app, user_id) == expected
    fetched = ok(scim.get(f"/Users/{user_id}"))
    assert fetched["roles"] == [{"value": role_id(app, "todoer"), "display": "Todo-er"}]
    assert fetched["entitlements"] == [{"value": characteristic_id(app, "is_tall"), "display": "is_tall",
                                        "type": "Characteristic"}]


def test_a_failing_last_entitlement_operation_persists_none_of_the_role_changes(app: Flask, scim: Scim) -> None:
    """The last operation grants ``lic-basic``, which is no entitlement of the app: 400, and the roles stay."""
    user_id = new_user(scim)["id"]
    grant(app, user_id, roles=("auditor",), characteristics=("is_fast",))
    before, stamp = user_state(app, user_id), updated_at(app, User, user_id)
    ids = oig_ids(app)
    del ids["lic-basic"]

    response = scim.patch(f"/Users/{user_id}", body("okta_oig_roles_entitlements.json", ids))

    assert_scim_error(response, 400, "invalidValue")
    assert "lic-basic" in response.get_json()["detail"]
    assert user_state(app, user_id) == before
    assert updated_at(app, User, user_id) == stamp


def test_okta_oig_path_less_add_grants_the_role_and_keeps_the_others(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim)["id"]
    grant(app, user_id, roles=("auditor",))

    ok(scim.patch(f"/Users/{user_id}", body("okta_oig_pathless_add_roles.json", oig_ids(app))))

    assert user_state(app, user_id)["roles"] == ["auditor", "todoer"]
    assert {r["value"] for r in ok(scim.get(f"/Users/{user_id}"))["roles"]} == {role_id(app, "auditor"),
                                                                              role_id(app, "todoer")}


def test_okta_oig_path_less_replace_replaces_the_stored_entitlements(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim)["id"]
    grant(app, user_id, roles=("auditor",), characteristics=("is_fast",))

    ok(scim.patch(f"/Users/{user_id}", body("okta_oig_pathless_replace_entitlements.json", oig_ids(app))))

    state = user_state(app, user_id)
    assert state["characteristics"] == ["is_tall"] and state["roles"] == ["auditor"]
    assert [e["value"] for e in ok(scim.get(f"/Users/{user_id}"))["entitlements"]] == [
        characteristic_id(app, "is_tall")]


def test_okta_oig_user_post_stores_roles_and_entitlements(app: Flask, scim: Scim) -> None:
    response = scim.post("/Users", body("okta_oig_user_with_roles_entitlements.json", oig_ids(app)))

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["id"] != "2819c223-7f76-453a-919d-413861904646"  # the id is the server's
    assert user_state(app, created["id"]) | {"password_hash": None} == {
        "userName": "bjensen@example.com", "externalId": "00ujl29u0le5T6Aj10h7", "givenName": "Barbara",
        "familyName": "Jensen", "displayName": "Babs Jensen", "active": True, "password_hash": None,
        "emails": [("bjensen@example.com", "work", None, True)], "roles": ["todoer"],
        "characteristics": ["is_fast", "is_tall"], "groups": [],  # groups is read-only: e9e30dba-… is ignored
    }
    fetched = ok(scim.get(f"/Users/{created['id']}"))
    assert [r["value"] for r in fetched["roles"]] == [role_id(app, "todoer")]
    assert sorted(e["value"] for e in fetched["entitlements"]) == sorted(
        [characteristic_id(app, "is_tall"), characteristic_id(app, "is_fast")])


def test_okta_oig_user_put_replaces_roles_and_entitlements(app: Flask, scim: Scim) -> None:
    """interop.md §1.6: a grant arrives as a PUT of the whole user with the complete roles/entitlements arrays."""
    user_id = new_user(scim, "bjensen@example.com")["id"]
    grant(app, user_id, roles=("auditor", "manager"), characteristics=("is_short",))
    ids = oig_ids(app) | {"2819c223-7f76-453a-919d-413861904646": user_id}

    ok(scim.put(f"/Users/{user_id}", body("okta_oig_user_with_roles_entitlements.json", ids)))

    state = user_state(app, user_id)
    assert (state["roles"], state["characteristics"]) == (["todoer"], ["is_fast", "is_tall"])
    assert (state["givenName"], state["displayName"]) == ("Barbara", "Babs Jensen")


@pytest.mark.parametrize("method", ["post", "put"])
def test_okta_oig_user_with_an_unknown_entitlement_type_is_invalid_value_and_changes_nothing(
        app: Flask, scim: Scim, method: str) -> None:
    """Verbatim, the body grants ``License`` and ``Profile`` entitlements, types the Todo app does not have."""
    user_id = new_user(scim, "bjensen@example.com", name={"givenName": "B", "familyName": "J"})["id"]
    grant(app, user_id, roles=("auditor",))
    before, stamp = user_state(app, user_id), updated_at(app, User, user_id)
    ids = {"2819c223-7f76-453a-919d-413861904646": user_id, "role-1": role_id(app, "todoer")}

    if method == "post":
        users_before = count_users(app)
        response = scim.post("/Users", body("okta_oig_user_with_roles_entitlements.json", ids) | {
            "userName": "someone.else@example.com"})
        assert_scim_error(response, 400, "invalidValue")
        assert count_users(app) == users_before
    else:
        response = scim.put(f"/Users/{user_id}", body("okta_oig_user_with_roles_entitlements.json", ids))
        assert_scim_error(response, 400, "invalidValue")
    assert "License" in response.get_json()["detail"] or "Profile" in response.get_json()["detail"]
    assert user_state(app, user_id) == before  # the name written before the grants failed is not stored either
    assert updated_at(app, User, user_id) == stamp


@pytest.mark.parametrize("fixture", ["entra_roles_json_string.json", "entra_single_app_role_primary.json",
                                     "entra_assertive_replace_roles.json"])
def test_entra_app_role_fixture_naming_an_unknown_app_role_is_invalid_value_and_changes_nothing(
        app: Flask, scim: Scim, fixture: str) -> None:
    """Verbatim, the app role values ``Admin`` / ``Reader`` are no role id of the Todo app (interop.md §1.6)."""
    user_id = new_user(scim)["id"]
    grant(app, user_id, roles=("todoer",))
    before, stamp = user_state(app, user_id), updated_at(app, User, user_id)

    response = scim.patch(f"/Users/{user_id}", body(fixture))

    assert_scim_error(response, 400, "invalidValue")
    assert "Admin" in response.get_json()["detail"] or "Reader" in response.get_json()["detail"]
    assert user_state(app, user_id) == before
    assert updated_at(app, User, user_id) == stamp


def test_entra_app_role_json_string_adds_the_role_in_the_database(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim)["id"]
    grant(app, user_id, roles=("todoer",))

    ok(scim.patch(f"/Users/{user_id}", body("entra_roles_json_string.json", {"Admin": role_id(app, "manager")})))

    assert user_state(app, user_id)["roles"] == ["manager", "todoer"]


def test_entra_single_app_role_assignment_grants_the_role_in_the_database(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim)["id"]

    ok(scim.patch(f"/Users/{user_id}", body("entra_single_app_role_primary.json",
                                            {"Admin": role_id(app, "manager")})))

    assert user_state(app, user_id)["roles"] == ["manager"]
    assert [r["value"] for r in ok(scim.get(f"/Users/{user_id}"))["roles"]] == [role_id(app, "manager")]


def test_entra_assertive_app_role_assignment_replaces_all_stored_roles(app: Flask, scim: Scim) -> None:
    user_id = new_user(scim)["id"]
    grant(app, user_id, roles=("todoer", "manager"))

    ok(scim.patch(f"/Users/{user_id}", body("entra_assertive_replace_roles.json",
                                            {"Reader": role_id(app, "auditor")})))

    assert user_state(app, user_id)["roles"] == ["auditor"]


# == a host that maps the enterprise extension, addresses, and string role/entitlement ids ==========================


class FxBase(DeclarativeBase):
    pass


fx_db = SQLAlchemy(model_class=FxBase)

fx_person_roles = sa.Table(
    "fx_person_roles", fx_db.metadata,
    sa.Column("person_id", sa.ForeignKey("fx_people.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.ForeignKey("fx_roles.id", ondelete="CASCADE"), primary_key=True),
)
fx_person_licenses = sa.Table(
    "fx_person_licenses", fx_db.metadata,
    sa.Column("person_id", sa.ForeignKey("fx_people.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("license_id", sa.ForeignKey("fx_licenses.id", ondelete="CASCADE"), primary_key=True),
)
fx_person_profiles = sa.Table(
    "fx_person_profiles", fx_db.metadata,
    sa.Column("person_id", sa.ForeignKey("fx_people.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("profile_id", sa.ForeignKey("fx_profiles.id", ondelete="CASCADE"), primary_key=True),
)


class FxRole(fx_db.Model):
    __tablename__ = "fx_roles"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class FxLicense(fx_db.Model):
    __tablename__ = "fx_licenses"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class FxProfile(fx_db.Model):
    __tablename__ = "fx_profiles"
    id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class Person(fx_db.Model):
    __tablename__ = "fx_people"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.String(255), unique=True)
    external_id: Mapped[str | None] = mapped_column(sa.String(255))
    given_name: Mapped[str | None] = mapped_column(sa.String(255))
    family_name: Mapped[str | None] = mapped_column(sa.String(255))
    display_name: Mapped[str | None] = mapped_column(sa.String(255))
    nick_name: Mapped[str | None] = mapped_column(sa.String(255))
    title: Mapped[str | None] = mapped_column(sa.String(255))
    active: Mapped[bool | None]
    employee_number: Mapped[str | None] = mapped_column(sa.String(64))
    department: Mapped[str | None] = mapped_column(sa.String(255))
    manager_id: Mapped[int | None] = mapped_column(sa.ForeignKey("fx_people.id"))
    emails: Mapped[list[PersonEmail]] = relationship(cascade="all, delete-orphan", order_by="PersonEmail.id")
    addresses: Mapped[list[PersonAddress]] = relationship(cascade="all, delete-orphan", order_by="PersonAddress.id")
    roles: Mapped[list[FxRole]] = relationship(secondary=fx_person_roles)
    licenses: Mapped[list[FxLicense]] = relationship(secondary=fx_person_licenses)
    profiles: Mapped[list[FxProfile]] = relationship(secondary=fx_person_profiles)


class PersonEmail(fx_db.Model):
    __tablename__ = "fx_person_emails"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("fx_people.id", ondelete="CASCADE"))
    value: Mapped[str] = mapped_column(sa.String(255))
    type: Mapped[str | None] = mapped_column(sa.String(20))
    primary: Mapped[bool | None]


class PersonAddress(fx_db.Model):
    __tablename__ = "fx_person_addresses"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("fx_people.id", ondelete="CASCADE"))
    type: Mapped[str | None] = mapped_column(sa.String(20))
    street_address: Mapped[str | None] = mapped_column(sa.String(255))
    locality: Mapped[str | None] = mapped_column(sa.String(255))
    region: Mapped[str | None] = mapped_column(sa.String(255))
    postal_code: Mapped[str | None] = mapped_column(sa.String(20))


fx_scim = ScimEntitlements(
    db=fx_db,
    users=UserMapping(Person, attributes={
        "userName": Person.user_name,
        "externalId": Person.external_id,
        "name.givenName": Person.given_name,
        "name.familyName": Person.family_name,
        "displayName": Person.display_name,
        "nickName": Person.nick_name,
        "title": Person.title,
        "active": Person.active,
        "emails": MultiValued(Person.emails, value=PersonEmail.value, type=PersonEmail.type,
                              primary=PersonEmail.primary),
        "addresses": MultiValued(Person.addresses, type=PersonAddress.type, streetAddress=PersonAddress.street_address,
                                 locality=PersonAddress.locality, region=PersonAddress.region,
                                 postalCode=PersonAddress.postal_code),
        f"{ENTERPRISE}:employeeNumber": Person.employee_number,
        f"{ENTERPRISE}:department": Person.department,
        f"{ENTERPRISE}:manager.value": Person.manager_id,
    }),
    groups=None,
    roles=RoleType(FxRole, attributes={"displayName": FxRole.name}, holders=Person.roles),
    entitlement_types=[
        EntitlementType(FxLicense, name="License", endpoint="/Licenses", attributes={"displayName": FxLicense.name},
                        holders=Person.licenses),
        EntitlementType(FxProfile, name="Profile", endpoint="/Profiles", attributes={"displayName": FxProfile.name},
                        holders=Person.profiles),
    ],
)

FX_ROLES = [("role-1", "First Role"), ("role-2", "Second Role"), ("Admin", "Admin"), ("Reader", "Read only")]
FX_LICENSES = [("lic-basic", "Basic"), ("lic-pro", "Pro")]
FX_PROFILES = [("profile-123", "Profile 123")]


@pytest.fixture
def fx_app(database_url: str) -> Iterator[Flask]:
    with hosted(fx_db, fx_scim, database_url) as app:
        with app.app_context():
            fx_db.session.add_all([FxRole(id=i, name=n) for i, n in FX_ROLES])
            fx_db.session.add_all([FxLicense(id=i, name=n) for i, n in FX_LICENSES])
            fx_db.session.add_all([FxProfile(id=i, name=n) for i, n in FX_PROFILES])
            fx_db.session.commit()
        yield app


@pytest.fixture
def fx(fx_app: Flask) -> Scim:
    return Scim(fx_app.test_client(), issue_token(fx_app, "t"))


def person(fx_app: Flask, user_name: str = "bjensen@example.com", **columns: Any) -> str:
    """A person created directly in the database (``emails`` and ``addresses`` as lists of dicts)."""
    with fx_app.app_context():
        emails = [PersonEmail(**e) for e in columns.pop("emails", [])]
        addresses = [PersonAddress(**a) for a in columns.pop("addresses", [])]
        roles = [fx_db.session.get(FxRole, r) for r in columns.pop("roles", [])]
        licenses = [fx_db.session.get(FxLicense, r) for r in columns.pop("licenses", [])]
        item = Person(user_name=user_name, active=True, emails=emails, addresses=addresses, roles=roles,
                      licenses=licenses, **columns)
        fx_db.session.add(item)
        fx_db.session.commit()
        return str(item.id)


def person_state(fx_app: Flask, person_id: str) -> dict[str, Any]:
    with fx_app.app_context():
        item = fx_db.session.get(Person, int(person_id))
        assert item is not None
        return {
            "userName": item.user_name, "externalId": item.external_id, "givenName": item.given_name,
            "familyName": item.family_name, "displayName": item.display_name, "nickName": item.nick_name,
            "title": item.title, "active": item.active, "employeeNumber": item.employee_number,
            "department": item.department, "manager": None if item.manager_id is None else str(item.manager_id),
            "emails": [(e.value, e.type, e.primary) for e in item.emails],
            "addresses": [(a.type, a.street_address, a.locality, a.region, a.postal_code) for a in item.addresses],
            "roles": sorted(r.id for r in item.roles),
            "licenses": sorted(r.id for r in item.licenses),
            "profiles": sorted(r.id for r in item.profiles),
        }


def count_people(fx_app: Flask) -> int:
    with fx_app.app_context():
        return fx_db.session.scalar(sa.select(sa.func.count()).select_from(Person))


def babs(fx_app: Flask, **columns: Any) -> str:
    return person(fx_app, given_name="Barbara", family_name="Jensen", display_name="Babs", title="Tour Guide",
                  employee_number="701984", **columns)


# -- attributes the Todo app does not keep ---------------------------------------------------------------------------


def test_entra_capitalised_ops_are_applied_and_stored(fx_app: Flask, fx: Scim) -> None:
    person_id = babs(fx_app)
    expected = person_state(fx_app, person_id) | {"displayName": "Babs Jensen", "nickName": "Babs", "title": None}

    fetched = ok(fx.patch(f"/Users/{person_id}", body("entra_capitalised_ops.json")))

    assert person_state(fx_app, person_id) == expected
    assert (fetched["displayName"], fetched["nickName"], "title" in fetched) == ("Babs Jensen", "Babs", False)
    assert ok(fx.get(f"/Users/{person_id}"))["nickName"] == "Babs"


def test_a_failing_last_operation_after_the_capitalised_ops_persists_nothing(fx_app: Flask, fx: Scim) -> None:
    person_id = babs(fx_app)
    before = person_state(fx_app, person_id)
    failing = body("entra_capitalised_ops.json")
    failing["Operations"].append({"op": "Replace", "path": "id", "value": "another-id"})

    response = fx.patch(f"/Users/{person_id}", failing)

    assert_scim_error(response, 400, "mutability")
    assert person_state(fx_app, person_id) == before
    assert ok(fx.get(f"/Users/{person_id}"))["displayName"] == "Babs"


def test_entra_pathless_dotted_and_urn_keys_land_on_their_columns(fx_app: Flask, fx: Scim) -> None:
    person_id = babs(fx_app)
    expected = person_state(fx_app, person_id) | {"displayName": "x", "givenName": "y", "employeeNumber": "z"}

    ok(fx.patch(f"/Users/{person_id}", body("entra_pathless_dotted_and_urn_keys.json")))

    assert person_state(fx_app, person_id) == expected
    fetched = ok(fx.get(f"/Users/{person_id}"))
    assert fetched["name"] == {"givenName": "y", "familyName": "Jensen"}
    assert fetched[ENTERPRISE] == {"employeeNumber": "z"}


def test_entra_undeclared_custom_extension_attribute_is_dropped_and_the_declared_one_stored(
        fx_app: Flask, fx: Scim) -> None:
    person_id = babs(fx_app)
    expected = person_state(fx_app, person_id) | {"department": "Tour Operations"}

    fetched = ok(fx.patch(f"/Users/{person_id}", body("entra_custom_extension_attribute_patch.json")))

    assert person_state(fx_app, person_id) == expected
    assert fetched[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tour Operations"}
    assert not any("CustomExtensionName" in key for key in fetched) and ENTERPRISE in fetched["schemas"]


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], [("work", "1 Main St", "Redmond", "WA", None)]),
        ([{"type": "home", "locality": "Seattle"}],
         [("home", None, "Seattle", None, None), ("work", "1 Main St", "Redmond", "WA", None)]),
        ([{"type": "work", "street_address": "9 Old Rd", "postal_code": "98052"}],
         [("work", "1 Main St", "Redmond", "WA", "98052")]),
    ],
    ids=["no-address", "home-address-only", "work-address-present"],
)
def test_entra_several_filtered_address_ops_land_in_one_stored_row(
        fx_app: Flask, fx: Scim, existing: list[dict[str, Any]], expected: list[tuple[Any, ...]]) -> None:
    person_id = babs(fx_app, addresses=existing)

    ok(fx.patch(f"/Users/{person_id}", body("entra_work_address_several_ops.json")))

    assert person_state(fx_app, person_id)["addresses"] == expected
    work = [a for a in ok(fx.get(f"/Users/{person_id}"))["addresses"] if a.get("type") == "work"]
    assert len(work) == 1 and work[0]["locality"] == "Redmond"


# -- the enterprise manager (E7) ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["entra_manager_array.json", "entra_manager_bare_id.json"])
def test_entra_manager_forms_store_the_manager(fx_app: Flask, fx: Scim, fixture: str) -> None:
    boss = person(fx_app, "boss@example.com")
    person_id = babs(fx_app)
    expected = person_state(fx_app, person_id) | {"manager": boss}

    ok(fx.patch(f"/Users/{person_id}", body(fixture, {"id": boss, "271": boss})))

    assert person_state(fx_app, person_id) == expected
    assert ok(fx.get(f"/Users/{person_id}"))[ENTERPRISE]["manager"]["value"] == boss


def test_entra_manager_removal_by_filter_clears_the_stored_manager(fx_app: Flask, fx: Scim) -> None:
    boss = person(fx_app, "boss@example.com")
    person_id = babs(fx_app, manager_id=int(boss))
    expected = person_state(fx_app, person_id) | {"manager": None}

    ok(fx.patch(f"/Users/{person_id}", body("entra_manager_remove_filter.json", {"id": boss})))

    assert person_state(fx_app, person_id) == expected
    assert "manager" not in ok(fx.get(f"/Users/{person_id}")).get(ENTERPRISE, {})


def test_entra_manager_removal_by_a_filter_naming_someone_else_keeps_the_stored_manager(
        fx_app: Flask, fx: Scim) -> None:
    boss, other = person(fx_app, "boss@example.com"), person(fx_app, "other@example.com")
    person_id = babs(fx_app, manager_id=int(other))
    before = person_state(fx_app, person_id)

    ok(fx.patch(f"/Users/{person_id}", body("entra_manager_remove_filter.json", {"id": boss})))

    assert person_state(fx_app, person_id) == before


# -- creates with Entra's shapes (E9, E11) ----------------------------------------------------------------------------


def test_entra_create_with_explicit_nulls_stores_them_as_absent(fx_app: Flask, fx: Scim) -> None:
    response = fx.post("/Users", body("entra_create_user_explicit_nulls.json"))

    assert response.status_code == 201, response.get_json()
    assert person_state(fx_app, response.get_json()["id"]) == {
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef", "givenName": "Test", "familyName": "User",
        "displayName": "Test User", "nickName": None, "title": None, "active": True, "employeeNumber": None,
        "department": None, "manager": None,
        "emails": [("Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com", "work", True)],
        "addresses": [], "roles": [], "licenses": [], "profiles": [],
    }
    fetched = ok(fx.get(f"/Users/{response.get_json()['id']}"))
    assert "addresses" not in fetched and ENTERPRISE not in fetched and "title" not in fetched


def test_entra_create_with_extension_attributes_missing_from_schemas_stores_them(fx_app: Flask, fx: Scim) -> None:
    response = fx.post("/Users", body("entra_create_user_extension_missing_from_schemas.json"))

    assert response.status_code == 201, response.get_json()
    state = person_state(fx_app, response.get_json()["id"])
    assert (state["userName"], state["department"], state["employeeNumber"]) == (
        "bjensen@example.com", "Tour Operations", "701984")
    fetched = ok(fx.get(f"/Users/{response.get_json()['id']}"))
    assert ENTERPRISE in fetched["schemas"]
    assert fetched[ENTERPRISE] == {"employeeNumber": "701984", "department": "Tour Operations"}


# -- OIG and Entra app roles, verbatim -----------------------------------------------------------------------------


def test_okta_oig_user_post_verbatim_stores_the_enterprise_attributes_roles_and_entitlements(
        fx_app: Flask, fx: Scim) -> None:
    response = fx.post("/Users", body("okta_oig_user_with_roles_entitlements.json"))

    assert response.status_code == 201, response.get_json()
    person_id = response.get_json()["id"]
    assert person_state(fx_app, person_id) == {
        "userName": "bjensen@example.com", "externalId": "00ujl29u0le5T6Aj10h7", "givenName": "Barbara",
        "familyName": "Jensen", "displayName": "Babs Jensen", "nickName": None, "title": None, "active": True,
        "employeeNumber": "701984", "department": "Tour Operations", "manager": None,
        "emails": [("bjensen@example.com", "work", True)], "addresses": [],
        "roles": ["role-1"], "licenses": ["lic-basic"], "profiles": ["profile-123"],
    }
    fetched = ok(fx.get(f"/Users/{person_id}"))
    assert fetched["roles"] == [{"value": "role-1", "display": "First Role"}]
    assert sorted(fetched["entitlements"], key=lambda e: e["value"]) == [
        {"value": "lic-basic", "display": "Basic", "type": "License"},
        {"value": "profile-123", "display": "Profile 123", "type": "Profile"},
    ]


@pytest.mark.parametrize(
    ("fixture", "roles", "licenses"),
    [
        ("okta_oig_roles_entitlements.json", ["role-1"], ["lic-basic"]),
        ("okta_oig_pathless_add_roles.json", ["role-1", "role-2"], ["lic-pro"]),
        ("okta_oig_pathless_replace_entitlements.json", ["role-2"], ["lic-basic"]),
    ],
)
def test_okta_oig_fixtures_apply_verbatim_on_a_host_with_those_ids(
        fx_app: Flask, fx: Scim, fixture: str, roles: list[str], licenses: list[str]) -> None:
    person_id = babs(fx_app, roles=["role-2"], licenses=["lic-pro"])
    expected = person_state(fx_app, person_id) | {"roles": roles, "licenses": licenses}

    ok(fx.patch(f"/Users/{person_id}", body(fixture)))

    assert person_state(fx_app, person_id) == expected
    fetched = ok(fx.get(f"/Users/{person_id}"))
    assert sorted(r["value"] for r in fetched["roles"]) == roles
    assert sorted(e["value"] for e in fetched["entitlements"]) == licenses


@pytest.mark.parametrize(
    ("fixture", "before", "after"),
    [
        ("entra_roles_json_string.json", ["role-2"], ["Admin", "role-2"]),
        ("entra_single_app_role_primary.json", [], ["Admin"]),
        # SingleAppRoleAssignment: the user holds one app role, and the assignment changes it (interop.md E8).
        ("entra_single_app_role_primary.json", ["Reader"], ["Admin"]),
        ("entra_assertive_replace_roles.json", ["Admin", "role-2"], ["Reader"]),
    ],
    ids=["json-string-add", "single-role-first", "single-role-change", "assertive-replace"],
)
def test_entra_app_role_fixtures_apply_verbatim_where_the_app_roles_exist(
        fx_app: Flask, fx: Scim, fixture: str, before: list[str], after: list[str]) -> None:
    person_id = babs(fx_app, roles=before)
    expected = person_state(fx_app, person_id) | {"roles": after}

    ok(fx.patch(f"/Users/{person_id}", body(fixture)))

    assert person_state(fx_app, person_id) == expected
    assert sorted(r["value"] for r in ok(fx.get(f"/Users/{person_id}"))["roles"]) == after
