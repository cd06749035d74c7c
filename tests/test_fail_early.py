"""Fail early, fail clearly: set-up mistakes stop ``init_app`` with a message naming them, and a database
whose migrations were not run answers 500 with a log line naming the command, not a 503 "retry later"."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_scim_entitlements import GroupMapping, MappingError, ScimEntitlements, UserMapping, current_scim

from .conftest import Scim, issue_token


class _Base(DeclarativeBase):
    pass


host_db = SQLAlchemy(model_class=_Base)


class Person(host_db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(100))
    nick: Mapped[str] = mapped_column(sa.String(100))


class Team(host_db.Model):  # type: ignore[name-defined,misc]
    id: Mapped[int] = mapped_column(primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(100))


def _init(config: dict[str, Any] | None = None, **mappings: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI="sqlite://", **(config or {}))
    host_db.init_app(app)
    users = mappings.pop("users", UserMapping(Person, attributes={"userName": Person.login}))
    ScimEntitlements(db=host_db, users=users, **mappings).init_app(app)
    return app


def test_hashing_tokens_without_a_key_fails_at_init_app() -> None:
    with pytest.raises(RuntimeError, match="SECRET_KEY or SCIM_TOKEN_HASH_KEY"):
        _init()


@pytest.mark.parametrize("config", [{"SECRET_KEY": "k"}, {"SCIM_TOKEN_HASH_KEY": "k"},
                                    {"SCIM_TOKEN_TABLE": False}])
def test_a_key_or_no_token_table_is_enough(config: dict[str, Any]) -> None:
    assert "scim_entitlements" in _init(config).extensions


def test_a_user_mapping_without_username_fails_at_init_app_naming_it() -> None:
    with pytest.raises(MappingError, match="userName"):
        _init({"SECRET_KEY": "k"}, users=UserMapping(Person, attributes={"displayName": Person.nick}))


def test_a_group_mapping_without_displayname_fails_at_init_app_naming_it() -> None:
    with pytest.raises(MappingError, match="displayName"):
        _init({"SECRET_KEY": "k"}, groups=GroupMapping(Team, attributes={"externalId": Team.label}))


def test_a_read_only_attribute_cannot_be_mapped() -> None:
    with pytest.raises(MappingError, match="'groups' is read-only"):
        _init({"SECRET_KEY": "k"}, users=UserMapping(Person, attributes={"userName": Person.login,
                                                                         "groups": Person.nick}))


def test_the_public_token_api_issues_and_revokes_tokens(app: Any, client: Any) -> None:
    from example_app.scim import scim as extension

    with app.app_context():
        token_id, token = extension.issue_token("gridco.example", "Okta production")
    assert Scim(client, token).get("/Users").status_code == 200
    with app.app_context():
        assert current_scim.revoke_token(token_id=token_id)
        assert not current_scim.revoke_token(token_id=token_id)
    assert Scim(client, token).get("/Users").status_code == 401


@pytest.mark.parametrize("table", ["scim_token", "user_emails"])
def test_a_missing_table_is_a_500_with_a_log_line_naming_the_migration_command(
        app: Any, client: Any, table: str, caplog: pytest.LogCaptureFixture) -> None:
    from example_app.models import db

    token = issue_token(app, "gridco.example")
    with app.app_context():
        db.session.execute(sa.text(f"DROP TABLE {table}"))
        db.session.commit()
    with caplog.at_level(logging.ERROR):
        response = Scim(client, token).get("/Users")
    assert response.status_code == 500
    assert response.get_json()["status"] == "500" and "Retry-After" not in response.headers
    assert table not in response.get_data(as_text=True)  # no internals in the body
    [record] = [r for r in caplog.records if "flask db upgrade" in r.getMessage()]
    assert table in record.getMessage()
