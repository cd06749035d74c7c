"""Compile a filter AST into a SQLAlchemy expression against a resource type's mapping.

The semantics are those of :mod:`.evaluate` (the in-memory oracle the tests
compare against), made NULL-safe: every comparison is guarded so that it is
TRUE or FALSE, never NULL, which lets ``not`` and ``ne`` (= ``not eq``) keep
their meaning over absent values.

- Single-valued attributes compile to conditions on the resource's row.
- Multi-valued attributes compile to ``EXISTS`` subqueries: over the child
  table of a :class:`~..mapping.MultiValued`, or over the association table of
  a many-to-many link (``members``, ``groups``, ``roles``, ``entitlements``).
- Values are always bound parameters; ``LIKE`` wildcards in them are escaped.
- An attribute the mapping does not know (or cannot query) is a 400
  ``invalidFilter``; no clause is ever dropped, so a result is never widened.

Case rules come from the attribute definitions (``caseExact``): case-insensitive
comparisons lower both sides.  SQLite's ``LIKE`` ignores ASCII case, so
case-exact substring operators use ``instr``/``substr`` there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..errors import InvalidFilterError
from ..mapping import Attr, MultiValued
from ..schemas import definitions as d
from . import ast, plan
from .lexer import decode_number

if TYPE_CHECKING:
    from ..resource_types import Link, Registry, ResourceType

_TRUE = plan.TRUE
_FALSE = plan.FALSE


@dataclass(frozen=True)
class _Const:
    """A sub-attribute whose value is the same for every element (``members.type`` is "User")."""

    value: Any


@dataclass(frozen=True)
class _Source:
    """Where the elements of a multi-valued attribute live, for ``EXISTS``."""

    select_from: Any
    correlate: Any  # condition tying an element row to the outer resource row
    columns: dict[str, Any]  # sub-attribute name -> SQL expression or _Const
    value_is_id: Any = None  # the BoundMapping whose ids the ``value`` sub-attribute holds


@dataclass(frozen=True)
class _OutOfRange:
    """A date-time before (``sign`` -1) or after (+1) every value a column holds (years 1 to 9999)."""

    sign: int


def _instant(text: str) -> datetime | _OutOfRange:
    """``text`` as a naive UTC datetime; an instant that UTC puts outside years 1-9999 is :class:`_OutOfRange`."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InvalidFilterError(f"{text!r} is not an ISO 8601 date-time") from None
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC).replace(tzinfo=None)
        except OverflowError:  # "0001-01-01T00:00:00+01:00" is in year 0, "9999-12-31T23:00:00-02:00" in 10000
            return _OutOfRange(-1 if value.year == 1 else 1)
    return value


def parse_datetime(text: str) -> datetime:
    value = _instant(text)
    if isinstance(value, _OutOfRange):
        raise InvalidFilterError(f"{text!r} is outside the years 1 to 9999 once converted to UTC")
    return value


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


#: Most filter templates (a filter with its strings taken out) whose plans a registry keeps.
PLAN_TEMPLATES = 512

#: Attribute types whose ``eq`` compares the string as given (case folding is SQL's ``lower()``).
_TEXT_TYPES = (d.STRING, d.REFERENCE, d.BINARY)

#: Stands for a string literal in a filter's template.
_HOLE: Any = object()


class _Slot(str):
    """A string literal of the filter being compiled, marked with its position among the filter's strings.

    Any string operation on it returns a plain ``str``: a value of the plan that is still a ``_Slot``
    is the literal itself, handed through untouched."""

    position: int


class _NotTemplated(Exception):
    """A literal other than a string or null: the filter is compiled afresh."""


def _each_comparison(f: ast.Filter, leaf: Callable[[ast.Compare], ast.Filter]) -> ast.Filter:
    """``f`` with each comparison replaced by ``leaf(comparison)``, in the order the parser reads them."""
    if isinstance(f, ast.Compare):
        return leaf(f)
    if isinstance(f, (ast.And, ast.Or)):
        return type(f)(_each_comparison(f.left, leaf), _each_comparison(f.right, leaf))
    if isinstance(f, ast.Not):
        return ast.Not(_each_comparison(f.expr, leaf))
    if isinstance(f, ast.ValuePath):
        return ast.ValuePath(f.path, _each_comparison(f.filter, leaf))
    return f


def _template(f: ast.Filter, literals: list[str]) -> ast.Filter:
    """``f`` with each string literal replaced by :data:`_HOLE`, the strings appended to ``literals``."""
    def hole(c: ast.Compare) -> ast.Filter:
        if isinstance(c.value, str):
            literals.append(c.value)
            return ast.Compare(c.path, c.op, _HOLE)
        if c.value is None:
            return c
        raise _NotTemplated

    return _each_comparison(f, hole)


def _marked(f: ast.Filter) -> ast.Filter:
    """``f`` with each string literal a :class:`_Slot` numbered as :func:`_template` lists them."""
    positions = count()

    def mark(c: ast.Compare) -> ast.Filter:
        if not isinstance(c.value, str):
            return c
        slot = _Slot(c.value)
        slot.position = next(positions)
        return ast.Compare(c.path, c.op, slot)

    return _each_comparison(f, mark)


def _holds_slot(key: Any) -> bool:
    if type(key) is _Slot:
        return True
    return isinstance(key, tuple) and any(_holds_slot(part) for part in key)


class FilterCompiler:
    def __init__(self, registry: Registry, rt: ResourceType, dialect: str) -> None:
        self.registry = registry
        self.rt = rt
        self.mapping = rt.mapping
        self.dialect = dialect
        #: Set when a comparison decided something from a string literal, or converted it (see _compare).
        self.reads_literals = False

    # -- entry point --------------------------------------------------------
    def compile(self, f: ast.Filter) -> sa.ColumnElement[bool]:
        """The SQLAlchemy condition of ``f``, its values bound in it."""
        return plan.to_sql(self._compile(f, None), inline=True)

    def to_plan(self, f: ast.Filter) -> plan.Expr:
        """The condition of ``f`` as a plan (:mod:`.plan`): a key per shape, the values apart."""
        return self._compile(f, None)

    def shaped(self, f: ast.Filter) -> tuple[Any, list[Any]]:
        """``plan.shape(self.to_plan(f))``, without compiling when a filter of the same template came before.

        The template is the filter with its strings taken out.  When compiling it took no decision
        from a string and handed each one to the plan untouched (Okta's ``userName eq "..."``), its key
        and values hold for every filter of that template, each string going where its slot went.
        Otherwise (``id eq``, ``co``, a date-time...) each filter is compiled afresh.
        """
        literals: list[str] = []
        try:
            template = _template(f, literals)
        except _NotTemplated:
            return plan.shape(self._compile(f, None))
        memo: dict[Any, Any] = self.registry.__dict__.setdefault("_filter_templates", {})
        key = (self.rt.name, self.dialect, template)
        found = memo.get(key)
        if found is None:
            self.reads_literals = False
            shape, values = plan.shape(self._compile(_marked(f), None))
            # (position of the string, None) where a slot went, (None, the value) for the plan's own values.
            found = (shape, [(v.position, None) if type(v) is _Slot else (None, v) for v in values])
            if not (self.reads_literals or _holds_slot(shape)):
                if len(memo) >= PLAN_TEMPLATES:
                    memo.clear()
                memo[key] = found
        shape, slots = found
        return shape, [literals[i] if i is not None else value for i, value in slots]

    def link_elements(self, link: Link, f: ast.Filter) -> tuple[Any, sa.ColumnElement[bool]]:
        """(FROM clause, condition) of the association rows of ``link`` whose element matches value filter ``f``.

        The PATCH path ``members[value co "x"]`` selects elements the same way the filter
        ``members[value co "x"]`` selects groups: one compiler for both, so they cannot disagree.
        """
        resolved = self._resolve(ast.AttrPath(link.attribute))
        source = self._assoc_source(link)
        return source.select_from, plan.to_sql(self._compile(f, (resolved.attribute, source)), inline=True)

    def _compile(self, f: ast.Filter, element: tuple[d.Attribute, _Source] | None) -> plan.Expr:
        if isinstance(f, ast.And):
            return plan.and_(self._compile(f.left, element), self._compile(f.right, element))
        if isinstance(f, ast.Or):
            return plan.or_(self._compile(f.left, element), self._compile(f.right, element))
        if isinstance(f, ast.Not):
            return plan.not_(self._compile(f.expr, element))
        if isinstance(f, ast.ValuePath):
            if element is not None:
                raise InvalidFilterError("value filters cannot be nested")
            resolved = self._resolve(f.path)
            attribute = resolved.attribute
            if not attribute.is_complex:
                raise InvalidFilterError(f"{f.path} is not a complex attribute: it takes no [filter]")
            if not attribute.multi_valued:
                # A single complex value (``name[givenName eq "x"]``) lives on the resource's row: its
                # value filter means the same filter with each path qualified (``name.givenName eq "x"``),
                # and the value must exist: ``name[not (givenName pr)]`` is false for a user with no name.
                exists = self._compile(ast.Present(ast.AttrPath(f.path.attr, None, f.path.urn)), None)
                return plan.and_(exists, self._compile(_qualify(f.filter, f.path), None))
            return self._exists(resolved, lambda source: self._compile(f.filter, (attribute, source)))
        if isinstance(f, ast.Present):
            if element is None and f.path.sub_attr is None:
                whole = self._present_complex(f.path)
                if whole is not None:
                    return whole
            return self._leaf(f.path, element, lambda expr, attr: self._present(expr, attr))
        if isinstance(f, ast.Compare):
            if f.value is None:
                if f.op == "eq":
                    return plan.not_(self._compile(ast.Present(f.path), element))
                if f.op == "ne":
                    return self._compile(ast.Present(f.path), element)
                raise InvalidFilterError(f"{f.path} {f.op} null: only eq and ne compare with null")
            if f.op == "ne":
                return plan.not_(self._compile(ast.Compare(f.path, "eq", f.value), element))
            return self._leaf(f.path, element, lambda expr, attr: self._compare(expr, attr, f.op, f.value, f.path))
        raise InvalidFilterError(f"unsupported filter node {type(f).__name__}")

    def _present_complex(self, path: ast.AttrPath) -> plan.Expr | None:
        """``name pr`` for a single-valued complex attribute without ``value``, else None.

        RFC 7644 §3.4.2.2 (and the evaluator): such a value is present when one of its
        sub-attributes is.  A sub-attribute that cannot be queried makes the whole test an
        error, unless another one is constantly present (``meta.resourceType``) and decides it.
        """
        resolved = self._resolve(path)
        attribute = resolved.attribute
        if not attribute.is_complex or attribute.multi_valued or attribute.sub("value") is not None:
            return None
        clauses, error = [], None
        for sub in attribute.sub_attributes:
            if sub.returned == d.NEVER:
                continue
            try:
                clause = self._compile(ast.Present(ast.AttrPath(path.attr, sub.name, path.urn)), None)
            except InvalidFilterError as exc:
                error = exc
                continue
            if clause is _TRUE:
                return _TRUE
            clauses.append(clause)
        if error is not None:
            raise error
        return plan.or_(*clauses) if clauses else _FALSE

    # -- attribute resolution ----------------------------------------------
    def _resolve(self, path: ast.AttrPath) -> d.ResolvedPath:
        resolved = self.rt.schema.resolve(path.urn, path.attr, path.sub_attr)
        if resolved is None and path.attr.lower() == "schemas" and path.sub_attr is None and path.urn is None:
            return d.ResolvedPath(self.rt.schema.core.id, d.Attribute("schemas", multi_valued=True))
        if resolved is None:
            raise InvalidFilterError(f"unknown attribute {path} for resource type {self.rt.name}")
        if resolved.target.returned == d.NEVER or resolved.target.mutability == d.WRITE_ONLY:
            raise InvalidFilterError(f"{path} cannot be filtered on")
        return resolved

    def _leaf(self, path: ast.AttrPath, element: tuple[d.Attribute, _Source] | None,
              build: Callable[[Any, d.Attribute], plan.Expr]) -> plan.Expr:
        if element is not None:
            # Inside a value filter: the path names a sub-attribute of the element.
            attribute, source = element
            if path.urn is not None or path.sub_attr is not None:
                raise InvalidFilterError(f"{path}: inside [...] name a sub-attribute of {attribute.name}")
            sub = attribute.sub(path.attr)
            if sub is None:
                raise InvalidFilterError(f"{attribute.name} has no sub-attribute {path.attr!r}")
            return self._on_element(source, sub, build)
        resolved = self._resolve(path)
        attribute = resolved.attribute
        if attribute.name == "schemas" and resolved.schema == self.rt.schema.core.id and not attribute.sub_attributes:
            return self._schemas(build, attribute)
        if attribute.multi_valued or (attribute.is_complex and resolved.sub_attribute is None):
            sub = resolved.sub_attribute
            if sub is None:
                if not attribute.is_complex:
                    raise InvalidFilterError(f"{path} cannot be filtered on")
                sub = attribute.sub("value")
                if sub is None:
                    raise InvalidFilterError(f"{path} is complex: name a sub-attribute")
            if not attribute.multi_valued:
                return self._on_row(d.ResolvedPath(resolved.schema, attribute, sub, resolved.is_extension), build)
            chosen = sub
            return self._exists(resolved, lambda source: self._on_element(source, chosen, build))
        return self._on_row(resolved, build)

    def _schemas(self, build: Callable[[Any, d.Attribute], Any], attribute: d.Attribute) -> Any:
        """``schemas`` as documents list it (store.documents): the core schema always, an extension when
        the resource holds a value of it.  A host's extension makes the difference (RFC 7643 §3)."""
        clauses = [build(_Const([self.rt.schema.core.id]), attribute)]
        for ext in self.rt.schema.extensions:
            hit = build(_Const([ext.id]), attribute)
            if hit is _FALSE:
                continue
            held = [self._compile(ast.Present(ast.AttrPath(a.name, None, ext.id)), None)
                    for a in ext.attributes if a.returned != d.NEVER]
            clauses.append(plan.and_(plan.or_(*held) if held else _FALSE, hit))
        return plan.or_(*clauses)

    def _on_row(self, resolved: d.ResolvedPath, build: Callable[[Any, d.Attribute], Any]) -> Any:
        name = resolved.attribute.name
        target_attr = resolved.target
        if not resolved.is_extension and resolved.sub_attribute is None:
            if name == "id":
                return build(("id", self.mapping.id), target_attr)
            if name == "meta":
                raise InvalidFilterError("meta is complex: name a sub-attribute")
        if not resolved.is_extension and name == "meta":
            sub = resolved.sub_attribute.name  # type: ignore[union-attr]
            column = {"created": self.mapping.created, "lastModified": self.mapping.last_modified}.get(sub)
            if sub == "resourceType":
                return build(_Const(self.rt.name), target_attr)
            if column is None:
                raise InvalidFilterError(f"meta.{sub} cannot be filtered on here")
            return build(column, target_attr)
        if self.rt.is_entitlement and name == "type" and not resolved.is_extension:
            return build(_Const(self.rt.name), target_attr)
        target = self.mapping.target(resolved)
        if isinstance(target, Attr):
            target = target.column
        if target is None or isinstance(target, MultiValued):
            raise InvalidFilterError(f"{resolved.attribute.name} cannot be filtered on")
        return build(target, target_attr)

    def _on_element(self, source: _Source, sub: d.Attribute, build: Callable[[Any, d.Attribute], Any]) -> Any:
        column = source.columns.get(sub.name)
        if column is None:
            raise InvalidFilterError(f"sub-attribute {sub.name!r} cannot be filtered on")
        if sub.name == "value" and source.value_is_id is not None and not isinstance(column, _Const):
            return build(("id", column, source.value_is_id), sub)
        return build(column, sub)

    # -- multi-valued sources ----------------------------------------------
    def _memo(self, key: Any, build: Callable[[], Any]) -> Any:
        """Built once per registry: a plan names its SQL elements (joins, correlations) by identity,
        so the same source must be the same objects on every request for its shape to recur."""
        memo: dict[Any, Any] = self.registry.__dict__.setdefault("_filter_sources", {})
        found = memo.get(key)
        if found is None:
            memo[key] = found = build()
        return found

    def _sources(self, resolved: d.ResolvedPath) -> list[_Source]:
        key = ("sources", self.rt.name, resolved.schema, resolved.attribute.name, resolved.is_extension)
        return self._memo(key, lambda: self._build_sources(resolved))  # type: ignore[no-any-return]

    def _build_sources(self, resolved: d.ResolvedPath) -> list[_Source]:
        attribute = resolved.attribute
        if not resolved.is_extension:
            links = [link for link in self.registry.links(self.rt) if link.attribute == attribute.name]
            if links:
                return [self._assoc_source(link) for link in links]
        # The mapping keys a multi-valued attribute by the attribute itself, so look it up without the
        # sub-attribute of the path: ``emails.type eq "work"`` reads the same source as ``emails[...]``.
        target = self.mapping.target(d.ResolvedPath(resolved.schema, attribute, None, resolved.is_extension))
        if isinstance(target, MultiValued):
            child = target.child_model
            correlate = sa.and_(*(remote == local for local, remote in target.parent_columns))
            return [_Source(child, correlate, dict(target.columns))]
        if target is not None and not isinstance(target, Attr):
            # A single column standing for a one-element list (e.g. ``"emails": User.email``).
            # The list (and so its constant "type"/"primary") exists only when the column holds a value:
            # the store renders NULL or "" as no emails at all, so guard every element condition with it.
            present = sa.and_(target.is_not(None), target != "")
            return [_Source(None, present, {"value": target, "type": _Const("work"), "primary": _Const(True)})]
        raise InvalidFilterError(f"{attribute.name} cannot be filtered on")

    def _assoc_source(self, link: Link) -> _Source:
        """The elements of a linked attribute (members, groups, roles, entitlements): association rows."""
        return self._memo(("link", self.rt.name, link.attribute, id(link)),  # type: ignore[no-any-return]
                          lambda: self._build_assoc_source(link))

    def _build_assoc_source(self, link: Link) -> _Source:
        assoc, target_mapping, owner_id = link.association, link.target, self.mapping.id
        display = target_mapping.display_column()
        extra = {sub: _Const(value) for sub, value in link.constants.items()}
        target_model = target_mapping.model
        select_from = assoc.table.join(target_model, assoc.target_key == assoc.target_id)
        columns = {"value": target_mapping.id, "display": _Const(None) if display is None else display, **extra}
        return _Source(select_from, assoc.owner_key == owner_id, columns, value_is_id=target_mapping)

    def _exists(self, resolved: d.ResolvedPath, build: Callable[[_Source], Any]) -> plan.Expr:
        clauses = []
        for source in self._sources(resolved):
            condition = build(source)
            if source.select_from is None:  # a column on the resource's own row; correlate = "it is present"
                clauses.append(plan.and_(plan.col(source.correlate), condition))
            else:
                clauses.append(plan.exists(source.select_from, plan.col(source.correlate), condition))
        return plan.or_(*clauses) if clauses else _FALSE

    # -- leaves --------------------------------------------------------------
    def _present(self, expr: Any, attribute: d.Attribute) -> plan.Expr:
        if isinstance(expr, tuple):  # ("id", column[, mapping])
            return plan.col(expr[1]).is_not(None)
        if isinstance(expr, _Const):
            value = expr.value
            return _TRUE if value not in (None, "", [], {}) else _FALSE
        expr = plan.col(expr)
        if attribute.type in (d.STRING, d.REFERENCE, d.BINARY):
            return plan.and_(expr.is_not(None), expr != "")
        return expr.is_not(None)

    def _compare(self, expr: Any, attribute: d.Attribute, op: str, value: Any, path: ast.AttrPath) -> Any:
        # Every string literal of a filter reaches the plan through here.  Only a text column's ``eq`` hands
        # it on untouched and decides nothing from it; anything else makes the plan this string's alone.
        if isinstance(value, str) and not (op == "eq" and attribute.type in _TEXT_TYPES
                                           and not isinstance(expr, (_Const, tuple))):
            self.reads_literals = True
        literal = self._coerce(attribute, op, value, path)
        if isinstance(expr, _Const):
            return self._compare_const(expr.value, attribute, op, literal)
        if isinstance(expr, tuple):
            column, mapping = plan.col(expr[1]), (expr[2] if len(expr) > 2 else self.mapping)
            if not isinstance(literal, str):
                raise InvalidFilterError(f"{path}: ids are strings")
            if op != "eq":
                # Ids are case-exact strings (RFC 7643 §3.1): co/sw/ew and gt/ge/lt/le compare their text
                # form by code point, as the evaluator does, rather than the column's native order.
                text = plan.cast(column, sa.String)
                return plan.and_(column.is_not(None), self._string_op(text, op, literal, case_exact=True))
            parsed = mapping.parse_id(literal)
            return _FALSE if parsed is None else plan.and_(column.is_not(None), column == parsed)
        expr = plan.col(expr)
        guard = expr.is_not(None)
        if attribute.type in (d.STRING, d.REFERENCE, d.BINARY):
            # "" is absent (as in _present): it matches no comparison, not even "le" or "co".
            guard = plan.and_(guard, expr != "")
            return plan.and_(guard, self._string_op(expr, op, literal, case_exact=attribute.case_exact))
        if attribute.type == d.BOOLEAN:
            return plan.and_(guard, expr == literal)
        if attribute.type == d.DATETIME:
            if isinstance(literal, _OutOfRange):
                # RFC 7643 §2.3.5 (xsd:dateTime) has no last year; every stored value is on one side of it.
                below = literal.sign < 0
                holds = {"eq": False, "gt": below, "ge": below, "lt": not below, "le": not below}[op]
                return guard if holds else _FALSE
            # Documents show date-times to the second (store._iso): compare what clients see, so that
            # ``meta.lastModified eq "<the value read>"`` matches and ``gt`` it skips the resource itself.
            floor = literal.replace(microsecond=0)
            # The second after 9999-12-31T23:59:59 is past every stored value (None).
            after = floor + timedelta(seconds=1) if floor < datetime.max.replace(microsecond=0) else None
            ceiling = floor if literal == floor else after

            def at_or_after(t: datetime | None) -> Any:
                return _FALSE if t is None else expr >= t

            def before(t: datetime | None) -> Any:
                return _TRUE if t is None else expr < t

            exact = plan.and_(expr >= floor, before(after)) if literal == floor else _FALSE
            comparison = {"eq": exact, "gt": at_or_after(after), "ge": at_or_after(ceiling),
                          "lt": before(ceiling), "le": before(after)}
            return plan.and_(guard, comparison[op])
        comparison = {"eq": expr == literal, "gt": expr > literal, "ge": expr >= literal,
                      "lt": expr < literal, "le": expr <= literal}
        return plan.and_(guard, comparison[op])

    def _string_op(self, expr: Any, op: str, literal: str, *, case_exact: bool) -> Any:
        if not case_exact:
            # Fold with SQL's lower() on both sides, like a host's index on lower(column) does
            # (on SQLite, lower() folds ASCII only: the README says so).
            expr = plan.func.lower(expr)
            if op == "eq":
                return expr == plan.func.lower(plan.literal(literal, sa.String))
            literal = literal.lower()
        if op == "eq":
            # No COLLATE here: equality is the same under any deterministic collation, and a COLLATE
            # would keep PostgreSQL from using an index on lower(user_name) (a full scan per Okta lookup).
            return expr == literal
        if op in ("gt", "ge", "lt", "le"):
            if self.dialect == "postgresql":
                expr = expr.collate("C")  # code-point order, as Python compares strings
            return {"gt": expr > literal, "ge": expr >= literal, "lt": expr < literal, "le": expr <= literal}[op]
        if self.dialect == "sqlite" and case_exact:
            # SQLite's LIKE ignores ASCII case: compare exactly with instr/substr instead.
            n = len(literal)
            if op == "co":
                return plan.func.instr(expr, literal) > 0
            if op == "sw":
                return plan.func.substr(expr, 1, n) == literal
            return plan.and_(plan.func.length(expr) >= n, plan.func.substr(expr, -n, n) == literal) if n else _TRUE
        pattern = {"co": "%{}%", "sw": "{}%", "ew": "%{}"}[op].format(_escape_like(literal))
        return expr.like(pattern, escape="\\")

    def _compare_const(self, value: Any, attribute: d.Attribute, op: str, literal: Any) -> Any:
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item in (None, ""):
                continue
            if isinstance(item, str) and isinstance(literal, str):
                a, b = (item, literal) if attribute.case_exact else (item.lower(), literal.lower())
                hit = {"eq": a == b, "co": b in a, "sw": a.startswith(b), "ew": a.endswith(b),
                       "gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op]
            else:
                hit = op == "eq" and item == literal
            if hit:
                return _TRUE
        return _FALSE

    def _coerce(self, attribute: d.Attribute, op: str, value: Any, path: ast.AttrPath) -> Any:
        kind = attribute.type
        if kind == d.COMPLEX:
            raise InvalidFilterError(f"{path} is complex: compare one of its sub-attributes")
        if kind == d.BOOLEAN:
            if op != "eq":
                raise InvalidFilterError(f"{path} is a boolean: use eq, ne or pr, not {op}")
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"  # Entra sends "True" (interop.md §6 E2)
            if not isinstance(value, bool):
                raise InvalidFilterError(f"{path} is a boolean, {value!r} is not")
            return value
        if isinstance(value, bool):
            raise InvalidFilterError(f"{path} is not a boolean")
        if kind in (d.INTEGER, d.DECIMAL):
            if op in ("co", "sw", "ew"):
                raise InvalidFilterError(f"{path} is a number: {op} does not apply")
            number = decode_number(value) if isinstance(value, str) else value
            if not isinstance(number, (int, float)):
                raise InvalidFilterError(f"{path} is a number, {value!r} is not")
            # RFC 7643 §2.3.4 integers have no bound; a column's does: past 64 bits no database compares.
            if isinstance(number, int) and not -(2**63) <= number < 2**63:
                raise InvalidFilterError(f"{path}: {value} is out of range")
            return float(number) if kind == d.DECIMAL else number
        if kind == d.DATETIME:
            if op in ("co", "sw", "ew"):
                raise InvalidFilterError(f"{path} is a date-time: {op} does not apply")
            if not isinstance(value, str):
                raise InvalidFilterError(f"{path} is a date-time, {value!r} is not")
            return _instant(value)
        if isinstance(value, (int, float)):
            return str(value)  # Okta sends numeric ids for string attributes (interop.md §6 O11)
        return value


def _qualify(f: ast.Filter, parent: ast.AttrPath) -> ast.Filter:
    """The value filter ``f`` of ``parent[...]`` with its paths rewritten to ``parent.sub``."""
    if isinstance(f, (ast.And, ast.Or)):
        return type(f)(_qualify(f.left, parent), _qualify(f.right, parent))
    if isinstance(f, ast.Not):
        return ast.Not(_qualify(f.expr, parent))
    if isinstance(f, ast.ValuePath):
        raise InvalidFilterError("value filters cannot be nested")
    if f.path.urn is not None or f.path.sub_attr is not None:
        raise InvalidFilterError(f"{f.path}: inside [...] name a sub-attribute of {parent.attr}")
    path = ast.AttrPath(parent.attr, f.path.attr, parent.urn)
    return ast.Present(path) if isinstance(f, ast.Present) else ast.Compare(path, f.op, f.value)
