"""Tokenizer for SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2).

The lexer knows only delimiters: whitespace separates tokens and is otherwise
insignificant; ``( ) [ ]`` are single-character tokens; a double quote starts a
JSON string; every other run of characters is one *word*.  A word is an
attribute path, a keyword, an operator or an unquoted literal, and only the
parser, which knows where it is in the grammar, can tell which.  A word that
is exactly a JSON number is marked as a number.

Keeping paths as whole words means URNs (``urn:...:2.0:User:manager.value``)
need no special casing here: dots and colons are ordinary word characters.

Every token carries its 0-based character offset so that errors can say
"at position N".
"""

from __future__ import annotations

import enum
import json
import math
import re
import unicodedata
from dataclasses import dataclass

from ..errors import InvalidFilterError
from .ast import Literal


class TokenKind(enum.Enum):
    LPAREN = "("
    RPAREN = ")"
    LBRACKET = "["
    RBRACKET = "]"
    STRING = "string"
    NUMBER = "number"
    WORD = "word"
    END = "end of input"


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str  # the characters as written (a string keeps its quotes)
    position: int  # 0-based offset of the first character
    value: Literal = None  # the decoded literal of a STRING or NUMBER token

    def describe(self) -> str:
        """The token as an error message shows it."""
        return "end of input" if self.kind is TokenKind.END else quote(self.text)


def quote(text: str) -> str:
    """``text`` quoted for an error message, shortened when long."""
    return f"'{text}'" if len(text) <= 40 else f"'{text[:37]}...'"


_PUNCTUATION = {kind.value: kind for kind in (TokenKind.LPAREN, TokenKind.RPAREN, TokenKind.LBRACKET,
                                              TokenKind.RBRACKET)}
_WHITESPACE = re.compile(r"\s+")
# A JSON string (RFC 8259 §7): the regex only finds its end; json.loads validates the escapes.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_WORD = re.compile(r'[^\s()\[\]"]+')
# A JSON number (RFC 8259 §6), ASCII digits only.
NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens, ending with an END token; raise InvalidFilterError on a bad string literal."""
    tokens: list[Token] = []
    position = 0
    while True:
        blank = _WHITESPACE.match(text, position)
        if blank:
            position = blank.end()
        if position == len(text):
            tokens.append(Token(TokenKind.END, "", position))
            return tokens
        char = text[position]
        if char in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[char], char, position))
            position += 1
        elif char == '"':
            tokens.append(_string(text, position))
            position += len(tokens[-1].text)
        else:
            word = _WORD.match(text, position)
            assert word is not None  # every other character starts a word
            tokens.append(_word(word.group(), position))
            position = word.end()


def _string(text: str, position: int) -> Token:
    match = _STRING.match(text, position)
    if match is None:
        raise InvalidFilterError(f"unterminated string starting at position {position}")
    raw = match.group()
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:  # a bad escape or a raw control character
        raise InvalidFilterError(f"invalid string literal at position {position + exc.pos}: {exc.msg}") from None
    return Token(TokenKind.STRING, raw, position, value)


def decode_number(text: str) -> int | float | None:
    """The value of a JSON number, or None when ``text`` is not one or is out of range."""
    if not NUMBER.fullmatch(text):
        return None
    try:
        value = json.loads(text)
    except ValueError:  # more digits than int() converts (4,300)
        return None
    # An int is always finite (math.isfinite() would overflow past 1e308); "1e400" is a float inf.
    return value if isinstance(value, int) or math.isfinite(value) else None


def _word(text: str, position: int) -> Token:
    for offset, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            raise InvalidFilterError(f"unexpected control character U+{ord(char):04X} at position {position + offset}")
    if NUMBER.fullmatch(text):
        value = decode_number(text)
        if value is None:
            raise InvalidFilterError(f"number at position {position} is out of range")
        return Token(TokenKind.NUMBER, text, position, value)
    return Token(TokenKind.WORD, text, position)
