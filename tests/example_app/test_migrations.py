"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

Tests elsewhere use ``db.create_all()``; a deployment uses ``flask db upgrade``.
These tests catch the two drifting apart (a model change without a migration).
"""

from __future__ import annotations

from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

import flask_scim_entitlements.migrations as scim_migrations
from example_app import create_app
from example_app.models import db

from ..conftest import logging_preserved

# SQLite cannot reflect expression-based indexes (users' lower(user_name)), so autogenerate says it skips
# comparing that one index there; PostgreSQL compares it.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
]

def migrated_app(url: str) -> Any:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context(), logging_preserved():
        flask_migrate.upgrade()
    return app


def schema_differences(app: Any) -> list[Any]:
    """What ``flask db migrate`` would write: the extension's tables are not the app's (env.py's hook)."""
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=dict(scim_migrations.FILTERS))
        return compare_metadata(context, db.metadata)


def test_fresh_upgrade_matches_the_models(empty_database: str) -> None:
    app = migrated_app(empty_database)
    try:
        assert schema_differences(app) == []
        with app.app_context():
            config = app.extensions["migrate"].migrate.get_config()
            heads = ScriptDirectory.from_config(config).get_heads()
            assert [db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))] == heads
            assert scim_migrations.current(db.session.connection()) == scim_migrations.head()
    finally:
        with app.app_context():
            db.engine.dispose()


def test_scim_activity_migration_downgrades_to_todo_0001(empty_database: str) -> None:
    app = migrated_app(empty_database)
    try:
        with app.app_context(), logging_preserved():
            flask_migrate.downgrade(revision="todo_0001")
            tables = set(sa.inspect(db.engine).get_table_names())
            db.engine.dispose()
        assert "scim_activity" not in tables
        assert {"users", "todos", "scim_token"} <= tables
    finally:
        with app.app_context():
            db.engine.dispose()
