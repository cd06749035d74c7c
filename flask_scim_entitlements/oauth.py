"""OAuth 2.0 bearer access tokens (JWT), validated against a configured issuer, audience and JWKS.

Okta's OIN "OAuth 2" integrations and Entra's gallery apps send an access
token from the ISV's authorization server (interop.md §1.1).  The signature,
``iss``, ``aud``, ``exp`` and ``nbf`` are checked by PyJWT; the tenant comes
from a claim (``SCIM_OAUTH_TENANT_CLAIM``).  A token that fails any check is
simply not a credential: the request gets the usual 401.
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

    def _key(self, token: str) -> Any:
        if self.client is not None:
            return self.client.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get("kid")
        assert self.keys is not None
        for key in self.keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise jwt.InvalidKeyError(f"no key {kid!r} in the configured JWKS")

    def verify(self, token: str) -> Principal | None:
        try:
            claims = jwt.decode(token, self._key(token), algorithms=self.algorithms, audience=self.audience,
                                issuer=self.issuer, options={"require": ["exp", "iss", "aud"]})
        except (jwt.PyJWTError, ValueError) as exc:
            log.info("rejected an OAuth access token: %s", type(exc).__name__)
            return None
        tenant = claims.get(self.tenant_claim)
        if tenant in (None, ""):
            log.info("rejected an OAuth access token without the %r claim", self.tenant_claim)
            return None
        return Principal(tenant=tenant, name=f"oauth:{claims.get('sub', '')}")
