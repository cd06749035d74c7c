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


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite enforces foreign keys only when asked, per connection: without it, a deleted user's todos and
    # grants would stay behind (ON DELETE CASCADE is declared, but not applied).
    cursor.execute("PRAGMA foreign_keys=ON")
    # Readers go on while one worker commits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # SCIM writes take the write lock at their start (BEGIN IMMEDIATE) and queue behind each other:
    # wait for it rather than fail after the driver's default 5 s when an identity provider pushes in bulk.
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def database_problem(app: Flask, error: BaseException) -> str | None:
    """One line saying why the database cannot be used (missing, unreachable, refused), or None if
    ``error`` is not such a problem."""
    if not isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError):
        return None
    url = sa.make_url(app.config["SQLALCHEMY_DATABASE_URI"]).render_as_string(hide_password=True)
    reason = next((line.strip() for line in str(error.orig).splitlines() if line.strip()), type(error).__name__)
    return f"Cannot use the database {url}: {reason}. Check DATABASE_URL (and that the database exists)."


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
        # The admin page's activity log (example_app/activity.py); ACTIVITY_LOG=0 turns it off.
        ACTIVITY_LOG=os.environ.get("ACTIVITY_LOG", "1") != "0",
    )
    if config:
        app.config.update(config)
    db.init_app(app)
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    migrate.init_app(app, db, directory=str(MIGRATIONS))

    from . import commands, web

    web.register_error_pages(app)  # before the extension, which keeps 404/405 under its prefix for itself
    scim.init_app(app)
    commands.register(app)
    web.register(app)
    return app
