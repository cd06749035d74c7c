"""users.team: the Todo app's own SCIM extension attribute (urn:bestapps:scim:schemas:extension:todoapp:1.0:User)

Revision ID: todo_0004
Revises: todo_0003
Create Date: 2026-12-01 17:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

revision = "todo_0004"
down_revision = "todo_0003"
branch_labels = None
depends_on = None


# Plain ALTER TABLE, not batch mode: on SQLite a batch copy of "users" would lose the expression index
# ix_users_org_lower_user_name, which SQLite's reflection cannot see.  (DROP COLUMN needs SQLite 3.35.)


def upgrade():
    op.add_column("users", sa.Column("team", sa.String(length=100), nullable=True))


def downgrade():
    op.drop_column("users", "team")
