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

Where no instance is needed at all, :func:`insert_rows` writes the same rows from the values an
instance would have held (by mapped attribute), and returns them as a :class:`Written`: no instance is
built, set, inspected or committed.  That is known to be what the instance would have written when,
besides the above, the models construct with SQLAlchemy's default constructor, have no ``@validates``,
``__new__`` or ``__setattr__`` of their own, their child collections are plain lists, and no listener but
the ORM's own is on their construction, their expiry, the attributes written or a child's back-reference
(:attr:`InsertPlan.instance_free`, and :func:`writes_alone` at each request).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from itertools import groupby
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, make_transient_to_detached, scoped_session
from sqlalchemy.orm import attributes as orm_attributes
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.decl_base import _declarative_constructor

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
    #: The rows can be written with no instance (:func:`insert_rows`): the models build and set attributes
    #: as SQLAlchemy's own do.  Listeners added later are looked for at each request (:func:`writes_alone`).
    instance_free: bool = False
    #: (event dispatcher, event name) of each construction and attribute event an instance would dispatch
    events: tuple[tuple[Any, str], ...] = ()


class Written(SimpleNamespace):
    """A new resource's rows as :func:`insert_rows` wrote them: each mapped attribute's value (defaults
    included), and under each child relationship's key a list of the child rows, as ``Written`` too.
    Documents read it as they read an instance or a row (``getattr``)."""

    def __repr__(self) -> str:  # (its values may be secrets: a session token, a password's hash)
        return f"<Written: {', '.join(self.__dict__)}>"


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
    mappers = [owner.mapper] + [child.table.mapper for child in children]
    # A collection of the host's own class (ordering_list...) or one that is not loaded as a list runs code,
    # or fails, on an instance: only plain lists are written without one.
    collections = [owner.mapper.relationships[child.relationship] for child in children]
    instance_free = all(_plain_class(mapper) for mapper in mappers) and all(
        prop.collection_class in (None, list) and prop.lazy not in ("dynamic", "write_only", "noload")
        for prop in collections)
    events = []
    for mapper in mappers:
        manager = mapper.class_manager
        # Constructing it; make_transient_to_detached expires what was written (the commit, if re-added).
        events += [(manager.dispatch, name) for name in ("init", "init_failure", "expire")]
        # Building an instance reads (init_scalar) and sets its columns, and fills the child collections.
        events += [(manager[key].dispatch, name) for key in mapper.column_attrs.keys()
                   for name in ("set", "init_scalar")]
    events += [(owner.mapper.class_manager[child.relationship].dispatch, name) for child in children
               for name in ("init_collection", "append", "append_wo_mutation", "bulk_replace")]
    # Appending a child sets its side of a back-reference (child.owner), whose listeners then run.
    events += [(child.table.mapper.class_manager[key].dispatch, name) for child in children
               for key in child.backrefs for name in ("set", "init_scalar")]
    return InsertPlan(owner, tuple(children), others, instance_free, tuple(events))


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return None


def _plain_class(mapper: Any) -> bool:
    """Does the model construct and set attributes as SQLAlchemy's declarative classes do, with nothing
    of its own in between?"""
    cls = mapper.class_
    return mapper.class_manager.original_init is _declarative_constructor and not mapper.validators \
        and cls.__setattr__ is object.__setattr__ and cls.__new__ is object.__new__


def writes_alone(session: Session | scoped_session[Any], plan: InsertPlan) -> bool:
    """Can :func:`insert_rows` write a new resource now: the plan allows it, the session has nothing else
    to write, and nothing but the ORM itself listens to what building the instance or flushing it does?"""
    if not plan.instance_free:
        return False
    actual: Any = session() if isinstance(session, scoped_session) else session
    if actual.new or actual.deleted or actual.dirty or _session_listened(actual):
        return False
    if _listened(plan.owner) or any(_listened(child.table) for child in plan.children):
        return False
    for dispatch, name in plan.events:
        listeners = getattr(dispatch, name)
        if listeners and not all(_orm_own(fn) for fn in listeners):
            return False  # the host's listener would see (or change) the values on an instance
    return True


def _orm_own(listener: Any) -> bool:
    """Is ``listener`` one of the ORM's own (constructing an instance, cascading a collection)?  The ORM wraps
    listeners it adapts, its own and a host's alike, in a closure over the listener: that one is looked at."""
    while ".<locals>.wrap" in getattr(listener, "__qualname__", ""):
        inner = [value for value in map(_cell_value, listener.__closure__ or ())
                 if isinstance(value, types.FunctionType)]
        if len(inner) != 1:
            return False  # (not a wrapper this knows: the host's, as far as this can tell)
        listener = inner[0]
    return getattr(listener, "__module__", "").startswith("sqlalchemy.orm.")


def insert_rows(connection: Any, plan: InsertPlan, values: dict[str, Any], children: dict[str, list[dict[str, Any]]],
                guard: Guard | None = None) -> Written | None:
    """Write a new resource from ``values``, what its instance would hold (by mapped attribute: a value set
    to None is held as None), and ``children``, each child relationship's rows as such dicts; the rows
    as written, or None, having written nothing, where the plan cannot write them (:func:`insert_alone`).

    Call it only where :func:`writes_alone` says so.  With a ``guard``, as :func:`insert_alone`."""
    owner_values = _parameters(plan.owner, values)
    if owner_values is None:
        return None
    rows: list[tuple[_Child, list[tuple[Written, dict[str, Any]]]]] = []
    for child in plan.children:
        pending = []
        for held in children.get(child.relationship, ()):
            child_values = _parameters(child.table, held)
            if child_values is None:
                return None
            pending.append((Written(), child_values))
        rows.append((child, pending))
    written = Written()
    if not _write(connection, plan, written, owner_values, rows, guard):
        return None
    for child, pending in rows:
        setattr(written, child.relationship, [instance for instance, _values in pending])
    return written


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
    if actual.new or actual.deleted or actual.dirty or _session_listened(actual):
        return False
    state: Any = sa.inspect(obj)
    held = state.dict  # a relationship never touched is not there, and has no changes
    if not state.transient or any(key in held and state.attrs[key].history.has_changes()
                                  for key in plan.other_relationships):
        return False
    owner_values = _parameters(plan.owner, held)
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
            values = _parameters(child.table, child_state.dict)
            if values is None:
                return False
            pending.append((instance, values))
        rows.append((child, pending))
    if not _write(connection, plan, obj, owner_values, rows, guard):
        return False
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


def _write(connection: Any, plan: InsertPlan, obj: Any, owner_values: dict[str, Any],
           rows: list[tuple[_Child, list[tuple[Any, dict[str, Any]]]]], guard: Guard | None) -> bool:
    """Execute the inserts: the owner's row into ``obj``, then each child's rows (their foreign keys from
    it) into theirs; False, having written nothing, where the guard cannot go in the owner's statement."""
    if guard is not None and (not owner_values or not guard.params.keys().isdisjoint(owner_values)):
        return False  # nothing to select, or a column keyed like a guard parameter: the caller checks apart
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
    return True


def _session_listened(session: Any) -> bool:
    dispatch = session.dispatch
    return any(getattr(dispatch, name) for name in _SESSION_EVENTS)


def _listened(table: _Table) -> bool:
    events = table.mapper.dispatch
    return bool(events.before_insert or events.after_insert)


def _parameters(table: _Table, held: dict[str, Any]) -> dict[str, Any] | None:
    """The INSERT's parameters from what an instance holds (its state's dict), as the flush collects them: the
    values set, without the None of a column that does not store None as a value (its default applies);
    None if a value is a SQL expression."""
    values: dict[str, Any] = {}
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
    """The written row's values into the (transient) instance's state, or a :class:`Written`'s attributes.
    Nothing of them is committed here: ``make_transient_to_detached`` commits every value, as a flush's
    load of the row would."""
    # (looked up per call: instrumentation may replace it)
    held = instance.__dict__ if type(instance) is Written else orm_attributes.instance_dict(instance)
    for position, key in table.returned:
        held[key] = row[position]


__all__ = ["Collision", "Guard", "InsertPlan", "Written", "insert_alone", "insert_rows", "plan_for", "writes_alone"]
