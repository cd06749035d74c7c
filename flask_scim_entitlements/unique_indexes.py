"""Which uniqueness rules the host's database enforces by itself, with a unique index.

On PostgreSQL a write of a unique attribute (``userName``) takes a transaction-scoped advisory lock
on the value before checking it (``Store._lock_unique``): without it, two parallel POSTs of
"Ann@x" and "ann@x" could both pass the check.  Where the host's table has a unique index that
already refuses the second row (``UNIQUE (org_id, lower(user_name))`` for a case-insensitive
attribute), the lock adds a round trip and decides nothing: the second INSERT waits on the index
entry until the first commits, then fails, and the store answers 409 ``uniqueness`` as it does for
any unique violation (``constraint_error``).

So the lock is skipped exactly where such an index exists.  It is read from the database's catalog
(never trusted from model metadata, which a migration may not have applied), once per engine and
column, and read again after :data:`RECHECK_SECONDS`; a partial index (``WHERE``), an index
PostgreSQL marks invalid (a ``CREATE INDEX CONCURRENTLY`` not finished, or failed), and an index on
more than the tenant column and the value do not count.  An index dropped while the process runs
is noticed within :data:`RECHECK_SECONDS`.  The table is looked up as the connection sees it
(``schema_translate_map`` applied; otherwise its ``search_path``): a host that points each request
at another schema with ``SET search_path`` should give its tables a schema, or keep one index in
every schema.
"""

from __future__ import annotations

import re
import threading
import time
import weakref
from typing import Any

import sqlalchemy as sa

#: How long an answer is kept before the catalog is read again (an index dropped or added meanwhile).
RECHECK_SECONDS = 60.0

_cache: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[bool, float]]] = weakref.WeakKeyDictionary()
_guard = threading.Lock()

_CAST = re.compile(r"::[a-z ]+(\(\d+\))?")
_DOUBLED = re.compile(r"\(\((\w+)\)\)")
_WHOLE = re.compile(r"^\((\w+)\)$")


def normalized(expression: str) -> str:
    """An index key as PostgreSQL prints it, in one comparable form: ``lower((user_name)::text)``,
    ``lower(user_name::text)`` and ``lower("user_name")`` are all ``lower(user_name)``."""
    text = _CAST.sub("", expression.lower().replace('"', "").replace(" ", ""))
    while (shorter := _WHOLE.sub(r"\1", _DOUBLED.sub(r"(\1)", text))) != text:
        text = shorter
    return text


def _keys(index: dict[str, Any]) -> list[str] | None:
    expressions = index.get("expressions") or index.get("column_names") or []
    if not expressions or any(e is None for e in expressions):
        return None
    return [normalized(str(e)) for e in expressions]


def _table_column(attribute: Any) -> Any:
    """The table column behind a mapped attribute (or the column itself); None for anything else."""
    columns = getattr(getattr(attribute, "property", None), "columns", None)
    if columns is not None:
        return columns[0] if len(columns) == 1 and isinstance(columns[0], sa.Column) else None
    return attribute if isinstance(attribute, sa.Column) else None


def enforced_by_index(connection: sa.Connection, attribute: Any, tenant_attribute: Any, case_exact: bool) -> bool:
    """Does a unique index on ``attribute``'s table refuse a second row with the same value
    (folded with ``lower()`` unless ``case_exact``) in the same tenant (``tenant_attribute``, or None)?"""
    column = _table_column(attribute)
    tenant = None if tenant_attribute is None else _table_column(tenant_attribute)
    if column is None or (tenant_attribute is not None and tenant is None):
        return False
    table = column.table
    if not isinstance(table, sa.Table) or (tenant is not None and tenant.table is not table):
        return False
    engine = connection.engine
    translate = connection.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(table.schema, table.schema)
    key = (schema, table.name, column.name, None if tenant is None else tenant.name, case_exact)
    now = time.monotonic()
    known = _cache.get(engine)
    if known is not None and key in known and known[key][1] > now:
        return known[key][0]
    value = column.name.lower()
    folded = {f"lower({value})"} if not case_exact else {value, f"lower({value})"}
    allowed = folded | ({tenant.name.lower()} if tenant is not None else set())
    found = False
    inspector = sa.inspect(connection)
    candidates: list[dict[str, Any]] = [dict(i) for i in inspector.get_indexes(table.name, schema=schema)]
    candidates += [{**c, "unique": True} for c in inspector.get_unique_constraints(table.name, schema=schema)]
    for index in candidates:
        options = index.get("dialect_options", {})
        if not index.get("unique") or options.get("postgresql_where") or options.get("postgresql_invalid"):
            continue
        keys = _keys(index)
        if keys and set(keys) <= allowed and folded & set(keys):
            found = True
            break
    with _guard:
        _cache.setdefault(engine, {})[key] = (found, now + RECHECK_SECONDS)
    return found


__all__ = ["enforced_by_index", "normalized"]
