"""Notifications come from the spool: the file each came from, and why applying it failed

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 04:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spool_name", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("apply_error", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_notifications_spool_name"), ["spool_name"])


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_notifications_spool_name"), type_="unique")
        batch_op.drop_column("apply_error")
        batch_op.drop_column("spool_name")
