"""Input normalisation (``normalize.py``): each client quirk of interop.md turned into RFC-shaped input.

Fixtures in ``tests/fixtures/patch/`` are named after their source: ``okta_*`` from interop.md §1.4-1.6
(Okta's SCIM 2.0 reference and OIG guide), ``entra_*`` from the §6 Entra rows (E1-E17) and
``sourcegraph_*``/``buildbuddy_*`` from the issues cited in §1.4.  Bodies shown verbatim in interop.md are
kept verbatim (``…`` elisions included); rows that only describe a shape (E1, E4, E6 several ops, E9, E11,
O3, the OIG path-less forms) were written out following that description.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flask_scim_entitlements.errors import InvalidPathError, InvalidSyntaxError, InvalidValueError
from flask_scim_entitlements.filters import parse_path
from flask_scim_entitlements.normalize import normalize_patch, normalize_resource
from flask_scim_entitlements.schemas.core import ENTERPRISE_USER, ENTERPRISE_USER_URN, GROUP, GROUP_URN, USER, USER_URN
from flask_scim_entitlements.schemas.definitions import ResourceSchema

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "patch"
USERS = ResourceSchema(core=USER, extensions=(ENTERPRISE_USER,))
GROUPS = ResourceSchema(core=GROUP)
ENTERPRISE = ENTERPRISE_USER_URN


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def op(name: str, path: str | None = None, value: Any = None) -> dict[str, Any]:
    return {"op": name, "path": None if path is None else parse_path(path), "value": value}


# -- normalize_resource: names and shape ------------------------------------------------


def test_attribute_names_are_rewritten_to_their_canonical_case() -> None:
    body = {
        "SCHEMAS": [USER_URN],
        "USERNAME": "bjensen",
        "Name": {"GIVENNAME": "Barbara"},
        "Emails": [{"VALUE": "b@example.com", "Primary": True}],
        ENTERPRISE.upper(): {"EMPLOYEENUMBER": "1", "Manager": {"VALUE": "271"}},
    }

    assert normalize_resource(body, USERS) == {
        "schemas": [USER_URN, ENTERPRISE],
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "emails": [{"value": "b@example.com", "primary": True}],
        ENTERPRISE: {"employeeNumber": "1", "manager": {"value": "271"}},
    }


def test_rfc_shaped_body_comes_back_unchanged() -> None:
    body = load("okta_oig_user_with_roles_entitlements.json")

    assert normalize_resource(body, USERS) == body


def test_okta_create_body_keeps_every_declared_attribute() -> None:
    body = load("okta_create_user.json")

    assert normalize_resource(body, USERS) == body


def test_okta_put_body_keeps_id_meta_and_readonly_groups_for_the_view_to_ignore() -> None:
    body = load("okta_replace_user.json")

    assert normalize_resource(body, USERS) == body


def test_undeclared_keys_are_dropped_except_id_external_id_and_meta() -> None:
    body = {"id": "1", "externalId": "e", "meta": {"resourceType": "User"}, "userName": "b", "favouriteColour": "red",
            "name": {"givenName": "B", "nickname": "x"}}

    assert normalize_resource(body, USERS) == {
        "id": "1", "externalId": "e", "meta": {"resourceType": "User"}, "userName": "b", "name": {"givenName": "B"},
    }


def test_input_body_is_not_modified() -> None:
    body = load("entra_create_user_explicit_nulls.json")
    snapshot = copy.deepcopy(body)

    normalize_resource(body, USERS)

    assert body == snapshot


@pytest.mark.parametrize("body", [[], "userName", None, 3])
def test_body_that_is_not_an_object_is_invalid_syntax(body: Any) -> None:
    with pytest.raises(InvalidSyntaxError):
        normalize_resource(body, USERS)


def test_extension_that_is_not_an_object_is_invalid_value() -> None:
    with pytest.raises(InvalidValueError, match=ENTERPRISE):
        normalize_resource({"userName": "b", ENTERPRISE: "x"}, USERS)


# -- normalize_resource: absent values -----------------------------------------------------


def test_explicit_nulls_are_absent_entra_e11() -> None:
    body = load("entra_create_user_explicit_nulls.json")

    assert normalize_resource(body, USERS) == {
        "schemas": [USER_URN, ENTERPRISE_USER_URN],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": True,
        "displayName": "Test User",
        "emails": [
            {"primary": True, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"},
        ],
        "meta": {"resourceType": "User"},
        "name": {"familyName": "User", "givenName": "Test"},
    }


def test_empty_string_is_absent_for_optional_attributes_but_kept_for_required_ones() -> None:
    body = {"userName": "", "nickName": "", "name": {"givenName": "", "familyName": "User"}}

    assert normalize_resource(body, USERS) == {"userName": "", "name": {"familyName": "User"}}


def test_null_ref_in_member_values_is_absent_entra_e4() -> None:
    body = {"displayName": "g", "members": [{"$ref": None, "value": "u1"}]}

    assert normalize_resource(body, GROUPS) == {"displayName": "g", "members": [{"value": "u1"}]}


def test_explicit_empty_list_is_kept_so_put_can_clear_the_attribute() -> None:
    assert normalize_resource({"displayName": "g", "members": []}, GROUPS) == {"displayName": "g", "members": []}


# -- normalize_resource: schemas and extensions ---------------------------------------------


def test_extension_attributes_move_under_their_extension_and_join_schemas_entra_e9() -> None:
    body = load("entra_create_user_extension_missing_from_schemas.json")

    assert normalize_resource(body, USERS) == {
        "schemas": [USER_URN, ENTERPRISE_USER_URN],
        "userName": "bjensen@example.com",
        ENTERPRISE: {"department": "Tour Operations", "employeeNumber": "701984"},
    }


def test_unknown_schema_uris_are_ignored_entra_e10() -> None:
    body = load("entra_create_group_nonstandard_schema.json")

    assert normalize_resource(body, GROUPS) == {
        "schemas": [GROUP_URN],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }


def test_scim_1_1_core_urn_is_replaced_by_the_core_urn_onelogin() -> None:
    assert normalize_resource({"schemas": ["urn:scim:schemas:core:1.0"], "userName": "b"}, USERS) == {
        "schemas": [USER_URN],
        "userName": "b",
    }


def test_empty_extension_object_is_dropped() -> None:
    assert normalize_resource({"userName": "b", ENTERPRISE: {"department": ""}}, USERS) == {"userName": "b"}


# -- normalize_resource: type coercion -------------------------------------------------------


def test_string_booleans_are_coerced_for_boolean_attributes_and_sub_attributes_entra_e2() -> None:
    body = {"active": "True", "emails": [{"value": "a@b", "primary": "false"}]}

    assert normalize_resource(body, USERS) == {"active": True, "emails": [{"value": "a@b", "primary": False}]}


@pytest.mark.parametrize("value", ["yes", "TRUE", "1", 0, 1, [True], {}])
def test_anything_but_true_false_and_their_strings_is_invalid_for_a_boolean(value: Any) -> None:
    # Issue 16: "active": 0 used to deactivate a user, "yes" to keep one active.
    with pytest.raises(InvalidValueError):
        normalize_resource({"active": value}, USERS)


def test_numbers_are_coerced_to_strings_for_string_attributes_okta_o11() -> None:
    body = {"externalId": 1234, "name": {"familyName": 7}, ENTERPRISE: {"employeeNumber": 701984, "costCenter": 4130}}

    assert normalize_resource(body, USERS) == {
        "externalId": "1234",
        "name": {"familyName": "7"},
        ENTERPRISE: {"employeeNumber": "701984", "costCenter": "4130"},
    }


def test_a_single_object_for_a_multi_valued_attribute_is_wrapped_in_a_list_onelogin() -> None:
    body = {"emails": {"value": "a@b", "type": "work"}}

    assert normalize_resource(body, USERS) == {"emails": [{"value": "a@b", "type": "work"}]}


@pytest.mark.parametrize("manager", ["271", 271, [{"value": "271"}], ["271"]])
def test_manager_as_bare_id_or_one_element_list_becomes_a_value_object_entra_e7(manager: Any) -> None:
    assert normalize_resource({ENTERPRISE: {"manager": manager}}, USERS) == {ENTERPRISE: {"manager": {"value": "271"}}}


def test_entra_role_json_string_becomes_the_inner_value_and_display_name_e8() -> None:
    role = {"value": json.dumps({"id": "7b1f", "value": "Admin", "displayName": "Administrator"}),
            "type": "WindowsAzureActiveDirectoryRole"}

    assert normalize_resource({"roles": [role]}, USERS) == {
        "roles": [{"value": "Admin", "display": "Administrator", "type": "WindowsAzureActiveDirectoryRole"}],
    }


def test_entra_role_json_string_without_inner_value_falls_back_to_its_id() -> None:
    role = {"value": json.dumps({"id": "7b1f", "displayName": "Admin"})}

    assert normalize_resource({"roles": [role]}, USERS) == {"roles": [{"value": "7b1f", "display": "Admin"}]}


@pytest.mark.parametrize("value", ["role-1", "{not json", '["a"]'])
def test_role_value_that_is_not_a_json_object_is_kept(value: str) -> None:
    assert normalize_resource({"roles": [{"value": value}]}, USERS) == {"roles": [{"value": value}]}


def test_json_strings_are_unwrapped_for_roles_only() -> None:
    text = json.dumps({"value": "Admin"})

    assert normalize_resource({"entitlements": [{"value": text}]}, USERS) == {"entitlements": [{"value": text}]}


# -- normalize_patch: the envelope ------------------------------------------------------------


@pytest.mark.parametrize("body", [{}, {"Operations": {}}, {"Operations": "replace"}, {"Operations": None}, [], "x"])
def test_missing_or_non_list_operations_is_invalid_syntax(body: Any) -> None:
    with pytest.raises(InvalidSyntaxError):
        normalize_patch(body, USERS)


def test_empty_operations_is_a_no_op_entra_e17() -> None:
    assert normalize_patch(load("entra_validator_empty_operations.json"), USERS) == []


def test_operations_and_their_keys_are_matched_case_insensitively() -> None:
    body = {"operations": [{"OP": "replace", "Path": "displayName", "VALUE": "x"}]}

    assert normalize_patch(body, USERS) == [op("replace", "displayName", "x")]


def test_okta_push_now_body_without_schemas_is_accepted() -> None:
    assert normalize_patch(load("okta_group_push_now.json"), GROUPS) == [
        op("replace", "members", [{"value": "…", "display": "…"}, {"value": "…", "display": "…"}]),
    ]


def test_capitalised_ops_are_lower_cased_entra_e1() -> None:
    operations = normalize_patch(load("entra_capitalised_ops.json"), USERS)

    assert operations == [
        op("replace", "displayName", "Babs Jensen"),
        op("add", "nickName", "Babs"),
        op("remove", "title"),
    ]


@pytest.mark.parametrize("name", ["move", "copy", "", 1, None])
def test_unknown_op_is_invalid_syntax(name: Any) -> None:
    with pytest.raises(InvalidSyntaxError, match="op"):
        normalize_patch({"Operations": [{"op": name, "path": "displayName", "value": "x"}]}, USERS)


@pytest.mark.parametrize("operation", ["replace", None, ["op"]])
def test_operation_that_is_not_an_object_is_invalid_syntax(operation: Any) -> None:
    with pytest.raises(InvalidSyntaxError, match=r"Operations\[0\]"):
        normalize_patch({"Operations": [operation]}, USERS)


def test_the_number_of_operations_is_bounded() -> None:
    body = {"Operations": [{"op": "replace", "path": "title", "value": "x"}] * 3}

    assert len(normalize_patch(body, USERS, max_operations=3)) == 3
    with pytest.raises(InvalidSyntaxError, match="at most 2 operations"):
        normalize_patch(body, USERS, max_operations=2)


@pytest.mark.parametrize("name", ["add", "replace"])
def test_add_or_replace_without_value_is_invalid_value(name: str) -> None:
    with pytest.raises(InvalidValueError, match="needs a 'value'"):
        normalize_patch({"Operations": [{"op": name, "path": "title"}]}, USERS)


@pytest.mark.parametrize("path", ["nickname.first", "favouriteColour", "emails[foo eq \"x\"]", "emails[", 3])
def test_path_that_names_nothing_declared_or_is_malformed_is_invalid_path(path: Any) -> None:
    with pytest.raises(InvalidPathError):
        normalize_patch({"Operations": [{"op": "replace", "path": path, "value": "x"}]}, USERS)


@pytest.mark.parametrize("value", ["x", ["active"], None])
def test_value_without_path_must_be_an_object(value: Any) -> None:
    with pytest.raises(InvalidValueError, match="without a path"):
        normalize_patch({"Operations": [{"op": "replace", "value": value}]}, USERS)


def test_remove_without_path_is_passed_on_for_the_engine_to_refuse() -> None:
    assert normalize_patch({"Operations": [{"op": "remove"}]}, USERS) == [op("remove")]


# -- normalize_patch: path-less values -------------------------------------------------------------


def test_okta_deactivate_is_one_path_less_replace_okta_o1() -> None:
    assert normalize_patch(load("okta_deactivate_user.json"), USERS) == [op("replace", None, {"active": False})]


def test_okta_group_rename_keeps_the_echoed_id_for_the_engine_to_ignore() -> None:
    assert normalize_patch(load("okta_group_rename.json"), GROUPS) == [
        op("replace", None, {"id": "abf4dd94-…", "displayName": "Test SCIMv2"}),
    ]


def test_dotted_and_urn_qualified_keys_of_a_path_less_value_become_one_operation_each_entra_e5() -> None:
    operations = normalize_patch(load("entra_pathless_dotted_and_urn_keys.json"), USERS)

    assert operations == [
        op("replace", None, {"displayName": "x"}),
        op("replace", "name.givenName", "y"),
        op("replace", f"{ENTERPRISE}:employeeNumber", "z"),
    ]


def test_dotted_keys_are_expanded_sourcegraph_48430() -> None:
    assert normalize_patch(load("sourcegraph_48430_dotted_keys.json"), USERS) == [
        op("replace", "name.givenName", "Barbara"),
        op("replace", "name.familyName", "Jensen"),
    ]


def test_undeclared_keys_of_a_path_less_value_are_dropped_entra_e9() -> None:
    assert normalize_patch(load("entra_custom_extension_attribute_patch.json"), USERS) == [
        op("add", f"{ENTERPRISE}:department", "Tour Operations"),
    ]


def test_path_less_value_with_only_undeclared_keys_yields_no_operation() -> None:
    assert normalize_patch({"Operations": [{"op": "replace", "value": {"favouriteColour": "red"}}]}, USERS) == []


def test_schemas_inside_a_path_less_value_are_dropped() -> None:
    body = {"Operations": [{"op": "replace", "value": {"schemas": [USER_URN], "title": "x"}}]}

    assert normalize_patch(body, USERS) == [op("replace", None, {"title": "x"})]


def test_null_or_empty_string_in_a_path_less_replace_becomes_a_remove_of_that_attribute() -> None:
    value = {"title": "Boss", "nickName": None, "name": {"middleName": "", "givenName": "B"},
             ENTERPRISE: {"department": None, "costCenter": "1"}}

    assert normalize_patch({"Operations": [{"op": "replace", "value": value}]}, USERS) == [
        op("replace", None, {"title": "Boss", "name": {"givenName": "B"}, ENTERPRISE: {"costCenter": "1"}}),
        op("remove", "nickName"),
        op("remove", "name.middleName"),
        op("remove", f"{ENTERPRISE}:department"),
    ]


def test_null_for_a_multi_valued_attribute_in_a_path_less_add_adds_nothing() -> None:
    assert normalize_patch({"Operations": [{"op": "add", "value": {"emails": None, "title": "x"}}]}, USERS) == [
        op("add", None, {"title": "x"}),
    ]


def test_empty_string_for_a_required_attribute_is_kept_for_the_engine_to_refuse() -> None:
    assert normalize_patch({"Operations": [{"op": "replace", "value": {"userName": ""}}]}, USERS) == [
        op("replace", None, {"userName": ""}),
    ]


# -- normalize_patch: values by path target ---------------------------------------------------------


def test_string_boolean_is_coerced_for_a_boolean_path_entra_e2() -> None:
    assert normalize_patch(load("entra_string_boolean_active.json"), USERS) == [op("replace", "active", False)]


def test_null_value_with_a_path_on_replace_becomes_a_remove() -> None:
    assert normalize_patch({"Operations": [{"op": "replace", "path": "title", "value": None}]}, USERS) == [
        op("remove", "title"),
    ]


def test_null_value_added_to_a_multi_valued_attribute_adds_nothing() -> None:
    assert normalize_patch({"Operations": [{"op": "add", "path": "emails", "value": None}]}, USERS) == []


def test_single_object_added_to_a_multi_valued_path_is_wrapped_in_a_list() -> None:
    body = {"Operations": [{"op": "add", "path": "members", "value": {"value": "u1", "display": "U"}}]}

    assert normalize_patch(body, GROUPS) == [op("add", "members", [{"value": "u1", "display": "U"}])]


def test_null_ref_is_dropped_from_member_values_entra_e4() -> None:
    assert normalize_patch(load("entra_add_members_null_ref.json"), GROUPS) == [op("add", "members", [{"value": "u1"}])]


def test_filter_literals_are_coerced_for_boolean_sub_attributes_entra_e2() -> None:
    assert normalize_patch(load("entra_single_app_role_primary.json"), USERS) == [
        op("replace", "roles[primary eq true].value", "Admin"),
    ]


def test_unqualified_manager_path_is_qualified_and_its_list_value_unwrapped_entra_e7() -> None:
    assert normalize_patch(load("entra_manager_array.json"), USERS) == [
        op("add", f"{ENTERPRISE}:manager", {"$ref": "…/Users/id", "value": "id"}),
    ]


def test_bare_manager_id_becomes_a_value_object_entra_e7() -> None:
    assert normalize_patch(load("entra_manager_bare_id.json"), USERS) == [
        op("add", f"{ENTERPRISE}:manager", {"value": "271"}),
    ]


def test_manager_removal_by_filter_is_qualified_entra_e7() -> None:
    assert normalize_patch(load("entra_manager_remove_filter.json"), USERS) == [
        op("remove", f'{ENTERPRISE}:manager[value eq "id"]'),
    ]


def test_role_json_strings_are_unwrapped_in_patch_values_entra_e8() -> None:
    assert normalize_patch(load("entra_roles_json_string.json"), USERS) == [
        op("add", "roles", [{"value": "Admin", "display": "Admin"}]),
    ]


def test_role_json_string_given_to_a_value_sub_attribute_is_unwrapped_entra_e8() -> None:
    text = json.dumps({"id": "7b1f", "value": "Admin", "displayName": "Admin"})
    body = {"Operations": [{"op": "Add", "path": 'roles[primary eq "True"].value', "value": text}]}

    assert normalize_patch(body, USERS) == [op("add", "roles[primary eq true].value", "Admin")]


# -- normalize_patch: Entra's member removal (E3) ------------------------------------------------------


def test_member_removal_with_a_value_list_becomes_a_filtered_remove_entra_e3() -> None:
    assert normalize_patch(load("entra_remove_members_value_list.json"), GROUPS) == [
        op("remove", 'members[value eq "u1"]'),
    ]


def test_member_removal_with_several_values_becomes_an_or_filter() -> None:
    body = {"Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]}

    assert normalize_patch(body, GROUPS) == [op("remove", 'members[value eq "u1" or value eq "u2"]')]


@pytest.mark.parametrize("attribute", ["roles", "entitlements", "emails"])
def test_value_list_removal_applies_to_every_multi_valued_attribute_with_a_value(attribute: str) -> None:
    body = {"Operations": [{"op": "remove", "path": attribute, "value": [{"value": "a"}]}]}

    assert normalize_patch(body, USERS) == [op("remove", f'{attribute}[value eq "a"]')]


def test_removal_with_an_empty_value_list_removes_nothing() -> None:
    body = {"Operations": [{"op": "remove", "path": "members", "value": []}]}

    assert normalize_patch(body, GROUPS) == []


def test_removal_value_without_a_value_sub_attribute_is_invalid_value() -> None:
    body = {"Operations": [{"op": "remove", "path": "members", "value": [{"display": "Bob"}]}]}

    with pytest.raises(InvalidValueError, match="members"):
        normalize_patch(body, GROUPS)


def test_value_given_to_a_filtered_remove_is_ignored() -> None:
    body = {"Operations": [{"op": "remove", "path": 'members[value eq "u1"]', "value": [{"value": "u2"}]}]}

    assert normalize_patch(body, GROUPS) == [op("remove", 'members[value eq "u1"]')]


def test_long_member_removal_lists_build_a_shallow_filter() -> None:
    body = {"Operations": [{"op": "Remove", "path": "members", "value": [{"value": f"u{i}"} for i in range(4096)]}]}

    (operation,) = normalize_patch(body, GROUPS)

    def depth(node: Any) -> int:
        return 1 + max(depth(node.left), depth(node.right)) if hasattr(node, "left") else 1

    assert depth(operation["path"].filter) == 13


def test_an_extension_urn_as_a_patch_path_is_read_as_the_path_less_form() -> None:
    from flask_scim_entitlements.schemas.definitions import Attribute, ResourceSchema, SchemaDefinition

    urn = "urn:example:scim:schemas:extension:todo:1.0:User"
    schema = ResourceSchema(SchemaDefinition("urn:ietf:params:scim:schemas:core:2.0:User", "User", "",
                                             (Attribute("userName"),)),
                            (SchemaDefinition(urn, "Todo", "", (Attribute("team"), Attribute("site"))),))
    body = {"Operations": [{"op": "replace", "path": urn, "value": {"team": "Ops"}}]}
    (operation,) = normalize_patch(body, schema)
    assert operation["op"] == "replace" and operation["path"] is None and operation["value"] == {urn: {"team": "Ops"}}
    removed = normalize_patch({"Operations": [{"op": "remove", "path": urn.upper()}]}, schema)
    assert [(o["op"], o["path"].attr.urn, o["path"].attr.attr) for o in removed] == [
        ("remove", urn, "team"), ("remove", urn, "site")]
