"""Differential test: the SQL filter compiler against the in-memory evaluator (the oracle).

For the example app's User resource type, a population of users is stored
once per test (directly through the models, so that edge values such as ``""``
and case variants reach the database), with groups, roles and entitlements.
Hypothesis then generates filters over the resource type's pruned schema
(``rt.schema``: only mapped attributes), and for every filter the ids the SQL
path returns must be exactly the ids of the server's own GET representations
for which :func:`evaluate` is true.  Each hypothesis example checks a batch
of filters, so a run checks thousands of filters per backend.

A handful of paths are declared by the pruned schema but cannot be queried
through this mapping (the compiler answers 400 ``invalidFilter`` instead of
silently dropping the clause); filters naming them are counted, not compared.
"""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from example_app.models import Characteristic, Group, Org, Role, User, UserEmail, db
from flask_scim_entitlements.errors import InvalidFilterError
from flask_scim_entitlements.filters import evaluate, parse_filter, unparse
from flask_scim_entitlements.filters.ast import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from flask_scim_entitlements.store import Store

from . import strategies as s
from .conftest import Scim

BATCH = 40  # filters checked per hypothesis example
# No shrinking: a batch of 40 filters shrinks for minutes, and the failure message names the filter.
PHASES = (Phase.explicit, Phase.reuse, Phase.generate)

# Paths the pruned User schema declares but the example mapping cannot query:
# ``groups.$ref`` and ``meta.location``/``meta.version`` are computed while
# rendering.  The compiler rejects them with invalidFilter (never drops them).
UNQUERYABLE = {("groups", "$ref"), ("meta", "location"), ("meta", "version")}


def _paths(f: Filter, parent: str | None = None) -> set[tuple[str, str | None]]:
    """Every (attribute, sub-attribute) a filter names, lower-cased; value-filter paths under their parent."""
    if isinstance(f, (And, Or)):
        return _paths(f.left, parent) | _paths(f.right, parent)
    if isinstance(f, Not):
        return _paths(f.expr, parent)
    if isinstance(f, ValuePath):
        return {(f.path.attr.lower(), None)} | _paths(f.filter, f.path.attr)
    path: AttrPath = f.path  # type: ignore[union-attr]
    if parent is not None:
        return {(parent.lower(), path.attr.lower())}
    return {(path.attr.lower(), path.sub_attr.lower() if path.sub_attr else None)}


_STAND_IN = {"$ref": "value", "location": "resourceType", "version": "resourceType"}


def _queryable(f: Filter, parent: str | None = None) -> Filter:
    """``f`` with each leaf on an UNQUERYABLE path moved to a queryable string sibling (same op and literal)."""
    if isinstance(f, (And, Or)):
        return type(f)(_queryable(f.left, parent), _queryable(f.right, parent))
    if isinstance(f, Not):
        return Not(_queryable(f.expr, parent))
    if isinstance(f, ValuePath):
        return ValuePath(f.path, _queryable(f.filter, f.path.attr))
    path: AttrPath = f.path  # type: ignore[union-attr]
    owner, sub = (parent, path.attr) if parent is not None else (path.attr, path.sub_attr)
    if sub is None or (owner.lower(), sub.lower()) not in {(a.lower(), b.lower()) for a, b in UNQUERYABLE}:
        return f
    stand_in = _STAND_IN[sub.lower()]
    path = AttrPath(stand_in) if parent is not None else AttrPath(path.attr, stand_in, path.urn)
    return Present(path) if isinstance(f, Present) else Compare(path, f.op, f.value)  # type: ignore[union-attr]


def _unqueryable(f: Filter) -> bool:
    lowered = {(a.lower(), b.lower()) for a, b in UNQUERYABLE}
    return bool(_paths(f) & lowered)


# -- the population ------------------------------------------------------------------

def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=None)


def _populate(app: Any, seed: int = 7, size: int = 24) -> int:
    """Store users, groups, roles and characteristics drawn from the strategies' pools; return the org id.

    Ids are explicit (501...) and one of each kind is 123, a value in the strategies' id pool, so that
    ``id eq "123"``, ``groups.value eq 123``, ``roles[value eq "123"]`` can match.
    """
    rng = random.Random(seed)
    with app.app_context():
        org = db.session.scalar(sa.select(Org).filter_by(domain="gridco.example"))
        roles = list(db.session.scalars(sa.select(Role)))
        for i, name in enumerate(("Barbara", "SMITH", "Employee")):
            role = Role(id=123 if i == 0 else 200 + i, name=name, code=f"extra{i}", description=None)
            db.session.add(role)
            roles.append(role)
        chars = list(db.session.scalars(sa.select(Characteristic)))
        for i, name in enumerate(("Jensen", "employee")):
            char = Characteristic(id=123 if i == 0 else 300 + i, name=name, description=None, category=None)
            db.session.add(char)
            chars.append(char)
        groups = [Group(id=123 if i == 0 else 400 + i, org_id=org.id, name=name)
                  for i, name in enumerate(("Smith", "Sales & Marketing", "barbara", "100%_off", "Intern"))]
        db.session.add_all(groups)

        def maybe(pool: tuple, absent: tuple = (None, "")) -> Any:
            return rng.choice((*pool, *absent))

        # userName is unique per org case-insensitively (the example app's index): keep the first of
        # each case-variant in the pool; filters in other cases still exercise case-insensitive eq.
        distinct = list({name.lower(): name for name in reversed(s.USER_NAMES)}.values())[::-1]
        names = distinct + [f"{rng.choice(s.USER_NAMES)}{i}" for i in range(size)]
        for i in range(size):
            # Sub-second parts, as real timestamps have: documents show whole seconds.
            created = _instant(rng.choice(s.DATETIMES)).replace(microsecond=rng.choice((0, 0, 1, 500000, 999999)))
            user = User(
                id=123 if i == 0 else 501 + i, org_id=org.id, user_name=names[i],
                external_id=maybe(s.IDS), first_name=maybe(s.PERSON_NAMES), last_name=maybe(s.PERSON_NAMES),
                display_name=maybe(s.PERSON_NAMES), active=rng.random() < 0.6,
                created_at=created, updated_at=rng.choice((created, _instant(rng.choice(s.DATETIMES)))),
            )
            user.emails = [UserEmail(value=rng.choice(s.EMAILS), type=maybe(s.TYPES), display=maybe(s.PERSON_NAMES),
                                     primary=rng.random() < 0.3) for _ in range(rng.choice((0, 1, 1, 2, 3)))]
            user.roles = rng.sample(roles, rng.randint(0, 3))
            user.characteristics = rng.sample(chars, rng.randint(0, 2))
            db.session.add(user)
            for group in rng.sample(groups, rng.randint(0, 3)):
                group.members.append(user)
        # Another tenant's user matches almost everything and must never be returned.
        other = Org(domain="other.example", name="Other")
        db.session.add(other)
        db.session.flush()
        stranger = User(id=999, org_id=other.id, user_name="bjensen", external_id="123", first_name="Barbara",
                        last_name="Jensen", display_name="Barbara", active=True,
                        created_at=_instant(s.DATETIMES[0]), updated_at=_instant(s.DATETIMES[0]))
        stranger.roles = roles[:]
        db.session.add(stranger)
        db.session.commit()
        return org.id


def _all_attributes(app: Any) -> str:
    """An ``attributes`` list naming every attribute and sub-attribute, so that sub-attributes
    returned only on request (``roles.display``) are in the representation too."""
    schema = app.extensions["scim_entitlements"].registry.user.schema
    names = []
    for attribute in (*schema.core.attributes, *s.COMMON_ATTRIBUTES):
        if attribute.returned == "never":
            continue
        subs = [sub.name for sub in attribute.sub_attributes if sub.returned != "never"]
        names += [f"{attribute.name}.{sub}" for sub in subs] if subs else [attribute.name]
    return ",".join(names)


def _documents(app: Any, scim: Scim) -> list[dict[str, Any]]:
    body = scim.get(f"/Users?count=1000&attributes={quote(_all_attributes(app), safe=',')}").get_json()
    assert body["totalResults"] == len(body["Resources"]) > 20
    return body["Resources"]


class Checker:
    """Runs one filter through both paths and records the outcome."""

    def __init__(self, app: Any, org_id: int, docs: list[dict[str, Any]]) -> None:
        self.app = app
        self.org_id = org_id
        self.docs = docs
        self.rt = app.extensions["scim_entitlements"].registry.user
        self.compared = 0
        self.unqueryable = 0
        self.matched_some = 0

    def expected(self, f: Filter) -> set[str]:
        return {doc["id"] for doc in self.docs if evaluate(f, doc, self.rt.schema)}

    def sql_ids(self, f: Filter) -> set[str]:
        store = Store(db.session, self.app.extensions["scim_entitlements"].registry, self.org_id,
                      "http://localhost/scim/v2")
        total, objs = store.search(self.rt, f, count=1000)
        ids = {str(obj.id) for obj in objs}
        assert total == len(ids)
        return ids

    def check(self, f: Filter, actual: Any) -> None:
        expected = self.expected(f)
        try:
            got = actual(f)
        except InvalidFilterError as exc:
            assert _unqueryable(f), f"compiler rejected a queryable filter: {unparse(f)}: {exc}"
            self.unqueryable += 1
            return
        assert got == expected, (
            f"filter {unparse(f)}\n  AST {f!r}\n  SQL only: {sorted(got - expected)}"
            f"\n  oracle only: {sorted(expected - got)}"
        )
        self.compared += 1
        self.matched_some += 0 < len(expected) < len(self.docs)


def _user_filters(app: Any) -> st.SearchStrategy[Filter]:
    return s.filters(app.extensions["scim_entitlements"].registry.user.schema).map(_queryable)


# -- hand-picked cases (regressions and RFC examples) ---------------------------------

HAND_PICKED = [
    'userName eq "bjensen"',
    'userName eq "BJENSEN"',
    'externalId eq "abc-1"',  # caseExact
    'externalId ne "abc-1"',
    'emails co "EXAMPLE.com"',
    'emails[type eq "work" and value co "@example.com"]',
    'emails.type eq "work"',
    'emails.primary eq true',
    'emails[display sw "ms." and not (primary eq true)]',
    'emails pr',
    'not (emails pr)',
    'name pr',
    'name eq null',
    'not (name pr)',
    'meta pr',
    'name.givenName sw "b" or name.familyName ew "H"',
    'displayName gt "Jensen"',
    'id eq "123"',
    'id eq 123',
    'id ne "123"',
    'groups eq "123"',
    'groups[display eq "smith"]',
    'groups.display co "%"',
    'groups.display co "_"',
    'groups.type eq "direct"',
    'groups pr',
    'not (groups pr)',
    'roles[value eq "123"]',
    'roles.display eq "todo-er"',
    'entitlements.type eq "characteristic"',
    'entitlements[value eq "123" and type eq "Characteristic"]',
    'entitlements.display sw "JENS"',
    'meta.resourceType eq "user"',
    'meta.created gt "2011-05-13T04:42:34Z"',
    'meta.created eq "2011-05-13T06:42:34+02:00"',
    'meta.lastModified ge "2011-05-13T04:42:34.5Z"',
    'meta.created lt "2011-05-13T04:42:35Z"',
    'meta.created le "2011-05-13T04:42:34.5Z"',
    'schemas eq "urn:ietf:params:scim:schemas:core:2.0:user"',
    'active eq "True"',
    'active ne false',
]


def test_filter_hand_picked_cases_agree_with_the_oracle(app: Any, scim: Scim) -> None:
    org_id = _populate(app)
    docs = _documents(app, scim)
    with app.app_context():
        checker = Checker(app, org_id, docs)
        for text in HAND_PICKED:
            checker.check(parse_filter(text), checker.sql_ids)
        assert checker.compared == len(HAND_PICKED)


# -- the property ------------------------------------------------------------------------

def test_filter_sql_results_equal_the_evaluator_on_server_documents(app: Any, scim: Scim) -> None:
    org_id = _populate(app)
    docs = _documents(app, scim)
    with app.app_context():
        checker = Checker(app, org_id, docs)

        @settings(max_examples=40, deadline=None, database=None, phases=PHASES,
                  suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                         HealthCheck.data_too_large])
        @given(batch=st.lists(_user_filters(app), min_size=BATCH, max_size=BATCH))
        def run(batch: list[Filter]) -> None:
            for f in batch:
                checker.check(f, checker.sql_ids)

        run()
        print(f"\n[{db.engine.dialect.name}] filters compared: {checker.compared}, "
              f"rejected as unqueryable: {checker.unqueryable}, selective (some but not all users): "
              f"{checker.matched_some}")
        assert checker.compared >= 1000
        # The population makes the filters discriminate: many match some users but not all.
        assert checker.matched_some >= checker.compared // 5


def test_filter_over_http_equals_the_evaluator_on_server_documents(app: Any, scim: Scim) -> None:
    """The same property end to end: ``GET /Users?filter=<unparse(f)>``."""
    org_id = _populate(app, seed=11)
    docs = _documents(app, scim)
    with app.app_context():
        checker = Checker(app, org_id, docs)

    def over_http(f: Filter) -> set[str]:
        response = scim.get(f"/Users?count=1000&attributes=id&filter={quote(unparse(f), safe='')}")
        if response.status_code == 400 and response.get_json().get("scimType") == "invalidFilter":
            raise InvalidFilterError(response.get_json().get("detail", ""))
        assert response.status_code == 200, (unparse(f), response.get_json())
        body = response.get_json()
        assert body["totalResults"] == len(body["Resources"])
        return {doc["id"] for doc in body["Resources"]}

    @settings(max_examples=10, deadline=None, database=None, phases=PHASES,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                     HealthCheck.data_too_large])
    @given(batch=st.lists(_user_filters(app), min_size=BATCH, max_size=BATCH))
    def run(batch: list[Filter]) -> None:
        for f in batch:
            checker.check(f, over_http)

    run()
    assert checker.compared >= 300


@pytest.mark.parametrize("text", ['groups.$ref pr', 'meta.location pr', 'meta.version pr'])
def test_filter_on_unqueryable_paths_is_invalid_filter_not_widened(scim: Scim, text: str) -> None:
    response = scim.get(f"/Users?filter={quote(text, safe='')}")
    assert response.status_code == 400
    assert response.get_json()["scimType"] == "invalidFilter"
