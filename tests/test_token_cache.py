"""Verified tokens are remembered per process for SCIM_TOKEN_CACHE_SECONDS (auth.TokenStore).

A burst of requests costs one SELECT on ``scim_token``; revocation is immediate on the
process that revokes, and effective elsewhere once the window has passed (SECURITY.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from example_app import create_app
from example_app.models import db

from .conftest import Scim, issue_token
from .test_query_counts import counting


@contextmanager
def token_selects(app: Any) -> Iterator[list[str]]:
    with counting(app) as seen:
        yield seen.texts
    seen.texts[:] = seen.touching("scim_token")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _revoke_in_another_process(app: Any, token: str) -> None:
    """What another worker's revocation looks like from here: the row changes, this process is not told."""
    with app.app_context():
        state = app.extensions["scim_entitlements"]
        table = state.tokens.table
        from flask_scim_entitlements.auth import hash_token

        state.db.session.execute(sa.update(table).where(table.c.token_hash == hash_token(token, state.tokens.key))
                                 .values(revoked_at=sa.func.now()))
        state.db.session.commit()


def test_a_burst_of_requests_checks_the_token_in_the_database_once(app: Any, client: Any, token: str) -> None:
    scim = Scim(client, token)
    with token_selects(app) as seen:
        for _ in range(5):
            assert scim.get("/Users").status_code == 200
    assert len(seen) == 1


def test_a_token_revoked_by_this_process_is_rejected_at_once_even_when_cached(app: Any, client: Any) -> None:
    token = issue_token(app, "gridco.example")
    assert Scim(client, token).get("/Users").status_code == 200  # now cached
    with app.app_context():
        state = app.extensions["scim_entitlements"]
        state.tokens.revoke(state.db.session.connection(), token=token)
        state.db.session.commit()
    assert Scim(client, token).get("/Users").status_code == 401


def test_a_token_revoked_elsewhere_is_rejected_once_the_cache_window_has_passed(app: Any, client: Any) -> None:
    state = app.extensions["scim_entitlements"]
    clock = Clock()
    state.tokens.clock = clock
    token = issue_token(app, "gridco.example")
    assert Scim(client, token).get("/Users").status_code == 200
    _revoke_in_another_process(app, token)
    clock.now += state.tokens.cache_seconds - 1
    assert Scim(client, token).get("/Users").status_code == 200  # within the window SECURITY.md states
    clock.now += 1
    assert Scim(client, token).get("/Users").status_code == 401


def test_unknown_tokens_are_never_cached(app: Any, client: Any) -> None:
    with token_selects(app) as seen:
        for _ in range(3):
            assert Scim(client, "scimfse_not-a-token").get("/Users").status_code == 401
    assert len(seen) == 3


def test_with_the_cache_set_to_0_seconds_every_request_checks_the_table(app: Any, database_url: str,
                                                                       token: str) -> None:
    assert app.extensions["scim_entitlements"].config.token_cache_seconds == 10  # the default
    uncached = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test-secret",
                           "SCIM_TOKEN_CACHE_SECONDS": 0})
    try:
        scim = Scim(uncached.test_client(), token)
        with token_selects(uncached) as seen:
            for _ in range(3):
                assert scim.get("/Users").status_code == 200
        assert len(seen) == 3
    finally:
        with uncached.app_context():
            db.session.remove()
            db.engine.dispose()
