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


def test_migrations_downgrade_to_todo_0001(empty_database: str) -> None:
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


def test_migrated_tables_never_hand_out_a_deleted_id_again(empty_database: str) -> None:
    app = migrated_app(empty_database)
    try:
        with app.app_context(), db.engine.begin() as conn:
            org = conn.execute(sa.text("INSERT INTO orgs (domain, name) VALUES ('a.example', 'A') RETURNING id"))
            org = org.scalar()
            for table, insert in (
                    ("users", "INSERT INTO users (org_id, user_name, active, session_token, created_at, updated_at) "
                              "VALUES (:org, :name, true, :name, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id"),
                    ("groups", "INSERT INTO groups (org_id, name, created_at, updated_at) "
                               "VALUES (:org, :name, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id")):
                first = conn.execute(sa.text(insert), {"org": org, "name": f"{table}-1"}).scalar()
                conn.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": first})
                second = conn.execute(sa.text(insert), {"org": org, "name": f"{table}-2"}).scalar()
                assert second > first, table
    finally:
        with app.app_context():
            db.engine.dispose()


def test_upgrade_from_todo_0004_keeps_users_and_todos_and_drops_orphans(
        empty_database: str) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database})
    try:
        with app.app_context():
            with logging_preserved():
                flask_migrate.upgrade(revision="todo_0004")
            with db.engine.begin() as conn:
                sqlite = conn.dialect.name == "sqlite"
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # as todo_0004's SQLite databases ran
                conn.execute(sa.text("INSERT INTO orgs (id, domain, name) VALUES (1, 'a.example', 'A')"))
                for uid in (1, 2):
                    conn.execute(sa.text("INSERT INTO users (id, org_id, user_name, active, created_at, updated_at) "
                                         "VALUES (:id, 1, :name, true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                                 {"id": uid, "name": f"user{uid}@a.example"})
                    conn.execute(sa.text("INSERT INTO todos (org_id, owner_id, title, completed, created_at) "
                                         "VALUES (1, :id, 'kept', false, CURRENT_TIMESTAMP)"), {"id": uid})
                if sqlite:  # a todo whose owner was deleted while foreign keys went unenforced
                    conn.execute(sa.text("INSERT INTO todos (org_id, owner_id, title, completed, created_at) "
                                         "VALUES (1, 99, 'orphan', false, CURRENT_TIMESTAMP)"))
            db.engine.dispose()
            with logging_preserved():
                flask_migrate.upgrade()
            with db.engine.begin() as conn:
                names = conn.execute(sa.text("SELECT user_name FROM users ORDER BY id")).scalars().all()
                titles = conn.execute(sa.text("SELECT title FROM todos ORDER BY id")).scalars().all()
                assert names == ["user1@a.example", "user2@a.example"] and titles == ["kept", "kept"]
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:  # the lower() index survived
                conn.execute(sa.text("INSERT INTO users (org_id, user_name, active, session_token, created_at, "
                                     "updated_at) VALUES (1, 'USER1@a.example', true, 'x', CURRENT_TIMESTAMP, "
                                     "CURRENT_TIMESTAMP)"))
            assert schema_differences(app) == []
    finally:
        with app.app_context():
            db.engine.dispose()
