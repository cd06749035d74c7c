"""SQLite's in-process writer lock (flask_scim_entitlements/sqlite_writers.py): writers of one database
queue on it, and it is free again whenever a write transaction ends, however it ends."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from example_app.models import db
from flask_scim_entitlements import current_scim
from flask_scim_entitlements.sqlite_writers import locked
from flask_scim_entitlements.store import Store

from .conftest import Scim, example_app, issue_token, new_user

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEACTIVATE = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}


@pytest.fixture
def app(tmp_path: Any) -> Iterator[Any]:
    with example_app(f"sqlite:///{tmp_path / 'lock.sqlite3'}") as app:
        yield app


@pytest.fixture
def scim(app: Any) -> Scim:
    return Scim(app.test_client(), issue_token(app, "gridco.example"))


def _locked(app: Any) -> bool:
    with app.app_context():
        return locked(db.engine)


def _store(app: Any) -> Store:
    state = current_scim._get_current_object()
    return Store(db.session, state.registry, None, "http://localhost/scim/v2")


def test_the_in_process_writer_lock_is_free_after_a_committed_write(app: Any, scim: Scim) -> None:
    user = new_user(scim)
    assert not _locked(app)
    response = scim.patch(f"/Users/{user['id']}", DEACTIVATE)
    assert response.status_code == 200
    assert not _locked(app)


def test_the_in_process_writer_lock_is_released_after_an_error(app: Any, scim: Scim) -> None:
    new_user(scim, "ann@example.com")
    duplicate = scim.post("/Users", {"schemas": [USER], "userName": "ANN@example.com"})
    assert duplicate.status_code == 409
    assert not _locked(app)
    unknown_role = scim.post("/Users", {"schemas": [USER], "userName": "bob@example.com",
                                        "roles": [{"value": "999999"}]})
    assert unknown_role.status_code == 400
    assert not _locked(app)
    missing = scim.patch("/Users/999999", DEACTIVATE)
    assert missing.status_code == 404
    assert not _locked(app)
    # and the next write goes through at once
    assert new_user(scim, "bob@example.com")["userName"] == "bob@example.com"


def test_the_in_process_writer_lock_is_released_after_an_unexpected_exception(app: Any, scim: Scim,
                                                                              monkeypatch: Any) -> None:
    def broken(*_args: Any, **_kw: Any) -> Any:
        raise RuntimeError("a host hook failed")

    monkeypatch.setattr(Store, "create", broken)
    response = scim.post("/Users", {"schemas": [USER], "userName": "carl@example.com"})
    assert response.status_code == 500
    assert not _locked(app)


def test_the_in_process_writer_lock_is_released_when_the_session_ends_without_commit(app: Any) -> None:
    with app.app_context():
        _store(app).begin_write()
        assert locked(db.engine)
        db.session.rollback()
        assert not locked(db.engine)
        _store(app).begin_write()
        assert locked(db.engine)
        db.session.remove()  # what Flask-SQLAlchemy does at the end of a request
        assert not locked(db.engine)


def test_the_in_process_writer_lock_is_released_when_begin_immediate_fails(app: Any) -> None:
    with app.app_context():
        path = db.engine.url.database
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds SQLite's write lock
    try:
        with app.app_context():
            db.session.connection().exec_driver_sql("PRAGMA busy_timeout=50")
            with pytest.raises(Exception, match="locked"):
                _store(app).begin_write()
            assert not locked(db.engine)
            db.session.remove()
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_a_second_writer_in_the_process_waits_on_the_lock_until_the_first_commits(app: Any) -> None:
    began = threading.Event()
    second_in = threading.Event()
    order: list[str] = []

    def second() -> None:
        with app.app_context():
            began.wait(5)
            _store(app).begin_write()
            order.append("second began")
            second_in.set()
            db.session.rollback()

    thread = threading.Thread(target=second)
    thread.start()
    with app.app_context():
        _store(app).begin_write()
        began.set()
        assert not second_in.wait(0.3), "the second writer did not wait for the first"
        order.append("first commits")
        db.session.commit()
    assert second_in.wait(5)
    thread.join(5)
    assert order == ["first commits", "second began"]
    assert not _locked(app)


def test_a_second_session_of_the_same_thread_does_not_wait_on_the_lock_it_holds(app: Any) -> None:
    """It goes on to BEGIN IMMEDIATE, where SQLite decides (here: busy), as it did before the lock."""
    with app.app_context():
        _store(app).begin_write()
        other = db.session.session_factory()
        try:
            other.connection().exec_driver_sql("PRAGMA busy_timeout=50")
            started = time.monotonic()
            with pytest.raises(Exception, match="locked"):
                Store(other, current_scim.registry, None, "http://localhost/scim/v2").begin_write()
            assert time.monotonic() - started < 5
        finally:
            other.close()
        assert locked(db.engine)
        db.session.commit()
        assert not locked(db.engine)


# --- writers of other processes: the file lock -------------------------------------------------------------

def _hold_file_lock_in_a_child(path: str, seconds: float) -> tuple[Any, Any]:
    """A forked process that takes the file lock at ``path`` and keeps it ``seconds``; (process, event it set)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    taken = context.Event()

    def hold() -> None:
        import fcntl
        import os

        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        taken.set()
        time.sleep(seconds)

    child = context.Process(target=hold)
    child.start()
    assert taken.wait(10)
    return child, taken


def _lock_path(app: Any) -> str:
    with app.app_context():
        return f"{db.engine.url.database}-scim-writers"


def test_a_writer_waits_for_the_file_lock_of_a_writer_in_another_process(app: Any, scim: Scim) -> None:
    user = new_user(scim)  # the lock file exists once a write has happened
    child, _taken = _hold_file_lock_in_a_child(_lock_path(app), 0.6)
    try:
        started = time.monotonic()
        assert scim.patch(f"/Users/{user['id']}", DEACTIVATE).status_code == 200
        waited = time.monotonic() - started
    finally:
        child.join(10)
    assert waited >= 0.4  # it waited for the other process, not only for SQLite's own lock
    assert not _locked(app)


def test_a_file_lock_held_past_the_busy_timeout_lets_sqlite_decide_and_never_hangs(tmp_path: Any) -> None:
    """The file lock is waited for no longer than the connection's busy_timeout; then SQLite's lock decides
    (free here: the other process holds the file only), so the write goes through."""
    with example_app(f"sqlite:///{tmp_path / 'slow.sqlite3'}") as app:
        scim = Scim(app.test_client(), issue_token(app, "gridco.example"))
        user = new_user(scim)
        with app.app_context():
            from sqlalchemy import event

            event.listen(db.engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=200"))
            db.engine.dispose()
        child, _taken = _hold_file_lock_in_a_child(_lock_path(app), 5)
        try:
            started = time.monotonic()
            assert scim.patch(f"/Users/{user['id']}", DEACTIVATE).status_code == 200
            assert time.monotonic() - started < 3
        finally:
            child.kill()
            child.join(10)


def test_a_forked_process_opens_its_own_lock_file(app: Any, scim: Scim) -> None:
    """A descriptor inherited through fork shares its lock with the parent: the child must reopen."""
    import multiprocessing
    import os

    from flask_scim_entitlements.sqlite_writers import _lock_for

    new_user(scim)
    with app.app_context():
        writer = _lock_for(db.engine)
    assert writer.fd is not None and writer.pid == os.getpid()
    context = multiprocessing.get_context("fork")
    answer = context.Queue()

    def child() -> None:
        answer.put(writer._descriptor() != writer.fd or writer.pid == os.getpid())

    process = context.Process(target=child)
    process.start()
    try:
        assert answer.get(timeout=10) is True
    finally:
        process.join(10)
