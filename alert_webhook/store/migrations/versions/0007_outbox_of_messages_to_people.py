"""The outbox of messages to people; the e-mail lines of old timelines in its words

Messages (e-mail, Telegram) are written to ``outbox`` in the transaction of what they tell and sent by
a dispatcher afterwards. The timeline lines the synchronous mailer wrote before (``email_sent``,
``email_failed``, by "alertmanager") become the outbox's (``notice_sent``; ``notice_given_up``, since a
failed e-mail was never tried again), written by the system.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

EVENTS = sa.table(
    "case_events",
    sa.column("id", sa.Integer()),
    sa.column("kind", sa.String()),
    sa.column("actor_name", sa.String()),
    sa.column("data", sa.JSON()),
)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("notice", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("recipient_name", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_outbox_case_id_cases")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_outbox_state_due_at", ["state", "due_at"], unique=False)

    connection = op.get_bind()
    old = connection.execute(
        sa.select(EVENTS.c.id, EVENTS.c.kind, EVENTS.c.data).where(
            EVENTS.c.kind.in_(("email_sent", "email_failed"))
        )
    ).all()
    for event_id, kind, data in old:
        data = data or {}
        about = {"notice": "assignment", "channel": "email"}
        if kind == "email_sent":
            kind, data = "notice_sent", {**about, "to": ", ".join(data.get("to") or []), "attempt": 1}
        else:
            kind, data = "notice_given_up", {**about, "error": data.get("error", ""), "attempts": 1}
        connection.execute(
            sa.update(EVENTS).where(EVENTS.c.id == event_id).values(kind=kind, actor_name="system", data=data)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_state_due_at")
        batch_op.drop_index(batch_op.f("ix_outbox_case_id"))
    op.drop_table("outbox")
