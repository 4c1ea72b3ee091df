"""Feeds through the HTTP client, parsed back with feedparser, on SQLite and PostgreSQL."""

import gzip
import json
from datetime import timedelta

import feedparser
import pytest
from lxml import html

from feedsvc.feeds.service import FeedRequest, build_feed, feed_state
from feedsvc.paging import Position

TITLE = "Hội nghị tổng kết công tác thi đua, khen thưởng năm 2020"
BYLINE = "Trần Thị Thu Hà"
FORMATS = ("rss", "atom", "json")


@pytest.fixture
def politics(store):
    return store.category("Chính trị - Xã hội", description="Tin chính trị, xã hội của tỉnh")


def parse(response):
    assert response.status_code == 200, response.data
    return feedparser.parse(response.data)


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_feed_round_trips_vietnamese_text_dates_and_ids(client, store, politics, now, fmt):
    published = (now - timedelta(days=3)).replace(microsecond=0)
    article = store.article(
        "chinh-tri-xa-hoi",
        TITLE,
        author=BYLINE,
        summary="Chiều 22/3, UBND tỉnh tổ chức hội nghị trực tuyến.",
        body_html="<p>Đồng chí Chủ tịch UBND tỉnh chủ trì <img src='/media/demo/a.jpg'></p>",
        published_at=published,
        image_url="http://feeds.example.vn/media/demo/a.jpg",
        image_type="image/jpeg",
        image_length=2048,
    )
    first = parse(client.get(f"/feeds/chinh-tri-xa-hoi.{fmt}"))
    entry = first.entries[0]
    assert first.feed.title == "Chính trị - Xã hội"
    assert first.feed.language == "vi"
    assert entry.title == TITLE
    assert entry.author == BYLINE
    assert entry.id == article.guid
    assert entry.link == f"http://feeds.example.vn/articles/{article.id}/{article.slug}"
    assert entry.published_parsed[:6] == published.timetuple()[:6]
    assert '<img src="http://feeds.example.vn/media/demo/a.jpg"' in entry.content[0].value
    assert entry.enclosures[0].href == "http://feeds.example.vn/media/demo/a.jpg"
    assert entry.enclosures[0].length == "2048"
    # An edit rebuilds the feed; the entry keeps its id.
    client.patch(
        f"/api/v1/articles/{article.id}",
        json={"title": "Tiêu đề mới"},
        headers={"Authorization": f"Bearer {store_token(store)}"},
    )
    again = parse(client.get(f"/feeds/chinh-tri-xa-hoi.{fmt}"))
    assert again.entries[0].title == "Tiêu đề mới"
    assert again.entries[0].id == article.guid


def test_dates_are_local_time_with_offset(client, store, politics, now):
    store.article("chinh-tri-xa-hoi", TITLE, published_at=now - timedelta(hours=1))
    rss = client.get("/feeds/chinh-tri-xa-hoi.rss").data.decode()
    atom = client.get("/feeds/chinh-tri-xa-hoi.atom").data.decode()
    feed = client.get("/feeds/chinh-tri-xa-hoi.json").get_json()
    assert "+0700</pubDate>" in rss
    assert "+07:00</published>" in atom
    assert feed["items"][0]["date_published"].endswith("+07:00")


def test_json_feed_1_1(client, store, politics, now):
    store.article("chinh-tri-xa-hoi", TITLE, author=BYLINE, published_at=now)
    response = client.get("/feeds/chinh-tri-xa-hoi.json")
    assert response.content_type == "application/feed+json; charset=utf-8"
    feed = json.loads(response.data)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert feed["feed_url"] == "http://feeds.example.vn/feeds/chinh-tri-xa-hoi.json"
    assert feed["hubs"] == [{"type": "WebSub", "url": "http://feeds.example.vn/hub"}]
    assert feed["items"][0]["title"] == TITLE
    assert feed["items"][0]["authors"] == [{"name": BYLINE}]


@pytest.mark.parametrize(
    ("fmt", "media_type"),
    [
        ("rss", "application/rss+xml; charset=utf-8"),
        ("atom", "application/atom+xml; charset=utf-8"),
        ("json", "application/feed+json; charset=utf-8"),
    ],
)
def test_headers_advertise_hub_and_self(client, politics, fmt, media_type):
    response = client.get(f"/feeds/chinh-tri-xa-hoi.{fmt}")
    assert response.content_type == media_type
    assert response.headers["Link"] == (
        '<http://feeds.example.vn/hub>; rel="hub", '
        f'<http://feeds.example.vn/feeds/chinh-tri-xa-hoi.{fmt}>; rel="self"'
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    if fmt != "json":
        body = response.data.decode()
        assert 'rel="hub"' in body and 'rel="self"' in body
        assert (
            '<?xml-stylesheet type="text/xsl" href="http://feeds.example.vn/static/feed.xsl"?>'
            in body
        )


def test_newest_first_fifty_per_page_and_paging_links(client, store, politics, now):
    store.articles("chinh-tri-xa-hoi", 55, now)
    first = parse(client.get("/feeds/chinh-tri-xa-hoi.atom"))
    assert [e.title for e in first.entries[:3]] == ["Tin số 0", "Tin số 1", "Tin số 2"]
    assert len(first.entries) == 50
    links = {link.rel: link.href for link in first.feed.links}
    older = links["next"].removeprefix("http://feeds.example.vn/feeds/chinh-tri-xa-hoi.atom?")
    assert older.startswith("before=")
    assert links["first"] == "http://feeds.example.vn/feeds/chinh-tri-xa-hoi.atom"
    assert "previous" not in links
    second = parse(client.get(f"/feeds/chinh-tri-xa-hoi.atom?{older}"))
    assert [e.title for e in second.entries] == [f"Tin số {n}" for n in range(50, 55)]
    links = {link.rel: link.href for link in second.feed.links}
    assert links["previous"] == "http://feeds.example.vn/feeds/chinh-tri-xa-hoi.atom"
    assert "next" not in links
    rss = client.get("/feeds/chinh-tri-xa-hoi.rss").data.decode()
    assert (
        f'<atom:link href="http://feeds.example.vn/feeds/chinh-tri-xa-hoi.rss?{older}" rel="next"/>'
        in rss
    )
    assert (
        client.get("/feeds/chinh-tri-xa-hoi.json")
        .get_json()["next_url"]
        .endswith(f"chinh-tri-xa-hoi.json?{older}")
    )
    # An old numbered link goes to the same page by cursor.
    moved = client.get("/feeds/chinh-tri-xa-hoi.atom?page=2")
    assert moved.status_code == 301 and moved.headers["Location"].endswith(f".atom?{older}")


def test_unknown_category_page_or_format_is_404_with_message(client, store, politics, now):
    store.articles("chinh-tri-xa-hoi", 2, now)
    response = client.get("/feeds/khong-co.rss")
    assert response.status_code == 404
    assert "khong-co" in response.data.decode()
    assert client.get("/feeds/chinh-tri-xa-hoi.rss?page=2").status_code == 404
    assert client.get("/feeds/chinh-tri-xa-hoi.xml").status_code == 404
    bad_page = client.get("/feeds/chinh-tri-xa-hoi.rss?page=abc")
    assert bad_page.status_code == 422
    assert "page" in bad_page.data.decode()


def test_scheduled_articles_stay_out_until_their_time(client, store, politics, now, db, settings):
    store.article("chinh-tri-xa-hoi", "Đã đăng", published_at=now - timedelta(minutes=1))
    store.article("chinh-tri-xa-hoi", "Hẹn giờ", published_at=now + timedelta(hours=2))
    for fmt in ("rss", "atom"):
        titles = [e.title for e in parse(client.get(f"/feeds/chinh-tri-xa-hoi.{fmt}")).entries]
        assert titles == ["Đã đăng"]
    assert [i["title"] for i in client.get("/feeds/all.json").get_json()["items"]] == ["Đã đăng"]
    # Once its time has come it is in, and the version key has moved without any write.
    later = now + timedelta(hours=3)
    with db.transaction() as session:
        before = feed_state(session, "chinh-tri-xa-hoi", now)
        after = feed_state(session, "chinh-tri-xa-hoi", later)
        built = build_feed(session, settings, after, FeedRequest("chinh-tri-xa-hoi", "json"), later)
    assert before.etag(settings, "json", Position(), "") != after.etag(
        settings, "json", Position(), ""
    )
    assert [i["title"] for i in json.loads(built.body)["items"]] == ["Hẹn giờ", "Đã đăng"]


def test_keyword_feed_ignores_diacritics_and_case(client, store, politics, now):
    store.category("Kinh tế")
    store.article("chinh-tri-xa-hoi", "Phát động phong trào thi đua yêu nước", published_at=now)
    store.article("kinh-te", "Tổng kết THI ĐUA khen thưởng", published_at=now)
    store.article("kinh-te", "Giá lúa tăng", published_at=now)
    titles = [e.title for e in parse(client.get("/feeds/all.rss?q=thi+dua")).entries]
    assert sorted(titles) == [
        "Phát động phong trào thi đua yêu nước",
        "Tổng kết THI ĐUA khen thưởng",
    ]
    in_category = parse(client.get("/feeds/kinh-te.atom?q=Thi Đua"))
    assert [e.title for e in in_category.entries] == ["Tổng kết THI ĐUA khen thưởng"]
    assert in_category.feed.links[0].href.endswith("/feeds/kinh-te.atom?q=Thi+%C4%90ua")


def test_conditional_get_answers_304_and_changes_after_an_edit(client, store, politics, now):
    article = store.article("chinh-tri-xa-hoi", TITLE, published_at=now)
    first = client.get("/feeds/chinh-tri-xa-hoi.rss")
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert not first.headers["ETag"].startswith("W/")
    assert "max-age" in first.headers["Cache-Control"]
    by_etag = client.get("/feeds/chinh-tri-xa-hoi.rss", headers={"If-None-Match": etag})
    assert by_etag.status_code == 304 and by_etag.data == b""
    assert by_etag.headers["ETag"] == etag
    by_date = client.get(
        "/feeds/chinh-tri-xa-hoi.rss", headers={"If-Modified-Since": last_modified}
    )
    assert by_date.status_code == 304
    client.patch(  # an edit through the API must change the feed at once
        f"/api/v1/articles/{article.id}",
        json={"title": "Tiêu đề đã sửa"},
        headers={"Authorization": f"Bearer {store_token(store)}"},
    )
    changed = client.get("/feeds/chinh-tri-xa-hoi.rss", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert parse(changed).entries[0].title == "Tiêu đề đã sửa"
    assert changed.headers["ETag"] != etag


def store_token(store) -> str:
    from feedsvc.text import utcnow
    from feedsvc.tokens import create_token

    with store.database.transaction() as session:
        return create_token(session, "test", utcnow())[1]


def test_every_change_reaches_the_cached_feed(client, store, politics, now):
    """Create, move to another category, delete: each is visible on the next request."""
    store.category("Kinh tế")
    token = store_token(store)
    auth = {"Authorization": f"Bearer {token}"}

    def titles(slug):
        return [i["title"] for i in client.get(f"/feeds/{slug}.json").get_json()["items"]]

    article = store.article("chinh-tri-xa-hoi", "Bài một", published_at=now)
    assert titles("chinh-tri-xa-hoi") == ["Bài một"] and titles("kinh-te") == []
    client.patch(f"/api/v1/articles/{article.id}", json={"category": "kinh-te"}, headers=auth)
    assert titles("chinh-tri-xa-hoi") == [] and titles("kinh-te") == ["Bài một"]
    assert titles("all") == ["Bài một"]
    client.delete(f"/api/v1/articles/{article.id}", headers=auth)
    assert titles("kinh-te") == [] and titles("all") == []


def test_gzip_when_asked(client, store, politics, now):
    store.article("chinh-tri-xa-hoi", TITLE, published_at=now)
    plain = client.get("/feeds/chinh-tri-xa-hoi.atom")
    zipped = client.get("/feeds/chinh-tri-xa-hoi.atom", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept, Accept-Encoding"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        "/feeds/chinh-tri-xa-hoi.atom",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]},
    )
    assert again.status_code == 304


def test_control_characters_and_unsafe_html_never_reach_a_feed(client, store, politics, now):
    store.article(
        "chinh-tri-xa-hoi",
        "Văn bản\x0b dán từ Word",
        body_html='<p onclick="x()">Nội\x0c dung<script>alert(1)</script></p>'
        '<iframe src="http://x"></iframe><p style="position:absolute">z</p>',
        published_at=now,
    )
    entry = parse(client.get("/feeds/chinh-tri-xa-hoi.rss")).entries[0]
    assert entry.title == "Văn bản dán từ Word"
    content = entry.content[0].value
    assert "Nội dung" in content
    for unsafe in ("script", "onclick", "iframe", "style", "\x0c"):
        assert unsafe not in content


def test_opml_lists_every_feed(client, store, politics):
    store.category("Kinh tế")
    response = client.get("/feeds.opml")
    assert response.content_type == "text/x-opml; charset=utf-8"
    from xml.etree import ElementTree as ET

    outlines = ET.fromstring(response.data).findall("./body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        "http://feeds.example.vn/feeds/all.rss",
        "http://feeds.example.vn/feeds/chinh-tri-xa-hoi.rss",
        "http://feeds.example.vn/feeds/kinh-te.rss",
    ]
    assert outlines[1].get("text") == "Chính trị - Xã hội"
    atom = ET.fromstring(client.get("/feeds.opml?format=atom").data)
    assert atom.find("./body/outline").get("xmlUrl").endswith("/feeds/all.atom")


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        (BROWSER_ACCEPT, "text/html; charset=utf-8"),
        ("application/rss+xml, application/atom+xml, */*", "application/rss+xml; charset=utf-8"),
        ("*/*", "application/rss+xml; charset=utf-8"),
        (None, "application/rss+xml; charset=utf-8"),
    ],
)
def test_browsers_get_the_feed_as_a_page(client, store, politics, now, accept, media_type):
    store.article("chinh-tri-xa-hoi", TITLE, published_at=now)
    headers = {"Accept": accept} if accept else {}
    response = client.get("/feeds/chinh-tri-xa-hoi.rss", headers=headers)
    assert response.content_type == media_type
    assert "Accept" in response.headers["Vary"]
    if media_type.startswith("text/html"):
        doc = html.fromstring(response.data)
        assert doc.xpath("string(//h1)") == "Chính trị - Xã hội"
        assert TITLE in doc.xpath("//li//h2/a/text()")
        assert "http://feeds.example.vn/feeds/chinh-tri-xa-hoi.rss" in doc.text_content()
        again = client.get(
            "/feeds/chinh-tri-xa-hoi.rss",
            headers={**headers, "If-None-Match": response.headers["ETag"]},
        )
        assert again.status_code == 304
        feed_etag = client.get("/feeds/chinh-tri-xa-hoi.rss").headers["ETag"]
        assert feed_etag != response.headers["ETag"]
