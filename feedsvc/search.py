"""Keyword search of articles, with an index on both databases (migrations 0021, 0022).

What a query matches: the query is folded like the stored search text (lower case, no
diacritics, đ → d) and cut into words, a word being a run of letters and digits; everything
else (spaces, punctuation, quotes, ``*``, ``-``, ``^``, ``OR``-like operators are words
too) only separates words. An article matches when its text holds those words as whole
words, one right after the other, in the query's order: "thi dua" finds "Thi đua" and
"thi-đua" but neither "thi đấu đua" nor "đua thi" nor "thiết"; a query without words
matches nothing. Vietnamese words are one to three syllables, so a query is one phrase.

Results are newest first (``published_at``, then ``id``, descending). Both indexes hold the
words and every pair of neighbouring words, and a phrase is looked up by both, so two common
words that are never neighbours find no candidate to check. The indexes:

- SQLite: the FTS5 table ``article_search`` (rowid = ``published second << 31 | id``,
  ``second`` the Unix time clamped to 32 bits), so FTS5 walks a phrase's matches from the
  newest and stops at the page's size; only articles of the same second can be out of order
  there, and each batch is completed to a whole second and sorted exactly by the articles.
- PostgreSQL: the GIN index on ``(articles.category_id, articles.search_vector)`` (migration
  0025) and the one on the pairs (0022). The indexes are asked for the words or the pairs
  (plain ANDs: GIN answers them without rechecking rows) and the phrase is tested on each
  candidate's stored vector. A lookup costs what its matches weigh, so the newest come
  first: the newest ``FIRST_WALK`` articles (the date index) are tested one by one, which
  fills a page of a common phrase. A phrase common in them (``WALK_ON``) is tested on to
  the newest ``RECENT_WALK``; the older matches of any other come from the indexes, window
  by window of the date index, each window sized by the frequency seen so far
  (``_by_windows``); a phrase the first window does not hold either is likely rare, and
  answered by one lookup of the rest if it has at most ``FEW`` candidates.
"""

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    func,
    literal_column,
    not_,
    select,
    text,
    tuple_,
)
from sqlalchemy.orm import Session

from feedsvc.models import Article
from feedsvc.text import SEARCH_WORD, normalise_search, search_pairs

# SQLite: the low 31 bits of an FTS rowid are the article's id (ids are below 2**31).
ID_BITS = 31
ID_MASK = (1 << ID_BITS) - 1
LAST_SECOND = (1 << 32) - 1
# SQLite: the most FTS matches read at once when the filters outside FTS drop many.
MAX_BATCH = 10_000
# PostgreSQL: how many of the newest articles (of the category, if any) are tested first; a
# phrase in a tenth of them fills a page of 20.
FIRST_WALK = 200
# PostgreSQL: a first walk that found at least this many (a phrase in 5 % of the articles)
# but not a page goes on testing the newest RECENT_WALK, which costs less than a GIN lookup
# of a phrase that common (its entries are many); one that found fewer asks the indexes.
WALK_ON = 10
RECENT_WALK = 2_000
# PostgreSQL: the largest window of the date index the GIN indexes are asked in at once for
# older matches; a phrase that needs a larger one is rare enough (a few in 50,000) for the
# rest of the store to be asked at once. Locating a window's end reads its rows' keys in
# the date index (index-only, about 1 ms per 10,000).
OPEN_WINDOW = 50_000
# PostgreSQL: a phrase neither the first walk nor the first window found, with at most this
# many candidates in the rest, is answered by one lookup of them.
FEW = 100
# PostgreSQL: memory for a GIN lookup's bitmap of candidates. The default (4 MB) goes lossy
# past about 65,000 pages of articles, and every row of a lossy page is tested again
# against the lookup's conditions, the pairs expression included (1-2 ms a row).
LOOKUP_WORK_MEM = "32MB"

_NEWEST = (Article.published_at.desc(), Article.id.desc())
_FTS_PAGE = text(
    "SELECT rowid FROM article_search WHERE article_search MATCH :match AND rowid <= :through"
    " ORDER BY rowid DESC LIMIT :limit"
)
_FTS_RANGE = text(
    "SELECT rowid FROM article_search WHERE article_search MATCH :match"
    " AND rowid >= :start AND rowid < :before"
)


def search_words(query: str) -> list[str]:
    """The words of a query, folded like the stored search text."""
    return SEARCH_WORD.findall(normalise_search(query))


def newest_matching(
    session: Session,
    words: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    category_id: int | None = None,
    until: datetime | None = None,
) -> list[int]:
    """Ids of the newest ``limit`` articles holding the phrase ``words``, of the category
    ``category_id`` (if given) and meeting ``conditions``, newest first.

    ``until`` must also be among the conditions (``published_at <= until``); given here, it
    lets the index skip what it excludes. The category is not among them: SQLite's index
    holds it (and a condition on it would let SQLite walk the category's date index testing
    every row against the few ids found, 40 ms in a category of 300,000 articles, rather
    than look the ids up).
    """
    if not words or limit <= 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        in_category = [] if category_id is None else [Article.category_id == category_id]
        return _postgresql(session, words, [*conditions, *in_category], limit, bool(in_category))
    return _sqlite(session, words, conditions, limit, category_id, until)


def _second(moment: datetime) -> int:
    return max(0, min(LAST_SECOND, math.floor(moment.timestamp())))


def _fts_match(words: Sequence[str], category_id: int | None) -> str:
    """An FTS5 query of the phrase and its pairs of neighbouring words (which narrow the
    candidates when its words are common); every word is letters and digits only, so quoting
    it leaves nothing for FTS5's syntax to see."""
    terms = ['text : "' + " ".join(words) + '"']
    terms += [f'pairs : "{pair}"' for pair in search_pairs(" ".join(words)).split()]
    if category_id is not None:
        terms.insert(0, f'category : "c{category_id}"')
    return " AND ".join(terms)


def _sqlite(
    session: Session,
    words: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    category_id: int | None,
    until: datetime | None,
) -> list[int]:
    match = _fts_match(words, category_id)
    through = ((_second(until) + 1) << ID_BITS) - 1 if until is not None else (1 << 63) - 1
    found: list[int] = []
    batch = limit
    while len(found) < limit:
        params = {"match": match, "through": through, "limit": batch}
        keys = list(session.scalars(_FTS_PAGE, params))
        if not keys:
            break
        start = keys[-1] >> ID_BITS << ID_BITS
        if len(keys) == batch:  # more may follow: read the rest of the last second
            params = {"match": match, "start": start, "before": keys[-1]}
            keys += session.scalars(_FTS_RANGE, params)
        ids = [key & ID_MASK for key in keys]
        stmt = select(Article.id).where(Article.id.in_(ids), *conditions)
        found += session.scalars(stmt.order_by(*_NEWEST).limit(limit - len(found)))
        if len(keys) < batch:
            break
        through, batch = start - 1, min(batch * 4, MAX_BATCH)
    return found


# PostgreSQL: the pairs of neighbouring words of an article's folded text, as migration 0022
# indexes them (``ix_articles_search_pairs``: the same expression, so the planner uses it).
_ONLY_WORDS = "regexp_replace(articles.search_text, '[^[:alnum:]]+', ' ', 'g')"
_JOIN = r"regexp_replace({text}, '([[:alnum:]]+) ([[:alnum:]]+)', '\10\2', 'g')"
PG_PAIRS = (
    "to_tsvector('simple'::regconfig, "
    + _JOIN.format(text=_ONLY_WORDS)
    + " || ' ' || "
    + _JOIN.format(text=f"regexp_replace({_ONLY_WORDS}, '^ *[[:alnum:]]+ *', '')")
    + ")"
)


def _postgresql(
    session: Session,
    words: Sequence[str],
    conditions: Sequence[ColumnElement[bool]],
    limit: int,
    in_category: bool,
) -> list[int]:
    simple: ColumnElement[str] = literal_column("'simple'::regconfig")
    vector: ColumnElement[str] = literal_column("articles.search_vector")
    phrase = vector.op("@@")(func.phraseto_tsquery(simple, " ".join(words)))
    # The indexes are asked for plain ANDs of words or of pairs of neighbouring words, which
    # GIN answers without a recheck of the rows (a phrase would have every row found
    # rechecked, its pairs' expression computed again, 1-2 ms a row); the phrase is then
    # tested on each row found, against its stored vector. A phrase's pairs imply its
    # words, whose entries are many more (34 ms to read "tieu" and "kinh" at a million
    # articles, against 2 ms for "tieu0kinh"): the words' index is asked only for a single
    # word, or for the category it also holds.
    words_in: ColumnElement[bool] = vector.op("@@")(func.plainto_tsquery(simple, " ".join(words)))
    candidates = words_in
    if len(words) > 1:
        pairs = func.plainto_tsquery(simple, search_pairs(" ".join(words)))
        candidates = literal_column(PG_PAIRS).op("@@")(pairs)
        if in_category:
            candidates = and_(words_in, candidates)
    newest = select(Article.id, Article.published_at).where(*conditions).order_by(*_NEWEST)
    found = _walk(session, newest, phrase, limit, FIRST_WALK)
    end = _end(session, newest, FIRST_WALK, found, limit)
    if end is None:
        return found
    seen = FIRST_WALK
    if len(found) >= WALK_ON:
        further = newest.where(_older(end))
        found += _walk(session, further, phrase, limit - len(found), RECENT_WALK - FIRST_WALK)
        end = _end(session, further, RECENT_WALK - FIRST_WALK, found, limit)
        if end is None:
            return found
        seen = RECENT_WALK
    needed = limit - len(found)
    return found + _by_windows(session, newest, end, candidates, phrase, needed, seen, len(found))


def _older(row: Row[int, datetime]) -> ColumnElement[bool]:
    return tuple_(Article.published_at, Article.id) < tuple_(row.published_at, row.id)


def _walk(
    session: Session,
    newest: Select[int, datetime],
    phrase: ColumnElement[bool],
    limit: int,
    length: int,
) -> list[int]:
    """The newest ``limit`` articles holding the ``phrase`` among the newest ``length`` of
    ``newest`` (the date index, each tested against its stored vector; the walk stops
    when it has ``limit``)."""
    recent = newest.add_columns(phrase.label("hit")).limit(length).subquery()
    walked = (
        select(recent.c.id)
        .where(recent.c.hit)
        .order_by(recent.c.published_at.desc(), recent.c.id.desc())
        .limit(limit)
    )
    return list(session.scalars(walked))


def _end(
    session: Session, newest: Select[int, datetime], length: int, found: list[int], limit: int
) -> Row[int, datetime] | None:
    """Where a walk of ``length`` rows of ``newest`` that ``found`` fewer than ``limit``
    ended (its last row: its key, from the date index alone), or None when there is no
    need to look further: the page is full, or the walk saw every row."""
    if len(found) >= limit:
        return None
    return session.execute(newest.offset(length - 1).limit(1)).first()


def _by_windows(
    session: Session,
    newest: Select[int, datetime],
    end: Row[int, datetime],
    candidates: ColumnElement[bool],
    phrase: ColumnElement[bool],
    limit: int,
    seen: int,
    hits: int,
) -> list[int]:
    """The newest ``limit`` articles of ``newest`` older than ``end`` holding the
    ``phrase`` (``hits`` were found among the ``seen`` rows up to ``end``), from the GIN
    indexes in windows of the date index going back.

    Each window is ANDed with the indexes' candidates in one bitmap, so only its own
    candidates are read, not every older one (a phrase in 2 % of a million articles has
    20,000). It is sized by the frequency seen so far to hold about twice the matches
    still needed and at least twice the last one; while none has been seen (a phrase
    common long ago may be missing from the newest), three times the rows seen so far and
    at least ``RECENT_WALK``: each window also reads the phrase's entries in the index, so
    few windows are better than small ones. Once a window would be ``OPEN_WINDOW`` rows or
    more, the phrase is rare enough for the rest of the store to be one window. A phrase
    the first window does not hold either is likely rare: the rest is one lookup if it has
    at most ``FEW`` candidates.
    """
    found: list[int] = []
    span, first_seen = 0, seen
    bound: Row[int, datetime] | None = end
    while bound is not None and len(found) < limit:
        older = newest.where(_older(bound))
        needed = limit - len(found)
        guess = math.ceil(2 * needed * seen / hits) if hits else max(3 * seen, RECENT_WALK)
        span = max(2 * span, guess)
        bound = None
        if span < OPEN_WINDOW:
            bound = session.execute(older.offset(span - 1).limit(1)).first()
        window = older if bound is None else older.where(not_(_older(bound)))
        matches, _ = _by_index(session, window.where(candidates), phrase, needed)
        found += matches
        if not hits and not matches and seen == first_seen and bound is not None:
            rest = newest.where(candidates, _older(bound))  # likely rare: one lookup if few
            few, count = _by_index(session, rest, phrase, needed, cap=FEW + 1)
            if count <= FEW:
                return few
        seen, hits = seen + span, hits + len(matches)
    return found


def _by_index(
    session: Session,
    candidates: Select[int, datetime],
    phrase: ColumnElement[bool],
    limit: int,
    cap: int | None = None,
) -> tuple[list[int], int]:
    """The newest ``limit`` of the ``candidates`` that hold the ``phrase``, the candidates
    found by the GIN indexes, and how many candidates there were (at most ``cap``).

    The candidates are a materialised set read by bitmap scans only (sequential and plain
    index scans off): else the planner, which guesses a phrase's frequency from its words',
    may walk the date index or the table and compute every article's pairs — all of them
    when the phrase occurs nowhere.
    """
    every = (
        candidates.add_columns(phrase.label("hit"))
        .order_by(None)
        .limit(cap)
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    stmt = (
        select(every.c.id, every.c.hit, func.count().over().label("candidates"))
        .order_by(every.c.hit.desc(), every.c.published_at.desc(), every.c.id.desc())
        .limit(limit)
    )
    with _settings(session, enable_seqscan="off", enable_indexscan="off", work_mem=LOOKUP_WORK_MEM):
        rows = session.execute(stmt).all()
    return [row.id for row in rows if row.hit], rows[0].candidates if rows else 0


@contextmanager
def _settings(session: Session, **values: str) -> Iterator[None]:
    """PostgreSQL settings for the statements run inside, then back to what they were (in
    the transaction: ``set_config(..., true)``); one round trip each way."""
    names = {f"n{i}": name for i, name in enumerate(values)}
    read = ", ".join(f"current_setting(:{key})" for key in names)
    write = "SELECT " + ", ".join(f"set_config(:{key}, :v{key[1:]}, true)" for key in names)
    before = session.execute(text(f"SELECT {read}"), names).one()
    session.execute(text(write), {**names, **{f"v{i}": v for i, v in enumerate(values.values())}})
    yield
    session.execute(text(write), {**names, **{f"v{i}": v for i, v in enumerate(before)}})
