"""The filter, PATCH path and attribute-list parsers (RFC 7644 §3.4.2.2, §3.5.2, §3.9) and ``unparse``."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_scim_entitlements.errors import InvalidFilterError, InvalidPathError, InvalidValueError
from flask_scim_entitlements.filters import (
    And,
    AttrPath,
    Compare,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_attribute_list,
    parse_filter,
    parse_path,
    unparse,
)
from flask_scim_entitlements.filters.lexer import TokenKind, tokenize
from flask_scim_entitlements.schemas.core import ENTERPRISE_USER, ENTERPRISE_USER_URN, GROUP, USER, USER_URN
from flask_scim_entitlements.schemas.definitions import ResourceSchema
from tests.strategies import filters

USER_SCHEMA = ResourceSchema(core=USER, extensions=(ENTERPRISE_USER,))
GROUP_SCHEMA = ResourceSchema(core=GROUP)


def cmp(attr: str, op: str, value, sub: str | None = None, urn: str | None = None) -> Compare:
    return Compare(AttrPath(attr, sub, urn), op, value)


# -- RFC 7644 §3.4.2.2 ------------------------------------------------------------

RFC_EXAMPLES = [
    'userName eq "bjensen"',
    "name.familyName co \"O'Malley\"",
    'userName sw "J"',
    'urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"',
    "title pr",
    'meta.lastModified gt "2011-05-13T04:42:34Z"',
    'meta.lastModified ge "2011-05-13T04:42:34Z"',
    'meta.lastModified lt "2011-05-13T04:42:34Z"',
    'meta.lastModified le "2011-05-13T04:42:34Z"',
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
]


@pytest.mark.parametrize("text", RFC_EXAMPLES)
def test_every_rfc7644_example_filter_parses_and_round_trips(text):
    parsed = parse_filter(text)
    assert parse_filter(unparse(parsed)) == parsed


def test_rfc7644_examples_parse_to_the_expected_trees():
    assert parse_filter('userName eq "bjensen"') == cmp("userName", "eq", "bjensen")
    assert parse_filter("name.familyName co \"O'Malley\"") == cmp("name", "co", "O'Malley", sub="familyName")
    assert parse_filter('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"') == cmp(
        "userName", "sw", "J", urn=USER_URN
    )
    assert parse_filter("title pr") == Present(AttrPath("title"))
    text = 'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'
    assert parse_filter(text) == (
        And(
            cmp("userType", "ne", "Employee"),
            Not(Or(cmp("emails", "co", "example.com"), cmp("emails", "co", "example.org", sub="value"))),
        )
    )
    assert parse_filter(
        'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]'
    ) == Or(
        ValuePath(AttrPath("emails"), And(cmp("type", "eq", "work"), cmp("value", "co", "@example.com"))),
        ValuePath(AttrPath("ims"), And(cmp("type", "eq", "xmpp"), cmp("value", "co", "@foo.com"))),
    )


# -- grammar ------------------------------------------------------------------------


def test_operators_and_keywords_are_case_insensitive():
    assert parse_filter('userName EQ "x" And NOT (title Pr) OR active eq TRUE') == Or(
        And(cmp("userName", "eq", "x"), Not(Present(AttrPath("title")))), cmp("active", "eq", True)
    )


@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_every_comparison_operator_is_accepted(op):
    assert parse_filter(f'title {op.upper()} "x"') == cmp("title", op, "x")


def test_attribute_names_are_kept_as_written():
    assert parse_filter('USERNAME eq "x"') == cmp("USERNAME", "eq", "x")
    assert parse_filter("Name.FamilyName pr") == Present(AttrPath("Name", "FamilyName"))


def test_and_binds_tighter_than_or():
    a, b, c = (Present(AttrPath(name)) for name in "abc")
    assert parse_filter("a pr or b pr and c pr") == Or(a, And(b, c))
    assert parse_filter("a pr and b pr or c pr") == Or(And(a, b), c)


def test_not_binds_tighter_than_and():
    a, b = Present(AttrPath("a")), Present(AttrPath("b"))
    assert parse_filter("not (a pr) and b pr") == And(Not(a), b)


def test_and_or_chains_are_built_as_balanced_trees():
    a, b, c, d = (Present(AttrPath(name)) for name in "abcd")
    assert parse_filter("a pr and b pr and c pr") == And(a, And(b, c))
    assert parse_filter("a pr or b pr or c pr or d pr") == Or(Or(a, b), Or(c, d))
    assert parse_filter("(a pr and b pr) and c pr") == And(And(a, b), c)


def test_parentheses_override_precedence():
    a, b, c = (Present(AttrPath(name)) for name in "abc")
    assert parse_filter("(a pr or b pr) and c pr") == And(Or(a, b), c)
    assert parse_filter("a pr and (b pr and c pr)") == And(a, And(b, c))


def test_whitespace_between_tokens_is_insignificant():
    assert parse_filter('  not(title pr)\tand\n( emails [ type eq "work" ] )  ') == And(
        Not(Present(AttrPath("title"))), ValuePath(AttrPath("emails"), cmp("type", "eq", "work"))
    )


def test_urn_qualified_paths_split_at_the_last_colon():
    assert parse_filter(f"{ENTERPRISE_USER_URN}:employeeNumber eq \"1\"") == cmp(
        "employeeNumber", "eq", "1", urn=ENTERPRISE_USER_URN
    )
    assert parse_filter(f"{ENTERPRISE_USER_URN}:manager.value pr") == Present(
        AttrPath("manager", "value", ENTERPRISE_USER_URN)
    )


def test_dollar_ref_is_a_sub_attribute_name():
    assert parse_filter('members.$ref eq "x"') == cmp("members", "eq", "x", sub="$ref")
    assert parse_filter('members[$ref eq "x"]') == ValuePath(AttrPath("members"), cmp("$ref", "eq", "x"))


def test_dollar_ref_is_not_an_attribute_name():
    with pytest.raises(InvalidFilterError, match="position 0"):
        parse_filter('$ref eq "x"')


def test_value_path_holds_a_filter_relative_to_the_element():
    assert parse_filter('members[value eq "x"]') == ValuePath(AttrPath("members"), cmp("value", "eq", "x"))
    assert parse_filter('emails[not (type eq "work") or (primary eq true)]') == ValuePath(
        AttrPath("emails"), Or(Not(cmp("type", "eq", "work")), cmp("primary", "eq", True))
    )


def test_entra_value_path_with_sub_attribute_desugars_into_the_value_filter():
    assert parse_filter('emails[type eq "work"].value eq "x"') == ValuePath(
        AttrPath("emails"), And(cmp("type", "eq", "work"), cmp("value", "eq", "x"))
    )
    assert parse_filter('emails[type eq "work"].value pr') == ValuePath(
        AttrPath("emails"), And(cmp("type", "eq", "work"), Present(AttrPath("value")))
    )


def test_entra_desugaring_keeps_an_or_inside_the_brackets_together():
    parsed = parse_filter('emails[type eq "work" or type eq "home"].value eq "x"')
    assert parsed == ValuePath(
        AttrPath("emails"), And(Or(cmp("type", "eq", "work"), cmp("type", "eq", "home")), cmp("value", "eq", "x"))
    )
    assert parse_filter(unparse(parsed)) == parsed


def test_nested_value_filters_are_rejected():
    with pytest.raises(InvalidFilterError, match="nested value filter at position 12"):
        parse_filter('emails[value[type eq "x"] pr]')


def test_value_filter_after_a_sub_attribute_is_rejected():
    with pytest.raises(InvalidFilterError, match="position 11"):
        parse_filter('emails.type[value eq "x"]')


# -- literals -------------------------------------------------------------------------


def test_string_literals_use_json_escapes():
    assert parse_filter(r'title eq "a\"b\\c\u00e9\n"') == cmp("title", "eq", 'a"b\\c\u00e9\n')


def test_true_false_null_literals_are_case_insensitive():
    assert parse_filter("active eq True") == cmp("active", "eq", True)
    assert parse_filter("active eq FALSE") == cmp("active", "eq", False)
    assert parse_filter("title eq Null") == cmp("title", "eq", None)


@pytest.mark.parametrize(
    ("text", "value"), [("0", 0), ("-12", -12), ("1.5", 1.5), ("2e3", 2000.0), ("-1.25E-2", -0.0125)]
)
def test_json_number_literals_become_numbers(text, value):
    parsed = parse_filter(f"x eq {text}")
    assert parsed.value == value and type(parsed.value) is type(value)


def test_unquoted_word_literal_is_a_string():
    assert parse_filter("externalId eq jyoung") == cmp("externalId", "eq", "jyoung")
    assert parse_filter("members[value eq 2819c223-7f76]") == ValuePath(
        AttrPath("members"), cmp("value", "eq", "2819c223-7f76")
    )
    assert parse_filter("externalId eq 007") == cmp("externalId", "eq", "007")


# -- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an attribute path, found end of input at position 0"),
        ("userName", "expected an operator after 'userName', found end of input at position 8"),
        ('userName = "x"', "expected an operator after 'userName', found '=' at position 9"),
        ('userName eq "x" & title pr', "unexpected '&' at position 16"),
        ('userName eq "x" title pr', "unexpected 'title' at position 16"),
        ('(userName eq "x"', "expected ')' to close '(' at position 0, found end of input at position 16"),
        ('userName eq "x")', "unexpected ')' at position 15: no matching '('"),
        ('emails[type eq "x"', "expected ']' to close '[' at position 6"),
        ('emails[type eq "x"]]', "unexpected ']' at position 19"),
        ("not title pr", "expected '(' after 'not' at position 0, found 'title' at position 4"),
        ('title pr "x"', "'pr' takes no value, found '\"x\"' at position 9"),
        ("title pr 5", "'pr' takes no value, found '5' at position 9"),
        ("title eq", "expected a value after 'eq', found end of input at position 8"),
        ("title eq and x pr", "expected a value after 'eq', found 'and' at position 9"),
        ("title eq )", "expected a value after 'eq', found ')' at position 9"),
        ("title eq 'x'", "double quotes, not single quotes, at position 9"),
        ('title eq "abc', "unterminated string starting at position 9"),
        (r'title eq "a\qb"', "invalid string literal at position 11"),
        ('title eq "a\tb"', "invalid string literal at position 11"),
        ("title eq 1e999", "number at position 9 is out of range"),
        ('1title eq "x"', "invalid attribute path '1title' at position 0"),
        ('a.b.c eq "x"', "invalid attribute path 'a.b.c' at position 0"),
        ('urn:x eq "x"', "invalid attribute path 'urn:x' at position 0"),
        ('title eq "x" and', "expected an attribute path, found end of input at position 16"),
        ('and eq "x"', "expected an attribute path, found 'and' at position 0"),
        ('emails[type eq "x"].1x eq "y"', "invalid sub-attribute '.1x' at position 19"),
        ('emails[type eq "x"].value', "expected an operator after 'value', found end of input at position 25"),
        ('title eq "x"\x00', "unexpected control character U+0000 at position 12"),
    ],
)
def test_malformed_filters_are_rejected_saying_what_and_where(text, message):
    with pytest.raises(InvalidFilterError, match=re.escape(message)):
        parse_filter(text)


def test_a_filter_longer_than_max_length_is_rejected():
    text = 'title eq "' + "x" * 100 + '"'
    assert parse_filter(text, max_length=len(text))
    with pytest.raises(InvalidFilterError, match=f"{len(text)} characters long; at most 50"):
        parse_filter(text, max_length=50)


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("(" * 5 + "title pr" + ")" * 5, 5),  # five open groups, a one-node tree
        ("not (" * 5 + "title pr" + ")" * 5, 6),  # five Not nodes above the leaf
        ('emails[type eq "x"]', 2),  # a ValuePath above the leaf
        ('emails[type eq "x"].value pr', 3),  # ValuePath(And(...))
        ("a pr and b pr or c pr", 3),  # Or(And(a, b), c)
    ],
)
def test_nesting_deeper_than_max_depth_is_rejected(text, depth):
    assert parse_filter(text, max_depth=depth)
    with pytest.raises(InvalidFilterError, match=f"nested more than {depth - 1} levels deep at position"):
        parse_filter(text, max_depth=depth - 1)


def test_a_chain_counts_log2_of_its_length_towards_max_depth():
    # An IdP may OR hundreds of ids: 1,000 terms are a balanced tree 10 levels above the leaves.
    chain = " or ".join(f'id eq "{i}"' for i in range(1000))
    assert parse_filter(chain, max_length=len(chain), max_depth=11)
    with pytest.raises(InvalidFilterError, match=r"nested more than 10 levels deep at position \d+"):
        parse_filter(chain, max_length=len(chain), max_depth=10)


def test_huge_inputs_are_rejected_without_recursion_errors():
    for text in ["(" * 100_000, "not (" * 20_000, "[" * 50_000, "x[" * 50_000]:
        with pytest.raises(InvalidFilterError):
            parse_filter(text, max_length=len(text))
    chain = " and ".join(["a pr"] * 10_000)
    assert parse_filter(chain, max_length=len(chain))  # 14 levels deep, not 10,000


def test_max_depth_above_the_supported_limit_is_a_programming_error():
    with pytest.raises(ValueError, match="max_depth"):
        parse_filter("title pr", max_depth=10_000)


@settings(max_examples=500)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_nothing_but_invalid_filter_error(text):
    try:
        parse_filter(text)
    except InvalidFilterError:
        pass


FILTER_PIECES = ["(", ")", "[", "]", "and", "or", "not", "eq", "ne", "co", "pr", "gt", '"x"', '"', "1", "-2.5",
                 "true", "null", "title", "emails", "name.givenName", ".value", "$ref",
                 f"{ENTERPRISE_USER_URN}:manager", "urn:", "'", "\\", ".", ":"]


@settings(max_examples=1000)
@given(st.lists(st.sampled_from(FILTER_PIECES), max_size=16), st.sampled_from([" ", ""]))
def test_token_soup_raises_nothing_but_invalid_filter_error(pieces, separator):
    try:
        parsed = parse_filter(separator.join(pieces))
    except InvalidFilterError:
        return
    assert parse_filter(unparse(parsed)) == parsed


# -- unparse ------------------------------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(filters(USER_SCHEMA) | filters(GROUP_SCHEMA))
def test_unparse_then_parse_returns_the_same_tree(f):
    assert parse_filter(unparse(f)) == f


def test_unparse_writes_balanced_chains_flat_and_parenthesizes_other_shapes():
    a, b, c = (Present(AttrPath(name)) for name in "abc")
    assert unparse(And(a, And(b, c))) == "a pr and b pr and c pr"
    assert unparse(And(And(a, b), c)) == "(a pr and b pr) and c pr"
    assert unparse(And(Or(a, b), c)) == "(a pr or b pr) and c pr"
    assert unparse(Or(And(a, b), c)) == "a pr and b pr or c pr"
    assert unparse(Or(a, Or(b, c))) == "a pr or b pr or c pr"


def test_unparse_renders_literals_as_json():
    assert unparse(cmp("x", "eq", 'a"b')) == r'x eq "a\"b"'
    assert unparse(cmp("x", "eq", None)) == "x eq null"
    assert unparse(cmp("x", "eq", False)) == "x eq false"
    assert unparse(cmp("x", "gt", 1.5)) == "x gt 1.5"


def test_unparse_rejects_numbers_without_filter_syntax():
    with pytest.raises(ValueError, match="no filter syntax"):
        unparse(cmp("x", "gt", float("inf")))


# -- lexer -----------------------------------------------------------------------------------


def test_tokens_carry_their_character_offsets():
    tokens = tokenize('emails[type eq "w"] or (x pr)')
    assert [(t.kind, t.position) for t in tokens] == [
        (TokenKind.WORD, 0), (TokenKind.LBRACKET, 6), (TokenKind.WORD, 7), (TokenKind.WORD, 12),
        (TokenKind.STRING, 15), (TokenKind.RBRACKET, 18), (TokenKind.WORD, 20), (TokenKind.LPAREN, 23),
        (TokenKind.WORD, 24), (TokenKind.WORD, 26), (TokenKind.RPAREN, 28), (TokenKind.END, 29),
    ]


# -- PATCH paths (RFC 7644 §3.5.2) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name.givenName", PatchPath(AttrPath("name", "givenName"))),
        ("members", PatchPath(AttrPath("members"))),
        ('members[value eq "2819c223"]', PatchPath(AttrPath("members"), cmp("value", "eq", "2819c223"))),
        ('emails[type eq "work"].value', PatchPath(AttrPath("emails"), cmp("type", "eq", "work"), "value")),
        (f"{ENTERPRISE_USER_URN}:manager", PatchPath(AttrPath("manager", urn=ENTERPRISE_USER_URN))),
        (f"{ENTERPRISE_USER_URN}:manager.value", PatchPath(AttrPath("manager", "value", ENTERPRISE_USER_URN))),
        ('roles[primary eq "True"].value', PatchPath(AttrPath("roles"), cmp("primary", "eq", "True"), "value")),
        ('addresses[type eq "work"].streetAddress',
         PatchPath(AttrPath("addresses"), cmp("type", "eq", "work"), "streetAddress")),
        ('members[value eq "1"].$ref', PatchPath(AttrPath("members"), cmp("value", "eq", "1"), "$ref")),
    ],
)
def test_patch_paths_parse(text, expected):
    assert parse_path(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected an attribute path, found end of input at position 0"),
        ("name.", "invalid attribute path 'name.' at position 0"),
        ('members[value eq "x"', "expected ']' to close '[' at position 7"),
        ('members[value eq "x"] extra', "unexpected 'extra' at position 22"),
        ('members[value eq "x"].', "invalid sub-attribute '.' at position 21"),
        ("members eq 1", "unexpected 'eq' at position 8"),
        ('members[value[x pr] pr]', "nested value filter at position 13"),
    ],
)
def test_malformed_patch_paths_raise_invalid_path_with_position(text, message):
    with pytest.raises(InvalidPathError, match=re.escape(message)):
        parse_path(text)


def test_a_patch_path_longer_than_max_length_is_rejected():
    with pytest.raises(InvalidPathError, match="at most 10"):
        parse_path("a" * 11, max_length=10)


@settings(max_examples=300)
@given(st.text(max_size=100))
def test_arbitrary_text_raises_nothing_but_invalid_path_error(text):
    try:
        parse_path(text)
    except InvalidPathError:
        pass


# -- attribute lists (RFC 7644 §3.9) ---------------------------------------------------------------


def test_attribute_lists_are_comma_separated_paths_with_optional_whitespace():
    assert parse_attribute_list(f"userName, name.familyName ,{ENTERPRISE_USER_URN}:manager.value,members.$ref") == [
        AttrPath("userName"),
        AttrPath("name", "familyName"),
        AttrPath("manager", "value", ENTERPRISE_USER_URN),
        AttrPath("members", "$ref"),
    ]


def test_a_blank_attribute_list_is_empty():
    assert parse_attribute_list("") == []
    assert parse_attribute_list("  ") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("userName,,title", "invalid attribute name '' at position 9"),
        ("userName, ti tle", "invalid attribute name 'ti tle' at position 10"),
        ("userName,", "invalid attribute name '' at position 9"),
        ('emails[type eq "work"]', "invalid attribute name 'emails[type eq \"work\"]' at position 0"),
    ],
)
def test_malformed_attribute_list_entries_raise_invalid_value(text, message):
    with pytest.raises(InvalidValueError, match=re.escape(message)):
        parse_attribute_list(text)


# -- the one-comparison shortcut ----------------------------------------------------

def _outcome(parse, text: str):
    """What parsing ``text`` gives: the tree, or the error's type and message."""
    try:
        return parse(text)
    except (InvalidFilterError, ValueError) as exc:
        return type(exc), str(exc)


def _full_parse(text: str):
    from flask_scim_entitlements.filters.parser import _parse

    return _parse(text, 32)


_NAMES = ["userName", "externalId", "emails.value", "name.givenName", "emails.$ref", "$ref", "meta.lastModified",
          f"{ENTERPRISE_USER_URN}:employeeNumber", f"{USER_URN}:userName", "urn:x", "urn::a", "a..b", "a.b.c",
          "1abc", "-a", "a-b_c9", "and", "OR", "not", "pr", "eq", "x:y", "userName.", "é"]
_OPERATORS = ["eq", "EQ", "Eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "PR", "xx", "and", "e q"]
_SPACES = ["", " ", "  ", "\t", "\n", "\u00a0", "\u2003", "\x00"]
_RAW_LITERALS = ['"', '"abc', '"a\\"', '"\\x"', '"\\u12"', '"a\x01b"', "'a'", '"a"b"', '""', '"\\ud800"',
                 '"\\u0000"', '"a" and "b"', '"x"]', "true", "42"]


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(_NAMES), operator=st.sampled_from(_OPERATORS),
       literal=st.one_of(st.text(max_size=12).map(lambda t: __import__("json").dumps(t, ensure_ascii=False)),
                         st.text(max_size=12).map(lambda t: __import__("json").dumps(t)),
                         st.sampled_from(_RAW_LITERALS)),
       spaces=st.lists(st.sampled_from(_SPACES), min_size=4, max_size=4), tail=st.sampled_from(["", " x", ")"]))
def test_the_one_comparison_shortcut_gives_what_the_full_parser_gives(name, operator, literal, spaces, tail):
    """Okta's and Entra's lookups skip the lexer and parser: for any text near that form the shortcut
    gives the same tree as the recursive-descent parser, or leaves the text to it (and its error)."""
    a, b, c, d = spaces
    text = f"{a}{name}{b or ' '}{operator}{c or ' '}{literal}{d}{tail}"
    assert _outcome(parse_filter, text) == _outcome(_full_parse, text)


def test_the_one_comparison_shortcut_is_taken_for_an_okta_lookup(monkeypatch):
    import flask_scim_entitlements.filters.parser as parser

    def refuse(*_args):
        raise AssertionError("the full parser ran")

    monkeypatch.setattr(parser, "_Parser", refuse)
    assert parse_filter('userName eq "ann@example.com"') == cmp("userName", "eq", "ann@example.com")
    assert parse_filter(' externalId EQ "00u1\\u00e9" ') == cmp("externalId", "eq", "00u1é")
