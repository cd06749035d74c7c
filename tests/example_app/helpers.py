"""What the example app's tests share: signing in through the forms (with Flask-WTF's CSRF token),
reading pages as a person does, and a SCIM client whose responses are closed as a WSGI server closes
them (the activity log is written then, after the response)."""

from __future__ import annotations

import html
import re
from typing import Any

from werkzeug.datastructures import MultiDict

from example_app.models import Org, Role, User, db
from tests.conftest import Scim

SOMNUS = "somnus@gridco.example"  # seeded: Manager
TRINITY = "trinity@gridco.example"  # seeded: Todo-er
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


class ClosingScim(Scim):
    """Every response is read and closed at once, as a WSGI server does after sending it."""

    def get(self, path: str, **kw: Any) -> Any:
        return super().get(path, buffered=True, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return super().delete(path, buffered=True, **kw)

    def _send(self, method: str, path: str, body: Any, content_type: str = "application/scim+json; charset=utf-8",
              **kw: Any) -> Any:
        return super()._send(method, path, body, content_type, buffered=True, **kw)


def text(response: Any) -> str:
    """The page as a reader sees it (Jinja escapes the apostrophe in "Trinity's")."""
    return html.unescape(response.get_data(as_text=True))


def csrf_token(client: Any) -> str:
    """The token our own forms carry (Flask-WTF signs it and binds it to the session)."""
    page = client.get("/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def post(client: Any, url: str, data: Any = None, **form: Any) -> Any:
    """POST a form as our own pages do, with a valid CSRF token."""
    token = csrf_token(client)
    if data is not None:
        return client.post(url, data=MultiDict([*data, ("csrf_token", token)]))
    return client.post(url, data={**form, "csrf_token": token})


def sign_in(client: Any, email: str, password: str = "password", next_url: str | None = None) -> Any:
    url = "/login" if next_url is None else f"/login?next={next_url}"
    return post(client, url, email=email, password=password)


def user(app: Any, user_name: str) -> User:
    with app.app_context():
        found = db.session.scalar(db.select(User).filter_by(user_name=user_name))
        assert found is not None
        db.session.expunge(found)
        return found


def role_ids(app: Any) -> dict[str, int]:
    with app.app_context():
        return {code: role_id for code, role_id in db.session.execute(db.select(Role.code, Role.id))}


def grant(app: Any, user_name: str, *codes: str) -> None:
    """Set a user's direct roles in the database, as a SCIM role grant would."""
    with app.app_context():
        target = db.session.scalar(db.select(User).filter_by(user_name=user_name))
        target.roles = list(db.session.scalars(db.select(Role).where(Role.code.in_(codes))))
        db.session.commit()


def person(app: Any, user_name: str, *codes: str, domain: str = "gridco.example") -> int:
    """A user with password "password" and the given roles, in the org ``domain`` (created if new)."""
    with app.app_context():
        org = db.session.scalar(db.select(Org).filter_by(domain=domain))
        if org is None:
            org = Org(domain=domain, name=domain.split(".")[0].title())
            db.session.add(org)
            db.session.flush()
        new = User(org_id=org.id, user_name=user_name, active=True)
        new.set_password("password")
        new.roles = list(db.session.scalars(db.select(Role).where(Role.code.in_(codes))))
        db.session.add(new)
        db.session.commit()
        return new.id
