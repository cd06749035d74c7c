"""scim_token: hashed API tokens, each belonging to one tenant.

Revision ID: scim_0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "scim_0001"
down_revision = None
branch_labels = ("scim_entitlements",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scim_token",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("tenant", sa.String(255), nullable=False),
        sa.Column("tenant_key", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("hint", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_scim_token_token_hash"),
    )
    op.create_index("ix_scim_token_tenant", "scim_token", ["tenant"])


def downgrade() -> None:
    op.drop_index("ix_scim_token_tenant", table_name="scim_token")
    op.drop_table("scim_token")
