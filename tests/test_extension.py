"""The extension object: factory pattern, configuration checks, mapping checks at init_app."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_scim_entitlements import MappingError, ScimEntitlements, UserMapping


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Account(db.Model):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    enabled: Mapped[bool] = mapped_column(default=True)


class Other(db.Model):
    __tablename__ = "others"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(100))


def make_app(**config: object) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", SECRET_KEY="k", **config)
    db.init_app(app)
    return app


def users(**attributes: object) -> UserMapping:
    return UserMapping(Account, attributes=attributes or {"userName": Account.login, "active": Account.enabled})


def test_one_extension_serves_two_apps_built_by_a_factory() -> None:
    scim = ScimEntitlements(db=db, users=users())
    first, second = make_app(), make_app(SCIM_URL_PREFIX="/provisioning/scim/v2")
    scim.init_app(first)
    scim.init_app(second)
    assert first.extensions["scim_entitlements"].config.url_prefix == "/scim/v2"
    assert second.extensions["scim_entitlements"].config.url_prefix == "/provisioning/scim/v2"
    assert not hasattr(scim, "app")
    assert "/provisioning/scim/v2/Users" in {r.rule for r in second.url_map.iter_rules()}


def test_registering_twice_on_one_app_raises() -> None:
    scim = ScimEntitlements(db=db, users=users())
    app = make_app()
    scim.init_app(app)
    with pytest.raises(RuntimeError, match="already registered"):
        scim.init_app(app)


def test_a_misspelled_scim_config_key_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="SCIM_MAX_PAGESIZE"):
        ScimEntitlements(make_app(SCIM_MAX_PAGESIZE=10), db=db, users=users())


def test_a_prefix_with_an_underscore_is_rejected_because_okta_rejects_it() -> None:
    with pytest.raises(RuntimeError, match="_"):
        ScimEntitlements(make_app(SCIM_URL_PREFIX="/scim_v2"), db=db, users=users())


def test_mapping_an_unknown_scim_attribute_fails_at_init_naming_it() -> None:
    with pytest.raises(MappingError, match="userNom"):
        ScimEntitlements(make_app(), db=db, users=users(userNom=Account.login))


def test_mapping_a_column_of_another_model_fails_at_init_naming_both() -> None:
    with pytest.raises(MappingError, match="Other"):
        ScimEntitlements(make_app(), db=db, users=users(userName=Account.login, displayName=Other.label))


def test_unmapped_attributes_are_not_advertised() -> None:
    app = make_app()
    ScimEntitlements(app, db=db, users=users())
    schema = app.extensions["scim_entitlements"].registry.user.schema
    assert [a.name for a in schema.core.attributes] == ["userName", "active"]
    assert schema.extensions == ()


def test_routing_misses_under_the_prefix_are_scim_errors_and_elsewhere_are_not() -> None:
    app = make_app()
    ScimEntitlements(app, db=db, users=users())
    client = app.test_client()
    scim_miss = client.get("/scim/v2/Nope")
    assert scim_miss.status_code == 404
    assert scim_miss.content_type.startswith("application/scim+json")
    assert scim_miss.get_json()["status"] == "404"
    wrong_method = client.post("/scim/v2/ServiceProviderConfig")
    assert wrong_method.status_code == 405 and wrong_method.get_json()["status"] == "405"
    host_miss = client.get("/elsewhere")
    assert host_miss.status_code == 404 and not host_miss.content_type.startswith("application/scim+json")
