"""OAuth 2.0 access tokens (JWT) and per-tenant rate limits with an integer Retry-After."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from example_app import create_app
from example_app.commands import seed_data
from example_app.models import db

from .conftest import issue_token

ISSUER = "https://auth.example.test/"
AUDIENCE = "https://todo.example.test/scim/v2"


@pytest.fixture(scope="module")
def signing_key() -> Any:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _jwks(key: Any, kid: str = "k1") -> dict[str, Any]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "RS256"}]}


def _app(tmp_path: Any, **config: Any) -> Any:
    app = create_app({"TESTING": True, "SECRET_KEY": "s",
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'auth.sqlite3'}", **config})
    with app.app_context():
        db.create_all()
        seed_data()
    return app


@pytest.fixture
def oauth_app(tmp_path: Any, signing_key: Any) -> Iterator[Any]:
    app = _app(tmp_path, SCIM_OAUTH_ISSUER=ISSUER, SCIM_OAUTH_AUDIENCE=AUDIENCE, SCIM_OAUTH_JWKS=_jwks(signing_key))
    yield app
    with app.app_context():
        db.engine.dispose()


def _token(key: Any, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "okta", "tenant": "gridco.example", "iat": now,
            "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm="RS256",
                      headers={"kid": "k1"})


def test_a_valid_access_token_is_scoped_to_the_tenant_in_its_claim(oauth_app: Any, signing_key: Any) -> None:
    client = oauth_app.test_client()
    r = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {_token(signing_key)}"})
    assert r.status_code == 200 and r.get_json()["totalResults"] == 2
    other = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {_token(signing_key, tenant='x.test')}"})
    assert other.status_code == 401  # an unknown tenant is not created by a token


@pytest.mark.parametrize("claims", [
    {"aud": "https://another-api.test"}, {"iss": "https://evil.test/"}, {"exp": int(time.time()) - 10},
    {"tenant": None}, {"aud": None},
])
def test_access_tokens_with_a_wrong_claim_are_401(oauth_app: Any, signing_key: Any, claims: dict[str, Any]) -> None:
    r = oauth_app.test_client().get("/scim/v2/Users",
                                    headers={"Authorization": f"Bearer {_token(signing_key, **claims)}"})
    assert r.status_code == 401 and r.get_json()["status"] == "401"


def test_an_access_token_signed_by_another_key_is_401(oauth_app: Any) -> None:
    forged = _token(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    r = oauth_app.test_client().get("/scim/v2/Users", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def test_an_issuer_without_an_audience_is_a_configuration_error(tmp_path: Any, signing_key: Any) -> None:
    with pytest.raises(RuntimeError, match="AUDIENCE"):
        _app(tmp_path, SCIM_OAUTH_ISSUER=ISSUER, SCIM_OAUTH_JWKS=_jwks(signing_key))


def test_over_the_limit_is_429_with_an_integer_retry_after(tmp_path: Any) -> None:
    app = _app(tmp_path, SCIM_RATE_LIMIT="3/minute")
    token = issue_token(app, "gridco.example")
    other = issue_token(app, "rival.example")
    client = app.test_client()
    statuses = [client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"}).status_code
                for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    r = client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 429 and r.get_json()["status"] == "429"
    assert r.headers["Retry-After"].isdigit() and 1 <= int(r.headers["Retry-After"]) <= 60
    # Another tenant has its own budget.
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {other}"}).status_code == 200


def _redis_available() -> str | None:
    try:
        import redis

        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=2).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Redis not reachable at 127.0.0.1:6379: {type(exc).__name__}"


def test_rate_limits_are_shared_through_redis_across_apps(tmp_path: Any) -> None:
    reason = _redis_available()
    if reason:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    # Two app instances stand for two worker processes sharing one Redis.
    config = {"SCIM_RATE_LIMIT": "2/minute", "SCIM_RATE_LIMIT_STORAGE": "redis://127.0.0.1:6379/0"}
    first = _app(tmp_path, **config)
    token = issue_token(first, f"shared-{uuid.uuid4().hex[:8]}.example")
    second = create_app({"TESTING": True, "SECRET_KEY": "s", **config,
                         "SQLALCHEMY_DATABASE_URI": first.config["SQLALCHEMY_DATABASE_URI"]})
    headers = {"Authorization": f"Bearer {token}"}
    import redis

    # Org ids restart in every fresh database: forget counts left by an earlier run of this test.
    store = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    stale = list(store.scan_iter("*scim:*"))
    if stale:
        store.delete(*stale)
    assert first.test_client().get("/scim/v2/Users", headers=headers).status_code == 200
    assert second.test_client().get("/scim/v2/Users", headers=headers).status_code == 200
    assert first.test_client().get("/scim/v2/Users", headers=headers).status_code == 429


def test_http_basic_is_accepted_only_when_configured_with_the_token_as_password(tmp_path: Any) -> None:
    import base64

    app = _app(tmp_path, SCIM_BASIC_AUTH=True)
    token = issue_token(app, "gridco.example")
    client = app.test_client()
    good = base64.b64encode(f"okta:{token}".encode()).decode()
    bad = base64.b64encode(b"okta:wrong").decode()
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Basic {good}"}).status_code == 200
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Basic {bad}"}).status_code == 401
    schemes = client.get("/scim/v2/ServiceProviderConfig", headers={"Authorization": f"Bearer {token}"})
    assert "httpbasic" in [s["type"] for s in schemes.get_json()["authenticationSchemes"]]
    (tmp_path / "plain").mkdir()
    plain = _app(tmp_path / "plain")  # the default: Basic is off
    plain_token = issue_token(plain, "gridco.example")
    encoded = base64.b64encode(f"okta:{plain_token}".encode()).decode()
    assert plain.test_client().get("/scim/v2/Users", headers={"Authorization": f"Basic {encoded}"}).status_code == 401
