"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL.

Tests elsewhere use ``db.create_all()``; a deployment uses ``flask db upgrade``.
These tests catch the two drifting apart (a model change without a migration).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from example_app import create_app
from example_app.models import db

from ..conftest import logging_preserved

# SQLite cannot reflect expression-based indexes (users' lower(user_name)), so autogenerate says it skips
# comparing that one index there; PostgreSQL compares it.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index"),
    pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index"),
]

@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """A URL to a database with no tables at all (a fresh one on the test session's PostgreSQL server)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
        return
    server = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"scim_migrate_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def migrated_app(url: str) -> Any:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context(), logging_preserved():
        flask_migrate.upgrade()
    return app


def schema_differences(app: Any) -> list[Any]:
    with app.app_context(), db.engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), db.metadata)


def test_fresh_upgrade_matches_the_models(empty_database: str) -> None:
    app = migrated_app(empty_database)
    try:
        assert schema_differences(app) == []
        with app.app_context():
            config = app.extensions["migrate"].migrate.get_config()
            heads = ScriptDirectory.from_config(config).get_heads()
            assert [db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))] == heads
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
