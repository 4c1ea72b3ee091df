"""The article editor in a real browser (Debian's Chromium driven by Playwright, the app on a
real HTTP server): an editor types, makes a heading and bold text, inserts an uploaded
picture with a caption, publishes, and the category's feeds carry that HTML and the picture
as the enclosure, with its real type and length. Pasting from Word keeps the structure and
drops Word's styles. No step breaks the Content-Security-Policy.

Without /usr/bin/chromium these tests are skipped (see tests/browser.py).
"""

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from tests.admin_helpers import PASSWORD, make_user
from tests.browser import needs_chromium
from tests.test_security_headers import WATCH_VIOLATIONS, violations

pytestmark = needs_chromium

WORD_HTML = """<html xmlns:o="urn:schemas-microsoft-com:office:office"><body>
<p class=MsoTitle style='mso-line-height-rule:exactly'><span style='font-size:20pt;
font-family:"Times New Roman"'>Kết quả thi đua<o:p></o:p></span></p>
<h2 style='mso-list:l0 level1 lfo1'><span lang=VI>Khen thưởng</span></h2>
<style>p.MsoNormal {margin:0cm; font-family:"Calibri"}</style>
<p class=MsoNormal><b><span style='color:red'>Ba tập thể</span></b> được <i>khen</i>.</p>
<table class=MsoTableGrid border=1 style='border-collapse:collapse'><tr>
<td style='width:100pt'><p class=MsoNormal>Đơn vị</p></td><td><p class=MsoNormal>Điểm</p></td>
</tr></table><script>alert(1)</script></body></html>"""


@pytest.fixture
def page(browser: Browser, live_server, db) -> Iterator[Page]:  # type: ignore[no-untyped-def]
    live_server.store.category("Thời sự")
    make_user(db, "bientap", role="editor")
    context = browser.new_context(base_url=live_server.base_url, locale="vi-VN")
    context.add_init_script(WATCH_VIOLATIONS)
    opened = context.new_page()
    opened.set_default_timeout(15_000)
    opened.console = []  # type: ignore[attr-defined]
    opened.on("console", lambda m: opened.console.append(f"{m.type}: {m.text}"))  # type: ignore[attr-defined]
    opened.goto("/admin/")
    opened.get_by_label("Tên đăng nhập").fill("bientap")
    opened.get_by_label("Mật khẩu").fill(PASSWORD)
    opened.get_by_role("button", name="Đăng nhập").click()
    opened.get_by_role("link", name="Tin bài").first.click()
    opened.get_by_role("link", name="Viết tin bài").click()
    yield opened
    context.close()


def photo(tmp_path: Path) -> Path:
    path = tmp_path / "cau-ben-thuy.jpg"
    Image.linear_gradient("L").resize((1800, 1200)).convert("RGB").save(path, "JPEG")
    return path


def test_write_format_insert_a_picture_publish_and_read_the_feed(page: Page, live_server, tmp_path):  # type: ignore[no-untyped-def]
    page.get_by_label("Tiêu đề").fill("Khánh thành cầu Bến Thủy 3")
    page.get_by_label("Chuyên mục", exact=True).select_option("thoi-su")
    expect(page.locator("#f-body_html")).to_be_hidden()  # the editor took the textarea's place
    body = page.get_by_role("textbox", name="Nội dung", exact=True)
    body.click()
    page.keyboard.type("Cầu mới nối hai bờ")
    page.get_by_role("button", name="Tiêu đề mục").click()
    expect(page.get_by_role("button", name="Tiêu đề mục")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("End")
    page.keyboard.press("Enter")
    page.keyboard.type("Sáng nay khánh thành cầu.")
    for _ in " cầu.":  # select "khánh thành" with the keyboard, then make it bold
        page.keyboard.press("ArrowLeft")
    for _ in "khánh thành":
        page.keyboard.press("Shift+ArrowLeft")
    page.get_by_role("button", name="Đậm").click()
    expect(page.get_by_role("button", name="Đậm")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("End")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Chèn ảnh…").click()
    chooser.value.set_files(photo(tmp_path))
    expect(page.get_by_role("status")).to_have_text(
        "Đã chèn ảnh; ảnh cũng được đặt làm ảnh đại diện."
    )
    picture = body.locator("figure img")
    src = picture.get_attribute("src")
    assert src and re.fullmatch(rf"{live_server.base_url}/media/[0-9a-f]{{24}}-1200\.jpg", src)
    expect(page.get_by_label("Ảnh đại diện (URL)")).to_have_value(src)
    body.locator("figcaption").click()
    page.keyboard.type("Cầu Bến Thủy 3 nhìn từ bờ nam")
    page.get_by_role("button", name="Lưu").click()
    expect(page.locator(".messages")).to_contain_text("Đã lưu và đăng.")
    assert violations(page, page.console) == []  # type: ignore[attr-defined]

    served = page.request.get(src)
    assert served.ok and served.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(served.body())).size == (1200, 800)
    item = json.loads(page.request.get("/feeds/thoi-su.json").text())["items"][0]
    html = item["content_html"]
    assert "<h2>Cầu mới nối hai bờ</h2>" in html
    assert "<p>Sáng nay <strong>khánh thành</strong> cầu.</p>" in html
    assert (
        f'<figure><img src="{src}" alt=""><figcaption>Cầu Bến Thủy 3 nhìn từ bờ nam</figcaption>'
        "</figure>" in html
    )
    length = len(served.body())
    assert item["attachments"] == [{"url": src, "mime_type": "image/jpeg", "size_in_bytes": length}]
    entry = feedparser.parse(page.request.get("/feeds/thoi-su.rss").body()).entries[0]
    assert entry.enclosures == [{"href": src, "type": "image/jpeg", "length": str(length)}]
    assert "<strong>khánh thành</strong>" in entry.content[0].value


def test_paste_from_word_keeps_the_structure_and_drops_the_styles(page: Page):
    body = page.get_by_role("textbox", name="Nội dung", exact=True)
    body.click()
    body.evaluate(
        """(element, html) => {
            const data = new DataTransfer();
            data.setData('text/html', html);
            data.setData('text/plain', 'Kết quả thi đua');
            const paste = {clipboardData: data, bubbles: true, cancelable: true};
            element.dispatchEvent(new ClipboardEvent('paste', paste));
        }""",
        WORD_HTML,
    )
    expect(body.locator("table")).to_be_visible()
    html = page.locator("#f-body_html").input_value()
    assert "<h2>Khen thưởng</h2>" in html
    assert "<strong>Ba tập thể</strong> được <em>khen</em>." in html
    assert "Đơn vị" in html and "<table" in html
    for word in ("mso", "Mso", "style=", "<span", "o:p", "<script", "alert"):
        assert word not in html, word
    assert violations(page, page.console) == []  # type: ignore[attr-defined]


def test_an_article_image_can_be_uploaded_without_putting_it_in_the_text(page: Page, tmp_path):  # type: ignore[no-untyped-def]
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Tải ảnh đại diện lên…").click()
    chooser.value.set_files(photo(tmp_path))
    expect(page.get_by_role("status")).to_have_text("Đã tải ảnh đại diện lên.")
    expect(page.get_by_label("Ảnh đại diện (URL)")).to_have_value(
        re.compile(r"/media/.*-1200\.jpg$")
    )
    expect(page.get_by_role("textbox", name="Nội dung", exact=True).locator("img")).to_have_count(0)


def test_the_html_source_can_still_be_edited(page: Page):
    page.get_by_role("button", name="Sửa mã HTML").click()
    source = page.get_by_label("Nội dung (HTML)")
    source.fill("<p>Đoạn <em>một</em></p><ul><li>ý</li></ul>")
    page.get_by_role("button", name="Sửa mã HTML").click()
    body = page.get_by_role("textbox", name="Nội dung", exact=True)
    expect(body.locator("em")).to_have_text("một")
    expect(body.locator("li")).to_have_text("ý")
