"""Okta's "SCIM 2.0 SPEC Test" (interop.md §2.1), all twelve steps and every assertion, in order."""

from __future__ import annotations

from .conftest import Scim
from .okta_steps import okta_spec_steps


def test_okta_spec_test_all_twelve_steps(scim: Scim) -> None:
    okta_spec_steps(scim)
