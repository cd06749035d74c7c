"""The resource endpoints, generic over every registered resource type.

Each request runs the same pipeline (design-notes.md, "A request is one
transaction"): the blueprint has authenticated the caller; the view parses the
body (content type, size, JSON), normalises client quirks, validates against
the marshmallow schema, performs the operation through the tenant-scoped
store inside the session's transaction, commits, sends the provisioning
signals, and serialises the result with the requested attributes.  Any error
before the commit rolls everything back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

from flask import current_app, g, request
from marshmallow import Schema, ValidationError

from .. import signals
from ..errors import (
    InvalidFilterError,
    InvalidSyntaxError,
    InvalidValueError,
    MutabilityError,
    NotImplementedScimError,
    PreconditionFailedError,
)
from ..filters import ast
from ..filters.parser import parse_attribute_list, parse_filter
from ..handlers import scim_response
from ..normalize import normalize_patch, normalize_resource
from ..patch import apply_patch
from ..patch.links import plan_patch
from ..resource_types import GROUP_KIND, USER_KIND, ResourceType
from ..schemas import definitions as d
from ..schemas.messages import SEARCH_REQUEST_URN, compile_dump, compile_load, list_response, resource_dump_schema
from ..store import Changes, Store
from .common import LINK_ATTRIBUTES, Projection, base_url, check_text, page_params, read_json_body


def _state() -> Any:
    return current_app.extensions["scim_entitlements"]


def _store() -> Store:
    state = _state()
    return Store(state.db.session, state.registry, g.scim_principal.tenant, base_url(),
                 drop_unknown_grants=state.config.unknown_grants == "drop")


#: wire schema -> its dump for documents: the store-shaped link attributes passed through (ShapedItems)
_dumpers: WeakKeyDictionary[Schema, Callable[[Any], Any]] = WeakKeyDictionary()


def _dumper(rt: ResourceType) -> Callable[[Any], Any]:
    wire = _state().wire_schema(rt)
    dump = _dumpers.get(wire)
    if dump is None:
        _dumpers[wire] = dump = compile_dump(resource_dump_schema(wire, LINK_ATTRIBUTES))
    return dump


def _render(rt: ResourceType, docs: list[dict[str, Any]], projection: Projection) -> list[dict[str, Any]]:
    dump, apply = _dumper(rt), projection.applier(rt.schema)
    return [dump(apply(doc)) for doc in docs]


def _respond_one(rt: ResourceType, doc: dict[str, Any], status: int = 200,
                 projection: Projection | None = None) -> Any:
    body = _render(rt, [doc], projection or Projection.from_args(request.args))[0]
    headers = {"ETag": doc["meta"]["version"], "Location": doc["meta"]["location"]} if status == 201 else \
        {"ETag": doc["meta"]["version"]}
    return scim_response(body, status, headers)


def _filter(text: Any) -> Any:
    if text is None:
        return None
    if not isinstance(text, str):
        raise InvalidFilterError("filter must be a string")
    if not text.strip():
        return None
    config = _state().config
    parsed = parse_filter(text, max_length=config.max_filter_length, max_depth=config.max_filter_depth)
    try:
        check_text([text, *_literals(parsed)])
    except InvalidValueError as exc:
        raise InvalidFilterError(exc.detail) from None
    return parsed


def _literals(f: Any) -> list[Any]:
    """The literal values of a filter (JSON escapes in them may hide NUL or lone surrogates)."""
    out, stack = [], [f]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Compare):
            out.append(node.value)
        elif isinstance(node, (ast.And, ast.Or)):
            stack += [node.left, node.right]
        elif isinstance(node, ast.Not):
            stack.append(node.expr)
        elif isinstance(node, ast.ValuePath):
            stack.append(node.filter)
    return out


def _sort(rt: ResourceType, sort_by: Any, sort_order: Any) -> tuple[Any, bool]:
    if not sort_by:
        return None, False
    paths = parse_attribute_list(str(sort_by))
    if len(paths) != 1:
        raise InvalidValueError("sortBy takes exactly one attribute")
    order = str(sort_order or "ascending").lower()
    if order not in ("ascending", "descending"):
        raise InvalidValueError("sortOrder must be 'ascending' or 'descending'")
    return paths[0], order == "descending"


def _list(rt: ResourceType, params: Any, projection: Projection) -> Any:
    config = _state().config
    start, count = page_params(params, config.default_page_size, config.max_page_size)
    limiter = _state().rate_limiter
    if limiter is not None and count > config.default_page_size:
        # A rate bounds work, not requests: a page of 1,000 is charged as ten pages of 100.
        # Okta's lookups and imports (count 100) cost one each.
        limiter.charge(g.scim_principal.tenant, -(-count // config.default_page_size))
    filt = _filter(params.get("filter"))
    sort_by, descending = _sort(rt, params.get("sortBy"), params.get("sortOrder"))
    store = _store()
    total, objs = store.search(rt, filt, sort_by=sort_by, descending=descending, start_index=start, count=count)
    wanted = projection.wanted_links(rt.schema)
    if "members" in wanted and len(objs) > 1:
        objs = _within_budget(objs, store.link_counts(rt, objs, "members"), config.max_members_per_response)
    docs = store.documents(rt, objs, wanted, projection.hidden_link_subs(rt.schema))
    _end_read()
    return scim_response(list_response(_render(rt, docs, projection), total, start))


def _within_budget(objs: list[Any], sizes: list[int] | None, budget: int) -> list[Any]:
    """The longest first part of a page whose members fit ``budget`` (never less than one resource).

    RFC 7644 §3.4.2.4 lets a page hold fewer resources than ``count`` asked for; ``itemsPerPage`` says how
    many, and a client pages on from there (Okta's group import does), so every member is still seen.
    A page of ten 20,000-member groups would otherwise be one 16 MB response, built in memory.
    """
    if sizes is None:
        return objs
    kept, used = 0, 0
    for size in sizes:
        if kept and used + size > budget:
            break
        kept, used = kept + 1, used + size
    return objs[:kept]


def list_resources(rt: ResourceType) -> Any:
    # A plain dict of the first values: werkzeug's MultiDict.get raises and catches an exception
    # for every absent key, and a list reads seven that are usually absent.
    args = request.args.to_dict()
    return _list(rt, args, Projection.from_args(args))


def search_resources(rt: ResourceType) -> Any:
    """``POST /{endpoint}/.search`` (RFC 7644 §3.4.3): the same query, in a body."""
    body = read_json_body(_state().config.max_body_bytes)
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or SEARCH_REQUEST_URN not in schemas:
        raise InvalidSyntaxError(f"a search request must list {SEARCH_REQUEST_URN} in schemas")
    params = {k: body.get(k) for k in ("filter", "startIndex", "count", "sortBy", "sortOrder")}
    return _list(rt, params, Projection.from_values(body.get("attributes"), body.get("excludedAttributes")))


def get_resource(rt: ResourceType, resource_id: str) -> Any:
    projection = Projection.from_args(request.args)
    store = _store()
    obj = store.get(rt, resource_id)
    doc = store.documents(rt, [obj], projection.wanted_links(rt.schema), projection.hidden_link_subs(rt.schema))[0]
    _end_read()
    if _etag_matches(request.headers.get("If-None-Match"), doc["meta"]["version"]):
        response = scim_response({}, 304, {"ETag": doc["meta"]["version"]})
        response.set_data(b"")
        return response
    return _respond_one(rt, doc, projection=projection)


def _etag_matches(header: str | None, version: str) -> bool:
    if not header:
        return False
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or version in tags or version.removeprefix("W/") in tags


def _check_if_match(doc: dict[str, Any]) -> None:
    header = request.headers.get("If-Match")
    if header and not _etag_matches(header, doc["meta"]["version"]):
        raise PreconditionFailedError(f"If-Match {header} does not match the current version {doc['meta']['version']}")


def _loader(rt: ResourceType) -> Callable[[Any], Any]:
    """The wire schema's load, compiled (compile_load), kept on the schema: the load refers to its schema,
    so a weak mapping from schemas to their loads would keep every schema alive."""
    wire = _state().wire_schema(rt)
    load: Callable[[Any], Any] | None = wire.__dict__.get("_scim_compiled_load")
    if load is None:
        # Read-only attributes (an entitlement's ``type``) are computed, never sent: not required on input.
        computed = tuple(a.name for a in rt.schema.core.attributes if a.mutability == d.READ_ONLY)
        wire.__dict__["_scim_compiled_load"] = load = compile_load(wire, computed)
    return load


def _load(rt: ResourceType, doc: dict[str, Any]) -> dict[str, Any]:
    """A normalised body through the wire schema's ``load``: RFC 7643 §2.3 types and ``required`` checked,
    undeclared keys dropped.  What it returns is what the store writes; every problem is a 400 naming it."""
    try:
        loaded: dict[str, Any] = _loader(rt)(doc)
    except ValidationError as exc:
        errors = exc.messages if isinstance(exc.messages, dict) else {"": exc.messages}
        missing = [k for k, v in errors.items() if isinstance(v, list) and any("required" in str(m) for m in v)]
        if missing:
            raise InvalidValueError(f"required attribute(s) missing: {', '.join(sorted(missing))}") from None
        raise InvalidValueError(f"invalid attribute value(s): {_flatten(errors)}") from None
    return loaded


def _flatten(errors: Any, prefix: str = "") -> str:
    if isinstance(errors, dict):
        return "; ".join(_flatten(v, f"{prefix}{k}." if not isinstance(k, int) else prefix) for k, v in errors.items())
    if isinstance(errors, list):
        return f"{prefix.rstrip('.')}: {' '.join(str(e) for e in errors)}"
    return f"{prefix.rstrip('.')}: {errors}"


def _strip_read_only(rt: ResourceType, doc: dict[str, Any]) -> dict[str, Any]:
    """PUT and POST ignore read-only attributes (Okta sends ``id``, ``meta``, ``groups: []``: interop.md O4)."""
    read_only = {a.name for a in (*d.COMMON_ATTRIBUTES, *rt.schema.core.attributes) if a.mutability == d.READ_ONLY}
    return {k: v for k, v in doc.items() if k not in read_only}


def create_resource(rt: ResourceType) -> Any:
    _require_writable(rt)
    body = read_json_body(_state().config.max_body_bytes)
    doc = _load(rt, _strip_read_only(rt, normalize_resource(body, rt.schema)))
    store = _store()
    obj, changes = store.create(rt, doc)  # (takes the write lock at its first statement)
    # An answer built from what was written needs no statement: it is built after the commit, so the
    # write lock (SQLite: one writer at a time) is held for the writes alone.  One read back, before.
    from_instance = store.answers_from_instance(rt, obj)
    created = None if from_instance else store.created_document(rt, obj)
    _commit()
    if created is None:
        created = store.created_document(rt, obj)
    _emit_created(rt, created, changes)
    return _respond_one(rt, created, 201)


def replace_resource(rt: ResourceType, resource_id: str) -> Any:
    _require_writable(rt)
    body = read_json_body(_state().config.max_body_bytes)
    doc = _load(rt, _strip_read_only(rt, normalize_resource(body, rt.schema)))
    store = _store()
    store.begin_write()
    obj = store.get(rt, resource_id, for_update=True)
    # Links are not immutable and the version does not depend on them (users' are always read): none loaded.
    current = store.documents(rt, [obj], set())[0]
    _check_if_match(current)
    _check_immutable(rt, current, doc)
    was_active = current.get("active")
    changes = store.replace(rt, obj, doc)
    # RFC 7644 §3.5.1: PUT answers with the resource, subject to "attributes".  A group's members are what
    # the request itself carried, so the answer costs what the request did.
    projection = Projection.from_args(request.args)
    updated = store.documents(rt, [obj], projection.wanted_links(rt.schema))[0]
    _commit()
    _emit_updated(rt, updated, changes, was_active)
    return _respond_one(rt, updated, projection=projection)


def patch_resource(rt: ResourceType, resource_id: str) -> Any:
    """RFC 7644 §3.5.2, planned before anything is read (see :mod:`..patch.links`).

    Operations on link attributes (members, roles, entitlements) run as set operations on the ids they
    name; the rest go through the document engine over the resource without its links.  So a one-member
    change costs the same on an empty group and on a 100,000-member one, request and response included.
    """
    _require_writable(rt)
    state = _state()
    body = read_json_body(state.config.max_body_bytes)
    operations = normalize_patch(body, rt.schema, max_operations=state.config.max_patch_operations,
                                 max_values=state.config.max_patch_values)
    store = _store()
    plan = plan_patch(operations, rt.schema, store.writable_links(rt))
    store.begin_write()
    obj = store.get(rt, resource_id, for_update=True)
    current = store.documents(rt, [obj], set())[0]
    _check_if_match(current)
    result = apply_patch({k: v for k, v in current.items() if k != "meta"}, plan.document_operations, rt.schema)
    doc = _strip_read_only(rt, result.document)
    if result.changed:
        doc = _load(rt, doc)
    was_active = current.get("active")
    changes = Changes()
    if result.changed or plan.link_operations:
        changes = store.replace(rt, obj, doc, touched=set(result.changed), link_operations=plan.link_operations)
    projection = Projection.from_args(request.args)
    no_content = _patch_answers_no_content(rt, projection)
    updated = store.documents(rt, [obj], set() if no_content else projection.wanted_links(rt.schema))[0] \
        if changes else current
    _commit()
    _emit_updated(rt, updated, changes, was_active)
    if no_content:
        response = scim_response({}, 204, {"ETag": updated["meta"]["version"]})
        response.set_data(b"")
        return response
    return _respond_one(rt, updated, projection=projection)


def _patch_answers_no_content(rt: ResourceType, projection: Projection) -> bool:
    """RFC 7644 §3.5.2: 200 with the resource "subject to the attributes query parameter", or 204.

    ``SCIM_PATCH_RESPONSE`` = ``auto`` (the default): a group answers 204, unless the request names
    ``attributes``/``excludedAttributes`` (then 200 with what it asked for), because its whole
    representation grows with its members; Okta and Entra both accept 204 for group PATCH
    (interop.md §1.5, Entra "group PATCH should answer 204").  Other resources answer 200 with the
    resource.  ``resource`` always answers 200 with the resource; ``no-content`` always 204.
    """
    mode = _state().config.patch_response
    if mode == "auto":
        return rt.kind == GROUP_KIND and projection == Projection()
    return mode == "no-content"


def delete_resource(rt: ResourceType, resource_id: str) -> Any:
    _require_writable(rt)
    store = _store()
    store.begin_write()
    obj = store.get(rt, resource_id, for_update=True)
    if request.headers.get("If-Match"):
        _check_if_match(store.documents(rt, [obj], set())[0])
    store.delete(rt, obj)
    _commit()
    tenant = g.scim_principal.tenant
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    signal = {USER_KIND: signals.user_deleted, GROUP_KIND: signals.group_deleted}.get(rt.kind,
                                                                                       signals.resource_deleted)
    signals.send(signal, app, tenant=tenant, id=resource_id, resource_type=rt.name)
    response = current_app.response_class(status=204)
    return response


def _require_writable(rt: ResourceType) -> None:
    if not rt.writable:
        raise NotImplementedScimError(f"{rt.endpoint} is read-only: its values are managed by the application")


def _check_immutable(rt: ResourceType, current: dict[str, Any], doc: dict[str, Any]) -> None:
    """RFC 7643 §2.2: an immutable attribute, once set, cannot change (PUT)."""
    for attr in rt.schema.core.attributes:
        if attr.mutability == d.IMMUTABLE and attr.name in current and attr.name in doc \
                and current[attr.name] != doc[attr.name]:
            raise MutabilityError(f"{attr.name} is immutable")


def _commit() -> None:
    _state().db.session.commit()


def _end_read() -> None:
    """A read ends its transaction as a write does, with a commit, once it has read all it answers with.

    psycopg forgets its prepared statements on every ROLLBACK: a read that rolled back would have
    PostgreSQL plan its statements afresh each time (about 0.4 ms for a user's links).  On SQLite the
    driver began no transaction for a read, and nothing is sent.
    """
    session = _state().db.session()
    if session.in_transaction():
        session.commit()


def _emit_created(rt: ResourceType, doc: dict[str, Any], changes: Changes) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    tenant = g.scim_principal.tenant
    added = changes.ids(changes.added)
    if rt.kind == USER_KIND:
        signals.send(signals.user_created, app, tenant=tenant, id=doc["id"], resource=doc)
        if added:
            signals.send(signals.user_grants_changed, app, tenant=tenant, id=doc["id"], granted=added, revoked={})
        _emit_dropped(doc, changes)
    elif rt.kind == GROUP_KIND:
        signals.send(signals.group_created, app, tenant=tenant, id=doc["id"], resource=doc)
        if added.get("members"):
            signals.send(signals.group_members_changed, app, tenant=tenant, id=doc["id"], added=added["members"],
                         removed=[])
    else:
        signals.send(signals.resource_created, app, tenant=tenant, id=doc["id"], resource_type=rt.name,
                     resource=doc)


def _emit_dropped(doc: dict[str, Any], changes: Changes) -> None:
    if any(changes.dropped.values()):
        signals.send(signals.user_grants_dropped, current_app._get_current_object(),  # type: ignore[attr-defined]
                     tenant=g.scim_principal.tenant, id=doc["id"], dropped=dict(changes.dropped))


def _emit_updated(rt: ResourceType, doc: dict[str, Any], changes: Changes, was_active: Any) -> None:
    """One signal per committed change, with exactly what changed; none when nothing did."""
    if not changes:
        if rt.kind == USER_KIND:
            _emit_dropped(doc, changes)  # a PUT that only named deleted values changed nothing else
        return
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    tenant = g.scim_principal.tenant
    added, removed = changes.ids(changes.added), changes.ids(changes.removed)
    attributes = sorted(changes.attributes | set(added) | set(removed))
    if rt.kind == USER_KIND:
        signals.send(signals.user_updated, app, tenant=tenant, id=doc["id"], resource=doc, attributes=attributes)
        now_active = doc.get("active")
        if "active" in changes.attributes and bool(was_active) != bool(now_active):
            signal = signals.user_reactivated if now_active else signals.user_deactivated
            signals.send(signal, app, tenant=tenant, id=doc["id"], resource=doc)
        if added or removed:
            signals.send(signals.user_grants_changed, app, tenant=tenant, id=doc["id"], granted=added,
                         revoked=removed)
        _emit_dropped(doc, changes)
    elif rt.kind == GROUP_KIND:
        # ``resource`` carries the group's members only when the response does (see _patch_answers_no_content).
        signals.send(signals.group_updated, app, tenant=tenant, id=doc["id"], resource=doc, attributes=attributes)
        if added.get("members") or removed.get("members"):
            signals.send(signals.group_members_changed, app, tenant=tenant, id=doc["id"],
                         added=added.get("members", []), removed=removed.get("members", []))
    else:
        signals.send(signals.resource_updated, app, tenant=tenant, id=doc["id"], resource_type=rt.name,
                     resource=doc, attributes=attributes)
