"""ids never reused, sessions by random token, groups that grant roles, an activity log of what changed

- SQLite: every table with an integer id is rebuilt with AUTOINCREMENT, so the id of a deleted row is
  never handed out again (RFC 7643 §3.1).  PostgreSQL's sequences never reuse a number: nothing to do.
  An id deleted from the top of a table *before* this revision may still be handed out once more:
  SQLite kept no record of it.
- Rows whose user is gone (SQLite did not enforce foreign keys until now) are deleted.
- users.session_token: what a session cookie names instead of the row id, random per user (given at sign-in).
- group_roles: an org admin maps IdP groups to app roles.
- activity_events and request_counts replace scim_activity (one row per request, with no detail).

Revision ID: todo_0005
Revises: todo_0004
Create Date: 2026-12-01 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "todo_0005"
down_revision = "todo_0004"
branch_labels = None
depends_on = None

#: Parents before children, so each rebuilt table's foreign keys name tables that exist.
TABLES = ["orgs", "roles", "characteristics", "users", "user_emails", "groups", "todos"]
#: Expression indexes a SQLite table rebuild would lose (see todo_0003, todo_0004).
EXPRESSION_INDEXES = {
    "users": ("ix_users_org_lower_user_name", ["org_id", sa.text("lower(user_name)")]),
    "groups": ("ix_groups_org_lower_name", ["org_id", sa.text("lower(name)")]),
}
#: (table, column) pairs that point at a user: rows whose user is gone are deleted.
USER_REFERENCES = [("todos", "owner_id"), ("user_emails", "user_id"), ("user_roles", "user_id"),
                   ("user_characteristics", "user_id"), ("group_members", "user_id")]


def upgrade():
    for table, column in USER_REFERENCES:
        op.execute(f"DELETE FROM {table} WHERE {column} NOT IN (SELECT id FROM users)")
    op.execute("DELETE FROM group_members WHERE group_id NOT IN (SELECT id FROM groups)")

    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        for name, _columns in EXPRESSION_INDEXES.values():
            op.drop_index(name)
    # NULL until the user's next sign-in (web.sign_in gives one): no row-by-row UPDATE of every user here.
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("session_token", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_users_session_token", ["session_token"], unique=True)

    if sqlite:
        for table in TABLES:
            with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
                pass
        for table, (name, columns) in EXPRESSION_INDEXES.items():
            op.create_index(name, table, columns, unique=True)

    op.create_table(
        "group_roles",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["role_id"], ["roles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "role_id"),
    )
    op.create_index("ix_group_roles_role_id", "group_roles", ["role_id"], unique=False)
    op.create_table(
        "activity_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=255), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_activity_events_org_id_id", "activity_events", ["org_id", "id"], unique=False)
    op.create_table(
        "request_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("endpoint", sa.String(length=255), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("org_id", "method", "endpoint", "status", name="uq_request_counts_key"),
        sqlite_autoincrement=True,
    )
    op.drop_index("ix_scim_activity_org_id_id", table_name="scim_activity")
    op.drop_table("scim_activity")


def downgrade():
    # AUTOINCREMENT stays on SQLite: todo_0004's schema works the same with it.
    op.create_table(
        "scim_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("path", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["orgs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_scim_activity_org_id_id", "scim_activity", ["org_id", "id"], unique=False)
    op.drop_table("request_counts")
    op.drop_index("ix_activity_events_org_id_id", table_name="activity_events")
    op.drop_table("activity_events")
    op.drop_index("ix_group_roles_role_id", table_name="group_roles")
    op.drop_table("group_roles")
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_users_org_lower_user_name", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_index("ix_users_session_token")
        batch_op.drop_column("session_token")
    if op.get_bind().dialect.name == "sqlite":
        op.create_index("ix_users_org_lower_user_name", "users", ["org_id", sa.text("lower(user_name)")], unique=True)
