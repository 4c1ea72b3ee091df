"""Keyword search through its index (feedsvc.search), on SQLite and PostgreSQL: what a
phrase finds and does not find, in which order, and right after writes."""

from datetime import timedelta

import feedparser
import pytest
from sqlalchemy import text

from feedsvc import search
from feedsvc.articles import page_all, page_visible
from feedsvc.paging import Position
from tests.conftest import publish

TEXTS = {
    "phrase": "Phong trào thi đua yêu nước",
    "hyphen": "Thi-đua, khen thưởng",
    "apart": "Thi đấu và đua thuyền",
    "reversed": "Đua thi cuối năm",
    "prefix": "Thiết kế đường đua",
    "upper": "THI ĐUA SẢN XUẤT",
}


@pytest.fixture
def titles(api):  # type: ignore[no-untyped-def]
    """One article per text, published an hour apart in TEXTS' order (the first newest)."""
    start = "2026-01-10T12:00:00+07:00"
    made = {}
    for n, (key, title) in enumerate(TEXTS.items()):
        hour = 12 - n
        made[key] = publish(api, title, published_at=start.replace("12:", f"{hour:02d}:"))
    return made


def all_matching(session, limit: int, query: str) -> list:  # type: ignore[no-untyped-def]
    """The writers' list: every article, scheduled ones included."""
    return page_all(session, Position(), limit, query=query).items


def visible_matching(session, now, limit: int, query: str) -> list:  # type: ignore[no-untyped-def]
    return page_visible(session, now, Position(), limit, query=query).items


def found(api, query: str, **args: str) -> list[str]:  # type: ignore[no-untyped-def]
    response = api.get("/api/v1/articles", query_string={"q": query, **args})
    assert response.status_code == 200, response.get_json()
    return [item["title"] for item in response.get_json()["items"]]


def test_a_phrase_of_whole_words_in_order_diacritics_and_case_ignored(api, titles):
    expected = [TEXTS["phrase"], TEXTS["hyphen"], TEXTS["upper"]]
    assert found(api, "thi dua") == expected
    assert found(api, "THI ĐUA") == expected
    assert found(api, "  Thi   Đua  ") == expected
    assert found(api, "thi-đua") == expected
    assert found(api, "đua thi") == [TEXTS["reversed"]]
    with_thi = ["phrase", "hyphen", "apart", "reversed", "upper"]
    assert found(api, "thi") == [TEXTS[key] for key in with_thi]
    assert found(api, "thiet ke duong") == [TEXTS["prefix"]]
    assert found(api, "thie") == []  # no prefixes
    assert found(api, "hi du") == []  # no parts of words
    assert found(api, "thi dua yeu nuoc") == [TEXTS["phrase"]]
    assert found(api, "thi yeu") == []  # all the words, but not one after the other


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "*",
        "-",
        "^",
        "NEAR(",
        "thi OR dua",
        'thi" OR "dua',
        "thi*",
        "-thi",
        "^thi",
        "a:b",
        "{text}: thi",
        "NEAR(thi dua)",
        "'; DROP TABLE articles; --",
        "%",
        "_",
        "\\",
    ],
)
def test_search_syntax_in_a_query_is_only_separators_or_words(api, titles, query):
    """Nothing in a query is an operator: FTS5 and tsquery syntax are words or separators."""
    response = api.get("/api/v1/articles", query_string={"q": query})
    assert response.status_code == 200
    feed = api.get("/feeds/all.rss", query_string={"q": query})
    assert feed.status_code == 200


def test_operators_are_plain_words(api, titles):
    assert found(api, "thi OR dua") == []  # the phrase "thi or dua"
    assert found(api, '"thi" "dua"') == found(api, "thi dua")
    assert found(api, "thi*") == found(api, "thi")
    assert found(api, "***") == []  # no words: nothing


def test_results_are_newest_first_also_when_ids_are_not(api):
    """Backdated articles (ids out of published order) come in published order, also
    between articles of the same second."""
    order = ["10:00:00.5", "10:00:00.9", "09:00:00", "11:00:00", "10:00:00.1"]
    for n, time in enumerate(order):
        publish(api, f"Thi đua {n}", published_at=f"2026-01-10T{time}+07:00")
    assert found(api, "thi dua") == [f"Thi đua {n}" for n in (3, 1, 0, 4, 2)]
    page = api.get("/api/v1/articles", query_string={"q": "thi dua", "limit": 2}).get_json()
    paged = [item["title"] for item in page["items"]]
    while page["next_cursor"]:
        page = api.get(page["next"]).get_json()
        paged += [item["title"] for item in page["items"]]
    assert paged == found(api, "thi dua")


def test_an_update_and_a_delete_are_searched_at_once(api, titles, db, now):
    article = titles["phrase"]
    changed = api.patch(f"/api/v1/articles/{article['id']}", json={"title": "Khen thưởng"})
    assert changed.status_code == 200
    assert TEXTS["phrase"] not in found(api, "thi dua")
    assert found(api, "khen thuong") == ["Khen thưởng", TEXTS["hyphen"]]
    assert api.delete(f"/api/v1/articles/{titles['hyphen']['id']}").status_code == 204
    assert found(api, "khen thuong") == ["Khen thưởng"]
    moved = api.patch(f"/api/v1/articles/{article['id']}", json={"category": "kinh-te"})
    assert moved.status_code == 200
    assert found(api, "khen thuong", category="kinh-te") == ["Khen thưởng"]
    assert found(api, "khen thuong", category="thoi-su") == []
    newer = api.patch(
        f"/api/v1/articles/{titles['upper']['id']}",
        json={"published_at": "2026-01-10T13:00:00+07:00"},
    )
    assert newer.status_code == 200
    assert found(api, "thi")[0] == TEXTS["upper"]  # the index follows the new time too
    with db.transaction() as session:  # and a write rolled back leaves no trace in the index
        session.execute(
            text("UPDATE articles SET search_text = 'xyzzy' WHERE id = :i"),
            {"i": titles["upper"]["id"]},
        )
        assert [a.title for a in all_matching(session, 10, "xyzzy")] == [TEXTS["upper"]]
        session.rollback()
    assert found(api, "xyzzy") == []
    assert TEXTS["upper"] in found(api, "thi dua")


def test_scheduled_articles_are_found_by_writers_only(api, db, now):
    publish(api, "Thi đua sắp đăng", published_at=(now + timedelta(days=1)).isoformat())
    publish(api, "Thi đua đã đăng", published_at=(now - timedelta(days=1)).isoformat())
    assert found(api, "thi dua") == ["Thi đua đã đăng"]
    with db.transaction() as session:
        assert [a.title for a in all_matching(session, 10, "thi dua")] == [
            "Thi đua sắp đăng",
            "Thi đua đã đăng",
        ]
        assert [a.title for a in visible_matching(session, now, 10, "thi dua")] == [
            "Thi đua đã đăng"
        ]


def test_pages_of_many_matches_have_no_gaps_or_repeats(api, db, now):
    """More matches than a batch: pages by cursor read them all in order, in every list."""
    for n in range(45):
        category = "kinh-te" if n % 3 else "thoi-su"
        publish(api, f"Thi đua {n}", category, published_at=f"2026-01-10T10:{n:02d}:00+07:00")
    newest_first = [f"Thi đua {n}" for n in reversed(range(45))]
    with db.transaction() as session:
        for pages in (
            lambda where: page_visible(session, now, where, 7, query="thi dua"),
            lambda where: page_all(session, where, 10, query="thi dua"),
        ):
            position, seen = Position(), []
            while True:
                page = pages(position)
                seen += [a.title for a in page.items]
                if page.older is None:
                    break
                position = Position(before=page.older)
            assert seen == newest_first
    economy = [t for t in newest_first if int(t.split()[-1]) % 3]
    assert found(api, "thi dua", category="kinh-te", limit="50") == economy


def test_keyword_feeds_and_admin_search(api, titles, client, app):
    feed = feedparser.parse(api.get("/feeds/all.rss?q=thi+%C4%91ua").data)
    assert [e.title for e in feed.entries] == [TEXTS["phrase"], TEXTS["hyphen"], TEXTS["upper"]]
    category = feedparser.parse(api.get("/feeds/thoi-su.atom?q=dua+thi").data)
    assert [e.title for e in category.entries] == [TEXTS["reversed"]]
    empty = feedparser.parse(api.get("/feeds/kinh-te.rss?q=thi+dua").data)
    assert empty.entries == []


@pytest.mark.parametrize(("walk_on", "open_window"), [(1, 1_000), (1, 10), (3, 1_000)])
def test_common_phrases_are_walked_newest_first_and_then_looked_up(
    api, db, now, monkeypatch, walk_on, open_window
):
    """Every way to the matches (on PostgreSQL: the first walk of the newest, the index for
    few, the longer walk or none, the index for the older ones in windows of the date
    index, the rest of the store in one) gives the same pages; small limits make a few
    articles enough."""
    monkeypatch.setattr(search, "FIRST_WALK", 2)
    monkeypatch.setattr(search, "FEW", 3)
    monkeypatch.setattr(search, "WALK_ON", walk_on)
    monkeypatch.setattr(search, "RECENT_WALK", 6)
    monkeypatch.setattr(search, "OPEN_WINDOW", open_window)
    titles = []
    for n in range(30):  # matches among the newest, none in the middle, some among the oldest
        title = f"Thi đua {n}" if n < 8 or n >= 24 else f"Tin {n}"
        title += " khen thưởng" if n % 7 == 3 else ""  # a few, spread out
        publish(api, title, published_at=f"2026-01-10T10:{59 - n:02d}:00+07:00")
        titles.append(title)
    matching = [t for t in titles if t.startswith("Thi")]
    with db.transaction() as session:
        for limit in (2, 5, 10, 20):
            page = visible_matching(session, now, limit, "thi dua")
            assert [a.title for a in page] == matching[:limit]
        assert [a.title for a in visible_matching(session, now, 5, "tin")] == titles[8:13]
        spread = [t for t in titles if t.endswith("khen thưởng")]
        for limit in (1, 2, 3, 4, 5):
            page = visible_matching(session, now, limit, "khen thuong")
            assert [a.title for a in page] == spread[:limit]
        assert visible_matching(session, now, 5, "tin thi") == []
        assert [a.title for a in visible_matching(session, now, 5, "thi dua 25")] == ["Thi đua 25"]


def test_every_run_of_neighbouring_words_is_a_phrase_and_nothing_else(api):
    """Whatever its words' places (PostgreSQL indexes pairs of words from odd and from even
    places, migration 0022), every run of neighbouring words finds the article; words that
    are not neighbours do not."""
    words = ["một", "hai", "ba", "bốn", "năm", "sáu", "bảy"]
    publish(api, " ".join(words).capitalize())
    folded = ["mot", "hai", "ba", "bon", "nam", "sau", "bay"]
    title = " ".join(words).capitalize()
    for start in range(len(folded)):
        for end in range(start + 1, len(folded) + 1):
            assert found(api, " ".join(folded[start:end])) == [title], folded[start:end]
    assert found(api, "mot ba") == []
    assert found(api, "hai bon") == []
    assert found(api, "ba hai") == []
    assert found(api, "bay mot") == []
    assert found(api, "hai-ba") == [title]  # a pair's joiner in a query only separates


def test_a_phrase_is_more_than_its_pairs(api, monkeypatch):
    """Every pair of a three-word phrase in an article, but not the three words in a row: the
    indexes hand it over as a candidate (on PostgreSQL by words and pairs alone) and the
    phrase test drops it, whether the index or the walk of the newest found it."""
    title = "Một hai, hai ba"  # mot0hai hai0hai hai0ba
    publish(api, title)
    assert found(api, "mot hai ba") == []
    assert found(api, "mot hai hai ba") == [title]
    monkeypatch.setattr(search, "FIRST_WALK", 1)  # PostgreSQL: the walks, then the index
    monkeypatch.setattr(search, "FEW", 0)
    monkeypatch.setattr(search, "WALK_ON", 1)
    monkeypatch.setattr(search, "RECENT_WALK", 2)
    publish(api, "Một hai ba", published_at="2020-01-01T00:00:00Z")
    publish(api, title, published_at="2019-01-01T00:00:00Z")  # for the index to drop
    publish(api, "Tin khác")
    assert found(api, "mot hai ba") == ["Một hai ba"]


def test_the_category_is_in_the_search_index(db, api):
    """PostgreSQL: the GIN index holds the category beside the words (``btree_gin``, migration
    0025), so a category's keyword feed is one lookup rather than the word's entries ANDed
    with every entry of the category's date index (which plan the planner takes at a
    million articles is the scale benchmark's to show). SQLite: the FTS table holds the
    category as a token."""
    article = publish(api, "Khen thưởng")
    with db.transaction() as session:
        category_id = session.scalar(
            text("SELECT category_id FROM articles WHERE id = :id"), {"id": article["id"]}
        )
        if db.engine.dialect.name == "sqlite":
            found = session.scalars(
                text("SELECT rowid FROM article_search WHERE article_search MATCH :q"),
                {"q": f'category : "c{category_id}" AND text : "khen thuong"'},
            ).all()
            assert [rowid & search.ID_MASK for rowid in found] == [article["id"]]
            return
        definition = session.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_articles_search'")
        )
        assert definition.endswith("USING gin (category_id, search_vector)")


def test_the_pairs_are_in_the_index(db, api):
    """SQLite: the FTS table's ``pairs`` column holds them. PostgreSQL: the planner uses the
    pairs index, so ``search.PG_PAIRS`` is the expression migration 0022 indexed."""
    publish(api, "Một hai ba")
    with db.transaction() as session:
        if db.engine.dialect.name == "sqlite":
            found = session.scalars(
                text("SELECT rowid FROM article_search WHERE article_search MATCH :q"),
                {"q": "pairs : mot0hai AND pairs : hai0ba"},
            ).all()
            assert len(found) == 1
            return
        session.execute(text("SET LOCAL enable_seqscan = off"))
        plan = session.execute(
            text(
                f"EXPLAIN SELECT id FROM articles WHERE {search.PG_PAIRS}"
                " @@ plainto_tsquery('simple', 'mot0hai')"
            )
        ).scalars()
        assert any("ix_articles_search_pairs" in line for line in plan)


def test_a_category_keyword_feed_finds_its_own_visible_matches_however_rare(api, monkeypatch):
    """On PostgreSQL a phrase the first walk of the category's newest misses is looked up in
    the indexes with the category and visibility: a first window of older articles, then
    the rest at once if it has at most FEW candidates, else window by window. Every way
    gives the category's visible matches."""
    monkeypatch.setattr(search, "FIRST_WALK", 1)
    monkeypatch.setattr(search, "FEW", 3)
    monkeypatch.setattr(search, "WALK_ON", 1)
    monkeypatch.setattr(search, "RECENT_WALK", 2)
    publish(api, "Thi đua sớm", published_at="2026-01-10T08:00:00+07:00")
    publish(api, "Thi đua hẹn giờ", published_at="2099-01-10T08:00:00+07:00")  # scheduled
    publish(api, "Thi đua kinh tế", category="kinh-te", published_at="2026-01-10T09:00:00+07:00")

    def entries(path: str) -> list[str]:
        return [e.title for e in feedparser.parse(api.get(path).data).entries]

    assert entries("/feeds/thoi-su.rss?q=thi+dua") == ["Thi đua sớm"]  # 3 anywhere: few
    assert entries("/feeds/kinh-te.rss?q=thi+dua") == ["Thi đua kinh tế"]
    for n in range(6):  # "khen thưởng": more than FEW anywhere, one in thoi-su
        publish(api, f"Khen thưởng {n}", category="kinh-te", published_at="2026-01-11T08:00:00Z")
    publish(api, "Khen thưởng thời sự", published_at="2026-01-09T08:00:00+07:00")
    publish(api, "Khen thưởng hẹn giờ", published_at="2099-01-09T08:00:00+07:00")
    assert entries("/feeds/thoi-su.rss?q=khen+thuong") == ["Khen thưởng thời sự"]
    assert len(entries("/feeds/kinh-te.rss?q=khen+thuong")) == 6
