"""Groups that grant permissions: an org admin maps IdP groups to roles; members hold them.

Effective roles are computed from the membership tables on every request (example_app/access.py),
so a group push (member added or removed, group deleted) changes what a user can do on their next
request.  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from example_app.models import Group, db
from tests.conftest import issue_token

from .helpers import GROUP_URN, PATCH_OP, SOMNUS, TRINITY, ClosingScim, person, post, role_ids, sign_in, text, user

NOBODY = "nobody@gridco.example"


def push_group(scim: Any, name: str, *member_ids: int) -> str:
    created = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": name,
                                    "members": [{"value": str(m)} for m in member_ids]})
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def map_group(admin: Any, group_id: str, *role_ids_: int) -> Any:
    return post(admin, f"/admin/groups/{group_id}/roles", data=[("role", str(r)) for r in role_ids_])


def members_patch(op: str, user_id: int) -> dict[str, Any]:
    if op == "add":
        return {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members",
                                                       "value": [{"value": str(user_id)}]}]}
    return {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": f'members[value eq "{user_id}"]'}]}


def test_a_group_push_grants_and_then_removes_a_group_derived_permission(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    nobody = person(app, NOBODY)
    writers = push_group(scim, "Writers")
    admin = app.test_client()
    sign_in(admin, SOMNUS)
    assert map_group(admin, writers, role_ids(app)["todoer"]).status_code == 302

    member = app.test_client()
    sign_in(member, NOBODY)
    assert member.get("/todos").status_code == 403
    # A group PATCH answers 204 (SCIM_PATCH_RESPONSE "auto").
    assert scim.patch(f"/Groups/{writers}", members_patch("add", nobody)).status_code == 204
    assert member.get("/todos").status_code == 200
    assert post(member, "/todos", title="Allowed through Writers").status_code == 302
    assert "Todo-er: member of group Writers" in text(member.get("/me"))

    assert scim.patch(f"/Groups/{writers}", members_patch("remove", nobody)).status_code == 204
    assert member.get("/todos").status_code == 403
    assert post(member, "/todos", title="no longer").status_code == 403


def test_deleting_a_group_takes_its_roles_from_its_members(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    auditors = push_group(scim, "Auditors", user(app, TRINITY).id)
    admin = app.test_client()
    sign_in(admin, SOMNUS)
    map_group(admin, auditors, role_ids(app)["auditor"])
    sign_in(client, TRINITY)
    assert "Somnus's first todo" in text(client.get("/todos"))
    assert scim.delete(f"/Groups/{auditors}").status_code == 204
    page = text(client.get("/todos"))
    assert "Somnus's first todo" not in page and "Trinity's first todo" in page  # Todo-er, directly, remains


def test_direct_and_group_roles_add_up_and_me_names_every_source(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    trinity = user(app, TRINITY).id
    roles = role_ids(app)
    leads, ops = push_group(scim, "Leads", trinity), push_group(scim, "Ops", trinity)
    admin = app.test_client()
    sign_in(admin, SOMNUS)
    map_group(admin, leads, roles["manager"], roles["todoer"])
    map_group(admin, ops, roles["manager"])
    sign_in(client, TRINITY)
    page = text(client.get("/me"))
    assert "Todo-er: granted to you directly" in page and "Todo-er: member of group Leads" in page
    assert "Manager: member of group Leads" in page and "Manager: member of group Ops" in page
    assert client.get("/admin").status_code == 200


def test_the_admin_page_lists_groups_with_members_and_their_mapping(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    acme = ClosingScim(app.test_client(), issue_token(app, "acme.example"))
    push_group(scim, "Engineering", user(app, TRINITY).id)
    push_group(acme, "Acme Only")
    sign_in(client, SOMNUS)
    page = text(client.get("/admin"))
    assert 'data-group="Engineering"' in page and TRINITY in page
    assert "Acme Only" not in page


def test_mapping_a_group_needs_the_admin_permission_a_csrf_token_and_a_group_of_the_org(app: Any,
                                                                                           client: Any) -> None:
    acme = ClosingScim(app.test_client(), issue_token(app, "acme.example"))
    foreign = push_group(acme, "Acme Admins")
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    ours = push_group(scim, "Ours")
    manager = role_ids(app)["manager"]
    sign_in(client, TRINITY)
    assert map_group(client, ours, manager).status_code == 403
    admin = app.test_client()
    sign_in(admin, SOMNUS)
    assert admin.post(f"/admin/groups/{ours}/roles", data={"role": str(manager)}).status_code == 400
    assert map_group(admin, foreign, manager).status_code == 404
    with app.app_context():
        assert db.session.get(Group, int(foreign)).roles == []
        assert db.session.get(Group, int(ours)).roles == []
    assert map_group(admin, ours, manager).status_code == 302
    with app.app_context():
        assert [r.code for r in db.session.get(Group, int(ours)).roles] == ["manager"]
