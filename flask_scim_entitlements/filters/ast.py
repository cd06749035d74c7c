"""The typed, frozen AST of RFC 7644 §3.4.2.2 filters and of PATCH paths (§3.5.2).

The parser produces these nodes; two independent back ends consume them: the
SQLAlchemy compiler (``compiler.py``) and the in-memory evaluator
(``evaluate.py``), which the PATCH engine uses to match value-path filters and
the test-suite uses as an oracle for the compiler.

Nothing here imports Flask or SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass

# Comparison operators of RFC 7644 §3.4.2.2, lower-cased.
COMPARISON_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})

#: A filter literal: a JSON string, true/false, null, or a JSON number.  Date-times
#: arrive as strings (the grammar has no date literal) and are interpreted by the
#: back ends according to the attribute's type.
Literal = str | bool | int | float | None


@dataclass(frozen=True)
class AttrPath:
    """``[URN ":"] attrName ["." subAttr]``, names kept as written (compare case-insensitively)."""

    attr: str
    sub_attr: str | None = None
    urn: str | None = None

    def __str__(self) -> str:
        text = self.attr if self.sub_attr is None else f"{self.attr}.{self.sub_attr}"
        return text if self.urn is None else f"{self.urn}:{text}"


@dataclass(frozen=True)
class Compare:
    """``attrPath compareOp compValue``."""

    path: AttrPath
    op: str  # one of COMPARISON_OPERATORS, lower-cased
    value: Literal


@dataclass(frozen=True)
class Present:
    """``attrPath pr``."""

    path: AttrPath


@dataclass(frozen=True)
class And:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Or:
    left: Filter
    right: Filter


@dataclass(frozen=True)
class Not:
    expr: Filter


@dataclass(frozen=True)
class ValuePath:
    """``attrPath "[" valFilter "]"``: some value of a multi-valued (or complex) attribute matches.

    ``path.sub_attr`` is always ``None`` here; paths inside ``filter`` are relative
    to the element (``type``, ``value``...).  The Entra form
    ``emails[type eq "work"].value eq "x"`` is desugared by the parser into
    ``ValuePath(emails, And(type eq "work", value eq "x"))``.
    """

    path: AttrPath
    filter: Filter


Filter = Compare | Present | And | Or | Not | ValuePath


def balanced(terms: list[Filter], node: type[And] | type[Or]) -> Filter:
    """``terms`` joined by ``node`` (And or Or) as a balanced tree.

    ``and``/``or`` are associative, so the shape does not change the meaning; a
    balanced tree keeps a chain of n terms log2(n) deep, so that a long chain
    (an IdP OR-ing many ids) never exhausts the recursion of the tree's walkers.
    """
    if len(terms) == 1:
        return terms[0]
    middle = len(terms) // 2
    return node(balanced(terms[:middle], node), balanced(terms[middle:], node))


def flattened(f: Filter, node: type[And] | type[Or]) -> list[Filter]:
    """The operands of the ``node`` chain at the top of ``f``."""
    if isinstance(f, node):
        return flattened(f.left, node) + flattened(f.right, node)
    return [f]


@dataclass(frozen=True)
class PatchPath:
    """A PATCH ``path`` (RFC 7644 §3.5.2): ``attrPath`` or ``valuePath ["." subAttr]``.

    - ``name.givenName``          -> PatchPath(AttrPath("name", "givenName"))
    - ``members[value eq "1"]``   -> PatchPath(AttrPath("members"), filter=...)
    - ``emails[type eq "work"].value`` -> PatchPath(AttrPath("emails"), filter=..., sub_attr="value")
    """

    attr: AttrPath
    filter: Filter | None = None
    sub_attr: str | None = None  # only with ``filter``; otherwise it sits in ``attr.sub_attr``


__all__ = [
    "COMPARISON_OPERATORS",
    "And",
    "AttrPath",
    "Compare",
    "Filter",
    "Literal",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "ValuePath",
    "balanced",
    "flattened",
]
