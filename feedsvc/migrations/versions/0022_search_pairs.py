"""search index of pairs of neighbouring words

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27 23:20:00

A phrase of two common words that never stand next to each other ("va tinh" where "và" and
"tỉnh" are in nearly every article but never together) made both indexes hand over every
article holding both words, each checked for positions: seconds at a million articles, for a
result that is empty. Now the index also holds every pair of neighbouring words as one
token, and a phrase is looked up by its pairs as well as by its words (``feedsvc.search``):
the pairs yield almost exactly the matches, and the phrase is still checked on positions.

- SQLite: ``article_search`` gets a third column, ``pairs``, filled by ``search_pairs()``
  (``feedsvc.text.search_pairs``: "thi0dua dua0yeu"), a function feedsvc registers on each
  of its connections (``feedsvc.db.add_sqlite_functions``); the triggers call it, so a connection
  without it cannot write articles rather than leave the index out of step. The FTS table is
  made again and filled for the existing rows (minutes at 1,000,000).
- PostgreSQL: a GIN index over an expression, the pairs of the folded text as a
  ``tsvector`` (``ix_articles_search_pairs``; ``feedsvc.search.PG_PAIRS`` is the same
  expression, which the planner must see to use it). They are made by joining the 1st and
  2nd, 3rd and 4th, … words, then the 2nd and 3rd, 4th and 5th, … (a word left over at either
  end is only a word in that index: a phrase has at least one pair). No column is added and
  the table is not rewritten: building the index reads every article once and blocks writes
  to ``articles`` (not reads) meanwhile — minutes at 1,000,000; feeds go on being served.

Any later migration that rebuilds ``articles`` on SQLite (``batch_alter_table``) drops the
triggers: it must create them again (``SQLITE_TRIGGERS`` here).
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

WORDS_ONLY = "regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g')"
_JOIN = r"regexp_replace({text}, '([[:alnum:]]+) ([[:alnum:]]+)', '\10\2', 'g')"
PAIRS_VECTOR = (
    "to_tsvector('simple'::regconfig, "
    + _JOIN.format(text=WORDS_ONLY)
    + " || ' ' || "
    + _JOIN.format(text=f"regexp_replace({WORDS_ONLY}, '^ *[[:alnum:]]+ *', '')")
    + ")"
)

# SQLite: as in 0021, with the pairs
KEY = (
    "((max(0, min(4294967295, CAST(strftime('%s', {row}.published_at) AS INTEGER))) << 31)"
    " | {row}.id)"
)


def _values(row: str, pairs: bool) -> str:
    values = f"{KEY.format(row=row)}, {row}.search_text, 'c' || {row}.category_id"
    return values + (f", search_pairs({row}.search_text)" if pairs else "")


def _triggers(pairs: bool) -> tuple[str, ...]:
    columns = "rowid, text, category" + (", pairs" if pairs else "")
    insert = f"INSERT INTO article_search ({columns}) VALUES ({_values('NEW', pairs)});"
    delete = (
        f"INSERT INTO article_search (article_search, {columns})"
        f" VALUES ('delete', {_values('OLD', pairs)});"
    )
    return (
        f"CREATE TRIGGER article_search_insert AFTER INSERT ON articles BEGIN {insert} END",
        f"CREATE TRIGGER article_search_delete AFTER DELETE ON articles BEGIN {delete} END",
        "CREATE TRIGGER article_search_update"
        " AFTER UPDATE OF search_text, published_at, category_id ON articles"
        f" BEGIN {delete} {insert} END",
    )


SQLITE_TRIGGERS = _triggers(pairs=True)


def _fts(pairs: bool) -> None:
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER article_search_{name}")
    op.execute("DROP TABLE article_search")
    columns = "text, category" + (", pairs" if pairs else "")
    op.execute(
        f"CREATE VIRTUAL TABLE article_search USING fts5({columns}, content='',"
        " tokenize='unicode61 remove_diacritics 0')"
    )
    op.execute(
        f"INSERT INTO article_search (rowid, {columns})"
        f" SELECT {_values('articles', pairs)} FROM articles"
    )
    for trigger in _triggers(pairs):
        op.execute(trigger)
    op.execute("INSERT INTO article_search (article_search) VALUES ('optimize')")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE INDEX ix_articles_search_pairs ON articles USING gin (({PAIRS_VECTOR}))")
    else:
        _fts(pairs=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_articles_search_pairs")
    else:
        _fts(pairs=False)
