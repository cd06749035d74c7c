"""Per-tenant rate limiting, answered with 429 and an integer ``Retry-After``.

Okta honours ``Retry-After`` only as integer seconds (an HTTP date is ignored
and Okta waits five minutes; interop.md §1.7), so the header is always a whole
number of seconds, rounded up.

Counting uses the ``limits`` library (the engine behind Flask-Limiter): a
moving window per tenant, in memory for one process or in Redis
(``SCIM_RATE_LIMIT_STORAGE = "redis://host:6379/0"``) when several processes
serve the same tenants.  If the shared store is unreachable the request is let
through and a warning logged: rate limiting protects the service, it must not
take it down.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from limits import parse, storage, strategies

from .errors import ScimError

log = logging.getLogger(__name__)


class TooManyRequestsError(ScimError):
    status = 429
    default_detail = "Too many requests for this tenant; retry after the number of seconds in Retry-After"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Rate limit exceeded; retry in {retry_after} s")
        self.headers = {"Retry-After": str(retry_after)}


class RateLimiter:
    def __init__(self, limit: str, storage_uri: str) -> None:
        self.item = parse(limit)
        self.storage = storage.storage_from_string(storage_uri)
        self.strategy = strategies.MovingWindowRateLimiter(self.storage)

    def hit(self, tenant: Any) -> None:
        """Count one request of ``tenant``; raise :class:`TooManyRequestsError` over the limit."""
        key = f"scim:{tenant}"
        try:
            if self.strategy.hit(self.item, key):
                return
            reset = self.strategy.get_window_stats(self.item, key).reset_time
        except Exception:  # noqa: BLE001 - an unreachable store must not fail requests
            log.warning("rate limit store unavailable; request allowed", exc_info=True)
            return
        raise TooManyRequestsError(max(1, math.ceil(reset - time.time())))
