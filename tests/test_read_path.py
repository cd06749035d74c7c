"""The read path's shortcuts keep the wire format the marshmallow schemas define.

- Link items (members, groups, roles, entitlements) are shaped once by the store and dumped as
  they are (schemas.messages.ShapedItems): a 100,000-member group is not built twice.
- Documents are dumped by a dump compiled from the wire schema (schemas.messages.compile_dump):
  byte for byte what the schema's own ``dump`` gives.
- Reads load plain rows, unless a host's ``Attr(get=...)`` needs a model instance.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from example_app.models import db
from flask_scim_entitlements import Attr, ScimEntitlements, UserMapping
from flask_scim_entitlements.schemas.messages import compile_dump, resource_dump_schema
from flask_scim_entitlements.store import Store
from flask_scim_entitlements.views import resources
from flask_scim_entitlements.views.common import LINK_ATTRIBUTES, Projection

from .conftest import Scim, hosted, issue_token, new_user

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def _populate(scim: Scim, app: Any) -> None:
    roles = scim.get("/Roles").get_json()["Resources"]
    traits = scim.get("/Characteristics").get_json()["Resources"]
    ids = []
    for i in range(3):
        user = new_user(scim, f"reader{i}@example.com", roles=[{"value": r["id"]} for r in roles[:2]],
                        entitlements=[{"value": traits[0]["id"], "type": "Characteristic"}],
                        emails=[{"value": f"reader{i}@example.com", "type": "work", "primary": True},
                                {"value": f"r{i}@home.example", "type": "home", "display": "Home"}])
        ids.append(user["id"])
    r = scim.post("/Groups", {"schemas": [GROUP], "displayName": "Readers", "members": [{"value": u} for u in ids]})
    assert r.status_code == 201, r.get_json()


def test_every_document_dumps_the_same_through_the_compiled_dump_as_through_the_wire_schema(
        app: Any, scim: Scim) -> None:
    _populate(scim, app)
    with app.test_request_context():
        state = app.extensions["scim_entitlements"]
        store = Store(state.db.session, state.registry, _tenant(app), "http://localhost/scim/v2")
        checked = 0
        for rt in state.registry:
            wire = state.wire_schema(rt)
            compiled = compile_dump(resource_dump_schema(wire, LINK_ATTRIBUTES))
            objs = list(state.db.session.scalars(store.select(rt)))
            for doc in store.documents(rt, objs):
                expected = json.dumps(wire.dump(doc))
                assert json.dumps(compiled(doc)) == expected
                assert json.dumps(wire.dump(Projection().apply(doc, rt.schema))) == \
                    json.dumps(compiled(Projection().apply(doc, rt.schema)))
                checked += 1
        assert checked >= 3 + 1 + 3 + 2  # users, a group, roles, characteristics


def test_a_wire_schema_with_a_load_hook_and_an_extension_is_dumped_by_the_compiled_dump(app: Any, scim: Scim) -> None:
    """The wire schemas' ``post_load`` changes nothing a dump gives: it must not send dumps back to marshmallow."""
    team_urn = "urn:bestapps:scim:schemas:extension:todoapp:1.0:User"
    user = new_user(scim, "teamed@example.com", **{team_urn: {"team": "Platform"}})
    with app.test_request_context():
        state = app.extensions["scim_entitlements"]
        rt = state.registry.user
        wire = state.wire_schema(rt)
        schema = resource_dump_schema(wire, LINK_ATTRIBUTES)
        assert schema._hooks.get("post_load")  # noqa: SLF001 - the case this test is about
        compiled = compile_dump(schema)
        assert compiled != schema.dump
        store = Store(state.db.session, state.registry, _tenant(app), "http://localhost/scim/v2")
        doc = store.documents(rt, [store.get(rt, user["id"])])[0]
        assert doc[team_urn] == {"team": "Platform"}
        assert json.dumps(compiled(doc)) == json.dumps(wire.dump(doc))


def test_a_groups_member_items_are_built_once_and_dumped_as_they_are(app: Any, scim: Scim) -> None:
    _populate(scim, app)
    with app.test_request_context():
        state = app.extensions["scim_entitlements"]
        store = Store(state.db.session, state.registry, _tenant(app), "http://localhost/scim/v2")
        rt = state.registry.group
        assert rt is not None
        projection = Projection()
        objs = list(state.db.session.scalars(store.select(rt)))
        docs = store.documents(rt, objs, projection.wanted_links(rt.schema), projection.hidden_link_subs(rt.schema))
        rendered = resources._render(rt, docs, projection)
        members = docs[0]["members"]
        assert members and rendered[0]["members"] is members
        assert all(set(m) == {"value", "$ref", "type"} for m in members)  # display is returned on request only


def _tenant(app: Any) -> Any:
    from example_app.models import Org

    with app.app_context():
        return str(db.session.scalar(sa.select(Org.id).filter_by(domain="gridco.example")))



class _Base(DeclarativeBase):
    pass


host_db = SQLAlchemy(model_class=_Base)


class Member(host_db.Model):
    __tablename__ = "rp_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    first: Mapped[str | None] = mapped_column(sa.String(100))
    last: Mapped[str | None] = mapped_column(sa.String(100))

    def full_name(self) -> str:
        return f"{self.first} {self.last}"


seen_by_getter: list[Any] = []


def _display(member: Any) -> str:
    seen_by_getter.append(member)
    return str(member.full_name())


host_ext = ScimEntitlements(db=host_db, users=UserMapping(Member, attributes={
    "userName": Member.login, "name.givenName": Member.first, "name.familyName": Member.last,
    "displayName": Attr(get=_display)}))


def test_a_hosts_attribute_getter_is_handed_a_model_instance_on_every_read(database_url: str) -> None:
    with hosted(host_db, host_ext, database_url) as app:
        with app.app_context():
            host_db.session.add(Member(login="ada", first="Ada", last="Lovelace"))
            host_db.session.commit()
        scim = Scim(app.test_client(), issue_token(app, "any"))
        seen_by_getter.clear()
        one = scim.get("/Users/1").get_json()
        page = scim.get("/Users").get_json()["Resources"]
        found = scim.get('/Users?filter=userName eq "ada"').get_json()["Resources"]
        assert one["displayName"] == page[0]["displayName"] == found[0]["displayName"] == "Ada Lovelace"
        assert len(seen_by_getter) == 3 and all(isinstance(m, Member) for m in seen_by_getter)


def test_link_items_are_searched_for_hidden_keys_unless_the_store_left_those_out() -> None:
    from flask_scim_entitlements.schemas.messages import LinkItems
    from flask_scim_entitlements.views.common import _without

    left_out = LinkItems(frozenset({"display"}))
    left_out.extend([{"value": "1", "type": "User"}] * 3)
    assert _without(left_out, {"display"}) is left_out  # not walked, not copied
    kept = LinkItems(frozenset())
    kept.extend([{"value": "1", "display": "Ann", "type": "User"}])
    assert _without(kept, {"display"}) == [{"value": "1", "type": "User"}]


def test_one_groups_members_are_read_in_key_order_without_a_sort(app: Any, scim: Scim) -> None:
    """A single owner is compared with "=" and the rows ordered by their own key only: SQLite reads the
    link table's primary key (group_id, user_id) in order, where it used to sort every member first."""
    _populate(scim, app)
    with app.test_request_context():
        state = app.extensions["scim_entitlements"]
        if state.db.engine.dialect.name != "sqlite":
            return  # the plan is SQLite's; PostgreSQL's planner may sort a table this small whatever the query
        store = Store(state.db.session, state.registry, _tenant(app), "http://localhost/scim/v2")
        rt = state.registry.group
        projection = Projection()
        plan = store._read_plan(rt, projection.wanted_links(rt.schema), projection.hidden_link_subs(rt.schema),
                                single=True)
        (name, _key), = plan.params
        sql = plan.statement.params({name: 1}).compile(state.db.engine, compile_kwargs={"literal_binds": True})
        steps = [row[3] for row in state.db.session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")]
        assert steps and not any("TEMP B-TREE" in step for step in steps), steps


def test_one_compiled_dump_gives_each_shape_of_document_what_the_schema_dump_gives(app: Any, scim: Scim) -> None:
    """The compiled dump keeps, per set of keys a document holds, the steps it takes: documents of other
    shapes, keys in another order, or more shapes than it keeps, are each dumped as marshmallow dumps them."""
    from flask_scim_entitlements.schemas import messages

    with app.test_request_context():
        state = app.extensions["scim_entitlements"]
        wire = state.wire_schema(state.registry.user)
        compiled = compile_dump(resource_dump_schema(wire, LINK_ATTRIBUTES))
        base = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "7", "userName": "a@example.com",
                "name": {"givenName": "A", "familyName": "B"}, "displayName": "A B", "active": True,
                "emails": [{"value": "a@example.com", "type": "work", "primary": True}],
                "meta": {"resourceType": "User", "location": "http://localhost/scim/v2/Users/7"}}
        shapes = [base, {k: v for k, v in base.items() if k not in ("name", "active")},
                  dict(reversed(list(base.items()))), {**base, "externalId": 12, "displayName": None}]
        shapes += [{"schemas": base["schemas"], "id": str(n), "userName": f"u{n}", f"x{n}": n}
                   for n in range(messages._DUMP_SHAPES_KEPT + 5)]  # noqa: SLF001 - past what it keeps
        for doc in shapes + shapes[:4]:
            assert json.dumps(compiled(doc)) == json.dumps(wire.dump(doc)), doc


def test_the_default_projection_hands_a_document_on_uncopied_and_a_narrower_one_still_drops(
        app: Any, scim: Scim) -> None:
    user = new_user(scim, "projected@example.com")
    with app.test_request_context():
        state = app.extensions["scim_entitlements"]
        rt = state.registry.user
        doc = {key: value for key, value in user.items()}
        apply = Projection().applier(rt.schema)
        assert apply(doc) == user
        assert apply(doc) is doc  # every key was decided "kept whole" by the first call
        narrower = Projection.from_values(None, "emails,name.givenName").applier(rt.schema)
        out = narrower(doc)
        assert "emails" not in out and "givenName" not in out.get("name", {}) and out["userName"] == doc["userName"]
        assert doc == user  # the document itself is left as it was


def test_an_owners_items_that_span_fetched_batches_land_in_one_list_in_order(
        app: Any, scim: Scim, monkeypatch: Any) -> None:
    """Rows are fetched a batch at a time and filled in per run of one branch: a batch boundary inside one
    owner's emails, groups or roles, or between two branches, changes nothing in the documents."""
    from flask_scim_entitlements import store as store_module

    _populate(scim, app)
    with app.test_request_context():
        state = app.extensions["scim_entitlements"]
        store = Store(state.db.session, state.registry, _tenant(app), "http://localhost/scim/v2")
        for rt in (state.registry.user, state.registry.group):
            objs = list(state.db.session.scalars(store.select(rt)))
            whole = store.documents(rt, objs)
            if rt is state.registry.user:
                assert any(len(doc.get("emails", [])) == 2 and len(doc.get("roles", [])) == 2 for doc in whole)
            for size in (1, 2, 3):
                monkeypatch.setattr(store_module, "_FETCH_BATCH", size)
                assert store.documents(rt, objs) == whole
                assert [store.documents(rt, [obj])[0] for obj in objs] == whole
            monkeypatch.undo()


def test_a_mapped_columns_value_is_read_as_text_or_iso_whatever_its_column_type_says(app: Any) -> None:
    """The reader hands str, int, bool and None on as they are, and converts anything else as before: a string
    attribute's non-text value (a column_property over ``coalesce`` may read an int) becomes text, a datetime
    becomes its ISO form, whatever the column's declared type."""
    from datetime import datetime
    from types import SimpleNamespace

    from flask_scim_entitlements.store import _reader

    with app.app_context():
        rt = app.extensions["scim_entitlements"].registry.user
        targets = {resolved.attribute.name: (target, resolved.target)
                   for resolved, target in rt.mapping.resolved_targets}
        display, display_attribute = targets["displayName"]
        active, active_attribute = targets["active"]
        read_display, read_active = _reader(display, display_attribute), _reader(active, active_attribute)
        when = datetime(2026, 12, 2, 7, 45, 1)
        for value, expected in (("Ann", "Ann"), (None, None), (7, "7"), (when, "2026-12-02 07:45:01")):
            assert read_display(SimpleNamespace(**{display.key: value})) == expected
        for value, expected in ((True, True), (None, None), (1, 1), (when, "2026-12-02T07:45:01Z")):
            assert read_active(SimpleNamespace(**{active.key: value})) == expected
