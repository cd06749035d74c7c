"""Identity is never reused (RFC 7643 §3.1: an id is never reassigned), on SQLite and PostgreSQL.

What issue 15 found: on SQLite without AUTOINCREMENT, tenant B's next user got the id of the user
tenant A had just deleted, with that user's private todo, and the deleted user's session cookie
opened B's new account.
"""

from __future__ import annotations

from typing import Any

from example_app.models import Group, Todo, User, db, group_members, user_characteristics, user_roles
from tests.conftest import issue_token, new_user

from .helpers import GROUP_URN, ClosingScim, post, role_ids, sign_in, text


def test_ids_are_never_reused_across_deletes_and_tenants(app: Any, client: Any) -> None:
    gridco = ClosingScim(client, issue_token(app, "gridco.example"))
    acme = ClosingScim(client, issue_token(app, "acme.example"))
    seen_users, seen_groups = set(), set()
    for round_ in range(3):
        for scim, domain in ((gridco, "gridco.example"), (acme, "acme.example")):
            created = new_user(scim, f"temp{round_}@{domain}")
            group = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": f"Temp {round_}"}).get_json()
            assert created["id"] not in seen_users and group["id"] not in seen_groups
            seen_users.add(created["id"])
            seen_groups.add(group["id"])
            # The newest row is deleted: the one a reusing database would hand out next.
            assert scim.delete(f"/Users/{created['id']}").status_code == 204
            assert scim.delete(f"/Groups/{group['id']}").status_code == 204
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 2  # the seeded two


def test_a_deleted_users_todos_grants_and_memberships_go_with_them(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    roles = role_ids(app)
    created = new_user(scim, "leaver@gridco.example", password="Leaver-pw-1",
                       roles=[{"value": str(roles["manager"])}])
    group = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "Leavers",
                                  "members": [{"value": created["id"]}]}).get_json()
    uid = int(created["id"])
    with app.app_context():
        org_id = db.session.get(User, uid).org_id
        db.session.add(Todo(org_id=org_id, owner_id=uid, title="Leaver's private todo"))
        db.session.execute(user_characteristics.insert().values(user_id=uid, characteristic_id=1))
        db.session.commit()
    assert scim.delete(f"/Users/{created['id']}").status_code == 204
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Todo).filter_by(owner_id=uid)) == 0
        for table in (user_roles, user_characteristics, group_members):
            assert db.session.scalar(db.select(db.func.count()).select_from(table)
                                     .where(table.c.user_id == uid)) == 0, table.name
        assert db.session.get(Group, int(group["id"])) is not None  # the group itself stays


def test_a_deleted_users_session_opens_no_one_not_even_the_next_user(app: Any, client: Any) -> None:
    gridco = ClosingScim(client, issue_token(app, "gridco.example"))
    acme = ClosingScim(app.test_client(), issue_token(app, "acme.example"))
    roles = role_ids(app)
    leaver = new_user(gridco, "leaver@gridco.example", password="Leaver-pw-1")
    with app.app_context():
        db.session.add(Todo(org_id=db.session.get(User, int(leaver["id"])).org_id, owner_id=int(leaver["id"]),
                            title="Leaver's private todo"))
        db.session.commit()
    browser = app.test_client()
    sign_in(browser, "leaver@gridco.example", "Leaver-pw-1")
    assert browser.get("/me").status_code == 200
    assert gridco.delete(f"/Users/{leaver['id']}").status_code == 204
    # Another tenant's next user, a Manager with a todo of their own.
    newcomer = new_user(acme, "newcomer@acme.example", password="Newcomer-pw-1",
                        roles=[{"value": str(roles["manager"])}])
    assert newcomer["id"] != leaver["id"]
    response = browser.get("/todos")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "removed" in text(browser.get("/login"))
    assert browser.get("/admin").headers["Location"].startswith("/login")
    # And the newcomer does not inherit the leaver's todo.
    sign_in(client, "newcomer@acme.example", "Newcomer-pw-1")
    assert "Leaver's private todo" not in text(client.get("/todos"))


def test_the_session_cookie_names_a_random_token_never_the_row_id(app: Any, client: Any) -> None:
    sign_in(client, "trinity@gridco.example")
    with client.session_transaction() as session:
        held = session["_user_id"]
    with app.app_context():
        trinity = db.session.scalar(db.select(User).filter_by(user_name="trinity@gridco.example"))
        assert held == trinity.session_token and held != str(trinity.id) and len(held) >= 40


def test_a_deactivated_users_other_sessions_end_and_stay_ended_after_reactivation(app: Any) -> None:
    scim = ClosingScim(app.test_client(), issue_token(app, "gridco.example"))
    laptop, phone = app.test_client(), app.test_client()
    for device in (laptop, phone):
        sign_in(device, "trinity@gridco.example")
    trinity_id = str(db_user_id(app, "trinity@gridco.example"))
    patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
             "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{trinity_id}", patch).status_code == 200
    assert laptop.get("/todos").status_code == 302  # seen deactivated: every session of hers ends
    patch["Operations"][0]["value"]["active"] = True
    assert scim.patch(f"/Users/{trinity_id}", patch).status_code == 200
    assert phone.get("/todos").headers["Location"].startswith("/login")
    assert post(phone, "/login", email="trinity@gridco.example", password="password").status_code == 302
    assert phone.get("/todos").status_code == 200


def db_user_id(app: Any, user_name: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(User.id).filter_by(user_name=user_name))


def test_a_user_loaded_by_raw_sql_gets_a_session_token_at_first_sign_in(app: Any, client: Any) -> None:
    with app.app_context():
        db.session.execute(db.update(User).filter_by(user_name="trinity@gridco.example").values(session_token=None))
        db.session.commit()
    assert sign_in(client, "trinity@gridco.example").headers["Location"] == "/todos"
    assert client.get("/todos").status_code == 200
    with app.app_context():
        token = db.session.scalar(db.select(User.session_token).filter_by(user_name="trinity@gridco.example"))
    with client.session_transaction() as session:
        assert token and session["_user_id"] == token
