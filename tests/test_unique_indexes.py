"""The PostgreSQL advisory lock on a unique value is skipped only where the host's own unique index refuses
the same duplicates (flask_scim_entitlements/unique_indexes.py), read from the catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from flask_scim_entitlements.unique_indexes import enforced_by_index, normalized


@pytest.mark.parametrize("printed", ["lower((name)::text)", "lower(name::text)", 'lower("name")', "LOWER( name )",
                                     "lower((name)::character varying(255))"])
def test_postgresql_s_printed_forms_of_lower_name_are_one_key(printed: str) -> None:
    assert normalized(printed) == "lower(name)"


def test_a_plain_or_parenthesised_column_is_its_name() -> None:
    assert normalized('"org_id"') == normalized("(org_id)") == "org_id"


@pytest.fixture
def tables(postgres_url: str) -> Iterator[tuple[sa.Connection, dict[str, sa.Table]]]:
    engine = sa.create_engine(postgres_url)
    meta = sa.MetaData()
    made = {}
    for name in ("lowered", "plain", "partial", "wider", "global_lower", "none"):
        made[name] = sa.Table(f"uniq_{name}", meta, sa.Column("id", sa.Integer, primary_key=True),
                              sa.Column("org_id", sa.Integer), sa.Column("name", sa.String(100)),
                              sa.Column("kind", sa.String(10)))
    sa.Index("uq_lowered", made["lowered"].c.org_id, sa.func.lower(made["lowered"].c.name), unique=True)
    sa.UniqueConstraint(made["plain"].c.org_id, made["plain"].c.name, name="uq_plain")
    sa.Index("uq_partial", made["partial"].c.org_id, sa.func.lower(made["partial"].c.name), unique=True,
             postgresql_where=made["partial"].c.kind == "a")
    sa.Index("uq_wider", made["wider"].c.org_id, sa.func.lower(made["wider"].c.name), made["wider"].c.kind, unique=True)
    sa.Index("uq_global", sa.func.lower(made["global_lower"].c.name), unique=True)
    meta.create_all(engine)
    try:
        with engine.connect() as conn:
            yield conn, made
    finally:
        meta.drop_all(engine)
        engine.dispose()


def _enforced(conn: sa.Connection, table: sa.Table, *, case_exact: bool, tenant: bool = True) -> bool:
    return enforced_by_index(conn, table.c.name, table.c.org_id if tenant else None, case_exact)


def test_a_unique_index_on_tenant_and_lower_value_enforces_a_case_insensitive_rule(tables: Any) -> None:
    conn, t = tables
    assert _enforced(conn, t["lowered"], case_exact=False)
    assert _enforced(conn, t["lowered"], case_exact=True)  # stricter than a case-exact rule: still no duplicate


def test_a_case_sensitive_unique_constraint_does_not_enforce_a_case_insensitive_rule(tables: Any) -> None:
    conn, t = tables
    assert not _enforced(conn, t["plain"], case_exact=False)
    assert _enforced(conn, t["plain"], case_exact=True)


def test_a_partial_or_wider_unique_index_enforces_nothing(tables: Any) -> None:
    conn, t = tables
    assert not _enforced(conn, t["partial"], case_exact=False)
    assert not _enforced(conn, t["wider"], case_exact=False)
    assert not _enforced(conn, t["none"], case_exact=False)


def test_an_index_across_tenants_is_stricter_and_enforces_the_rule_within_one(tables: Any) -> None:
    conn, t = tables
    assert _enforced(conn, t["global_lower"], case_exact=False)
    # without a tenant column, an index that includes one would allow duplicates across tenants
    assert not _enforced(conn, t["lowered"], case_exact=False, tenant=False)


def test_an_invalid_index_left_by_a_failed_concurrent_build_enforces_nothing(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    meta = sa.MetaData()
    table = sa.Table("uniq_invalid", meta, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("org_id", sa.Integer), sa.Column("name", sa.String(100)))
    meta.create_all(engine)
    try:
        with engine.connect() as conn:
            conn.execute(table.insert(), [{"org_id": 1, "name": "Ann"}, {"org_id": 1, "name": "ann"}])
            with pytest.raises(sa.exc.IntegrityError):  # the duplicates make the build fail: the index stays, invalid
                conn.execute(sa.text(
                    "CREATE UNIQUE INDEX CONCURRENTLY uq_invalid ON uniq_invalid (org_id, lower(name))"))
            assert conn.execute(sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 'uq_invalid'::regclass")
                                ).scalar()
            assert not enforced_by_index(conn, table.c.name, table.c.org_id, case_exact=False)
    finally:
        meta.drop_all(engine)
        engine.dispose()


def test_an_answer_is_read_again_after_the_recheck_time(tables: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from flask_scim_entitlements import unique_indexes

    conn, t = tables
    assert _enforced(conn, t["lowered"], case_exact=False)
    conn.execute(sa.text("DROP INDEX uq_lowered"))
    conn.commit()
    assert _enforced(conn, t["lowered"], case_exact=False)  # kept, until the recheck
    later = unique_indexes.time.monotonic() + unique_indexes.RECHECK_SECONDS + 1
    monkeypatch.setattr(unique_indexes.time, "monotonic", lambda: later)
    assert not _enforced(conn, t["lowered"], case_exact=False)
