"""A new resource's rows are written as the ORM's flush would write them (flask_scim_entitlements/inserts.py),
from the values an instance would hold where nothing needs the instance, and left to the flush whenever
anything but the new rows could have been written or listened for."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.ext.orderinglist import ordering_list
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from example_app.models import Role, User, UserEmail, db
from flask_scim_entitlements import Attr, MultiValued, ScimEntitlements, UserMapping, current_scim
from flask_scim_entitlements import store as store_module
from flask_scim_entitlements.inserts import Collision, Guard, Written, insert_alone, plan_for, writes_alone
from flask_scim_entitlements.sqlite_writers import locked
from flask_scim_entitlements.store import Store

from .conftest import Scim, hosted, issue_token

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _store() -> Store:
    state = current_scim._get_current_object()
    org_id = db.session.scalar(sa.select(User.org_id).limit(1)) or 1
    return Store(db.session, state.registry, org_id, "http://localhost/scim/v2")


def _plan() -> Any:
    return plan_for(current_scim.registry.user, db.engine.dialect)


def _counted(statements: list[str]) -> Any:
    def listener(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)
    return listener


def test_a_created_user_is_written_with_no_instance_with_its_database_values_and_nothing_left_to_flush(
        app: Any) -> None:
    with app.app_context():
        store = _store()
        obj, changes = store.create(current_scim.registry.user, {
            "userName": "gus@example.com", "emails": [{"value": "gus@example.com", "type": "work", "primary": True},
                                                      {"value": "gus@home.example", "type": "home"}]})
        # what was written, as rows: no instance of the model, nothing in the session
        assert isinstance(obj, Written) and not db.session.new and not db.session.dirty
        assert obj.id and obj.session_token and obj.active is True  # the columns' defaults, from the database
        assert all(isinstance(e, Written) and e.id and e.user_id == obj.id for e in obj.emails)
        assert [e.primary for e in obj.emails] == [True, False]  # primary's default (False) as the flush writes it
        assert changes.attributes == {"userName", "emails"}
        statements: list[str] = []
        listener = _counted(statements)
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            db.session.flush()
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert statements == []
        db.session.commit()
        user_id = obj.id
        db.session.remove()
        stored = db.session.get(User, user_id)
        assert stored.user_name == "gus@example.com" and stored.session_token == obj.session_token
        assert sorted(e.value for e in stored.emails) == ["gus@example.com", "gus@home.example"]


def test_a_user_created_through_an_instance_is_written_and_detached_with_its_database_values(app: Any) -> None:
    """Where the row path is declined (a host listens to the model's construction), the instance is written
    by insert_alone: detached, holding the database's values, nothing left to flush."""
    built: list[Any] = []

    def init(target: Any, _args: Any, _kwargs: Any) -> None:
        built.append(target)

    sa.event.listen(User, "init", init)
    try:
        with app.app_context():
            obj, _changes = _store().create(current_scim.registry.user, {
                "userName": "gil@example.com", "emails": [{"value": "gil@example.com", "type": "work"}]})
            assert built == [obj] and isinstance(obj, User)
            assert sa.inspect(obj).detached and obj not in db.session and not db.session.new
            assert obj.id and obj.session_token and [e.primary for e in obj.emails] == [False]
            assert all(sa.inspect(e).detached and e.id for e in obj.emails)
            db.session.rollback()
    finally:
        sa.event.remove(User, "init", init)


def test_a_created_user_without_emails_has_an_empty_list_of_them(app: Any) -> None:
    with app.app_context():
        obj, _changes = _store().create(current_scim.registry.user, {"userName": "vi@example.com"})
        assert obj.emails == []
        db.session.rollback()


def test_a_host_before_insert_listener_still_runs_on_a_post(app: Any, scim: Scim) -> None:
    def named(_mapper: Any, _connection: Any, target: Any) -> None:
        target.display_name = target.display_name or f"named by the host: {target.user_name}"

    sa.event.listen(User, "before_insert", named)
    try:
        created = scim.post("/Users", {"schemas": [USER], "userName": "hal@example.com"})
    finally:
        sa.event.remove(User, "before_insert", named)
    assert created.status_code == 201
    assert created.get_json()["displayName"] == "named by the host: hal@example.com"
    assert scim.get(f"/Users/{created.get_json()['id']}").data == created.data


def test_a_new_user_whose_hook_changed_another_relationship_is_left_to_the_flush(app: Any) -> None:
    with app.app_context():
        org_id = db.session.scalar(sa.select(User.org_id).limit(1))
        user = User(org_id=org_id, user_name="ida@example.com")
        user.roles.append(db.session.scalars(sa.select(Role).limit(1)).one())  # what a host hook might do
        db.session.rollback()
        statements: list[str] = []
        listener = _counted(statements)
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert not insert_alone(db.session, db.session.connection(), _plan(), user)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert statements == [] and sa.inspect(user).transient


def test_a_new_user_is_left_to_the_flush_when_the_session_has_other_pending_writes(app: Any) -> None:
    with app.app_context():
        org_id = db.session.scalar(sa.select(User.org_id).limit(1))
        db.session.add(User(org_id=org_id, user_name="jo@example.com"))
        user = User(org_id=org_id, user_name="kim@example.com")
        user.emails.append(UserEmail(value="kim@example.com"))
        assert not insert_alone(db.session, db.session.connection(), _plan(), user)
        assert sa.inspect(user).transient
        db.session.rollback()


def test_a_new_user_is_left_to_the_flush_when_a_flush_listener_is_registered(app: Any) -> None:
    with app.app_context():
        seen: list[Any] = []

        def before_flush(session: Any, _context: Any, _instances: Any) -> None:
            seen.extend(session.new)

        sa.event.listen(db.session, "before_flush", before_flush)
        try:
            obj, _changes = _store().create(current_scim.registry.user, {"userName": "lee@example.com"})
        finally:
            sa.event.remove(db.session, "before_flush", before_flush)
        assert seen == [obj]
        db.session.rollback()


def test_a_post_of_a_taken_user_name_writes_nothing_and_answers_409_uniqueness(app: Any, scim: Scim) -> None:
    assert scim.post("/Users", {"schemas": [USER], "userName": "Mo@Example.com"}).status_code == 201
    with app.app_context():
        before = db.session.scalar(sa.select(sa.func.count()).select_from(UserEmail))
    statements: list[str] = []
    listener = _counted(statements)
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", listener)
    try:
        # the check is the INSERT's own condition (case-insensitive, as userName's caseExact is false)
        taken = scim.post("/Users", {"schemas": [USER], "userName": "mo@example.COM",
                                     "emails": [{"value": "mo@example.com", "type": "work"}]})
    finally:
        with app.app_context():
            sa.event.remove(db.engine, "before_cursor_execute", listener)
    assert taken.status_code == 409
    assert taken.get_json()["scimType"] == "uniqueness" and "userName" in taken.get_json()["detail"]
    assert not any(s.lower().startswith("insert into user_emails") for s in statements)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
            sa.func.lower(User.user_name) == "mo@example.com")) == 1
        assert db.session.scalar(sa.select(sa.func.count()).select_from(UserEmail)) == before


def test_a_guarded_insert_that_fails_its_guard_writes_nothing_and_leaves_the_instance_new(app: Any) -> None:
    with app.app_context():
        org_id = db.session.scalar(sa.select(User.org_id).limit(1))
        user = User(org_id=org_id, user_name="ned@example.com")
        user.emails.append(UserEmail(value="ned@example.com"))
        never = Guard(("never",), lambda: sa.false(), {})
        try:
            insert_alone(db.session, db.session.connection(), _plan(), user, never)
        except Collision:
            pass
        else:
            raise AssertionError("a guard that does not hold must raise Collision")
        assert sa.inspect(user).transient and user.id is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(
            User.user_name == "ned@example.com")) == 0
        # and one that holds writes the row with the flush's defaults, as the unguarded INSERT
        always = Guard(("always",), lambda: sa.true(), {})
        assert insert_alone(db.session, db.session.connection(), _plan(), user, always)
        assert sa.inspect(user).detached and user.id and user.active is True and user.session_token
        assert [e.primary for e in user.emails] == [False]
        db.session.rollback()


class _HostBase(DeclarativeBase):
    pass


host_db = SQLAlchemy(model_class=_HostBase)


class Team(host_db.Model):
    __tablename__ = "ins_teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100))


class Account(host_db.Model):
    __tablename__ = "ins_accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    team_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ins_teams.id"))
    team: Mapped[Team | None] = relationship()


setter_saw_the_write_lock: list[bool] = []


def _set_team(account: Any, name: Any) -> None:
    engine = host_db.engine
    if engine.dialect.name == "sqlite":
        setter_saw_the_write_lock.append(locked(engine))
    account.team_id = 1 if name else None  # the host's setter: by id, as an app that knows its teams would


host_ext = ScimEntitlements(db=host_db, users=UserMapping(Account, attributes={
    "userName": Account.login,
    "title": Attr(get=lambda account: account.team.name if account.team else None, set=_set_team)}))


def test_a_hosts_getter_that_loads_a_relationship_works_on_the_answer_to_a_post(database_url: str) -> None:
    """insert_alone leaves the new row's instance detached; a host getter may load a relationship from it
    (lazily), so the store puts it back in the session before building the answer from it."""
    with hosted(host_db, host_ext, database_url) as host:
        with host.app_context():
            host_db.session.add(Team(id=1, name="Platform"))
            host_db.session.commit()
        client = Scim(host.test_client(), issue_token(host, "any"))
        created = client.post("/Users", {"schemas": [USER], "userName": "ray", "title": "any team"})
        assert created.status_code == 201, created.get_data(as_text=True)
        assert created.get_json()["title"] == "Platform"
        assert client.get(f"/Users/{created.get_json()['id']}").get_json()["title"] == "Platform"


def test_a_hosts_setter_runs_under_the_write_lock_on_a_post(database_url: str) -> None:
    """A POST takes SQLite's write lock at its first statement, or before a host setter (which may read) runs."""
    with hosted(host_db, host_ext, database_url) as host:
        with host.app_context():
            host_db.session.add(Team(id=1, name="Platform"))
            host_db.session.commit()
            sqlite = host_db.engine.dialect.name == "sqlite"
        setter_saw_the_write_lock.clear()
        client = Scim(host.test_client(), issue_token(host, "any"))
        assert client.post("/Users", {"schemas": [USER], "userName": "sol", "title": "x"}).status_code == 201
        assert setter_saw_the_write_lock == ([True] if sqlite else [])


def test_a_guard_whose_parameter_is_named_like_a_column_is_declined_not_run(app: Any) -> None:
    with app.app_context():
        org_id = db.session.scalar(sa.select(User.org_id).limit(1))
        user = User(org_id=org_id, user_name="uma@example.com")
        clashing = Guard(("clash",), lambda: sa.true(), {"user_name": "someone else"})
        assert not insert_alone(db.session, db.session.connection(), _plan(), user, clashing)
        assert sa.inspect(user).transient
        db.session.rollback()


# ------------------------------------------------------------------ writing the rows with no instance

#: Bodies Okta and Entra send on a create, and edge values: a null, a string boolean, a child row's null.
_CREATE_BODIES = [
    {"schemas": [USER], "userName": "okta@example.com", "name": {"givenName": "Ok", "familyName": "Ta"},
     "emails": [{"primary": True, "value": "okta@example.com", "type": "work"}], "active": True,
     "externalId": "00u1", "displayName": "Ok Ta"},
    {"schemas": [USER, "urn:example:todo:2.0:User"], "userName": "entra@example.com", "active": "False",
     "displayName": None, "emails": [{"value": "entra@example.com", "type": None}, {"value": "e2@example.com"}],
     "urn:example:todo:2.0:User": {"team": "Platform"}},
    {"schemas": [USER], "userName": "bare@example.com"},
]


def _stored(user_id: Any) -> dict[str, Any]:
    """A user's row and its emails' rows, without what each write draws anew (ids, times, a token)."""
    user = db.session.get(User, user_id)
    skip = {"id", "user_name", "external_id", "session_token", "created_at", "updated_at"}
    row = {c.key: getattr(user, c.key) for c in sa.inspect(User).column_attrs if c.key not in skip}
    emails = [(e.value.split("@")[1], e.type, e.display, e.primary) for e in user.emails]
    return {"row": row, "emails": emails, "token": bool(user.session_token),
            "times": user.created_at == user.updated_at}


def test_rows_written_with_no_instance_are_the_rows_an_instance_writes(app: Any, scim: Scim) -> None:
    """The same bodies POSTed through both paths (the instance's forced by a host listener on the model's
    construction, which the row path declines) store the same rows, and answer the same documents."""
    by_path: dict[str, list[Any]] = {"rows": [], "instance": []}
    for path in ("rows", "instance"):
        def init(_target: Any, _args: Any, _kwargs: Any) -> None:
            pass

        if path == "instance":
            sa.event.listen(User, "init", init)
        try:
            for n, body in enumerate(_CREATE_BODIES):
                body = {**body, "userName": f"{path}{n}-{body['userName']}", "externalId": f"{path}{n}"}
                created = scim.post("/Users", body)
                assert created.status_code == 201, created.get_data(as_text=True)
                document = created.get_json()
                assert scim.get(f"/Users/{document['id']}").data == created.data
                for key in ("id", "userName", "externalId", "meta"):
                    document.pop(key)
                with app.app_context():
                    by_path[path].append((document, _stored(int(created.get_json()["id"]))))
        finally:
            if path == "instance":
                sa.event.remove(User, "init", init)
    assert by_path["rows"] == by_path["instance"]


def test_a_post_writes_its_rows_without_building_an_instance_of_the_model(app: Any, scim: Scim,
                                                                          monkeypatch: Any) -> None:
    written: list[Any] = []
    real = store_module.insert_rows

    def spy(*args: Any, **kwargs: Any) -> Any:
        written.append(real(*args, **kwargs))
        return written[-1]

    monkeypatch.setattr(store_module, "insert_rows", spy)
    monkeypatch.setattr(store_module, "insert_alone", lambda *a, **k: pytest.fail("an instance was written"))
    created = scim.post("/Users", _CREATE_BODIES[0])
    assert created.status_code == 201
    assert len(written) == 1 and isinstance(written[0], Written) and str(written[0].id) == created.get_json()["id"]


def test_a_written_resource_shows_no_values_in_its_repr(app: Any) -> None:
    with app.app_context():
        obj, _changes = _store().create(current_scim.registry.user, {"userName": "rex@example.com"})
        assert obj.session_token not in repr(obj) and "session_token" in repr(obj)
        db.session.rollback()


def test_a_host_listener_on_an_attribute_sees_the_value_a_post_sets(app: Any, scim: Scim) -> None:
    seen: list[Any] = []

    def on_set(_target: Any, value: Any, _old: Any, _initiator: Any) -> None:
        seen.append(value)

    sa.event.listen(User.display_name, "set", on_set)
    try:
        assert scim.post("/Users", {"schemas": [USER], "userName": "ava@example.com",
                                    "displayName": "Ava"}).status_code == 201
    finally:
        sa.event.remove(User.display_name, "set", on_set)
    assert seen == ["Ava"]


def test_a_post_that_sets_a_hosts_attribute_goes_through_its_setter(app: Any, scim: Scim) -> None:
    created = scim.post("/Users", {"schemas": [USER], "userName": "pam@example.com", "password": "s3cret-Pass"})
    assert created.status_code == 201
    with app.app_context():
        assert db.session.get(User, int(created.get_json()["id"])).check_password("s3cret-Pass")


def test_a_post_with_roles_links_them(app: Any, scim: Scim) -> None:
    with app.app_context():
        role_id = str(db.session.scalars(sa.select(Role.id).limit(1)).one())
    created = scim.post("/Users", {"schemas": [USER], "userName": "rod@example.com", "roles": [{"value": role_id}]})
    assert created.status_code == 201
    assert [r["value"] for r in created.get_json()["roles"]] == [role_id]


def test_rows_are_not_written_alone_while_the_session_has_other_pending_writes(app: Any) -> None:
    with app.app_context():
        org_id = db.session.scalar(sa.select(User.org_id).limit(1))
        assert writes_alone(db.session, _plan())
        db.session.add(User(org_id=org_id, user_name="jon@example.com"))
        assert not writes_alone(db.session, _plan())
        db.session.rollback()


class Badge(host_db.Model):
    """A host model that normalises what it is given (@validates) and fills a field in its constructor."""
    __tablename__ = "ins_badges"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    note: Mapped[str | None] = mapped_column(sa.String(100))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.note = "made by the constructor"

    @validates("login")
    def _lower(self, _key: str, value: str) -> str:
        return value.lower()


badge_ext = ScimEntitlements(db=host_db, users=UserMapping(Badge, attributes={"userName": Badge.login}))


def test_a_model_with_its_own_constructor_and_validators_is_built_as_an_instance(database_url: str) -> None:
    with hosted(host_db, badge_ext, database_url) as host:
        client = Scim(host.test_client(), issue_token(host, "any"))
        created = client.post("/Users", {"schemas": [USER], "userName": "MAX"})
        assert created.status_code == 201, created.get_data(as_text=True)
        assert created.get_json()["userName"] == "max"
        with host.app_context():
            badge = host_db.session.get(Badge, int(created.get_json()["id"]))
            assert (badge.login, badge.note) == ("max", "made by the constructor")
            registry = host.extensions["scim_entitlements"].registry
            assert not plan_for(registry.user, host_db.engine.dialect).instance_free


class Person(host_db.Model):
    """A host model whose child rows know their owner (a back-reference)."""
    __tablename__ = "ins_people"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    mails: Mapped[list[Mail]] = relationship(back_populates="person", order_by="Mail.id")


class Mail(host_db.Model):
    __tablename__ = "ins_mails"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("ins_people.id"))
    value: Mapped[str] = mapped_column(sa.String(100))
    person: Mapped[Person] = relationship(back_populates="mails")


class Folder(host_db.Model):
    """A host model whose child rows know their place: its collection is ordering_list's, not a list."""
    __tablename__ = "ins_folders"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    papers: Mapped[list[Paper]] = relationship(order_by="Paper.id", collection_class=ordering_list("position"))


class Paper(host_db.Model):
    __tablename__ = "ins_papers"
    __table_args__ = {"sqlite_autoincrement": True}
    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int] = mapped_column(sa.ForeignKey("ins_folders.id"))
    value: Mapped[str] = mapped_column(sa.String(100))
    position: Mapped[int | None]


person_ext = ScimEntitlements(db=host_db, users=UserMapping(Person, attributes={
    "userName": Person.login, "emails": MultiValued(Person.mails, value=Mail.value)}))
folder_ext = ScimEntitlements(db=host_db, users=UserMapping(Folder, attributes={
    "userName": Folder.login, "emails": MultiValued(Folder.papers, value=Paper.value)}))


def _post(database_url: str, ext: Any, child: Any,
          *listeners: tuple[Any, str, Any]) -> tuple[Any, list[tuple[Any, ...]], bool]:
    """POST a user with two emails to a host of ``ext``: (its answer, the child rows stored, whether the
    plan allowed writing them without an instance)."""
    for target, name, fn in listeners:
        sa.event.listen(target, name, fn)
    try:
        with hosted(host_db, ext, database_url) as host:
            client = Scim(host.test_client(), issue_token(host, "any"))
            created = client.post("/Users", {"schemas": [USER], "userName": "ann",
                                             "emails": [{"value": "a@x"}, {"value": "b@x"}]})
            assert created.status_code == 201, created.get_data(as_text=True)
            with host.app_context():
                columns = [child.value] + ([child.position] if hasattr(child, "position") else [])
                stored = host_db.session.execute(sa.select(*columns).order_by(child.id)).all()
                plan = plan_for(host.extensions["scim_entitlements"].registry.user, host_db.engine.dialect)
            return created.get_json(), [tuple(row) for row in stored], bool(plan and plan.instance_free)
    finally:
        for target, name, fn in listeners:
            sa.event.remove(target, name, fn)


def test_a_child_collection_of_the_hosts_own_class_numbers_the_rows_a_post_writes(database_url: str) -> None:
    _document, stored, instance_free = _post(database_url, folder_ext, Paper)
    assert stored == [("a@x", 0), ("b@x", 1)]  # ordering_list ran: the rows went through an instance
    assert not instance_free


def test_a_host_listener_on_a_childs_back_reference_runs_on_a_post(database_url: str) -> None:
    def shout(target: Any, _value: Any, _old: Any, _initiator: Any) -> None:
        target.value = target.value.upper()

    document, stored, instance_free = _post(database_url, person_ext, Mail, (Mail.person, "set", shout))
    assert instance_free  # (a plain list: declined for the listener alone)
    assert stored == [("A@X",), ("B@X",)]
    assert [e["value"] for e in document["emails"]] == ["A@X", "B@X"]


def test_a_host_listener_on_expiry_sees_the_instance_a_post_writes(database_url: str) -> None:
    expired: list[Any] = []

    def on_expire(target: Any, _attrs: Any) -> None:
        expired.append(type(target).__name__)

    _document, stored, _free = _post(database_url, person_ext, Mail, (Person, "expire", on_expire))
    assert "Person" in expired and stored == [("a@x",), ("b@x",)]


def test_a_back_reference_alone_does_not_keep_a_post_from_writing_its_rows_without_an_instance(
        database_url: str, monkeypatch: Any) -> None:
    written: list[Any] = []
    real = store_module.insert_rows
    monkeypatch.setattr(store_module, "insert_rows", lambda *a, **k: written.append(real(*a, **k)) or written[-1])
    _document, stored, _free = _post(database_url, person_ext, Mail)
    assert stored == [("a@x",), ("b@x",)] and isinstance(written[0], Written)
