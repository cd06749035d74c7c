"""A filter's SQL as a plan: its shape and its values apart, so one shape is built once.

The compiler (:mod:`.compiler`) writes its conditions with the names below instead of
SQLAlchemy's (``plan.and_``, ``plan.func.lower``, a column wrapped by :func:`col`,
``==``, ``.like``...).  What it builds is a small tree of :class:`Expr`, cheap to make.
:func:`shape` splits a tree into a hashable key, in which every literal value is a
numbered slot, and the list of the values; :func:`to_sql` turns a tree into the
SQLAlchemy expression, either with the values bound in it (``inline``) or with named
bind parameters (``scim_f0``, ``scim_f1``...) to be given at execution.

Two filters of the same shape (``userName eq "a"`` and ``userName eq "b"``) have the same key,
so the store builds and compiles their statement once and executes it with each one's values:
per request, only the compiler's own decisions run, not SQLAlchemy's expression building and
cache-key generation.  Every decision the compiler takes from a value (a constant match, an
id that does not parse, a date-time on a whole second) changes the tree, so it changes the key.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa


class Expr:
    """A node: an operator and its operands (nodes, or plain constants of the shape: names, types)."""

    __slots__ = ("op", "args")

    def __init__(self, op: str, *args: Any) -> None:
        self.op = op
        self.args = args

    # The operators the compiler applies to columns; each makes a node (none compares nodes).
    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return Expr("==", self, _operand(other))

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return Expr("!=", self, _operand(other))

    def __gt__(self, other: Any) -> Expr:
        return Expr(">", self, _operand(other))

    def __ge__(self, other: Any) -> Expr:
        return Expr(">=", self, _operand(other))

    def __lt__(self, other: Any) -> Expr:
        return Expr("<", self, _operand(other))

    def __le__(self, other: Any) -> Expr:
        return Expr("<=", self, _operand(other))

    __hash__ = None  # type: ignore[assignment]  # a node is not a key: shape() makes its key

    def is_not(self, _none: None) -> Expr:
        return Expr("is_not_null", self)

    def like(self, pattern: Any, escape: str) -> Expr:
        return Expr("like", self, _operand(pattern), escape)

    def collate(self, collation: str) -> Expr:
        return Expr("collate", self, collation)

    def desc(self) -> Expr:
        return Expr("desc", self)

    def asc(self) -> Expr:
        return Expr("asc", self)


class Param(Expr):
    """A literal value: a slot of the shape, its value given apart (or bound inline)."""

    __slots__ = ("value", "type")

    def __init__(self, value: Any, type_: Any = None) -> None:
        super().__init__("param")
        self.value = value
        self.type = type_


class Col(Expr):
    """A SQLAlchemy element the plan uses as it is (a column, a join): part of the shape by identity.

    The elements come from the registry's mappings and live as long as they do, so their ids
    stay theirs while a key holding them is in use.
    """

    __slots__ = ("element",)

    def __init__(self, element: Any) -> None:
        super().__init__("col")
        self.element = element


TRUE = Expr("true")
FALSE = Expr("false")


def col(element: Any) -> Expr:
    return element if isinstance(element, Expr) else Col(element)


def _operand(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    if isinstance(value, (sa.ClauseElement, sa.orm.InstrumentedAttribute)):
        return Col(value)
    return Param(value)


def literal(value: Any, type_: Any) -> Param:
    return Param(value, type_)


def and_(*clauses: Expr) -> Expr:
    return Expr("and", *clauses)


def or_(*clauses: Expr) -> Expr:
    return Expr("or", *clauses)


def not_(clause: Expr) -> Expr:
    return Expr("not", clause)


def cast(value: Any, type_: Any) -> Expr:
    return Expr("cast", _operand(value), type_)


def exists(select_from: Any, *where: Expr) -> Expr:
    return Expr("exists", Col(select_from), *where)


class _Functions:
    """``plan.func.lower(x)``, as ``sa.func.lower(x)``."""

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any) -> Expr:
            return Expr("func", name, *(_operand(a) for a in args))

        return call


func = _Functions()


def shape(node: Expr) -> tuple[Any, list[Any]]:
    """(key, values): the key names every value by its position in ``values``."""
    values: list[Any] = []

    def walk(n: Any) -> Any:
        kind = type(n)
        if kind is Param:
            values.append(n.value)
            return ("param", len(values) - 1, n.type)
        if kind is Col:
            return ("col", id(n.element))
        if kind is Expr:
            return (n.op, *[walk(a) for a in n.args])
        return n

    return walk(node), values


def param_name(index: int) -> str:
    return f"scim_f{index}"


def to_sql(node: Expr, *, inline: bool) -> Any:
    """The SQLAlchemy expression of ``node``; its values bound in it, or as ``scim_f{n}`` parameters
    numbered as :func:`shape` numbers them."""
    counter = [0]

    def value(p: Param) -> Any:
        index = counter[0]
        counter[0] += 1
        if inline:
            return p.value if p.type is None else sa.literal(p.value, type_=p.type)
        # Untyped, a parameter takes the type of what it is compared with, as a plain value does.
        return sa.bindparam(param_name(index), type_=p.type)

    def build(n: Any) -> Any:
        if isinstance(n, Param):
            return value(n)
        if isinstance(n, Col):
            return n.element
        if not isinstance(n, Expr):
            return n
        op, args = n.op, n.args
        if op == "true":
            return sa.true()
        if op == "false":
            return sa.false()
        if op == "and":
            return sa.and_(*(build(a) for a in args))
        if op == "or":
            return sa.or_(*(build(a) for a in args))
        if op == "not":
            return sa.not_(build(args[0]))
        if op == "is_not_null":
            return build(args[0]).is_not(None)
        if op == "like":
            return build(args[0]).like(build(args[1]), escape=args[2])
        if op == "collate":
            return build(args[0]).collate(args[1])
        if op == "cast":
            return sa.cast(build(args[0]), args[1])
        if op == "func":
            return getattr(sa.func, args[0])(*(build(a) for a in args[1:]))
        if op == "exists":
            return sa.exists().select_from(build(args[0])).where(*(build(a) for a in args[1:]))
        if op == "desc":
            return build(args[0]).desc()
        if op == "asc":
            return build(args[0]).asc()
        left, right = build(args[0]), build(args[1])
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        if op == ">":
            return left > right
        if op == ">=":
            return left >= right
        if op == "<":
            return left < right
        if op == "<=":
            return left <= right
        raise ValueError(f"unknown plan operator {op!r}")

    return build(node)
