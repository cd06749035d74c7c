"""A plain HTTP/1.1 SCIM client (standard library only) and the header sets each IdP sends.

The interop suite talks to the example app over a real socket, so everything the
server sees went through werkzeug's HTTP parsing: query-string decoding, the
``Content-Type`` header as sent, chunking, the ``Authorization`` header verbatim.
The header sets below are copied from interop.md §1.1 (Okta product and the
Runscope suites) and §5 (Entra).
"""

from __future__ import annotations

import gzip
import http.client
import json
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest

SCIM = "application/scim+json"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
OKTA_ROLE = "urn:okta:scim:schemas:core:1.0:Role"
OKTA_ENTITLEMENT = "urn:okta:scim:schemas:core:1.0:Entitlement"

# interop.md §1.1: what the Okta provisioning service itself sends (captured PUT by an Okta employee).
OKTA_CLIENT = {
    "Accept": SCIM,
    "Accept-Charset": "utf-8",
    "Content-Type": SCIM + "; charset=utf-8",
    "User-Agent": "Okta SCIM Client 1.0.0",
    "Accept-Encoding": "gzip,deflate",
}
# interop.md §1.1 / §2.1: the Runscope SPEC suite's GET headers (a Content-Type even on GETs).
RUNSCOPE_GET = {
    "User-Agent": "OKTA SCIM Integration",
    "Accept": SCIM,
    "Content-Type": SCIM + "; charset=utf-8",
}
# interop.md §2.1 step 6: the Runscope POST sends plain application/json.
RUNSCOPE_POST = {
    "User-Agent": "OKTA SCIM Integration",
    "Accept": SCIM + "; charset=utf-8",
    "Content-Type": "application/json",
}
# interop.md §5/§6 E15: Entra sends and expects application/scim+json.
ENTRA = {
    "Accept": SCIM,
    "Content-Type": SCIM,
    "User-Agent": "Azure-AD-SCIM-Service",
}


@dataclass
class Reply:
    """One HTTP response, fully read."""

    method: str
    target: str
    request_body: Any
    status: int
    headers: Mapping[str, str]
    raw: bytes
    elapsed: float
    json: Any = field(default=None)

    def __str__(self) -> str:
        # Assertion messages quote the exchange, so a failure names request and response.
        body = self.raw.decode("utf-8", "replace")
        if len(body) > 1500:
            body = body[:1500] + "…"
        sent = "" if self.request_body is None else " " + json.dumps(self.request_body)[:800]
        return f"{self.method} {self.target}{sent} -> {self.status} {body}"


class ScimHttp:
    """Sends SCIM requests to ``http://host:port{prefix}`` with a fixed header set."""

    def __init__(self, host: str, port: int, prefix: str, authorization: str | None,
                 headers: Mapping[str, str]) -> None:
        self.host = host
        self.port = port
        self.prefix = prefix
        self.authorization = authorization
        self.base_headers = dict(headers)

    def with_headers(self, headers: Mapping[str, str], authorization: str | None = None) -> ScimHttp:
        return ScimHttp(self.host, self.port, self.prefix,
                        self.authorization if authorization is None else authorization, headers)

    @staticmethod
    def query(**params: Any) -> str:
        """``?filter=userName%20eq%20%22x%22&startIndex=1`` as Okta encodes it (%20, not +)."""
        return "?" + urlencode({k: v for k, v in params.items() if v is not None}, quote_via=quote)

    def request(self, method: str, path: str, body: Any = None, headers: Mapping[str, str] | None = None,
                raw_body: bytes | None = None) -> Reply:
        target = self.prefix + path
        sent = dict(self.base_headers)
        if self.authorization is not None:
            sent["Authorization"] = self.authorization
        sent.update(headers or {})
        payload = raw_body
        if payload is None and body is not None:
            payload = json.dumps(body).encode("utf-8")
        conn = http.client.HTTPConnection(self.host, self.port, timeout=60)  # Okta: 60 s socket limit
        try:
            started = time.perf_counter()
            conn.request(method, target, body=payload, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            elapsed = time.perf_counter() - started
            response_headers = {k.lower(): v for k, v in response.getheaders()}
            status = response.status
        finally:
            conn.close()
        encoding = response_headers.get("content-encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        parsed = None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError:
                parsed = None
        return Reply(method, target, body, status, response_headers, raw, elapsed, parsed)

    def get(self, path: str, **kw: Any) -> Reply:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, **kw: Any) -> Reply:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Reply:
        return self.request("DELETE", path, **kw)


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def need(state: dict[str, Any], key: str, step: str) -> Any:
    """A value an earlier ordered step saved; its absence means that step failed first."""
    if key not in state:
        pytest.fail(f"needs {key!r} from {step}, which did not complete (see that failure first)")
    return state[key]


def okta_user_body(user_name: str, given: str, family: str, **extra: Any) -> dict[str, Any]:
    """interop.md §1.4: the documented Okta POST /Users body (password and groups always sent)."""
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
        **extra,
    }


def member_ids(group: dict[str, Any]) -> set[str]:
    """Okta allows "members": null (or absent) for an empty group (§1.5)."""
    return {m["value"] for m in group.get("members") or []}
