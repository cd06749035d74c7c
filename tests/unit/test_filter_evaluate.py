"""The in-memory filter evaluator: the semantics the SQL compiler must reproduce (see evaluate.py's docstring)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings

from flask_scim_entitlements.errors import InvalidFilterError
from flask_scim_entitlements.filters import (
    AttrPath,
    Compare,
    Not,
    ValuePath,
    element_matches,
    evaluate,
    parse_filter,
    parse_path,
    unparse,
)
from flask_scim_entitlements.schemas.core import ENTERPRISE_USER, ENTERPRISE_USER_URN, GROUP, USER, USER_URN
from flask_scim_entitlements.schemas.definitions import (
    DECIMAL,
    INTEGER,
    Attribute,
    ResourceSchema,
    SchemaDefinition,
)
from tests.strategies import documents, filters

SCHEMA = ResourceSchema(core=USER, extensions=(ENTERPRISE_USER,))
GROUP_SCHEMA = ResourceSchema(core=GROUP)

# RFC 7643 §8.2 "Full User Representation", trimmed.
BJENSEN = {
    "schemas": [USER_URN, ENTERPRISE_USER_URN],
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "701984",
    "userName": "bjensen@example.com",
    "name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara"},
    "displayName": "Babs Jensen",
    "title": "Tour Guide",
    "userType": "Employee",
    "active": True,
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ],
    "ims": [{"value": "someaimhandle", "type": "aim"}],
    "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza", "primary": True}],
    "roles": [{"value": "R-1", "display": "Admin", "primary": True}],
    "meta": {
        "resourceType": "User",
        "created": "2010-01-23T04:56:22Z",
        "lastModified": datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC),
        "version": 'W/"3694e05e9dff591"',
    },
    ENTERPRISE_USER_URN: {
        "employeeNumber": "701984",
        "department": "Tour Operations",
        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"},
    },
}


def matches(text: str, document: dict = BJENSEN, schema: ResourceSchema = SCHEMA) -> bool:
    return evaluate(parse_filter(text), document, schema)


def rejects(text: str, pattern: str, document: dict = BJENSEN, schema: ResourceSchema = SCHEMA) -> None:
    with pytest.raises(InvalidFilterError, match=pattern):
        evaluate(parse_filter(text), document, schema)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "bjensen@example.com"', True),
        ("name.familyName co \"O'Malley\"", False),
        ('userName sw "B"', True),
        (f'{USER_URN}:userName sw "J"', False),
        ("title pr", True),
        ('meta.lastModified gt "2011-05-13T04:42:34Z"', False),
        ('meta.lastModified ge "2011-05-13T04:42:34Z"', True),
        ('meta.lastModified lt "2011-05-13T04:42:34Z"', False),
        ('meta.lastModified le "2011-05-13T04:42:34Z"', True),
        ('title pr and userType eq "Employee"', True),
        ('title pr or userType eq "Intern"', True),
        (f'schemas eq "{ENTERPRISE_USER_URN}"', True),
        ('userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', True),
        ('userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', False),
        ('userType eq "Employee" and (emails.type eq "work")', True),
        ('userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', True),
        ('emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]', True),
    ],
)
def test_rfc7644_example_filters_evaluate_against_the_rfc7643_example_user(text, expected):
    assert matches(text) is expected


# -- names and places --------------------------------------------------------------


def test_attribute_names_are_case_insensitive():
    assert matches('USERNAME eq "bjensen@example.com"')
    assert matches('NAME.GIVENNAME eq "Barbara"')
    assert matches('EMAILS[TYPE eq "home"]')


def test_document_keys_are_matched_case_insensitively():
    assert matches('username eq "x"', {"UserName": "x"})


def test_extension_attributes_are_read_under_their_urn():
    assert matches(f'{ENTERPRISE_USER_URN}:employeeNumber eq "701984"')
    assert matches(f'{ENTERPRISE_USER_URN.upper()}:manager.value sw "26118915"')
    assert not matches(f'{ENTERPRISE_USER_URN}:employeeNumber pr', {"employeeNumber": "701984"})


def test_core_attributes_may_be_qualified_with_the_core_urn():
    assert matches(f'{USER_URN}:name.familyName eq "jensen"')
    assert matches(f'{USER_URN}:id pr')


def test_unknown_attributes_are_rejected_naming_them():
    rejects('nickname2 eq "x"', "unknown attribute 'nickname2'")
    rejects('name.nope pr', "unknown attribute 'name.nope'")
    rejects(f'{ENTERPRISE_USER_URN}:userName pr', "unknown attribute")
    rejects('urn:example:other:title pr', "unknown attribute 'urn:example:other:title'")
    rejects('employeeNumber pr', "unknown attribute 'employeeNumber'")  # only under its URN


def test_errors_do_not_depend_on_the_document():
    rejects('title pr or bogus eq "x"', "unknown attribute 'bogus'")
    rejects('title eq "nope" and bogus eq "x"', "unknown attribute 'bogus'")
    rejects('active eq "maybe" or title pr', "boolean attribute 'active'", document={})


def test_attributes_never_returned_cannot_be_filtered():
    rejects('password eq "secret"', "'password' cannot be used in a filter", {"password": "secret"})


def test_schemas_is_a_case_insensitive_multi_valued_string():
    assert matches(f'schemas eq "{USER_URN.upper()}"')
    assert matches('schemas co "enterprise"')
    assert not matches(f'schemas ne "{USER_URN}"')
    assert matches(f'schemas ne "{ENTERPRISE_USER_URN}"', {"schemas": [USER_URN]})


def test_common_attributes_id_external_id_and_meta_are_filterable():
    assert matches('id eq "2819c223-7f76-453a-919d-413861904646"')
    assert matches('externalId eq "701984"')
    assert matches('meta.resourceType eq "User"')
    assert not matches('meta.resourceType eq "user"')  # caseExact (RFC 7643 §3.1)


# -- absence and pr -------------------------------------------------------------------


@pytest.mark.parametrize("absent", [None, "", [], {}])
def test_none_empty_string_empty_list_and_empty_object_count_as_absent(absent):
    assert not matches("title pr", {"title": absent})
    assert matches("title eq null", {"title": absent})
    assert not matches("emails pr", {"emails": absent})
    assert not matches("name pr", {"name": absent})


def test_missing_attributes_are_absent():
    assert not matches("title pr", {})
    assert not matches(f"{ENTERPRISE_USER_URN}:manager.value pr", {})


def test_pr_on_a_complex_attribute_needs_a_present_sub_attribute():
    assert not matches("name pr", {"name": {"givenName": "", "familyName": None}})
    assert matches("name pr", {"name": {"givenName": "B"}})
    assert not matches("name pr", {"name": {"undeclared": "x"}})


def test_pr_on_a_multi_valued_attribute_needs_one_present_element():
    assert not matches("emails pr", {"emails": [{}, {"value": ""}]})
    assert matches("emails pr", {"emails": [{}, {"type": "work"}]})
    assert not matches("emails.value pr", {"emails": [{"type": "work"}, {"value": None}]})
    assert matches("emails.value pr", {"emails": [{"type": "work"}, {"value": "x"}]})


def test_absent_values_match_no_comparison():
    for op in ("eq", "co", "sw", "ew", "gt", "ge", "lt", "le"):
        assert not matches(f'title {op} ""', {"title": ""})
        assert not matches(f'title {op} "a"', {})


# -- eq / ne / null ------------------------------------------------------------------------


def test_ne_is_not_eq_so_an_absent_attribute_matches_ne():
    assert matches('title ne "x"', {})
    assert matches('title ne "x"', {"title": "y"})
    assert not matches('title ne "X"', {"title": "x"})


def test_ne_on_a_multi_valued_attribute_means_no_element_equals():
    doc = {"emails": [{"type": "work"}, {"type": "home"}]}
    assert not matches('emails.type ne "work"', doc)
    assert matches('emails.type ne "other"', doc)
    assert matches('emails.type eq "home"', doc)


def test_eq_null_is_not_pr_and_ne_null_is_pr():
    assert matches("title eq null", {}) and not matches("title ne null", {})
    assert matches("title ne null", {"title": "x"}) and not matches("title eq null", {"title": "x"})
    assert matches("addresses eq null", {"addresses": [{"type": ""}]})
    assert matches("name ne null", BJENSEN)


@pytest.mark.parametrize("op", ["co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_operators_other_than_eq_and_ne_reject_null(op):
    rejects(f"title {op} null", f"operator '{op}' cannot compare 'title' with null")


# -- multi-valued and complex -----------------------------------------------------------------


def test_a_comparison_on_a_multi_valued_attribute_holds_when_any_element_matches():
    assert matches('emails.value eq "babs@jensen.org"')
    assert matches('emails.type eq "HOME"')
    assert not matches('emails.type eq "other"')


def test_a_complex_attribute_without_sub_attribute_compares_its_value():
    assert matches('emails co "jensen.org"')
    assert matches(f'{ENTERPRISE_USER_URN}:manager eq "26118915-6090-4610-87e4-49d8ca9f808d"')
    assert not matches('emails co "aim"')


def test_a_complex_attribute_without_a_value_sub_attribute_cannot_be_compared():
    rejects('name eq "Barbara"', "'name' is complex and has no 'value'")
    rejects('addresses co "Plaza"', "'addresses' is complex and has no 'value'")


def test_a_value_path_needs_one_element_to_satisfy_the_whole_filter():
    assert matches('emails[type eq "work" and value co "example.com"]')
    assert not matches('emails[type eq "home" and value co "example.com"]')
    assert matches('emails.type eq "home" and emails.value co "example.com"')  # different elements


def test_entra_value_path_sub_attribute_form_holds_for_the_same_element():
    assert matches('emails[type eq "work"].value eq "bjensen@example.com"')
    assert not matches('emails[type eq "home"].value eq "bjensen@example.com"')
    assert matches('addresses[type eq "work"].streetAddress co "universal"')


def test_a_value_path_on_a_single_complex_attribute_tests_its_one_value():
    assert matches(f'{ENTERPRISE_USER_URN}:manager[displayName sw "john"]')
    assert not matches('name[givenName eq "Babs"]')


def test_not_negates_a_value_path():
    assert matches('not (emails[type eq "other"])')
    assert not matches('not (emails[type eq "work"])')


def test_value_paths_need_a_complex_attribute():
    rejects('title[value eq "x"]', "'title' is not a complex attribute")
    rejects('schemas[value eq "x"]', "'schemas' is not a complex attribute")


def test_value_filters_name_sub_attributes_only():
    rejects('emails[display eq "x" and bogus pr]', "unknown attribute 'bogus' in the value filter of 'emails'")
    rejects('emails[value.sub pr]', "unknown attribute 'value.sub'")
    rejects(f'emails[{USER_URN}:value pr]', "unknown attribute")


# -- strings ----------------------------------------------------------------------------------


def test_case_insensitive_attributes_compare_lowered():
    assert matches('userName eq "BJENSEN@example.COM"')
    assert matches('displayName co "BABS"')
    assert matches('title sw "tOUR"')
    assert matches('title ew "GUIDE"')


def test_case_exact_attributes_compare_as_written():
    assert not matches('id eq "2819C223-7F76-453A-919D-413861904646"')
    assert matches('id sw "2819c223"')
    assert not matches('roles.value eq "r-1"')
    assert matches('roles.value eq "R-1"')


def test_ordering_on_strings_is_lexicographic_after_lowering():
    assert matches('title gt "tour"')
    assert matches('title lt "TOUR GUIDEZ"')
    assert not matches('id gt "3"')
    assert matches('title ge "TOUR GUIDE" and title le "tour guide"')


def test_a_number_literal_against_a_string_compares_its_string_form():
    assert matches("externalId eq 701984")
    assert matches(f"{ENTERPRISE_USER_URN}:employeeNumber sw 70")
    assert matches("title eq 1.5", {"title": "1.5"})


def test_a_boolean_literal_against_a_string_is_rejected():
    rejects("title eq true", "string attribute 'title' cannot be compared with true")


def test_unquoted_word_literals_compare_as_strings():
    assert matches("userType eq employee")


# -- booleans -----------------------------------------------------------------------------------


def test_booleans_compare_with_eq_and_ne():
    assert matches("active eq true")
    assert not matches("active ne true")
    assert matches("active ne false", {})
    assert matches("emails[primary eq true].value co \"example.com\"")


def test_booleans_accept_the_strings_true_and_false_in_any_case():
    assert matches('roles[primary eq "True"]')
    assert matches('active ne "FALSE"')


@pytest.mark.parametrize("op", ["co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_booleans_support_only_eq_ne_and_pr(op):
    rejects(f"active {op} true", f"'{op}'")


def test_booleans_reject_other_literals():
    rejects('active eq "yes"', "boolean attribute 'active' cannot be compared with 'yes'")
    rejects("active eq 1", "boolean attribute 'active' cannot be compared with 1")


# -- dateTime --------------------------------------------------------------------------------------


def test_datetimes_compare_as_instants_whatever_the_notation():
    assert matches('meta.lastModified eq "2011-05-13T06:42:34+02:00"')
    assert matches('meta.created eq "2010-01-23T04:56:22.000Z"')
    assert matches('meta.created lt "2010-01-23T04:56:22.5Z"')
    assert matches('meta.created gt "2010-01-23"')


def test_document_datetimes_may_be_datetime_objects_or_iso_strings_naive_meaning_utc():
    literal = 'meta.created eq "2010-01-23T04:56:22Z"'
    for value in (
        "2010-01-23T04:56:22Z",
        "2010-01-23T05:56:22+01:00",
        datetime(2010, 1, 23, 4, 56, 22),
        datetime(2010, 1, 23, 4, 56, 22, tzinfo=UTC),
        datetime(2010, 1, 23, 6, 56, 22, tzinfo=timezone(timedelta(hours=2))),
    ):
        assert matches(literal, {"meta": {"created": value}}), value


def test_an_unparseable_document_datetime_matches_no_comparison_but_is_present():
    doc = {"meta": {"created": "yesterday"}}
    assert not matches('meta.created lt "2100-01-01T00:00:00Z"', doc)
    assert matches("meta.created pr", doc)


def test_datetime_literals_must_be_iso_8601_strings():
    rejects('meta.created gt "yesterday"', "dateTime attribute 'meta.created' cannot be compared")
    rejects("meta.created gt 2011", "dateTime attribute 'meta.created' cannot be compared")


@pytest.mark.parametrize("op", ["co", "sw", "ew"])
def test_substring_operators_apply_to_strings_only(op):
    rejects(f'meta.created {op} "2011"', f"operator '{op}' applies to strings only")


# -- numbers (no core attribute is numeric: a schema of our own) -------------------------------------

NUMBERS = ResourceSchema(core=SchemaDefinition("urn:example:Thing", "Thing", attributes=(
    Attribute("count", type=INTEGER),
    Attribute("ratio", type=DECIMAL),
    Attribute("scores", type=INTEGER, multi_valued=True),
)))


def test_numbers_compare_numerically():
    doc = {"count": 10, "ratio": 0.5, "scores": [1, 20]}
    assert matches("count gt 9", doc, NUMBERS)
    assert matches("count eq 10.0", doc, NUMBERS)
    assert matches("ratio lt 1", doc, NUMBERS)
    assert matches("scores ge 20", doc, NUMBERS)
    assert not matches("scores eq 2", doc, NUMBERS)
    assert not matches("count eq 10", {"count": "10"}, NUMBERS)  # a string in the document is no number


def test_a_numeric_string_literal_compares_as_a_number():
    assert matches('count eq "10"', {"count": 10}, NUMBERS)


def test_a_non_numeric_literal_against_a_number_is_rejected():
    rejects('count eq "ten"', "numeric attribute 'count' cannot be compared with 'ten'", {}, NUMBERS)
    rejects("count eq true", "numeric attribute 'count'", {}, NUMBERS)
    rejects('count co "1"', "operator 'co' applies to strings only", {}, NUMBERS)


# -- element_matches (PATCH value paths) ---------------------------------------------------------------

MEMBERS = GROUP.attribute("members")


def value_filter(text: str):
    """The filter of a PATCH path, as the PATCH engine gets it."""
    return parse_path(text).filter


def test_element_matches_tests_one_element_of_a_multi_valued_attribute():
    element = {"value": "2819c223", "$ref": "https://example.com/Users/2819c223", "type": "User"}
    assert element_matches(value_filter('members[value eq "2819c223"]'), element, MEMBERS)
    assert not element_matches(value_filter('members[value eq "2819C223"]'), element, MEMBERS)  # caseExact
    assert element_matches(value_filter('members[type eq "user" and $ref ew "/2819c223"]'), element, MEMBERS)
    assert element_matches(value_filter("members[display eq null]"), element, MEMBERS)


def test_element_matches_rejects_paths_that_are_not_sub_attributes():
    for text in ('members[members.value eq "x"]', 'members[bogus eq "x"]', f'members[{USER_URN}:value eq "x"]'):
        with pytest.raises(InvalidFilterError, match="unknown attribute"):
            element_matches(value_filter(text), {}, MEMBERS)


def test_element_matches_rejects_nested_value_paths():
    nested = ValuePath(AttrPath("members"), Compare(AttrPath("value"), "eq", "x"))
    with pytest.raises(InvalidFilterError, match="cannot be nested"):
        element_matches(nested, {}, MEMBERS)


def test_element_matches_needs_a_complex_attribute():
    with pytest.raises(InvalidFilterError, match="not a complex attribute"):
        element_matches(parse_filter('value eq "x"'), "x", GROUP.attribute("displayName"))


# -- properties over generated filters and documents ------------------------------------------------------


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(filters(SCHEMA), documents(SCHEMA))
def test_generated_filters_evaluate_without_error_and_not_negates(f, document):
    assert evaluate(Not(f), document, SCHEMA) is (not evaluate(f, document, SCHEMA))


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(filters(GROUP_SCHEMA), documents(GROUP_SCHEMA))
def test_generated_group_filters_evaluate_the_same_after_a_round_trip_through_text(f, document):
    assert evaluate(parse_filter(unparse(f)), document, GROUP_SCHEMA) is evaluate(f, document, GROUP_SCHEMA)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(filters(SCHEMA), documents(SCHEMA))
def test_ne_is_the_negation_of_eq_for_every_generated_comparison(f, document):
    if isinstance(f, Compare) and f.op in ("eq", "ne"):
        flipped = Compare(f.path, "ne" if f.op == "eq" else "eq", f.value)
        assert evaluate(flipped, document, SCHEMA) is (not evaluate(f, document, SCHEMA))
