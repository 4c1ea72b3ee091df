"""fetch history of sources, and indexes of the deliveries' lists

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-27 23:30:00

- ``source_fetches``: the last fetches of each source (time, outcome, HTTP status, items
  new, error, duration), written with the fetch's record and pruned to
  ``FETCH_HISTORY_PER_SOURCE`` rows per source in the same transaction
  (``feedsvc.ingest.history``), so the table stays bounded by the number of sources.
- ``sources.site_url``: the site the feed says it belongs to (its ``<link>``).
- Deliveries listed by subscriber (``(endpoint_id, id)`` and the two others), the admin's
  "recent deliveries" of one subscriber and its filter; and by channel (partial indexes
  on ``id`` where the channel's column is set), the channel filter. Each is a newest-first
  keyset list (``feedsvc.paging``) that reads only the rows it shows.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

SUBSCRIBER_COLUMNS = ("endpoint_id", "hub_subscription_id", "email_subscriber_id")


def upgrade() -> None:
    op.create_table(
        "source_fetches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("new_items", sa.Integer(), nullable=False),
        sa.Column("updated_items", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["sources.id"],
            name=op.f("fk_source_fetches_source_id_sources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_fetches")),
    )
    op.create_index("ix_source_fetches_source_id", "source_fetches", ["source_id", "id"])
    op.add_column("sources", sa.Column("site_url", sa.String(length=2000), nullable=True))
    for column in SUBSCRIBER_COLUMNS:
        op.create_index(f"ix_deliveries_{column}", "deliveries", [column, "id"])
        op.create_index(
            f"ix_deliveries_channel_{column}",
            "deliveries",
            ["id"],
            postgresql_where=sa.text(f"{column} IS NOT NULL"),
            sqlite_where=sa.text(f"{column} IS NOT NULL"),
        )


def downgrade() -> None:
    for column in SUBSCRIBER_COLUMNS:
        op.drop_index(f"ix_deliveries_channel_{column}", table_name="deliveries")
        op.drop_index(f"ix_deliveries_{column}", table_name="deliveries")
    with op.batch_alter_table("sources", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_column("site_url")
    op.drop_index("ix_source_fetches_source_id", table_name="source_fetches")
    op.drop_table("source_fetches")
