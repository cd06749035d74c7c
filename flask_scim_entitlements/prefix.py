"""Where the SCIM blueprint is mounted: its URL prefix, with at most one variable, the tenant.

A SaaS may give each customer its own base URL, ``/scim/v2/<tenant>``: the
prefix is then a Werkzeug rule with one variable.  Each registration of the
blueprint records a :class:`Mount` in the app's state, keyed by the
blueprint's registered name, so that

- a request's tenant segment is taken out of the view arguments and checked
  against the credential's tenant (``blueprint._authenticate``);
- ``meta.location`` and ``$ref`` carry the same segment (:func:`current_prefix`);
- routing misses under the prefix get SCIM error bodies (``handlers.register_prefix_handlers``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from flask import current_app, g, request

from .config import check_url_prefix

# A Werkzeug rule variable: <name> or <converter(args):name>.
_VARIABLE = re.compile(r"<(?:(?P<converter>[A-Za-z_]\w*)(?:\([^)]*\))?:)?(?P<name>[A-Za-z_]\w*)>")


@dataclass(frozen=True)
class Mount:
    """One registration of the blueprint: its prefix rule and the name of its tenant variable, if any."""

    rule: str
    variable: str | None
    pattern: re.Pattern[str]  # the prefix, at the start of a path, followed by "/" or the end

    @classmethod
    def parse(cls, prefix: str | None) -> Mount:
        rule = "/" + (prefix or "").strip("/") if (prefix or "").strip("/") else ""
        variables = list(_VARIABLE.finditer(rule))
        if len(variables) > 1:
            raise RuntimeError(f"SCIM prefix {rule!r}: at most one variable (the tenant) may appear in it")
        if variables and variables[0]["converter"] == "path":
            raise RuntimeError(f"SCIM prefix {rule!r}: the tenant variable must be one path segment, not <path:...>")
        check_url_prefix(rule)
        parts = [rule] if not variables else [rule[:variables[0].start()], rule[variables[0].end():]]
        pattern = "[^/]+".join(re.escape(part) for part in parts)
        return cls(rule, variables[0]["name"] if variables else None, re.compile(f"^{pattern}(?:/|$)"))

    def path(self, tenant_segment: str | None) -> str:
        """The prefix as requested: the rule with the tenant variable filled in."""
        if self.variable is None:
            return self.rule
        return _VARIABLE.sub(lambda _m: quote(str(tenant_segment), safe=""), self.rule)

    def covers(self, path: str) -> bool:
        return self.pattern.match(path) is not None


def current_mount() -> Mount:
    """The mount of the blueprint registration that serves the current request."""
    return current_app.extensions["scim_entitlements"].mounts[request.blueprint]


def current_prefix() -> str:
    """The current request's prefix path, tenant segment included (for ``meta.location`` and ``$ref``)."""
    return current_mount().path(g.get("scim_path_tenant"))
