"""search index of articles

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-27 20:30:00

Keyword search used ``LIKE '%word%'`` over every article's folded ``search_text``; now it
has an index (see ``feedsvc.search`` for the semantics and the queries):

- SQLite: ``article_search``, a contentless FTS5 table over the folded text and a
  ``c<category id>`` token, kept in step by triggers in the same transaction as the write.
  Its rowid is ``published second << 31 | article id`` (seconds since 1970 clamped to
  32 bits), so FTS5 yields matches newest first and a LIMIT stops early.
- PostgreSQL: ``search_vector``, a stored generated ``tsvector`` ('simple' configuration, on
  the folded text with every run of non-alphanumerics made one space, so both databases cut
  words alike), with a GIN index.

Both are built for the existing rows here: at 1,000,000 articles this takes minutes.

Any later migration that rebuilds ``articles`` on SQLite (``batch_alter_table``) drops its
triggers: it must create them again (``SQLITE_TRIGGERS``).
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

KEY = (
    "((max(0, min(4294967295, CAST(strftime('%s', {row}.published_at) AS INTEGER))) << 31)"
    " | {row}.id)"
)
INSERT = (
    "INSERT INTO article_search (rowid, text, category)"
    f" VALUES ({KEY.format(row='NEW')}, NEW.search_text, 'c' || NEW.category_id);"
)
DELETE = (
    "INSERT INTO article_search (article_search, rowid, text, category)"
    f" VALUES ('delete', {KEY.format(row='OLD')}, OLD.search_text, 'c' || OLD.category_id);"
)
SQLITE_TRIGGERS = (
    f"CREATE TRIGGER article_search_insert AFTER INSERT ON articles BEGIN {INSERT} END",
    f"CREATE TRIGGER article_search_delete AFTER DELETE ON articles BEGIN {DELETE} END",
    "CREATE TRIGGER article_search_update"
    " AFTER UPDATE OF search_text, published_at, category_id ON articles"
    f" BEGIN {DELETE} {INSERT} END",
)
PG_VECTOR = (
    "to_tsvector('simple'::regconfig,"
    " regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g'))"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE articles ADD COLUMN search_vector tsvector"
            f" GENERATED ALWAYS AS ({PG_VECTOR}) STORED"
        )
        op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search_vector)")
        return
    op.execute(
        "CREATE VIRTUAL TABLE article_search USING fts5(text, category, content='',"
        " tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(
        "INSERT INTO article_search (rowid, text, category)"
        f" SELECT {KEY.format(row='articles')}, search_text, 'c' || category_id FROM articles"
    )
    for trigger in SQLITE_TRIGGERS:
        op.execute(trigger)
    op.execute("INSERT INTO article_search (article_search) VALUES ('optimize')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE articles DROP COLUMN search_vector")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER article_search_{name}")
    op.execute("DROP TABLE article_search")
