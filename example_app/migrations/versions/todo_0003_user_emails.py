"""user_emails: a user's email addresses as SCIM sends them (value, type, display, primary)

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


def downgrade():
    with op.batch_alter_table("user_emails", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_emails_user_id"))
    op.drop_table("user_emails")
