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
from dataclasses import dataclass
from typing import Any

from flask import current_app, request

from ..errors import InvalidSyntaxError, InvalidValueError, PayloadTooLargeError, ScimError
from ..filters import ast
from ..filters.parser import parse_attribute_list
from ..prefix import current_prefix
from ..schemas import definitions as d

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
    config = current_app.extensions["scim_entitlements"].config
    return (config.base_url or request.host_url).rstrip("/") + current_prefix()


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
            if "\x00" in item or any(0xD800 <= ord(ch) <= 0xDFFF for ch in item):
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

    def wanted_links(self, schema: d.ResourceSchema) -> set[str]:
        return {name for name in LINK_ATTRIBUTES
                if schema.top_level(name) is not None and self._selects(schema.core.id, name, schema) is not False}

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
        out: dict[str, Any] = {}
        for key, value in doc.items():
            if key == "schemas":
                out[key] = value
                continue
            ext = schema.extension(key) if key.lower().startswith("urn:") else None
            if ext is not None and isinstance(value, dict):
                kept = {}
                for name, sub_value in value.items():
                    choice = self._selects(ext.id, name, schema)
                    if choice is not False:
                        kept[name] = self._requested_subs(_subset(sub_value, choice), ext.id, name, schema)
                if kept:
                    out[key] = kept
                continue
            choice = self._selects(schema.core.id, key, schema)
            if choice is not False:
                out[key] = self._requested_subs(_subset(value, choice), schema.core.id, key, schema)
        return out

    def _requested_subs(self, value: Any, urn: str, name: str, schema: d.ResourceSchema) -> Any:
        """Drop sub-attributes returned "never", and those returned on "request" that were not named."""
        resolved = schema.resolve(urn, name)
        if resolved is None or not resolved.attribute.sub_attributes:
            return value
        named = {p.sub_attr.lower() for p in self.include or () if p.sub_attr and p.attr.lower() == name.lower()}
        hidden = {s.name for s in resolved.attribute.sub_attributes
                  if s.returned == d.NEVER or (s.returned == d.REQUEST and s.name.lower() not in named)}
        if not hidden:
            return value

        def one(item: Any) -> Any:
            return {k: v for k, v in item.items() if k not in hidden} if isinstance(item, dict) else item

        return [one(v) for v in value] if isinstance(value, list) else one(value)


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
