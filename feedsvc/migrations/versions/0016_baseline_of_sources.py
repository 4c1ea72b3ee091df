"""baseline of sources

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27 20:15:00

A source's first successful fetch is a baseline: its entries are stored without being
announced. ``baseline_at`` is when it was taken (NULL: the next successful fetch is one);
sources that had fetched successfully before this migration are taken as baselined at their
creation. ``last_unannounced``, ``unannounced_baseline`` and ``unannounced_old`` count the
new entries stored without announcement (the last fetch's, and totals by reason).
"""

from alembic import op
import sqlalchemy as sa


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# A batch that rebuilds a table on SQLite must keep its AUTOINCREMENT (migration 0013).
KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}

COUNTERS = ("last_unannounced", "unannounced_baseline", "unannounced_old")


def upgrade() -> None:
    with op.batch_alter_table("sources", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        batch_op.add_column(sa.Column("baseline_at", sa.DateTime(timezone=True), nullable=True))
        for name in COUNTERS:
            batch_op.add_column(
                sa.Column(name, sa.Integer(), nullable=False, server_default="0")
            )
    op.execute("UPDATE sources SET baseline_at = created_at WHERE fetch_count > error_count")


def downgrade() -> None:
    with op.batch_alter_table("sources", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        for name in reversed(COUNTERS):
            batch_op.drop_column(name)
        batch_op.drop_column("baseline_at")
