"""A host's life with migrations, as the README's "Migrations" section tells it, on SQLite and PostgreSQL.

From an empty folder: ``flask db init``, the one-line hook in ``migrations/env.py``, ``flask db migrate``
(the host's revision is written into the host's folder and holds only the host's tables), ``flask db
upgrade`` (the package's ``scim_token`` table too), a token and a SCIM request.  Then the package ships
its next revision (simulated by a second version location holding ``scim_0002``): a plain ``flask db
upgrade`` applies it, the host's history is untouched, and the host's next ``flask db migrate`` sees
nothing of it.  The commands run through Click's test runner, in the host's folder.
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import flask_scim_entitlements.migrations as scim_migrations

from .conftest import Scim, logging_preserved

# The env.py that Flask-Migrate 4.1's `flask db init` writes tries Flask-SQLAlchemy 2's db.get_engine() first.
pytestmark = pytest.mark.filterwarnings("ignore:'get_engine' is deprecated:DeprecationWarning")

README = Path(__file__).parent.parent / "README.md"

#: The host app of the README's "Migrations" section.
HOST_APP = '''
from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

from flask_scim_entitlements import ScimEntitlements, UserMapping

db = SQLAlchemy()
migrate = Migrate()


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    org = db.Column(db.String(100), nullable=False)
    user_name = db.Column(db.String(255), nullable=False)
    active = db.Column(db.Boolean, nullable=False, default=True)


scim = ScimEntitlements(db=db, users=UserMapping(
    User, tenant=User.org, attributes={"userName": User.user_name, "active": User.active}))


def create_app(database_url="sqlite:///host.sqlite3"):
    app = Flask(__name__)
    app.config.update(SQLALCHEMY_DATABASE_URI=database_url, SECRET_KEY="change-me")
    db.init_app(app)
    migrate.init_app(app, db)
    scim.init_app(app)
    return app
'''

#: What the README adds to migrations/env.py, right after ``config = context.config``.
ENV_PY_HOOK = '''
import flask_scim_entitlements.migrations as scim_migrations
scim_migrations.hook(context)
'''

#: The package's next release, simulated: a revision after scim_0001 adding a column.
NEXT_REVISION = '''
import sqlalchemy as sa
from alembic import op

revision = "scim_0002"
down_revision = "scim_0001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("scim_token", sa.Column("last_used_at", sa.DateTime(), nullable=True))


def downgrade():
    op.drop_column("scim_token", "last_used_at")
'''

#: The README's commands, in order.
COMMANDS = ["db init", "db migrate -m users", "db upgrade", "scim create-token --tenant acme.example"]


def _load_host(folder: Path) -> Any:
    path = folder / "host.py"
    path.write_text(HOST_APP)
    name = f"host_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _flask(app: Any, command: str) -> str:
    with logging_preserved():  # env.py's fileConfig() rewrites logging
        result = app.test_cli_runner().invoke(args=command.split())
    assert result.exit_code == 0, (command, result.output, result.exception)
    return str(result.output)


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_the_readme_shows_the_host_app_hook_and_commands_this_test_runs() -> None:
    readme = README.read_text()
    assert HOST_APP.strip() in readme
    assert ENV_PY_HOOK.strip() in readme
    for command in COMMANDS:
        assert f"flask --app host {command}" in readme


def test_a_host_from_an_empty_folder_migrates_and_a_later_package_revision_applies_with_plain_upgrade(
        empty_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    host = _load_host(tmp_path)
    app = host.create_app(empty_database)
    try:
        _flask(app, "db init")
        env_py = tmp_path / "migrations" / "env.py"
        anchor = "config = context.config\n"
        assert anchor in env_py.read_text()
        env_py.write_text(env_py.read_text().replace(anchor, anchor + ENV_PY_HOOK, 1))

        _flask(app, "db migrate -m users")
        [revision] = (tmp_path / "migrations" / "versions").glob("*.py")  # the host's folder
        assert "create_table('user'" in revision.read_text()
        assert "scim" not in revision.read_text()

        _flask(app, "db upgrade")
        with app.app_context():
            engine = host.db.engine
            assert {"user", "alembic_version", "scim_token", "scim_alembic_version"} <= _tables(engine)
            with engine.connect() as conn:
                host_head = conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
                assert scim_migrations.current(conn) == "scim_0001"
        assert revision.name.startswith(host_head)

        token = _flask(app, "scim create-token --tenant acme.example").strip().splitlines()[-1]
        assert Scim(app.test_client(), token).get("/Users").status_code == 200

        # The package's next release ships scim_0002.
        next_release = tmp_path / "next_release"
        next_release.mkdir()
        (next_release / "scim_0002_token_last_used.py").write_text(NEXT_REVISION)
        monkeypatch.setattr(scim_migrations, "VERSION_LOCATIONS", [*scim_migrations.VERSION_LOCATIONS,
                                                                   str(next_release)])
        assert scim_migrations.head() == "scim_0002"

        _flask(app, "db upgrade")
        with app.app_context(), host.db.engine.connect() as conn:
            assert scim_migrations.current(conn) == "scim_0002"
            assert "last_used_at" in {c["name"] for c in sa.inspect(conn).get_columns("scim_token")}
            assert conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == host_head
        assert Scim(app.test_client(), token).get("/Users").status_code == 200

        # The host's next autogenerate sees neither the package's tables nor its new column.
        _flask(app, "db migrate -m nothing")
        assert len(list((tmp_path / "migrations" / "versions").glob("*.py"))) == 1
    finally:
        with app.app_context():
            host.db.engine.dispose()


def test_flask_scim_upgrade_migrates_the_package_tables_alone(empty_database: str, tmp_path: Path) -> None:
    host = _load_host(tmp_path)
    app = host.create_app(empty_database)
    try:
        assert scim_migrations.head() in _flask(app, "scim upgrade")
        with app.app_context():
            assert {"scim_token", "scim_alembic_version"} == _tables(host.db.engine)
    finally:
        with app.app_context():
            host.db.engine.dispose()


def test_a_database_migrated_by_the_0_1_0_branch_is_adopted_at_scim_0001(empty_database: str,
                                                                         tmp_path: Path) -> None:
    host = _load_host(tmp_path)
    app = host.create_app(empty_database)
    try:
        with app.app_context():
            engine = host.db.engine
            with engine.begin() as conn:  # what 0.1.0 left: the table, recorded in the host's history
                scim_migrations.upgrade(conn)
                conn.execute(sa.text(f"DROP TABLE {scim_migrations.VERSION_TABLE}"))
        _flask(app, "scim upgrade")
        with app.app_context(), host.db.engine.connect() as conn:
            assert scim_migrations.current(conn) == scim_migrations.head()
    finally:
        with app.app_context():
            host.db.engine.dispose()
