"""scim activity log for the admin page

Revision ID: todo_0002
Revises: todo_0001
Create Date: 2026-11-24 10:00:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'todo_0002'
down_revision = 'todo_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('scim_activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=True),
    sa.Column('method', sa.String(length=10), nullable=False),
    sa.Column('path', sa.String(length=2000), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('duration_ms', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['org_id'], ['orgs.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('scim_activity', schema=None) as batch_op:
        batch_op.create_index('ix_scim_activity_org_id_id', ['org_id', 'id'], unique=False)


def downgrade():
    with op.batch_alter_table('scim_activity', schema=None) as batch_op:
        batch_op.drop_index('ix_scim_activity_org_id_id')

    op.drop_table('scim_activity')
