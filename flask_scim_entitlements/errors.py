"""SCIM errors (RFC 7644 §3.12): one exception class per ``scimType``.

These classes carry ``status``, ``scim_type`` and ``detail`` and nothing else;
they import neither Flask nor SQLAlchemy so that the filter parser and the
PATCH engine can raise them.  ``handlers.py`` renders them as SCIM Error
bodies.
"""

from __future__ import annotations


class ScimError(Exception):
    """Base class: an error the client is told about, with an HTTP status."""

    status: int = 400
    scim_type: str | None = None
    default_detail: str = "Bad request"

    def __init__(self, detail: str | None = None, *, status: int | None = None) -> None:
        self.detail = detail or self.default_detail
        if status is not None:
            self.status = status
        super().__init__(self.detail)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r}, status={self.status})"


class InvalidFilterError(ScimError):
    """The filter syntax was invalid or the filter is not supported (§3.4.2.2)."""

    scim_type = "invalidFilter"
    default_detail = "The specified filter syntax was invalid"


class UniquenessError(ScimError):
    """A value must be unique and is not (e.g. a duplicate ``userName``)."""

    status = 409
    scim_type = "uniqueness"
    default_detail = "A resource with that value already exists"


class MutabilityError(ScimError):
    """An attempt to change an attribute that is immutable or read-only."""

    scim_type = "mutability"
    default_detail = "The attribute cannot be modified"


class InvalidSyntaxError(ScimError):
    """The request body could not be parsed or violates the schema's structure."""

    scim_type = "invalidSyntax"
    default_detail = "The request body is not valid"


class InvalidPathError(ScimError):
    """A PATCH ``path`` is invalid or names an attribute the schema does not have."""

    scim_type = "invalidPath"
    default_detail = "The path attribute was invalid or malformed"


class NoTargetError(ScimError):
    """A PATCH path with a filter matched nothing where something was required."""

    scim_type = "noTarget"
    default_detail = "The specified path did not yield an attribute or value that could be operated on"


class InvalidValueError(ScimError):
    """A value is of the wrong type, out of range, or refers to nothing (e.g. an unknown role id)."""

    scim_type = "invalidValue"
    default_detail = "A required value was missing, or the value specified was not compatible"


class NotFoundError(ScimError):
    status = 404
    default_detail = "Resource not found"


class UnauthorizedError(ScimError):
    status = 401
    default_detail = "Authentication required: send a valid token in the Authorization header"


class PreconditionFailedError(ScimError):
    """``If-Match`` named a version that is no longer current (§3.14)."""

    status = 412
    default_detail = "The resource has changed since the version given in If-Match"


class PayloadTooLargeError(ScimError):
    status = 413
    default_detail = "The request body is larger than the server accepts"


class NotImplementedScimError(ScimError):
    status = 501
    default_detail = "This operation is not implemented by this service provider"


__all__ = [name for name in dir() if name.endswith("Error")]
