"""The Todo app's web side: roles provisioned over SCIM decide what a signed-in user may do.

Runs on SQLite and PostgreSQL (the ``app`` fixture).  Seed: org gridco.example,
Somnus (no role) and Trinity (Todo-er), password "password", one todo each.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from example_app import activity
from example_app.models import Characteristic, Org, Role, ScimActivity, Todo, User, db
from tests.conftest import issue_token, new_user

SOMNUS = "somnus@gridco.example"
TRINITY = "trinity@gridco.example"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def text(response: Any) -> str:
    """The page as a reader sees it (Jinja escapes the apostrophe in "Trinity's")."""
    return html.unescape(response.get_data(as_text=True))


def user(app: Any, user_name: str) -> User:
    with app.app_context():
        found = db.session.scalar(db.select(User).filter_by(user_name=user_name))
        assert found is not None
        db.session.expunge(found)
        return found


def grant(app: Any, user_name: str, *codes: str) -> None:
    """Set a user's roles in the database, as a SCIM role grant would."""
    with app.app_context():
        target = db.session.scalar(db.select(User).filter_by(user_name=user_name))
        target.roles = list(db.session.scalars(db.select(Role).where(Role.code.in_(codes))))
        db.session.commit()


def todo_of(app: Any, user_name: str) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Todo.id).join(Todo.owner).where(User.user_name == user_name))


def post(client: Any, url: str, **form: str) -> Any:
    """POST a form as our own pages do, with the session's CSRF token."""
    with client.session_transaction() as session:
        form["csrf_token"] = session.setdefault("csrf_token", "test-csrf-token")
    return client.post(url, data=form)


def sign_in(client: Any, email: str, password: str = "password") -> Any:
    return post(client, "/login", email=email, password=password)


def other_org_with_todo(app: Any) -> int:
    """A second tenant, with a user holding every role and one todo; returns the todo id."""
    with app.app_context():
        org = Org(domain="acme.example", name="Acme")
        db.session.add(org)
        db.session.flush()
        boss = User(org_id=org.id, user_name="boss@acme.example", active=True)
        boss.set_password("password")
        boss.roles = list(db.session.scalars(db.select(Role)))
        db.session.add(boss)
        db.session.flush()
        todo = Todo(org_id=org.id, owner_id=boss.id, title="Acme secret plan")
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
    for path in ("/todos", "/me", "/admin"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")


def test_forms_without_the_session_csrf_token_are_rejected(client: Any) -> None:
    sign_in(client, TRINITY)
    assert client.post("/todos", data={"title": "forged"}).status_code == 400
    assert post(client, "/todos", title="real").status_code == 302


def test_sign_out_ends_the_session(client: Any) -> None:
    sign_in(client, TRINITY)
    assert post(client, "/logout").headers["Location"] == "/login"
    assert client.get("/todos").status_code == 302


def test_user_without_role_sees_no_access_page(client: Any) -> None:
    sign_in(client, SOMNUS)
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


def test_manager_deletes_any_todo_in_the_org(app: Any, client: Any) -> None:
    grant(app, SOMNUS, "manager")
    sign_in(client, SOMNUS)
    page = text(client.get("/todos"))
    assert "Trinity's first todo" in page and 'class="delete"' in page and ">Admin<" in page
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


def test_me_shows_roles_and_entitlements_from_the_database(app: Any, client: Any) -> None:
    sign_in(client, TRINITY)
    assert "Todo-er" in text(client.get("/me"))
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


def test_admin_page_lists_org_users_and_scim_activity(app: Any, client: Any, scim: Any) -> None:
    other_org_with_todo(app)
    acme = issue_token(app, "acme.example")
    client.get("/scim/v2/Users?filter=userName%20eq%20%22acme-only%22", headers={"Authorization": f"Bearer {acme}"})
    trinity = user(app, TRINITY)
    deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    assert scim.patch(f"/Users/{trinity.id}", deactivate).status_code == 200
    grant(app, SOMNUS, "manager")
    sign_in(client, SOMNUS)
    page = text(client.get("/admin"))
    assert TRINITY in page and "inactive" in page and "Manager" in page
    assert "boss@acme.example" not in page
    assert f"/scim/v2/Users/{trinity.id}" in page and "PATCH" in page
    assert "acme-only" not in page


def test_revoked_role_is_gone_on_the_next_request(app: Any, client: Any, scim: Any) -> None:
    sign_in(client, TRINITY)
    assert client.get("/todos").status_code == 200
    trinity, role_id = user(app, TRINITY), todoer_id(app)
    response = scim.patch(f"/Users/{trinity.id}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": f'roles[value eq "{role_id}"]'}]})
    assert response.status_code == 200, response.get_json()
    assert client.get("/todos").status_code == 403
    assert post(client, "/todos", title="too late").status_code == 403


def todoer_id(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(db.select(Role.id).filter_by(code="todoer"))


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
        assert "user_id" not in session


def test_scim_activity_is_recorded_per_org_with_secrets_redacted(app: Any, client: Any, scim: Any) -> None:
    assert scim.get("/Users?count=1&access_token=abc123&password=hunter2").status_code == 200
    client.get("/scim/v2/Users")  # no credential: recorded, but for no org
    sign_in(client, TRINITY)
    client.get("/todos")  # the web side is not SCIM activity
    with app.app_context():
        rows = db.session.scalars(db.select(ScimActivity).order_by(ScimActivity.id)).all()
        org_id = db.session.scalar(db.select(Org.id).filter_by(domain="gridco.example"))
    assert [(r.method, r.status) for r in rows] == [("GET", 200), ("GET", 401)]
    first = rows[0]
    assert first.path == "/scim/v2/Users?count=1&access_token=[REDACTED]&password=[REDACTED]"
    assert first.org_id == org_id and first.duration_ms >= 0 and first.created_at is not None
    assert rows[1].org_id is None


def test_scim_activity_keeps_only_the_newest_rows_per_org(app: Any) -> None:
    with app.app_context():
        org_id = db.session.scalar(db.select(Org.id).filter_by(domain="gridco.example"))
        for i in range(10):
            db.session.add(ScimActivity(org_id=org_id, method="GET", path=f"/scim/v2/Users/{i}", status=200,
                                        duration_ms=1.0))
        db.session.add(ScimActivity(org_id=None, method="GET", path="/scim/v2/Users", status=401, duration_ms=1.0))
        db.session.commit()
        activity.prune(org_id, keep=3)
        db.session.commit()
        paths = db.session.scalars(db.select(ScimActivity.path).filter_by(org_id=org_id).order_by(ScimActivity.id))
        assert list(paths) == ["/scim/v2/Users/7", "/scim/v2/Users/8", "/scim/v2/Users/9"]
        assert db.session.scalar(db.select(db.func.count()).where(ScimActivity.org_id.is_(None))) == 1


def test_every_request_is_logged_at_info_as_method_path_status_duration(client: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="example_app.requests")
    client.get("/login?reset_token=abc")
    messages = [r.getMessage() for r in caplog.records if r.name == "example_app.requests"]
    assert len(messages) == 1
    method, path, status, duration, unit = messages[0].split(" ")
    assert (method, path, status, unit) == ("GET", "/login?reset_token=[REDACTED]", "200", "ms")
    assert float(duration) >= 0


def test_scim_write_bodies_are_logged_only_at_debug_with_secrets_redacted(client: Any, scim: Any,
                                                                         caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="example_app.requests")
    new_user(scim, "quiet@gridco.example", password="Sup3rSecret!")
    assert not any("body" in r.getMessage() for r in caplog.records)
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="example_app.requests")
    created = new_user(scim, "loud@gridco.example", password="Sup3rSecret!")
    scim.patch(f"/Users/{created['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "password", "value": "N3wSecret!"}]})
    bodies = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(bodies) == 2
    assert "loud@gridco.example" in bodies[0] and "[REDACTED]" in bodies[0]
    assert "Authorization: Bearer [REDACTED]" in bodies[0]
    text = caplog.text
    assert "Sup3rSecret!" not in text and "N3wSecret!" not in text and scim.token not in text
