"""RFC 7644 §3.5.2 PATCH: the engine that applies normalised operations to a document.

Operations reach the engine through :func:`flask_scim_entitlements.normalize.normalize_patch`,
which turns client quirks into RFC-shaped operations with parsed paths.
"""

from .engine import OPERATIONS, PatchResult, Target, apply_patch, resolve_target

__all__ = ["OPERATIONS", "PatchResult", "Target", "apply_patch", "resolve_target"]
