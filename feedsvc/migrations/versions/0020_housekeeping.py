"""housekeeping

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-27 20:15:00

What the scheduled housekeeping (feedsvc.housekeeping) needs: its state (the claim of the
next sweep, what the sweeps removed), each source's age of articles to keep (NULL: for
ever), and indexes so that each of its batches is cheap at millions of rows: whether a
payload is still referenced by a delivery (also what a payload's foreign key checks on every
delete), the deliveries of an article (its foreign key sets them NULL when it is deleted),
a source's articles by age, the oldest payloads, ended hub subscriptions, addresses never
confirmed and addresses that left.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# A batch that rebuilds a table on SQLite must keep its AUTOINCREMENT (migration 0013).
KEEP_AUTOINCREMENT = {"sqlite_autoincrement": True}


def upgrade() -> None:
    op.create_table(
        "housekeeping_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("next_sweep_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_swept_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("last_removed", sa.JSON(), nullable=False),
        sa.Column("removed_total", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_housekeeping_state")),
    )
    op.create_index("ix_deliveries_payload_id", "deliveries", ["payload_id"])
    op.create_index("ix_deliveries_article_id", "deliveries", ["article_id"])
    op.create_index("ix_articles_source_published", "articles", ["source_id", "published_at"])
    with op.batch_alter_table("sources", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        batch_op.add_column(sa.Column("keep_days", sa.Integer(), nullable=True))
    op.create_index(
        "ix_delivery_payloads_created_at", "delivery_payloads", ["created_at", "id"]
    )
    op.create_index("ix_hub_subscriptions_ended", "hub_subscriptions", ["intent", "expires_at"])
    op.create_index(
        "ix_email_subscribers_unconfirmed",
        "email_subscribers",
        ["confirmation_sent_at"],
        postgresql_where=sa.text("confirmed_at IS NULL"),
        sqlite_where=sa.text("confirmed_at IS NULL"),
    )
    op.create_index(
        "ix_email_subscribers_unsubscribed",
        "email_subscribers",
        ["unsubscribed_at"],
        postgresql_where=sa.text("unsubscribed_at IS NOT NULL"),
        sqlite_where=sa.text("unsubscribed_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_email_subscribers_unsubscribed", table_name="email_subscribers")
    op.drop_index("ix_email_subscribers_unconfirmed", table_name="email_subscribers")
    op.drop_index("ix_hub_subscriptions_ended", table_name="hub_subscriptions")
    op.drop_index("ix_delivery_payloads_created_at", table_name="delivery_payloads")
    with op.batch_alter_table("sources", table_kwargs=KEEP_AUTOINCREMENT) as batch_op:
        batch_op.drop_column("keep_days")
    op.drop_index("ix_articles_source_published", table_name="articles")
    op.drop_index("ix_deliveries_article_id", table_name="deliveries")
    op.drop_index("ix_deliveries_payload_id", table_name="deliveries")
    op.drop_table("housekeeping_state")
