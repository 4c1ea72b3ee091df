"""indexes of keyset lists

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27 20:30:00

Lists page by keys (feedsvc.paging): every page is one index range. The dashboard's chart
reads the shown sources' articles of the last 30 days (``source_id, created_at``); the
deliveries list filtered by state reads ``state, id``.
"""

from alembic import op


revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_articles_source_created", "articles", ["source_id", "created_at"])
    op.create_index("ix_deliveries_state_id", "deliveries", ["state", "id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_state_id", table_name="deliveries")
    op.drop_index("ix_articles_source_created", table_name="articles")
