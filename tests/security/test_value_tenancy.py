"""Values a tenant may write belong to that tenant; absolute URLs do not come from a client's Host header.

Issue 16: a ``RoleType`` with ``writable=True`` and no tenant column was accepted, and then any tenant
could rename or delete the roles every tenant shares; deleting one removed every tenant's grants of it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_scim_entitlements import EntitlementType, MappingError, RoleType, ScimEntitlements, UserMapping

from ..conftest import Scim, example_app, hosted, issue_token

ROLE_URN = "urn:okta:scim:schemas:core:1.0:Role"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

tv_user_roles = sa.Table("tv_user_roles", db.metadata,
                         sa.Column("user_id", sa.ForeignKey("tv_users.id"), primary_key=True),
                         sa.Column("role_id", sa.ForeignKey("tv_roles.id"), primary_key=True))


class TvRole(db.Model):
    __tablename__ = "tv_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(sa.String(50))
    name: Mapped[str] = mapped_column(sa.String(200))


class TvUser(db.Model):
    __tablename__ = "tv_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(sa.String(50))
    user_name: Mapped[str] = mapped_column(sa.String(200))
    roles: Mapped[list[TvRole]] = relationship(secondary=tv_user_roles)


def _extension(**role: Any) -> ScimEntitlements:
    return ScimEntitlements(
        db=db, users=UserMapping(TvUser, tenant=TvUser.tenant, attributes={"userName": TvUser.user_name}),
        roles=RoleType(TvRole, writable=True, holders=TvUser.roles, attributes={"displayName": TvRole.name}, **role))


@pytest.mark.parametrize("kind", ["role", "entitlement"])
def test_a_writable_value_type_without_a_tenant_column_is_a_mapping_error_at_init_app(kind: str) -> None:
    if kind == "role":
        ext = ScimEntitlements(db=db, users=UserMapping(TvUser, tenant=TvUser.tenant,
                                                        attributes={"userName": TvUser.user_name}),
                               roles=RoleType(TvRole, writable=True, holders=TvUser.roles,
                                              attributes={"displayName": TvRole.name}))
    else:
        ext = ScimEntitlements(db=db, users=UserMapping(TvUser, tenant=TvUser.tenant,
                                                        attributes={"userName": TvUser.user_name}),
                               entitlement_types=[EntitlementType(TvRole, name="Grant", endpoint="/Grants",
                                                                  writable=True,
                                                                  attributes={"displayName": TvRole.name})])
    host = Flask(__name__)
    host.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="k")
    with pytest.raises(MappingError, match="tenant"):
        ext.init_app(host)
    # Read-only shared values stay allowed: Okta only reads them.
    ok = ScimEntitlements(db=db, users=UserMapping(TvUser, attributes={"userName": TvUser.user_name}),
                          roles=RoleType(TvRole, holders=TvUser.roles, attributes={"displayName": TvRole.name}))
    other = Flask(__name__)
    other.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="k")
    ok.init_app(other)


@pytest.fixture
def two_tenants(database_url: str) -> Iterator[tuple[Flask, Scim, Scim]]:
    with hosted(db, _extension(tenant=TvRole.tenant), database_url) as app:
        client = app.test_client()
        yield app, Scim(client, issue_token(app, "a")), Scim(client, issue_token(app, "b"))


def _role(scim: Scim, name: str) -> str:
    response = scim.post("/Roles", {"schemas": [ROLE_URN], "displayName": name})
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def _user(scim: Scim, name: str, role: str) -> str:
    response = scim.post("/Users", {"schemas": [USER_URN], "userName": name, "roles": [{"value": role}]})
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def test_another_tenant_cannot_rename_or_delete_a_tenants_role_nor_touch_its_grants(
        two_tenants: tuple[Flask, Scim, Scim]) -> None:
    _app, a, b = two_tenants
    role = _role(a, "Approver")
    user = _user(a, "ann@a.test", role)
    assert b.delete(f"/Roles/{role}").status_code == 404
    assert b.put(f"/Roles/{role}", {"schemas": [ROLE_URN], "displayName": "Owned"}).status_code == 404
    assert b.patch(f"/Roles/{role}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "replace", "path": "displayName", "value": "Owned"}]}).status_code == 404
    assert b.post("/Users", {"schemas": [USER_URN], "userName": "bob@b.test",
                             "roles": [{"value": role}]}).status_code == 400  # not B's to grant
    assert a.get(f"/Roles/{role}").get_json()["displayName"] == "Approver"
    assert [r["value"] for r in a.get(f"/Users/{user}").get_json()["roles"]] == [role]


def test_deleting_a_role_removes_only_the_callers_tenants_grants(two_tenants: tuple[Flask, Scim, Scim]) -> None:
    app, a, b = two_tenants
    role = _role(a, "Approver")
    ann = _user(a, "ann@a.test", role)
    b_role = _role(b, "Viewer")
    bob = _user(b, "bob@b.test", b_role)
    with app.app_context():
        # A grant the host made itself, across tenants: SCIM must leave it to the host.
        db.session.execute(tv_user_roles.insert().values(user_id=int(bob), role_id=int(role)))
        db.session.commit()
    response = a.delete(f"/Roles/{role}")
    # 204 where the database does not enforce the foreign key (SQLite's default), else a 4xx: either
    # way tenant B's grant is still there, and nothing else changed for B.
    assert response.status_code == 204 or 400 <= response.status_code < 500, response.get_data()
    with app.app_context():
        held = set(db.session.execute(sa.select(tv_user_roles.c.role_id).where(
            tv_user_roles.c.user_id == int(bob))).scalars())
    assert held == {int(b_role), int(role)}
    if response.status_code == 204:
        assert not a.get(f"/Users/{ann}").get_json().get("roles")
    assert b_role in [r["value"] for r in b.get(f"/Users/{bob}").get_json()["roles"]]


# --- absolute URLs ------------------------------------------------------------------------------------------

def test_without_a_base_url_locations_follow_the_request_host(app: Any, scim: Scim) -> None:
    """The default, documented as such: behind a proxy the README says to set SCIM_BASE_URL or ProxyFix."""
    body = scim.get("/Users", headers={"Host": "evil.test"}).get_json()
    assert body["Resources"][0]["meta"]["location"].startswith("http://evil.test/scim/v2/Users/")


def test_locations_follow_each_requests_host_though_the_host_url_is_remembered(app: Any, scim: Scim) -> None:
    """views.common._host_url remembers werkzeug's host_url per host: each request still gets its own."""
    for host in ("a.test", "b.test:8443", "a.test"):
        body = scim.get("/Users", headers={"Host": host}).get_json()
        assert body["Resources"][0]["meta"]["location"].startswith(f"http://{host}/scim/v2/Users/")
    memo = app.extensions["scim_entitlements"].host_urls
    for i in range(200):  # clients choose the Host header: the memo stays bounded
        scim.get("/ServiceProviderConfig", headers={"Host": f"h{i}.test"})
    assert 0 < len(memo) <= 64


def test_a_host_outside_trusted_hosts_is_refused_on_every_request(database_url: str) -> None:
    with example_app(database_url, TRUSTED_HOSTS=["scim.todo.test"]) as trusted:
        scim = Scim(trusted.test_client(), issue_token(trusted, "gridco.example"))
        assert scim.get("/Users", headers={"Host": "scim.todo.test"}).status_code == 200
        for _ in range(2):  # refused, and not remembered as if it had been checked
            assert scim.get("/Users", headers={"Host": "evil.test"}).status_code == 400


@pytest.fixture
def based_app(database_url: str) -> Iterator[Any]:
    with example_app(database_url, SCIM_BASE_URL="https://scim.todo.test/api/") as app:
        yield app


def test_with_a_base_url_every_absolute_url_comes_from_it_whatever_the_host_header(based_app: Any) -> None:
    scim = Scim(based_app.test_client(), issue_token(based_app, "gridco.example"))
    evil = {"Host": "evil.test", "X-Forwarded-Host": "evil2.test"}
    base = "https://scim.todo.test/api/scim/v2"
    users = scim.get("/Users", headers=evil).get_json()["Resources"]
    created = scim.post("/Groups", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G",
                                    "members": [{"value": users[0]["id"]}]}, headers=evil)
    assert created.status_code == 201
    assert created.headers["Location"] == f"{base}/Groups/{created.get_json()['id']}"
    assert created.get_json()["meta"]["location"] == created.headers["Location"]
    assert created.get_json()["members"][0]["$ref"] == f"{base}/Users/{users[0]['id']}"
    urls = [u["meta"]["location"] for u in users]
    urls += [scim.get(path, headers=evil).get_json()["meta"]["location"] for path in ("/ServiceProviderConfig",
                                                                                       "/Schemas/" + USER_URN,
                                                                                       "/ResourceTypes/User")]
    group = scim.get(f"/Users/{users[0]['id']}", headers=evil).get_json()["groups"][0]
    urls.append(group["$ref"])
    assert urls and all(url.startswith(base + "/") for url in urls), urls
    assert "evil" not in str(scim.get("/Groups", headers=evil).get_data())
