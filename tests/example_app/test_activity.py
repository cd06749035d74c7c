"""The admin's activity log: each SCIM write says what it changed; reads are only counted.

Off the request's critical path (issue 13): a write's event is stored after its response is sent, and
a read costs no statement at all until a batch of counts is due.  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from typing import Any

from werkzeug.serving import make_server

from example_app import create_app
from example_app.models import ActivityEvent, Org, RequestCount, db
from tests.conftest import issue_token, new_user
from tests.test_query_counts import counting as statements

from .helpers import GROUP_URN, PATCH_OP, SOMNUS, TRINITY, ClosingScim, role_ids, sign_in, text, user


def events(app: Any, domain: str = "gridco.example") -> list[ActivityEvent]:
    with app.app_context():
        org_id = db.session.scalar(db.select(Org.id).filter_by(domain=domain))
        rows = db.session.scalars(db.select(ActivityEvent).filter_by(org_id=org_id).order_by(ActivityEvent.id)).all()
        db.session.expunge_all()
        return list(rows)


def test_each_write_says_what_it_changed_by_name_and_never_a_secret(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    roles = role_ids(app)
    created = new_user(scim, "neo@gridco.example", password="Sup3rSecret!", roles=[{"value": str(roles["todoer"])}])
    uid = created["id"]
    scim.patch(f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "displayName", "value": "The One"},
        {"op": "replace", "path": "password", "value": "N3wSecret!"}]})
    scim.patch(f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "add", "path": "roles", "value": [{"value": str(roles["manager"])}]},
        {"op": "remove", "path": f'roles[value eq "{roles["todoer"]}"]'}]})
    scim.patch(f"/Users/{uid}", {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]})
    group = scim.post("/Groups", {"schemas": [GROUP_URN], "displayName": "Zion",
                                  "members": [{"value": uid}]}).get_json()
    scim.patch(f"/Groups/{group['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": f'members[value eq "{uid}"]'}]})
    scim.delete(f"/Users/{uid}")

    logged = [(e.resource_type, e.label, e.action, e.details) for e in events(app)]
    assert logged[0][:3] == ("User", "neo@gridco.example", "created")
    assert "userName" in logged[0][3]["attributes"] and logged[0][3]["granted"] == {"roles": ["Todo-er"]}
    assert logged[1] == ("User", "neo@gridco.example", "updated", {"attributes": ["displayName", "password"]})
    assert logged[2] == ("User", "neo@gridco.example", "updated",
                         {"granted": {"roles": ["Manager"]}, "revoked": {"roles": ["Todo-er"]}})
    assert logged[3] == ("User", "neo@gridco.example", "updated", {"attributes": ["active"], "active": False})
    assert logged[4][:3] == ("Group", "Zion", "created") and logged[4][3]["added"] == ["neo@gridco.example"]
    assert logged[5] == ("Group", "Zion", "updated", {"removed": ["neo@gridco.example"]})
    assert logged[6] == ("User", "neo@gridco.example", "deleted", {})

    sign_in(client, SOMNUS)
    page = text(client.get("/admin/activity"))
    assert "granted roles: Manager" in page and "revoked roles: Todo-er" in page
    assert "members removed: neo@gridco.example" in page and "deactivated" in page
    assert page.index("deleted") < page.index("created")  # newest first
    assert "Sup3rSecret!" not in page and "N3wSecret!" not in page
    assert "Sup3rSecret!" not in repr(logged) and "N3wSecret!" not in repr(logged)


def test_a_read_costs_no_statement_of_the_log_until_a_batch_of_counts_is_due(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    app.extensions["todo_activity"].every = 3
    trinity = user(app, TRINITY).id
    with statements(app) as seen:
        for _ in range(2):
            assert scim.get(f"/Users/{trinity}").status_code == 200
    assert not seen.touching("request_counts") and not seen.touching("activity_events")
    with statements(app) as seen:
        assert scim.get("/Users?count=1&access_token=abc").status_code == 200  # the third: the batch is due
    assert seen.touching("request_counts")
    with app.app_context():
        counts = {(r.method, r.endpoint, r.status): r.count for r in db.session.scalars(db.select(RequestCount))}
    assert counts == {("GET", "/Users/{resource_id}", 200): 2, ("GET", "/Users", 200): 1}


def test_reads_are_summarised_per_endpoint_on_the_activity_page(app: Any, client: Any) -> None:
    scim = ClosingScim(client, issue_token(app, "gridco.example"))
    for _ in range(4):
        scim.get('/Users?filter=userName eq "trinity@gridco.example"')
    scim.get("/Users/999999")
    sign_in(client, SOMNUS)
    page = text(client.get("/admin/activity"))  # the admin page writes this process's pending counts first
    assert "GET /Users</code></td><td>200</td><td>4<" in page
    assert "GET /Users/{resource_id}</code></td><td>404</td><td>1<" in page
    assert "trinity@gridco.example" not in page  # never a query string


def test_the_activity_log_is_per_org(app: Any, client: Any) -> None:
    acme = ClosingScim(app.test_client(), issue_token(app, "acme.example"))
    new_user(acme, "acme-only@acme.example")
    acme.get("/Users")
    sign_in(client, SOMNUS)
    assert "acme-only" not in text(client.get("/admin/activity"))
    assert "acme-only" not in text(client.get("/admin"))
    assert [e.label for e in events(app, "acme.example")] == ["acme-only@acme.example"]


def test_the_activity_log_is_paged_newest_first(app: Any, client: Any) -> None:
    with app.app_context():
        org_id = db.session.scalar(db.select(Org.id).filter_by(domain="gridco.example"))
        db.session.add_all([ActivityEvent(org_id=org_id, action="updated", resource_type="User",
                                          resource_id=str(n), label=f"user{n:02d}@gridco.example", details={})
                            for n in range(30)])
        db.session.commit()
    sign_in(client, SOMNUS)
    first = text(client.get("/admin/activity"))
    assert "user29@" in first and "user05@" in first and "user04@" not in first
    assert first.index("user29@") < first.index("user28@") and 'id="older"' in first and 'id="newer"' not in first
    second = text(client.get("/admin/activity?page=2"))
    assert "user04@" in second and "user00@" in second and "user05@" not in second and 'id="older"' not in second


def test_the_activity_log_can_be_switched_off(database_url: str) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "x",
                      "ACTIVITY_LOG": False})
    with app.app_context():
        db.drop_all()
        db.create_all()
        from example_app.commands import seed_data

        seed_data()
    try:
        scim = ClosingScim(app.test_client(), issue_token(app, "gridco.example"))
        with statements(app) as seen:
            new_user(scim, "quiet@gridco.example")
            scim.get("/Users")
        assert not seen.touching("activity_events") and not seen.touching("request_counts")
        assert events(app) == []
        assert "todo_activity" not in app.extensions
    finally:
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def test_every_request_is_logged_at_info_as_method_path_status_duration(client: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="example_app.requests")
    client.get("/login?reset_token=abc")
    messages = [r.getMessage() for r in caplog.records if r.name == "example_app.requests"]
    assert len(messages) == 1
    method, path, status, duration, unit = messages[0].split(" ")
    assert (method, path, status, unit) == ("GET", "/login?reset_token=[REDACTED]", "200", "ms")
    assert float(duration) >= 0


def test_a_served_request_is_logged_once_not_again_by_the_development_server(app: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"http://127.0.0.1:{server.server_port}/login?secret_token=abc", timeout=10) as response:
            assert response.status == 200
    finally:
        server.shutdown()
        thread.join(10)
    lines = [r.getMessage() for r in caplog.records if "/login" in r.getMessage()]
    assert lines == [lines[0]] and lines[0].startswith("GET /login?secret_token=[REDACTED] 200 ")


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
    text_ = caplog.text
    assert "Sup3rSecret!" not in text_ and "N3wSecret!" not in text_ and scim.token not in text_
