"""A filter compiles to a plan: its shape picks a statement built once, its values are bound per request.

(flask_scim_entitlements.filters.plan; Store.search.)  Okta looks a user up by ``userName eq "..."``
before every create: each lookup has a new value and the same shape, so after the first one no
SQL expression is built.  These tests pin that the reuse happens, that it never changes a
result, and that a decision the compiler takes from a value makes a shape of its own.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flask_scim_entitlements.errors import InvalidFilterError
from flask_scim_entitlements.filters import plan
from flask_scim_entitlements.filters.ast import And, Compare, Not, Or, ValuePath
from flask_scim_entitlements.filters.compiler import FilterCompiler
from flask_scim_entitlements.filters.parser import parse_filter
from flask_scim_entitlements.store import SHAPED_STATEMENTS

from .conftest import Scim, new_user
from .strategies import filters

TODO_USER_URN = "urn:bestapps:scim:schemas:extension:todoapp:1.0:User"


def _shape(app: Any, text: str, dialect: str = "sqlite") -> tuple[Any, list[Any]]:
    with app.app_context():
        registry = app.extensions["scim_entitlements"].registry
        return plan.shape(FilterCompiler(registry, registry.user, dialect).to_plan(parse_filter(text)))


def _statements(app: Any) -> dict[Any, Any]:
    registry = app.extensions["scim_entitlements"].registry
    return registry.__dict__.setdefault("_shaped_statements", {})


def _names(scim: Scim, text: str) -> list[str]:
    r = scim.get("/Users", query_string={"filter": text})
    assert r.status_code == 200, r.get_json()
    return sorted(u["userName"] for u in r.get_json()["Resources"])


def test_two_lookups_of_different_users_share_one_statement_and_each_finds_its_own(app: Any, scim: Scim) -> None:
    for name in ("ann@example.com", "bob@example.com", "cy@example.com"):
        new_user(scim, name)
    _statements(app).clear()
    assert _names(scim, 'userName eq "ANN@example.com"') == ["ann@example.com"]
    assert _names(scim, 'userName eq "bob@example.com"') == ["bob@example.com"]
    assert _names(scim, 'userName eq "nobody@example.com"') == []
    pages = [key for key in _statements(app) if key[0] == "page"]
    assert len(pages) == 1


def test_filters_of_one_shape_have_one_key_and_their_values_apart(app: Any) -> None:
    key_a, values_a = _shape(app, 'userName eq "a@x" and active eq true')
    key_b, values_b = _shape(app, 'userName eq "b@y" and active eq "False"')
    assert key_a == key_b
    assert values_a != values_b
    assert "b@y" in values_b and False in values_b  # Entra's "False" is bound as the boolean it means


@pytest.mark.parametrize(("one", "other"), [
    ('id eq "1"', 'id eq "not-a-number"'),  # an id that does not parse matches nothing: a constant
    # eq on a whole second is a one-second range; on a fraction of one, nothing shown can equal it
    ('meta.lastModified eq "2026-01-01T00:00:00Z"', 'meta.lastModified eq "2026-01-01T00:00:00.5Z"'),
    ('meta.resourceType eq "User"', 'meta.resourceType eq "Group"'),  # decided by the compiler
    ('userName eq "a"', 'userName co "a"'),
    ('userName eq "a"', "userName pr"),
    ('userName eq "a"', 'displayName eq "a"'),
])
def test_a_decision_the_compiler_takes_from_a_value_gives_another_shape(app: Any, one: str, other: str) -> None:
    assert _shape(app, one)[0] != _shape(app, other)[0]


def test_a_value_filter_on_a_link_keeps_its_shape_across_requests(app: Any) -> None:
    """Joins and correlations are built once per registry: the same objects each time, so the key recurs."""
    assert _shape(app, 'roles[value eq "1"]')[0] == _shape(app, 'roles[value eq "2"]')[0]
    assert _shape(app, 'emails[type eq "work"]')[0] == _shape(app, 'emails[type eq "home"]')[0]


def test_a_shared_statement_gives_the_same_results_as_a_fresh_one(app: Any, scim: Scim) -> None:
    new_user(scim, "dee@example.com", active=True, emails=[{"value": "dee@work.example", "type": "work"}])
    new_user(scim, "eve@example.com", active=False, emails=[{"value": "eve@home.example", "type": "home"}])
    cases = [('active eq true', ["dee@example.com"]), ('active eq "False"', ["eve@example.com"]),
             ('emails[type eq "home"]', ["eve@example.com"]), ('emails[type eq "work"]', ["dee@example.com"]),
             ('userName sw "d" or userName sw "e"', ["dee@example.com", "eve@example.com"]),
             ('userName sw "e" or userName sw "x"', ["eve@example.com"])]
    ours = {"dee@example.com", "eve@example.com"}  # the example app seeds users of its own
    for text, expected in cases * 2:  # the second time round, every statement comes from the memo
        assert [name for name in _names(scim, text) if name in ours] == expected, text


def test_a_full_page_counts_through_a_shared_statement_too(app: Any, scim: Scim) -> None:
    for i in range(3):
        new_user(scim, f"page{i}@example.com")
    for prefix in ("page", "PAGE"):
        r = scim.get("/Users", query_string={"filter": f'userName sw "{prefix}"', "count": 2})
        body = r.get_json()
        assert body["totalResults"] == 3 and body["itemsPerPage"] == 2


def test_the_memo_of_shapes_is_bounded(app: Any, scim: Scim) -> None:
    """Clients choose the shapes (``a or b or c ...``): the memo starts over rather than grow without end."""
    memo = _statements(app)
    memo.clear()
    memo.update({("filler", i): None for i in range(SHAPED_STATEMENTS)})
    assert _names(scim, 'userName eq "x@example.com"') == []
    assert len(memo) == 1


def test_a_plan_bound_inline_is_the_condition_the_compiler_gives(app: Any) -> None:
    with app.app_context():
        registry = app.extensions["scim_entitlements"].registry
        compiler = FilterCompiler(registry, registry.user, "sqlite")
        f = parse_filter('userName eq "Ann" and not (displayName co "x_%")')
        inline = compiler.compile(f)
        compiled = inline.compile(compile_kwargs={"literal_binds": True})
        assert "lower('Ann')" in str(compiled)
        assert "'%x\\_\\%%'" in str(compiled)  # LIKE wildcards in the value are escaped


# -- the memo of templates (FilterCompiler.shaped) ------------------------------------

#: Strings that steer the compiler's decisions: empty, case, digits (ids), date-times, booleans,
#: LIKE wildcards, the constants a mapping answers itself ("work", "User").
_STRINGS = st.one_of(st.sampled_from(["", "a", "A", "ann@example.com", "ANN@EXAMPLE.COM", "1", "42", "-1", "x1",
                                      "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.5Z", "true", "False", "%_\\",
                                      "work", "home", "User", "Group", "Todo-er", "urn:x"]),
                     st.text(max_size=6))


def _with_strings(f: Any, strings: Any) -> Any:
    """``f`` with each string literal replaced by the next of ``strings``."""
    if isinstance(f, Compare):
        return Compare(f.path, f.op, next(strings)) if isinstance(f.value, str) else f
    if isinstance(f, (And, Or)):
        return type(f)(_with_strings(f.left, strings), _with_strings(f.right, strings))
    if isinstance(f, Not):
        return Not(_with_strings(f.expr, strings))
    if isinstance(f, ValuePath):
        return ValuePath(f.path, _with_strings(f.filter, strings))
    return f


def _planned(compile_: Any) -> Any:
    try:
        return compile_()
    except InvalidFilterError as exc:
        return "invalidFilter", exc.detail


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_a_plan_from_the_memo_of_templates_is_the_plan_compiled_afresh(app: Any, data: Any) -> None:
    """Two filters of one template, the second with other strings (empty, digits, date-times...): each is
    planned from the memo exactly as compiling it afresh plans it, error included, on both dialects."""
    with app.app_context():
        registry = app.extensions["scim_entitlements"].registry
        rt = registry.user
        first = data.draw(filters(rt.schema))
        second = _with_strings(first, iter(data.draw(st.lists(_STRINGS, min_size=40, max_size=40))))
        for dialect in ("sqlite", "postgresql"):
            registry.__dict__.pop("_filter_templates", None)
            for f in (first, second, first):
                compiler = FilterCompiler(registry, rt, dialect)
                fresh = _planned(lambda c=compiler, f=f: plan.shape(c.to_plan(f)))
                memo = _planned(lambda c=compiler, f=f: c.shaped(f))
                assert memo == fresh, (dialect, f)
                if isinstance(memo, tuple) and memo[0] != "invalidFilter":
                    assert [type(value) for value in memo[1]] == [type(value) for value in fresh[1]]


def test_an_okta_lookup_is_planned_from_the_memo_after_the_first(app: Any, monkeypatch: Any) -> None:
    with app.app_context():
        registry = app.extensions["scim_entitlements"].registry
        registry.__dict__.pop("_filter_templates", None)
        first = FilterCompiler(registry, registry.user, "sqlite").shaped(parse_filter('userName eq "ann@x"'))
        monkeypatch.setattr(FilterCompiler, "_compile", lambda *_: pytest.fail("compiled again"))
        second = FilterCompiler(registry, registry.user, "sqlite").shaped(parse_filter('userName eq "Bob@y"'))
    assert first[0] == second[0] and "ann@x" in first[1] and "Bob@y" in second[1] and "ann@x" not in second[1]


@pytest.mark.parametrize("text", ['id eq "1"', 'meta.lastModified eq "2026-01-01T00:00:00Z"',
                                  'userName co "a"', 'meta.resourceType eq "User"', 'active eq "true"'])
def test_a_filter_whose_strings_steer_the_compiler_is_compiled_each_time(app: Any, text: str) -> None:
    with app.app_context():
        registry = app.extensions["scim_entitlements"].registry
        registry.__dict__.pop("_filter_templates", None)
        FilterCompiler(registry, registry.user, "sqlite").shaped(parse_filter(text))
        assert registry.__dict__["_filter_templates"] == {}
