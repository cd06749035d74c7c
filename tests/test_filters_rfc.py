"""Every example filter of RFC 7644 §3.4.2.2 parses *and runs* against a host that maps their attributes.

The example app maps only what a Todo app keeps; this host maps title, userType,
ims and typed emails too, so that every example has something to select.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_scim_entitlements import MultiValued, ScimEntitlements, UserMapping

from .conftest import Scim, hosted, issue_token


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Person(db.Model):
    __tablename__ = "rfc_people"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.String(100))
    family_name: Mapped[str | None] = mapped_column(sa.String(100))
    title: Mapped[str | None] = mapped_column(sa.String(100))
    user_type: Mapped[str | None] = mapped_column(sa.String(100))
    modified: Mapped[datetime | None]
    emails: Mapped[list[PersonEmail]] = relationship(cascade="all, delete-orphan")
    ims: Mapped[list[PersonIm]] = relationship(cascade="all, delete-orphan")


class PersonEmail(db.Model):
    __tablename__ = "rfc_person_emails"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("rfc_people.id"))
    value: Mapped[str] = mapped_column(sa.String(100))
    type: Mapped[str | None] = mapped_column(sa.String(20))


class PersonIm(db.Model):
    __tablename__ = "rfc_person_ims"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("rfc_people.id"))
    value: Mapped[str] = mapped_column(sa.String(100))
    type: Mapped[str | None] = mapped_column(sa.String(20))


scim_ext = ScimEntitlements(db=db, users=UserMapping(Person, last_modified=Person.modified, attributes={
    "userName": Person.user_name,
    "name.familyName": Person.family_name,
    "title": Person.title,
    "userType": Person.user_type,
    "emails": MultiValued(Person.emails, value=PersonEmail.value, type=PersonEmail.type),
    "ims": MultiValued(Person.ims, value=PersonIm.value, type=PersonIm.type),
}))

PEOPLE = [
    # user_name, family, title, user_type, modified, emails, ims
    ("bjensen", "O'Malley", "Tour Guide", "Employee", datetime(2011, 5, 13, 4, 42, 34),
     [("bjensen@example.com", "work")], [("bjensen@foo.com", "xmpp")]),
    ("Jsmith", "Smith", None, "Intern", datetime(2011, 5, 13, 4, 42, 35),
     [("jsmith@example.org", "home")], []),
    ("alice", "Liddell", "Engineer", "Contractor", datetime(2010, 1, 1),
     [("alice@elsewhere.net", "work")], []),
]

# RFC 7644 §3.4.2.2, the examples in order, with the userNames each selects here.
EXAMPLES = [
    ('userName eq "bjensen"', {"bjensen"}),
    ('name.familyName co "O\'Malley"', {"bjensen"}),
    ('userName sw "J"', {"Jsmith"}),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"', {"Jsmith"}),
    ("title pr", {"bjensen", "alice"}),
    ('meta.lastModified gt "2011-05-13T04:42:34Z"', {"Jsmith"}),
    ('meta.lastModified ge "2011-05-13T04:42:34Z"', {"bjensen", "Jsmith"}),
    ('meta.lastModified lt "2011-05-13T04:42:34Z"', {"alice"}),
    ('meta.lastModified le "2011-05-13T04:42:34Z"', {"bjensen", "alice"}),
    ('title pr and userType eq "Employee"', {"bjensen"}),
    ('title pr or userType eq "Intern"', {"bjensen", "alice", "Jsmith"}),
    ('schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', set()),
    ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', {"bjensen"}),
    ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', {"alice"}),
    ('userType eq "Employee" and (emails.type eq "work")', {"bjensen"}),
    ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', {"bjensen"}),
    ('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
     {"bjensen"}),
]


@pytest.fixture
def rfc_app(database_url: str) -> Iterator[Flask]:
    with hosted(db, scim_ext, database_url) as app:
        with app.app_context():
            for user_name, family, title, user_type, modified, emails, ims in PEOPLE:
                db.session.add(Person(user_name=user_name, family_name=family, title=title, user_type=user_type,
                                      modified=modified, emails=[PersonEmail(value=v, type=t) for v, t in emails],
                                      ims=[PersonIm(value=v, type=t) for v, t in ims]))
            db.session.commit()
        yield app


@pytest.fixture
def rfc_scim(rfc_app: Flask) -> Scim:
    return Scim(rfc_app.test_client(), issue_token(rfc_app, "t"))


@pytest.mark.parametrize(("text", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_every_rfc_7644_example_filter_parses_and_runs(rfc_scim: Scim, text: str, expected: set[str]) -> None:
    response = rfc_scim.get("/Users", query_string={"filter": text})
    assert response.status_code == 200, response.get_json()
    assert {u["userName"] for u in response.get_json()["Resources"]} == expected


def test_sort_by_a_mapped_attribute_with_a_stable_tie_break(rfc_scim: Scim) -> None:
    body = rfc_scim.get("/Users", query_string={"sortBy": "userName"}).get_json()
    assert [u["userName"] for u in body["Resources"]] == ["alice", "bjensen", "Jsmith"]  # case-insensitive
    body = rfc_scim.get("/Users", query_string={"sortBy": "meta.lastModified", "sortOrder": "descending"}).get_json()
    assert [u["userName"] for u in body["Resources"]] == ["Jsmith", "bjensen", "alice"]
    bad = rfc_scim.get("/Users", query_string={"sortBy": "emails"})
    assert bad.status_code == 400


def test_an_unknown_attribute_is_invalid_filter_naming_it(rfc_scim: Scim) -> None:
    r = rfc_scim.get("/Users", query_string={"filter": 'nickName eq "x"'})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidFilter"
    assert "nickName" in r.get_json()["detail"]


def test_like_wildcards_in_values_are_matched_literally(rfc_scim: Scim) -> None:
    for text in ('userName co "%"', 'userName co "_"', 'userName sw "b%"'):
        assert rfc_scim.get("/Users", query_string={"filter": text}).get_json()["totalResults"] == 0, text


def test_a_too_deep_or_too_long_filter_is_400_not_a_crash(rfc_scim: Scim) -> None:
    deep = "(" * 200 + 'userName eq "x"' + ")" * 200
    long = " or ".join(['userName eq "x"'] * 400)
    for text in (deep, long):
        r = rfc_scim.get("/Users", query_string={"filter": text})
        assert r.status_code == 400 and r.get_json()["scimType"] == "invalidFilter"


def test_search_by_post_takes_the_query_in_the_body(rfc_scim: Scim) -> None:
    r = rfc_scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                         "filter": 'userType eq "Employee"', "attributes": ["userName"],
                                         "startIndex": 1, "count": 10})
    assert r.status_code == 200
    assert r.get_json()["Resources"] == [{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                          "id": r.get_json()["Resources"][0]["id"], "userName": "bjensen"}]


