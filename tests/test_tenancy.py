"""Tenant isolation: a token of tenant B sees nothing of tenant A, and cannot touch it."""

from __future__ import annotations

from typing import Any

import pytest

from flask_scim_entitlements import current_scim

from .conftest import Scim, issue_token, new_user

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def other(app: Any, client: Any) -> Scim:
    return Scim(client, issue_token(app, "rival.example"))


def test_another_tenants_user_is_404_for_every_method(scim: Scim, other: Scim) -> None:
    uid = new_user(scim)["id"]
    assert other.get(f"/Users/{uid}").status_code == 404
    assert other.put(f"/Users/{uid}", {"userName": "x"}).status_code == 404
    assert other.patch(f"/Users/{uid}", {"schemas": [PATCH], "Operations": [
        {"op": "replace", "value": {"active": False}}]}).status_code == 404
    assert other.delete(f"/Users/{uid}").status_code == 404
    assert scim.get(f"/Users/{uid}").get_json()["active"] is True


def test_lists_filters_and_searches_see_only_the_callers_tenant(scim: Scim, other: Scim) -> None:
    user = new_user(scim)
    assert other.get("/Users").get_json()["totalResults"] == 0
    assert other.get(f'/Users?filter=userName eq "{user["userName"]}"').get_json()["totalResults"] == 0
    search = other.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                           "filter": f'id eq "{user["id"]}"'})
    assert search.status_code == 200 and search.get_json()["totalResults"] == 0


def test_the_same_user_name_may_exist_in_two_tenants(scim: Scim, other: Scim) -> None:
    new_user(scim, "shared@example.com")
    new_user(other, "shared@example.com")


def test_another_tenants_user_cannot_be_added_to_my_group(scim: Scim, other: Scim) -> None:
    theirs = new_user(scim)["id"]
    r = other.post("/Groups", {"schemas": [GROUP], "displayName": "Mine", "members": [{"value": theirs}]})
    assert r.status_code == 400 and r.get_json()["scimType"] == "invalidValue"
    assert other.get("/Groups").get_json()["totalResults"] == 0


def test_errors_do_not_reveal_whether_another_tenants_id_exists(scim: Scim, other: Scim) -> None:
    uid = new_user(scim)["id"]
    existing = other.get(f"/Users/{uid}").get_json()
    missing = other.get("/Users/987654").get_json()
    assert existing["status"] == missing["status"] == "404"
    assert existing["detail"].replace(uid, "ID") == missing["detail"].replace("987654", "ID")


def test_a_revoked_token_is_rejected(app: Any, client: Any) -> None:
    token = issue_token(app, "gridco.example")
    with app.app_context():
        assert current_scim.revoke_token(token=token)
    r = Scim(client, token).get("/Users")
    assert r.status_code == 401 and r.get_json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


@pytest.mark.parametrize("header", ["Bearer {t}", "bearer {t}", "{t}", "BEARER   {t}"])
def test_bearer_and_bare_tokens_are_accepted_as_okta_header_auth_sends_them(client: Any, token: str,
                                                                           header: str) -> None:
    r = client.get("/scim/v2/Users", headers={"Authorization": header.format(t=token)})
    assert r.status_code == 200


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "Basic Zm9vOmJhcg==", "Token a b"])
def test_missing_or_bad_credentials_are_401_scim_errors(client: Any, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    r = client.get("/scim/v2/Users", headers=headers)
    assert r.status_code == 401
    assert r.content_type.startswith("application/scim+json")
    assert r.get_json()["detail"] and r.get_json()["status"] == "401"


def test_tokens_are_stored_hashed_never_in_plain_text(app: Any, token: str) -> None:
    import sqlalchemy as sa

    with app.app_context():
        state = app.extensions["scim_entitlements"]
        rows = state.db.session.execute(sa.select(state.tokens.table)).mappings().all()
    assert rows and all(token not in str(dict(row).values()) for row in rows)
    assert token.startswith("scimfse_")


def test_token_rotation_keeps_two_live_tokens_until_the_old_one_is_revoked(app: Any, client: Any) -> None:
    old, new = issue_token(app, "gridco.example"), issue_token(app, "gridco.example")
    assert Scim(client, old).get("/Users").status_code == 200
    assert Scim(client, new).get("/Users").status_code == 200
    with app.app_context():
        assert current_scim.revoke_token(token=old)
    assert Scim(client, old).get("/Users").status_code == 401
    assert Scim(client, new).get("/Users").status_code == 200


def test_cli_creates_lists_and_revokes_tokens(app: Any) -> None:
    runner = app.test_cli_runner()
    created = runner.invoke(args=["scim", "create-token", "--tenant", "cli.example", "--create", "--name", "Okta prod"])
    assert created.exit_code == 0, created.output
    token = created.output.strip().splitlines()[-1]  # the token is the last line of stdout
    assert token.startswith("scimfse_")
    listed = runner.invoke(args=["scim", "list-tokens", "--tenant", "cli.example"])
    assert "cli.example" in listed.output and token not in listed.output and "active" in listed.output
    token_id = listed.output.split()[0]
    client = app.test_client()
    assert client.get("/scim/v2/Users", headers={"Authorization": token}).status_code == 200
    assert runner.invoke(args=["scim", "revoke-token", token_id]).exit_code == 0
    assert client.get("/scim/v2/Users", headers={"Authorization": token}).status_code == 401
    assert runner.invoke(args=["scim", "revoke-token", token_id]).exit_code != 0
