"""The browser stylesheet for the feeds (feedsvc/web/static/feed.xsl).

The stylesheet is applied with lxml (libxslt, the same engine Chromium uses)
to small RSS 2.0 and Atom 1.0 documents, and the resulting HTML is checked.
With /usr/bin/chromium, more tests render feeds in headless Chromium through its
built-in XSLT (see tests/browser.py for when they are skipped).
"""

from __future__ import annotations

import functools
import http.server
import pathlib
import shutil
import subprocess

import lxml.etree
import lxml.html
import pytest

from tests.browser import CHROMIUM, FLAGS, needs_chromium
from tests.servers import LocalServer

XSL_PATH = pathlib.Path(__file__).parents[1] / "feedsvc/web/static/feed.xsl"

TITLE_1 = "Hội nghị tổng kết công tác thi đua, khen thưởng năm 2020"
TITLE_2 = "Khánh thành cầu Bến Thủy 3 nối đôi bờ sông Lam"
FEED_TITLE = "Cổng thông tin điện tử tỉnh – Tin tức"
FEED_DESC = "Tin tức, sự kiện mới nhất của tỉnh"
# HTML that is escaped inside the XML, as it would be from a careless producer.
RSS_DESC_ESCAPED = (
    "&lt;p&gt;Sáng 26/3, UBND tỉnh tổ chức &lt;b&gt;hội nghị&lt;/b&gt; tổng kết.&lt;/p&gt;"
    "&lt;script&gt;alert(1)&lt;/script&gt;"
)
ATOM_CONTENT_ESCAPED = (
    "&lt;p&gt;Sáng 26/3, UBND tỉnh tổ chức &lt;b&gt;hội nghị&lt;/b&gt;.&lt;/p&gt;"
)

RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="/static/feed.xsl"?>
<rss version="2.0"
     xmlns:atom="http://www.w3.org/2005/Atom"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel>
    <title>{FEED_TITLE}</title>
    <link>https://tinh.gov.vn/tin-tuc</link>
    <description>{FEED_DESC}</description>
    <language>vi</language>
    <atom:link rel="self" type="application/rss+xml"
               href="https://tinh.gov.vn/feeds/rss.xml?page=2"/>
    <atom:link rel="hub" href="https://pubsubhubbub.appspot.com/"/>
    <atom:link rel="first" href="https://tinh.gov.vn/feeds/rss.xml"/>
    <atom:link rel="previous" href="https://tinh.gov.vn/feeds/rss.xml?page=1"/>
    <atom:link rel="next" href="https://tinh.gov.vn/feeds/rss.xml?page=3"/>
    <atom:link rel="last" href="https://tinh.gov.vn/feeds/rss.xml?page=9"/>
    <item>
      <title>{TITLE_1}</title>
      <link>https://tinh.gov.vn/tin-tuc/hoi-nghi-tong-ket-thi-dua-2020</link>
      <description>{RSS_DESC_ESCAPED}</description>
      <pubDate>Fri, 26 Mar 2021 10:00:00 +0700</pubDate>
      <dc:creator>Nguyễn Thị Hằng</dc:creator>
      <guid isPermaLink="false">tinh-1001</guid>
      <enclosure url="https://tinh.gov.vn/media/1001.jpg" type="image/jpeg" length="12345"/>
    </item>
    <item>
      <title>{TITLE_2}</title>
      <link>https://tinh.gov.vn/tin-tuc/khanh-thanh-cau-ben-thuy-3</link>
      <description>Cây cầu dài 1,2 km được đưa vào sử dụng.</description>
      <pubDate>Mon, 1 Feb 2021 07:05:00 +0700</pubDate>
    </item>
  </channel>
</rss>
"""

ATOM = f"""<?xml version="1.0" encoding="UTF-8"?>
<?xml-stylesheet type="text/xsl" href="/static/feed.xsl"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="vi">
  <id>https://tinh.gov.vn/feeds/atom.xml</id>
  <title>{FEED_TITLE}</title>
  <subtitle>{FEED_DESC}</subtitle>
  <updated>2021-03-26T10:00:00+07:00</updated>
  <link rel="alternate" type="text/html" href="https://tinh.gov.vn/tin-tuc"/>
  <link rel="self" type="application/atom+xml" href="https://tinh.gov.vn/feeds/atom.xml"/>
  <link rel="first" href="https://tinh.gov.vn/feeds/atom.xml"/>
  <link rel="next" href="https://tinh.gov.vn/feeds/atom.xml?page=2"/>
  <link rel="last" href="https://tinh.gov.vn/feeds/atom.xml?page=9"/>
  <entry>
    <id>tag:tinh.gov.vn,2021:1001</id>
    <title>{TITLE_1}</title>
    <link rel="enclosure" type="image/jpeg" href="https://tinh.gov.vn/media/1001.jpg"/>
    <link href="https://tinh.gov.vn/tin-tuc/hoi-nghi-tong-ket-thi-dua-2020"/>
    <updated>2021-03-27T08:30:00+07:00</updated>
    <published>2021-03-26T10:00:00+07:00</published>
    <author><name>Nguyễn Thị Hằng</name></author>
    <summary>Sáng 26/3, UBND tỉnh tổ chức hội nghị tổng kết &lt;b&gt;thi đua&lt;/b&gt;.</summary>
    <content type="html">{ATOM_CONTENT_ESCAPED}</content>
  </entry>
  <entry>
    <id>tag:tinh.gov.vn,2021:1002</id>
    <title>{TITLE_2}</title>
    <link rel="alternate" type="text/html"
          href="https://tinh.gov.vn/tin-tuc/khanh-thanh-cau-ben-thuy-3"/>
    <updated>2021-02-01T07:05:00+07:00</updated>
    <summary>Cây cầu dài 1,2 km được đưa vào sử dụng.</summary>
  </entry>
</feed>
"""


@functools.cache
def _transform() -> lxml.etree.XSLT:
    return lxml.etree.XSLT(lxml.etree.parse(str(XSL_PATH)))


def render(feed: str) -> tuple[str, lxml.html.HtmlElement]:
    """Apply feed.xsl; return the serialized output and its parsed HTML."""
    result = _transform()(lxml.etree.fromstring(feed.encode("utf-8")))
    out = bytes(result)
    doc = lxml.html.document_fromstring(out, parser=lxml.html.HTMLParser(encoding="utf-8"))
    return out.decode("utf-8"), doc


def text(el: lxml.html.HtmlElement) -> str:
    return " ".join(el.text_content().split())


def only(doc: lxml.html.HtmlElement, xpath: str) -> lxml.html.HtmlElement:
    found = doc.xpath(xpath)
    assert len(found) == 1, f"{xpath}: {len(found)} matches"
    return found[0]


@pytest.fixture(scope="module")
def rss() -> tuple[str, lxml.html.HtmlElement]:
    return render(RSS)


@pytest.fixture(scope="module")
def atom() -> tuple[str, lxml.html.HtmlElement]:
    return render(ATOM)


def test_stylesheet_is_plain_self_contained_xslt_1() -> None:
    xsl = lxml.etree.parse(str(XSL_PATH))
    root = xsl.getroot()
    assert root.get("version") == "1.0"
    output = root.find("{http://www.w3.org/1999/XSL/Transform}output")
    assert output is not None
    assert output.get("method") == "html"
    assert output.get("encoding") == "UTF-8"
    source = XSL_PATH.read_text(encoding="utf-8")
    for forbidden in ("<script", "exsl", "msxsl", "document(", "http://", "https://", "@import"):
        hits = [
            line
            for line in source.splitlines()
            if forbidden in line and "xmlns" not in line and "<!--" not in line
        ]
        assert not hits, f"{forbidden!r} in stylesheet: {hits}"


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_page_skeleton(fmt: str, request: pytest.FixtureRequest) -> None:
    out, doc = request.getfixturevalue(fmt)
    assert out.lstrip().lower().startswith("<!doctype html")
    assert doc.get("lang") == "vi"
    assert doc.xpath("//head/meta[@name='viewport']")
    # Its CSS is files of the site beside the stylesheet: no inline style (the CSP).
    stylesheets = [link.get("href") for link in doc.xpath("//head/link[@rel='stylesheet']")]
    assert stylesheets == ["../static/fonts.css", "../static/feed.css"]
    assert "max-width: 46rem" in XSL_PATH.with_name("feed.css").read_text(encoding="utf-8")
    assert text(only(doc, "//head/title")).startswith(FEED_TITLE)
    assert not doc.xpath("//script | //style | //*[@style] | //img | //iframe | //*[@src]")
    assert len(doc.xpath("//link")) == 2
    # No namespace debris from the stylesheet leaks into the HTML.
    assert "xmlns" not in out


@pytest.mark.parametrize(
    ("fmt", "self_url"),
    [
        ("rss", "https://tinh.gov.vn/feeds/rss.xml?page=2"),
        ("atom", "https://tinh.gov.vn/feeds/atom.xml"),
    ],
)
def test_notice_shows_self_url(fmt: str, self_url: str, request: pytest.FixtureRequest) -> None:
    _, doc = request.getfixturevalue(fmt)
    notice = only(doc, "//*[contains(@class, 'notice')]")
    assert "Đây là nguồn tin RSS/Atom (web feed)." in text(notice)
    assert (
        "Hãy sao chép địa chỉ trang này vào ứng dụng đọc tin "
        "(Feedly, Inoreader, NetNewsWire, Thunderbird…) để nhận tin mới."
    ) in text(notice)
    code = notice.xpath(".//code")
    assert [c.text_content().strip() for c in code] == [self_url]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_header(fmt: str, request: pytest.FixtureRequest) -> None:
    _, doc = request.getfixturevalue(fmt)
    assert text(only(doc, "//h1")) == FEED_TITLE
    assert FEED_DESC in text(only(doc, "//header"))
    home = only(doc, "//a[normalize-space() = 'Xem trang web']")
    assert home.get("href") == "https://tinh.gov.vn/tin-tuc"


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_items(fmt: str, request: pytest.FixtureRequest) -> None:
    _, doc = request.getfixturevalue(fmt)
    items = doc.xpath("//li[contains(@class, 'item')]")
    assert len(items) == 2
    first, second = items

    link = only(first, ".//h2/a")
    assert text(link) == TITLE_1
    assert link.get("href") == "https://tinh.gov.vn/tin-tuc/hoi-nghi-tong-ket-thi-dua-2020"
    assert text(only(first, ".//*[contains(@class, 'date')]")) == "26/03/2021 10:00"
    assert text(only(first, ".//*[contains(@class, 'author')]")) == "Tác giả: Nguyễn Thị Hằng"

    link = only(second, ".//h2/a")
    assert text(link) == TITLE_2
    assert link.get("href") == "https://tinh.gov.vn/tin-tuc/khanh-thanh-cau-ben-thuy-3"
    # Single-digit RFC 822 day / Atom entry without <published> (falls back to <updated>).
    assert text(only(second, ".//*[contains(@class, 'date')]")) == "01/02/2021 07:05"
    # No author, no byline.
    assert "Tác giả" not in text(second)
    assert not second.xpath(".//*[contains(@class, 'author')]")
    assert text(only(second, ".//*[contains(@class, 'summary')]")) == (
        "Cây cầu dài 1,2 km được đưa vào sử dụng."
    )


def test_rss_description_is_shown_as_text_not_markup(
    rss: tuple[str, lxml.html.HtmlElement],
) -> None:
    out, doc = rss
    summary = only(doc, "//li[contains(@class, 'item')][1]//*[contains(@class, 'summary')]")
    assert len(summary) == 0, "summary must not contain elements"
    assert text(summary) == (
        "<p>Sáng 26/3, UBND tỉnh tổ chức <b>hội nghị</b> tổng kết.</p><script>alert(1)</script>"
    )
    assert not doc.xpath("//b | //script")
    assert "&lt;p&gt;" in out
    assert "<b>" not in out and "<script>" not in out


def test_atom_summary_is_shown_as_text_and_content_is_not_rendered(
    atom: tuple[str, lxml.html.HtmlElement],
) -> None:
    out, doc = atom
    summary = only(doc, "//li[contains(@class, 'item')][1]//*[contains(@class, 'summary')]")
    assert len(summary) == 0
    assert text(summary) == "Sáng 26/3, UBND tỉnh tổ chức hội nghị tổng kết <b>thi đua</b>."
    assert not doc.xpath("//b")
    assert "<b>" not in out
    # The enclosure link is not taken for the entry's page link.
    assert not doc.xpath("//a[contains(@href, '1001.jpg')]")


def test_rss_paging_links(rss: tuple[str, lxml.html.HtmlElement]) -> None:
    _, doc = rss
    nav = only(doc, "//nav")
    links = {text(a): a.get("href") for a in nav.xpath(".//a")}
    assert links == {
        "← Trang mới hơn": "https://tinh.gov.vn/feeds/rss.xml?page=1",
        "Trang đầu": "https://tinh.gov.vn/feeds/rss.xml",
        "Trang cuối": "https://tinh.gov.vn/feeds/rss.xml?page=9",
        "Trang cũ hơn →": "https://tinh.gov.vn/feeds/rss.xml?page=3",
    }
    # The WebSub hub is not a paging link.
    assert not doc.xpath("//a[contains(@href, 'pubsubhubbub')]")


def test_atom_paging_links(atom: tuple[str, lxml.html.HtmlElement]) -> None:
    _, doc = atom
    nav = only(doc, "//nav")
    next_link = only(nav, ".//a[contains(normalize-space(), 'Trang cũ hơn')]")
    assert next_link.get("href") == "https://tinh.gov.vn/feeds/atom.xml?page=2"
    assert only(nav, ".//a[normalize-space() = 'Trang đầu']").get("href") == (
        "https://tinh.gov.vn/feeds/atom.xml"
    )
    # There is no rel=previous link in this feed.
    assert "Trang mới hơn" not in text(nav)


def test_no_paging_links_and_no_self_url_when_absent() -> None:
    feed = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Tin vắn</title><link>https://tinh.gov.vn/</link><description>Mô tả</description>
</channel></rss>"""
    _, doc = render(feed)
    assert text(only(doc, "//h1")) == "Tin vắn"
    assert not doc.xpath("//nav | //code | //li")
    assert "Chưa có tin nào." in text(doc)


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        ("Fri, 26 Mar 2021 10:00:00 +0700", "26/03/2021 10:00"),
        ("26 Mar 2021 10:00 +0700", "26/03/2021 10:00"),
        ("Sun, 5 dec 2021 23:59:59 GMT", "05/12/2021 23:59"),
        ("Wed, 01 Jan 2020 00:00:00 +0000", "01/01/2020 00:00"),
        ("hôm qua", "hôm qua"),
    ],
)
def test_rfc822_dates(pub_date: str, expected: str) -> None:
    feed = f"""<rss version="2.0"><channel><title>T</title>
      <item><title>A</title><pubDate>{pub_date}</pubDate></item></channel></rss>"""
    _, doc = render(feed)
    assert text(only(doc, "//*[contains(@class, 'date')]")) == expected


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2021-03-26T10:00:00+07:00", "26/03/2021 10:00"),
        ("2021-12-31T23:59:59.123Z", "31/12/2021 23:59"),
    ],
)
def test_rfc3339_dates(stamp: str, expected: str) -> None:
    feed = f"""<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
      <entry><title>A</title><updated>{stamp}</updated></entry></feed>"""
    _, doc = render(feed)
    assert text(only(doc, "//*[contains(@class, 'date')]")) == expected


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012
        ".xml": "application/xml",
        ".xsl": "text/xsl",
        ".css": "text/css",
        "": "application/octet-stream",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


def dump_dom(url: str, profile: pathlib.Path) -> str:
    """The DOM headless Chromium builds for ``url`` (for a feed: after its XSLT)."""
    proc = subprocess.run(
        [
            str(CHROMIUM),
            *FLAGS,
            f"--user-data-dir={profile}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    return proc.stdout.decode("utf-8", "replace")


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_served_demo_feed_opens_as_a_readable_page(live_server, fmt, tmp_path) -> None:
    """The real thing: a demo feed served by the app, its stylesheet fetched from the app."""
    live_server.store.demo()
    dom = dump_dom(f"{live_server.base_url}/feeds/chinh-tri-xa-hoi.{fmt}", tmp_path / "profile")
    doc = lxml.html.document_fromstring(dom)
    assert [text(h) for h in doc.xpath("//h1")] == ["Chính trị - Xã hội"], dom[:2000]
    assert len(doc.xpath("//li[contains(@class, 'item')]")) >= 10
    assert f"{live_server.base_url}/feeds/chinh-tri-xa-hoi.{fmt}" in text(doc)


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize(("name", "feed"), [("rss.xml", RSS), ("atom.xml", ATOM)])
def test_renders_in_headless_chromium(name: str, feed: str, tmp_path: pathlib.Path) -> None:
    # Serve the feed and /static/feed.xsl from one origin, as the app does.
    (tmp_path / "static").mkdir()
    shutil.copy(XSL_PATH, tmp_path / "static" / "feed.xsl")
    shutil.copy(XSL_PATH.with_name("feed.css"), tmp_path / "static" / "feed.css")
    (tmp_path / name).write_text(feed, encoding="utf-8")
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    with LocalServer(handler) as server:
        dom = dump_dom(f"{server.url}/{name}", tmp_path / "profile")
    doc = lxml.html.document_fromstring(dom)
    assert [text(h) for h in doc.xpath("//h1")] == [FEED_TITLE], dom[:2000]
    items = doc.xpath("//li[contains(@class, 'item')]")
    assert len(items) == 2
    assert text(only(items[0], ".//*[contains(@class, 'date')]")) == "26/03/2021 10:00"
    assert text(only(items[0], ".//h2/a")) == TITLE_1
    assert "Đây là nguồn tin RSS/Atom (web feed)." in text(doc)
    assert not doc.xpath("//b | //script")
