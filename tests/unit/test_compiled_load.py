"""The compiled load (schemas.messages.compile_load) gives what the wire schema's ``load`` gives.

A POST, PUT or PATCH body is loaded by a load compiled from the wire schema: the same fields, keys,
types and ``required`` checks, with marshmallow's machinery resolved once.  Whatever it cannot answer
exactly (an error above all) is loaded again by marshmallow, so an outcome, a value or an error with
its messages, is marshmallow's own.  These tests compare the two on generated bodies and on the cases
that must go back to marshmallow.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import RAISE, Schema, ValidationError, fields, missing, post_load, pre_load, validate, validates

from flask_scim_entitlements.schemas.base import ScimSchema, attr
from flask_scim_entitlements.schemas.core import GroupSchema, UserSchema
from flask_scim_entitlements.schemas.messages import compile_load, resource_wire_schema

TEAM_URN = "urn:example:scim:schemas:extension:team:1.0:User"


class TeamSchema(ScimSchema):
    team = attr(fields.String)
    level = attr(fields.Integer)
    lead = attr(fields.Boolean)


USER_WIRE = resource_wire_schema("User", UserSchema, {TEAM_URN: TeamSchema})
GROUP_WIRE = resource_wire_schema("Group", GroupSchema, {})


def _outcome(load: Any, body: Any) -> tuple[str, Any]:
    try:
        return "loaded", load(body)
    except ValidationError as exc:
        return "error", exc.messages


def _both(schema: Schema, body: Any, partial: tuple[str, ...] = ()) -> tuple[Any, Any]:
    return _outcome(lambda b: schema.load(b, partial=partial), body), _outcome(compile_load(schema, partial), body)


_scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "true", "False", "1"]),
                     st.floats(allow_nan=False, allow_infinity=False))
_values = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.sampled_from(["value", "type", "primary", "display", "givenName", "familyName", "team",
                                     "level", "lead", "junk"]), inner, max_size=4)), max_leaves=8)


def _bodies(schema: Schema) -> st.SearchStrategy[Any]:
    keys = [f.data_key or name for name, f in schema.load_fields.items()] + ["unknownKey", "USERNAME"]
    bodies = st.dictionaries(st.sampled_from(keys), _values, max_size=8)
    return st.one_of(bodies, bodies.map(lambda b: {"userName": "bjensen", **b}), _values)


@settings(max_examples=400, deadline=None)
@given(body=_bodies(USER_WIRE))
def test_a_generated_user_body_loads_through_the_compiled_load_as_through_marshmallow(body: Any) -> None:
    expected, got = _both(USER_WIRE, body)
    assert got == expected


@settings(max_examples=200, deadline=None)
@given(body=_bodies(GROUP_WIRE))
def test_a_generated_group_body_loads_through_the_compiled_load_as_through_marshmallow(body: Any) -> None:
    expected, got = _both(GROUP_WIRE, body)
    assert got == expected


def test_an_okta_create_body_is_loaded_without_marshmallow_and_extensions_land_under_their_urn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", TEAM_URN], "userName": "isabella@example.com",
            "name": {"givenName": "Isabella", "familyName": "Hale"}, "active": True, "externalId": "00u1",
            "emails": [{"primary": True, "value": "isabella@example.com", "type": "work"}],
            "groups": [], "password": "s3cr3t!", TEAM_URN: {"team": "Platform", "level": 3}}
    expected = USER_WIRE.load(body)
    assert expected[TEAM_URN] == {"team": "Platform", "level": 3}
    load = compile_load(USER_WIRE)
    monkeypatch.setattr(USER_WIRE, "load", lambda *a, **k: pytest.fail("went back to marshmallow"))
    assert load(body) == expected


@pytest.mark.parametrize("body", [
    {"name": {"givenName": 3}},  # a nested value a field refuses
    {"userName": "a", "emails": [{"value": "a@b"}, None]},  # an item that may not be null
    {"userName": "a", "active": "maybe"},
    {"userName": "a", "emails": {"value": "a@b"}},  # an object where a list is expected
    {"userName": "a", TEAM_URN: ["x"]},
    [],
    "text",
])
def test_a_body_marshmallow_refuses_gets_marshmallows_own_messages(body: Any) -> None:
    expected, got = _both(USER_WIRE, body)
    assert expected[0] == "error"
    assert got == expected


def test_a_missing_required_attribute_named_in_partial_is_not_required() -> None:
    assert _both(USER_WIRE, {"displayName": "x"}, ("userName",)) == (("loaded", {"displayName": "x"}),) * 2
    assert _both(USER_WIRE, {"displayName": "x"})[1][0] == "error"


def test_values_marshmallow_converts_are_converted_as_marshmallow_converts_them() -> None:
    body = {"userName": "a", "active": "true", TEAM_URN: {"level": "4", "lead": 1}, "emails": [{"primary": "False"}]}
    expected, got = _both(USER_WIRE, body)
    assert expected == ("loaded", {"userName": "a", "active": True, "emails": [{"primary": False}],
                                   TEAM_URN: {"level": 4, "lead": True}})
    assert got == expected


class _Strict(ScimSchema):
    class Meta:
        unknown = RAISE

    code = attr(fields.String)


class _Validated(ScimSchema):
    code = attr(fields.String, validate=validate.Length(max=3))
    on = attr(fields.Boolean(truthy={"yes"}, falsy={"no"}))
    tagged = attr(fields.String, load_default="none")


class _Hooked(ScimSchema):
    code = attr(fields.String)

    @pre_load
    def upper(self, data: Any, **_: Any) -> Any:
        return {k: v.upper() if isinstance(v, str) else v for k, v in data.items()}

    @validates("code")
    def not_x(self, value: Any, **_: Any) -> None:
        if value == "X":
            raise ValidationError("no X")

    @post_load
    def tag(self, data: Any, **_: Any) -> Any:
        return {**data, "tagged": True}


@pytest.mark.parametrize("extension", [_Strict, _Validated, _Hooked])
@pytest.mark.parametrize("value", [{"code": "ab"}, {"code": "abcd"}, {"code": "x", "other": 1}, {"on": True},
                                   {"on": "yes"}, {}])
def test_what_a_host_schema_declares_hooks_validators_strictness_defaults_applies_as_marshmallow_applies_it(
        extension: type[Schema], value: Any) -> None:
    wire = resource_wire_schema("User", UserSchema, {TEAM_URN: extension})
    expected, got = _both(wire, {"userName": "a", TEAM_URN: value})
    assert got == expected
    top = extension()
    assert _both(top, value) == (_outcome(top.load, value), _outcome(compile_load(top), value))
    assert _outcome(compile_load(top), value) == _outcome(top.load, value)


class _Trimmed(fields.String):
    """A host field reading what marshmallow hands it: the key and the whole object."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        return f"{attr}:{value.strip()}:{data.get('kind', '-')}"


class _Loose(ScimSchema):
    nick = attr(fields.String(post_load=[lambda v: v.strip() or missing]))
    code = attr(fields.Function(deserialize=lambda v: v or missing))
    tag = attr(_Trimmed)
    kind = attr(fields.String)


@pytest.mark.parametrize("value", [{"nick": "  ", "code": ""}, {"nick": " a ", "code": "x"},
                                   {"tag": " t ", "kind": "k"}, {"tag": " t "}])
def test_a_value_a_field_loads_as_nothing_is_left_out_and_a_field_gets_its_key_and_object_as_from_marshmallow(
        value: Any) -> None:
    wire = resource_wire_schema("User", UserSchema, {TEAM_URN: _Loose})
    expected, got = _both(wire, {"userName": "a", TEAM_URN: value})
    assert got == expected


class _Required(ScimSchema):
    code = attr(fields.String, required=True)

    @post_load
    def tag(self, data: Any, **_: Any) -> Any:
        return data


def test_a_nested_schema_made_partial_by_the_host_still_requires_what_marshmallow_requires() -> None:
    """marshmallow hands a nested field the parent's partial (empty), not the nested schema's own."""
    wire = resource_wire_schema("User", UserSchema, {TEAM_URN: _Required(partial=True)})
    expected, got = _both(wire, {"userName": "a", TEAM_URN: {}})
    assert expected[0] == "error"
    assert got == expected


def test_dotted_partial_names_reach_the_nested_schema_as_marshmallow_passes_them() -> None:
    wire = resource_wire_schema("User", UserSchema, {TEAM_URN: _Required})
    top = type("Top", (ScimSchema,), {"team": attr(fields.Nested(_Required)), "name": attr(fields.String)})()
    for partial in [(), ("team.code",), ("team",)]:
        expected, got = _both(top, {"name": "x", "team": {}}, partial)
        assert got == expected
    assert _both(wire, {"userName": "a", TEAM_URN: {}})[0][0] == "error"


class _Ordered(ScimSchema):
    code = attr(fields.String)

    def load(self, data: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return super().load({k: v.strip() if isinstance(v, str) else v for k, v in data.items()}, **kwargs)


class _Tagged(dict):  # type: ignore[type-arg]
    pass


def test_a_schema_with_its_own_load_or_dict_class_is_loaded_by_marshmallow() -> None:
    stripped = _Ordered()
    assert _outcome(compile_load(stripped), {"code": " x "}) == _outcome(stripped.load, {"code": " x "}) \
        == ("loaded", {"code": "x"})
    tagged = type("TaggedSchema", (ScimSchema,), {"dict_class": _Tagged, "code": attr(fields.String)})()
    assert type(compile_load(tagged)({"code": "x"})) is type(tagged.load({"code": "x"})) is _Tagged


def test_the_views_keep_a_compiled_load_on_its_schema_and_it_goes_with_the_schema(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc
    import weakref
    from types import SimpleNamespace

    from flask_scim_entitlements.views import resources

    schemas = [resource_wire_schema("User", UserSchema, {TEAM_URN: TeamSchema})]
    monkeypatch.setattr(resources, "_state", lambda: SimpleNamespace(wire_schema=lambda rt: schemas[0]))
    rt = SimpleNamespace(schema=SimpleNamespace(core=SimpleNamespace(attributes=())))
    load = resources._loader(rt)  # type: ignore[arg-type]
    assert resources._loader(rt) is load  # type: ignore[arg-type]
    assert load({"userName": "a"}) == {"userName": "a"}
    ref = weakref.ref(schemas[0])
    schemas.clear()
    del load
    gc.collect()
    assert ref() is None
