"""init_app warns when an SQLite table would hand a deleted resource's id out again (RFC 7643 §3.1)."""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from flask_scim_entitlements import ScimEntitlements, UserMapping


def host(database_url: str, autoincrement: bool, key: type = int) -> tuple[Flask, ScimEntitlements]:
    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class Person(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "people"
        __table_args__ = {"sqlite_autoincrement": True} if autoincrement else {}
        id: Mapped[Any] = mapped_column(sa.Integer if key is int else sa.String(36), primary_key=True)
        tenant: Mapped[str] = mapped_column(sa.String(50))
        user_name: Mapped[str] = mapped_column(sa.String(100))

    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="x")
    db.init_app(app)
    scim = ScimEntitlements(db=db, users=UserMapping(Person, tenant=Person.tenant,
                                                     attributes={"userName": Person.user_name}))
    return app, scim


def warnings_of(caplog: Any, database_url: str, autoincrement: bool, key: type = int) -> list[str]:
    caplog.clear()
    app, scim = host(database_url, autoincrement, key)
    with caplog.at_level(logging.WARNING, logger="flask_scim_entitlements"):
        scim.init_app(app)
    return [r.getMessage() for r in caplog.records if r.name.startswith("flask_scim_entitlements")]


def test_init_app_warns_on_an_sqlite_integer_id_without_autoincrement(caplog: Any, tmp_path: Any) -> None:
    messages = warnings_of(caplog, f"sqlite:///{tmp_path / 'a.sqlite3'}", autoincrement=False)
    assert len(messages) == 1 and "people.id" in messages[0] and "sqlite_autoincrement" in messages[0]


def test_init_app_is_quiet_when_ids_are_never_reused(caplog: Any, tmp_path: Any, postgres_url: str) -> None:
    assert warnings_of(caplog, f"sqlite:///{tmp_path / 'b.sqlite3'}", autoincrement=True) == []
    assert warnings_of(caplog, f"sqlite:///{tmp_path / 'c.sqlite3'}", autoincrement=False, key=str) == []
    assert warnings_of(caplog, postgres_url, autoincrement=False) == []  # sequences never reuse a number
