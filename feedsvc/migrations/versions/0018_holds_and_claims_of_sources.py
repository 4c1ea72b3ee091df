"""holds and claims of sources

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27 20:20:00

A manual fetch ("fetch now", ``feedsvc fetch``) must tell a source held back by an upstream's
``Retry-After`` or by backoff apart from one that is simply not due yet, and must not run
beside a worker's fetch of the same source. ``hold_until``/``hold_reason`` record the first,
``claimed_until`` the lease of a running fetch. Sources failing now are held until their
next fetch, as the backoff already put it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# A batch that rebuilds a table on SQLite must keep its AUTOINCREMENT (migration 0013).
KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("sources", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        batch_op.add_column(sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("hold_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("hold_reason", sa.String(length=20), nullable=False, server_default="")
        )
    op.execute(
        "UPDATE sources SET hold_until = next_fetch_at, hold_reason = 'backoff'"
        " WHERE consecutive_failures > 0 AND enabled"
    )


def downgrade() -> None:
    with op.batch_alter_table("sources", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        batch_op.drop_column("hold_reason")
        batch_op.drop_column("hold_until")
        batch_op.drop_column("claimed_until")
