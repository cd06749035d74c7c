"""The RFC 7644 §3.5.2 PATCH engine (``patch/engine.py``).

The first half replays every PATCH body of interop.md §1.4-1.6 and every PATCH quirk of §6 (fixtures in
``tests/fixtures/patch/``, named after their source; see ``test_normalize.py`` for their provenance)
through ``normalize_patch`` and ``apply_patch`` and checks the resulting document.  The second half drives
the engine directly with RFC-shaped operations, one rule per test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flask_scim_entitlements.errors import (
    InvalidPathError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
    NoTargetError,
)
from flask_scim_entitlements.filters import AttrPath, PatchPath, parse_path
from flask_scim_entitlements.normalize import normalize_patch
from flask_scim_entitlements.patch import PatchResult, apply_patch
from flask_scim_entitlements.schemas.core import ENTERPRISE_USER, ENTERPRISE_USER_URN, GROUP, GROUP_URN, USER, USER_URN
from flask_scim_entitlements.schemas.definitions import ResourceSchema

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "patch"
USERS = ResourceSchema(core=USER, extensions=(ENTERPRISE_USER,))
GROUPS = ResourceSchema(core=GROUP)
ENTERPRISE = ENTERPRISE_USER_URN
LEAVING = "89bb1940-b905-4575-9e7f-6f887cfb368e"


def user() -> dict[str, Any]:
    return {
        "schemas": [USER_URN, ENTERPRISE],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs",
        "title": "Tour Guide",
        "active": True,
        "emails": [{"value": "bjensen@example.com", "type": "home", "primary": True}],
        "groups": [{"value": "e9e30dba", "display": "Tour Guides"}],
        "roles": [{"value": "role-2", "display": "Second Role"}],
        "entitlements": [{"value": "lic-pro", "display": "Pro", "type": "License"}],
        ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "id", "displayName": "The Boss"}},
    }


def group() -> dict[str, Any]:
    return {
        "schemas": [GROUP_URN],
        "id": "abf4dd94-…",
        "displayName": "Old Name",
        "members": [
            {"value": LEAVING, "display": "leaving@okta.local", "type": "User"},
            {"value": "u2", "display": "u2@okta.local", "type": "User"},
        ],
    }


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def patch_with(fixture: str, document: dict[str, Any], schema: ResourceSchema) -> PatchResult:
    return apply_patch(document, normalize_patch(load(fixture), schema), schema)


def op(name: str, path: str | None = None, value: Any = None) -> dict[str, Any]:
    return {"op": name, "path": None if path is None else parse_path(path), "value": value}


def without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: item for key, item in document.items() if key not in keys}


# == interop.md §1.4-1.6 and §6, end to end ======================================================


def test_okta_deactivate_sets_active_false_and_nothing_else() -> None:
    result = patch_with("okta_deactivate_user.json", user(), USERS)

    assert result.document == user() | {"active": False}
    assert result.changed == {"active"}


def test_okta_reactivate_sets_active_true() -> None:
    result = patch_with("okta_reactivate_user.json", user() | {"active": False}, USERS)

    assert result.document == user()
    assert result.changed == {"active"}


def test_okta_password_sync_sets_the_write_only_password() -> None:
    result = patch_with("okta_password_sync.json", user(), USERS)

    assert result.document == user() | {"password": "…"}
    assert result.changed == {"password"}


def test_okta_group_rename_ignores_the_group_id_it_echoes_okta_o1() -> None:
    result = patch_with("okta_group_rename.json", group(), GROUPS)

    assert result.document == group() | {"displayName": "Test SCIMv2"}
    assert result.changed == {"displayName"}


def test_okta_group_rename_sent_again_changes_nothing_okta_o2() -> None:
    renamed = group() | {"displayName": "Test SCIMv2"}

    assert patch_with("okta_group_rename.json", renamed, GROUPS).changed == frozenset()


def test_okta_membership_patch_removes_the_filtered_member_and_adds_the_new_one() -> None:
    result = patch_with("okta_group_membership.json", group(), GROUPS)

    assert result.document["members"] == [
        {"value": "u2", "display": "u2@okta.local", "type": "User"},
        {"value": "23a35c27-…"},  # members.display is readOnly: the server computes it
    ]
    assert result.changed == {"members"}


def test_okta_mixed_membership_operations_apply_in_order_okta_o3() -> None:
    result = patch_with("okta_group_membership_mixed.json", group(), GROUPS)

    assert result.document["members"] == [
        {"value": "23a35c27-23d3-4c03-b4c5-6443c09e7173"},
        {"value": "6d2a0f1e-5b7c-4c1d-9e8f-0a1b2c3d4e5f"},
    ]


def test_okta_push_now_replaces_all_members_once_each() -> None:
    result = patch_with("okta_group_push_now.json", group(), GROUPS)

    assert result.document["members"] == [{"value": "…"}]


def test_okta_push_now_keeps_server_computed_display_of_members_that_stay() -> None:
    body = {"Operations": [{"op": "replace", "path": "members", "value": [{"value": "u2", "display": "stale"}]}]}

    result = apply_patch(group(), normalize_patch(body, GROUPS), GROUPS)

    assert result.document["members"] == [{"value": "u2", "display": "u2@okta.local", "type": "User"}]


def test_okta_push_now_with_an_empty_list_empties_the_group() -> None:
    result = patch_with("okta_group_push_now_empty.json", group(), GROUPS)

    assert result.document == without(group(), "members")
    assert result.changed == {"members"}


def test_okta_oig_patch_adds_and_removes_roles_and_replaces_entitlements() -> None:
    result = patch_with("okta_oig_roles_entitlements.json", user(), USERS)

    # roles[].display and entitlements[].display are readOnly: the server fills them from the item's displayName.
    assert result.document == user() | {
        "roles": [{"value": "role-1"}],
        "entitlements": [{"value": "lic-basic", "type": "License"}],
    }
    assert result.changed == {"roles", "entitlements"}


def test_okta_oig_path_less_add_appends_roles() -> None:
    result = patch_with("okta_oig_pathless_add_roles.json", user(), USERS)

    assert result.document["roles"] == [{"value": "role-2", "display": "Second Role"}, {"value": "role-1"}]


def test_okta_oig_path_less_replace_replaces_entitlements() -> None:
    result = patch_with("okta_oig_pathless_replace_entitlements.json", user(), USERS)

    assert result.document["entitlements"] == [{"value": "lic-basic", "type": "License"}]
    assert result.changed == {"entitlements"}


def test_dotted_keys_set_sub_attributes_and_keep_the_others_sourcegraph_48430() -> None:
    document = user() | {"name": {"givenName": "B", "familyName": "J", "middleName": "Jane"}}

    result = patch_with("sourcegraph_48430_dotted_keys.json", document, USERS)

    assert result.document["name"] == {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"}


def test_add_on_an_existing_singular_attribute_replaces_it_buildbuddy_8811() -> None:
    result = patch_with("buildbuddy_8811_add_for_replace.json", user(), USERS)

    assert result.document == user() | {"displayName": "Babs Jensen"}


def test_capitalised_ops_apply_entra_e1() -> None:
    result = patch_with("entra_capitalised_ops.json", user(), USERS)

    assert result.document == without(user(), "title") | {"displayName": "Babs Jensen", "nickName": "Babs"}
    assert result.changed == {"displayName", "nickName", "title"}


def test_string_false_deactivates_entra_e2() -> None:
    assert patch_with("entra_string_boolean_active.json", user(), USERS).document["active"] is False


def test_member_removal_with_values_removes_only_those_members_entra_e3() -> None:
    document = group() | {"members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]}

    result = patch_with("entra_remove_members_value_list.json", document, GROUPS)

    assert result.document["members"] == [{"value": "u2"}, {"value": "u3"}]


def test_member_addition_with_null_ref_adds_the_member_entra_e4() -> None:
    result = patch_with("entra_add_members_null_ref.json", group(), GROUPS)

    assert result.document["members"] == [*group()["members"], {"value": "u1"}]


def test_path_less_dotted_and_urn_keys_land_on_their_attributes_entra_e5() -> None:
    result = patch_with("entra_pathless_dotted_and_urn_keys.json", user(), USERS)

    assert result.document == user() | {
        "displayName": "x",
        "name": {"givenName": "y", "familyName": "Jensen"},
        ENTERPRISE: {"employeeNumber": "z", "manager": {"value": "id", "displayName": "The Boss"}},
    }
    assert result.changed == {"displayName", "name", ENTERPRISE}


def test_filtered_path_on_an_absent_element_creates_it_with_the_filter_values_entra_e6() -> None:
    result = patch_with("entra_add_work_email_filtered_path.json", user(), USERS)

    assert result.document["emails"] == [
        {"value": "bjensen@example.com", "type": "home", "primary": True},
        {"type": "work", "value": "a@b"},
    ]


def test_filtered_path_on_a_present_element_updates_it_without_duplicating_entra_e6() -> None:
    document = user() | {"emails": [{"value": "old@b", "type": "work"}]}

    result = patch_with("entra_add_work_email_filtered_path.json", document, USERS)

    assert result.document["emails"] == [{"value": "a@b", "type": "work"}]


def test_several_operations_on_one_filter_land_in_one_element_entra_e6() -> None:
    result = patch_with("entra_work_address_several_ops.json", user(), USERS)

    assert result.document["addresses"] == [
        {"type": "work", "streetAddress": "1 Main St", "locality": "Redmond", "region": "WA"},
    ]


def test_manager_sent_as_an_array_on_the_bare_path_sets_the_manager_entra_e7() -> None:
    result = patch_with("entra_manager_array.json", without(user(), ENTERPRISE), USERS)

    assert result.document[ENTERPRISE] == {"manager": {"$ref": "…/Users/id", "value": "id"}}
    assert result.changed == {ENTERPRISE}


def test_manager_sent_as_a_bare_id_sets_the_manager_entra_e7() -> None:
    result = patch_with("entra_manager_bare_id.json", user(), USERS)

    assert result.document[ENTERPRISE] == {"employeeNumber": "701984", "manager": {"value": "271"}}


def test_manager_removed_by_a_filter_on_the_singular_complex_attribute_entra_e7() -> None:
    result = patch_with("entra_manager_remove_filter.json", user(), USERS)

    assert result.document[ENTERPRISE] == {"employeeNumber": "701984"}


def test_manager_removal_by_a_filter_that_does_not_match_keeps_the_manager() -> None:
    document = user()
    document[ENTERPRISE]["manager"] = {"value": "someone-else"}

    assert patch_with("entra_manager_remove_filter.json", document, USERS).changed == frozenset()


def test_extension_object_left_empty_is_removed() -> None:
    document = user() | {ENTERPRISE: {"manager": {"value": "id"}}}

    result = patch_with("entra_manager_remove_filter.json", document, USERS)

    assert ENTERPRISE not in result.document
    assert result.changed == {ENTERPRISE}


def test_app_roles_sent_as_json_strings_are_added_by_value_entra_e8() -> None:
    result = patch_with("entra_roles_json_string.json", user(), USERS)

    assert result.document["roles"] == [{"value": "role-2", "display": "Second Role"}, {"value": "Admin"}]


def test_single_app_role_assignment_creates_the_primary_role_entra_e8() -> None:
    result = patch_with("entra_single_app_role_primary.json", without(user(), "roles"), USERS)

    assert result.document["roles"] == [{"primary": True, "value": "Admin"}]


def test_single_app_role_assignment_replaces_the_primary_role_value_entra_e8() -> None:
    document = user() | {"roles": [{"value": "Reader", "primary": True}, {"value": "role-2"}]}

    result = patch_with("entra_single_app_role_primary.json", document, USERS)

    assert result.document["roles"] == [{"value": "Admin", "primary": True}, {"value": "role-2"}]


def test_assertive_app_role_assignment_replaces_all_roles_entra_e8() -> None:
    result = patch_with("entra_assertive_replace_roles.json", user(), USERS)

    assert result.document["roles"] == [{"value": "Reader", "type": "WindowsAzureActiveDirectoryRole"}]


def test_undeclared_custom_extension_attribute_is_dropped_and_the_declared_one_applied_entra_e9() -> None:
    result = patch_with("entra_custom_extension_attribute_patch.json", user(), USERS)

    assert result.document[ENTERPRISE]["department"] == "Tour Operations"
    assert result.changed == {ENTERPRISE}


def test_empty_operations_change_nothing_entra_e17() -> None:
    result = patch_with("entra_validator_empty_operations.json", user(), USERS)

    assert result == PatchResult(user(), frozenset())


# == the engine, rule by rule ===================================================================

# -- the result ---------------------------------------------------------------------------------


def test_the_input_document_is_never_mutated() -> None:
    document = user()
    operations = [
        op("add", "emails", [{"value": "new@b", "primary": True}]),
        op("replace", "name.givenName", "B"),
        op("remove", f"{ENTERPRISE}:manager"),
        op("replace", 'emails[type eq "home"].display', "Home"),
    ]

    result = apply_patch(document, operations, USERS)

    assert document == user()
    assert result.document is not document
    assert result.document["emails"] is not document["emails"]


def test_changed_lists_core_attribute_names_and_extension_urns() -> None:
    operations = [op("replace", "title", "Chief"), op("replace", f"{ENTERPRISE}:department", "Ops")]

    assert apply_patch(user(), operations, USERS).changed == {"title", ENTERPRISE}


def test_setting_an_attribute_to_its_current_value_changes_nothing() -> None:
    assert apply_patch(user(), [op("replace", "title", "Tour Guide")], USERS).changed == frozenset()


def test_operations_are_applied_in_order() -> None:
    operations = [op("replace", "title", "A"), op("remove", "title"), op("add", "title", "B")]

    assert apply_patch(user(), operations, USERS).document["title"] == "B"


# -- add (RFC 7644 §3.5.2.1) ------------------------------------------------------------------------


def test_add_without_path_merges_complex_attributes_sub_attribute_by_sub_attribute() -> None:
    result = apply_patch(user(), [op("add", None, {"name": {"middleName": "Jane"}})], USERS)

    assert result.document["name"] == {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"}


def test_add_without_path_appends_to_multi_valued_attributes() -> None:
    result = apply_patch(user(), [op("add", None, {"emails": [{"value": "w@b", "type": "work"}]})], USERS)

    assert result.document["emails"] == [*user()["emails"], {"value": "w@b", "type": "work"}]


def test_add_without_path_sets_extension_attributes_under_their_urn() -> None:
    result = apply_patch(without(user(), ENTERPRISE), [op("add", None, {ENTERPRISE: {"department": "Ops"}})], USERS)

    assert result.document[ENTERPRISE] == {"department": "Ops"}


def test_add_to_a_sub_attribute_creates_the_complex_attribute_when_absent() -> None:
    result = apply_patch(without(user(), "name"), [op("add", "name.givenName", "B")], USERS)

    assert result.document["name"] == {"givenName": "B"}


def test_add_of_an_element_with_an_existing_value_merges_it_instead_of_appending() -> None:
    operations = [op("add", "roles", [{"value": "role-2", "primary": True}])]

    result = apply_patch(user(), operations, USERS)

    assert result.document["roles"] == [{"value": "role-2", "display": "Second Role", "primary": True}]


def test_add_compares_values_by_the_value_sub_attribute_case_exactness() -> None:
    operations = [op("add", "emails", [{"value": "BJENSEN@example.com", "display": "B"}])]

    result = apply_patch(user(), operations, USERS)  # emails.value is not caseExact

    assert result.document["emails"] == [
        {"value": "BJENSEN@example.com", "type": "home", "primary": True, "display": "B"},
    ]


def test_add_of_a_case_exact_value_in_another_case_appends_it() -> None:
    result = apply_patch(user(), [op("add", "roles", [{"value": "ROLE-2"}])], USERS)  # roles.value is caseExact

    assert result.document["roles"] == [{"value": "role-2", "display": "Second Role"}, {"value": "ROLE-2"}]


def test_add_of_the_same_value_with_another_type_appends_it() -> None:
    operations = [op("add", "entitlements", [{"value": "lic-pro", "type": "Profile"}])]

    result = apply_patch(user(), operations, USERS)

    assert result.document["entitlements"] == [*user()["entitlements"], {"value": "lic-pro", "type": "Profile"}]


def test_add_of_an_element_without_value_is_not_duplicated() -> None:
    address = {"type": "work", "locality": "Redmond"}
    document = user() | {"addresses": [address]}

    result = apply_patch(document, [op("add", "addresses", [address])], USERS)

    assert result.document["addresses"] == [address]


def test_add_with_a_filter_merges_into_matching_elements() -> None:
    operations = [op("add", 'emails[type eq "home"]', {"display": "Home"})]

    result = apply_patch(user(), operations, USERS)

    assert result.document["emails"] == [
        {"value": "bjensen@example.com", "type": "home", "primary": True, "display": "Home"},
    ]


def test_add_with_an_eq_filter_matching_nothing_creates_the_element() -> None:
    result = apply_patch(user(), [op("add", 'phoneNumbers[type eq "work"]', {"value": "555"})], USERS)

    assert result.document["phoneNumbers"] == [{"type": "work", "value": "555"}]


def test_add_with_a_non_eq_filter_matching_nothing_is_no_target() -> None:
    with pytest.raises(NoTargetError):
        apply_patch(user(), [op("add", 'emails[value co "nowhere"].display', "x")], USERS)


# -- replace (RFC 7644 §3.5.2.3) ---------------------------------------------------------------------


def test_replace_without_path_merges_the_sub_attributes_given_and_keeps_the_others() -> None:
    result = apply_patch(user(), [op("replace", None, {"name": {"givenName": "Babs"}})], USERS)

    assert result.document["name"] == {"givenName": "Babs", "familyName": "Jensen"}


def test_replace_without_path_replaces_multi_valued_attributes() -> None:
    result = apply_patch(user(), [op("replace", None, {"roles": [{"value": "role-9"}]})], USERS)

    assert result.document["roles"] == [{"value": "role-9"}]


def test_replace_of_a_multi_valued_path_replaces_all_values() -> None:
    result = apply_patch(group(), [op("replace", "members", [{"value": "u9"}])], GROUPS)

    assert result.document["members"] == [{"value": "u9"}]


def test_replace_of_a_multi_valued_path_with_an_empty_list_unassigns_it() -> None:
    result = apply_patch(group(), [op("replace", "members", [])], GROUPS)

    assert "members" not in result.document
    assert result.changed == {"members"}


def test_replace_with_a_filter_replaces_the_matching_elements() -> None:
    document = user() | {"emails": [{"value": "a@b", "type": "work", "display": "A"}, {"value": "c@d", "type": "home"}]}

    result = apply_patch(document, [op("replace", 'emails[type eq "work"]', {"value": "z@b", "type": "work"})], USERS)

    assert result.document["emails"] == [{"value": "z@b", "type": "work"}, {"value": "c@d", "type": "home"}]


def test_replace_with_a_filter_and_a_sub_attribute_sets_it_on_each_match() -> None:
    document = user() | {"emails": [{"value": "a@b", "type": "work"}, {"value": "c@d", "type": "work"},
                                    {"value": "e@f", "type": "home"}]}

    result = apply_patch(document, [op("replace", 'emails[type eq "work"].display', "Work")], USERS)

    assert result.document["emails"] == [
        {"value": "a@b", "type": "work", "display": "Work"},
        {"value": "c@d", "type": "work", "display": "Work"},
        {"value": "e@f", "type": "home"},
    ]


def test_replace_with_a_filter_matching_nothing_is_no_target() -> None:
    with pytest.raises(NoTargetError, match="emails"):
        apply_patch(user(), [op("replace", 'emails[type eq "work"]', {"value": "w@b"})], USERS)


def test_replace_of_a_sub_attribute_with_an_eq_filter_matching_nothing_creates_the_element() -> None:
    result = apply_patch(user(), [op("replace", 'emails[type eq "work"].value', "w@b")], USERS)

    assert result.document["emails"] == [*user()["emails"], {"type": "work", "value": "w@b"}]


def test_replace_of_a_sub_attribute_with_a_non_eq_filter_matching_nothing_is_no_target() -> None:
    with pytest.raises(NoTargetError):
        apply_patch(user(), [op("replace", 'emails[type ne "home"].value', "w@b")], USERS)


def test_replace_of_an_absent_attribute_adds_it() -> None:
    result = apply_patch(user(), [op("replace", "nickName", "Babs")], USERS)

    assert result.document["nickName"] == "Babs"


def test_sub_attribute_of_a_multi_valued_attribute_without_filter_applies_to_every_element() -> None:
    document = user() | {"emails": [{"value": "a@b"}, {"value": "c@d"}]}

    result = apply_patch(document, [op("replace", "emails.type", "work")], USERS)

    assert result.document["emails"] == [{"value": "a@b", "type": "work"}, {"value": "c@d", "type": "work"}]


def test_sub_attribute_of_an_empty_multi_valued_attribute_is_no_target() -> None:
    with pytest.raises(NoTargetError):
        apply_patch(without(user(), "emails"), [op("replace", "emails.type", "work")], USERS)


def test_extension_attribute_path_writes_under_the_extension_urn() -> None:
    result = apply_patch(user(), [op("replace", f"{ENTERPRISE}:manager.value", "272")], USERS)

    assert result.document[ENTERPRISE]["manager"] == {"value": "272", "displayName": "The Boss"}


# -- remove (RFC 7644 §3.5.2.2) ------------------------------------------------------------------------


def test_remove_without_path_is_no_target() -> None:
    with pytest.raises(NoTargetError):
        apply_patch(user(), [op("remove")], USERS)


def test_remove_of_a_singular_attribute_unassigns_it() -> None:
    result = apply_patch(user(), [op("remove", "title")], USERS)

    assert result.document == without(user(), "title")


def test_remove_of_an_absent_attribute_is_a_no_op() -> None:
    assert apply_patch(user(), [op("remove", "nickName")], USERS).changed == frozenset()


def test_remove_of_a_multi_valued_attribute_without_filter_removes_all_values() -> None:
    result = apply_patch(group(), [op("remove", "members")], GROUPS)

    assert result.document == without(group(), "members")


def test_remove_with_filter_removes_only_matching_members() -> None:
    result = apply_patch(group(), [op("remove", f'members[value eq "{LEAVING}"]')], GROUPS)

    assert result.document["members"] == [{"value": "u2", "display": "u2@okta.local", "type": "User"}]


def test_remove_with_or_filter_removes_exactly_the_listed_members() -> None:
    document = group() | {"members": [{"value": "u1"}, {"value": "u2"}, {"value": "u3"}]}

    result = apply_patch(document, [op("remove", 'members[value eq "u1" or value eq "u3"]')], GROUPS)

    assert result.document["members"] == [{"value": "u2"}]


def test_remove_with_a_filter_matching_nothing_is_a_no_op() -> None:
    result = apply_patch(group(), [op("remove", 'members[value eq "not-a-member"]')], GROUPS)

    assert result == PatchResult(group(), frozenset())


def test_remove_of_the_last_matching_element_unassigns_the_attribute() -> None:
    result = apply_patch(user(), [op("remove", 'roles[value eq "role-2"]')], USERS)

    assert "roles" not in result.document


def test_remove_with_a_filter_and_a_sub_attribute_removes_it_from_the_matches() -> None:
    document = user() | {"emails": [{"value": "a@b", "type": "work"}, {"value": "c@d", "type": "home"}]}

    result = apply_patch(document, [op("remove", 'emails[type eq "work"].type')], USERS)

    assert result.document["emails"] == [{"value": "a@b"}, {"value": "c@d", "type": "home"}]


def test_remove_of_a_sub_attribute_keeps_the_others_and_the_last_one_unassigns_the_attribute() -> None:
    first = apply_patch(user(), [op("remove", "name.givenName")], USERS)
    second = apply_patch(first.document, [op("remove", "name.familyName")], USERS)

    assert first.document["name"] == {"familyName": "Jensen"}
    assert "name" not in second.document


def test_remove_of_the_last_extension_attribute_removes_the_extension_object() -> None:
    document = user() | {ENTERPRISE: {"department": "Ops"}}

    result = apply_patch(document, [op("remove", f"{ENTERPRISE}:department")], USERS)

    assert ENTERPRISE not in result.document
    assert result.changed == {ENTERPRISE}


# -- primary (RFC 7643 §2.4) ---------------------------------------------------------------------------------


def test_an_added_primary_element_clears_primary_on_the_others() -> None:
    result = apply_patch(user(), [op("add", "emails", [{"value": "w@b", "type": "work", "primary": True}])], USERS)

    assert result.document["emails"] == [
        {"value": "bjensen@example.com", "type": "home", "primary": False},
        {"value": "w@b", "type": "work", "primary": True},
    ]


def test_primary_set_through_a_filtered_path_wins() -> None:
    document = user() | {"emails": [{"value": "a@b", "primary": True}, {"value": "c@d"}]}

    result = apply_patch(document, [op("replace", 'emails[value eq "c@d"].primary', True)], USERS)

    assert result.document["emails"] == [{"value": "a@b", "primary": False}, {"value": "c@d", "primary": True}]


def test_a_replacement_list_with_two_primaries_keeps_the_last() -> None:
    emails = [{"value": "a@b", "primary": True}, {"value": "c@d", "primary": True}]

    result = apply_patch(user(), [op("replace", "emails", emails)], USERS)

    assert result.document["emails"] == [{"value": "a@b", "primary": False}, {"value": "c@d", "primary": True}]


# -- mutability (RFC 7643 §2.2) -------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["id", "ID", "meta", "schemas"])
def test_id_meta_and_schemas_in_a_path_less_value_are_always_ignored(key: str) -> None:
    result = apply_patch(user(), [op("replace", None, {key: "something else", "title": "Chief"})], USERS)

    assert result.document == user() | {"title": "Chief"}


def test_read_only_attribute_in_a_path_equal_to_its_value_is_ignored() -> None:
    result = apply_patch(group(), [op("replace", "id", "abf4dd94-…")], GROUPS)

    assert result.changed == frozenset()


@pytest.mark.parametrize(
    "operation",
    [
        op("replace", "id", "another"),
        op("remove", "id"),
        op("replace", None, {"groups": [{"value": "other"}]}),
        op("add", "groups", [{"value": "other"}]),
        op("remove", "groups"),
        op("replace", "meta.created", "2020-01-01T00:00:00Z"),
    ],
    ids=["replace-id", "remove-id", "pathless-groups", "add-groups", "remove-groups", "meta-created"],
)
def test_changing_a_read_only_attribute_is_a_mutability_error(operation: dict[str, Any]) -> None:
    with pytest.raises(MutabilityError, match="readOnly"):
        apply_patch(user(), [operation], USERS)


def test_read_only_groups_equal_to_the_current_value_are_ignored() -> None:
    assert apply_patch(user(), [op("replace", None, {"groups": user()["groups"]})], USERS).changed == frozenset()


def test_read_only_sub_attribute_inside_a_value_is_ignored() -> None:
    result = apply_patch(group(), [op("add", "members", [{"value": "u2", "display": "Renamed"}])], GROUPS)

    assert result.document["members"] == group()["members"]


def test_read_only_sub_attribute_changed_through_a_path_is_a_mutability_error() -> None:
    with pytest.raises(MutabilityError, match="readOnly"):
        apply_patch(group(), [op("replace", 'members[value eq "u2"].display', "Renamed")], GROUPS)


def test_read_only_sub_attribute_set_through_a_path_to_its_value_is_ignored() -> None:
    operations = [op("replace", 'members[value eq "u2"].display', "u2@okta.local")]

    assert apply_patch(group(), operations, GROUPS).changed == frozenset()


def test_immutable_sub_attribute_may_be_set_when_absent() -> None:
    document = group() | {"members": [{"value": "u1"}]}

    result = apply_patch(document, [op("add", 'members[value eq "u1"].type', "User")], GROUPS)

    assert result.document["members"] == [{"value": "u1", "type": "User"}]


@pytest.mark.parametrize(
    "operation",
    [
        op("replace", 'members[value eq "u2"].type', "Group"),
        op("replace", 'members[value eq "u2"].value', "u3"),
        op("replace", 'members[value eq "u2"]', {"value": "u3"}),
        op("remove", 'members[value eq "u2"].type'),
    ],
    ids=["replace-type", "replace-value", "replace-element", "remove-type"],
)
def test_changing_an_immutable_sub_attribute_is_a_mutability_error(operation: dict[str, Any]) -> None:
    with pytest.raises(MutabilityError, match="immutable"):
        apply_patch(group(), [operation], GROUPS)


def test_replacing_an_element_keeps_its_immutable_sub_attributes_when_omitted() -> None:
    operations = [op("replace", 'members[value eq "u2"]', {"value": "u2"})]

    result = apply_patch(group(), operations, GROUPS)

    assert result.document["members"][1] == {"value": "u2", "display": "u2@okta.local", "type": "User"}


@pytest.mark.parametrize(
    "operation",
    [op("remove", "userName"), op("replace", "userName", ""), op("replace", None, {"userName": ""})],
    ids=["remove", "replace-empty", "pathless-empty"],
)
def test_removing_or_emptying_a_required_attribute_is_a_mutability_error(operation: dict[str, Any]) -> None:
    with pytest.raises(MutabilityError, match="required"):
        apply_patch(user(), [operation], USERS)


def test_removing_the_required_group_display_name_is_a_mutability_error() -> None:
    with pytest.raises(MutabilityError, match="displayName"):
        apply_patch(group(), [op("remove", "displayName")], GROUPS)


# -- invalid paths and values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        PatchPath(AttrPath("nickname", "first")),
        PatchPath(AttrPath("favouriteColour")),
        PatchPath(AttrPath("department")),  # an extension attribute needs its URN here; normalize adds it
        PatchPath(AttrPath("employeeNumber", urn="urn:ietf:params:scim:schemas:extension:other:2.0:User")),
        parse_path('emails[foo eq "x"]'),
        parse_path('title[value eq "x"]'),
        parse_path('emails[type eq "work"].foo'),
    ],
    ids=["unknown-sub", "unknown", "unqualified-extension", "unknown-extension", "filter-sub", "simple-filter",
         "sub-after-filter"],
)
def test_unknown_attribute_or_misplaced_filter_in_a_path_is_invalid_path(path: PatchPath) -> None:
    with pytest.raises(InvalidPathError):
        apply_patch(user(), [{"op": "replace", "path": path, "value": "x"}], USERS)


def test_unknown_attribute_in_a_path_less_value_is_invalid_path() -> None:
    with pytest.raises(InvalidPathError, match="favouriteColour"):
        apply_patch(user(), [op("replace", None, {"favouriteColour": "red"})], USERS)


def test_unknown_op_is_invalid_syntax() -> None:
    with pytest.raises(InvalidSyntaxError):
        apply_patch(user(), [op("move", "title", "x")], USERS)


@pytest.mark.parametrize(
    ("operation", "named"),
    [
        (op("replace", "active", "False"), "active"),
        (op("replace", "displayName", {"text": "x"}), "displayName"),
        (op("replace", "name", "Barbara"), "name"),
        (op("add", "emails", {"value": "a@b"}), "emails"),
        (op("add", "emails", [{"value": "a@b", "primary": "yes"}]), "emails.primary"),
        (op("add", "emails", [{"value": "a@b", "label": "x"}]), "label"),
        (op("replace", None, {"active": 1}), "active"),
        (op("replace", None, {ENTERPRISE: "x"}), ENTERPRISE),
        (op("replace", None, ["active"]), "without a path"),
        (op("replace", "title", None), "title"),
        (op("replace", 'roles[primary eq "True"].value', "Admin"), "roles.primary"),
    ],
    ids=["string-for-boolean", "object-for-string", "string-for-complex", "object-for-multi", "bad-sub",
         "unknown-sub", "number-for-boolean", "non-object-extension", "non-object-value", "null", "string-literal"],
)
def test_value_of_the_wrong_json_type_is_invalid_value_naming_the_attribute(
    operation: dict[str, Any], named: str
) -> None:
    document = without(user(), "roles")
    with pytest.raises(InvalidValueError, match=named.replace(".", r"\.")):
        apply_patch(document, [operation], USERS)


def test_a_failing_operation_leaves_the_document_untouched() -> None:
    document = user()

    with pytest.raises(MutabilityError):
        apply_patch(document, [op("replace", "title", "Chief"), op("replace", "id", "other")], USERS)

    assert document == user()



# -- large groups ------------------------------------------------------------------------------------------


def large_group(size: int) -> dict[str, Any]:
    return {"id": "g", "displayName": "g", "members": [{"value": f"u{i}", "type": "User"} for i in range(size)]}


def test_removal_of_thousands_of_listed_members_removes_exactly_those_entra_e3() -> None:
    leaving = [{"value": f"u{i}"} for i in range(0, 4000, 2)]
    body = {"Operations": [{"op": "Remove", "path": "members", "value": leaving}]}

    result = apply_patch(large_group(4000), normalize_patch(body, GROUPS), GROUPS)

    assert [member["value"] for member in result.document["members"]] == [f"u{i}" for i in range(1, 4000, 2)]


def test_push_now_of_thousands_of_members_keeps_those_that_stay_and_adds_the_others() -> None:
    pushed = [{"value": f"u{i}"} for i in range(2000, 6000)]
    body = {"Operations": [{"op": "replace", "path": "members", "value": pushed}]}

    result = apply_patch(large_group(4000), normalize_patch(body, GROUPS), GROUPS)

    assert result.document["members"] == [
        *({"value": f"u{i}", "type": "User"} for i in range(2000, 4000)),
        *({"value": f"u{i}"} for i in range(4000, 6000)),
    ]


def test_or_of_value_equalities_compares_like_the_evaluator_case_insensitively_unless_case_exact() -> None:
    document = user() | {"emails": [{"value": "a@b"}, {"value": "C@D"}, {"value": "e@f"}]}
    emails = apply_patch(document, [op("remove", 'emails[value eq "A@B" or value eq "c@d"]')], USERS)
    roles = apply_patch(user(), [op("remove", 'roles[value eq "ROLE-2" or value eq "role-3"]')], USERS)

    assert emails.document["emails"] == [{"value": "e@f"}]  # emails.value is not caseExact
    assert roles.changed == frozenset()  # roles.value is caseExact
