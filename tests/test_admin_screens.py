"""Every admin page (and the public ones) in Debian's Chromium at a phone's width (375 px)
and a desktop's (1280 px): no sideways scrolling, the header on at most two lines, lists as
cards on the phone. Each admin page is screenshotted under the pytest basetemp
(``screens/``), for a person to look at.

The pages are the admin blueprint's GET routes, read from the app's URL map: a new page is
covered without touching this test, and a page with a URL argument this test cannot fill
fails it (add a value to ``ARGUMENTS``)."""

import random
from collections.abc import Iterator

import pytest
from flask import url_for
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from feedsvc.accounts import create_user
from feedsvc.ingest.refresh import refresh_source
from feedsvc.models import Article, Source
from feedsvc.notify.deliver import announce_new_articles, deliver_due
from feedsvc.notify.mail.subscriptions import SubscribeForm, subscribe
from feedsvc.notify.webhooks import EndpointCreate, add_endpoint
from feedsvc.settings import Settings
from feedsvc.sources import SourceCreate, add_source
from feedsvc.text import utcnow
from feedsvc.tokens import create_token
from feedsvc.web import create_app
from tests.admin_helpers import PASSWORD, make_user
from tests.browser import needs_chromium
from tests.receiver import Receiver
from tests.upstream import CORPUS

pytestmark = needs_chromium
WIDTHS = (375, 1280)
LONG = "cap-nhat-thong-tin-chi-dao-dieu-hanh-cua-uy-ban-nhan-dan-tinh-ve-phong-chong-thien-tai"

# Lines of the header: its visible items grouped by their vertical middle.
HEADER_LINES = """() => {
  const header = document.querySelector('header.bar');
  const middles = [...header.querySelectorAll('a, button, span, select')]
    .map(e => e.getBoundingClientRect())
    .filter(r => r.width > 1 && r.height > 1)
    .map(r => r.top + r.height / 2)
    .sort((a, b) => a - b);
  let lines = 0, last = -1e9;
  for (const m of middles) { if (m - last > 12) { lines += 1; last = m; } }
  return lines;
}"""
# Cells of a list on a phone: shown as cards, each under its column's name.
CARD_CELLS = """() => [...document.querySelectorAll('table.stack td[data-label]')]
  .filter(td => td.dataset.label)
  .map(td => [getComputedStyle(td).display, getComputedStyle(td, '::before').content])"""


@pytest.fixture
def filled(live_server, db, upstream) -> Iterator[dict[str, int]]:  # type: ignore[no-untyped-def]
    """A store with something on every page: a source with a history of fetches (one of
    them failed), local and ingested articles with long words, a webhook whose deliveries
    failed, an e-mail subscriber, an API token and an editor."""
    settings = live_server.settings.model_copy(update={"delivery_max_attempts": 1})
    store = live_server.store
    store.category("Thời sự")
    store.category("Kinh tế - Xã hội, Đầu tư và Phát triển")
    feed = upstream.serve(
        f"/{LONG}/rss.xml",
        (CORPUS / "rss20.xml").read_bytes(),
        headers={"Content-Type": "application/rss+xml"},
    )
    with db.transaction() as session:
        data = SourceCreate(url=feed, category="thoi-su")
        source_id = add_source(session, data, settings, utcnow(), random.Random(1)).id
    upstream.serve(f"/{LONG}/rss.xml", "lỗi", status=503)
    refresh_source(db, settings, source_id, utcnow, random.Random(1), force=True)
    upstream.serve(
        f"/{LONG}/rss.xml",
        (CORPUS / "rss20.xml").read_bytes(),
        headers={"Content-Type": "application/rss+xml"},
    )
    refresh_source(db, settings, source_id, utcnow, random.Random(1), force=True)
    cells = "".join(f"<td>{LONG}</td>" for _ in range(8))
    store.article(
        "thoi-su",
        "Hội nghị " + LONG,
        summary=LONG,
        body_html=f"<p>{LONG}</p><table><tr>{cells}</tr></table>",
    )
    with Receiver(status=500) as receiver:
        with db.transaction() as session:
            hook = EndpointCreate(url=f"{receiver.url}/{LONG}", description=LONG)
            add_endpoint(session, hook, settings, utcnow())
            form = SubscribeForm(email="nguoi.doc.bao.tinh.nghe.an@example.com")
            subscribe(session, settings, form, "192.0.2.7", utcnow())
            create_token(session, "cổng thông tin điện tử tỉnh", utcnow())
            create_user(session, "bientapvien", PASSWORD, "editor", utcnow())
        announce_new_articles(db, settings)
        deliver_due(db, settings)
    with db.sessions() as session:
        article_id = session.scalar(select(Article.id).order_by(Article.id.desc()))
        assert session.get(Source, source_id) is not None
    yield {"source_id": source_id, "article_id": article_id}  # type: ignore[misc]


def admin_pages(settings: Settings, arguments: dict[str, int]) -> list[tuple[str, str]]:
    """(endpoint, path) of every GET page of the admin blueprint."""
    app = create_app(settings)
    pages = []
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.endpoint.startswith("admin.") or "GET" not in (rule.methods or ()):
                continue
            missing = set(rule.arguments) - set(arguments)
            assert not missing, f"{rule.rule}: give this test a value for {missing}"
            values = {name: arguments[name] for name in rule.arguments}
            pages.append((rule.endpoint, url_for(rule.endpoint, **values)))
    app.extensions["feedsvc.db"].dispose()
    return pages


def signed_in(browser: Browser, base_url: str, width: int) -> Page:
    context = browser.new_context(
        base_url=base_url, viewport={"width": width, "height": 800}, locale="vi-VN"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/admin/login")
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/admin/")
    return page


@pytest.mark.parametrize("width", WIDTHS)
def test_every_admin_page_fits_the_screen(  # type: ignore[no-untyped-def]
    browser: Browser, live_server, db, filled, width, tmp_path_factory
):
    make_user(db, "quantri")
    screens = tmp_path_factory.getbasetemp() / "screens"
    screens.mkdir(exist_ok=True)
    page = signed_in(browser, live_server.base_url, width)
    checked = []
    for endpoint, path in admin_pages(live_server.settings, filled):
        if not page.request.get(path).headers["content-type"].startswith("text/html"):
            continue  # a download (the OPML export)
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, path
        page.screenshot(path=str(screens / f"{endpoint}-{width}.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways at {width} px ({overflow} px)"
        lines = page.evaluate(HEADER_LINES)
        assert lines <= 2, f"{path}: the header takes {lines} lines at {width} px"
        if width < 640:
            for display, label in page.evaluate(CARD_CELLS):
                assert display == "block" and label not in ("none", "normal", '""'), path
        checked.append(endpoint)
    for path in ("/", f"/articles/{filled['article_id']}", "/subscribe"):  # public pages too
        page.goto(path)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways at {width} px ({overflow} px)"
    page.goto("/admin/deliveries?lang=en")  # English words are longer
    page.screenshot(path=str(screens / f"en-deliveries-{width}.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    assert page.evaluate(HEADER_LINES) <= 2
    page.context.close()
    assert {"admin.dashboard.home", "admin.sources.edit", "admin.subscribers.deliveries"} <= set(
        checked
    )
