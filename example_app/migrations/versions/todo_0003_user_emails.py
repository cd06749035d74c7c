"""user_emails: a user's email addresses as SCIM sends them; case-insensitive unique indexes on userName and group names

Revision ID: todo_0003
Revises: todo_0002
Create Date: 2026-11-23 19:50:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "todo_0003"
down_revision = "todo_0002"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_emails",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=True),
        sa.Column("display", sa.String(length=255), nullable=True),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_emails", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_emails_user_id"), ["user_id"], unique=False)
    # Emails now live in user_emails: carry the single address over, then drop the old column.
    op.execute("INSERT INTO user_emails (user_id, value, type, \"primary\") "
               "SELECT id, email, 'work', true FROM users WHERE email IS NOT NULL AND email <> ''")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("email")
    # After the batch operation: on SQLite it rebuilds the table and would lose an expression index.
    op.create_index("ix_users_org_lower_user_name", "users", ["org_id", sa.text("lower(user_name)")], unique=True)
    op.create_index("ix_groups_org_lower_name", "groups", ["org_id", sa.text("lower(name)")], unique=True)


def downgrade():
    op.drop_index("ix_groups_org_lower_name", table_name="groups")
    op.drop_index("ix_users_org_lower_user_name", table_name="users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=255), nullable=True))
    op.execute("UPDATE users SET email = (SELECT value FROM user_emails WHERE user_emails.user_id = users.id "
               "ORDER BY \"primary\" DESC, id LIMIT 1)")
    with op.batch_alter_table("user_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_emails_user_id"))
    op.drop_table("user_emails")
