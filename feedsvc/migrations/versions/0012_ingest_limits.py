"""64-bit enclosure lengths; new entries skipped by the last fetch

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27 17:50:00

Upstream enclosures of 4 GiB and more are real (video, disk images); their length did not fit
PostgreSQL's 32-bit INTEGER and failed the whole fetch. SQLite's INTEGER is already 64-bit, so
only PostgreSQL changes type. ``sources.last_skipped`` counts the new entries a fetch left
for later because of ``max_new_entries_per_fetch``.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("last_skipped", sa.Integer(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("articles", "image_length", type_=sa.BigInteger())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Lengths beyond 32 bits cannot go back: they are dropped, as before this revision.
        op.execute("UPDATE articles SET image_length = NULL WHERE image_length > 2147483647")
        op.alter_column("articles", "image_length", type_=sa.Integer())
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("last_skipped")
