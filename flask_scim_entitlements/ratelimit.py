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

A rate counts requests, not their cost: a few of the largest searches the limits allow can
occupy every worker for seconds.  :class:`ConcurrencyLimiter` bounds how many requests of one
tenant a worker process serves at once (``SCIM_MAX_CONCURRENT_PER_TENANT``), so another tenant
always finds a free thread (tests/security/test_fairness.py).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
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

    def charge(self, tenant: Any, cost: int) -> None:
        """Charge a request that costs ``cost`` requests in all; its arrival was counted as one already.

        Never more than the whole limit: the costliest request is still served in an empty window.
        """
        extra = min(cost, self.item.amount) - 1
        if extra > 0:
            self.hit(tenant, extra)

    def hit(self, tenant: Any, cost: int = 1) -> None:
        """Count ``cost`` requests of ``tenant``; raise :class:`TooManyRequestsError` over the limit."""
        key = f"scim:{tenant}"
        try:
            if self.strategy.hit(self.item, key, cost=cost):
                return
            reset = self.strategy.get_window_stats(self.item, key).reset_time
        except Exception:  # noqa: BLE001 - an unreachable store must not fail requests
            log.warning("rate limit store unavailable; request allowed", exc_info=True)
            return
        raise TooManyRequestsError(max(1, math.ceil(reset - time.time())))


class ConcurrencyLimiter:
    """At most ``limit`` requests of one tenant in progress in this process; more are a 429 (retry in 1 s)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._active: Counter[Any] = Counter()

    def enter(self, tenant: Any) -> None:
        with self._lock:
            if self._active[tenant] >= self.limit:
                raise TooManyRequestsError(1)
            self._active[tenant] += 1

    def leave(self, tenant: Any) -> None:
        with self._lock:
            self._active[tenant] -= 1
            if self._active[tenant] <= 0:
                del self._active[tenant]
