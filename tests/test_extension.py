"""The extension object: factory pattern, both registration forms, declarations as values, configuration
checks, mapping checks at init_app."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from marshmallow import fields
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from flask_scim_entitlements import (
    Attr,
    EntitlementType,
    Extension,
    GroupMapping,
    MappingError,
    MultiValued,
    RoleType,
    ScimEntitlements,
    ScimSchema,
    UserMapping,
    attr,
)


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Account(db.Model):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    enabled: Mapped[bool] = mapped_column(default=True)


account_perms = sa.Table(
    "account_perms", db.metadata,
    sa.Column("account_id", sa.ForeignKey("accounts.id"), primary_key=True),
    sa.Column("perm_id", sa.ForeignKey("perms.id"), primary_key=True),
)


class Perm(db.Model):
    __tablename__ = "perms"
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(100))
    tier: Mapped[str | None] = mapped_column(sa.String(20))


Account.perms = relationship(Perm, secondary=account_perms)


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


# -- both registration forms --------------------------------------------------------------------------


def _rules(app: Flask) -> set[str]:
    return {r.rule for r in app.url_map.iter_rules()}


def test_register_blueprint_alone_sets_up_state_error_bodies_and_cli() -> None:
    scim = ScimEntitlements(db=db, users=users())
    app = make_app()
    app.register_blueprint(scim.blueprint, url_prefix="/provisioning/v2")
    state = app.extensions["scim_entitlements"]
    assert [rt.name for rt in state.registry] == ["User"]
    assert "/provisioning/v2/Users/<resource_id>" in _rules(app)
    assert "scim" in app.cli.commands
    client = app.test_client()
    miss = client.get("/provisioning/v2/Nope")
    assert miss.status_code == 404 and miss.get_json()["status"] == "404"
    unauthenticated = client.get("/provisioning/v2/Users")
    assert unauthenticated.status_code == 401 and unauthenticated.content_type.startswith("application/scim+json")
    with app.app_context():
        db.create_all()
    result = app.test_cli_runner().invoke(args=["scim", "create-token", "--tenant", "t1"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    assert client.get("/provisioning/v2/Users", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_register_blueprint_without_url_prefix_mounts_at_scim_url_prefix() -> None:
    scim = ScimEntitlements(db=db, users=users())
    default, configured = make_app(), make_app(SCIM_URL_PREFIX="/api/scim")
    default.register_blueprint(scim.blueprint)
    configured.register_blueprint(scim.blueprint)
    assert "/scim/v2/Users" in _rules(default)
    assert "/api/scim/Users" in _rules(configured) and "/scim/v2/Users" not in _rules(configured)


def test_init_app_still_mounts_the_blueprint_and_cannot_follow_register_blueprint() -> None:
    scim = ScimEntitlements(db=db, users=users())
    app = make_app()
    scim.init_app(app)
    assert app.blueprints["scim"] is scim.blueprint and "/scim/v2/Users" in _rules(app)
    other = make_app()
    other.register_blueprint(scim.blueprint)
    with pytest.raises(RuntimeError, match="already registered"):
        scim.init_app(other)


def test_the_blueprint_of_another_extension_cannot_join_an_app_already_set_up() -> None:
    app = make_app()
    ScimEntitlements(db=db, users=users()).init_app(app)
    with pytest.raises(RuntimeError, match="another ScimEntitlements"):
        app.register_blueprint(ScimEntitlements(db=db, users=users()).blueprint, name="scim2")


@pytest.mark.parametrize("prefix", ["/scim/<a>/<b>", "/scim/<path:tenant>", "/scim_v2/<tenant>"])
def test_a_prefix_with_two_variables_a_path_variable_or_an_underscore_is_refused(prefix: str) -> None:
    scim = ScimEntitlements(db=db, users=users())
    with pytest.raises(RuntimeError, match="variable|'_'"):
        make_app().register_blueprint(scim.blueprint, url_prefix=prefix)


def test_a_tenant_variable_may_have_any_name_and_an_underscore_in_it() -> None:
    scim = ScimEntitlements(db=db, users=users())
    app = make_app()
    app.register_blueprint(scim.blueprint, url_prefix="/scim/v2/<org_key>")
    assert "/scim/v2/<org_key>/Users" in _rules(app)
    miss = app.test_client().get("/scim/v2/anything/Nope")
    assert miss.status_code == 404 and miss.get_json()["status"] == "404"


# -- declarations are values ----------------------------------------------------------------------------


class PermExtension(ScimSchema):
    tier = attr(fields.String)


def _declarations() -> list[Any]:
    ext = Extension(urn="urn:example:perm", schema=PermExtension, attributes={"tier": Perm.tier})
    return [
        users(), GroupMapping(Other, attributes={"displayName": Other.label}),
        RoleType(Perm, attributes={"displayName": Perm.label}),
        EntitlementType(Perm, name="Perm", endpoint="/Perms", attributes={"displayName": Perm.label}),
        ext, Attr(column=Account.login), MultiValued(Account.perms, value=Perm.id),
    ]


@pytest.mark.parametrize("declaration", _declarations(), ids=lambda d: type(d).__name__)
def test_mapping_declarations_are_frozen(declaration: Any) -> None:
    name = dataclasses.fields(declaration)[0].name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(declaration, name, None)
    for value in vars(declaration).values():
        if isinstance(value, dict):
            raise AssertionError(f"{type(declaration).__name__} holds a mutable dict")


@pytest.mark.parametrize("call", [
    lambda: EntitlementType(Perm, "License", "/Licenses"),
    lambda: RoleType(Perm, Perm.id),
    lambda: UserMapping(Account, Account.id, Account.login),
    lambda: GroupMapping(Other, Other.id),
    lambda: Extension("urn:example:perm", PermExtension),
    lambda: Attr(lambda obj: obj),
], ids=["EntitlementType", "RoleType", "UserMapping", "GroupMapping", "Extension", "Attr"])
def test_positional_arguments_after_the_model_fail_loudly(call: Any) -> None:
    with pytest.raises(TypeError, match="positional"):
        call()


def test_init_app_writes_nothing_on_the_hosts_declarations() -> None:
    attributes = {"userName": Account.login}
    user_mapping = UserMapping(Account, attributes=attributes)
    role_ext = Extension(urn="urn:example:perm", schema=PermExtension, attributes={"tier": Perm.tier})
    roles = RoleType(Perm, attributes={"displayName": Perm.label}, holders=Account.perms, extensions=[role_ext])
    before = {id(d): dict(vars(d)) for d in (user_mapping, roles, role_ext)}
    scim = ScimEntitlements(db=db, users=user_mapping, roles=roles)
    scim.init_app(make_app())
    attributes["active"] = Account.enabled  # a later change to the host's dict does not reach the declaration
    assert {id(d): dict(vars(d)) for d in (user_mapping, roles, role_ext)} == before
    assert dict(roles.attributes) == {"displayName": Perm.label}
    assert "active" not in user_mapping.attributes


@pytest.mark.parametrize("first", ["with roles", "without roles"])
def test_two_apps_with_different_mappings_in_one_process_do_not_affect_each_other(first: str) -> None:
    scim = ScimEntitlements(db=db, users=users())
    with_roles, without_roles = make_app(), make_app()
    role_ext = Extension(urn="urn:example:perm", schema=PermExtension, attributes={"tier": Perm.tier})
    roles = RoleType(Perm, attributes={"displayName": Perm.label}, holders=Account.perms, extensions=[role_ext])
    steps = {
        "with roles": lambda: scim.init_app(with_roles, roles=roles),
        "without roles": lambda: scim.init_app(
            without_roles, users=UserMapping(Account, attributes={"userName": Account.login})),
    }
    steps[first]()
    steps["without roles" if first == "with roles" else "with roles"]()
    one = with_roles.extensions["scim_entitlements"].registry
    two = without_roles.extensions["scim_entitlements"].registry
    assert [a.name for a in one.user.schema.core.attributes] == ["userName", "active", "roles"]
    assert [a.name for a in two.user.schema.core.attributes] == ["userName"]
    assert [rt.name for rt in one] == ["User", "Role"] and [rt.name for rt in two] == ["User"]
    assert one.by_name("Role").schema.urns[-1] == "urn:example:perm"
    assert "/scim/v2/Roles" in _rules(with_roles) and "/scim/v2/Roles" not in _rules(without_roles)
    # The extension object keeps its own declarations: init_app's arguments stay with their app.
    assert scim.roles is None and scim.users is not None and scim.users.attributes.keys() == {"userName", "active"}
    assert one.user.mapping is not two.user.mapping
