"""rate_keys: one row per rate-limited key, locked while its events are counted

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27 17:50:00

Checking a limit and counting the event were two steps, so parallel requests all passed the
check before any was counted (40 parallel wrong logins let 8 through with a limit of 5). The
counting transaction now first upserts the key's row here, which locks it until commit (a row
lock on PostgreSQL, the write lock on SQLite); see feedsvc/ratelimit.py. ``touched_at`` and the
new index on ``rate_events.at`` let old rows be dropped without a full scan.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_keys")),
    )
    with op.batch_alter_table("rate_keys", schema=None) as batch_op:
        batch_op.create_index("ix_rate_keys_touched_at", ["touched_at"], unique=False)
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.create_index("ix_rate_events_at", ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_events", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_events_at")
    with op.batch_alter_table("rate_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_rate_keys_touched_at")
    op.drop_table("rate_keys")
