"""Parser for SCIM filters (RFC 7644 §3.4.2.2), PATCH paths (§3.5.2) and attribute lists (§3.9).

A small recursive-descent parser over the tokens of :mod:`.lexer`, one method
per grammar rule, producing the frozen AST of :mod:`.ast`.  Precedence is
``not`` > ``and`` > ``or``; ``and``/``or`` chains are built in a loop and are
left-associative.

Resource limits: the text may be at most ``max_length`` characters, and both
the nesting of groups (``(``, ``not (``, ``[``) and the depth of the resulting
AST (every node counts, so a chain of N ``and``s is N+1 deep) may be at most
``max_depth``.  The parser recurses only when it opens a group, so the
nesting limit also bounds its own recursion, and the AST depth limit bounds
the recursion of the back ends that walk the tree.

Interoperability leniencies, each commented where implemented: keywords,
operators and ``true``/``false``/``null`` are case-insensitive; a bare word in
value position is a string literal (Entra); ``emails[type eq "work"].value eq
"x"`` is desugared into a value path (Entra).

``unparse`` renders an AST back to filter text; ``parse_filter(unparse(f)) ==
f`` holds for every AST ``parse_filter`` can produce.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..errors import InvalidFilterError, InvalidPathError, InvalidValueError
from .ast import (
    COMPARISON_OPERATORS,
    And,
    AttrPath,
    Compare,
    Filter,
    Literal,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    balanced,
    flattened,
)
from .lexer import Token, TokenKind, quote, tokenize

#: The largest ``max_depth`` accepted: deep enough for any real filter, shallow
#: enough that the parser and the back ends stay far from Python's recursion limit.
MAX_DEPTH_LIMIT = 100

_LOGICAL = frozenset({"and", "or", "not"})
_KEYWORDS = _LOGICAL | COMPARISON_OPERATORS | {"pr"}

# RFC 7644 §3.10 attribute notation: ATTRNAME = ALPHA *(nameChar), nameChar = "-" / "_" / DIGIT / ALPHA,
# plus "$ref" (RFC 7643 §2.4), which only ever names a sub-attribute.
_NAME = r"[A-Za-z][A-Za-z0-9_-]*"
_SUB_ATTR_NAME = re.compile(rf"{_NAME}|\$ref", re.IGNORECASE)
_ATTR_AND_SUB = re.compile(rf"(?P<attr>{_NAME})(?:\.(?P<sub>{_NAME}|\$ref))?", re.IGNORECASE)
# RFC 8141 URN: "urn:" NID ":" NSS (loosely: the NSS is checked only for being non-empty).
_URN = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9-]*:\S+", re.IGNORECASE)


def split_attr_path(text: str, *, relative: bool = False) -> AttrPath | None:
    """``[URN ":"] ATTRNAME ["." subAttr]`` as an AttrPath, or None when malformed.

    The URN is everything up to the last colon (URNs contain dots, as in
    ``...:enterprise:2.0:User``).  ``relative`` paths sit inside a value filter
    and name a sub-attribute of the element, so ``$ref`` is allowed there.
    """
    urn = None
    if text[:4].lower() == "urn:":
        urn, _, text = text.rpartition(":")
        if not _URN.fullmatch(urn):
            return None
    if relative and _SUB_ATTR_NAME.fullmatch(text):
        return AttrPath(text, urn=urn)
    match = _ATTR_AND_SUB.fullmatch(text)
    if match is None:
        return None
    return AttrPath(match["attr"], match["sub"], urn)


class _Parser:
    """One parse: a token cursor plus the nesting state."""

    def __init__(self, text: str, max_depth: int) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.max_depth = max_depth
        self.nesting = 0  # open "(", "not (" and "[" groups
        self.in_value_filter = False

    # -- cursor -------------------------------------------------------------

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        if token.kind is not TokenKind.END:
            self.index += 1
        return token

    def at_keyword(self, keyword: str) -> bool:
        # RFC 7644 §3.4.2.2: "Attribute names and attribute operators used in filters are case insensitive."
        return self.token.kind is TokenKind.WORD and self.token.text.lower() == keyword

    def expect(self, kind: TokenKind, context: str) -> Token:
        if self.token.kind is not kind:
            raise InvalidFilterError(
                f"expected '{kind.value}' {context}, found {self.token.describe()} at position {self.token.position}"
            )
        return self.advance()

    def expect_end(self, expected: str) -> None:
        token = self.token
        if token.kind is TokenKind.END:
            return
        if token.kind is TokenKind.RPAREN:
            raise InvalidFilterError(f"unexpected ')' at position {token.position}: no matching '('")
        if token.kind is TokenKind.RBRACKET:
            raise InvalidFilterError(f"unexpected ']' at position {token.position}: no matching '['")
        raise InvalidFilterError(
            f"unexpected {token.describe()} at position {token.position}: expected {expected}"
        )

    # -- limits -------------------------------------------------------------

    def open_group(self, token: Token) -> None:
        self.nesting += 1
        if self.nesting > self.max_depth:
            raise InvalidFilterError(
                f"filter nested more than {self.max_depth} levels deep at position {token.position}"
            )

    def deeper(self, depth: int, token: Token) -> int:
        """The depth of a node whose deepest child is ``depth`` deep, checked against max_depth."""
        if depth + 1 > self.max_depth:
            raise InvalidFilterError(
                f"filter nested more than {self.max_depth} levels deep at position {token.position}"
            )
        return depth + 1

    # -- grammar (RFC 7644 §3.4.2.2, Figure 1) --------------------------------
    # Each rule returns (node, depth of the node's subtree).

    def filter(self) -> tuple[Filter, int]:
        """``FILTER = FILTER "or" FILTER / ...``: an ``or`` chain of ``and`` chains."""
        return self.chain("or", self.conjunction, Or)

    def conjunction(self) -> tuple[Filter, int]:
        return self.chain("and", self.term, And)

    def chain(self, keyword: str, operand: Any, node: type[And] | type[Or]) -> tuple[Filter, int]:
        """Operands joined by ``keyword``, built as a balanced tree (see :func:`.ast.balanced`):
        a chain of n terms is log2(n) levels deep, so long ``or`` lists of ids stay within max_depth."""
        first, depth = operand()
        terms, depths, operator = [first], [depth], None
        while self.at_keyword(keyword):
            operator = self.advance()
            term, term_depth = operand()
            terms.append(term)
            depths.append(term_depth)
        if operator is None:
            return first, depth
        depth = max(depths)
        for _ in range(math.ceil(math.log2(len(terms)))):
            depth = self.deeper(depth, operator)
        return balanced(terms, node), depth

    def term(self) -> tuple[Filter, int]:
        """``*1"not" "(" valFilter ")"`` / ``"(" valFilter ")"`` / ``attrExp`` / ``valuePath``."""
        token = self.token
        if self.at_keyword("not"):
            self.advance()
            self.expect(TokenKind.LPAREN, f"after 'not' at position {token.position}")
            self.open_group(token)
            inner, depth = self.filter()
            self.expect(TokenKind.RPAREN, f"to close 'not (' at position {token.position}")
            self.nesting -= 1
            return Not(inner), self.deeper(depth, token)
        if token.kind is TokenKind.LPAREN:
            self.advance()
            self.open_group(token)
            inner, depth = self.filter()
            self.expect(TokenKind.RPAREN, f"to close '(' at position {token.position}")
            self.nesting -= 1
            return inner, depth
        path = self.attr_path()
        if self.token.kind is TokenKind.LBRACKET:
            return self.value_path(path)
        return self.attr_expression(path), 1

    def attr_path(self) -> AttrPath:
        token = self.advance()
        if token.kind is not TokenKind.WORD or token.text.lower() in _LOGICAL:
            raise InvalidFilterError(
                f"expected an attribute path, found {token.describe()} at position {token.position}"
            )
        path = split_attr_path(token.text, relative=self.in_value_filter)
        if path is None:
            raise InvalidFilterError(f"invalid attribute path {token.describe()} at position {token.position}")
        return path

    def value_filter(self, path: AttrPath) -> tuple[Filter, int]:
        """``"[" valFilter "]"`` after ``path``: the filter and its depth."""
        bracket = self.token
        if self.in_value_filter:
            raise InvalidFilterError(f"nested value filter at position {bracket.position}")
        if path.sub_attr is not None:
            raise InvalidFilterError(
                f"a value filter must follow an attribute without a sub-attribute ({quote(str(path))}) "
                f"at position {bracket.position}"
            )
        self.advance()
        self.open_group(bracket)
        self.in_value_filter = True
        inner, depth = self.filter()
        self.expect(TokenKind.RBRACKET, f"to close '[' at position {bracket.position}")
        self.in_value_filter = False
        self.nesting -= 1
        return inner, depth

    def sub_attr_after_bracket(self) -> tuple[str, Token] | None:
        """An optional ``"." subAttr`` following ``]`` (RFC 7644 §3.5.2 ``valuePath [subAttr]``)."""
        token = self.token
        if token.kind is not TokenKind.WORD or not token.text.startswith("."):
            return None
        self.advance()
        name = token.text[1:]
        if not _SUB_ATTR_NAME.fullmatch(name):
            raise InvalidFilterError(f"invalid sub-attribute {token.describe()} at position {token.position}")
        return name, token

    def value_path(self, path: AttrPath) -> tuple[Filter, int]:
        bracket = self.token
        inner, depth = self.value_filter(path)
        sub = self.sub_attr_after_bracket()
        if sub is not None:
            # Entra sends ``emails[type eq "work"].value eq "x"``: the condition on the
            # sub-attribute joins the bracket filter, so both hold for the same element.
            name, token = sub
            condition = self.attr_expression(AttrPath(name))
            inner, depth = And(inner, condition), self.deeper(max(depth, 1), token)
        return ValuePath(path, inner), self.deeper(depth, bracket)

    def attr_expression(self, path: AttrPath) -> Filter:
        """``attrPath SP "pr"`` / ``attrPath SP compareOp SP compValue``."""
        token = self.advance()
        operator = token.text.lower() if token.kind is TokenKind.WORD else ""
        if operator == "pr":
            following = self.token
            if following.kind in (TokenKind.STRING, TokenKind.NUMBER) or (
                following.kind is TokenKind.WORD and following.text.lower() not in ("and", "or")
            ):
                raise InvalidFilterError(
                    f"'pr' takes no value, found {following.describe()} at position {following.position}"
                )
            return Present(path)
        if operator not in COMPARISON_OPERATORS:
            raise InvalidFilterError(
                f"expected an operator after {quote(str(path))}, found {token.describe()} at position {token.position}"
            )
        return Compare(path, operator, self.literal(token))

    def literal(self, operator: Token) -> Literal:
        """``compValue = false / null / true / number / string`` (RFC 7644 §3.4.2.2)."""
        token = self.advance()
        if token.kind in (TokenKind.STRING, TokenKind.NUMBER):
            return token.value
        if token.kind is TokenKind.WORD:
            word = token.text.lower()
            if word in ("true", "false", "null"):
                return {"true": True, "false": False, "null": None}[word]
            if token.text.startswith("'"):
                raise InvalidFilterError(
                    f"string literals take double quotes, not single quotes, at position {token.position}"
                )
            if word not in _KEYWORDS:
                # Entra docs send unquoted literals (interop.md §6 E18): ``externalId eq jyoung``.
                return token.text
        raise InvalidFilterError(
            f"expected a value after '{operator.text}', found {token.describe()} at position {token.position}"
        )

    # -- PATCH path (RFC 7644 §3.5.2) -----------------------------------------

    def patch_path(self) -> PatchPath:
        """``PATH = attrPath / valuePath [subAttr]``."""
        path = self.attr_path()
        if self.token.kind is not TokenKind.LBRACKET:
            return PatchPath(path)
        inner, _ = self.value_filter(path)
        sub = self.sub_attr_after_bracket()
        return PatchPath(path, inner, None if sub is None else sub[0])


# The form of nearly every identity provider's lookup (Okta's ``userName eq "..."``, Entra's
# ``externalId eq "..."``): one attribute path, one operator word and one JSON string.  Each part
# is a single token to the lexer (the path's characters are a subset of a word's), so the grammar
# reads it as ``attrPath SP compareOp SP compValue`` and nothing else.
_ONE_COMPARISON = re.compile(r'\s*([A-Za-z][A-Za-z0-9_.:$-]*)\s+([A-Za-z]{2})\s+("(?:[^"\\]|\\.)*")\s*\Z')


def _one_comparison(text: str) -> Compare | None:
    """The AST of a filter of exactly that form, as the parser builds it; None for any other text,
    or for one the parser would refuse (it then says why).  tests/unit/test_filter_parser.py proves
    the two agree."""
    match = _ONE_COMPARISON.match(text)
    if match is None:
        return None
    name, operator, literal = match.groups()
    operator = operator.lower()
    if operator not in COMPARISON_OPERATORS or name.lower() in _LOGICAL:
        return None
    path = split_attr_path(name)
    if path is None:
        return None
    try:
        value = json.loads(literal)
    except json.JSONDecodeError:
        return None
    return Compare(path, operator, value)


def parse_filter(text: str, *, max_length: int = 4096, max_depth: int = 32) -> Filter:
    """Parse a ``filter`` query parameter; raise InvalidFilterError saying what is wrong and where."""
    if len(text) > max_length:
        raise InvalidFilterError(f"filter is {len(text)} characters long; at most {max_length} are allowed")
    if not 1 <= max_depth <= MAX_DEPTH_LIMIT:
        raise ValueError(f"max_depth must be between 1 and {MAX_DEPTH_LIMIT}, not {max_depth}")
    simple = _one_comparison(text)
    if simple is not None:
        return simple
    return _parse(text, max_depth)


def _parse(text: str, max_depth: int) -> Filter:
    """The recursive-descent parse of any filter (:func:`parse_filter` without its shortcut)."""
    parser = _Parser(text, max_depth)
    node, _ = parser.filter()
    parser.expect_end("'and', 'or' or the end of input")
    return node


def parse_path(text: str, *, max_length: int = 1024) -> PatchPath:
    """Parse a PATCH operation's ``path``; raise InvalidPathError saying what is wrong and where."""
    if len(text) > max_length:
        raise InvalidPathError(f"path is {len(text)} characters long; at most {max_length} are allowed")
    try:
        parser = _Parser(text, max_depth=32)
        path = parser.patch_path()
        parser.expect_end("the end of the path")
    except InvalidFilterError as exc:
        raise InvalidPathError(f"invalid path: {exc.detail}") from None
    return path


def parse_attribute_list(text: str) -> list[AttrPath]:
    """Parse an ``attributes`` / ``excludedAttributes`` parameter (RFC 7644 §3.9): comma-separated paths.

    Blank text is an empty list; raise InvalidValueError naming a malformed entry.
    """
    if not text.strip():
        return []
    paths = []
    position = 0
    for entry in text.split(","):
        name = entry.strip()
        path = split_attr_path(name) if name else None
        if path is None:
            where = position + len(entry) - len(entry.lstrip())
            raise InvalidValueError(f"invalid attribute name {quote(name)} at position {where}")
        paths.append(path)
        position += len(entry) + 1
    return paths


# -- unparse ---------------------------------------------------------------------

_PRECEDENCE = {Or: 1, And: 2}  # every other node binds tighter than both


def unparse(f: Filter) -> str:
    """Render an AST as filter text that parses back to the same AST."""
    if isinstance(f, Compare):
        return f"{f.path} {f.op} {_literal_text(f.value)}"
    if isinstance(f, Present):
        return f"{f.path} pr"
    if isinstance(f, Not):
        return f"not ({unparse(f.expr)})"
    if isinstance(f, ValuePath):
        return f"{f.path}[{unparse(f.filter)}]"
    keyword = "and" if isinstance(f, And) else "or"
    terms = flattened(f, type(f))
    if balanced(terms, type(f)) == f:
        # The parser builds a chain as a balanced tree: this one reads back from the flat chain.
        return f" {keyword} ".join(_operand(t, f, same_wraps=False) for t in terms)
    return f"{_operand(f.left, f, same_wraps=True)} {keyword} {_operand(f.right, f, same_wraps=True)}"


def _operand(child: Filter, parent: And | Or, *, same_wraps: bool) -> str:
    """An operand of ``and``/``or``, parenthesized where precedence (or the tree's shape) requires."""
    text = unparse(child)
    child_rank, parent_rank = _PRECEDENCE.get(type(child), 3), _PRECEDENCE[type(parent)]
    if child_rank < parent_rank or (same_wraps and child_rank == parent_rank):
        return f"({text})"
    return text


def _literal_text(value: Literal) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no filter syntax")
    return repr(value)
