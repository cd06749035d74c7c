"""A POST answers with the document a GET of the new resource returns, byte for byte (ETag included),
whether the store built it from what it wrote or read it back (Store.created_document)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from example_app.models import Characteristic, Group, Role, User, db, group_members
from flask_scim_entitlements.store import Store

from .conftest import Scim

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _ids(app: Any, model: Any) -> dict[str, str]:
    with app.app_context():
        return {row.name: str(row.id) for row in db.session.scalars(sa.select(model))}


def _post_then_get(scim: Scim, endpoint: str, body: dict[str, Any]) -> tuple[Any, Any]:
    created = scim.post(endpoint, body)
    assert created.status_code == 201, created.get_json()
    fetched = scim.get(f"{endpoint}/{created.get_json()['id']}")
    assert fetched.status_code == 200
    return created, fetched


def _same(created: Any, fetched: Any) -> None:
    assert created.data == fetched.data
    assert created.headers["ETag"] == fetched.headers["ETag"] == fetched.get_json()["meta"]["version"]


def test_a_created_user_with_emails_answers_the_bytes_and_etag_a_get_returns(scim: Scim) -> None:
    body = {"schemas": [USER], "userName": "ann@example.com", "externalId": "00u1", "displayName": "Ann",
            "name": {"givenName": "Ann", "familyName": "Lee"}, "active": True, "password": "s3cret-Passw0rd",
            "emails": [{"value": "ann@home.example", "type": "home"},
                       {"value": "ann@example.com", "type": "work", "primary": True, "display": "Work"},
                       {"value": "ann@other.example"}]}
    created, fetched = _post_then_get(scim, "/Users", body)
    _same(created, fetched)
    assert [e["value"] for e in created.get_json()["emails"]] == ["ann@home.example", "ann@example.com",
                                                               "ann@other.example"]


def test_a_created_user_with_no_emails_answers_the_bytes_and_etag_a_get_returns(scim: Scim) -> None:
    _same(*_post_then_get(scim, "/Users", {"schemas": [USER], "userName": "bob@example.com"}))


def test_a_created_user_with_roles_and_entitlements_answers_what_a_get_returns(app: Any, scim: Scim) -> None:
    roles, chars = _ids(app, Role), _ids(app, Characteristic)
    created, fetched = _post_then_get(scim, "/Users", {
        "schemas": [USER], "userName": "cy@example.com", "emails": [{"value": "cy@example.com"}],
        "roles": [{"value": roles["Manager"]}], "entitlements": [{"value": chars["is_tall"]}]})
    _same(created, fetched)
    assert created.get_json()["roles"] == [{"value": roles["Manager"], "display": "Manager"}]


def test_a_created_group_with_and_without_members_answers_what_a_get_returns(scim: Scim) -> None:
    _same(*_post_then_get(scim, "/Groups", {"schemas": [GROUP], "displayName": "Empty"}))
    member = scim.post("/Users", {"schemas": [USER], "userName": "dee@example.com"}).get_json()
    _same(*_post_then_get(scim, "/Groups", {"schemas": [GROUP], "displayName": "Full",
                                            "members": [{"value": member["id"]}]}))


def test_a_created_user_is_read_back_when_a_host_insert_listener_writes_a_link(app: Any, scim: Scim) -> None:
    """An ORM event of the host's puts every new user in a group: the POST shows it, as the GET does."""
    with app.app_context():
        org_id = db.session.scalar(sa.select(User.org_id).limit(1))
        group = Group(org_id=org_id, name="Everyone")
        db.session.add(group)
        db.session.commit()
        group_id = group.id

    def join_everyone(_mapper: Any, connection: Any, target: Any) -> None:
        connection.execute(sa.insert(group_members).values(group_id=group_id, user_id=target.id))

    sa.event.listen(User, "after_insert", join_everyone)
    try:
        created, fetched = _post_then_get(scim, "/Users", {"schemas": [USER], "userName": "eve@example.com",
                                                           "emails": [{"value": "eve@example.com"}]})
    finally:
        sa.event.remove(User, "after_insert", join_everyone)
    _same(created, fetched)
    assert [g["value"] for g in created.get_json()["groups"]] == [str(group_id)]


def test_a_created_user_with_emails_is_built_without_reading_its_children_back(app: Any, scim: Scim,
                                                                              monkeypatch: Any) -> None:
    reads: list[Any] = []
    original = Store._children

    def counted(self: Store, *args: Any, **kwargs: Any) -> Any:
        reads.append(args[0].name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Store, "_children", counted)
    created = scim.post("/Users", {"schemas": [USER], "userName": "fay@example.com",
                                   "emails": [{"value": "fay@example.com", "primary": True}]})
    assert created.status_code == 201
    assert reads == []
    assert created.get_json()["emails"] == [{"value": "fay@example.com", "primary": True}]
