"""A new resource's rows written as the ORM's flush would write them, without its unit of work.

A POST writes one row of the host's model and its child rows (emails).  ``session.flush()`` does
that in two ``INSERT`` statements, but first sorts its unit of work, collects each object's
values and dispatches its events: about half of a POST's database time on SQLite.  When the new
resource is all the session has to write, that work decides nothing, so :func:`insert_alone`
issues the same two statements (``INSERT ... RETURNING`` every column, the child rows as one
statement per set of keys, as the flush batches them) and leaves the instances detached, with the
database's values (defaults included): the session has nothing to flush or to expire.  The host's
``Attr(set=...)`` hooks and attribute events have already run on the instance; what a flush adds is
the rows, and those are what is written here.

It is used only where it is known to write what the flush would, and is otherwise declined (the
store then flushes): the session has nothing else pending, nothing listens to the flush
(``before_flush``, ``after_flush``...), to the instances' passage into the session, or to the
models' inserts (``before_insert``, ``after_insert``); the instance and its child rows are new and
nothing else of theirs changed (a hook that appended to another relationship); every model is
mapped to one table with no inheritance, version counter or dataclass defaults; no value is a SQL
expression; and the database returns inserted rows in the order of their parameters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from itertools import groupby
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached, scoped_session
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.orm.attributes import set_committed_value

from .mapping import MultiValued

if TYPE_CHECKING:
    from .resource_types import ResourceType

#: The most guarded statements an insert plan keeps (one per set of columns a request gives).
_GUARDED_STATEMENTS = 64

#: Session events a flush (or an instance's passage from new to persistent) would dispatch.
_SESSION_EVENTS = ("before_flush", "after_flush", "after_flush_postexec", "transient_to_pending",
                   "pending_to_persistent", "detached_to_persistent", "before_attach", "after_attach")


class Collision(Exception):  # noqa: N818 - a signal to the caller, not an error it shows
    """The guarded ``INSERT`` wrote nothing: its guard (a uniqueness check) did not hold."""


@dataclasses.dataclass(frozen=True)
class Guard:
    """A condition the new row's ``INSERT`` must meet, checked in the same statement
    (``INSERT ... SELECT ... WHERE``): ``build()`` makes it from bound parameters only, once per
    ``key``; ``params`` are this request's values for them."""

    key: Any
    build: Callable[[], Any]
    params: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class _Table:
    mapper: Any
    insert: Any  # INSERT ... RETURNING every column, in parameter order
    columns: tuple[tuple[Any, str], ...]  # (table column, mapped attribute)
    returned: tuple[tuple[int, str], ...]  # (position in RETURNING, mapped attribute)
    #: guarded INSERT ... SELECT statements, by (the columns given, the guard's key); bounded
    guarded: dict[Any, Any] = dataclasses.field(default_factory=dict, compare=False, hash=False)

    def insert_if(self, values: dict[str, Any], guard: Guard) -> Any:
        """``INSERT ... SELECT :values WHERE <guard> RETURNING`` every column: one row, or none."""
        key = (tuple(values), guard.key)
        statement = self.guarded.get(key)
        if statement is None:
            table = self.mapper.local_table
            given = [table.c[name] for name in values]
            select = sa.select(*(sa.bindparam(column.key, type_=column.type) for column in given)).where(guard.build())
            statement = sa.insert(table).from_select(given, select).returning(*table.c)
            if len(self.guarded) >= _GUARDED_STATEMENTS:
                self.guarded.clear()
            self.guarded[key] = statement
        return statement


@dataclasses.dataclass(frozen=True)
class _Child:
    relationship: str  # the owner's attribute holding the child rows
    table: _Table
    keys: tuple[tuple[str, Any], ...]  # (owner's attribute, child's foreign-key column)
    backrefs: frozenset[str]  # the child's relationships back to the owner (set when appended)


@dataclasses.dataclass(frozen=True)
class InsertPlan:
    owner: _Table
    children: tuple[_Child, ...]
    other_relationships: tuple[str, ...]  # the owner's relationships that must not have changed


def plan_for(rt: ResourceType, dialect: Any) -> InsertPlan | None:
    """How to insert a new ``rt`` resource and its child rows; None where only a flush will do."""
    if not (getattr(dialect, "insert_returning", False)
            and getattr(dialect, "insert_executemany_returning_sort_by_parameter_order", False)):
        return None
    mapping = rt.mapping
    owner = _table(mapping.model)
    if owner is None:
        return None
    children = []
    child_relationships = set()
    for target in mapping.targets.values():
        if not isinstance(target, MultiValued):
            continue
        prop = target.relationship.property
        table = _table(target.child_model)
        if table is None or prop.secondary is not None:
            return None
        keys = []
        for parent_column, child_column in prop.local_remote_pairs:
            keys.append((owner.mapper.get_property_by_column(parent_column).key, child_column))
        backrefs = frozenset(p.key for p in table.mapper.relationships if p.mapper is owner.mapper)
        children.append(_Child(prop.key, table, tuple(keys), backrefs))
        child_relationships.add(prop.key)
    others = tuple(p.key for p in owner.mapper.relationships if p.key not in child_relationships)
    return InsertPlan(owner, tuple(children), others)


def _table(model: Any) -> _Table | None:
    mapper: Any = sa.inspect(model)
    table = mapper.local_table
    if mapper.inherits is not None or mapper.polymorphic_on is not None or mapper.version_id_col is not None \
            or not isinstance(table, sa.Table) or len(mapper.tables) != 1 or dataclasses.is_dataclass(model):
        return None
    columns = []
    for prop in mapper.column_attrs:
        if len(prop.columns) != 1 or not isinstance(prop.columns[0], sa.Column) or prop.columns[0].table is not table:
            return None  # a column_property of an expression, or of another table
        columns.append((prop.columns[0], prop.key))
    returning = list(table.c)
    attribute = {column: key for column, key in columns}
    returned = tuple((position, attribute[column]) for position, column in enumerate(returning) if column in attribute)
    insert = sa.insert(table).returning(*returning, sort_by_parameter_order=True)
    return _Table(mapper, insert, tuple(columns), returned)


def insert_alone(session: Session | scoped_session[Any], connection: Any, plan: InsertPlan, obj: Any,
                 guard: Guard | None = None) -> bool:
    """Insert ``obj`` (new) and its child rows as a flush would, leaving them detached with the values
    written; False, having written nothing, where that is not known to be what the flush would do.

    With a ``guard``, the row is inserted only if the guard holds, in the same statement; if it does
    not, nothing is written and :class:`Collision` is raised."""
    actual: Any = session() if isinstance(session, scoped_session) else session
    if actual.new or actual.deleted or actual.dirty:
        return False
    dispatch = actual.dispatch
    if any(getattr(dispatch, name) for name in _SESSION_EVENTS):
        return False
    state: Any = sa.inspect(obj)
    held = state.dict  # a relationship never touched is not there, and has no changes
    if not state.transient or any(key in held and state.attrs[key].history.has_changes()
                                  for key in plan.other_relationships):
        return False
    owner_values = _parameters(plan.owner, state)
    if owner_values is None or _listened(plan.owner):
        return False
    rows: list[tuple[_Child, list[tuple[Any, dict[str, Any]]]]] = []
    for child in plan.children:
        if _listened(child.table):
            return False
        pending = []
        for instance in getattr(obj, child.relationship):
            child_state: Any = sa.inspect(instance)
            if not child_state.transient or any(
                    p.key in child_state.dict and child_state.attrs[p.key].history.has_changes()
                    for p in child.table.mapper.relationships if p.key not in child.backrefs):
                return False
            values = _parameters(child.table, child_state)
            if values is None:
                return False
            pending.append((instance, values))
        rows.append((child, pending))
    if guard is not None and (not owner_values or not guard.params.keys().isdisjoint(owner_values)):
        return False  # nothing to select, or a column keyed like a guard parameter: the caller checks apart
    # Known to be the flush's work: write it.
    if guard is None:
        row = connection.execute(plan.owner.insert, owner_values).one()
    else:
        row = connection.execute(plan.owner.insert_if(owner_values, guard), {**owner_values, **guard.params}).first()
        if row is None:
            raise Collision
    _loaded(obj, plan.owner, row)
    for child, pending in rows:
        for _instance, values in pending:
            for owner_attribute, column in child.keys:
                values[column.key] = getattr(obj, owner_attribute)
        # The flush batches consecutive rows with the same keys into one statement; so does this.
        for _keys, batch in groupby(pending, key=lambda item: tuple(item[1])):
            group = list(batch)
            returned = connection.execute(child.table.insert, [values for _i, values in group]).all()
            for (instance, _values), child_row in zip(group, returned, strict=True):
                _loaded(instance, child.table, child_row)
    for child, pending in rows:
        if child.relationship not in held:
            set_committed_value(obj, child.relationship, [])  # a new row has none: nothing to load later
        for instance, _values in pending:
            make_transient_to_detached(instance)
    # Detached, not added to the session: the rows are written and the instances hold what was written
    # (the answer is built from them), so the session has nothing to flush, and nothing to expire at the
    # commit, which would otherwise run while SQLite's write lock is held.
    make_transient_to_detached(obj)
    return True


def _listened(table: _Table) -> bool:
    events = table.mapper.dispatch
    return bool(events.before_insert or events.after_insert)


def _parameters(table: _Table, state: Any) -> dict[str, Any] | None:
    """The INSERT's parameters, as the flush collects them: the values set, without the None of a column
    that does not store None as a value (its default applies); None if a value is a SQL expression."""
    values: dict[str, Any] = {}
    held = state.dict
    for column, key in table.columns:
        if key not in held:
            continue
        value = held[key]
        if value is None and not column.type.should_evaluate_none:
            continue
        if isinstance(value, sa.sql.ClauseElement):
            return None
        values[column.key] = value
    return values


def _loaded(instance: Any, table: _Table, row: Any) -> None:
    """The written row's values into the (transient) instance's state.  Nothing of them is committed here:
    ``make_transient_to_detached`` commits every value, as a flush's load of the row would."""
    held = orm_attributes.instance_dict(instance)  # (looked up per call: instrumentation may replace it)
    for position, key in table.returned:
        held[key] = row[position]


__all__ = ["Collision", "Guard", "InsertPlan", "insert_alone", "plan_for"]
