"""Request parsing and response shaping shared by the resource and discovery views.

- :func:`base_url`: the absolute URL responses name resources by (``SCIM_BASE_URL``).
- :func:`read_json_body`: content type, size limit, JSON parsing (400 ``invalidSyntax``).
- :class:`Projection`: ``attributes`` / ``excludedAttributes`` (RFC 7644 §3.9)
  honouring each attribute's ``returned`` characteristic (RFC 7643 §2.2).
- :func:`page_params`: ``startIndex`` / ``count`` clamped as RFC 7644 §3.4.2.4 says.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from flask import current_app, request

from ..errors import InvalidSyntaxError, InvalidValueError, PayloadTooLargeError, ScimError
from ..filters import ast
from ..filters.parser import parse_attribute_list
from ..prefix import current_prefix
from ..schemas import definitions as d
from ..schemas.messages import LinkItems

#: Attributes filled from other resources; the store loads only those a response needs.
LINK_ATTRIBUTES = ("members", "groups", "roles", "entitlements")

_ACCEPTED_TYPES = ("application/scim+json", "application/json")


class UnsupportedMediaTypeError(ScimError):
    status = 415
    default_detail = "Send the body as application/scim+json or application/json"


def base_url() -> str:
    """The absolute URL of the SCIM endpoints, for ``meta.location``, ``$ref`` and ``Location``.

    The prefix (tenant segment included) follows ``SCIM_BASE_URL`` when that is set, else the
    request's own root, whose ``Host`` header the client chooses (behind a proxy, let werkzeug's
    ``ProxyFix`` take it from the trusted proxy only: README).
    """
    state = current_app.extensions["scim_entitlements"]
    return (state.config.base_url or _host_url(state.host_urls)).rstrip("/") + current_prefix()


#: Most hosts an app remembers the root URL of (see :func:`_host_url`).
_HOST_URLS_MAX = 64


def _host_url(memo: dict[tuple[str, ...], str]) -> str:
    """werkzeug's ``request.host_url``, remembered per app by what it is made of.

    Building it (IRI decoding, the ``TRUSTED_HOSTS`` check) costs more than the rest of a small
    read's URL work, and a deployment sees a few hosts.  Clients choose the Host header, so the
    memo is bounded and starts over when full; a host the check refuses raises, and is never kept.
    """
    environ = request.environ
    key = (environ.get("wsgi.url_scheme", ""), environ.get("HTTP_HOST", ""), environ.get("SERVER_NAME", ""),
           environ.get("SERVER_PORT", ""), environ.get("SCRIPT_NAME", ""))
    url = memo.get(key)
    if url is None:
        url = request.host_url
        if len(memo) >= _HOST_URLS_MAX:
            memo.clear()
        memo[key] = url
    return url


def read_json_body(max_bytes: int) -> dict[str, Any]:
    """The request body as a JSON object; the media type may carry parameters (``; charset=utf-8``)."""
    mimetype = (request.mimetype or "").lower()
    if mimetype not in _ACCEPTED_TYPES:
        raise UnsupportedMediaTypeError(
            f"Content-Type {request.content_type or '(none)'} is not supported; "
            "send application/scim+json or application/json")
    if request.content_length is not None and request.content_length > max_bytes:
        raise PayloadTooLargeError(f"The body is {request.content_length} bytes; the limit is {max_bytes}")
    # Ask the stream for what the body says it holds, not for the limit: a read of ``max_bytes`` allocates
    # that much up front (16 MiB for every small PATCH otherwise).
    length = request.content_length
    raw = request.stream.read((max_bytes if length is None else min(length, max_bytes)) + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLargeError(f"The body is larger than the limit of {max_bytes} bytes")
    try:
        body = json.loads(raw, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise InvalidSyntaxError(f"The body is not valid JSON: {exc}"[:300]) from None
    if not isinstance(body, dict):
        raise InvalidSyntaxError("The body must be a JSON object")
    if b"\\u" in raw:  # only JSON escapes can produce NUL or a lone surrogate
        check_text(body)
    return body


def _no_constant(name: str) -> Any:
    # RFC 8259 §6: NaN and Infinity are not JSON; Python's parser accepts them unless told not to.
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # "1e400" parses to inf: Infinity by another name
        raise ValueError(f"the number {text[:40]} is out of range")
    return value


#: NUL and the UTF-16 surrogate range: text no database stores (see :func:`check_text`).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def check_text(value: Any) -> None:
    """Reject text no database stores: NUL characters and lone UTF-16 surrogates.

    JSON lets a client write both as escapes (``"\\u0000"``, ``"\\ud800"``); PostgreSQL
    refuses NUL in text and no driver can encode a lone surrogate, so they are a
    400 here rather than a 500 at the database.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _UNSTORABLE.search(item):
                raise InvalidValueError("text may not contain NUL characters or unpaired surrogates")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def page_params(args: Any, default_count: int, max_count: int) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4: startIndex < 1 is 1; a negative count is 0; count is capped at the maximum."""
    start = _int_param(args, "startIndex", 1)
    count = _int_param(args, "count", default_count)
    # Past 2**31 no result exists anyway; clamping keeps the OFFSET within every database's range.
    return min(max(start, 1), 2**31 - 1), min(max(count, 0), max_count)


def _int_param(args: Any, name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise InvalidValueError(f"{name} must be an integer, got {raw!r}")
    try:
        return int(raw)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValueError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True)
class Projection:
    """Which attributes a response carries (RFC 7644 §3.9)."""

    include: tuple[ast.AttrPath, ...] | None = None
    exclude: tuple[ast.AttrPath, ...] = ()

    @classmethod
    def from_values(cls, attributes: Any, excluded: Any) -> Projection:
        include = _paths(attributes)
        return cls(tuple(include) if include else None, tuple(_paths(excluded)))

    @classmethod
    def from_args(cls, args: Any) -> Projection:
        return cls.from_values(args.get("attributes"), args.get("excludedAttributes"))

    def wanted_links(self, schema: d.ResourceSchema) -> frozenset[str]:
        """The linked attributes the response carries (decided once per projection and schema)."""
        return self._memo(schema)[3]  # type: ignore[no-any-return]

    def hidden_link_subs(self, schema: d.ResourceSchema) -> Mapping[str, frozenset[str]]:
        """Per linked attribute, the sub-attributes the response drops: the store need not compute them."""
        return self._memo(schema)[4]  # type: ignore[no-any-return]

    def _memo(self, schema: d.ResourceSchema) -> tuple[Any, ...]:
        """(schema, decisions, extensions, wanted links, hidden link subs): what depends only on
        (projection, schema), kept across requests (most ask for the default)."""
        memo = _DECISIONS.get((self, id(schema)))
        if memo is None or memo[0] is not schema:
            if len(_DECISIONS) >= _DECISIONS_KEPT:
                _DECISIONS.clear()
            wanted = frozenset(name for name in LINK_ATTRIBUTES if schema.top_level(name) is not None
                               and self._selects(schema.core.id, name, schema) is not False)
            hidden = {}
            for name in LINK_ATTRIBUTES:
                resolved = schema.resolve(schema.core.id, name)
                if resolved is not None:
                    hidden[name] = frozenset(self._hidden_subs(resolved, name))
            memo = _DECISIONS[(self, id(schema))] = (schema, {}, {}, wanted, MappingProxyType(hidden), {"schemas"})
        return memo

    def _matches(self, paths: tuple[ast.AttrPath, ...], urn: str, name: str,
                 schema: d.ResourceSchema) -> tuple[bool, set[str] | None]:
        """(does any path name this attribute, the sub-attributes named or None for the whole)."""
        subs: set[str] = set()
        hit = False
        for path in paths:
            p_urn = (path.urn or schema.core.id).lower()
            if path.urn is not None and p_urn not in {u.lower() for u in schema.urns}:
                # "urn:...:User" given whole: its parser splits the last segment off as the attribute name
                if f"{path.urn}:{path.attr}".lower() == urn.lower():
                    return True, None
                continue
            if p_urn == urn.lower() and path.attr.lower() == name.lower():
                hit = True
                if path.sub_attr is None:
                    return True, None
                subs.add(path.sub_attr.lower())
        return hit, (subs if hit else None)

    def _selects(self, urn: str, name: str, schema: d.ResourceSchema) -> bool | set[str]:
        """True (whole), False (drop) or a set of sub-attribute names to keep."""
        resolved = schema.resolve(urn, name)
        returned = resolved.attribute.returned if resolved else d.DEFAULT
        if returned == d.ALWAYS:
            return True
        if returned == d.NEVER:
            return False
        if self.include is not None:
            hit, subs = self._matches(self.include, urn, name, schema)
            if not hit:
                return False
            return True if subs is None else subs
        hit, subs = self._matches(self.exclude, urn, name, schema)
        if returned == d.REQUEST:
            return False
        if hit and subs is None:
            return False
        return True if not hit else {f"-{s}" for s in subs or ()}

    def apply(self, doc: dict[str, Any], schema: d.ResourceSchema) -> dict[str, Any]:
        return self.applier(schema)(doc)

    def applier(self, schema: d.ResourceSchema) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """:meth:`apply` for many documents of one schema: each attribute's decision is taken once.

        A document whose every attribute is kept whole (most are, under the default projection) is returned
        as it is, not copied."""
        # Decisions depend only on (projection, schema): kept across requests (most ask for the default).
        # ``whole``: the top-level keys kept as they are, whatever their value.
        _schema, decisions, extensions, _wanted, _hidden, whole = self._memo(schema)

        def decide(urn: str, name: str) -> tuple[bool | set[str], set[str]]:
            decision = decisions.get((urn, name))
            if decision is None:
                resolved = schema.resolve(urn, name)
                hidden = self._hidden_subs(resolved, name) if resolved is not None else set()
                decisions[(urn, name)] = decision = (self._selects(urn, name, schema), hidden)
            return decision

        def one(urn: str, name: str, value: Any) -> Any:
            return _shown(*decide(urn, name), value)

        def apply(doc: dict[str, Any]) -> dict[str, Any]:
            if whole.issuperset(doc):
                return doc
            out: dict[str, Any] = {}
            for key, value in doc.items():
                if key == "schemas":
                    out[key] = value
                    continue
                if key[:4].lower() == "urn:":
                    if key not in extensions:
                        extensions[key] = schema.extension(key)
                    ext = extensions[key]
                    if ext is not None and isinstance(value, dict):
                        kept = {}
                        for name, sub_value in value.items():
                            shown = one(ext.id, name, sub_value)
                            if shown is not _DROP:
                                kept[name] = shown
                        if kept:
                            out[key] = kept
                        continue
                choice, hidden = decide(schema.core.id, key)
                if choice is True and not hidden:
                    whole.add(key)
                    out[key] = value
                    continue
                shown = _shown(choice, hidden, value)
                if shown is not _DROP:
                    out[key] = shown
            return out

        return apply

    def _hidden_subs(self, resolved: d.ResolvedPath, name: str) -> set[str]:
        """Sub-attributes returned "never", and those returned on "request" that were not named."""
        if not resolved.attribute.sub_attributes:
            return set()
        named = {p.sub_attr.lower() for p in self.include or () if p.sub_attr and p.attr.lower() == name.lower()}
        return {s.name for s in resolved.attribute.sub_attributes
                if s.returned == d.NEVER or (s.returned == d.REQUEST and s.name.lower() not in named)}


_DROP = object()


def _shown(choice: bool | set[str], hidden: set[str], value: Any) -> Any:
    """What a projection's decision (``choice``, the sub-attributes ``hidden``) leaves of ``value``, or _DROP."""
    if choice is False:
        return _DROP
    value = _subset(value, choice)
    return _without(value, hidden) if hidden else value
#: (projection, id(schema)) -> (schema, decisions, extensions, wanted links, hidden link subs, keys kept whole)
_DECISIONS: dict[tuple[Projection, int], tuple[Any, ...]] = {}
_DECISIONS_KEPT = 256


def _without(value: Any, hidden: set[str]) -> Any:
    """``value`` (an object or a list of them) without the sub-attributes ``hidden``."""

    def one(item: Any) -> Any:
        if not isinstance(item, dict) or hidden.isdisjoint(item):
            return item  # nothing to drop: no copy (a 100,000-member list is not rebuilt)
        return {k: v for k, v in item.items() if k not in hidden}

    if isinstance(value, LinkItems) and hidden <= value.omitted:
        return value  # the store left these out: nothing to look for
    if isinstance(value, list):
        if all(not isinstance(v, dict) or hidden.isdisjoint(v) for v in value):
            return value
        return [one(v) for v in value]
    return one(value)


def _subset(value: Any, choice: bool | set[str]) -> Any:
    if choice is True or not isinstance(choice, set):
        return value
    drop = {s[1:] for s in choice if s.startswith("-")}
    keep = {s for s in choice if not s.startswith("-")}

    def one(item: Any) -> Any:
        if not isinstance(item, dict):
            return item
        if keep:
            return {k: v for k, v in item.items() if k.lower() in keep}
        return {k: v for k, v in item.items() if k.lower() not in drop}

    if isinstance(value, list):
        return [x for x in (one(v) for v in value) if x]
    return one(value)


def _paths(value: Any) -> list[ast.AttrPath]:
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise InvalidValueError("attributes must be a comma-separated string or a list of strings")
    # Each path is matched against every attribute of every resource returned: de-duplicate, then
    # bound what is left, so that naming userName 200,000 times costs what naming it once does.
    limit = current_app.extensions["scim_entitlements"].config.max_attributes
    names: dict[str, str] = {}
    for item in items:
        for name in item.split(","):
            names.setdefault(name.strip().lower(), name.strip())  # RFC 7643 §2.1: names are case-insensitive
            if len(names) > limit:
                raise InvalidValueError(f"at most {limit} distinct attributes may be named")
    if isinstance(value, str) and not value.strip():
        return []
    return parse_attribute_list(",".join(names.values()))
