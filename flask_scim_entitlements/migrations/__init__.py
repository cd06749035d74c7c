"""The package's own tables (``scim_token``), migrated with their own Alembic version table.

Why not an Alembic branch in the host's history: Alembic records only the heads
of one history, so a package branch either forces the host's first revision to
follow it (and a later package revision then makes two heads: ``flask db
upgrade`` fails with "Multiple head revisions" on every host until it merges),
or needs ``version_locations`` tricks that send the host's own revisions into
site-packages.  Instead the package's revisions (``versions/``) are recorded in
a table of their own, ``scim_alembic_version``, and never meet the host's:

- :func:`hook`, one line in the host's ``migrations/env.py``, brings the package's
  tables to the package's newest revision on every ``flask db upgrade``, and keeps
  them out of the host's ``flask db migrate`` (autogenerate neither creates nor
  drops them);
- ``flask scim upgrade`` (:func:`upgrade`) does the same alone, for hosts that do
  not use Flask-Migrate.

The package's tables have no foreign keys into the host's tables, so the two
histories can run in either order.  Shipped revisions are never edited: later
changes come as new revisions after :data:`HEAD`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from alembic.script import ScriptDirectory

#: The table recording which of the package's revisions a database has.
VERSION_TABLE = "scim_alembic_version"

#: Every table the package owns (kept out of the host's autogenerate).
TABLES = frozenset({"scim_token", VERSION_TABLE})

#: Where the package's revisions live.
VERSION_LOCATIONS = [str(Path(__file__).parent / "versions")]

#: The first revision, created by 0.1.0 as a branch in the host's own history (see :func:`_adopt`).
FIRST = "scim_0001"

log = logging.getLogger(__name__)


def script() -> ScriptDirectory:
    """The package's revisions."""
    return ScriptDirectory(str(Path(__file__).parent), version_locations=list(VERSION_LOCATIONS))


def head() -> str:
    """The package's newest revision: what this version of the package needs."""
    return str(script().get_current_head())


def _context(connection: Any, **opts: Any) -> MigrationContext:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE, **opts})


def current(connection: Any) -> str | None:
    """The package revision ``connection``'s database is at (None: not migrated)."""
    return _context(connection).get_current_revision()


def _adopt(connection: Any) -> None:
    # 0.1.0 shipped scim_0001 as a branch of the host's history: its table exists but this version
    # table does not. Record scim_0001 here, so the next revisions apply on top of it.
    if current(connection) is None and connection.dialect.has_table(connection, "scim_token"):
        _context(connection).stamp(script(), FIRST)
        log.info("Recorded the existing scim_token table as revision %s in %s", FIRST, VERSION_TABLE)


def upgrade(connection: Any, revision: str = "head") -> None:
    """Bring the package's tables to ``revision`` in the caller's transaction
    (``with engine.begin() as connection: upgrade(connection)``)."""
    scripts = script()
    _adopt(connection)
    # What alembic.command.upgrade runs, without an env.py: so it can also run from inside the host's.
    context = _context(connection, fn=lambda heads, _ctx: scripts._upgrade_revs(revision, heads))
    with Operations.context(context), context.begin_transaction():
        context.run_migrations()


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic ``include_name`` (the database's side): the package's tables are not the host's."""
    return not (type_ == "table" and name in TABLES)


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic ``include_object`` (the metadata's side): ``scim_token`` sits on the host's metadata,
    so that ``db.create_all()`` creates it, but its migrations are the package's."""
    return not (type_ == "table" and name in TABLES)


#: The autogenerate filters the hook adds to the host's, as context.configure() arguments.
FILTERS: dict[str, Callable[..., bool]] = {"include_name": include_name, "include_object": include_object}


def _both(ours: Callable[..., bool], theirs: Callable[..., bool] | None) -> Callable[..., bool]:
    def included(*args: Any) -> bool:
        return ours(*args) and (theirs is None or theirs(*args))

    included.scim_tables_excluded = True  # type: ignore[attr-defined]
    return included


def hook(context: Any) -> None:
    """Call from the host's ``migrations/env.py`` (Flask-Migrate), right after ``config = context.config``::

        import flask_scim_entitlements.migrations as scim_migrations
        scim_migrations.hook(context)

    On ``flask db upgrade`` (and ``downgrade`` or ``stamp``: whatever the host's revision, the
    installed package needs its tables at :func:`head`) it first brings the package's tables to
    :func:`head`, in their own transaction and version table; on every command it keeps them out of
    autogenerate.
    ``--sql`` (offline) output does not include them: run ``flask scim upgrade`` for those.
    With plain Alembic (no Flask-Migrate), pass :data:`FILTERS` to ``context.configure()`` and call
    :func:`upgrade` with your connection instead.
    """
    from flask import current_app

    migrate = current_app.extensions["migrate"]
    args = migrate.configure_args  # Flask-Migrate's env.py passes them to context.configure()
    for key, ours in FILTERS.items():
        if not getattr(args.get(key), "scim_tables_excluded", False):
            args[key] = _both(ours, args.get(key))
    if context.is_offline_mode():
        return
    try:
        # upgrade, downgrade and stamp name a revision of the host's; migrate, check, current... do not.
        moving = context.get_revision_argument() is not None
    except KeyError:
        moving = False
    if not moving:
        return
    with migrate.db.engine.begin() as connection:
        upgrade(connection)
