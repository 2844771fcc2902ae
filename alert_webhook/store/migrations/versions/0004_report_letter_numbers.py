"""Resolution reports keep the letter number issued when they were written, unique, its sequence per year

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Reports written before keep no number (None): a number is issued once, when a report is written.
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("number", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("number_year", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("number_sequence", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_reports_number"), ["number"])
        batch_op.create_unique_constraint(
            batch_op.f("uq_reports_number_year"), ["number_year", "number_sequence"]
        )


def downgrade() -> None:
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_reports_number_year"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_reports_number"), type_="unique")
        batch_op.drop_column("number_sequence")
        batch_op.drop_column("number_year")
        batch_op.drop_column("number")
