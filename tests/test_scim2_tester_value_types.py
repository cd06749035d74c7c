"""scim2-tester against Role and entitlement endpoints whose host enables writes.

The example app's /Roles and /Characteristics are read-only (identity providers only read them, and
a write answers 501), so scim2-tester's CRUD checks cannot run there (tests/test_scim2_tester.py).
This host declares the same kinds of resource types with ``writable=True``, so that every check of
the Role machinery and of an entitlement type runs: create, read, query, list, replace, PATCH,
delete.  The entitlement type is named "Entitlement" (Okta's default type): scim2-client 0.13.2
finds a resource type by the name of its schema, so a type named otherwise ("Characteristic") is
refused by the client before any request is sent.  The host maps ``externalId`` too: scim2-tester
writes it on every resource type, and an unmapped attribute is (by design) ignored, not stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from scim2_client.engines import wsgi as wsgi_engine
from scim2_tester import Status, check_server
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_scim_entitlements import EntitlementType, RoleType, ScimEntitlements, UserMapping

from .conftest import hosted, issue_token


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

vt_user_roles = sa.Table("vt_user_roles", db.metadata,
                         sa.Column("user_id", sa.ForeignKey("vt_users.id"), primary_key=True),
                         sa.Column("role_id", sa.ForeignKey("vt_roles.id", ondelete="CASCADE"), primary_key=True))
vt_user_grants = sa.Table("vt_user_grants", db.metadata,
                          sa.Column("user_id", sa.ForeignKey("vt_users.id"), primary_key=True),
                          sa.Column("grant_id", sa.ForeignKey("vt_grants.id", ondelete="CASCADE"), primary_key=True))


class VtRole(db.Model):
    __tablename__ = "vt_roles"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(sa.String(50))  # writable values belong to a tenant (issue 16)
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.String(1000))


class VtGrant(db.Model):
    __tablename__ = "vt_grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    tenant: Mapped[str] = mapped_column(sa.String(50))
    external_id: Mapped[str | None] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.String(1000))


class VtUser(db.Model):
    __tablename__ = "vt_users"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_name: Mapped[str] = mapped_column(sa.String(200))
    roles: Mapped[list[VtRole]] = relationship(secondary=vt_user_roles)
    grants: Mapped[list[VtGrant]] = relationship(secondary=vt_user_grants)


scim_ext = ScimEntitlements(
    db=db,
    users=UserMapping(VtUser, attributes={"userName": VtUser.user_name}),
    roles=RoleType(VtRole, writable=True, holders=VtUser.roles, tenant=VtRole.tenant,
                   attributes={"displayName": VtRole.name, "description": VtRole.description,
                               "externalId": VtRole.external_id}),
    entitlement_types=[EntitlementType(VtGrant, name="Entitlement", endpoint="/Entitlements", writable=True,
                                       holders=VtUser.grants, tenant=VtGrant.tenant,
                                       attributes={"displayName": VtGrant.name, "description": VtGrant.description,
                                                   "externalId": VtGrant.external_id})],
)


@pytest.fixture
def value_types_app(database_url: str) -> Iterator[Flask]:
    with hosted(db, scim_ext, database_url) as app:
        yield app


@pytest.mark.parametrize("resource_type", ["Role", "Entitlement"])
def test_scim2_tester_passes_every_check_on_writable_role_and_entitlement_types(
        value_types_app: Flask, resource_type: str) -> None:
    token = issue_token(value_types_app, "t")
    client: Any = wsgi_engine.WSGISCIMClient(value_types_app, base_url="http://localhost/scim/v2",
                                             headers={"Authorization": f"Bearer {token}"})
    results = check_server(client, resource_types=[resource_type])
    ran = [r for r in results if r.resource_type == resource_type and r.status is not Status.SKIPPED]
    assert len(ran) >= 8, [(r.title, r.status.name) for r in results]
    failed = [f"[{r.status.name}] {r.resource_type} {r.title}: {r.reason}" for r in results
              if r.status in (Status.ERROR, Status.CRITICAL)]
    assert not failed, "\n".join(failed)


def test_writable_value_types_send_resource_created_updated_and_deleted_once_each(value_types_app: Flask) -> None:
    from flask_scim_entitlements import signals

    from .conftest import Scim

    scim = Scim(value_types_app.test_client(), issue_token(value_types_app, "t"))
    seen: list[tuple[str, str, str]] = []

    def on(name: str) -> Any:
        return lambda sender, **kw: seen.append((name, kw["resource_type"], kw["id"]))

    with signals.resource_created.connected_to(on("created"), value_types_app), \
            signals.resource_updated.connected_to(on("updated"), value_types_app), \
            signals.resource_deleted.connected_to(on("deleted"), value_types_app):
        rid = scim.post("/Roles", {"schemas": ["urn:okta:scim:schemas:core:1.0:Role"], "displayName": "Editor"}) \
            .get_json()["id"]
        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                 "Operations": [{"op": "replace", "path": "displayName", "value": "Chief Editor"}]}
        assert scim.patch(f"/Roles/{rid}", patch).status_code == 200
        assert scim.patch(f"/Roles/{rid}", patch).status_code == 200  # unchanged: no signal
        assert scim.delete(f"/Roles/{rid}").status_code == 204
    assert seen == [("created", "Role", rid), ("updated", "Role", rid), ("deleted", "Role", rid)]
