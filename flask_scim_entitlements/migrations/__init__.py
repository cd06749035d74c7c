"""The package's own Alembic branch (label ``scim_entitlements``): the ``scim_token`` table.

A host adds it to its Flask-Migrate configuration::

    import flask_scim_entitlements.migrations as scim_migrations

    @migrate.configure
    def add_scim_branch(config):
        ours = config.get_main_option("version_locations") or "migrations/versions"
        config.set_main_option("version_locations", f"{ours} {scim_migrations.VERSIONS}")
        return config

and makes its first revision follow it (``down_revision = "scim_0001"``)
so that ``flask db upgrade`` has one head.  Shipped revisions are never edited:
later changes come as new revisions.
"""

from pathlib import Path

#: The folder holding this branch's revisions, for ``version_locations``.
VERSIONS = str(Path(__file__).parent / "versions")

#: The newest revision of the branch.
HEAD = "scim_0001"
