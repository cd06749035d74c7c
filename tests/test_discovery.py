"""Discovery: /ServiceProviderConfig, /ResourceTypes and /Schemas are generated from the registry."""

from __future__ import annotations

from urllib.parse import quote

from .conftest import Scim

CHARACTERISTIC_EXT = "urn:bestapps:scim:schemas:extension:todoapp:1.0:Characteristic"


def test_service_provider_config_advertises_only_what_is_implemented(scim: Scim) -> None:
    body = scim.get("/ServiceProviderConfig").get_json()
    assert body["patch"] == {"supported": True}
    assert body["bulk"]["supported"] is False
    assert body["filter"] == {"supported": True, "maxResults": 1000}
    assert body["changePassword"]["supported"] is True  # the example app maps password to a setter
    assert [s["type"] for s in body["authenticationSchemes"]] == ["oauthbearertoken"]


def test_discovery_endpoints_require_a_credential(client) -> None:  # type: ignore[no-untyped-def]
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Roles"):
        response = client.get("/scim/v2" + path)
        assert response.status_code == 401, path
        assert response.get_json()["status"] == "401"


def test_resource_types_list_user_group_role_and_each_entitlement_type_with_id_equal_to_name(scim: Scim) -> None:
    body = scim.get("/ResourceTypes").get_json()
    by_id = {rt["id"]: rt for rt in body["Resources"]}
    assert set(by_id) == {"User", "Group", "Role", "Characteristic"}
    assert body["totalResults"] == 4 and body["itemsPerPage"] == 4
    for rt in body["Resources"]:
        assert rt["id"] == rt["name"]
        assert rt["meta"]["location"].endswith(f"/scim/v2/ResourceTypes/{rt['id']}")
    assert by_id["Role"]["schema"] == "urn:okta:scim:schemas:core:1.0:Role"
    assert by_id["Role"]["endpoint"] == "/Roles"
    assert by_id["Characteristic"]["schema"] == "urn:okta:scim:schemas:core:1.0:Entitlement"
    assert by_id["Characteristic"]["endpoint"] == "/Characteristics"
    assert by_id["Characteristic"]["schemaExtensions"] == [{"schema": CHARACTERISTIC_EXT, "required": True}]
    assert scim.get("/ResourceTypes/Characteristic").get_json()["endpoint"] == "/Characteristics"
    assert scim.get("/ResourceTypes/Nope").status_code == 404


def test_schemas_include_user_with_roles_and_entitlements_and_every_extension(scim: Scim) -> None:
    body = scim.get("/Schemas").get_json()
    ids = {s["id"] for s in body["Resources"]}
    assert {"urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:Group",
            "urn:okta:scim:schemas:core:1.0:Role", "urn:okta:scim:schemas:core:1.0:Entitlement",
            CHARACTERISTIC_EXT} <= ids
    user = next(s for s in body["Resources"] if s["id"].endswith(":User") and "core:2.0" in s["id"])
    attrs = {a["name"]: a for a in user["attributes"]}
    assert {"roles", "entitlements", "groups", "userName", "password"} <= set(attrs)
    assert attrs["userName"]["caseExact"] is False and attrs["userName"]["uniqueness"] == "server"
    assert attrs["password"]["returned"] == "never" and attrs["password"]["mutability"] == "writeOnly"
    assert attrs["groups"]["mutability"] == "readOnly"
    assert "nickName" not in attrs  # not mapped by the example app: not advertised


def test_schema_by_urn_resolves_the_url_encoded_urn_and_404s_unknown_ones(scim: Scim) -> None:
    ext = scim.get("/Schemas/" + CHARACTERISTIC_EXT).get_json()
    assert ext["id"] == CHARACTERISTIC_EXT
    assert [a["name"] for a in ext["attributes"]] == ["category"]
    encoded = scim.get("/Schemas/" + quote(CHARACTERISTIC_EXT, safe=""))
    assert encoded.status_code == 200 and encoded.get_json()["id"] == CHARACTERISTIC_EXT
    missing = scim.get("/Schemas/urn:nope:nope")
    assert missing.status_code == 404 and missing.get_json()["status"] == "404"


def test_every_list_response_comes_from_the_list_response_schema() -> None:
    """RFC 7644 §3.4.2: the URN first, integer counters, ``itemsPerPage`` the number of resources sent."""
    from flask_scim_entitlements.schemas.messages import LIST_RESPONSE_URN, list_response

    body = list_response([{"id": "1"}, {"id": "2"}], 7, 3)
    assert list(body) == ["schemas", "totalResults", "startIndex", "itemsPerPage", "Resources"]
    assert body == {"schemas": [LIST_RESPONSE_URN], "totalResults": 7, "startIndex": 3, "itemsPerPage": 2,
                    "Resources": [{"id": "1"}, {"id": "2"}]}
