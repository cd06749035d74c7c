"""A host's own schema extensions on Users and Groups (RFC 7643 §3.3): published, read, written, filtered, sorted.

The host declares them with the package's marshmallow machinery (``ScimSchema`` + ``attr``), with
every type a core attribute has, and maps them like core attributes (``Extension(attributes=...)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask_sqlalchemy import SQLAlchemy
from marshmallow import fields
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_scim_entitlements import (
    Extension,
    GroupMapping,
    MultiValued,
    ScimEntitlements,
    ScimSchema,
    UserMapping,
    attr,
)

from .conftest import Scim, hosted, issue_token

HR_USER = "urn:example:scim:schemas:extension:hr:1.0:User"
HR_GROUP = "urn:example:scim:schemas:extension:hr:1.0:Group"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

hx_team_members = sa.Table(
    "hx_team_members", db.metadata,
    sa.Column("team_id", sa.ForeignKey("hx_teams.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("staff_id", sa.ForeignKey("hx_staff.id", ondelete="CASCADE"), primary_key=True),
)


class Staff(db.Model):
    __tablename__ = "hx_staff"
    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(sa.String(50))
    user_name: Mapped[str] = mapped_column(sa.String(255))
    cost_center: Mapped[str | None] = mapped_column(sa.String(50))
    remote: Mapped[bool | None]
    level: Mapped[int | None]
    score: Mapped[float | None]
    hired_at: Mapped[datetime | None]
    homepage: Mapped[str | None] = mapped_column(sa.String(255))
    badge_number: Mapped[str | None] = mapped_column(sa.String(20))
    badge_issued: Mapped[datetime | None]
    skills: Mapped[list[StaffSkill]] = relationship(cascade="all, delete-orphan", order_by="StaffSkill.id")


class StaffSkill(db.Model):
    __tablename__ = "hx_staff_skills"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("hx_staff.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(sa.String(50))
    years: Mapped[int | None]


class Team(db.Model):
    __tablename__ = "hx_teams"
    id: Mapped[int] = mapped_column(primary_key=True)
    org: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(255))
    site: Mapped[str | None] = mapped_column(sa.String(50))
    budget: Mapped[int | None]
    members: Mapped[list[Staff]] = relationship(secondary=hx_team_members)


class Badge(ScimSchema):
    number = attr(fields.String, case_exact=True, description="Printed on the badge.")
    issued = attr(fields.DateTime)


class Skill(ScimSchema):
    value = attr(fields.String)
    years = attr(fields.Integer)


class HrUser(ScimSchema):
    costCenter = attr(fields.String, description="Where the user's costs are booked.")
    remote = attr(fields.Boolean)
    level = attr(fields.Integer)
    score = attr(fields.Float)
    hiredAt = attr(fields.DateTime)
    homepage = attr(fields.Url, reference_types=("external",))
    badge = attr(fields.Nested(Badge))
    skills = attr(fields.Nested(Skill), multi_valued=True)


class HrGroup(ScimSchema):
    site = attr(fields.String, required=True)
    budget = attr(fields.Integer)


scim_ext = ScimEntitlements(
    db=db,
    users=UserMapping(Staff, tenant=Staff.org, attributes={"userName": Staff.user_name}, extensions=[
        Extension(urn=HR_USER, schema=HrUser, name="HrUser", description="HR data", attributes={
            "costCenter": Staff.cost_center, "remote": Staff.remote, "level": Staff.level, "score": Staff.score,
            "hiredAt": Staff.hired_at, "homepage": Staff.homepage, "badge.number": Staff.badge_number,
            "badge.issued": Staff.badge_issued,
            "skills": MultiValued(Staff.skills, value=StaffSkill.name, years=StaffSkill.years),
        }),
    ]),
    groups=GroupMapping(Team, tenant=Team.org, attributes={"displayName": Team.name}, members=Team.members,
                        extensions=[Extension(urn=HR_GROUP, schema=HrGroup, required=True,
                                              attributes={"site": Team.site, "budget": Team.budget})]),
)


@pytest.fixture
def hr(database_url: str) -> Iterator[Scim]:
    with hosted(db, scim_ext, database_url) as app:
        yield Scim(app.test_client(), issue_token(app, "hr"))


def _hr(level: int, **extra: Any) -> dict[str, Any]:
    return {"costCenter": f"CC-{level}", "remote": level % 2 == 0, "level": level, "score": level + 0.5,
            "hiredAt": f"2020-01-0{level}T09:00:00Z", "homepage": f"https://example.com/{level}",
            "badge": {"number": f"B-{level}", "issued": "2021-06-01T00:00:00Z"},
            "skills": [{"value": "sql", "years": level}], **extra}


def _post(hr: Scim, name: str, level: int) -> dict[str, Any]:
    r = hr.post("/Users", {"schemas": [USER, HR_USER], "userName": name, HR_USER: _hr(level)})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_host_extensions_are_published_in_schemas_and_resource_types(hr: Scim) -> None:
    schema = hr.get(f"/Schemas/{HR_USER}").get_json()
    assert schema["name"] == "HrUser" and schema["description"] == "HR data"
    types = {a["name"]: (a["type"], a["multiValued"]) for a in schema["attributes"]}
    assert types == {"costCenter": ("string", False), "remote": ("boolean", False), "level": ("integer", False),
                     "score": ("decimal", False), "hiredAt": ("dateTime", False),
                     "homepage": ("reference", False), "badge": ("complex", False), "skills": ("complex", True)}
    badge = next(a for a in schema["attributes"] if a["name"] == "badge")
    assert {s["name"]: s["caseExact"] for s in badge["subAttributes"]} == {"number": True, "issued": False}
    assert HR_GROUP in {s["id"] for s in hr.get("/Schemas").get_json()["Resources"]}
    resource_types = {rt["name"]: rt for rt in hr.get("/ResourceTypes").get_json()["Resources"]}
    assert resource_types["User"]["schemaExtensions"] == [{"schema": HR_USER, "required": False}]
    assert resource_types["Group"]["schemaExtensions"] == [{"schema": HR_GROUP, "required": True}]


def test_a_host_extension_round_trips_through_post_get_put_and_patch(hr: Scim) -> None:
    user = _post(hr, "ann@hr.example", 3)
    assert user["schemas"] == [USER, HR_USER]
    assert user[HR_USER] == _hr(3)
    assert hr.get(f"/Users/{user['id']}").get_json()[HR_USER] == _hr(3)

    # PUT replaces the extension as a whole: what it omits is cleared.
    body = {"schemas": [USER, HR_USER], "userName": "ann@hr.example",
            HR_USER: {"costCenter": "CC-9", "level": 9, "skills": [{"value": "go", "years": 1}]}}
    r = hr.put(f"/Users/{user['id']}", body)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()[HR_USER] == {"costCenter": "CC-9", "level": 9, "skills": [{"value": "go", "years": 1}]}

    # PATCH: URN-qualified paths, a sub-attribute, a value filter, a path-less URN object and URN key.
    ops = [
        {"op": "replace", "path": f"{HR_USER}:level", "value": 10},
        {"op": "add", "path": f"{HR_USER}:badge.number", "value": "B-10"},
        {"op": "add", "path": f"{HR_USER}:skills", "value": [{"value": "sql", "years": 4}]},
        {"op": "replace", "path": f'{HR_USER}:skills[value eq "go"].years', "value": 2},
        {"op": "replace", "value": {HR_USER: {"remote": True, "hiredAt": "2022-02-02T10:00:00Z"}}},
        {"op": "replace", "value": {f"{HR_USER}:homepage": "https://example.com/ann"}},
        {"op": "remove", "path": f"{HR_USER}:costCenter"},
    ]
    r = hr.patch(f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": ops})
    assert r.status_code == 200, r.get_json()
    expected = {"level": 10, "badge": {"number": "B-10"}, "remote": True, "hiredAt": "2022-02-02T10:00:00Z",
                "homepage": "https://example.com/ann",
                "skills": [{"value": "go", "years": 2}, {"value": "sql", "years": 4}]}
    assert r.get_json()[HR_USER] == expected
    assert hr.get(f"/Users/{user['id']}").get_json()[HR_USER] == expected
    listing = {"filter": f'schemas eq "{HR_USER}"'}
    assert hr.get("/Users", query_string=listing).get_json()["totalResults"] == 1
    # Removing every attribute of an optional extension removes the extension, from "schemas" too.
    ops = [{"op": "remove", "path": f"{HR_USER}:{name}"} for name in expected]
    r = hr.patch(f"/Users/{user['id']}", {"schemas": [PATCH], "Operations": ops})
    assert r.status_code == 200 and HR_USER not in r.get_json() and r.get_json()["schemas"] == [USER]
    assert hr.get("/Users", query_string=listing).get_json()["totalResults"] == 0


@pytest.mark.parametrize(("query", "expected"), [
    (f'{HR_USER}:costCenter eq "cc-2"', ["u2"]),
    (f"{HR_USER}:level gt 2", ["u3", "u4"]),
    (f"{HR_USER}:remote eq true", ["u2", "u4"]),
    (f"{HR_USER}:score le 2.5", ["u1", "u2"]),
    (f'{HR_USER}:hiredAt ge "2020-01-03T00:00:00Z"', ["u3", "u4"]),
    (f'{HR_USER}:badge.number eq "B-4"', ["u4"]),
    (f'{HR_USER}:badge.number eq "b-4"', []),  # caseExact, as declared
    (f'{HR_USER}:skills[value eq "sql" and years ge 3]', ["u3", "u4"]),
    (f'{HR_USER}:homepage co "example.com/1"', ["u1"]),
])
def test_host_extension_attributes_filter_in_the_database(hr: Scim, query: str, expected: list[str]) -> None:
    for level in (1, 2, 3, 4):
        _post(hr, f"u{level}", level)
    found = hr.get("/Users", query_string={"filter": query}).get_json()["Resources"]
    assert sorted(u["userName"] for u in found) == expected


def test_host_extension_attributes_sort(hr: Scim) -> None:
    for name, level in (("a", 2), ("b", 4), ("c", 1)):
        _post(hr, name, level)
    listed = hr.get("/Users", query_string={"sortBy": f"{HR_USER}:level", "sortOrder": "descending"}).get_json()
    assert [u["userName"] for u in listed["Resources"]] == ["b", "a", "c"]
    listed = hr.get("/Users", query_string={"sortBy": f"{HR_USER}:costCenter"}).get_json()
    assert [u["userName"] for u in listed["Resources"]] == ["c", "a", "b"]


def test_a_value_of_the_wrong_type_in_an_extension_is_a_400_and_writes_nothing(hr: Scim) -> None:
    r = hr.post("/Users", {"userName": "bad@hr.example", HR_USER: {"level": "high"}})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    assert hr.get('/Users?filter=userName eq "bad@hr.example"').get_json()["totalResults"] == 0


def test_a_required_extension_must_be_present_on_every_write(hr: Scim) -> None:
    r = hr.post("/Groups", {"displayName": "Ops"})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue" and HR_GROUP in r.get_json()["detail"]
    r = hr.post("/Groups", {"displayName": "Ops", HR_GROUP: {"site": "Oslo", "budget": 5}})
    assert r.status_code == 201, r.get_json()
    group = r.get_json()
    assert group[HR_GROUP] == {"site": "Oslo", "budget": 5}
    ops = [{"op": "replace", "path": f"{HR_GROUP}:budget", "value": 7}]
    r = hr.patch(f"/Groups/{group['id']}?attributes={HR_GROUP}", {"schemas": [PATCH], "Operations": ops})
    assert r.status_code == 200 and r.get_json()[HR_GROUP] == {"site": "Oslo", "budget": 7}
    # The extension's own required attribute cannot be removed, nor the extension with it.
    ops = [{"op": "remove", "path": f"{HR_GROUP}:site"}]
    r = hr.patch(f"/Groups/{group['id']}", {"schemas": [PATCH], "Operations": ops})
    assert r.status_code == 400
    r = hr.put(f"/Groups/{group['id']}", {"displayName": "Ops"})
    assert r.status_code == 400
    assert hr.get(f"/Groups/{group['id']}").get_json()[HR_GROUP] == {"site": "Oslo", "budget": 7}
    found = hr.get("/Groups", query_string={"filter": f'{HR_GROUP}:site eq "oslo"'}).get_json()["Resources"]
    assert [g["id"] for g in found] == [group["id"]]


def test_the_example_app_stores_its_own_team_extension_attribute(app: Any, scim: Scim) -> None:
    from example_app.models import User
    from example_app.models import db as example_db
    from example_app.scim import TODO_USER_URN

    assert TODO_USER_URN in {s["id"] for s in scim.get("/Schemas").get_json()["Resources"]}
    r = scim.post("/Users", {"userName": "team@gridco.example", TODO_USER_URN: {"team": "Platform"}})
    assert r.status_code == 201 and r.get_json()[TODO_USER_URN] == {"team": "Platform"}
    ops = [{"op": "replace", "path": f"{TODO_USER_URN}:team", "value": "Billing"}]
    assert scim.patch(f"/Users/{r.get_json()['id']}", {"schemas": [PATCH], "Operations": ops}).status_code == 200
    with app.app_context():
        assert example_db.session.get(User, int(r.get_json()["id"])).team == "Billing"
