"""PostgreSQL: the search index holds each article's category

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-28 05:40:00

A category's keyword feed of a rare word took 43 ms at 1,000,000 articles (8 ms at 10,000):
the planner, which guesses an unknown word's frequency, took the word's few entries from the
GIN index and ANDed them with the category's date index, 300,000 entries read to keep five.
Now the GIN index is on ``(category_id, search_vector)`` (the ``btree_gin`` extension, which
ships with PostgreSQL and is trusted: the database's owner may create it), so the category
is one more key of the same index lookup and GIN skips through its entries to the word's.
A search without a category uses the same index (a GIN index answers any of its columns).

The index is built before the old one is dropped, under the same name: it reads every
article's stored ``search_vector`` once and blocks writes to ``articles`` (not reads)
meanwhile, minutes at 1,000,000. SQLite: nothing changes (its FTS table holds the category
as a token since 0021).
"""

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def _replace(columns: str) -> None:
    op.execute(f"CREATE INDEX ix_articles_search_new ON articles USING gin ({columns})")
    op.execute("DROP INDEX ix_articles_search")
    op.execute("ALTER INDEX ix_articles_search_new RENAME TO ix_articles_search")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
        _replace("category_id, search_vector")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _replace("search_vector")  # the extension stays: other objects may use it
