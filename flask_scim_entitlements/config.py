"""Every ``SCIM_*`` configuration key, once, with its default.

``init_app`` sets these defaults on the app's config, reads them once into a
:class:`ScimConfig`, and rejects a ``SCIM_*`` key it does not know: a
misspelled key is an error, not a silently ignored setting.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULTS: dict[str, Any] = {
    #: Where ``init_app`` (or ``register_blueprint`` without ``url_prefix``) mounts the endpoints.  Okta
    #: rejects base URLs containing "_".  May hold the tenant as one variable: "/scim/v2/<tenant>".
    "SCIM_URL_PREFIX": "/scim/v2",
    #: Page size when a list request gives no ``count`` (Okta pages by 100).
    "SCIM_DEFAULT_PAGE_SIZE": 100,
    #: Largest page served; a larger ``count`` is clamped (RFC 7644 §3.4.2.4). Published as filter.maxResults.
    "SCIM_MAX_PAGE_SIZE": 1000,
    #: Largest request body accepted, in bytes; larger is a 413.  A JSON body takes up to ~30 times its size
    #: in memory once parsed: 4 MiB keeps a worker under 256 MiB (bench/limits.py).
    "SCIM_MAX_BODY_BYTES": 4 * 1024 * 1024,
    #: Longest filter accepted, in characters.
    "SCIM_MAX_FILTER_LENGTH": 4096,
    #: Deepest nesting of parentheses, not and value filters accepted in a filter.
    "SCIM_MAX_FILTER_DEPTH": 32,
    #: Most operations accepted in one PATCH request.
    "SCIM_MAX_PATCH_OPERATIONS": 1000,
    #: Most values one PATCH request may carry, counted over all its operations (each list element is one).
    "SCIM_MAX_PATCH_VALUES": 20000,
    #: Most distinct attribute names in ``attributes`` or ``excludedAttributes``.
    "SCIM_MAX_ATTRIBUTES": 100,
    #: Most group members one list response carries: a page of large groups is cut short (RFC 7644 §3.4.2.4).
    "SCIM_MAX_MEMBERS_PER_RESPONSE": 10000,
    #: PostgreSQL only: longest a request's statements may run, in milliseconds (0: no limit); past it, a 503.
    "SCIM_STATEMENT_TIMEOUT_MS": 30000,
    #: The public URL the app is served at (``https://scim.example.com``, with any path a proxy mounts it under);
    #: ``meta.location``, ``$ref`` and ``Location`` are it plus the prefix.  None: the request's Host, which a
    #: client can set to anything.
    "SCIM_BASE_URL": None,
    #: Accept HTTP Basic (the password is checked as a token; the user name is ignored).
    "SCIM_BASIC_AUTH": False,
    #: Check bearer tokens against the package's own ``scim_token`` table.
    "SCIM_TOKEN_TABLE": True,
    #: Seconds a verified ``scim_token`` is remembered per process (0: check the table on every request).
    #: Revoking is immediate on the process that revokes; others stop accepting the token within this time.
    "SCIM_TOKEN_CACHE_SECONDS": 10,
    #: Key of the HMAC that hashes stored tokens; defaults to SECRET_KEY.  Changing it invalidates every token.
    "SCIM_TOKEN_HASH_KEY": None,
    #: What a successful PATCH answers: "auto" (groups 204 unless the request names attributes, others 200
    #: with the resource), "resource" (always 200 with the resource) or "no-content" (always 204).
    "SCIM_PATCH_RESPONSE": "auto",
    #: A user's role or entitlement grant naming a value that no longer exists (the app deleted it while the
    #: identity provider still holds the grant): "reject" (400 invalidValue, the whole request changes
    #: nothing) or "drop" (the grant is skipped, logged and reported by the ``user_grants_dropped`` signal).
    "SCIM_UNKNOWN_GRANTS": "reject",
    #: documentationUri published in /ServiceProviderConfig.
    "SCIM_DOCUMENTATION_URI": None,
    #: Requests allowed per tenant, in the ``limits`` notation ("600/minute"); None disables limiting.
    "SCIM_RATE_LIMIT": None,
    #: Requests of one tenant a worker process serves at once; more are a 429.  None: no limit.
    "SCIM_MAX_CONCURRENT_PER_TENANT": None,
    #: Where rate-limit counters live: "memory://" (one process) or "redis://host:6379/0" (shared).
    "SCIM_RATE_LIMIT_STORAGE": "memory://",
    #: Accept OAuth 2.0 access tokens (JWT) issued by this issuer (``iss``); None disables OAuth.
    "SCIM_OAUTH_ISSUER": None,
    #: The audience (``aud``) the access tokens must carry.
    "SCIM_OAUTH_AUDIENCE": None,
    #: Where the issuer publishes its signing keys (fetched and cached for five minutes).
    "SCIM_OAUTH_JWKS_URL": None,
    #: The signing keys themselves (a JWKS dict or JSON string), instead of a URL.
    "SCIM_OAUTH_JWKS": None,
    #: The claim naming the tenant, resolved like ``flask scim create-token --tenant``.
    "SCIM_OAUTH_TENANT_CLAIM": "tenant",
    #: Signature algorithms accepted.
    "SCIM_OAUTH_ALGORITHMS": ["RS256", "ES256"],
}


def check_url_prefix(prefix: str) -> None:
    """Okta rejects base URLs containing "_": refuse such a prefix (a variable's name, ``<org_id>``, may hold one)."""
    if "_" in re.sub(r"<[^>]*>", "", prefix):
        raise RuntimeError(f"the SCIM URL prefix {prefix!r} must not contain '_': Okta rejects such base URLs")


@dataclass(frozen=True)
class ScimConfig:
    url_prefix: str
    default_page_size: int
    max_page_size: int
    max_body_bytes: int
    max_filter_length: int
    max_filter_depth: int
    max_patch_operations: int
    max_patch_values: int
    max_attributes: int
    max_members_per_response: int
    statement_timeout_ms: int
    base_url: str | None
    basic_auth: bool
    token_table: bool
    token_cache_seconds: float
    token_hash_key: bytes
    patch_response: str
    unknown_grants: str
    documentation_uri: str | None
    rate_limit: str | None
    rate_limit_storage: str
    max_concurrent_per_tenant: int | None
    oauth_issuer: str | None
    oauth_audience: str | None
    oauth_jwks_url: str | None
    oauth_jwks: Any
    oauth_tenant_claim: str
    oauth_algorithms: tuple[str, ...]

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> ScimConfig:
        unknown = sorted(k for k in config if k.startswith("SCIM_") and k not in DEFAULTS)
        if unknown:
            raise RuntimeError(f"unknown configuration key(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
        prefix = "/" + str(config["SCIM_URL_PREFIX"]).strip("/")
        check_url_prefix(prefix)
        if config["SCIM_PATCH_RESPONSE"] not in ("auto", "resource", "no-content"):
            raise RuntimeError("SCIM_PATCH_RESPONSE must be 'auto', 'resource' or 'no-content'")
        if config["SCIM_UNKNOWN_GRANTS"] not in ("reject", "drop"):
            raise RuntimeError("SCIM_UNKNOWN_GRANTS must be 'reject' or 'drop'")
        key = config["SCIM_TOKEN_HASH_KEY"] or config.get("SECRET_KEY") or ""
        if config["SCIM_TOKEN_TABLE"] and not key:
            # An HMAC with an empty key is a plain hash: a leaked table could be checked offline.
            raise RuntimeError("SCIM_TOKEN_TABLE needs a key to hash tokens with: set SECRET_KEY or "
                               "SCIM_TOKEN_HASH_KEY (or SCIM_TOKEN_TABLE = False)")
        if config["SCIM_OAUTH_ISSUER"] and not config["SCIM_OAUTH_AUDIENCE"]:
            raise RuntimeError("SCIM_OAUTH_ISSUER needs SCIM_OAUTH_AUDIENCE: an access token for another API "
                               "must not be accepted")
        return cls(
            url_prefix=prefix,
            default_page_size=int(config["SCIM_DEFAULT_PAGE_SIZE"]),
            max_page_size=int(config["SCIM_MAX_PAGE_SIZE"]),
            max_body_bytes=int(config["SCIM_MAX_BODY_BYTES"]),
            max_filter_length=int(config["SCIM_MAX_FILTER_LENGTH"]),
            max_filter_depth=int(config["SCIM_MAX_FILTER_DEPTH"]),
            max_patch_operations=int(config["SCIM_MAX_PATCH_OPERATIONS"]),
            max_patch_values=int(config["SCIM_MAX_PATCH_VALUES"]),
            max_attributes=int(config["SCIM_MAX_ATTRIBUTES"]),
            max_members_per_response=int(config["SCIM_MAX_MEMBERS_PER_RESPONSE"]),
            statement_timeout_ms=int(config["SCIM_STATEMENT_TIMEOUT_MS"]),
            base_url=str(config["SCIM_BASE_URL"]).rstrip("/") if config["SCIM_BASE_URL"] else None,
            basic_auth=bool(config["SCIM_BASIC_AUTH"]),
            token_table=bool(config["SCIM_TOKEN_TABLE"]),
            token_cache_seconds=float(config["SCIM_TOKEN_CACHE_SECONDS"]),
            token_hash_key=key.encode() if isinstance(key, str) else bytes(key),
            patch_response=config["SCIM_PATCH_RESPONSE"],
            unknown_grants=config["SCIM_UNKNOWN_GRANTS"],
            documentation_uri=config["SCIM_DOCUMENTATION_URI"],
            rate_limit=config["SCIM_RATE_LIMIT"],
            rate_limit_storage=config["SCIM_RATE_LIMIT_STORAGE"],
            max_concurrent_per_tenant=int(config["SCIM_MAX_CONCURRENT_PER_TENANT"] or 0) or None,
            oauth_issuer=config["SCIM_OAUTH_ISSUER"],
            oauth_audience=config["SCIM_OAUTH_AUDIENCE"],
            oauth_jwks_url=config["SCIM_OAUTH_JWKS_URL"],
            oauth_jwks=config["SCIM_OAUTH_JWKS"],
            oauth_tenant_claim=config["SCIM_OAUTH_TENANT_CLAIM"],
            oauth_algorithms=tuple(config["SCIM_OAUTH_ALGORITHMS"]),
        )
