"""Who forwarded a complaint to an official, and who recorded its resolution (the complaints page names them)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalated_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("resolution_recorded_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_complaints_escalated_by_id_users"), "users", ["escalated_by_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_complaints_resolution_recorded_by_id_users"),
            "users",
            ["resolution_recorded_by_id"],
            ["id"],
        )
    # A complaint the officer solved was recorded, resolution and all, by the officer who responded.
    op.execute("UPDATE complaints SET resolution_recorded_by_id = officer_id WHERE resolved_by = 'officer'")


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_complaints_resolution_recorded_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_complaints_escalated_by_id_users"), type_="foreignkey")
        batch_op.drop_column("resolution_recorded_by_id")
        batch_op.drop_column("escalated_by_id")
