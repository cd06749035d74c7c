"""The example Todo app: a small multi-tenant SaaS whose users, roles and traits
are provisioned by an identity provider through Flask-SCIM-Entitlements.

Run it (see README.md)::

    flask --app example_app db upgrade
    flask --app example_app seed
    flask --app example_app scim create-token --tenant gridco.example
    flask --app example_app run
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask_migrate import Migrate

from .models import db
from .scim import scim

MIGRATIONS = Path(__file__).parent / "migrations"

migrate = Migrate()


def _sqlite_wal(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # SCIM writes take the write lock at their start (BEGIN IMMEDIATE) and queue behind each other:
    # wait for it rather than fail after the driver's default 5 s when an identity provider pushes in bulk.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    default_db = "sqlite:///" + str(Path(app.instance_path) / "todo.sqlite3")
    database_url = os.environ.get("DATABASE_URL", default_db)
    if database_url.startswith("postgres://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY", "dev-only-change-me"),
        SQLALCHEMY_DATABASE_URI=database_url,
    )
    if config:
        app.config.update(config)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            # Every SCIM request writes an activity row: WAL lets readers go on while one worker commits.
            sa.event.listen(db.engine, "connect", _sqlite_wal)
    migrate.init_app(app, db, directory=str(MIGRATIONS))
    scim.init_app(app)

    from . import commands, web

    commands.register(app)
    web.register(app)
    return app
