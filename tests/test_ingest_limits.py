"""Bounded work per fetch and poisoned entries: a large feed stores its newest entries and
counts the rest, lookups stay within the databases' parameter limits, and an entry the store
cannot take costs only that entry."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select, text

from feedsvc.db import Database
from feedsvc.ingest.parse import ParsedEntry
from feedsvc.ingest.store import store_entries
from feedsvc.models import Article, Source
from feedsvc.text import utcnow
from tests.ingest_helpers import Sources

START = datetime(2026, 1, 1, tzinfo=UTC)


def rss(items: str) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Huyện</title>'
        f"<link>http://huyen.example.vn/</link><description>d</description>{items}</channel></rss>"
    )


def numbered_items(numbers: list[int]) -> str:
    """Entry n is published n minutes after START: a higher number is newer."""
    return "".join(
        f"<item><guid>{n}</guid><title>Tin {n}</title>"
        f"<pubDate>{format_datetime(START + timedelta(minutes=n))}</pubDate></item>"
        for n in numbers
    )


def stored_numbers(sources: Sources, source_id: int) -> set[int]:
    return {int(a.title.split()[1]) for a in sources.articles(source_id)}


def test_a_large_feed_stores_its_newest_entries_and_counts_the_rest(
    sources, upstream, ingest_settings
):
    numbers = list(range(3000))
    random.Random(1).shuffle(numbers)  # the newest are not simply the first in the document
    limited = ingest_settings.model_copy(update={"max_new_entries_per_fetch": 100})
    source_id = sources.add(upstream.serve("/big", rss(numbered_items(numbers))))

    first = sources.refresh(source_id, limited)
    assert first.error == "" and len(first.new_ids) == 100
    assert stored_numbers(sources, source_id) == set(range(2900, 3000))
    source = sources.get(source_id)
    assert (source.last_new, source.last_skipped, source.consecutive_failures) == (100, 2900, 0)
    assert "new entries skipped by max_new_entries_per_fetch: 2900" in source.last_warning
    assert first.warning == source.last_warning

    # Served again in whole (no validators here), the skipped ones are new again: the newest.
    second = sources.refresh(source_id, limited)
    assert len(second.new_ids) == 100 and sources.get(source_id).last_skipped == 2800
    assert stored_numbers(sources, source_id) == set(range(2800, 3000))


def test_the_api_shows_skipped_entries_in_the_source_health(upstream, ingest_settings, db, api):
    sources = Sources(db, ingest_settings)  # the api fixture made the categories
    limited = ingest_settings.model_copy(update={"max_new_entries_per_fetch": 2})
    source_id = sources.add(upstream.serve("/f", rss(numbered_items([1, 2, 3, 4, 5]))))
    sources.refresh(source_id, limited)
    health = api.get(f"/api/v1/sources/{source_id}").get_json()["health"]
    assert (health["last_new"], health["last_skipped"]) == (2, 3)
    assert "skipped by max_new_entries_per_fetch: 3" in health["last_warning"]


def entry(n: int) -> ParsedEntry:
    return ParsedEntry(
        base="",
        guid=f"e{n}",
        link=f"http://huyen.example.vn/tin/{n}.html",
        title=f"Tin {n}",
        summary="",
        content_html="",
        author="",
        categories=(),
        published=START + timedelta(minutes=n),
        updated=None,
        enclosure=None,
    )


def test_lookups_of_more_entries_than_one_statement_may_bind(sources, upstream, db: Database):
    """70,000 entries: their keys and links are 140,000 values, more than PostgreSQL takes in
    one statement (65,535; SQLite's default limit is 32,766); the lookup finds what is stored."""
    source_id = sources.add(upstream.serve("/f", rss("")))
    entries = [entry(n) for n in range(70_000)]
    for _ in range(2):
        with db.transaction() as session:
            source = session.get(Source, source_id)
            result = store_entries(session, source, entries, utcnow(), 10, None)
        assert len(result.new_ids) == 10 and result.skipped == 69_990 - (_ * 10)
    assert stored_numbers(sources, source_id) == set(range(69_980, 70_000))


POISONED = [
    # An enclosure type longer than its column (100): the enclosure is dropped.
    '<enclosure url="http://h.vn/a.jpg" type="image/{}" length="10"/>'.format("x" * 150),
    # 4 GiB: beyond 32 bits, kept (64-bit column).
    '<enclosure url="http://h.vn/v.mp4" type="video/mp4" length="4294967296"/>',
    # Beyond 64 bits: not believed, dropped.
    f'<enclosure url="http://h.vn/b.iso" type="application/x-iso" length="{2**64}"/>',
    # A link whose host IDNA cannot encode, and no title.
    "<link>http://{}ä.vn/1</link>".format("a" * 70),
    # An author and a title longer than their columns.
    "<author>{}</author><title>{}</title>".format("t" * 300, "d" * 900),
]


def test_poisoned_values_are_fitted_and_every_entry_is_stored(sources, upstream):
    items = "".join(
        f"<item><guid>p{n}</guid>{poison}<description>x</description></item>"
        for n, poison in enumerate(POISONED)
    ) + numbered_items([1, 2])
    source_id = sources.add(upstream.serve("/f", rss(items)))
    outcome = sources.refresh(source_id)
    assert outcome.error == "" and len(outcome.new_ids) == len(POISONED) + 2
    articles = sources.articles(source_id)
    lengths = {a.image_length for a in articles}
    assert lengths == {None, 4294967296}
    assert {a.image_type for a in articles} == {None, "video/mp4"}
    assert max(len(a.title) for a in articles) == 500
    assert max(len(a.author) for a in articles) == 200
    assert sources.get(source_id).last_warning == ""


@pytest.fixture
def refusing_store(db: Database) -> Iterator[str]:
    """The database itself refuses any article titled "Tin độc" (as it would a value out of
    range): a trigger, dropped again afterwards."""
    with db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(
                text(
                    "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.title = 'Tin độc' THEN "
                    "RAISE EXCEPTION 'value too long' USING ERRCODE = '22001'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            session.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON articles "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
                )
            )
        else:
            for event in ("INSERT", "UPDATE"):
                session.execute(
                    text(
                        f"CREATE TRIGGER refuse_poison_{event} BEFORE {event} ON articles "
                        "WHEN NEW.title = 'Tin độc' "
                        "BEGIN SELECT RAISE(ABORT, 'value too long'); END"
                    )
                )
    yield "Tin độc"
    with db.transaction() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("DROP TRIGGER refuse_poison ON articles"))
            session.execute(text("DROP FUNCTION refuse_poison()"))
        else:
            for event in ("INSERT", "UPDATE"):
                session.execute(text(f"DROP TRIGGER refuse_poison_{event}"))


def item(guid: str, title: str) -> str:
    return f"<item><guid>{guid}</guid><title>{title}</title><description>x</description></item>"


def test_an_entry_the_database_refuses_is_skipped_and_the_others_are_stored(
    sources, upstream, refusing_store
):
    good = [item(f"g{n}", f"Tin tốt {n}") for n in range(5)]
    source_id = sources.add(
        upstream.serve("/f", rss("".join([*good[:2], item("bad", refusing_store), *good[2:]])))
    )
    for _ in range(10):  # as many fetches as would disable a failing source
        outcome = sources.refresh(source_id)
        assert outcome.error == ""
        assert "entries not stored: 1 (entry 'Tin độc'" in outcome.warning
        assert "value too long" in outcome.warning
    assert [a.title for a in sources.articles(source_id)] == [f"Tin tốt {n}" for n in range(5)]
    source = sources.get(source_id)
    assert source.enabled and source.consecutive_failures == 0 and source.error_count == 0
    assert "Tin độc" in source.last_warning

    # An edit the database refuses is skipped too; the other edits are stored.
    edited = [item("g0", "Tin tốt 0 đã sửa"), item("g1", refusing_store)]
    upstream.serve("/f", rss("".join(edited)))
    outcome = sources.refresh(source_id)
    assert outcome.error == "" and outcome.updated == 1
    assert [a.title for a in sources.articles(source_id)][:2] == ["Tin tốt 0 đã sửa", "Tin tốt 1"]


def test_articles_count_is_unchanged_by_a_refused_bulk(
    sources, upstream, refusing_store, db, ingest_settings
):
    """The bulk INSERT that failed (more rows than one INSERT statement of it carries) left
    nothing behind: no article is stored twice, none is missing."""
    items = "".join(item(f"g{n}", f"Tin {n}") for n in range(1200)) + item("bad", refusing_store)
    source_id = sources.add(upstream.serve("/f", rss(items)))
    roomy = ingest_settings.model_copy(update={"max_new_entries_per_fetch": 2000})
    assert len(sources.refresh(source_id, roomy).new_ids) == 1200
    with db.transaction() as session:
        count = session.scalar(select(func.count(Article.id)).where(Article.source_id == source_id))
    assert count == 1200
