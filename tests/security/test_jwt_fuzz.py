"""OAuth access tokens (JWT) are unauthenticated input: whatever their header and claims hold, the answer
is a 401 SCIM error (or a 200 for a token the configured key really signed with valid claims), never a 500.

The key set holds RSA keys only, as an Okta or Entra issuer publishes; the host allows every algorithm
family (``HS256`` included), so that each one reaches the key-type check.  Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import example_app
from .conftest import assert_scim_error

ISSUER = "https://auth.example.test/"
AUDIENCE = "https://todo.example.test/scim/v2"
ALGORITHMS = ["RS256", "RS512", "PS256", "ES256", "ES384", "EdDSA", "HS256", "HS512"]
EXAMPLES = int(os.environ.get("SCIM_FUZZ_EXAMPLES", "250"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_EC = ec.generate_private_key(ec.SECP256R1())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwk(key: Any, kid: str) -> dict[str, Any]:
    return {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key())), "kid": kid, "use": "sig"}


@pytest.fixture
def jwt_app(database_url: str) -> Iterator[Any]:
    with example_app(database_url, SCIM_OAUTH_ISSUER=ISSUER, SCIM_OAUTH_AUDIENCE=AUDIENCE,
                     SCIM_OAUTH_ALGORITHMS=ALGORITHMS,
                     SCIM_OAUTH_JWKS={"keys": [_jwk(KEY, "k1"), _jwk(OTHER_RSA, "k2-unused")]}) as app:
        yield app


def _claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "okta", "tenant": "gridco.example", "iat": now,
            "exp": now + 300, **extra}


def _sign(header: Any, claims: Any, signer: str) -> str:
    """A compact JWS with exactly ``header`` and ``claims`` (PyJWT would normalise them), signed as asked."""
    head = _b64(json.dumps(header).encode() if not isinstance(header, bytes) else header)
    body = _b64(json.dumps(claims).encode() if not isinstance(claims, bytes) else claims)
    signing_input = f"{head}.{body}".encode()
    if signer == "key":
        signature = KEY.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif signer == "other-rsa":
        signature = OTHER_RSA.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif signer == "other-ec":
        signature = OTHER_EC.sign(signing_input, ec.ECDSA(hashes.SHA256()))
    elif signer == "hmac-public-key":  # the classic confusion: HMAC keyed with the public key's PEM
        import hashlib
        import hmac

        from cryptography.hazmat.primitives import serialization

        pem = KEY.public_key().public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        signature = hmac.new(pem, signing_input, hashlib.sha256).digest()
    elif signer == "empty":
        signature = b""
    else:
        signature = os.urandom(64)
    return f"{head}.{body}.{_b64(signature)}"


def _call(app: Any, token: str) -> Any:
    return app.test_client().get("/scim/v2/Users", headers={"Authorization": f"Bearer {token}",
                                                            "Accept": "application/scim+json"})


def _unauthorised(response: Any, token: str) -> None:
    assert response.status_code == 401, (response.status_code, response.get_data()[:300], token[:300])
    assert_scim_error(401, response.get_data(), token[:300])


@pytest.mark.parametrize("alg", ["ES256", "ES384", "HS256", "HS512", "EdDSA", "PS256", "RS512", "none",
                                 "XX999", ""])
@pytest.mark.parametrize("signer", ["random", "other-ec", "hmac-public-key", "empty", "other-rsa"])
def test_a_token_whose_algorithm_does_not_fit_the_key_set_is_401_not_500(
        jwt_app: Any, fuzz_counter: Counter[str], alg: str, signer: str) -> None:
    token = _sign({"alg": alg, "kid": "k1", "typ": "JWT"}, _claims(), signer)
    fuzz_counter["jwt"] += 1
    _unauthorised(_call(jwt_app, token), token)


def test_the_genuine_token_is_still_accepted(jwt_app: Any) -> None:
    """The control for the tests around it: a token the configured key signed, with valid claims, is a 200."""
    token = _sign({"alg": "RS256", "kid": "k1", "typ": "JWT"}, _claims(), "key")
    assert _call(jwt_app, token).status_code == 200
    assert _call(jwt_app, _sign({"alg": "RS256", "typ": "JWT"}, _claims(), "key")).status_code == 200


@pytest.mark.parametrize("header", [
    {"alg": "RS256", "kid": "k1", "crit": ["exp"], "exp": 1},
    {"alg": "RS256", "kid": {"nested": {"deeper": ["k1"]}}},
    {"alg": "RS256", "kid": ["k1"]},
    {"alg": "RS256", "kid": 1},
    {"alg": ["RS256"], "kid": "k1"},
    {"alg": None, "kid": "k1"},
    {"alg": "RS256", "kid": "k1" * 20_000},
    {"alg": "RS256", "kid": "nosuch"},
], ids=lambda h: json.dumps(h)[:50])
def test_a_token_signed_by_the_key_but_with_a_hostile_header_is_401(jwt_app: Any, header: dict[str, Any]) -> None:
    token = _sign(header, _claims(), "key")
    _unauthorised(_call(jwt_app, token), token)


@pytest.mark.parametrize("claims", [
    _claims(tenant={"id": "gridco.example"}), _claims(tenant=["gridco.example"]), _claims(tenant=True),
    _claims(tenant="x" * 50_000), _claims(exp="tomorrow"), _claims(exp=[1]),
    _claims(nbf={"a": 1}), _claims(iat="now"), _claims(iss=[ISSUER]), _claims(aud={"a": AUDIENCE}),
    _claims(aud=[1, None, {}]), ["not", "an", "object"], "a string", 7,
], ids=lambda c: json.dumps(c)[:50])
def test_a_token_signed_by_the_key_but_with_hostile_claims_is_401(jwt_app: Any, claims: Any) -> None:
    token = _sign({"alg": "RS256", "kid": "k1"}, claims, "key")
    _unauthorised(_call(jwt_app, token), token)


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
              st.sampled_from(["RS256", "ES256", "HS256", "none", "k1", ISSUER, AUDIENCE, "gridco.example"])),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=10)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.one_of(st.sampled_from([*ALGORITHMS, "none", "None", "RS1", "ES256K"]), JSON_VALUES),
        "kid": st.one_of(st.sampled_from(["k1", "k2-unused", "", "../../etc/passwd"]), JSON_VALUES,
                         st.integers(1, 30_000).map(lambda n: "k" * n)),
        "typ": st.one_of(st.sampled_from(["JWT", "at+jwt", "JOSE+JSON"]), JSON_VALUES),
        "crit": st.one_of(st.lists(st.sampled_from(["exp", "b64", "jku"]), max_size=2), JSON_VALUES),
        "jku": st.one_of(st.just("https://evil.test/jwks.json"), JSON_VALUES),
        "jwk": st.one_of(st.just(_jwk(OTHER_RSA, "k1")), JSON_VALUES),
        "x5u": st.one_of(st.just("https://evil.test/cert.pem"), JSON_VALUES),
        "x5c": JSON_VALUES, "b64": st.booleans(), "zip": st.just("DEF"),
        "nested": st.integers(1, 300).map(_nested),
    })
CLAIMS = st.one_of(
    st.builds(lambda base, extra: {**base, **extra}, st.just(_claims()),
              st.dictionaries(st.sampled_from(["iss", "aud", "exp", "nbf", "iat", "sub", "tenant", "jti"]),
                              st.one_of(JSON_VALUES, st.integers(1, 20_000).map(lambda n: "t" * n)), max_size=3)),
    JSON_VALUES)


@FUZZ
@given(header=st.one_of(HEADERS, JSON_VALUES), claims=CLAIMS,
       signer=st.sampled_from(["key", "key", "random", "other-rsa", "other-ec", "hmac-public-key", "empty"]))
def test_any_token_header_and_claims_are_401_or_genuine_never_500(jwt_app: Any, fuzz_counter: Counter[str],
                                                                 header: Any, claims: Any, signer: str) -> None:
    token = _sign(header, claims, signer)
    response = _call(jwt_app, token)
    fuzz_counter[f"jwt [{jwt_app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}]"] += 1
    fuzz_counter[f"status:{response.status_code}"] += 1
    genuine = (signer == "key" and isinstance(header, dict) and header.get("alg") == "RS256"
               and header.get("kid") in (None, "k1") and "crit" not in header and isinstance(claims, dict)
               and claims.get("tenant") == "gridco.example")
    if response.status_code == 200:
        assert genuine, (header, claims)
    else:
        _unauthorised(response, token)
