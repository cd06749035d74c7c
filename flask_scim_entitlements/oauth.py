"""OAuth 2.0 bearer access tokens (JWT), validated against a configured issuer, audience and JWKS.

Okta's OIN "OAuth 2" integrations and Entra's gallery apps send an access
token from the ISV's authorization server (interop.md §1.1).  The signature,
``iss``, ``aud``, ``exp`` and ``nbf`` are checked by PyJWT; the tenant comes
from a claim (``SCIM_OAUTH_TENANT_CLAIM``).  A token that fails any check is
simply not a credential: the request gets the usual 401.  Verification never
raises: the header's ``alg`` must be configured and match the key's type, a
``crit`` header is refused, and ``jku``/``jwk``/``x5u`` are never followed.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import jwt

from .auth import Principal

log = logging.getLogger(__name__)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")


class JwtVerifier:
    def __init__(self, *, issuer: str, audience: str, tenant_claim: str, algorithms: list[str],
                 jwks_url: str | None = None, jwks: dict[str, Any] | str | None = None) -> None:
        if not (jwks_url or jwks):
            raise RuntimeError("SCIM_OAUTH_ISSUER needs SCIM_OAUTH_JWKS_URL or SCIM_OAUTH_JWKS")
        self.issuer = issuer
        self.audience = audience
        self.tenant_claim = tenant_claim
        self.algorithms = algorithms
        self.client = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300) if jwks_url else None
        keys = json.loads(jwks) if isinstance(jwks, str) else jwks
        self.keys = jwt.PyJWKSet.from_dict(keys) if keys else None

    def _key(self, token: str, header: dict[str, Any]) -> Any:
        """The configured key for the token's ``kid`` and ``alg``; None when there is none."""
        kid = header.get("kid")
        family = _KEY_TYPES.get(header["alg"][:2])
        if self.client is not None:
            jwk = self.client.get_signing_key_from_jwt(token)
            return jwk.key if jwk.key_type == family else None
        assert self.keys is not None
        for jwk in self.keys.keys:
            # A key of another type never verifies (RFC 7518 §6.1): an ES256 header with an RSA key set
            # made PyJWT raise TypeError, a 500 before this check.
            if (kid is None or jwk.key_id == kid) and jwk.key_type == family:
                return jwk.key
        return None

    def verify(self, token: str) -> Principal | None:
        """The token's principal, or None: never raises, whatever the token holds (it is unauthenticated input)."""
        try:
            return self._verify(token)
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("rejected an OAuth access token: %s", type(exc).__name__)
        except Exception:  # noqa: BLE001 - a library's surprise must be a 401 for this caller, not a 500
            log.warning("rejected an OAuth access token that failed verification unexpectedly", exc_info=True)
        return None

    def _verify(self, token: str) -> Principal | None:
        header = jwt.get_unverified_header(token)
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.algorithms or not isinstance(kid, (str, type(None))):
            log.info("rejected an OAuth access token: algorithm or key id not accepted")
            return None
        if "crit" in header:
            # RFC 7515 §4.1.11: a recipient that does not understand a critical extension must reject.
            log.info("rejected an OAuth access token with critical header extensions")
            return None
        key = self._key(token, header)
        if key is None:
            log.info("rejected an OAuth access token: no configured %s key %r", alg, kid)
            return None
        claims = jwt.decode(token, key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                            options={"require": ["exp", "iss", "aud"]})
        tenant = claims.get(self.tenant_claim)
        if isinstance(tenant, bool) or not isinstance(tenant, (str, int)) or tenant == "":
            log.info("rejected an OAuth access token without a usable %r claim", self.tenant_claim)
            return None
        return Principal(tenant=tenant, name=f"oauth:{claims.get('sub', '')}")


#: The JWK key type (RFC 7518 §6.1) that each family of JWS algorithms (RFC 7518 §3.1) verifies with.
_KEY_TYPES = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP", "HS": "oct"}
