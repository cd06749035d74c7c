"""Seed the example app's database directly, with SQLAlchemy Core bulk inserts (never through HTTP)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from .population import TENANT, group_member, large_groups, user_name

#: Rows per bulk INSERT.
BATCH = 10_000


@dataclass
class Population:
    users: int
    groups: int
    org_id: int = 0
    token: str = ""
    role_ids: list[int] = field(default_factory=list)
    characteristic_ids: list[int] = field(default_factory=list)
    #: "10k" / "all" -> (group id, members)
    large_groups: dict[str, tuple[int, int]] = field(default_factory=dict)
    seconds: float = 0.0


def prepare_postgres_database(url: str) -> None:
    """Drop and create the bench's own database (named in ``url``), through the ``postgres`` database."""
    target = sa.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def _batches(rows: list[dict[str, Any]], size: int = BATCH) -> Any:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def seed(database_url: str, users: int, groups: int, secret_key: str) -> Population:
    """Create the schema and the population; return what the benchmark needs to know about it."""
    started = time.perf_counter()
    if database_url.startswith("postgresql"):
        prepare_postgres_database(database_url)
    elif database_url.startswith("sqlite:///"):
        path = database_url.removeprefix("sqlite:///")
        for suffix in ("", "-wal", "-shm", "-journal"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)

    from example_app import create_app
    from example_app.commands import CHARACTERISTICS, ROLES
    from example_app.models import (
        Characteristic,
        Group,
        Role,
        User,
        UserEmail,
        db,
        group_members,
        user_characteristics,
        user_roles,
    )

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": secret_key})
    pop = Population(users=users, groups=groups)
    with app.app_context():
        db.drop_all()
        db.create_all()
        state = app.extensions["scim_entitlements"]
        pop.org_id = int(state.resolve_tenant(TENANT, create=True))
        db.session.commit()
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        with db.engine.begin() as conn:
            conn.execute(sa.insert(Role.__table__), [
                {"id": n, "name": name, "code": code, "description": desc}
                for n, (name, code, desc) in enumerate(ROLES, 1)])
            conn.execute(sa.insert(Characteristic.__table__), [
                {"id": n, "name": name, "description": desc, "category": cat}
                for n, (name, desc, cat) in enumerate(CHARACTERISTICS + [("is_remote", "Works remotely", "work")], 1)])
            pop.role_ids = list(range(1, len(ROLES) + 1))
            pop.characteristic_ids = [1, 2]

            user_rows, email_rows, role_rows, char_rows = [], [], [], []
            for i in range(1, users + 1):
                user_rows.append({
                    "id": i, "org_id": pop.org_id, "user_name": user_name(i),
                    "first_name": f"First{i}", "last_name": f"Last{i}", "display_name": f"First{i} Last{i}",
                    "external_id": f"okta-{i:08d}", "active": True, "password_hash": None,
                    "created_at": now, "updated_at": now})
                email_rows.append({"id": i, "user_id": i, "value": user_name(i), "type": "work",
                                   "display": None, "primary": True})
                role_rows.append({"user_id": i, "role_id": pop.role_ids[i % 3]})
                if i % 10 == 0:
                    role_rows.append({"user_id": i, "role_id": pop.role_ids[(i + 1) % 3]})
                if i % 5 == 0:
                    char_rows.append({"user_id": i, "characteristic_id": 1 + (i // 5) % 2})
            for table, rows in ((User.__table__, user_rows), (UserEmail.__table__, email_rows),
                                (user_roles, role_rows), (user_characteristics, char_rows)):
                for batch in _batches(rows):
                    conn.execute(sa.insert(table), batch)
            del user_rows, email_rows, role_rows, char_rows

            group_rows = [{"id": g, "org_id": pop.org_id, "name": f"Group {g:05d}", "external_id": f"okta-g{g:06d}",
                           "created_at": now, "updated_at": now} for g in range(1, groups + 1)]
            pop.large_groups = large_groups(users, groups)
            for name, (gid, _size) in pop.large_groups.items():
                group_rows.append({"id": gid, "org_id": pop.org_id, "name": f"Large {name}", "external_id": None,
                                   "created_at": now, "updated_at": now})
            conn.execute(sa.insert(Group.__table__), group_rows)
            # Every other user is in one of the regular groups: users/2/groups members each on average.
            member_rows = [{"group_id": group_member(i, groups), "user_id": i} for i in range(1, users + 1)
                           if group_member(i, groups) is not None]
            for gid, size in pop.large_groups.values():
                member_rows += [{"group_id": gid, "user_id": i} for i in range(1, size + 1)]
            for batch in _batches(member_rows):
                conn.execute(sa.insert(group_members), batch)

            if conn.dialect.name == "postgresql":
                for table in ("users", "user_emails", "groups", "roles", "characteristics"):
                    conn.execute(sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE" if conn.dialect.name == "postgresql" else "ANALYZE"))
        _id, pop.token = state.tokens.issue(db.session.connection(), pop.org_id, "bench.example")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    pop.seconds = time.perf_counter() - started
    return pop
