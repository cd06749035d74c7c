"""The store's cost rules (store.py): a page and its links load in a constant, pinned number of statements.

Statements are counted with a ``before_cursor_execute`` listener on the
engine (one event per statement, an ``executemany`` counting once), around a
whole request, authentication included: only the size of the data varies
between the compared requests, so any per-row or per-member statement shows
up as a difference.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from example_app.models import Group, Org, Role, User, UserEmail, db, group_members, user_roles

from .conftest import Scim

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Statements:
    """The statements of a request, less the one that sets its statement timeout on PostgreSQL
    (``SCIM_STATEMENT_TIMEOUT_MS``, one ``set_config`` per request), which is counted apart in ``timeouts``."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self.timeouts = 0

    def __len__(self) -> int:
        return len(self.texts)

    def touching(self, table: str) -> list[str]:
        return [text for text in self.texts if table in text.lower()]


@contextmanager
def counting(app: Any) -> Iterator[Statements]:
    seen = Statements()

    def listener(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if statement.startswith("SELECT set_config("):
            seen.timeouts += 1
        else:
            seen.texts.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)


def _org_id(app: Any) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Org.id).filter_by(domain="gridco.example"))


def _bulk_users(app: Any, n: int, prefix: str) -> list[int]:
    """``n`` users with two emails each, inserted in bulk; their ids."""
    org_id = _org_id(app)
    with app.app_context():
        rows = [{"org_id": org_id, "user_name": f"{prefix}{i}@example.com",
                 "first_name": "First", "last_name": f"Last{i}", "display_name": f"{prefix} {i}", "active": True}
                for i in range(n)]
        db.session.execute(sa.insert(User), rows)
        ids = list(db.session.scalars(sa.select(User.id).where(User.user_name.like(f"{prefix}%")).order_by(User.id)))
        db.session.execute(sa.insert(UserEmail), [
            {"user_id": u, "value": f"{prefix}{i}@{domain}", "type": kind, "primary": kind == "work"}
            for i, u in enumerate(ids) for domain, kind in (("example.com", "work"), ("home.example", "home"))])
        db.session.commit()
        return ids


def _bulk_group(app: Any, name: str, member_ids: list[int]) -> int:
    org_id = _org_id(app)
    with app.app_context():
        group = Group(org_id=org_id, name=name)
        db.session.add(group)
        db.session.flush()
        if member_ids:
            db.session.execute(sa.insert(group_members), [{"group_id": group.id, "user_id": u} for u in member_ids])
        db.session.commit()
        return group.id


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def _warm_token(scim: Scim) -> None:
    """Verified tokens are cached per process (test_token_cache.py): count what a request costs after the first."""
    _ok(scim.get("/ServiceProviderConfig"))


def test_user_list_costs_three_statements_for_1_10_and_100_users_with_emails_groups_and_roles(
        app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 120, "pager")
    for g in range(4):
        _bulk_group(app, f"pager-group-{g}", ids[g % 2::2])  # every user is in two groups
    with app.app_context():
        roles = list(db.session.scalars(sa.select(Role.id)))
        db.session.execute(sa.insert(user_roles), [{"user_id": u, "role_id": r} for u in ids for r in roles[:2]])
        db.session.commit()
    _warm_token(scim)

    for n in (1, 10, 100):
        with counting(app) as seen:
            body = _ok(scim.get(f"/Users?count={n}&filter=" + quote('userName sw "pager"')))
        assert body["itemsPerPage"] == n
        resource = body["Resources"][-1]
        assert len(resource["emails"]) == 2 and len(resource["groups"]) == 2 and len(resource["roles"]) == 2
        # the page, its COUNT (a full page does not prove the total), and ONE statement for every
        # email, group, role and entitlement of the page's users
        assert len(seen) == 3, seen.texts
        links = seen.touching("user_emails")
        assert len(links) == 1 and all(t in links[0].lower() for t in ("group_members", "user_roles",
                                                                        "user_characteristics"))


def test_okta_lookup_and_get_by_id_cost_two_statements(app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 3, "single")
    _bulk_group(app, "single-group", ids)
    _warm_token(scim)
    with counting(app) as seen:
        body = _ok(scim.get("/Users?filter=" + quote('userName eq "single1@example.com"')))
    assert body["totalResults"] == 1 and body["Resources"][0]["groups"]
    assert len(seen) == 2, seen.texts  # the user, its links; no COUNT: a short page proves the total
    with counting(app) as seen:
        assert _ok(scim.get(f"/Users/{ids[1]}"))["emails"]
    assert len(seen) == 2, seen.texts


def test_a_token_is_checked_in_the_database_on_its_first_request_only(app: Any, scim: Scim) -> None:
    with counting(app) as first:
        _ok(scim.get("/ServiceProviderConfig"))
    with counting(app) as second:
        _ok(scim.get("/ServiceProviderConfig"))
    assert len(first.touching("scim_token")) == 1 and second.touching("scim_token") == []


def test_group_read_costs_the_same_statements_for_1_and_500_members(app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 500, "member")
    small = _bulk_group(app, "small", ids[:1])
    large = _bulk_group(app, "large", ids)

    _warm_token(scim)
    for name, group_id, size in (("small", small, 1), ("large", large, 500)):
        with counting(app) as seen:
            body = _ok(scim.get("/Groups?filter=" + quote(f'displayName eq "{name}"')))
        assert len(body["Resources"][0]["members"]) == size
        with counting(app) as seen_one:
            assert len(_ok(scim.get(f"/Groups/{group_id}"))["members"]) == size
        assert (len(seen), len(seen_one)) == (2, 2), (seen.texts, seen_one.texts)


def test_group_members_are_read_without_joining_users_unless_display_is_asked_for(app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 5, "shown")
    group_id = _bulk_group(app, "shown", ids)
    _warm_token(scim)
    with counting(app) as seen:
        members = _ok(scim.get(f"/Groups/{group_id}"))["members"]
    assert members and all("display" not in m for m in members)
    assert not any("join users" in t.lower() for t in seen.touching("group_members"))
    with counting(app) as seen:
        members = _ok(scim.get(f"/Groups/{group_id}?attributes=members.display"))["members"]
    assert [m["display"] for m in members] == [f"shown {i}" for i in range(5)]
    assert any("join users" in t.lower() for t in seen.touching("group_members"))


def test_group_list_excluding_members_issues_no_query_on_the_membership_table(app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 20, "quiet")
    _bulk_group(app, "quiet", ids)
    with counting(app) as seen:
        body = _ok(scim.get("/Groups?excludedAttributes=members"))
    assert body["Resources"] and all("members" not in group for group in body["Resources"])
    assert seen.touching("group_members") == []
    # The control: with members, the same request does read the membership table.
    with counting(app) as seen:
        _ok(scim.get("/Groups"))
    assert seen.touching("group_members")


def test_group_patch_adding_10_1000_or_12000_members_costs_the_same_statements(app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 13010, "joiner")
    _warm_token(scim)
    counts = {}
    for size, members in ((10, ids[:10]), (1000, ids[10:1010]), (12000, ids[1010:13010])):
        group_id = _bulk_group(app, f"joiners-{size}", [])
        body = {"schemas": [PATCH], "Operations": [
            {"op": "add", "path": "members", "value": [{"value": str(u)} for u in members]}]}
        with counting(app) as seen:
            response = scim.patch(f"/Groups/{group_id}", body)
        assert response.status_code in (200, 204), response.get_json()
        counts[size] = len(seen)
        with app.app_context():
            stored = db.session.scalar(sa.select(sa.func.count()).select_from(group_members)
                                       .where(group_members.c.group_id == group_id))
        assert stored == size
    assert counts[10] == counts[1000] == counts[12000], counts


def test_group_patch_removing_10_or_5000_members_costs_the_same_statements(app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 5010, "leaver")
    _warm_token(scim)
    counts = {}
    for size, members in ((10, ids[:10]), (5000, ids[10:5010])):
        group_id = _bulk_group(app, f"leavers-{size}", members)
        body = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "members", "value": []}]}
        with counting(app) as seen:
            assert scim.patch(f"/Groups/{group_id}", body).status_code in (200, 204)
        counts[size] = len(seen)
        with app.app_context():
            assert not db.session.scalar(sa.select(sa.func.count()).select_from(group_members)
                                         .where(group_members.c.group_id == group_id))
    assert counts[10] == counts[5000], counts


def _reads_named_ids_only(statements: list[str]) -> list[str]:
    """The statements on the membership table that could read links the request did not name."""
    return [text for text in statements
            if not text.lstrip().upper().startswith("INSERT") and (" IN (" not in text or "NOT IN" in text)]


def test_a_one_member_patch_costs_the_same_statements_on_an_empty_and_a_3000_member_group(app: Any, scim: Scim) -> None:
    """Cost follows the change: adding or removing one member never reads the group's membership list."""
    ids = _bulk_users(app, 3004, "onemember")
    empty, large = _bulk_group(app, "empty", []), _bulk_group(app, "large", ids[:3000])
    _warm_token(scim)
    counts: dict[str, tuple[int, int]] = {}
    for name, group_id, joining in (("empty", empty, ids[3000]), ("large", large, ids[3001])):
        add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": str(joining)}]}]}
        remove = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": f'members[value eq "{joining}"]'}]}
        with counting(app) as added:
            assert scim.patch(f"/Groups/{group_id}", add).status_code == 204
        with counting(app) as removed:
            assert scim.patch(f"/Groups/{group_id}", remove).status_code == 204
        for seen in (added, removed):
            assert _reads_named_ids_only(seen.touching("group_members")) == [], seen.touching("group_members")
        counts[name] = (len(added), len(removed))
    assert counts["empty"] == counts["large"], counts
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(group_members)
                                 .where(group_members.c.group_id == large)) == 3000


def test_renaming_a_large_group_never_touches_its_membership_table(app: Any, scim: Scim) -> None:
    group_id = _bulk_group(app, "renamed", _bulk_users(app, 500, "renamer"))
    body = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"id": str(group_id), "displayName": "New"}}]}
    with counting(app) as seen:
        response = scim.patch(f"/Groups/{group_id}", body)
    assert response.status_code == 204 and response.data == b""  # SCIM_PATCH_RESPONSE="auto": no member list
    assert seen.touching("group_members") == []


def test_the_membership_shape_check_catches_a_patch_that_reads_the_whole_membership() -> None:
    """The control for the two tests above: what reading every member looks like is caught."""
    whole = "SELECT group_members.user_id FROM group_members WHERE group_members.group_id = ?"
    named = "SELECT group_members.user_id FROM group_members WHERE group_members.group_id = ? AND " \
            "group_members.user_id IN (SELECT value FROM json_each(?))"
    everything_but = "SELECT user_id FROM group_members WHERE group_id = ? AND user_id NOT IN (SELECT 1)"
    assert _reads_named_ids_only([whole, named, everything_but]) == [whole, everything_but]


def test_a_request_sets_its_statement_timeout_once_on_postgresql_only(app: Any, scim: Scim) -> None:
    _warm_token(scim)
    with counting(app) as seen:
        _ok(scim.get("/Users?count=1"))
    with app.app_context():
        expected = 1 if db.engine.dialect.name == "postgresql" else 0
    assert seen.timeouts == expected



@contextmanager
def transaction_ends(app: Any) -> Iterator[list[str]]:
    """"commit" / "rollback" for each transaction a connection of the app's engine ends, in order."""
    ends: list[str] = []
    on_commit, on_rollback = (lambda _conn: ends.append("commit")), (lambda _conn: ends.append("rollback"))
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "commit", on_commit)
    sa.event.listen(engine, "rollback", on_rollback)
    try:
        yield ends
    finally:
        sa.event.remove(engine, "commit", on_commit)
        sa.event.remove(engine, "rollback", on_rollback)


def test_a_successful_read_ends_its_transaction_with_a_commit_and_a_failed_one_with_a_rollback(
        app: Any, scim: Scim) -> None:
    ids = _bulk_users(app, 1, "ending")
    _warm_token(scim)
    with transaction_ends(app) as lookup:
        _ok(scim.get("/Users?filter=" + quote('userName eq "ending0@example.com"')))
    with transaction_ends(app) as get:
        _ok(scim.get(f"/Users/{ids[0]}"))
    with transaction_ends(app) as missing:
        _ok(scim.get("/Users/999999999"), 404)
    with transaction_ends(app) as bad_filter:
        _ok(scim.get("/Users?filter=" + quote('nosuch eq "x"')), 400)
    assert lookup == ["commit"] and get == ["commit"]
    assert "commit" not in missing and "rollback" in missing
    assert "commit" not in bad_filter


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_repeated_reads_run_on_the_drivers_prepared_statements_on_postgresql(app: Any, scim: Scim) -> None:
    """psycopg prepares a statement on its fifth execution on a connection and forgets every prepared
    statement on ROLLBACK: reads that end in a commit keep them, so PostgreSQL stops planning the
    user's links statement (a UNION ALL of every link table, about 0.4 ms to plan) on every lookup."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.driver != "psycopg":
        pytest.skip(f"automatic prepared statements are psycopg's, not {engine.dialect.driver}'s")
    ids = _bulk_users(app, 1, "prepared")
    for _ in range(40):
        _ok(scim.get(f"/Users/{ids[0]}"))
    with app.app_context():
        connection = db.session.connection()
        prepared = connection.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars().all()
        db.session.rollback()
    assert any("UNION ALL" in text and "user_emails" in text for text in prepared), prepared

def test_a_user_post_costs_its_inserts_with_the_uniqueness_check_in_the_first_and_reads_nothing_back(
        app: Any, scim: Scim) -> None:
    _warm_token(scim)
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "poster@example.com",
            "emails": [{"value": "poster@example.com", "type": "work", "primary": True},
                       {"value": "poster@home.example", "type": "home"}]}
    # (PostgreSQL reads the table's unique indexes from its catalog once per process, on the first write)
    _ok(scim.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                             "userName": "warm@example.com"}), 201)
    with counting(app) as seen:
        created = _ok(scim.post("/Users", body), 201)
    assert len(created["emails"]) == 2
    # BEGIN IMMEDIATE on SQLite (PostgreSQL: no advisory lock on the userName, as the example app's
    # UNIQUE (org_id, lower(user_name)) index refuses a concurrent duplicate itself: unique_indexes.py),
    # the user's INSERT with the uniqueness check as its condition (INSERT ... SELECT ... WHERE NOT
    # EXISTS), and one INSERT per email (as SQLAlchemy's flush sends rows whose keys it needs back, in
    # order); the answer is built from what was written: nothing is read back (it was 6 statements).
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
    assert len(seen) == (4 if sqlite else 3), seen.texts
    assert seen.touching("pg_advisory") == []
    [user_insert] = seen.touching("insert into users")
    assert "not (exists" in user_insert.lower() or "not exists" in user_insert.lower()
    assert len(seen.touching("insert into user_emails")) == 2
    assert seen.touching("group_members") == [] and seen.touching("user_roles") == []
