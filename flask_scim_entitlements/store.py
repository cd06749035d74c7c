"""The one layer that reads and writes the host's models, always within one tenant.

Every query starts from :meth:`Store.select`, which adds the tenant condition
from the mapping's tenant column, so a view or a new feature cannot forget it;
ids of other resources a request refers to (group members, role values) are
looked up through the same layer and are "not found" for another tenant.

Reads load a page and its related rows in a constant number of statements:
one query for the page, one per child table (``selectinload``) and one per
many-to-many link (members, groups, roles, entitlements), whatever the page
size.  Writes to links are set operations (one ``DELETE ... WHERE IN`` and one
multi-row ``INSERT``), never a statement per member.

The store never commits: the view owns the transaction (design-notes.md).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session, selectinload

from .errors import InvalidValueError, NotFoundError, UniquenessError
from .filters import ast
from .filters.compiler import FilterCompiler, parse_datetime
from .mapping import Association, Attr, MultiValued, ResourceMapping
from .schemas import definitions as d

if TYPE_CHECKING:
    from .resource_types import Link, Registry, ResourceType

#: Below this many ids an ``IN`` list is fine on every backend; larger sets are chunked.
_IN_CHUNK = 5000


@dataclass
class Changes:
    """What a write changed, for the provisioning signals."""

    attributes: set[str] = field(default_factory=set)
    added: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    removed: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

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


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start:start + _IN_CHUNK]


def _attr_of(obj: Any, column: Any) -> str:
    """The attribute under which ``obj``'s mapper holds a table column (it may have another name)."""
    return str(sa.inspect(obj).mapper.get_property_by_column(column).key)


def _key_of(obj: Any, column: Any) -> Any:
    """The value on ``obj`` of a table column."""
    return getattr(obj, _attr_of(obj, column))


class Store:
    def __init__(self, session: Session, registry: Registry, tenant: Any, base_url: str) -> None:
        self.session = session
        self.registry = registry
        self.tenant = tenant
        self.base_url = base_url.rstrip("/")
        bind = session.get_bind()
        self.dialect = bind.dialect.name

    # ------------------------------------------------------------------ reads
    def tenant_condition(self, mapping: ResourceMapping) -> Any:
        if mapping.tenant is None:
            return sa.true()
        if self.tenant is None:
            return sa.false()  # fail closed: a tenant-scoped model with no tenant sees nothing
        return mapping.tenant == self.tenant_value(mapping)

    def tenant_value(self, mapping: ResourceMapping) -> Any:
        try:
            kind = mapping.tenant.type.python_type
        except (AttributeError, NotImplementedError):
            return self.tenant
        if isinstance(self.tenant, kind):
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
        query = self.select(rt).where(rt.mapping.id == key).options(*self._loaders(rt))
        if for_update and self.dialect == "postgresql":
            query = query.with_for_update()
        obj = self.session.scalars(query).one_or_none()
        if obj is None:
            raise NotFoundError(f"{rt.name} {id_text} not found")
        return obj

    def search(self, rt: ResourceType, filt: ast.Filter | None, *, sort_by: ast.AttrPath | None = None,
               descending: bool = False, start_index: int = 1, count: int = 100) -> tuple[int, list[Any]]:
        condition = self.tenant_condition(rt.mapping)
        if filt is not None:
            condition = sa.and_(condition, FilterCompiler(self.registry, rt, self.dialect).compile(filt))
        if count <= 0:
            return self._count(rt, condition), []
        order = []
        if sort_by is not None:
            column = self._sort_column(rt, sort_by)
            order.append(column.desc() if descending else column.asc())
        order.append(rt.mapping.id.desc() if descending and sort_by is not None else rt.mapping.id.asc())
        query = (sa.select(rt.mapping.model).where(condition).order_by(*order)
                 .offset(start_index - 1).limit(count).options(*self._loaders(rt)))
        page = list(self.session.scalars(query))
        # A short page ends the result, so it tells the total: Okta's lookups (count=100, one match)
        # then cost no COUNT statement.  Only a full page, or an empty page past the start, needs one.
        if len(page) < count and (page or start_index == 1):
            return start_index - 1 + len(page), page
        return self._count(rt, condition), page

    def _count(self, rt: ResourceType, condition: Any) -> int:
        return self.session.scalar(sa.select(sa.func.count(rt.mapping.id)).where(condition)) or 0

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
        return [selectinload(t.relationship) for t in rt.mapping.targets.values() if isinstance(t, MultiValued)]

    # ----------------------------------------------------------- documents
    def documents(self, rt: ResourceType, objs: Sequence[Any], wanted: set[str] | None = None) -> list[dict[str, Any]]:
        """SCIM documents for ``objs``; ``wanted`` limits the linked attributes loaded (None = all)."""
        mapping = rt.mapping
        docs = []
        for obj in objs:
            doc: dict[str, Any] = {"schemas": [rt.schema.core.id], "id": str(getattr(obj, mapping.id.key))}
            for resolved, target in mapping.resolved_targets:
                if resolved.target.returned == d.NEVER:
                    continue
                value = self._read(obj, target, resolved)
                if value in (None, "", []):
                    continue
                holder = doc if not resolved.is_extension else doc.setdefault(resolved.schema, {})
                if resolved.sub_attribute is None:
                    holder[resolved.attribute.name] = value
                else:
                    holder.setdefault(resolved.attribute.name, {})[resolved.sub_attribute.name] = value  # type: ignore[union-attr]
            if rt.is_entitlement:
                doc["type"] = rt.name
            for ext in rt.schema.extensions:
                if ext.id in doc:
                    doc["schemas"].append(ext.id)
            docs.append(doc)
        self._add_links(rt, objs, docs, wanted)
        for obj, doc in zip(objs, docs, strict=True):
            doc["meta"] = self._meta(rt, obj, doc)
        return docs

    def _read(self, obj: Any, target: Any, resolved: d.ResolvedPath) -> Any:
        attribute = resolved.target
        if isinstance(target, Attr):
            value = target.get(obj) if target.get is not None else None
        elif isinstance(target, MultiValued):
            items = []
            for child in getattr(obj, target.relationship.key):
                item = {sub: _iso(getattr(child, col.key)) for sub, col in target.columns.items()}
                items.append({k: v for k, v in item.items() if v not in (None, "")})
            return [item for item in items if item]
        else:
            value = getattr(obj, target.key)
            if attribute.multi_valued and attribute.is_complex:
                # A single column standing for a one-element list (e.g. ``"emails": User.email``).
                return [{"value": value, "type": "work", "primary": True}] if value else []
        if value is not None and attribute.type == d.STRING and not isinstance(value, str):
            value = str(value)
        return _iso(value)

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
        else:
            basis = json.dumps(doc, sort_keys=True, default=str)
        meta["location"] = f"{self.base_url}{rt.endpoint}/{doc['id']}"
        meta["version"] = 'W/"' + hashlib.sha256(basis.encode()).hexdigest()[:16] + '"'
        return meta

    def _add_links(self, rt: ResourceType, objs: Sequence[Any], docs: list[dict[str, Any]],
                   wanted: set[str] | None) -> None:
        if not objs:
            return
        for link in self.registry.links(rt):
            name, assoc, target_mapping = link.attribute, link.association, link.target
            if wanted is not None and name not in wanted:
                continue
            key_attr = _attr_of(objs[0], assoc.owner_id)
            owner_keys = [getattr(obj, key_attr) for obj in objs]
            by_owner: dict[Any, list[dict[str, Any]]] = defaultdict(list)
            display = target_mapping.display_column()
            columns = [assoc.owner_key, target_mapping.id, *([display] if display is not None else [])]
            query = (sa.select(*columns)
                     .select_from(assoc.table.join(target_mapping.model, assoc.target_key == assoc.target_id))
                     .where(self._in(assoc.owner_key, owner_keys)).order_by(assoc.owner_key, target_mapping.id))
            ref_endpoint = {"members": "/Users", "groups": "/Groups"}.get(name)
            for row in self.session.execute(query):
                item: dict[str, Any] = {"value": str(row[1])}
                if display is not None and row[2] is not None:
                    item["display"] = row[2]
                if ref_endpoint is not None:
                    item["$ref"] = f"{self.base_url}{ref_endpoint}/{row[1]}"
                item.update(link.constants)
                by_owner[row[0]].append(item)
            for key, doc in zip(owner_keys, docs, strict=True):
                if by_owner.get(key):
                    doc.setdefault(name, []).extend(by_owner[key])

    # ----------------------------------------------------------------- writes
    def create(self, rt: ResourceType, doc: dict[str, Any]) -> tuple[Any, Changes]:
        mapping = rt.mapping
        obj = mapping.model()
        if mapping.tenant is not None:
            setattr(obj, mapping.tenant.key, self.tenant_value(mapping))
        self._check_unique(rt, obj, doc)
        changes = Changes()
        self._write_attributes(rt, obj, doc, None, changes, creating=True)
        now = datetime.now(UTC).replace(tzinfo=None)
        for col in (mapping.created, mapping.last_modified):
            if col is not None and getattr(obj, col.key, None) is None:
                setattr(obj, col.key, now)
        self.session.add(obj)
        self._flush(rt)
        self._write_links(rt, obj, doc, changes, creating=True)
        return obj, changes

    def replace(self, rt: ResourceType, obj: Any, doc: dict[str, Any], touched: set[str] | None = None) -> Changes:
        """Make ``obj`` hold ``doc`` (RFC 7644 §3.5.1); ``touched`` limits it to those top-level keys."""
        self._check_unique(rt, obj, doc)
        changes = Changes()
        self._write_attributes(rt, obj, doc, touched, changes, creating=False)
        self._flush(rt)  # constraint errors surface here, as SCIM errors, not in a later query's autoflush
        self._write_links(rt, obj, doc, changes, creating=False, touched=touched)
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
            self.session.execute(sa.delete(grants.table).where(grants.target_key == _key_of(obj, grants.target_id)))
        self.session.delete(obj)
        self._flush(rt)

    def _flush(self, rt: ResourceType) -> None:
        try:
            self.session.flush()
        except (DataError, IntegrityError) as exc:
            raise constraint_error(exc, rt.name) from exc

    def _check_unique(self, rt: ResourceType, obj: Any, doc: dict[str, Any]) -> None:
        for name in ("userName",) if rt.kind == "user" else ("displayName",) if rt.kind == "group" else ():
            resolved = rt.schema.resolve(None, name)
            value = doc.get(name)
            if resolved is None or not isinstance(value, str):
                continue
            column = rt.mapping.target(resolved)
            if isinstance(column, Attr):
                column = column.column
            if column is None:
                continue
            if self.dialect == "postgresql":
                # Serialise writers of the same value for this transaction: two parallel POSTs of
                # "Ann@x" and "ann@x" would both pass the count below, and a host's unique index
                # may be case-sensitive or absent.  The lock is released at commit or rollback.
                key = f"scim:{rt.name}:{name}:{self.tenant}:{value.lower()}"
                self.session.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(key))))
            # lower() on both sides, in SQL: the same folding as a host's unique index on lower(column).
            condition = sa.and_(self.tenant_condition(rt.mapping),
                                sa.func.lower(column) == sa.func.lower(sa.literal(value, type_=sa.String)))
            current = getattr(obj, rt.mapping.id.key, None)
            if current is not None:
                condition = sa.and_(condition, rt.mapping.id != current)
            if self.session.scalar(sa.select(sa.func.count()).select_from(rt.mapping.model).where(condition)):
                raise UniquenessError(f"{rt.name} with {name} {value!r} already exists")

    def _write_attributes(self, rt: ResourceType, obj: Any, doc: dict[str, Any], touched: set[str] | None,
                          changes: Changes, *, creating: bool) -> None:
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
                continue  # an omitted password leaves the stored one alone
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
                for sub, col in target.columns.items():
                    setattr(child, col.key, _fits(col, item.get(sub), f"{resolved.attribute.name}.{sub}"))
                collection.append(child)
            return True
        if attribute.multi_valued and attribute.is_complex:
            items = value or []
            primary = next((i for i in items if i.get("primary")), items[0] if items else {})
            value = primary.get("value")
        elif attribute.type == d.DATETIME and isinstance(value, str):
            value = parse_datetime(value)
        if value is not None:
            kind = _python_type(target)
            if kind is not None and not isinstance(value, kind) and not (kind is float and isinstance(value, int)):
                try:
                    value = kind(value)
                except (TypeError, ValueError):
                    raise InvalidValueError(f"{resolved.attribute.name}: {value!r} is not a valid value") from None
        value = _fits(target, value, resolved.attribute.name if resolved.sub_attribute is None
                      else f"{resolved.attribute.name}.{resolved.sub_attribute.name}")
        if getattr(obj, target.key) == value:
            return False
        setattr(obj, target.key, value)
        return True

    # ------------------------------------------------------------------ links
    def _write_links(self, rt: ResourceType, obj: Any, doc: dict[str, Any], changes: Changes, *, creating: bool,
                     touched: set[str] | None = None) -> None:
        by_attr: dict[str, list[Link]] = defaultdict(list)
        for link in self.registry.links(rt):
            if link.attribute == "groups":
                continue  # read-only on users: memberships are managed through /Groups (RFC 7643 §4.1.2)
            by_attr[link.attribute].append(link)
        for name, links in by_attr.items():
            if touched is not None and name not in touched:
                continue
            items = doc.get(name) or []
            if creating and not items:
                continue
            wanted = self._resolve_values(name, items, links)
            for link in links:
                assoc = link.association
                label = link.constants.get("type", name) if name == "entitlements" else name
                ids = wanted.get(id(assoc), [])
                added, removed = self.set_links(assoc, _key_of(obj, assoc.owner_id), ids)
                if added:
                    changes.added[label].extend(str(i) for i in added)
                if removed:
                    changes.removed[label].extend(str(i) for i in removed)

    def _resolve_values(self, name: str, items: list[dict[str, Any]],
                        links: list[Link]) -> dict[int, list[Any]]:
        """Map the ``value`` s of ``members`` / ``roles`` / ``entitlements`` to existing target keys.

        An unknown value (or one of another tenant) is a 400 ``invalidValue`` naming it.
        """
        wanted: dict[int, list[Any]] = defaultdict(list)
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
                    wanted[id(assoc)].append(existing[key])
                    found_any[text] += 1
        missing = [str(i.get("value")) for i in items if not found_any.get(str(i.get("value")))]
        if missing:
            noun = {"members": "User", "roles": "Role"}.get(name, "entitlement")
            raise InvalidValueError(f"{name}: no {noun} with id {', '.join(sorted(set(missing)))}")
        return wanted

    def set_links(self, assoc: Association, owner: Any, target_keys: Iterable[Any]) -> tuple[list[Any], list[Any]]:
        """Make the owner's links exactly ``target_keys``: one SELECT, one DELETE, one INSERT."""
        wanted = set(target_keys)
        current = set(self.session.scalars(sa.select(assoc.target_key).where(assoc.owner_key == owner)))
        to_add = sorted(wanted - current, key=str)
        to_remove = sorted(current - wanted, key=str)
        if to_remove:
            self.session.execute(sa.delete(assoc.table).where(assoc.owner_key == owner,
                                                              self._in(assoc.target_key, to_remove)))
        if to_add:
            values = self._values(to_add, assoc.target_key.type)
            if values is None:
                self.session.execute(sa.insert(assoc.table),
                                     [{assoc.owner_key.key: owner, assoc.target_key.key: key} for key in to_add])
            else:
                rows = sa.select(sa.literal(owner, type_=assoc.owner_key.type), values.c.v)
                self.session.execute(sa.insert(assoc.table).from_select(
                    [assoc.owner_key.name, assoc.target_key.name], rows))
        return to_add, to_remove

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



def _fits(column: Any, value: Any, name: str) -> Any:
    """``value``, unless it is longer than the host's column allows: then a 400 naming the attribute."""
    length = getattr(getattr(column, "type", None), "length", None)
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


def _python_type(column: Any) -> type | None:
    try:
        kind = column.type.python_type
    except (AttributeError, NotImplementedError):
        return None
    return kind if kind in (str, int, float, bool) else None


__all__ = ["Changes", "Store"]
