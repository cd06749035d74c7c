"""The PATCH plan (patch/links.py): link operations split from document operations, with no app and no database."""

from __future__ import annotations

from typing import Any

import pytest

from flask_scim_entitlements.errors import InvalidValueError, MutabilityError, NoTargetError
from flask_scim_entitlements.filters.ast import Compare
from flask_scim_entitlements.normalize import normalize_patch
from flask_scim_entitlements.patch.links import ADD, REMOVE, REPLACE, plan_patch
from flask_scim_entitlements.schemas.core import GROUP, USER
from flask_scim_entitlements.schemas.definitions import ResourceSchema

GROUPS = ResourceSchema(core=GROUP)
USERS = ResourceSchema(core=USER)
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def plan(*operations: dict[str, Any], schema: ResourceSchema = GROUPS, links: tuple[str, ...] = ("members",)) -> Any:
    return plan_patch(normalize_patch({"schemas": [PATCH], "Operations": list(operations)}, schema), schema, links)


def test_okta_membership_patch_becomes_a_removal_by_id_and_an_addition_and_no_document_operation() -> None:
    result = plan({"op": "remove", "path": 'members[value eq "u1"]'},
                  {"op": "add", "path": "members", "value": [{"value": "u2", "display": "ignored"}]})
    assert result.document_operations == []
    removal, addition = result.link_operations
    assert (removal.op, removal.values, removal.filter) == (REMOVE, ("u1",), None)
    assert (addition.op, addition.values, addition.items) == (ADD, ("u2",), ({"value": "u2"},))  # display: computed


def test_okta_rename_with_the_echoed_id_stays_a_document_operation() -> None:
    result = plan({"op": "replace", "value": {"id": "g1", "displayName": "New"}})
    assert result.link_operations == [] and len(result.document_operations) == 1


def test_a_path_less_value_with_members_is_split_between_the_engine_and_the_links() -> None:
    result = plan({"op": "replace", "value": {"displayName": "New", "members": [{"value": "u1"}]}})
    assert [op["value"] for op in result.document_operations] == [{"displayName": "New"}]
    assert [(op.op, op.values) for op in result.link_operations] == [(REPLACE, ("u1",))]


def test_entra_removal_with_a_value_list_removes_exactly_those_ids() -> None:
    result = plan({"op": "Remove", "path": "members", "value": [{"value": "u1"}, {"value": "u3"}]})
    assert [(op.op, op.values) for op in result.link_operations] == [(REMOVE, ("u1", "u3"))]


def test_remove_without_filter_removes_every_link_and_a_co_filter_is_kept_for_sql() -> None:
    everything, matching = plan({"op": "remove", "path": "members"},
                                {"op": "remove", "path": 'members[value co "4"]'}).link_operations
    assert everything.removes_all
    assert matching.values is None and isinstance(matching.filter, Compare) and matching.filter.op == "co"


def test_push_now_with_an_empty_list_is_a_replace_by_nothing() -> None:
    (operation,) = plan({"op": "replace", "path": "members", "value": []}).link_operations
    assert (operation.op, operation.values) == (REPLACE, ())


def test_a_user_s_roles_are_links_but_its_groups_stay_with_the_engine_which_rejects_changes() -> None:
    result = plan({"op": "add", "path": "roles", "value": [{"value": "r1"}]},
                  {"op": "add", "path": "groups", "value": [{"value": "g1"}]},
                  schema=USERS, links=("roles", "entitlements"))
    assert [op.attribute for op in result.link_operations] == ["roles"]
    assert [op["path"].attr.attr for op in result.document_operations] == ["groups"]


def test_a_computed_sub_attribute_of_a_link_cannot_be_written() -> None:
    with pytest.raises(MutabilityError):
        plan({"op": "replace", "path": 'members[value eq "u1"].display', "value": "x"})


def test_a_link_value_of_the_wrong_shape_is_invalid_value() -> None:
    with pytest.raises(InvalidValueError):
        plan({"op": "add", "path": "members", "value": [{"display": "no value"}]})


def test_a_filtered_replace_without_a_value_to_put_in_place_is_no_target() -> None:
    with pytest.raises(NoTargetError):
        plan({"op": "replace", "path": 'members[display co "x"]', "value": {"display": "y"}})
