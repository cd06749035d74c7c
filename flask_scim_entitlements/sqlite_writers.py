"""SQLite: the writers of one database queue inside the process on a lock, not in SQLite's busy handler.

SQLite has one writer at a time.  A write request begins its transaction as ``BEGIN IMMEDIATE``
(:meth:`~flask_scim_entitlements.store.Store.begin_write`); a second writer's ``BEGIN IMMEDIATE``
then waits in SQLite's busy handler, which polls with growing sleeps (1, 2, 5, 10, 15, 20, 25, 25,
25, 50, 50, 100 ms): under a burst of writes a waiter often sleeps long after the lock came free,
while the other threads of the worker fight over the GIL.  So the writers of one database in one
process first take a ``threading.Lock``, and the next one wakes the moment the previous writer's
transaction ends.  Writers in other processes (gunicorn workers) then meet at a file lock
(``flock``) on ``<database>-scim-writers`` beside the database, which the holder's process releases
as its transaction ends: a waiter polls it at most a millisecond apart, where SQLite's busy handler
sleeps up to 100 ms.  Where no file lock can be had (no ``fcntl``, a directory it cannot write, an
in-memory database), writers of other processes wait in SQLite's busy timeout, as before.

The lock is taken only to begin a write transaction, and released when that transaction ends,
whatever ends it: it is recorded on the pooled DBAPI connection, and released when the connection
goes back to the pool (the pool's ``checkin``: after the commit or the rollback, at the end of the
session's transaction, at the request's teardown, or when a forgotten connection is collected),
and when the session's transaction ends (``after_transaction_end``: a session bound to a
connection of its own does not give it back).  Whichever comes first releases it, once.

A waiter never waits longer than the connection's ``busy_timeout`` (what SQLite would have made it
wait): past it, or when its own thread already holds the lock (a second session of one request), it
goes on to ``BEGIN IMMEDIATE`` without the lock, and SQLite decides, as it did before this lock.
The file lock is opened once per process (a forked worker opens its own: a lock held through a
descriptor shared with the parent would be held by both).
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any
from weakref import WeakKeyDictionary, WeakSet

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: writers of other processes wait in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

import sqlalchemy as sa
from sqlalchemy.orm import Session, scoped_session

#: Where a connection (its pool record's ``info``) and a session (its ``info``) keep the held lock.
_KEY = "scim_entitlements.sqlite_write_lock"
_BUSY_KEY = "scim_entitlements.sqlite_busy_timeout"

_locks: dict[str, _WriterLock] = {}
_registry_guard = threading.Lock()
_engines: WeakSet[Any] = WeakSet()
_engine_locks: WeakKeyDictionary[Any, _WriterLock] = WeakKeyDictionary()  # (the path of each engine, worked out once)
_session_classes: WeakSet[Any] = WeakSet()


#: The longest a writer waiting for another process's file lock sleeps between two tries.
_FILE_POLL_MAX = 0.001


class _WriterLock:
    """One database's in-process writer lock, the thread that holds it (to never wait on itself), and the
    file lock that serialises the writers of other processes (``path`` None: there is none)."""

    __slots__ = ("lock", "owner", "path", "fd", "pid")

    def __init__(self, path: str | None) -> None:
        self.lock = threading.Lock()
        self.owner: int | None = None
        self.path = path if fcntl is not None else None
        self.fd: int | None = None
        self.pid: int | None = None

    def lock_file(self, deadline: float) -> bool:
        """Take the file lock (the in-process lock is held), polling until ``deadline``; False without it."""
        fd = self._descriptor()
        if fd is None:
            return False
        delay = 0.00005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                pass
            except OSError:
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(delay, left))
            delay = min(delay * 2, _FILE_POLL_MAX)

    def unlock_file(self) -> None:
        if self.fd is not None and self.pid == os.getpid():
            try:
                fcntl.flock(self.fd, fcntl.LOCK_UN)
            except OSError:
                pass

    def _descriptor(self) -> int | None:
        """This process's descriptor of the lock file, opened on first use (again after a fork)."""
        if self.path is None:
            return None
        pid = os.getpid()
        if self.fd is None or self.pid != pid:
            try:
                self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self.path = None  # a directory it cannot write: SQLite's busy handler, as before
                return None
            self.pid = pid
        return self.fd


class _Hold:
    """One acquisition: released once, by whichever end of the transaction comes first."""

    __slots__ = ("writer", "filed")

    def __init__(self, writer: _WriterLock, filed: bool) -> None:
        self.writer = writer
        self.filed = filed

    def release(self) -> None:
        if self.filed:
            self.writer.unlock_file()
        self.writer.owner = None
        self.writer.lock.release()


def begin_immediate(session: Session | scoped_session[Any], connection: sa.Connection) -> None:
    """Take this database's writer lock, then ``BEGIN IMMEDIATE`` on ``connection`` (a SQLite one,
    not in a transaction).  If ``BEGIN IMMEDIATE`` fails, the lock is released before the error goes on."""
    # The request's session (not the scoped proxy): its class carries the listener, its info the hold.
    actual = session() if isinstance(session, scoped_session) else session
    engine = connection.engine
    if engine not in _engines or type(actual) not in _session_classes:
        _register(engine, actual)
    record_info = connection.info
    writer = _lock_for(engine)
    me = threading.get_ident()
    hold = None
    timeout = _busy_timeout(connection, record_info)
    deadline = time.monotonic() + timeout
    if writer.owner != me and writer.lock.acquire(timeout=timeout):
        writer.owner = me
        hold = _Hold(writer, writer.lock_file(deadline))
        record_info[_KEY] = hold
        actual.info[_KEY] = record_info
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _release(record_info)
        raise


def locked(engine: Any) -> bool:
    """Is the writer lock of ``engine``'s database held in this process?  (For tests and diagnostics.)"""
    return _lock_for(engine).lock.locked()


def _release(record_info: dict[Any, Any] | None) -> None:
    if record_info is None:
        return
    hold = record_info.pop(_KEY, None)  # one atomic pop: only one of the ends releases
    if hold is not None:
        hold.release()


def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        _release(record.info)


def _on_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None and _KEY in session.info:
        _release(session.info.pop(_KEY, None))


def _register(engine: Any, session: Session) -> None:
    with _registry_guard:
        if engine not in _engines:
            sa.event.listen(engine, "checkin", _on_checkin)
            _engines.add(engine)
        cls = type(session)
        if cls not in _session_classes:
            # The class of the session (Flask-SQLAlchemy's sessionmaker makes one of its own), not each instance.
            sa.event.listen(cls, "after_transaction_end", _on_transaction_end)
            _session_classes.add(cls)


def _lock_for(engine: Any) -> _WriterLock:
    """One lock per database file (engines of one file share it); per engine for in-memory databases."""
    writer = _engine_locks.get(engine)
    if writer is None:
        _engine_locks[engine] = writer = _file_lock_for(engine)
    return writer


def _file_lock_for(engine: Any) -> _WriterLock:
    database = engine.url.database or ""
    in_memory = database in ("", ":memory:") or database.startswith("file:")
    key = f"engine:{id(engine)}" if in_memory else os.path.abspath(database)
    writer = _locks.get(key)
    if writer is None:
        with _registry_guard:
            writer = _locks.setdefault(key, _WriterLock(None if in_memory else f"{key}-scim-writers"))
    return writer


def _busy_timeout(connection: sa.Connection, record_info: dict[Any, Any]) -> float:
    """The connection's ``busy_timeout`` in seconds, read once per DBAPI connection (not a statement of
    the request's: it goes to the driver directly)."""
    seconds = record_info.get(_BUSY_KEY)
    if seconds is None:
        dbapi: Any = connection.connection.dbapi_connection
        row = dbapi.execute("PRAGMA busy_timeout").fetchone()
        seconds = record_info[_BUSY_KEY] = (row[0] if row else 0) / 1000
    return float(seconds)


__all__ = ["begin_immediate", "locked"]
