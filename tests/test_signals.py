"""Provisioning signals: one per committed change, after the commit, with exactly what changed.

Every signal of ``flask_scim_entitlements.signals`` is exercised here through the HTTP API (on SQLite and
PostgreSQL): the payload names the tenant and the resource, ``added``/``removed`` and ``granted``/``revoked``
hold exactly the ids that changed, a request that changes nothing or is rolled back sends nothing, and a
subscriber that raises is logged without changing the answer to a committed write.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from flask_scim_entitlements import signals

from .conftest import Scim, new_user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"

ALL = ("user_created", "user_updated", "user_deactivated", "user_reactivated", "user_deleted",
       "user_grants_changed", "group_created", "group_updated", "group_deleted", "group_members_changed",
       "resource_created", "resource_updated", "resource_deleted")


@contextmanager
def recorded(app: Any) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Every signal sent for ``app``, in order, as (name, keyword arguments)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    receivers = []
    for name in ALL:
        def receiver(sender: Any, _name: str = name, **kwargs: Any) -> None:
            assert sender is app
            seen.append((_name, kwargs))
        receivers.append((getattr(signals, name), receiver))
        getattr(signals, name).connect(receiver, app)
    try:
        yield seen
    finally:
        for signal, receiver in receivers:
            signal.disconnect(receiver, app)


def _tenant(app: Any) -> Any:
    with app.app_context():
        return app.extensions["scim_entitlements"].resolve_tenant("gridco.example")


def _names(seen: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [name for name, _ in seen]


def _patch(scim: Scim, path: str, *operations: dict[str, Any]) -> Any:
    return scim.patch(path, {"schemas": [PATCH], "Operations": list(operations)})


def _roles(scim: Scim) -> dict[str, str]:
    return {r["displayName"]: r["id"] for r in scim.get("/Roles").get_json()["Resources"]}


def test_user_created_is_sent_once_with_the_document_and_grants_with_user_grants_changed(app: Any, scim: Scim) -> None:
    roles = _roles(scim)
    with recorded(app) as seen:
        user = new_user(scim, "signal.create@example.com", roles=[{"value": roles["Manager"]}])
    assert _names(seen) == ["user_created", "user_grants_changed"]
    assert seen[0][1]["id"] == user["id"] and str(seen[0][1]["tenant"]) == str(_tenant(app))
    assert seen[0][1]["resource"]["userName"] == "signal.create@example.com"
    assert seen[1][1]["granted"] == {"roles": [roles["Manager"]]} and seen[1][1]["revoked"] == {}


def test_deactivation_and_reactivation_send_their_signal_once_and_a_repeat_sends_nothing(app: Any, scim: Scim) -> None:
    uid = new_user(scim, "signal.active@example.com")["id"]
    deactivate = {"op": "replace", "value": {"active": False}}
    with recorded(app) as seen:
        assert _patch(scim, f"/Users/{uid}", deactivate).status_code == 200
        assert _patch(scim, f"/Users/{uid}", deactivate).status_code == 200  # Okta retries: no change, no signal
        assert _patch(scim, f"/Users/{uid}", {"op": "replace", "value": {"active": True}}).status_code == 200
    assert _names(seen) == ["user_updated", "user_deactivated", "user_updated", "user_reactivated"]
    assert seen[0][1]["attributes"] == ["active"] and seen[1][1]["id"] == uid


def test_user_grants_changed_names_exactly_the_roles_granted_and_revoked(app: Any, scim: Scim) -> None:
    roles = _roles(scim)
    uid = new_user(scim, "signal.grants@example.com", roles=[{"value": roles["Todo-er"]}])["id"]
    with recorded(app) as seen:
        r = _patch(scim, f"/Users/{uid}",
                   {"op": "remove", "path": f'roles[value eq "{roles["Todo-er"]}"]'},
                   {"op": "add", "path": "roles", "value": [{"value": roles["Manager"]}, {"value": roles["Todo-er"]}]},
                   {"op": "remove", "path": f'roles[value eq "{roles["Todo-er"]}"]'})
        assert r.status_code == 200
    assert _names(seen) == ["user_updated", "user_grants_changed"]
    assert seen[1][1]["granted"] == {"roles": [roles["Manager"]]}
    assert seen[1][1]["revoked"] == {"roles": [roles["Todo-er"]]}


def test_a_grant_added_and_removed_in_one_request_is_no_change_and_sends_nothing(app: Any, scim: Scim) -> None:
    roles = _roles(scim)
    uid = new_user(scim, "signal.netted@example.com")["id"]
    with recorded(app) as seen:
        r = _patch(scim, f"/Users/{uid}", {"op": "add", "path": "roles", "value": [{"value": roles["Manager"]}]},
                   {"op": "remove", "path": "roles"})
        assert r.status_code == 200
    assert seen == []


def test_group_signals_carry_exactly_the_members_added_and_removed(app: Any, scim: Scim) -> None:
    a, b, c = (new_user(scim, f"signal.member{i}@example.com")["id"] for i in range(3))
    with recorded(app) as seen:
        created = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Signalled", "members": [{"value": a}]})
        gid = created.get_json()["id"]
        assert _patch(scim, f"/Groups/{gid}", {"op": "add", "path": "members",
                                               "value": [{"value": a}, {"value": b}]}).status_code == 204
        assert _patch(scim, f"/Groups/{gid}", {"op": "replace", "path": "members",
                                               "value": [{"value": b}, {"value": c}]}).status_code == 204
        assert _patch(scim, f"/Groups/{gid}", {"op": "replace", "value": {"displayName": "Renamed"}}).status_code == 204
        assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert _names(seen) == ["group_created", "group_members_changed",
                            "group_updated", "group_members_changed",
                            "group_updated", "group_members_changed",
                            "group_updated", "group_deleted"]
    changes = [(kw["added"], kw["removed"]) for name, kw in seen if name == "group_members_changed"]
    assert changes == [([a], []), ([b], []), ([c], [a])]  # only what changed: a was already a member
    assert seen[6][1]["attributes"] == ["displayName"] and seen[7][1]["id"] == gid


def test_member_only_adds_never_report_members_as_removed(app: Any, scim: Scim) -> None:
    ids = [new_user(scim, f"signal.only{i}@example.com")["id"] for i in range(3)]
    gid = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Adds"}).get_json()["id"]
    with recorded(app) as seen:
        for uid in ids:
            assert _patch(scim, f"/Groups/{gid}", {"op": "add", "path": "members",
                                                   "value": [{"value": uid}]}).status_code == 204
    assert [(kw["added"], kw["removed"]) for name, kw in seen if name == "group_members_changed"] == \
        [([uid], []) for uid in ids]


def test_user_deleted_is_sent_once_and_a_repeated_delete_is_404_without_a_signal(app: Any, scim: Scim) -> None:
    uid = new_user(scim, "signal.deleted@example.com")["id"]
    with recorded(app) as seen:
        assert scim.delete(f"/Users/{uid}").status_code == 204
        assert scim.delete(f"/Users/{uid}").status_code == 404
    assert _names(seen) == ["user_deleted"] and seen[0][1]["id"] == uid


def test_a_rolled_back_request_sends_no_signal(app: Any, scim: Scim) -> None:
    uid = new_user(scim, "signal.rollback@example.com")["id"]
    with recorded(app) as seen:
        r = _patch(scim, f"/Users/{uid}", {"op": "replace", "value": {"active": False}},
                   {"op": "add", "path": "roles", "value": [{"value": "999999"}]})
        assert r.status_code == 400
    assert seen == []
    assert scim.get(f"/Users/{uid}").get_json()["active"] is True


def test_a_raising_subscriber_is_logged_and_the_committed_write_still_answers_200(
        app: Any, scim: Scim, caplog: pytest.LogCaptureFixture) -> None:
    uid = new_user(scim, "signal.raising@example.com")["id"]
    later: list[str] = []

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("the host's sign-out failed")

    def after(sender: Any, **kwargs: Any) -> None:
        later.append(kwargs["id"])

    with signals.user_deactivated.connected_to(broken, app), signals.user_deactivated.connected_to(after, app), \
            caplog.at_level(logging.ERROR, logger="flask_scim_entitlements.signals"):
        r = _patch(scim, f"/Users/{uid}", {"op": "replace", "value": {"active": False}})
    assert r.status_code == 200 and r.get_json()["active"] is False
    assert later == [uid]  # the other subscribers still run
    record = next(rec for rec in caplog.records if rec.name == "flask_scim_entitlements.signals")
    assert "scim-user-deactivated" in record.getMessage() and uid in record.getMessage()
    assert repr(str(_tenant(app))) in record.getMessage() and record.exc_info is not None
    assert scim.get(f"/Users/{uid}").get_json()["active"] is False


def _role_names(app: Any) -> set[str]:
    from example_app.models import Role, db

    with app.app_context():
        return set(db.session.scalars(db.select(Role.name)))


def test_what_a_raising_subscriber_left_in_the_session_is_not_committed_with_the_request(
        app: Any, scim: Scim) -> None:
    """A subscriber runs after the request's commit: a write of its own it does not commit is not kept."""
    from example_app.models import Role, db

    def half_done(sender: Any, **kwargs: Any) -> None:
        db.session.add(Role(name="Half-done", code="half-done"))
        db.session.flush()
        raise RuntimeError("the host's follow-up failed half-way")

    with signals.user_created.connected_to(half_done, app):
        r = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                 "userName": "signal.half@example.com"})
    assert r.status_code == 201
    assert "Half-done" not in _role_names(app)
    assert scim.get(f"/Users/{r.get_json()['id']}").status_code == 200


def test_a_subscribers_failed_flush_leaves_the_answer_to_a_committed_write_as_it_was(app: Any, scim: Scim) -> None:
    from example_app.models import Role, db

    def clashing(sender: Any, **kwargs: Any) -> None:
        db.session.add_all([Role(name="Twin", code="twin-1"), Role(name="Twin", code="twin-2")])
        db.session.flush()  # IntegrityError: the session now needs a rollback

    with signals.user_created.connected_to(clashing, app):
        r = scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                 "userName": "signal.clash@example.com"})
    assert r.status_code == 201, r.get_json()
    assert "Twin" not in _role_names(app)
    assert scim.get(f"/Users/{r.get_json()['id']}").status_code == 200
