"""The one layer that reads and writes the host's models, always within one tenant.

Every query starts from :meth:`Store.select`, which adds the tenant condition
from the mapping's tenant column, so a view or a new feature cannot forget it;
ids of other resources a request refers to (group members, role values) are
looked up through the same layer and are "not found" for another tenant.

Reads load a page and its related rows in two statements whatever the page
size: one for the page, and one ``UNION ALL`` for every child table (emails)
and many-to-many link (members, groups, roles, entitlements) of the page's
resources (:meth:`Store._children`), built once per shape and reused so that
SQLAlchemy serves it from its compiled-statement cache.
Writes to links are set operations on the ids a request names (one
``SELECT ... WHERE IN`` of those ids, one ``DELETE ... WHERE IN``, one
``INSERT ... SELECT``), never a statement per member, and never a read of the
links the request does not mention: adding one member to a 100,000-member group
costs what adding it to an empty group does.

Writes are serialised on every database (:meth:`Store.begin_write`): a write
request holds the write lock on what it changes from its first read to its
commit, so no read-check-write acts on a stale copy.
A new resource's rows are inserted as the ORM's flush would insert them,
without its unit of work, where nothing else is pending or listening
(:mod:`~flask_scim_entitlements.inserts`), and without an instance of the
model where nothing needs one (no host code, no listener, no link to write);
its document is built from what was written unless reading it back could give
other bytes (:meth:`Store.created_document`).

The store never commits: the view owns the transaction (design-notes.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from itertools import groupby
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, Session, scoped_session, selectinload

from .errors import InvalidPathError, InvalidValueError, NoTargetError, NotFoundError, UniquenessError
from .filters import ast
from .filters import plan as filter_plan
from .filters.compiler import FilterCompiler, parse_datetime
from .inserts import Collision, Guard, Written, insert_alone, insert_rows, writes_alone
from .inserts import plan_for as insert_plan
from .mapping import Association, Attr, BoundMapping, MultiValued
from .patch.links import ADD, REMOVE, REPLACE, LinkOperation
from .schemas import definitions as d
from .schemas.messages import LinkItems
from .sqlite_writers import begin_immediate
from .unique_indexes import enforced_by_index

if TYPE_CHECKING:
    from .resource_types import Link, Registry, ResourceType

#: A unique attribute a write gives a text value: (attribute, its column, the value, its schema URN).
_Unique = tuple[d.Attribute, Any, str, str]

logger = logging.getLogger(__name__)

#: Below this many ids an ``IN`` list is fine on every backend; larger sets are chunked.
_IN_CHUNK = 5000
#: Most filter shapes whose page and count statements a registry keeps (see Store.search).
SHAPED_STATEMENTS = 512
#: Dialects whose write requests lock the rows they read (``SELECT ... FOR UPDATE``).
_ROW_LOCKS = frozenset({"postgresql", "mysql", "mariadb"})
#: Column types whose values a database hands back as the Python type they were written in
#: (what lets a created resource's child rows be built from the instance: Store.created_document).
_PLAIN_TYPES: dict[type, type] = {sa.String: str, sa.Text: str, sa.Unicode: str, sa.UnicodeText: str,
                                  sa.Boolean: bool, sa.Integer: int, sa.BigInteger: int, sa.SmallInteger: int}


@dataclass(frozen=True)
class _Branch:
    """One branch of a read plan's ``UNION ALL``: which attribute it fills, from which row positions."""

    name: str  # the attribute filled ("emails", "groups", "members"...)
    owner: int  # row position of the owner's key
    subs: tuple[tuple[str, int], ...] = ()  # child table: (sub-attribute, row position)
    value: int = 0  # link: row position of the target's id
    display: int | None = None  # link: row position of the target's display name
    ref: str | None = None  # link: endpoint of the ``$ref``
    constants: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _ReadPlan:
    statement: Any  # None when the resource type has neither child tables nor links
    branches: tuple[_Branch, ...]
    params: tuple[tuple[str, str], ...]  # (bound parameter, attribute of the owners whose values it takes)


@dataclass
class Changes:
    """What a write changed, for the provisioning signals."""

    attributes: set[str] = field(default_factory=set)
    #: label ("members", "roles", or an entitlement type) -> ids, in the order they changed (dicts as ordered sets)
    added: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    removed: dict[str, dict[str, None]] = field(default_factory=lambda: defaultdict(dict))
    #: attribute ("roles", "entitlements") -> values of grants skipped because they name nothing (SCIM_UNKNOWN_GRANTS)
    dropped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def ids(self, which: dict[str, dict[str, None]]) -> dict[str, list[str]]:
        """``added`` or ``removed`` as lists, without the labels that changed nothing."""
        return {label: list(ids) for label, ids in which.items() if ids}

    def __bool__(self) -> bool:
        return bool(self.attributes or any(self.added.values()) or any(self.removed.values()))


def _iso(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value.isoformat(timespec="seconds") + "Z"
    if isinstance(value, date):
        return value.isoformat()
    return value


#: Rows fetched from the driver at a time when a read walks a long result (a large group's members).  Few
#: enough that a batch's rows, alive while the collector runs, do not pile up in its oldest generation: with
#: 1,000, a 10,000-member group read set off a full collection every 15 reads (4.7 ms a read on average).
_FETCH_BATCH = 100


#: The branch number of a read plan's row (its first column).
_BRANCH_NUMBER = itemgetter(0)
#: Not any owner's key: the owner of the row before a run's first.
_NO_OWNER = object()


def _fill_child_items(branch: _Branch, rows: Iterable[Any], out: dict[tuple[str, Any], list[Any]]) -> None:
    """Append the child-table items (emails) of ``rows``, one ``branch`` 's, to their owners' lists in ``out``."""
    name, at, subs = branch.name, branch.owner, branch.subs
    last: Any = _NO_OWNER
    items: list[Any] = []
    for row in rows:
        item = {}
        for sub, slot in subs:
            value = _iso(row[slot])
            if value is not None and value != "":
                item[sub] = value
        if not item:
            continue
        owner = row[at]
        if owner is not last and owner != last:
            found = out.get((name, owner))
            if found is None:
                out[(name, owner)] = found = []
            items, last = found, owner
        items.append(item)


def _fill_link_items(branch: _Branch, rows: Iterable[Any], out: dict[tuple[str, Any], list[Any]], base: str,
                     omitted: frozenset[str]) -> None:
    """Append the link items (groups, roles, members...) of ``rows``, one ``branch`` 's, to their owners' lists.

    An item's keys are in the order of the wire schema's fields (value, $ref, display, type...): the views
    dump these items as they are."""
    name, at, at_value, at_display = branch.name, branch.owner, branch.value, branch.display
    constants = branch.constants
    prefix = None if branch.ref is None else f"{base}{branch.ref}/"
    plain = at_display is None and prefix is not None  # members, as a group read gives them
    last: Any = _NO_OWNER
    items: list[Any] = []
    for row in rows:
        owner = row[at]
        if owner is not last and owner != last:
            found = out.get((name, owner))
            if found is None:
                out[(name, owner)] = found = LinkItems(omitted)
            items, last = found, owner
        value = str(row[at_value])
        if plain:
            items.append({"value": value, "$ref": f"{prefix}{value}", **constants})
            continue
        item = {"value": value}
        if prefix is not None:
            item["$ref"] = prefix + value
        if at_display is not None and row[at_display] is not None:
            item["display"] = row[at_display]
        item.update(constants)
        items.append(item)


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]


def _attr_of(obj: Any, column: Any) -> str:
    """The attribute under which ``obj``'s mapper holds a table column (it may have another name)."""
    return str(sa.inspect(obj).mapper.get_property_by_column(column).key)


def _same_column(attribute: Any, column: Any) -> bool:
    """Is the mapped ``attribute`` (``User.id``) the table ``column`` (``users.id``)?"""
    return any(c is column for c in getattr(getattr(attribute, "property", None), "columns", ()))


def _key_of(obj: Any, column: Any) -> Any:
    """The value on ``obj`` of a table column."""
    return getattr(obj, _attr_of(obj, column))


class Store:
    def __init__(self, session: Session, registry: Registry, tenant: Any, base_url: str, *,
                 drop_unknown_grants: bool = False) -> None:
        # Flask-SQLAlchemy hands a scoped_session: a proxy that looks the request's session up on every
        # attribute.  A store lives for one request, so it holds that session itself.
        self.session = session() if isinstance(session, scoped_session) else session
        self._read_connection: tuple[Any, Any] | None = None  # (transaction, its connection)
        #: SCIM_UNKNOWN_GRANTS="drop": a grant of a role or entitlement that no longer exists is skipped.
        self.drop_unknown_grants = drop_unknown_grants
        self.registry = registry
        self.tenant = tenant
        self.base_url = base_url.rstrip("/")
        bind = self.session.get_bind()
        self.dialect = bind.dialect.name
        #: The resource create() wrote with nothing else (see created_document), or None.
        self._created_alone: Any = None
        self._children_written: tuple[Any, Any] | None = None  # (that resource, its _written_children)

    # ------------------------------------------------------------- write lock
    def begin_write(self) -> None:
        """Take the write lock before a write request's first read (design-notes.md, "A request is one transaction").

        PostgreSQL and MariaDB lock the rows the request reads (``get(for_update=True)``).  SQLite has
        no row locks, and its Python driver opens a transaction only at the first INSERT, UPDATE or
        DELETE: two requests could both read a group, both decide, and the later one undo the earlier.
        So on SQLite the transaction is begun here as ``BEGIN IMMEDIATE``: it takes the database's
        write lock at once, and other writers wait for it (the connection's ``busy_timeout``) until
        this request commits or rolls back.  Reads are not blocked (in WAL mode).  Writers of the same
        database in this process queue on an in-process lock before that, released when the
        transaction ends (:mod:`~flask_scim_entitlements.sqlite_writers`).

        Where the transaction is already open (the host's credential loader wrote something, or the
        host drives SQLite transactions itself), the lock is already held (a write happened) or the
        driver began it; SQLite then refuses a stale write with an error (503), never losing one.
        """
        if self.dialect != "sqlite":
            return
        connection = self.session.connection()
        if not connection.connection.dbapi_connection.in_transaction:  # type: ignore[union-attr]
            # Writers in this process queue on a lock first, not in SQLite's busy handler (sqlite_writers.py).
            begin_immediate(self.session, connection)

    # ------------------------------------------------------------------ reads
    def tenant_condition(self, mapping: BoundMapping) -> Any:
        if mapping.tenant is None:
            return sa.true()
        if self.tenant is None:
            return sa.false()  # fail closed: a tenant-scoped model with no tenant sees nothing
        return mapping.tenant == self.tenant_value(mapping)

    def tenant_value(self, mapping: BoundMapping) -> Any:
        kind = mapping.tenant_python_type
        if kind is None or isinstance(self.tenant, kind):
            return self.tenant
        try:
            return kind(self.tenant)
        except (TypeError, ValueError):
            return self.tenant

    def select(self, rt: ResourceType) -> sa.Select[Any]:
        return sa.select(rt.mapping.model).where(self.tenant_condition(rt.mapping))

    def get(self, rt: ResourceType, id_text: str, *, for_update: bool = False) -> Any:
        key = rt.mapping.parse_id(id_text)
        if key is None:
            raise NotFoundError(f"{rt.name} {id_text} not found")
        mapping = rt.mapping
        if for_update:
            # A write reads and rewrites the child collections (emails) through the ORM.
            query = self.select(rt).where(mapping.id == key).options(*self._loaders(rt))
            if self.dialect in _ROW_LOCKS:
                query = query.with_for_update()
            obj = self.session.scalars(query).one_or_none()
        elif mapping.tenant is not None and self.tenant is None:
            obj = None  # fail closed, as tenant_condition
        else:
            # The hot path (Okta reads a user before every change): one statement, built once.
            params = {"id": key} if mapping.tenant is None else {"id": key, "tenant": self.tenant_value(mapping)}
            statement = self._plan(("by id", rt.name), lambda: self._by_id(mapping, self._shape(rt)))
            found = self._load(rt, statement, params)
            obj = found[0] if found else None
        if obj is None:
            raise NotFoundError(f"{rt.name} {id_text} not found")
        return obj

    @staticmethod
    def _by_id(mapping: BoundMapping, shape: list[Any]) -> Any:
        condition = mapping.id == sa.bindparam("id", type_=mapping.id.type)
        if mapping.tenant is not None:
            condition = sa.and_(mapping.tenant == sa.bindparam("tenant", type_=mapping.tenant.type), condition)
        return sa.select(*shape).where(condition)

    def _shape(self, rt: ResourceType) -> list[Any]:
        """What a read selects: the model's attributes that documents read, or the model itself.

        A document needs only column values (the readers, the owners' keys, meta), so reads load
        plain rows, which answer ``getattr`` like instances, without building ORM objects and
        their identity-map entries.  A host ``Attr(get=...)`` is handed a real instance: then the
        model is loaded.
        """
        return self._plan(("shape", rt.name), lambda: self._build_shape(rt))

    def _build_shape(self, rt: ResourceType) -> list[Any]:
        mapping, model = rt.mapping, rt.mapping.model
        keys = [mapping.id.key] + [c.key for c in (mapping.created, mapping.last_modified) if c is not None]
        for resolved, target in mapping.resolved_targets:
            if resolved.target.returned == d.NEVER or isinstance(target, MultiValued):
                continue
            if isinstance(target, Attr):
                if target.get is not None:
                    return [model]
                continue
            keys.append(target.key)
        _readers, owned = self._plan(("readers", rt.name), lambda: self._readers(rt))
        keys += [key for _name, key, _urn in owned]
        attributes = {key: getattr(model, key, None) for key in keys}
        labelled = [a.label(key) for key, a in attributes.items() if isinstance(a, InstrumentedAttribute)]
        # rows answer getattr(row, key) as instances do; anything but a mapped column needs the instance
        return labelled if len(labelled) == len(attributes) else [model]

    def _load(self, rt: ResourceType, statement: Any, params: dict[str, Any]) -> list[Any]:
        if self._shape(rt)[0] is rt.mapping.model:
            return list(self.session.scalars(statement, params))
        return list(self._connection().execute(statement, params))

    def _connection(self) -> Any:
        """The session's connection, for plain-row reads: they skip the ORM's per-statement machinery
        (about 50 µs each), so what the session has pending is flushed first, as its autoflush would."""
        session = self.session
        if session.new or session.dirty or session.deleted:
            session.flush()
        transaction = session.get_transaction()
        held = self._read_connection
        if held is not None and transaction is not None and held[0] is transaction:
            return held[1]
        connection = session.connection()
        self._read_connection = (session.get_transaction(), connection)
        return connection

    def _plan(self, key: Any, build: Callable[[], Any]) -> Any:
        """A statement (or plan) of this registry's, built on first use and reused: SQLAlchemy then finds
        its compiled form in its cache without building the expression again.  Only bound values vary."""
        plans: dict[Any, Any] = self.registry.__dict__.setdefault("_read_plans", {})
        plan = plans.get(key)
        if plan is None:
            plans[key] = plan = build()
        return plan

    def search(self, rt: ResourceType, filt: ast.Filter | None, *, sort_by: ast.AttrPath | None = None,
               descending: bool = False, start_index: int = 1, count: int = 100) -> tuple[int, list[Any]]:
        """A page of ``rt`` matching ``filt`` and the total.

        The filter is compiled to a plan (:mod:`~flask_scim_entitlements.filters.plan`): its shape picks a
        statement built once and reused, its values are bound at execution.  Okta's lookups
        (``userName eq "..."``, a new name each time) then build no SQL expression at all.
        """
        tenant, params = self._tenant_clause(rt)
        compiler = None if filt is None else FilterCompiler(self.registry, rt, self.dialect)
        shape = None
        if compiler is not None:
            shape, values = compiler.shaped(filt)  # type: ignore[arg-type]
            params.update({filter_plan.param_name(i): value for i, value in enumerate(values)})
        key = (rt.name, self.tenant is None, shape)

        def where() -> Any:
            if compiler is None:
                return tenant
            return sa.and_(tenant, filter_plan.to_sql(compiler.to_plan(filt), inline=False))  # type: ignore[arg-type]

        if count <= 0:
            return self._count(rt, key, where, params), []
        order = None if sort_by is None else self._sort_column(rt, sort_by)

        def page_statement() -> Any:
            if order is None:
                ordering = [rt.mapping.id.asc()]
            elif descending:
                ordering = [order.desc(), rt.mapping.id.desc()]
            else:
                ordering = [order.asc(), rt.mapping.id.asc()]
            return (sa.select(*self._shape(rt)).where(where()).order_by(*ordering)
                    .offset(sa.bindparam("scim_offset", type_=sa.Integer))
                    .limit(sa.bindparam("scim_limit", type_=sa.Integer)))

        sort_key = None if sort_by is None else (str(sort_by).lower(), descending)
        statement = self._shaped(("page", *key, sort_key), page_statement)
        page = self._load(rt, statement, {**params, "scim_offset": start_index - 1, "scim_limit": count})
        # A short page ends the result, so it tells the total: Okta's lookups (count=100, one match)
        # then cost no COUNT statement.  Only a full page, or an empty page past the start, needs one.
        if len(page) < count and (page or start_index == 1):
            return start_index - 1 + len(page), page
        return self._count(rt, key, where, params), page

    def _shaped(self, key: Any, build: Callable[[], Any]) -> Any:
        """A statement of a filter's shape (see :meth:`search`), built on first use.  Clients choose the
        shapes, so at most :data:`SHAPED_STATEMENTS` are kept; the memo starts over when full."""
        memo: dict[Any, Any] = self.registry.__dict__.setdefault("_shaped_statements", {})
        statement = memo.get(key)
        if statement is None:
            if len(memo) >= SHAPED_STATEMENTS:
                memo.clear()
            memo[key] = statement = build()
        return statement

    def link_counts(self, rt: ResourceType, objs: Sequence[Any], attribute: str) -> list[int] | None:
        """How many ``attribute`` links (e.g. members) each of ``objs`` has, in one statement; None if unlinked."""
        link = next((link for link in self.registry.links(rt) if link.attribute == attribute), None)
        if link is None or not objs:
            return None
        assoc = link.association
        # Reads load plain rows (see _shape), which answer getattr with the mapper's attribute names.
        key_attr: str = sa.inspect(rt.mapping.model).get_property_by_column(assoc.owner_id).key
        keys = [getattr(obj, key_attr) for obj in objs]
        rows = self._connection().execute(sa.select(assoc.owner_key, sa.func.count()).where(
            self._in(assoc.owner_key, keys)).group_by(assoc.owner_key))
        counts: dict[Any, int] = {row[0]: int(row[1]) for row in rows}
        return [counts.get(key, 0) for key in keys]

    def _tenant_clause(self, rt: ResourceType) -> tuple[Any, dict[str, Any]]:
        """:meth:`tenant_condition` with the tenant as a bound parameter: one expression per type, reused."""
        mapping = rt.mapping
        if mapping.tenant is None or self.tenant is None:
            return self.tenant_condition(mapping), {}
        clause = self._plan(("tenant", rt.name),
                            lambda: mapping.tenant == sa.bindparam("scim_tenant", type_=mapping.tenant.type))
        return clause, {"scim_tenant": self.tenant_value(mapping)}

    def _count(self, rt: ResourceType, key: Any, where: Callable[[], Any], params: dict[str, Any]) -> int:
        statement = self._shaped(("count", *key), lambda: sa.select(sa.func.count(rt.mapping.id)).where(where()))
        return self._connection().execute(statement, params).scalar() or 0

    def _sort_column(self, rt: ResourceType, path: ast.AttrPath) -> Any:
        resolved = rt.schema.resolve(path.urn, path.attr, path.sub_attr)
        if resolved is None:
            raise InvalidValueError(f"sortBy: unknown attribute {path}")
        if resolved.attribute.name == "id" and not resolved.is_extension:
            return rt.mapping.id
        if resolved.attribute.name == "meta" and resolved.sub_attribute is not None:
            column = {"created": rt.mapping.created, "lastModified": rt.mapping.last_modified}.get(
                resolved.sub_attribute.name)
        else:
            column = rt.mapping.target(resolved)
        if isinstance(column, Attr):
            column = column.column
        if column is None or isinstance(column, MultiValued) or resolved.attribute.multi_valued:
            raise InvalidValueError(f"sortBy: {path} is not a sortable single-valued attribute")
        if resolved.target.type == d.STRING and not resolved.target.case_exact:
            column = sa.func.lower(column)
        return column

    def _loaders(self, rt: ResourceType) -> list[Any]:
        """Eager loading of the child collections, for writes (reads take them from :meth:`_children`)."""
        return [selectinload(t.relationship) for t in rt.mapping.targets.values() if isinstance(t, MultiValued)]

    # ----------------------------------------------------------- documents
    def documents(self, rt: ResourceType, objs: Sequence[Any], wanted: AbstractSet[str] | None = None,
                  hidden: Mapping[str, Collection[str]] | None = None,
                  children: Mapping[tuple[str, Any], list[dict[str, Any]]] | None = None) -> list[dict[str, Any]]:
        """SCIM documents for ``objs``.

        ``wanted`` limits the linked attributes loaded (None = all); ``hidden`` names, per linked
        attribute, sub-attributes the response will not carry (``members.display`` unless asked
        for), so they are not computed: a group's members are then read without joining users.
        """
        if not objs:
            return []
        if rt is self.registry.user:
            # A user's groups, roles and entitlements are part of its version (_meta), so they are always
            # read, whole: a user holds a handful, and a 304 must never hide a changed representation.
            wanted, hidden = None, None
        if children is None:
            children = self._children(rt, objs, wanted, hidden or {})
        readers, owned = self._plan(("readers", rt.name), lambda: self._readers(rt))
        core, id_key = rt.schema.core.id, rt.mapping.id.key
        extensions = [ext.id for ext in rt.schema.extensions]
        docs = []
        for obj in objs:
            doc: dict[str, Any] = {"schemas": [core], "id": str(getattr(obj, id_key))}
            for urn, name, sub, read in readers:
                value = read(obj)
                if value is None or value == "" or value == []:
                    continue
                holder = doc if urn is None else doc.setdefault(urn, {})
                if sub is None:
                    holder[name] = value
                else:
                    holder.setdefault(name, {})[sub] = value
            for name, key_attr, urn in owned:
                items = children.get((name, getattr(obj, key_attr)))
                if items:
                    (doc if urn is None else doc.setdefault(urn, {}))[name] = items
            if rt.is_entitlement:
                doc["type"] = rt.name
            for urn in extensions:
                if urn in doc:
                    doc["schemas"].append(urn)
            doc["meta"] = self._meta(rt, obj, doc)
            docs.append(doc)
        return docs

    def _readers(self, rt: ResourceType) -> tuple[list[Any], list[Any]]:
        """How :meth:`documents` fills a document, decided once per resource type:

        - (extension URN or None, attribute, sub-attribute or None, read(obj)) of each single value;
        - (attribute, the owner's key attribute, extension URN or None) of each child table and link,
          whose items :meth:`_children` reads.
        """
        mapping = rt.mapping
        model: Any = sa.inspect(mapping.model)
        readers: list[Any] = []
        owned: list[Any] = []
        for resolved, target in mapping.resolved_targets:
            if resolved.target.returned == d.NEVER:
                continue
            urn = resolved.schema if resolved.is_extension else None
            if isinstance(target, MultiValued):
                key = model.get_property_by_column(target.parent_columns[0][0]).key
                owned.append((resolved.attribute.name, key, urn))
                continue
            sub = resolved.sub_attribute.name if resolved.sub_attribute is not None else None
            readers.append((urn, resolved.attribute.name, sub, _reader(target, resolved.target)))
        owned += dict.fromkeys((link.attribute, model.get_property_by_column(link.association.owner_id).key, None)
                               for link in self.registry.links(rt))
        return readers, owned

    def _meta(self, rt: ResourceType, obj: Any, doc: dict[str, Any]) -> dict[str, Any]:
        mapping = rt.mapping
        meta: dict[str, Any] = {"resourceType": rt.name}
        if mapping.created is not None:
            created = getattr(obj, mapping.created.key)
            if created is not None:
                meta["created"] = _iso(created)
        modified = getattr(obj, mapping.last_modified.key) if mapping.last_modified is not None else None
        if modified is not None:
            meta["lastModified"] = _iso(modified)
            basis = f"{doc['id']}|{modified.isoformat() if isinstance(modified, datetime) else modified}"
            if rt is self.registry.user:
                # Memberships and grants are written to other tables, and a group or role rename changes
                # their ``display`` without touching the user's row: the version covers them as rendered.
                basis += json.dumps([_unlocated(doc.get(link.attribute)) for link in self.registry.links(rt)],
                                    sort_keys=True)
        else:
            basis = json.dumps({key: _unlocated(value) for key, value in doc.items()}, sort_keys=True, default=str)
        meta["location"] = f"{self.base_url}{rt.endpoint}/{doc['id']}"
        meta["version"] = 'W/"' + hashlib.sha256(basis.encode()).hexdigest()[:16] + '"'
        return meta

    def _children(self, rt: ResourceType, objs: Sequence[Any], wanted: AbstractSet[str] | None,
                  hidden: Mapping[str, Collection[str]]) -> dict[tuple[str, Any], list[dict[str, Any]]]:
        """The items of every child-table attribute (emails) and link (groups, roles...) of ``objs``,
        keyed by (attribute, owner key), in ONE statement (a ``UNION ALL``) whatever the page size."""
        single = len(objs) == 1
        plan = self._read_plan(rt, wanted, hidden, single)
        out: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        if plan.statement is None or not objs:
            return out
        if single:
            params = {name: getattr(objs[0], key) for name, key in plan.params}
        else:
            params = {name: self._param_value([getattr(obj, key) for obj in objs]) for name, key in plan.params}
        base = self.base_url
        branches = plan.branches
        omitted = {branch.name: frozenset(hidden.get(branch.name, ())) for branch in branches if not branch.subs}
        # Rows come ordered by (branch, owner) in batches, one driver call each: each batch's run of one branch's
        # rows is filled in by that branch's loop, which looks an owner's list up once per run of its rows.
        result = self._connection().execute(plan.statement, params)
        for batch in result.partitions(_FETCH_BATCH):
            for number, run in groupby(batch, _BRANCH_NUMBER):
                branch = branches[number]
                if branch.subs:
                    _fill_child_items(branch, run, out)
                else:
                    _fill_link_items(branch, run, out, base, omitted[branch.name])
        return out

    def _read_plan(self, rt: ResourceType, wanted: AbstractSet[str] | None,
                   hidden: Mapping[str, Collection[str]], single: bool = False) -> _ReadPlan:
        """The statement reading ``rt``'s children and links, built once per shape and reused.

        Each branch of the ``UNION ALL`` has its own columns (slots) and NULL in the others', so
        no value changes type; ordering by (branch, owner, the branch's own order) keeps every
        list in the order of a per-relationship query (emails by the relationship's
        ``order_by``, links by target id).  Reusing the statement object keeps SQLAlchemy on
        its compiled-statement cache: only the owner keys (one bound parameter per owner
        column) change between requests.

        A ``single`` owner (a GET, a lookup's one match) is compared with ``=``, not matched against
        a list: the database then reads a link table's rows in its primary key's order and needs no
        sort (a 100,000-member group read by (group_id, user_id) without sorting 100,000 rows).
        """
        key = ("children", rt.name, None if wanted is None else frozenset(wanted),
               frozenset((k, frozenset(v)) for k, v in hidden.items() if v), single)
        return self._plan(key, lambda: self._build_read_plan(rt, wanted, hidden, single))

    def _build_read_plan(self, rt: ResourceType, wanted: AbstractSet[str] | None,
                         hidden: Mapping[str, Collection[str]], single: bool) -> _ReadPlan:
        slot_types: list[Any] = []
        parts: list[tuple[Any, list[tuple[int, Any]], Any, list[int]]] = []  # from, [(slot, expr)], where, order
        branches: list[_Branch] = []
        params: dict[Any, str] = {}

        def slot(expr: Any) -> int:
            slot_types.append(expr.type)
            return len(slot_types)  # row position: 0 is the branch number

        def param(column: Any) -> str:
            return params.setdefault(column, f"owners_{len(params)}")

        for resolved, target in rt.mapping.resolved_targets:
            if not isinstance(target, MultiValued) or resolved.target.returned == d.NEVER:
                continue
            (parent, child_key), *_ = target.parent_columns
            prop = target.relationship.property
            order = list(prop.order_by) if prop.order_by else list(sa.inspect(target.child_model).primary_key)
            owner = slot(child_key)
            exprs = [(owner, child_key)]
            subs = []
            for sub, column in target.columns.items():
                subs.append((sub, slot(column)))
                exprs.append((subs[-1][1], column))
            order_slots = [slot(column) for column in order]
            exprs += list(zip(order_slots, order, strict=True))
            parts.append((target.child_model, exprs, self._owned_by(child_key, param(parent), single),
                          [owner, *order_slots]))
            branches.append(_Branch(resolved.attribute.name, owner, tuple(subs)))
        for link in self.registry.links(rt):
            if wanted is not None and link.attribute not in wanted:
                continue
            assoc, target_mapping = link.association, link.target
            display = None if "display" in hidden.get(link.attribute, ()) else target_mapping.display_column()
            owner = slot(assoc.owner_key)
            source: Any = assoc.table
            if display is None and _same_column(target_mapping.id, assoc.target_id):
                value_expr = assoc.target_key  # the association alone says it all
            else:
                source = assoc.table.join(target_mapping.model, assoc.target_key == assoc.target_id)
                value_expr = target_mapping.id
            value = slot(value_expr)
            exprs = [(owner, assoc.owner_key), (value, value_expr)]
            display_slot = None
            if display is not None:
                display_slot = slot(display)
                exprs.append((display_slot, display))
            parts.append((source, exprs, self._owned_by(assoc.owner_key, param(assoc.owner_id), single),
                          [owner, value]))
            branches.append(_Branch(link.attribute, owner, (), value, display_slot,
                                    {"members": "/Users", "groups": "/Groups"}.get(link.attribute),
                                    dict(link.constants)))
        statement = None
        if parts:
            selects = []
            for number, (source, exprs, where, _order) in enumerate(parts):
                own = dict(exprs)
                columns = [sa.literal_column(str(number), sa.Integer).label("b")]
                for position, type_ in enumerate(slot_types, 1):
                    expr = own.get(position)
                    if expr is None:
                        # PostgreSQL types a UNION's columns from its first branch: a bare NULL there is text.
                        expr = sa.cast(sa.null(), type_) if number == 0 and self.dialect == "postgresql" \
                            else sa.type_coerce(sa.null(), type_)
                    columns.append(expr.label(f"c{position}"))
                selects.append(sa.select(*columns).select_from(source).where(where))
            union = (selects[0] if len(selects) == 1 else sa.union_all(*selects)).subquery()
            # One owner needs no ordering by owner, one branch none by branch: what is left is the order of
            # the rows' own key, which an index on (owner, key) gives without a sort.
            order = [union.c.b] if len(parts) > 1 else []
            order += [union.c[f"c{s}"] for (_s, _e, _w, slots) in parts for s in (slots[1:] if single else slots)]
            statement = sa.select(union).order_by(*order)
        model: Any = sa.inspect(rt.mapping.model)
        return _ReadPlan(statement, tuple(branches),
                         tuple((name, model.get_property_by_column(column).key) for column, name in params.items()))

    def _owned_by(self, column: Any, name: str, single: bool) -> Any:
        """``column`` = the owner bound as ``name``, or IN the owners bound as ``name`` (:meth:`_in_param`)."""
        return column == sa.bindparam(name, type_=column.type) if single else self._in_param(column, name)

    def _in_param(self, column: Any, name: str) -> Any:
        """``column IN`` the values of ONE bound parameter ``name`` (see :meth:`_param_value`)."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY

            # "= ANY(array)" probes the index once per value; "IN (SELECT unnest(array))" hashes the array
            # first in every branch: measured 395 against 583 us for one owner, 1.4 against 2.7 ms for 100.
            return column == sa.any_(sa.bindparam(name, type_=ARRAY(column.type)))
        if self.dialect == "sqlite":
            rows = sa.func.json_each(sa.bindparam(name, type_=sa.String)).table_valued("value")
            return column.in_(sa.select(rows.c.value))
        return column.in_(sa.bindparam(name, expanding=True))

    def _param_value(self, values: list[Any]) -> Any:
        return json.dumps(values, default=str) if self.dialect == "sqlite" else values

    # ----------------------------------------------------------------- writes
    def create(self, rt: ResourceType, doc: dict[str, Any]) -> tuple[Any, Changes]:
        """Write a new ``rt`` resource: ``(what was written, what changed)``.

        Where nothing could see an instance of the model (no host setter the write calls, no getter, no
        link to write, nothing of the model's or a listener's own: :func:`~flask_scim_entitlements.inserts.
        writes_alone`), the rows are written from the values an instance would hold, and what was written
        is a :class:`~flask_scim_entitlements.inserts.Written` (:func:`~flask_scim_entitlements.inserts.
        insert_rows`); otherwise an instance of the model."""
        mapping = rt.mapping
        unique = self._unique_values(rt, doc)
        # (plan,): a type that must be flushed (plan None) is decided once too
        plan, = self._plan(("insert", rt.name, self.dialect),
                           lambda: (insert_plan(rt, self.session.get_bind().dialect),))
        links = self._plan(("link names", rt.name), lambda: tuple(self.writable_links(rt)))
        values = None
        if plan is not None and self._rows_alone(rt) and writes_alone(self.session, plan) \
                and not any(doc.get(name) for name in links):
            values = self._held_values(rt, doc)
        locked = False
        if plan is not None and values is not None:
            held, children, attributes = values
            # All of the above ran before the write lock (SQLite: one writer at a time): it holds the writes alone.
            self.begin_write()
            self._lock_unique(rt, unique)
            locked = True
            with self._insert_errors(rt, unique):
                written = insert_rows(self._connection(), plan, held, children, self._unique_guard(rt, unique))
            if written is not None:
                self._created_alone = written
                return written, Changes(attributes)
        changes = Changes()
        obj = mapping.model()
        if mapping.tenant is not None:
            setattr(obj, mapping.tenant.key, self.tenant_value(mapping))
        self._write_attributes(rt, obj, doc, None, changes, creating=True)
        now = datetime.now(UTC).replace(tzinfo=None)
        for col in (mapping.created, mapping.last_modified):
            if col is not None and getattr(obj, col.key, None) is None:
                setattr(obj, col.key, now)
        # The write lock from here, the first statement, not from the request's start: working out the body's
        # attributes holds no one else up (SQLite: one writer at a time).  A host's setter, which may read,
        # took it already (_write_attributes).
        self.begin_write()
        if not locked:  # (the row path, declined after taking them, holds the lock and the unique values')
            self._lock_unique(rt, unique)
        alone = False
        if plan is not None:
            with self._insert_errors(rt, unique):
                # Nothing is pending here, so this connection is the flush's (see inserts.py).
                alone = insert_alone(self.session, self._connection(), plan, obj, self._unique_guard(rt, unique))
        if not alone:
            self._check_unique_values(rt, obj, unique)
            self.session.add(obj)
            alone = self._only_pending(rt, obj)
            self._flush(rt)
        self._write_links(rt, obj, doc, changes, creating=True)
        self._created_alone = obj if alone and not any(changes.added.values()) else None
        return obj, changes

    @contextmanager
    def _insert_errors(self, rt: ResourceType, unique: list[_Unique]) -> Iterator[None]:
        """A new row the guard or the database refused, as the SCIM error naming why."""
        try:
            yield
        except Collision:
            self._check_unique_values(rt, None, unique)  # names the attribute whose value is taken
            attribute, _column, value, _schema = unique[0]
            raise UniquenessError(f"{rt.name} with {attribute.name} {value!r} already exists") from None
        except (DataError, IntegrityError) as exc:
            raise constraint_error(exc, rt.name) from exc

    def _rows_alone(self, rt: ResourceType) -> bool:
        """Can ``rt``'s documents be built from rows (no :class:`Attr` getter: host code needs an instance)?
        Then its writes may go without an instance too (:func:`insert_rows`)."""
        return self._shape(rt)[0] is not rt.mapping.model

    def created_document(self, rt: ResourceType, obj: Any) -> dict[str, Any]:
        """The document of the resource :meth:`create` just wrote, as a GET would return it.

        A new resource's child rows (emails) are the ones this request wrote, and it has no links
        unless the request named some: then they are built from the instance, without reading
        them back (one statement).  They are read back whenever that cannot be known to give the
        same bytes: the request linked something (a link's ``display`` is the target's); a host
        hook or ORM event had anything else to write, or listens to the flush; a child column's
        value comes from the database (a server default) or may come back in another type; or a
        child table is ordered by anything but its integer key.
        """
        children = self._created_children(rt, obj)
        if not isinstance(obj, Written) and sa.inspect(obj).detached and (children is None or self._has_getters(rt)):
            # Written by insert_alone, which leaves it detached: reading back (or a host's getter, which may
            # load a relationship) needs it in the session, as a flushed instance would be.
            self.session.add(obj)
        return self.documents(rt, [obj], children=children)[0]

    def answers_from_instance(self, rt: ResourceType, obj: Any) -> bool:
        """Will :meth:`created_document` build ``obj``'s answer from the instance alone, with no statement
        and no session (so it may run after the commit)?"""
        if isinstance(obj, Written):  # (read back through its keys when its child rows cannot be built from it)
            return self._created_children(rt, obj) is not None
        return sa.inspect(obj).detached and not self._has_getters(rt) and self._created_children(rt, obj) is not None

    def _created_children(self, rt: ResourceType, obj: Any) -> dict[tuple[str, Any], list[dict[str, Any]]] | None:
        """:meth:`_written_children` of the resource :meth:`create` wrote alone (worked out once), else None."""
        if obj is not self._created_alone:
            return None
        if self._children_written is None or self._children_written[0] is not obj:
            self._children_written = (obj, self._written_children(rt, obj))
        return self._children_written[1]

    def _has_getters(self, rt: ResourceType) -> bool:
        found, = self._plan(("getters", rt.name), lambda: (any(
            isinstance(target, Attr) and target.get is not None for target in rt.mapping.targets.values()),))
        return bool(found)

    def _only_pending(self, rt: ResourceType, obj: Any) -> bool:
        """Is ``obj``, with its child rows, all the session has to write, with no flush or insert listener?"""
        session: Any = self.session  # the request's own session (see __init__)
        if session.dirty or session.deleted:
            return False
        dispatch = session.dispatch
        if dispatch.before_flush or dispatch.after_flush or dispatch.after_flush_postexec:
            return False
        expected = {id(obj)}
        models = [rt.mapping.model]
        for target in rt.mapping.targets.values():
            if isinstance(target, MultiValued):
                models.append(target.child_model)
                expected.update(id(child) for child in getattr(obj, target.relationship.key))
        for model in models:
            events: Any = sa.inspect(model).dispatch
            if events.before_insert or events.after_insert:
                return False
        return all(id(pending) in expected for pending in session.new)

    def _written_children(self, rt: ResourceType,
                          obj: Any) -> dict[tuple[str, Any], list[dict[str, Any]]] | None:
        """What :meth:`_children` would read for a resource created alone (see :meth:`created_document`),
        from the instance; None where only reading them back is sure to give the same."""
        plan, = self._plan(("written children", rt.name), lambda: (_written_children_plan(rt),))
        if plan is None:
            return None
        out: dict[tuple[str, Any], list[dict[str, Any]]] = {}
        for name, relationship, owner_attr, sort_attrs, subs in plan:
            rows: list[tuple[list[Any], dict[str, Any]]] = []
            for child in getattr(obj, relationship):
                expired = () if isinstance(child, Written) else sa.inspect(child).expired_attributes
                if expired and (any(attr in expired for attr in sort_attrs)
                                or any(attr in expired for _sub, attr, _kind in subs)):
                    return None  # a server default or a trigger filled something in
                sort_key = [getattr(child, attr) for attr in sort_attrs]
                if any(type(value) is not int for value in sort_key):
                    return None
                item: dict[str, Any] = {}
                for sub, attr, kind in subs:
                    value = getattr(child, attr)
                    if value is None or value == "":
                        continue
                    if type(value) is not kind:
                        return None  # the database would hand it back converted
                    item[sub] = value
                if item:
                    rows.append((sort_key, item))
            if rows:
                rows.sort(key=lambda row: row[0])
                out[(name, getattr(obj, owner_attr))] = [item for _key, item in rows]
        return out

    def replace(self, rt: ResourceType, obj: Any, doc: dict[str, Any], touched: set[str] | None = None,
                link_operations: Sequence[LinkOperation] = ()) -> Changes:
        """Make ``obj`` hold ``doc`` (RFC 7644 §3.5.1); ``touched`` limits it to those top-level keys (PATCH),
        whose link attributes change by ``link_operations`` (see :mod:`~flask_scim_entitlements.patch.links`)."""
        self._check_unique(rt, obj, doc, touched)
        changes = Changes()
        self._write_attributes(rt, obj, doc, touched, changes, creating=False)
        self._flush(rt)  # constraint errors surface here, as SCIM errors, not in a later query's autoflush
        self._write_links(rt, obj, doc, changes, creating=False, touched=touched)
        self.apply_link_operations(rt, obj, link_operations, changes)
        if changes and rt.mapping.last_modified is not None:
            now = datetime.now(UTC).replace(tzinfo=None)
            previous = getattr(obj, rt.mapping.last_modified.key)
            if isinstance(previous, datetime) and previous.tzinfo is not None:
                previous = previous.astimezone(UTC).replace(tzinfo=None)
            if isinstance(previous, datetime) and now <= previous:
                now = previous + timedelta(microseconds=1)  # keep meta.version moving on fast writes
            setattr(obj, rt.mapping.last_modified.key, now)
        self._flush(rt)
        return changes

    def delete(self, rt: ResourceType, obj: Any) -> None:
        for link in self.registry.links(rt):
            assoc = link.association
            self.session.execute(sa.delete(assoc.table).where(assoc.owner_key == _key_of(obj, assoc.owner_id)))
        if rt.kind == "value" and rt.name in self.registry.grants:
            grants = self.registry.grants[rt.name]
            # Only the caller's tenant's grants: another tenant's users are never changed by this tenant.
            holders = sa.select(grants.owner_id).where(self.tenant_condition(self.registry.users))
            self.session.execute(sa.delete(grants.table).where(grants.target_key == _key_of(obj, grants.target_id),
                                                               grants.owner_key.in_(holders)))
        self.session.delete(obj)
        self._flush(rt)

    def _flush(self, rt: ResourceType) -> None:
        try:
            self.session.flush()
        except (DataError, IntegrityError) as exc:
            raise constraint_error(exc, rt.name) from exc

    def _check_unique(self, rt: ResourceType, obj: Any, doc: dict[str, Any], touched: set[str] | None = None) -> None:
        """RFC 7643 §2.2 ``uniqueness``: what the schema says is unique ("server" or "global", both
        within the tenant) is checked before the write, following the attribute's ``caseExact``."""
        unique = self._unique_values(rt, doc, touched)
        if unique:
            self._lock_unique(rt, unique)
            self._check_unique_values(rt, obj, unique)

    def _unique_values(self, rt: ResourceType, doc: dict[str, Any],
                       touched: set[str] | None = None) -> list[_Unique]:
        """(attribute, column, value, schema) for each unique attribute ``doc`` gives a text value to write."""
        out = []
        for resolved, column in rt.mapping.resolved_targets:
            attribute = resolved.attribute
            if attribute.uniqueness == "none" or resolved.sub_attribute is not None or attribute.multi_valued:
                continue
            if touched is not None and (resolved.schema if resolved.is_extension else attribute.name) not in touched:
                continue  # a PATCH that leaves the value alone cannot make it collide
            holder = doc.get(resolved.schema, {}) if resolved.is_extension else doc
            value = holder.get(attribute.name) if isinstance(holder, dict) else None
            if isinstance(column, Attr):
                column = column.column
            if not isinstance(value, str) or column is None or isinstance(column, MultiValued):
                continue
            out.append((attribute, column, value, resolved.schema))
        return out

    def _lock_unique(self, rt: ResourceType, unique: list[_Unique]) -> None:
        """PostgreSQL: serialise this transaction's writers of the same unique values.

        Two parallel POSTs of "Ann@x" and "ann@x" would both pass a check, and a host's unique index
        may be case-sensitive or absent.  The lock is released at commit or rollback.  It stays a
        statement of its own, before the check: under READ COMMITTED a statement sees what was
        committed when it began, so a check in the statement that waited for the lock would not see
        the row the lock's previous holder committed.  (SQLite needs none: the request holds the
        database's write lock, ``begin_write``.)  No lock is taken where the host's own unique index
        refuses the same duplicates: the second writer then waits on the index entry and fails with a
        unique violation, a 409 as well (:mod:`~flask_scim_entitlements.unique_indexes`).
        """
        if self.dialect != "postgresql":
            return
        connection = self._connection()
        for attribute, column, value, _schema in unique:
            if enforced_by_index(connection, column, rt.mapping.tenant, attribute.case_exact):
                continue  # the host's unique index refuses the second writer itself (unique_indexes.py)
            folded = value if attribute.case_exact else value.lower()
            connection.execute(self._plan(("advisory lock", self.dialect), _advisory_lock),
                               {"key": f"scim:{rt.name}:{attribute.name}:{self.tenant}:{folded}"})

    def _check_unique_values(self, rt: ResourceType, obj: Any, unique: list[_Unique]) -> None:
        current = getattr(obj, rt.mapping.id.key, None)
        tenancy = self._tenancy(rt)
        connection = self._connection()
        for attribute, column, value, schema in unique:
            name = attribute.name
            statement = self._plan(
                ("unique", rt.name, schema, name, self.dialect, tenancy, current is not None),
                partial(self._unique_statement, rt, column, attribute.case_exact, tenancy, current is not None))
            params: dict[str, Any] = {"value": value}
            if tenancy == "bound":
                params["tenant"] = self.tenant_value(rt.mapping)
            if current is not None:
                params["current"] = current
            if connection.execute(statement, params).first() is not None:
                raise UniquenessError(f"{rt.name} with {name} {value!r} already exists")

    def _unique_statement(self, rt: ResourceType, column: Any, case_exact: bool, tenancy: str, excluding: bool) -> Any:
        condition = self._unique_condition(rt, column, case_exact, tenancy, "value", excluding=excluding)
        return sa.select(sa.literal(1)).select_from(rt.mapping.model).where(condition).limit(1)

    def _tenancy(self, rt: ResourceType) -> str:
        return "none" if rt.mapping.tenant is None else "closed" if self.tenant is None else "bound"

    def _unique_condition(self, rt: ResourceType, column: Any, case_exact: bool, tenancy: str, value_name: str,
                          *, excluding: bool = False, tenant_name: str = "tenant") -> Any:
        """Does another resource of ``rt`` in the tenant (``:tenant_name``) hold the value ``:value_name`` in
        ``column``?  Bound values only, so a statement built from it is built once and reused."""
        mapping = rt.mapping
        value = sa.bindparam(value_name, type_=sa.String)
        # lower() on both sides, in SQL: the same folding as a host's unique index on lower(column).
        condition = column == value if case_exact else sa.func.lower(column) == sa.func.lower(value)
        if tenancy == "bound":
            condition = sa.and_(mapping.tenant == sa.bindparam(tenant_name, type_=mapping.tenant.type), condition)
        elif tenancy == "closed":
            condition = sa.and_(sa.false(), condition)  # fail closed, as tenant_condition
        if excluding:
            condition = sa.and_(condition, mapping.id != sa.bindparam("current", type_=mapping.id.type))
        return condition

    def _unique_guard(self, rt: ResourceType, unique: list[_Unique]) -> Guard | None:
        """The uniqueness check of a new resource as the condition of its ``INSERT ... SELECT``: one
        statement, not two (PostgreSQL: after the locks, so it sees what their holders committed)."""
        if not unique:
            return None
        tenancy = self._tenancy(rt)
        names = tuple((schema, attribute.name) for attribute, _column, _value, schema in unique)
        # Named apart from the columns' own parameters (the INSERT's values are bound by column key).
        params: dict[str, Any] = {f"scim_unique_{n}": value for n, (_a, _c, value, _s) in enumerate(unique)}
        if tenancy == "bound":
            params["scim_unique_tenant"] = self.tenant_value(rt.mapping)

        def build() -> Any:
            return sa.and_(*(~sa.exists().where(self._unique_condition(
                rt, column, attribute.case_exact, tenancy, f"scim_unique_{n}", tenant_name="scim_unique_tenant"))
                for n, (attribute, column, _value, _schema) in enumerate(unique)))

        return Guard(("unique", rt.name, names, self.dialect, tenancy), build, params)

    def _write_attributes(self, rt: ResourceType, obj: Any, doc: dict[str, Any], touched: set[str] | None,
                          changes: Changes, *, creating: bool) -> None:
        for top, resolved, target, value in _to_write(rt, doc, touched):
            if isinstance(target, Attr) and target.set is not None:
                # The host's setter may read (a manager, a department): it runs under the write lock, as
                # every read of a write request does (a no-op once taken; create() takes it late otherwise).
                self.begin_write()
            if self._write_one(obj, target, resolved, value):
                changes.attributes.add(top)

    def _write_one(self, obj: Any, target: Any, resolved: d.ResolvedPath, value: Any) -> bool:
        attribute = resolved.target
        if isinstance(target, Attr):
            if target.set is None:
                return False
            before = target.get(obj) if target.get is not None else object()
            target.set(obj, value)
            return attribute.mutability == d.WRITE_ONLY or before != value
        if isinstance(target, MultiValued):
            current = [{sub: getattr(c, col.key) for sub, col in target.columns.items()}
                       for c in getattr(obj, target.relationship.key)]
            wanted = [{sub: item.get(sub) for sub in target.columns} for item in (value or [])]
            if current == wanted:
                return False
            collection = getattr(obj, target.relationship.key)
            for child in list(collection):
                collection.remove(child)
                self.session.delete(child)
            for item in wanted:
                child = target.child_model()
                for key, child_value in _child_values(target, resolved, item).items():
                    setattr(child, key, child_value)
                collection.append(child)
            return True
        value = _column_value(target, resolved, value)
        if getattr(obj, target.key) == value:
            return False
        setattr(obj, target.key, value)
        return True

    def _held_values(self, rt: ResourceType, doc: dict[str, Any]) \
            -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]], set[str]] | None:
        """What :meth:`create` would set on a new instance: each attribute's value by key (a value set to None
        held as None, one never set absent), each child relationship's rows, as :func:`insert_rows` takes
        them, and the attributes that set something; None where ``doc`` sets an :class:`Attr` (the host's
        setter needs the instance)."""
        mapping = rt.mapping
        held: dict[str, Any] = {}
        children: dict[str, list[dict[str, Any]]] = {}
        attributes: set[str] = set()
        if mapping.tenant is not None:
            held[mapping.tenant.key] = self.tenant_value(mapping)
        for top, resolved, target, value in _to_write(rt, doc, None):
            if isinstance(target, Attr):
                if target.set is not None:
                    return None
                continue
            if isinstance(target, MultiValued):
                key = target.relationship.key
                current = [{sub: row.get(col.key) for sub, col in target.columns.items()}
                           for row in children.get(key, [])]
                wanted = [{sub: item.get(sub) for sub in target.columns} for item in (value or [])]
                if current != wanted:
                    children[key] = [_child_values(target, resolved, item) for item in wanted]
                    attributes.add(top)
                continue
            value = _column_value(target, resolved, value)
            if held.get(target.key) != value:  # an instance's unset attribute reads None
                held[target.key] = value
                attributes.add(top)
        now = datetime.now(UTC).replace(tzinfo=None)
        for col in (mapping.created, mapping.last_modified):
            if col is not None and held.get(col.key) is None:
                held[col.key] = now
        return held, children, attributes

    # ------------------------------------------------------------------ links
    def writable_links(self, rt: ResourceType) -> dict[str, list[Link]]:
        """The link attributes a client may write, with their links (entitlements: one per entitlement type)."""
        by_attr: dict[str, list[Link]] = defaultdict(list)
        for link in self.registry.links(rt):
            if link.attribute == "groups":
                continue  # read-only on users: memberships are managed through /Groups (RFC 7643 §4.1.2)
            by_attr[link.attribute].append(link)
        return by_attr

    def _write_links(self, rt: ResourceType, obj: Any, doc: dict[str, Any], changes: Changes, *, creating: bool,
                     touched: set[str] | None = None) -> None:
        """POST and PUT: each writable link attribute of ``doc`` is the whole set (RFC 7644 §3.5.1)."""
        operations = []
        for name in self.writable_links(rt):
            if touched is not None and name not in touched:
                continue
            items = doc.get(name) or []
            if creating and not items:
                continue
            # A new resource has no links: its set is what the request adds.
            operations.append(LinkOperation(name, ADD if creating else REPLACE, items=tuple(items), label=name))
        self.apply_link_operations(rt, obj, operations, changes, fresh=creating)

    def apply_link_operations(self, rt: ResourceType, obj: Any, operations: Sequence[LinkOperation],
                              changes: Changes, *, fresh: bool = False) -> None:
        """Run a PATCH's link operations, in order, as set operations on the ids they name.

        Each costs statements on the ids the operation names (or, for a filtered ``remove``, on the rows
        its filter selects), whatever the number of links the resource already has: the current list is
        never loaded.  A run of adds and removes by id on one attribute (Okta pushes memberships as
        hundreds of one-member operations in one PATCH) runs as one batch: for each id the last
        operation wins, exactly as applying them one by one would end.  Unknown ids are a 400
        ``invalidValue`` (and the request's transaction is rolled back).  ``fresh``: the resource was
        created by this request and has no links yet.
        """
        if not operations:
            return
        by_attr = self.writable_links(rt)
        index = 0
        while index < len(operations):
            operation = operations[index]
            links = by_attr.get(operation.attribute)
            if not links:
                raise InvalidPathError(f"'{operation.label}' cannot be written on {rt.name}")
            if _by_ids(operation):
                end = index + 1
                while end < len(operations) and _by_ids(operations[end]) \
                        and operations[end].attribute == operation.attribute:
                    end += 1
                self._apply_by_ids(obj, operation.attribute, links, operations[index:end], changes, fresh)
                index = end
                continue
            self._apply_selected(rt, obj, links, operation, changes)
            index += 1

    def _apply_by_ids(self, obj: Any, name: str, links: list[Link], batch: Sequence[LinkOperation],
                      changes: Changes, fresh: bool) -> None:
        """A run of ``add`` (without filter) and ``remove`` by ids, as one removal and one insertion per link."""
        last: dict[str, str] = {}  # value -> the last operation naming it
        added_items: list[dict[str, Any]] = []
        for operation in batch:
            if operation.op == ADD:
                added_items.extend(operation.items)
                for item in operation.items:
                    last[str(item.get("value"))] = ADD
            else:
                for value in operation.values or ():
                    last[value] = REMOVE
        # Every id added is checked, even if removed later in the batch.
        resolved = self._resolve_values(name, added_items, links, changes)
        leaving = [value for value, op in last.items() if op != ADD]
        for link in links:
            assoc = link.association
            owner = _key_of(obj, assoc.owner_id)
            keys = resolved.get(id(assoc), {})
            removed: list[Any] = []
            if leaving and not fresh:
                targets = [k for k in (link.target.parse_id(v) for v in leaving) if k is not None]
                if targets:
                    removed = self._remove_pairs(link, owner, self._in(link.target.id, targets))
            added = self._add_pairs(assoc, owner, [key for value, key in keys.items() if last.get(value) == ADD],
                                    fresh=fresh)
            _record(changes, _label(link), added, removed)

    def _apply_selected(self, rt: ResourceType, obj: Any, links: list[Link], operation: LinkOperation,
                        changes: Changes) -> None:
        """``replace`` of the whole set, ``remove`` of all or of what a filter selects, filtered ``add``/``replace``."""
        if operation.op == REMOVE:
            for link in links:
                owner = _key_of(obj, link.association.owner_id)
                removed = self._remove_pairs(link, owner, self._selection(rt, link, operation))
                _record(changes, _label(link), [], removed)
            return
        resolved = self._resolve_values(operation.attribute, list(operation.items), links, changes)
        matched_any = False
        for link in links:
            assoc = link.association
            owner = _key_of(obj, assoc.owner_id)
            ids = list(resolved.get(id(assoc), {}).values())
            keep = sa.not_(self._in(assoc.target_key, ids)) if ids else sa.true()
            if operation.filter is not None:
                # §3.5.2.3 with a filter: the matching elements are replaced by the value given.
                matching = self._selection(rt, link, operation)
                matched_any = matched_any or bool(self.session.scalar(
                    sa.select(sa.func.count()).select_from(self._joined(link)).where(assoc.owner_key == owner,
                                                                                     matching)))
                removed = self._remove_pairs(link, owner, sa.and_(matching, keep))
            else:
                # §3.5.2.3: "the attribute and all values are replaced": what is not named goes.
                removed = self._remove_pairs(link, owner, keep)
            added = self._add_pairs(assoc, owner, ids)
            _record(changes, _label(link), added, removed)
        if operation.filter is not None and operation.op == REPLACE and not matched_any:
            raise NoTargetError(f"no value of '{operation.attribute}' matches the path '{operation.label}'")

    def _resolve_values(self, name: str, items: list[dict[str, Any]], links: list[Link],
                        changes: Changes) -> dict[int, dict[str, Any]]:
        """Map the ``value`` s of ``members`` / ``roles`` / ``entitlements`` to existing target keys:
        per association, ``{value: key}``.  One SELECT per association, of the named ids only.

        An unknown value (or one of another tenant) is a 400 ``invalidValue`` naming it; with
        ``SCIM_UNKNOWN_GRANTS="drop"``, a role or entitlement grant is skipped instead, logged, and
        listed in ``changes.dropped`` (members are always checked).
        """
        wanted: dict[int, dict[str, Any]] = defaultdict(dict)
        pending: dict[int, list[str]] = defaultdict(list)
        for item in items:
            value = item.get("value")
            if not isinstance(value, str) or not value:
                raise InvalidValueError(f"{name}: every item needs a string 'value' (the id of the resource)")
            if name == "members" and str(item.get("type") or "User").lower() != "user":
                raise InvalidValueError(
                    f"members: {value} is of type {item.get('type')}; only User members are supported")
            candidates = links
            if name == "entitlements" and item.get("type"):
                wanted_type = str(item["type"]).lower()
                candidates = [link for link in links if str(link.constants.get("type", "")).lower() == wanted_type]
                if not candidates:
                    raise InvalidValueError(f"entitlements: unknown entitlement type {item['type']!r}")
            for link in candidates:
                pending[id(link.association)].append(value)
        found_any: dict[str, int] = defaultdict(int)
        for link in links:
            assoc, target_mapping = link.association, link.target
            values = list(dict.fromkeys(pending.get(id(assoc), [])))
            parsed = {v: target_mapping.parse_id(v) for v in values}
            keys = [k for k in parsed.values() if k is not None]
            existing: dict[Any, Any] = {}
            if keys:
                rows = self.session.execute(
                    sa.select(target_mapping.id, assoc.target_id)
                    .where(self._in(target_mapping.id, keys), self.tenant_condition(target_mapping)))
                existing.update({row[0]: row[1] for row in rows})
            for text, key in parsed.items():
                if key is not None and key in existing:
                    wanted[id(assoc)][text] = existing[key]
                    found_any[text] += 1
        missing = [str(i.get("value")) for i in items if not found_any.get(str(i.get("value")))]
        if missing and self.drop_unknown_grants and name != "members":
            unique = list(dict.fromkeys(missing))
            logger.warning("dropped %s grant(s) of %s that no longer exist (tenant %r): %s", name, name,
                           self.tenant, ", ".join(unique))
            changes.dropped[name].extend(unique)
            return wanted
        if missing:
            noun = {"members": "User", "roles": "Role"}.get(name, "entitlement")
            raise InvalidValueError(f"{name}: no {noun} with id {', '.join(sorted(set(missing)))}")
        return wanted

    def _joined(self, link: Link) -> Any:
        assoc = link.association
        return assoc.table.join(link.target.model, assoc.target_key == assoc.target_id)

    def _selection(self, rt: ResourceType, link: Link, operation: LinkOperation) -> Any:
        """The condition on ``link``'s association rows (joined to the target) that ``operation`` selects."""
        if operation.removes_all:
            return sa.true()
        if operation.values is not None:
            keys = [k for k in (link.target.parse_id(v) for v in operation.values) if k is not None]
            return self._in(link.target.id, keys) if keys else sa.false()
        assert operation.filter is not None
        _from, condition = FilterCompiler(self.registry, rt, self.dialect).link_elements(link, operation.filter)
        return condition

    def _add_pairs(self, assoc: Association, owner: Any, target_keys: Sequence[Any], *,
                   fresh: bool = False) -> list[Any]:
        """Link ``owner`` to those of ``target_keys`` it is not linked to yet: the keys added.

        One SELECT of the named keys that are already there (none when the owner is ``fresh``), one
        INSERT ... SELECT of the rest: both sized by the request, never by the owner's links.
        """
        keys = list(dict.fromkeys(target_keys))
        if not keys:
            return []
        present: set[Any] = set()
        if not fresh:
            present = set(self.session.scalars(sa.select(assoc.target_key).where(
                assoc.owner_key == owner, self._in(assoc.target_key, keys))))
        to_add = [k for k in keys if k not in present]
        if not to_add:
            return []
        values = self._values(to_add, assoc.target_key.type)
        if values is None:
            self.session.execute(sa.insert(assoc.table),
                                 [{assoc.owner_key.key: owner, assoc.target_key.key: key} for key in to_add])
        else:
            rows = sa.select(sa.literal(owner, type_=assoc.owner_key.type), values.c.v)
            self.session.execute(sa.insert(assoc.table).from_select(
                [assoc.owner_key.name, assoc.target_key.name], rows))
        return to_add

    def _remove_pairs(self, link: Link, owner: Any, condition: Any) -> list[Any]:
        """Unlink ``owner`` from the targets ``condition`` selects: the keys removed.

        One SELECT of the selected rows (what the change removes, for the signals), one DELETE of them.
        """
        assoc = link.association
        selected = sa.select(assoc.target_key).select_from(self._joined(link)).where(assoc.owner_key == owner,
                                                                                      condition)
        removed = list(self.session.scalars(selected))
        if removed:
            self.session.execute(sa.delete(assoc.table).where(assoc.owner_key == owner,
                                                              self._in(assoc.target_key, removed)))
        return removed

    # -- a set of ids as one bound parameter --------------------------------------------------
    def _values(self, values: Sequence[Any], type_: Any) -> Any:
        """``values`` as a one-column (``v``) table from ONE bound parameter, or None where unsupported.

        This keeps set operations at one statement whatever their size: a 100,000-member
        group PATCH is one INSERT ... SELECT, not a statement per member or per chunk.
        """
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import ARRAY

            array = sa.literal(list(values), type_=ARRAY(type_))
            return sa.select(sa.func.unnest(array).label("v")).subquery()
        if self.dialect == "sqlite":
            rows = sa.func.json_each(sa.literal(json.dumps(list(values), default=str))).table_valued("value")
            return sa.select(rows.c.value.label("v")).subquery()
        return None

    def _in(self, column: Any, values: Sequence[Any]) -> Any:
        """``column IN values`` with a single bound parameter where the database allows it."""
        subquery = self._values(values, column.type)
        if subquery is not None:
            return column.in_(sa.select(subquery.c.v))
        return sa.or_(*(column.in_(chunk) for chunk in _chunks(values)))



def _by_ids(operation: LinkOperation) -> bool:
    """An ``add`` of whole elements or a ``remove`` of listed ids: operations that commute into one batch."""
    return (operation.op == ADD and operation.filter is None) or \
        (operation.op == REMOVE and operation.values is not None)


def _unlocated(value: Any) -> Any:
    """Link items without their ``$ref``: a version must not change with the Host a request names."""
    if isinstance(value, list):
        return [{k: v for k, v in item.items() if k != "$ref"} if isinstance(item, dict) and "$ref" in item else item
                for item in value]
    return value


def _label(link: Link) -> str:
    """The key under which a link's changes are reported: the attribute, or an entitlement's type."""
    return str(link.constants.get("type", link.attribute)) if link.attribute == "entitlements" else link.attribute


def _record(changes: Changes, label: str, added: Iterable[Any], removed: Iterable[Any]) -> None:
    """Add what a set operation did to ``changes``; a value added then removed (or back) in one request nets out."""
    for key in removed:
        _toggle(changes.added[label], changes.removed[label], str(key))
    for key in added:
        _toggle(changes.removed[label], changes.added[label], str(key))


def _toggle(undone: dict[str, None], done: dict[str, None], key: str) -> None:
    if key in undone:
        del undone[key]
    else:
        done[key] = None


def _reader(target: Any, attribute: d.Attribute) -> Callable[[Any], Any]:
    """How to read one mapped attribute's SCIM value from a model instance."""
    text = attribute.type == d.STRING

    def finish(value: Any) -> Any:
        if value is not None and text and not isinstance(value, str):
            value = str(value)
        return _iso(value)

    if isinstance(target, Attr):
        get = target.get
        return (lambda obj: None) if get is None else (lambda obj: finish(get(obj)))
    key = target.key
    getter = attrgetter(key)
    if attribute.multi_valued and attribute.is_complex:
        # A single column standing for a one-element list (e.g. ``"emails": User.email``).
        def one_element(obj: Any) -> Any:
            value = getattr(obj, key)
            return [{"value": value, "type": "work", "primary": True}] if value else []
        return one_element
    if text:
        def read_text(obj: Any) -> Any:
            value = getter(obj)
            return value if value is None or type(value) is str else finish(value)
        return read_text

    def read(obj: Any) -> Any:
        value = getter(obj)
        return value if type(value) in _AS_READ else _iso(value)
    return read


#: Types :func:`_iso` hands back as they are: a value of one is read with nothing else to do.
_AS_READ = frozenset({str, int, bool, float, type(None)})


#: id(column) -> (column, its length, its plain Python type): a mapped attribute's ``.type`` costs a
#: lookup through SQLAlchemy's comparator on every access, and writes ask for it per attribute.
_column_facts: dict[int, tuple[Any, int | None, type | None]] = {}


def _to_write(rt: ResourceType, doc: dict[str, Any],
              touched: set[str] | None) -> Iterable[tuple[str, d.ResolvedPath, Any, Any]]:
    """(top-level attribute, path, target, value in ``doc``) of each attribute a write sets: those ``touched``
    (None: all), neither read-only nor an omitted write-only one (an omitted password stays as stored)."""
    for resolved, target in rt.mapping.resolved_targets:
        schema, name, sub = resolved.schema, resolved.attribute.name, resolved.sub_attribute
        top = schema if resolved.is_extension else name
        if touched is not None and top not in touched:
            continue
        attribute = resolved.target
        if attribute.mutability == d.READ_ONLY or resolved.attribute.mutability == d.READ_ONLY:
            continue
        holder = doc.get(schema, {}) if resolved.is_extension else doc
        value = holder.get(name) if isinstance(holder, dict) else None
        if sub is not None:
            value = value.get(sub.name) if isinstance(value, dict) else None
        if attribute.mutability == d.WRITE_ONLY and value is None:
            continue
        yield top, resolved, target, value


def _column_value(target: Any, resolved: d.ResolvedPath, value: Any) -> Any:
    """What a mapped column is set to for a SCIM value: a multi-valued one's primary value, a parsed
    dateTime, the column's Python type; a 400 naming the attribute if it is not one or does not fit."""
    attribute = resolved.target
    if attribute.multi_valued and attribute.is_complex:
        items = value or []
        primary = next((i for i in items if i.get("primary")), items[0] if items else {})
        value = primary.get("value")
    elif attribute.type == d.DATETIME and isinstance(value, str):
        value = parse_datetime(value)
    if value is not None:
        kind = _facts(target)[2]
        if kind is not None and not isinstance(value, kind) and not (kind is float and isinstance(value, int)):
            try:
                value = kind(value)
            except (TypeError, ValueError):
                raise InvalidValueError(f"{resolved.attribute.name}: {value!r} is not a valid value") from None
    return _fits(target, value, resolved.attribute.name if resolved.sub_attribute is None
                 else f"{resolved.attribute.name}.{resolved.sub_attribute.name}")


def _child_values(target: MultiValued, resolved: d.ResolvedPath, item: dict[str, Any]) -> dict[str, Any]:
    """A child row's attributes (by key) for one item of a multi-valued attribute kept in a child table."""
    return {col.key: _fits(col, item.get(sub), f"{resolved.attribute.name}.{sub}")
            for sub, col in target.columns.items()}


def _facts(column: Any) -> tuple[Any, int | None, type | None]:
    facts = _column_facts.get(id(column))
    if facts is None or facts[0] is not column:
        length = getattr(getattr(column, "type", None), "length", None)
        facts = _column_facts[id(column)] = (column, length, _python_type(column))
    return facts


def _fits(column: Any, value: Any, name: str) -> Any:
    """``value``, unless it is longer than the host's column allows: then a 400 naming the attribute."""
    length = _facts(column)[1]
    if isinstance(value, str) and length is not None and len(value) > length:
        raise InvalidValueError(f"{name}: at most {length} characters")
    return value


def constraint_error(exc: DataError | IntegrityError, what: str) -> InvalidValueError | UniquenessError:
    """The SCIM error for a write the database refused: never a 500.

    A unique index catches what the pre-check could not (a concurrent insert) -> 409 uniqueness;
    any other constraint, or a value the column cannot hold, -> 400 invalidValue.
    """
    if isinstance(exc, DataError):
        return InvalidValueError(f"{what}: a value does not fit the application's storage")
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    text = str(exc.orig)
    if code == "23505" or "UNIQUE constraint failed" in text or "Duplicate entry" in text:
        return UniquenessError(f"{what} conflicts with an existing resource")
    return InvalidValueError(f"{what}: a value the application requires is missing or invalid")


def _advisory_lock() -> Any:
    """PostgreSQL: a transaction-scoped advisory lock on the hash of ``:key``."""
    return sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(sa.bindparam("key", type_=sa.String))))


def _written_children_plan(rt: ResourceType) -> list[Any] | None:
    """Per child table of ``rt`` (emails): (attribute, relationship, the owner's key attribute, the child's key
    attributes, [(sub-attribute, child attribute, Python type)]); None if one cannot be built from instances:
    ordered by anything but its key (SQL compares its own way: a collation), or a column of another type
    than :data:`_PLAIN_TYPES`."""
    plan = []
    model: Any = sa.inspect(rt.mapping.model)
    for resolved, target in rt.mapping.resolved_targets:
        if not isinstance(target, MultiValued) or resolved.target.returned == d.NEVER:
            continue
        child_mapper: Any = sa.inspect(target.child_model)
        keys = list(child_mapper.primary_key)
        order = list(target.relationship.property.order_by or keys)
        if [(getattr(c, "table", None), getattr(c, "name", None)) for c in order] != [(k.table, k.name) for k in keys]:
            return None
        subs = []
        for sub, column in target.columns.items():
            kind = _PLAIN_TYPES.get(type(getattr(column, "type", None)))
            if kind is None:
                return None
            subs.append((sub, column.key, kind))
        plan.append((resolved.attribute.name, target.relationship.key,
                     model.get_property_by_column(target.parent_columns[0][0]).key,
                     [child_mapper.get_property_by_column(k).key for k in keys], subs))
    return plan


def _python_type(column: Any) -> type | None:
    try:
        kind = column.type.python_type
    except (AttributeError, NotImplementedError):
        return None
    return kind if kind in (str, int, float, bool) else None


__all__ = ["Changes", "Store"]
