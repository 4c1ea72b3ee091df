"""Keyset paging (feedsvc.paging) of every list: no gaps or repeats while rows are inserted
and deleted between requests; public pages, feed archives, admin lists, the CLI; the
dashboard's chart per Vietnam day."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import feedparser
import pytest
from lxml import html
from sqlalchemy import select

from feedsvc.articles import ArticleCreate, create_article, delete_article, page_visible
from feedsvc.models import Article
from feedsvc.notify.mail.subscriptions import SubscribeForm, subscribe
from feedsvc.overview import DAYS, capped_count, items_per_day
from feedsvc.paging import NUMBERED_PAGES, Position
from feedsvc.web import create_app
from tests.admin_helpers import make_user, sign_in
from tests.test_cli import feedsvc
from tests.test_feed_validity import assert_valid


def walk_older(session, now, category_id, limit, between=lambda seen: None):
    """Every visible article by following ``older`` cursors; ``between`` runs after each page."""
    seen, position = [], Position()
    while True:
        page = page_visible(session, now, position, limit, category_id)
        seen += [(a.published_at, a.id) for a in page.items]
        session.commit()  # each page its own request
        between(seen)
        if page.older is None:
            return seen
        position = Position(before=page.older)


def test_pages_by_key_have_no_gaps_or_repeats_while_rows_change(db, store, now):
    category = store.category("Kinh tế")
    same_time = now - timedelta(hours=5)
    for n in range(12):  # 12 at the very same time: only the id orders them
        store.article("kinh-te", f"Cùng giờ {n}", published_at=same_time)
    store.articles("kinh-te", 20, now - timedelta(minutes=1))
    with db.transaction() as session:
        expected = [a.id for a in page_visible(session, now, Position(), 100, category.id).items]
    assert len(expected) == 32
    deleted: list[int] = []

    def change(seen: list[int]) -> None:
        # Newer articles (also at the time of the cursor, which sort before it), and a
        # deletion of an article not seen yet and of the one the cursor points at.
        store.article("kinh-te", "Mới", published_at=now)
        store.article("kinh-te", "Cùng giờ, mới", published_at=same_time)
        with db.transaction() as session:
            for article_id in (next(i for i in expected if i not in seen), seen[-1]):
                if article_id not in deleted:
                    delete_article(session, article_id, now)
                    deleted.append(article_id)

    with db.sessions() as session:
        keys = walk_older(session, now, category.id, 5, lambda seen: change([i for _, i in seen]))
    assert keys == sorted(set(keys), reverse=True)  # newest first, none twice
    seen = [i for _, i in keys]
    assert set(expected) - set(seen) <= set(deleted)  # only deleted ones are missing
    # Rows inserted behind the cursor (at an older time) are met once; newer ones are not.
    assert all(key[0] < now for key in keys[5:])
    # Walking back with ``after`` from the oldest page reaches every row, once each.
    with db.sessions() as session:
        current = [a.id for a in page_visible(session, now, Position(), 1000, category.id).items]
        page = page_visible(session, now, Position(), 5, category.id)
        while page.older:
            page = page_visible(session, now, Position(before=page.older), 5, category.id)
        back = []
        while True:
            back = [a.id for a in page.items] + back
            if page.newer is None:
                break
            page = page_visible(session, now, Position(after=page.newer), 5, category.id)
    assert back == current


def test_scheduled_articles_are_neither_on_a_page_nor_ahead_of_it(db, store, now):
    """A page further back is read by its cursor alone (which lies before now), yet the
    articles ahead of it are counted among the visible ones only: scheduled ones make
    neither items nor a "newer" link."""
    category = store.category("Kinh tế")
    store.articles("kinh-te", 3, now - timedelta(minutes=10))
    store.article("kinh-te", "Hẹn giờ", published_at=now + timedelta(hours=1))
    store.article("kinh-te", "Hẹn giờ sau", published_at=now + timedelta(hours=2))
    with db.transaction() as session:
        first = page_visible(session, now, Position(), 1, category.id)
        second = page_visible(session, now, Position(before=first.older), 1, category.id)
        assert second.newer_is_first  # exactly one visible article ahead: the first page
        back = page_visible(session, now, Position(after=second.newer), 1, category.id)
        assert [a.id for a in back.items] == [a.id for a in first.items]
        assert back.newer is None
        assert all(a.published_at <= now for a in (*first.items, *second.items))


def test_a_forged_or_foreign_cursor_is_refused(client, store):
    store.category("Kinh tế")
    for path in ("/c/kinh-te?before=@@", "/c/kinh-te?after=MTIz", "/feeds/kinh-te.rss?before=x"):
        assert client.get(path).status_code == 422, path
    both = client.get("/c/kinh-te?before=MTIz&after=MTIz")
    assert both.status_code == 422


def links(doc, rel):
    return doc.xpath(f"//nav[@class='pager']//a[@rel='{rel}']/@href")


def test_category_pages_walk_the_whole_archive_once_both_ways(client, store, now):
    store.category("Kinh tế")
    titles = [a.title for a in store.articles("kinh-te", 47, now - timedelta(minutes=1))]
    shown, path, pages = [], "/c/kinh-te", []
    while path:
        doc = html.fromstring(client.get(path).data)
        pages.append(path)
        shown += doc.xpath("//ul[@class='articles']/li/a/text()")
        path = (links(doc, "next") or [None])[0]
    assert shown == titles and len(pages) == 3
    back = []
    path = pages[-1]
    while path:
        doc = html.fromstring(client.get(path).data)
        back = doc.xpath("//ul[@class='articles']/li/a/text()") + back
        path = (links(doc, "prev") or [None])[0]
    assert back == titles
    # Old numbered links: the same pages, by a permanent redirect to their cursor.
    assert client.get("/c/kinh-te?page=1").headers["Location"] == "/c/kinh-te"
    assert client.get("/c/kinh-te?page=3").headers["Location"] == pages[2]
    assert client.get("/c/kinh-te?page=4").status_code == 404
    beyond = client.get(f"/c/kinh-te?page={NUMBERED_PAGES + 1}")
    assert beyond.status_code == 404 and str(NUMBERED_PAGES) in beyond.data.decode()


@pytest.fixture
def small_feeds(settings, db):  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"feed_items": 5}))
    yield app.test_client()
    app.extensions["feedsvc.db"].dispose()


def feed_links(parsed):
    return {link.rel: link.href for link in parsed.feed.links}


def test_feed_archive_links_walk_the_whole_archive_once(small_feeds, store, now):
    store.category("Kinh tế")
    titles = [a.title for a in store.articles("kinh-te", 13, now - timedelta(minutes=1))]
    base = "http://feeds.example.vn"
    url, seen, pages = f"{base}/feeds/kinh-te.atom", [], []
    while url:
        response = small_feeds.get(url.removeprefix(base))
        parsed = feedparser.parse(response.data)
        found = feed_links(parsed)
        assert found["self"] == url and found["first"] == f"{base}/feeds/kinh-te.atom"
        pages.append(url)
        seen += [e.title for e in parsed.entries]
        url = found.get("next")
    assert seen == titles and len(pages) == 3
    back, url = [], pages[-1]
    while url:
        parsed = feedparser.parse(small_feeds.get(url.removeprefix(base)).data)
        back = [e.title for e in parsed.entries] + back
        url = feed_links(parsed).get("previous")
    assert back == titles
    # New articles meanwhile: the older pages keep their URLs and their entries.
    store.article("kinh-te", "Tin mới", published_at=now)
    parsed = feedparser.parse(small_feeds.get(pages[1].removeprefix(base)).data)
    assert [e.title for e in parsed.entries] == titles[5:10]
    json_feed = small_feeds.get(pages[1].removeprefix(base).replace(".atom", ".json")).get_json()
    assert json_feed["next_url"] == pages[2].replace(".atom", ".json")


def test_archive_pages_are_valid_feeds(live_server, now):
    live_server.store.demo()
    import urllib.request

    first = f"{live_server.base_url}/feeds/all.atom"
    with urllib.request.urlopen(first) as response:
        older = feed_links(feedparser.parse(response.read()))["next"]
    with urllib.request.urlopen(older) as response:
        newer = feed_links(feedparser.parse(response.read()))["previous"]
    assert urlsplit(older).query.startswith("before=") and newer == first
    assert_valid(older, older.replace(".atom", ".rss"))


def test_archive_pages_are_cached_per_cursor(small_feeds, store, now):
    store.category("Kinh tế")
    store.articles("kinh-te", 12, now - timedelta(minutes=1))
    first = small_feeds.get("/feeds/kinh-te.rss")
    older = re.search(
        r'href="http://feeds.example.vn(/feeds/kinh-te.rss\?before=[^"]+)" rel="next"',
        first.data.decode(),
    ).group(1)  # type: ignore[union-attr]
    second = small_feeds.get(older)
    assert first.headers["ETag"] != second.headers["ETag"]
    assert small_feeds.get(older).data == second.data
    again = small_feeds.get(older, headers={"If-None-Match": second.headers["ETag"]})
    assert again.status_code == 304


@pytest.fixture
def admin(settings, db):  # type: ignore[no-untyped-def]
    app = create_app(settings.model_copy(update={"admin_page_items": 2}))
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    yield client
    app.extensions["feedsvc.db"].dispose()


def walk_admin(client, path, row_xpath):
    """Rows of an admin list over every page (older links), and back (newer links)."""
    rows, pages = [], []
    while path:
        response = client.get(path)
        assert response.status_code == 200, path
        doc = html.fromstring(response.data)
        pages.append(path)
        rows += [r.strip() for r in doc.xpath(row_xpath)]
        path = (links(doc, "next") or [None])[0]
    back, path = [], pages[-1]
    while path:
        doc = html.fromstring(client.get(path).data)
        back = [r.strip() for r in doc.xpath(row_xpath)] + back
        path = (links(doc, "prev") or [None])[0]
    assert back == rows
    return rows


def test_admin_articles_page_with_their_filters(admin, store, now):
    store.category("Kinh tế")
    store.category("Y tế")
    store.article("kinh-te", "Hẹn giờ", published_at=now + timedelta(days=1))
    store.articles("kinh-te", 4, now - timedelta(hours=1))
    store.article("y-te", "Tiêm chủng", published_at=now)
    rows = walk_admin(admin, "/admin/articles/?category=kinh-te", "//tbody/tr/td[1]/a/text()")
    assert rows == ["Hẹn giờ", "Tin số 0", "Tin số 1", "Tin số 2", "Tin số 3"]
    searched = walk_admin(admin, "/admin/articles/?q=tiem+chung", "//tbody/tr/td[1]/a/text()")
    assert searched == ["Tiêm chủng"]


def test_admin_sources_page_with_their_filters(admin, sources, store):
    ids = [sources.add(f"http://127.0.0.1:9/feed-{n}.xml") for n in range(5)]
    rows = walk_admin(admin, "/admin/sources/", "//tbody/tr/td[1]/small/text()")
    assert rows == [f"http://127.0.0.1:9/feed-{n}.xml" for n in range(4, -1, -1)]
    admin_token = re.search(
        rb'name="csrf_token" value="([^"]+)"', admin.get("/admin/sources/").data
    ).group(1)  # type: ignore[union-attr]
    for source_id in ids[:3]:
        admin.post(f"/admin/sources/{source_id}/pause", data={"csrf_token": admin_token})
    paused = walk_admin(admin, "/admin/sources/?state=paused", "//tbody/tr/td[1]/small/text()")
    assert paused == [f"http://127.0.0.1:9/feed-{n}.xml" for n in (2, 1, 0)]
    found = walk_admin(admin, "/admin/sources/?q=FEED-4", "//tbody/tr/td[1]/small/text()")
    assert found == ["http://127.0.0.1:9/feed-4.xml"]


def test_admin_subscribers_and_deliveries_page(admin, db, settings, store, now):
    store.category("Thời sự")
    with db.transaction() as session:
        for n in range(5):
            form = SubscribeForm(email=f"ban{n}@example.vn")
            subscribe(session, settings, form, f"192.0.2.{n}", now)
    emails = walk_admin(
        admin, "/admin/subscribers", "//section[@aria-labelledby='h-mail']//tbody/tr/td[1]/text()"
    )
    assert emails == [f"ban{n}@example.vn" for n in range(4, -1, -1)]
    subscriber = "//tbody/tr/td[3]/a/text()"  # the subscriber's column
    deliveries = walk_admin(admin, "/admin/deliveries?state=pending", subscriber)
    assert deliveries == [f"ban{n}@example.vn" for n in range(4, -1, -1)]
    assert walk_admin(admin, "/admin/deliveries?state=dead", subscriber) == []


def test_api_lists_page_by_cursor(api):
    for n in range(5):
        added = api.post(
            "/api/v1/sources",
            json={"url": f"http://127.0.0.1:9/feed-{n}.xml", "category": "thoi-su"},
        )
        assert added.status_code == 201, added.get_json()
    urls, path = [], "/api/v1/sources?limit=2"
    while path:
        body = api.get(path).get_json()
        urls += [s["url"] for s in body["items"]]
        path = body.get("next")
    assert urls == [f"http://127.0.0.1:9/feed-{n}.xml" for n in range(4, -1, -1)]
    bad = api.get("/api/v1/sources?cursor=@@")
    assert bad.status_code == 422 and bad.get_json()["fields"] == {
        "cursor": "not a cursor of this list"
    }
    assert api.get("/api/v1/webhooks?limit=0").status_code == 422
    assert api.get("/api/v1/deliveries?limit=2").get_json()["next_cursor"] is None


def test_cli_sources_list_pages_and_filters(database_url, sources, store):
    ids = [sources.add(f"http://127.0.0.1:9/feed-{n}.xml") for n in range(5)]
    first = feedsvc("sources", "list", "--limit", "2", database_url=database_url)
    assert first.returncode == 0, first.stderr
    assert re.findall(r"^(\d+)\t", first.stdout, re.M) == [str(i) for i in ids[:2]]
    assert f"--after {ids[1]} --limit 2" in first.stderr
    rest = feedsvc("sources", "list", "--after", str(ids[1]), database_url=database_url)
    assert re.findall(r"^(\d+)\t", rest.stdout, re.M) == [str(i) for i in ids[2:]]
    assert "more:" not in rest.stderr
    beyond = feedsvc("sources", "list", "--after", str(ids[-1]), database_url=database_url)
    assert beyond.returncode == 0 and beyond.stdout == ""
    paused = feedsvc("sources", "list", "--state", "paused", database_url=database_url)
    assert paused.returncode == 0 and paused.stdout == ""
    wrong = feedsvc("sources", "list", "--category", "khong-co", database_url=database_url)
    assert wrong.returncode != 0 and "khong-co" in wrong.stderr


def test_chart_counts_per_vietnam_day_across_midnight(db, store, sources):
    source_id = sources.add("http://127.0.0.1:9/feed.xml")
    now = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 10:00 on 27/11 in Vietnam
    made = {
        datetime(2026, 11, 26, 16, 59, 59, tzinfo=UTC): 1,  # 23:59:59 on 26/11
        datetime(2026, 11, 26, 17, 0, tzinfo=UTC): 2,  # midnight: 27/11
        datetime(2026, 11, 27, 2, 59, tzinfo=UTC): 1,  # 27/11
        datetime(2026, 10, 28, 17, 0, tzinfo=UTC): 1,  # 00:00 on 29/10: the oldest day shown
        datetime(2026, 10, 28, 16, 59, 59, tzinfo=UTC): 3,  # 28/10: before the chart
    }
    with db.transaction() as session:
        for created_at, count in made.items():
            for n in range(count):
                data = ArticleCreate(category="thoi-su", title=f"Tin {created_at} {n}")
                article, _ = create_article(session, data, "http://x.vn", created_at)
                article.source_id = source_id  # as ingestion stores it
    with db.transaction() as session:
        chart = items_per_day(session, now, [source_id])
        assert items_per_day(session, now, []) == {}
    expected = [0] * DAYS
    expected[-1], expected[-2], expected[0] = 3, 1, 1
    assert chart == {source_id: expected}


def test_counts_stop_at_the_cap(db, store, now):
    store.category("Kinh tế")
    store.articles("kinh-te", 4, now)
    with db.transaction() as session:
        assert capped_count(session, select(Article.id), cap=10) == 4
        assert capped_count(session, select(Article.id), cap=2) == 3  # "more than 2"


def test_dashboard_shows_a_page_of_sources_and_capped_counts(admin, sources, store):
    for n in range(3):
        sources.add(f"http://127.0.0.1:9/feed-{n}.xml")
    rows = walk_admin(
        admin, "/admin/", "//section[@aria-labelledby='h-sources']//tbody/tr/td[1]/a/text()"
    )
    assert rows == [f"http://127.0.0.1:9/feed-{n}.xml" for n in (2, 1, 0)]
