"""search index of pairs of words (PostgreSQL)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27 23:20:00

A phrase of two common words that never stand next to each other ("ha noi" where "hà" and
"nội" are everywhere but never together) made PostgreSQL's GIN index hand over every article
holding both words, each re-read for positions: seconds at a million articles. Now
``search_vector`` also holds every pair of neighbouring words as one lexeme (``ha-noi``: the
two words joined by a hyphen, which no word of the text or of a query holds, and which the
parser keeps in one "hyphenated word" token), without positions (``strip``), and a phrase is
looked up by its pairs as well as by its words (``feedsvc.search``): the index then yields
the articles that hold the pairs, almost always exactly the matches.

The pairs are made by joining the 1st and 2nd, 3rd and 4th, … words, then the 2nd and 3rd,
4th and 5th, …; a word left over at either end is only a word again (a lexeme without
positions, merged into the one with positions), as are the parts the parser also emits for a
hyphenated token. Where the parser does not keep a pair in one token (a second word of
digits: ``ha -2026``), the pair narrows less; the phrase is always checked on positions, so
the matches are the same. SQLite's FTS5 answers phrases from its positions lists already (no
change).

The generated column cannot change its expression in place (PostgreSQL 15): it is dropped
and added again, which rewrites the table and rebuilds the index (minutes at 1,000,000).
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

WORDS_ONLY = "regexp_replace(search_text, '[^[:alnum:]]+', ' ', 'g')"
_JOIN = r"regexp_replace({text}, '([[:alnum:]]+) ([[:alnum:]]+)', '\1-\2', 'g')"
PAIRS = (
    _JOIN.format(text=WORDS_ONLY)
    + " || ' ' || "
    + _JOIN.format(text=f"regexp_replace({WORDS_ONLY}, '^ *[[:alnum:]]+ *', '')")
)
WORDS_VECTOR = f"to_tsvector('simple'::regconfig, {WORDS_ONLY})"  # 0021's vector
VECTOR = f"{WORDS_VECTOR} || strip(to_tsvector('simple'::regconfig, {PAIRS}))"


def _vector(expression: str) -> None:
    op.execute("ALTER TABLE articles DROP COLUMN search_vector")
    op.execute(
        "ALTER TABLE articles ADD COLUMN search_vector tsvector"
        f" GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search_vector)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _vector(VECTOR)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _vector(WORDS_VECTOR)
