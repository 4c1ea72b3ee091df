"""circuit breakers of subscribers

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27 17:45:00

A webhook endpoint or WebSub subscription that keeps not answering (timeouts, connections
refused or cut) is paused: ``consecutive_timeouts`` counts the attempts in a row without an
answer, ``paused_until`` is when one probe delivery may go again (NULL: not paused).
"""

from alembic import op
import sqlalchemy as sa


revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

TABLES = ("webhook_endpoints", "hub_subscriptions")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("consecutive_timeouts", sa.Integer(), nullable=False, server_default="0")
            )
            batch_op.add_column(
                sa.Column("paused_until", sa.DateTime(timezone=True), nullable=True)
            )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("paused_until")
            batch_op.drop_column("consecutive_timeouts")
