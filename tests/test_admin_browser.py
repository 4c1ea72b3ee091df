"""The admin UI in a real browser: Debian's headless Chromium driven by Playwright, against
the app on a real HTTP server, with real upstream feeds and webhook receivers on 127.0.0.1.

Without /usr/bin/chromium these tests are skipped (see tests/browser.py).
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from feedsvc.models import Article, Delivery
from feedsvc.notify.deliver import announce_new_articles, deliver_due
from feedsvc.text import utcnow
from feedsvc.tokens import authenticate_token
from tests.admin_helpers import PASSWORD, make_user
from tests.browser import needs_chromium
from tests.receiver import Receiver
from tests.upstream import CORPUS

pytestmark = needs_chromium


@pytest.fixture
def page(browser: Browser, live_server, db) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    live_server.store.category("Thời sự")
    live_server.store.category("Kinh tế")
    make_user(db, "quantri")
    context = browser.new_context(base_url=live_server.base_url, locale="vi-VN")
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.goto("/admin/")
    opened.get_by_label("Tên đăng nhập").fill("quantri")
    opened.get_by_label("Mật khẩu").fill(PASSWORD)
    opened.get_by_role("button", name="Đăng nhập").click()
    expect(opened.get_by_role("heading", name="Tổng quan")).to_be_visible()
    yield opened
    context.close()


def test_add_a_source_with_its_preview_and_see_its_items(page: Page, upstream, db):  # type: ignore[no-untyped-def]
    feed = upstream.serve(
        "/tinh.xml",
        (CORPUS / "rss20.xml").read_bytes(),
        headers={"Content-Type": "application/rss+xml"},
    )
    page.get_by_role("link", name="Nguồn tin", exact=True).click()
    page.get_by_role("link", name="Thêm nguồn tin").click()
    page.get_by_label("Địa chỉ RSS/Atom/JSON Feed").fill(feed)
    page.get_by_label("Chuyên mục mặc định").select_option("thoi-su")
    page.get_by_role("button", name="Xem trước").click()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("tin sẽ được lấy về")
    titles = preview.locator("ol.entries li strong").all_inner_texts()
    assert titles, "the preview lists the feed's entries"
    with db.sessions() as session:
        assert session.scalar(select(Article.id)) is None  # a preview stores nothing
    page.get_by_role("button", name="Lưu").click()
    expect(page.locator(".messages")).to_contain_text("Đã thêm nguồn tin")
    page.get_by_role("button", name="Lấy tin ngay").click()
    expect(page.locator(".messages")).to_contain_text(f"{len(titles)} tin mới")
    page.get_by_role("link", name="Tin bài").click()
    for title in titles:
        expect(page.get_by_role("link", name=title, exact=True)).to_be_visible()
    page.get_by_role("link", name="Tổng quan").click()
    spark = page.locator("svg.spark").first
    expect(spark).to_have_attribute("aria-label", re.compile(rf"^{len(titles)} tin trong 30 ngày"))


def test_create_and_schedule_an_article(page: Page, live_server):  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Tin bài").click()
    page.get_by_role("link", name="Viết tin bài").click()
    page.get_by_label("Tiêu đề").fill("Lễ khánh thành cầu Bến Thủy 3")
    page.get_by_label("Chuyên mục", exact=True).select_option("thoi-su")
    page.get_by_role("button", name="Sửa mã HTML").click()  # the rich-text editor's source view
    page.get_by_label("Nội dung (HTML)").fill(
        '<p>Sáng nay <b>khánh thành</b> cầu.</p><script>alert("x")</script>'
    )
    page.get_by_role("button", name="Xem trước").click()
    body = page.locator("#preview .article-body")
    expect(body.locator("b")).to_have_text("khánh thành")
    expect(body.locator("script")).to_have_count(0)
    page.get_by_label(re.compile("Thời điểm đăng")).fill("01/01/2099 08:00")
    page.get_by_role("button", name="Lưu").click()
    expect(page.locator(".messages")).to_contain_text("sẽ được đăng lúc 01/01/2099 08:00")
    page.get_by_role("link", name="Tin bài").click()
    row = page.get_by_role("row").filter(has_text="Lễ khánh thành cầu Bến Thủy 3")
    expect(row).to_contain_text("01/01/2099 08:00")
    expect(row).to_contain_text("Hẹn giờ")
    feed = page.request.get(f"{live_server.base_url}/feeds/thoi-su.rss").text()
    assert "Bến Thủy 3" not in feed  # scheduled: not published yet


def test_retry_a_failed_delivery(page: Page, live_server, db):  # type: ignore[no-untyped-def]
    settings = live_server.settings
    with Receiver(status=500) as receiver:
        page.get_by_role("link", name="Người nhận tin").click()
        page.get_by_label("Địa chỉ nhận (https://…)").fill(f"{receiver.url}/hook")
        page.get_by_role("button", name="Thêm").first.click()
        expect(page.locator("#created-secret")).to_contain_text("whsec_")
        live_server.store.article("thoi-su", "Tin cần báo")
        announce_new_articles(db, settings)
        deliver_due(db, settings)
        assert len(receiver.received) == 1
        page.get_by_role("link", name="Lượt gửi").click()
        page.get_by_role("link", name="Đang lỗi").click()
        row = page.get_by_role("row").filter(has_text=receiver.url.split("//")[1])  # its host
        expect(row).to_contain_text("HTTP 500")
        receiver.status = 204
        row.get_by_role("button", name="Gửi lại").click()
        expect(page.locator(".messages")).to_contain_text("Sẽ gửi lại")
        deliver_due(db, settings)
        assert len(receiver.received) == 2
        first, second = receiver.received
        assert first.headers["webhook-id"] == second.headers["webhook-id"]  # the same message
    with db.sessions() as session:
        assert session.scalar(select(Delivery.state)) == "delivered"


def test_revoke_a_token(page: Page, db):  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Mã API").click()
    page.get_by_label("Dùng cho (ví dụ: cms)").fill("cổng tỉnh bạn")
    page.get_by_role("button", name="Tạo").click()
    secret = page.locator("#new-token").inner_text()
    with db.transaction() as session:
        assert authenticate_token(session, secret, utcnow()) is not None
    page.get_by_role("link", name="Mã API").click()
    expect(page.locator("#new-token")).to_have_count(0)  # shown once
    page.get_by_role("button", name="Thu hồi “cổng tỉnh bạn”").click()
    expect(page.locator(".messages")).to_contain_text("Đã thu hồi")
    with db.transaction() as session:
        assert authenticate_token(session, secret, utcnow()) is None


def test_usable_on_a_phone_and_in_english(browser: Browser, page: Page):  # type: ignore[no-untyped-def]
    phone = page.context.browser.new_context(  # type: ignore[union-attr]
        base_url=page.url.split("/admin")[0], viewport={"width": 375, "height": 740}
    )
    phone.add_cookies(page.context.cookies())
    small = phone.new_page()
    for path in ("/admin/", "/admin/sources/new", "/admin/articles/new", "/admin/deliveries"):
        small.goto(path)
        overflow = small.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways on a phone"
    small.goto("/admin/?lang=en")
    expect(small.get_by_role("heading", name="Overview")).to_be_visible()
    small.get_by_role("link", name="Sources", exact=True).click()
    expect(small.get_by_role("heading", name="Sources")).to_be_visible()
    phone.close()
