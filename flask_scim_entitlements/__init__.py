"""Flask-SCIM-Entitlements: a SCIM 2.0 server, with Okta Identity Governance
entitlements, over a Flask app's own SQLAlchemy models."""

from __future__ import annotations

from . import signals
from .auth import Principal
from .errors import ScimError
from .extension import ScimEntitlements, current_scim
from .mapping import (
    Attr,
    EntitlementType,
    Extension,
    GroupMapping,
    MappingError,
    MultiValued,
    RoleType,
    UserMapping,
)
from .schemas.base import ScimSchema, attr

__version__ = "0.1.0"

__all__ = [
    "Attr",
    "EntitlementType",
    "Extension",
    "GroupMapping",
    "MappingError",
    "MultiValued",
    "Principal",
    "RoleType",
    "ScimEntitlements",
    "ScimError",
    "ScimSchema",
    "UserMapping",
    "attr",
    "current_scim",
    "signals",
]
