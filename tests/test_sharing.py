"""What a shared link shows (Open Graph, Twitter cards, description, canonical address),
the favicon on every page, and gzip on HTML pages without touching the feeds' own."""

import gzip
from datetime import timedelta

from lxml import html

from tests.admin_helpers import make_user, sign_in

BASE = "http://feeds.example.vn"


def head(client, path):  # type: ignore[no-untyped-def]
    response = client.get(path)
    assert response.status_code == 200, response.data
    return html.fromstring(response.data).find("head")


def meta(doc, key: str) -> list[str]:  # type: ignore[no-untyped-def]
    return doc.xpath(f'meta[@property="{key}" or @name="{key}"]/@content')  # type: ignore[no-any-return]


def test_an_article_page_says_what_a_shared_link_shows(client, store, now):  # type: ignore[no-untyped-def]
    store.category("Thời sự")
    article = store.article(
        "thoi-su",
        "Khánh thành cầu Cửa Hội",
        summary="Cây cầu nối Nghệ An và Hà Tĩnh đã thông xe.",
        image_url="https://anh.example.vn/cau.jpg",
        published_at=now - timedelta(hours=1),
    )
    url = f"{BASE}/articles/{article.id}/{article.slug}"
    doc = head(client, f"/articles/{article.id}/{article.slug}")
    assert doc.xpath('link[@rel="canonical"]/@href') == [url]
    assert meta(doc, "description") == ["Cây cầu nối Nghệ An và Hà Tĩnh đã thông xe."]
    assert meta(doc, "og:type") == ["article"]
    assert meta(doc, "og:title") == ["Khánh thành cầu Cửa Hội"]
    assert meta(doc, "og:description") == ["Cây cầu nối Nghệ An và Hà Tĩnh đã thông xe."]
    assert meta(doc, "og:url") == [url]
    assert meta(doc, "og:image") == ["https://anh.example.vn/cau.jpg"]
    assert meta(doc, "article:published_time") == [article.published_at.isoformat()]
    assert meta(doc, "twitter:card") == ["summary_large_image"]
    assert meta(doc, "twitter:title") == ["Khánh thành cầu Cửa Hội"]
    assert meta(doc, "twitter:image") == ["https://anh.example.vn/cau.jpg"]


def test_without_a_picture_or_summary_the_body_describes_it(client, store, now):  # type: ignore[no-untyped-def]
    store.category("Thời sự")
    words = " ".join(["Hội nghị <b>thi đua</b> khen thưởng toàn tỉnh."] * 20)
    article = store.article("thoi-su", "Hội nghị", body_html=f"<p>{words}</p>", summary="")
    doc = head(client, f"/articles/{article.id}/{article.slug}")
    (description,) = meta(doc, "description")
    assert description.startswith("Hội nghị thi đua khen thưởng") and "<b>" not in description
    assert len(description) <= 200 and description.endswith("…")
    assert meta(doc, "og:image") == [] and meta(doc, "twitter:card") == ["summary"]


def test_lists_have_a_canonical_address_and_a_description(client, store, now):  # type: ignore[no-untyped-def]
    store.category("Kinh tế", description="Tin kinh tế của tỉnh.")
    store.articles("kinh-te", 30, now)
    index = head(client, "/")
    assert index.xpath('link[@rel="canonical"]/@href') == [f"{BASE}/"]
    assert meta(index, "description") != [""]
    first = head(client, "/c/kinh-te")
    assert first.xpath('link[@rel="canonical"]/@href') == [f"{BASE}/c/kinh-te"]
    assert meta(first, "description") == ["Tin kinh tế của tỉnh."]
    subscribe = head(client, "/subscribe")
    assert subscribe.xpath('link[@rel="canonical"]/@href') == [f"{BASE}/subscribe"]
    assert "thư điện tử" in meta(subscribe, "description")[0]
    older = html.fromstring(client.get("/c/kinh-te").data).xpath('//a[@rel="next"]/@href')[0]
    second = head(client, older)
    assert second.xpath('link[@rel="canonical"]/@href') == [f"{BASE}{older}"]


def test_every_page_links_the_favicon(client, db):  # type: ignore[no-untyped-def]
    make_user(db, "quantri")
    sign_in(client, "quantri")
    for path in ("/", "/subscribe", "/admin/login", "/admin/"):
        icons = head(client, path).xpath('link[@rel="icon"]')
        assert {i.get("type") for i in icons} == {"image/svg+xml", "image/png"}, path
        for icon in icons:
            with client.get(icon.get("href")) as served:
                assert served.status_code == 200
    with client.get("/favicon.ico") as ico:
        assert ico.status_code == 200 and ico.data[:4] == b"\x00\x00\x01\x00"  # an ICO file


def test_html_pages_are_gzipped_when_the_client_accepts_it(client, store, now):  # type: ignore[no-untyped-def]
    store.category("Thời sự")
    store.articles("thoi-su", 5, now)
    plain = client.get("/")
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    packed = client.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert int(packed.headers["Content-Length"]) == len(packed.data) < len(plain.data)
    assert gzip.decompress(packed.data) == plain.data
    refused = client.get("/", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_admin_pages_are_not_compressed(client, db):  # type: ignore[no-untyped-def]
    """They carry the CSRF token beside text a request puts there (BREACH)."""
    make_user(db, "quantri")
    sign_in(client, "quantri")
    page = client.get("/admin/articles/?q=abc", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and "Content-Encoding" not in page.headers


def test_feeds_keep_their_own_gzip_and_validators(client, store, now):  # type: ignore[no-untyped-def]
    store.category("Thời sự")
    store.articles("thoi-su", 3, now)
    plain = client.get("/feeds/thoi-su.rss")
    packed = client.get("/feeds/thoi-su.rss", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"  # once: not gzipped twice
    assert gzip.decompress(packed.data) == plain.data
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = client.get(
        "/feeds/thoi-su.rss",
        headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]},
    )
    assert again.status_code == 304 and again.data == b""
