"""The Todo app's web side: roles provisioned over SCIM decide what a signed-in user may do.

Runs on SQLite and PostgreSQL (the ``app`` fixture).  Seed: org gridco.example,
Somnus (Manager) and Trinity (Todo-er), password "password", one todo each.
"""

from __future__ import annotations

from typing import Any

import pytest

from example_app.models import Characteristic, Org, Role, Todo, User, db
from tests.conftest import new_user

from .helpers import PATCH_OP, SOMNUS, TRINITY, grant, person, post, role_ids, sign_in, text, user

NOBODY = "nobody@gridco.example"  # no role


def todo_of(app: Any, user_name: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Todo.id).join(Todo.owner).where(User.user_name == user_name))


def other_org_with_todo(app: Any) -> int:
    """A second tenant, with a user holding every role and one todo; returns the todo id."""
    boss = person(app, "boss@acme.example", "todoer", "auditor", "manager", domain="acme.example")
    with app.app_context():
        org_id = db.session.scalar(db.select(Org.id).filter_by(domain="acme.example"))
        todo = Todo(org_id=org_id, owner_id=boss, title="Acme secret plan")
        db.session.add(todo)
        db.session.commit()
        return todo.id


def test_sign_in_with_email_and_password_lands_on_todos(client: Any) -> None:
    response = sign_in(client, TRINITY.upper())
    assert response.status_code == 302
    assert response.headers["Location"] == "/todos"
    page = text(client.get("/todos"))
    assert "Your todos" in page and "Trinity Moss" in page


def test_sign_in_with_wrong_password_is_refused(client: Any) -> None:
    response = sign_in(client, TRINITY, "nope")
    assert response.status_code == 401
    assert "Wrong email or password" in text(response)
    assert client.get("/todos").status_code == 302


def test_inactive_user_cannot_sign_in(app: Any, client: Any) -> None:
    with app.app_context():
        db.session.execute(db.update(User).filter_by(user_name=TRINITY).values(active=False))
        db.session.commit()
    response = sign_in(client, TRINITY)
    assert response.status_code == 403
    assert "deactivated" in text(response)
    assert client.get("/todos").headers["Location"].startswith("/login")


def test_pages_need_a_signed_in_user(client: Any) -> None:
    for path in ("/todos", "/me", "/admin", "/admin/activity"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_forms_without_a_valid_csrf_token_are_rejected_in_the_apps_layout(client: Any) -> None:
    sign_in(client, TRINITY)
    forged = client.post("/todos", data={"title": "forged"})
    assert forged.status_code == 400
    assert "The form has expired" in text(forged) and 'id="sign-out"' in text(forged)
    assert client.post("/todos", data={"title": "forged", "csrf_token": "made-up"}).status_code == 400
    assert post(client, "/todos", title="real").status_code == 302


def test_sign_out_ends_the_session(client: Any) -> None:
    sign_in(client, TRINITY)
    assert post(client, "/logout").headers["Location"] == "/login"
    assert client.get("/todos").status_code == 302


def test_forbidden_and_missing_pages_are_shown_in_the_apps_layout(client: Any) -> None:
    sign_in(client, TRINITY)
    forbidden = client.get("/admin")
    assert forbidden.status_code == 403
    page = text(forbidden)
    assert "You do not have permission" in page and "Trinity Moss" in page and 'id="sign-out"' in page
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "There is no such page" in text(missing)
    # The SCIM prefix keeps its own SCIM error bodies.
    scim_missing = client.get("/scim/v2/NoSuchEndpoint")
    assert scim_missing.status_code == 404 and scim_missing.get_json()["status"] == "404"


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "https://evil.example",
                                    "/\\evil.example", "%2F%2Fevil.example", "javascript:alert(1)", "evil"])
def test_sign_in_never_redirects_off_site(client: Any, target: str) -> None:
    response = sign_in(client, TRINITY, next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/todos"


def test_sign_in_follows_a_same_site_next_path(client: Any) -> None:
    response = sign_in(client, TRINITY, next_url="/me?tab=roles")
    assert response.headers["Location"] == "/me?tab=roles"


def test_user_without_role_sees_no_access_page(app: Any, client: Any) -> None:
    person(app, NOBODY)
    sign_in(client, NOBODY)
    response = client.get("/todos")
    assert response.status_code == 403
    assert "No access yet" in text(response)
    assert post(client, "/todos", title="sneaky").status_code == 403


def test_todoer_creates_completes_and_sees_only_own_todos(app: Any, client: Any) -> None:
    sign_in(client, TRINITY)
    assert post(client, "/todos", title="Water the plants").status_code == 302
    page = text(client.get("/todos"))
    assert "Water the plants" in page and "Trinity's first todo" in page
    assert "Somnus's first todo" not in page
    assert 'class="complete"' in page and 'class="delete"' not in page and ">Admin<" not in page
    with app.app_context():
        todo = db.session.scalar(db.select(Todo).filter_by(title="Water the plants"))
        assert todo.owner.user_name == TRINITY
        todo_id = todo.id
    assert post(client, f"/todos/{todo_id}/complete").status_code == 302
    with app.app_context():
        assert db.session.get(Todo, todo_id).completed


def test_todoer_cannot_complete_others_todos_or_delete(app: Any, client: Any) -> None:
    sign_in(client, TRINITY)
    assert post(client, f"/todos/{todo_of(app, SOMNUS)}/complete").status_code == 403
    assert post(client, f"/todos/{todo_of(app, TRINITY)}/delete").status_code == 403
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Todo.id)).filter_by(completed=True)) == 0
        assert db.session.scalar(db.select(db.func.count(Todo.id))) == 2


def test_auditor_reads_every_todo_but_changes_none(app: Any, client: Any) -> None:
    grant(app, SOMNUS, "auditor")
    sign_in(client, SOMNUS)
    page = text(client.get("/todos"))
    assert "Trinity's first todo" in page and "Somnus's first todo" in page
    assert "add-todo" not in page and 'class="complete"' not in page and 'class="delete"' not in page
    assert post(client, "/todos", title="nope").status_code == 403
    assert post(client, f"/todos/{todo_of(app, SOMNUS)}/complete").status_code == 403
    assert post(client, f"/todos/{todo_of(app, TRINITY)}/delete").status_code == 403
    assert client.get("/admin").status_code == 403


def test_seeded_manager_deletes_any_todo_in_the_org_and_opens_admin(app: Any, client: Any) -> None:
    sign_in(client, SOMNUS)
    page = text(client.get("/todos"))
    assert "Trinity's first todo" in page and 'class="delete"' in page and ">Admin<" in page
    assert client.get("/admin").status_code == 200
    trinitys = todo_of(app, TRINITY)
    assert post(client, f"/todos/{trinitys}/delete").status_code == 302
    with app.app_context():
        assert db.session.get(Todo, trinitys) is None


def test_todos_are_scoped_to_the_users_org(app: Any, client: Any) -> None:
    foreign = other_org_with_todo(app)
    grant(app, SOMNUS, "manager", "todoer")
    sign_in(client, SOMNUS)
    assert "Acme secret plan" not in text(client.get("/todos"))
    assert post(client, f"/todos/{foreign}/delete").status_code == 404
    assert post(client, f"/todos/{foreign}/complete").status_code == 404
    with app.app_context():
        assert db.session.get(Todo, foreign) is not None


def test_me_shows_each_permission_with_its_source_and_entitlements(app: Any, client: Any) -> None:
    sign_in(client, TRINITY)
    page = text(client.get("/me"))
    assert "Create todos" in page and "Todo-er: granted to you directly" in page
    assert "Delete any todo" not in page
    with app.app_context():
        trinity = db.session.scalar(db.select(User).filter_by(user_name=TRINITY))
        trinity.characteristics = list(db.session.scalars(db.select(Characteristic).filter_by(name="is_tall")))
        db.session.commit()
    page = text(client.get("/me"))
    assert "is_tall" in page and "Todo-er" in page


def test_admin_page_is_for_managers_only(app: Any, client: Any) -> None:
    sign_in(client, TRINITY)
    assert client.get("/admin").status_code == 403
    grant(app, TRINITY, "manager")
    assert client.get("/admin").status_code == 200


def test_admin_page_lists_only_the_orgs_users_with_status_and_roles(app: Any, client: Any, scim: Any) -> None:
    other_org_with_todo(app)
    trinity = user(app, TRINITY)
    deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{trinity.id}", deactivate).status_code == 200
    sign_in(client, SOMNUS)
    page = text(client.get("/admin"))
    assert TRINITY in page and "inactive" in page and "Manager" in page and "Todo-er" in page
    assert "boss@acme.example" not in page


def test_revoked_role_is_gone_on_the_next_request(app: Any, client: Any, scim: Any) -> None:
    sign_in(client, TRINITY)
    assert client.get("/todos").status_code == 200
    trinity = user(app, TRINITY)
    response = scim.patch(f"/Users/{trinity.id}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": f'roles[value eq "{role_ids(app)["todoer"]}"]'}]})
    assert response.status_code == 200, response.get_json()
    assert client.get("/todos").status_code == 403
    assert post(client, "/todos", title="too late").status_code == 403


def test_deactivated_user_is_signed_out_on_the_next_request(app: Any, client: Any, scim: Any) -> None:
    sign_in(client, TRINITY)
    assert client.get("/todos").status_code == 200
    trinity = user(app, TRINITY)
    response = scim.patch(f"/Users/{trinity.id}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"active": False}}]})
    assert response.status_code == 200, response.get_json()
    response = client.get("/todos")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "deactivated" in text(client.get("/login"))
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_a_user_okta_creates_with_sync_password_signs_in_with_that_password(app: Any, client: Any,
                                                                            scim: Any) -> None:
    created = new_user(scim, "neo@gridco.example", password="Pushed-by-0kta",
                       roles=[{"value": str(role_ids(app)["todoer"])}])
    with app.app_context():
        stored = db.session.get(User, int(created["id"])).password_hash
    assert stored and "Pushed-by-0kta" not in stored  # hashed by the app's own hasher
    assert sign_in(client, "neo@gridco.example", "Pushed-by-0kta").headers["Location"] == "/todos"
    assert client.get("/todos").status_code == 200
    # Okta pushes a changed password (Sync Password) as an update: the new one works, the old one no more.
    response = scim.patch(f"/Users/{created['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "password", "value": "Changed-in-0kta"}]})
    assert response.status_code == 200
    post(client, "/logout")
    assert sign_in(client, "neo@gridco.example", "Pushed-by-0kta").status_code == 401
    assert sign_in(client, "neo@gridco.example", "Changed-in-0kta").status_code == 302
    # The path-less form of the same update (interop.md: the body Okta sends is not documented).
    assert scim.patch(f"/Users/{created['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"password": "Third-0kta-pw"}}]}).status_code == 200
    post(client, "/logout")
    assert sign_in(client, "neo@gridco.example", "Third-0kta-pw").status_code == 302


def test_every_role_grants_what_its_description_says(app: Any) -> None:
    from example_app.access import PERMISSIONS

    with app.app_context():
        codes = set(db.session.scalars(db.select(Role.code)))
    assert codes == set(PERMISSIONS)
