"""Every error a citizen or an editor can meet is said in Vietnamese (English through the
catalog for who chooses it), while the API keeps English messages and its status codes.

The check of a Vietnamese page: the words it shows must not be English words. The English
words are those of the catalog's English translations, of werkzeug's default texts (the
descriptions of its HTTP errors and the status names) and a short list of common ones (CSRF,
pydantic); the words of the Vietnamese sources (the catalog's msgids and the templates'
text) are taken out again, so that names such as RSS or URL pass.
"""

import io
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from sqlalchemy import select
from werkzeug import exceptions
from werkzeug.http import HTTP_STATUS_CODES

from feedsvc.models import Article
from feedsvc.web import create_app
from tests.admin_helpers import csrf_of, make_user, post, sign_in

WEB = Path(__file__).parents[1] / "feedsvc" / "web"
# Words of messages that come from outside the catalog and werkzeug's exception classes:
# Flask-WTF's CSRF refusals, pydantic's and email-validator's answers, werkzeug's 500 page.
COMMON_ENGLISH = """
    the a is are not no such invalid please try again later error must should be found
    request requests too many missing token expired server method allowed value field
    required input string characters least at most valid address email internal
    unavailable forbidden unauthorized page date time format
"""
WORD = re.compile(r"\w+")
JINJA_OR_TAG = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}|<[^>]*>", re.DOTALL)


def _words(text: str) -> set[str]:
    return {w.lower() for w in WORD.findall(text) if not w.isdigit()}


def _english_words() -> set[str]:
    with (WEB / "translations" / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = [m for m in read_po(po) if m.id]
    english = _words(" ".join(str(m.string) for m in catalog) + COMMON_ENGLISH)
    for value in vars(exceptions).values():
        if isinstance(value, type) and issubclass(value, exceptions.HTTPException):
            description = value.description  # a property on the base class
            english |= _words(description if isinstance(description, str) else "")
    english |= _words(" ".join(HTTP_STATUS_CODES.values()))
    templates = " ".join(p.read_text() for p in (WEB / "templates").rglob("*.html"))
    vietnamese = _words(" ".join(str(m.id) for m in catalog) + JINJA_OR_TAG.sub(" ", templates))
    return english - vietnamese


ENGLISH = _english_words()


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._hidden += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._hidden -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def assert_vietnamese(response, status: int, *expected: str) -> str:  # type: ignore[no-untyped-def]
    """The page has ``status``, says ``expected`` and no English word; returns its text."""
    assert response.status_code == status, response.data[:300]
    assert response.mimetype == "text/html"
    text = visible_text(response.data.decode())
    english = sorted(_words(text) & ENGLISH)
    assert not english, f"English {english} in: {text}"
    for part in expected:
        assert part in text, text
    return text


@pytest.fixture
def public(settings, db, store):  # type: ignore[no-untyped-def]
    """The app with two subscription requests an hour per address and a failing page."""
    store.category("Thời sự")
    app = create_app(settings.model_copy(update={"subscribe_per_hour": 2}))
    app.add_url_rule("/hong", "broken", lambda: 1 / 0)  # an unexpected failure: 500
    app.config["PROPAGATE_EXCEPTIONS"] = False
    yield app.test_client()
    app.extensions["feedsvc.db"].dispose()


def test_public_error_pages_and_subscription_answers_are_vietnamese(public, settings):
    assert_vietnamese(public.get("/khong-co-trang-nay"), 404, "Không tìm thấy trang")
    assert_vietnamese(public.get("/c/khong-co"), 404, "Không có chuyên mục 'khong-co'")
    assert_vietnamese(public.get("/c/thoi-su?page=9"), 404, "Không có trang 9")
    assert_vietnamese(public.get("/c/thoi-su?page=x"), 422, "Số trang không hợp lệ")
    assert_vietnamese(public.get("/articles/999999"), 404, "Không có bài viết 999999")
    assert_vietnamese(public.post("/"), 405, "không nhận yêu cầu")
    assert_vietnamese(public.get("/hong"), 500, "Hệ thống gặp lỗi")
    assert_vietnamese(public.get("/subscribe/confirm/sai"), 404, "Liên kết này không hợp lệ")
    assert_vietnamese(public.post("/subscribe", data={"email": "a@b.vn"}), 400, "Biểu mẫu")
    big = {"keywords": "x" * settings.max_request_bytes}
    assert_vietnamese(public.post("/subscribe", data=big), 413, "quá lớn")

    def subscribe(**form: object):  # type: ignore[no-untyped-def]
        token = csrf_of(public.get("/subscribe").data)
        return public.post("/subscribe", data={"csrf_token": token, **form})

    assert_vietnamese(subscribe(email="không-phải-thư"), 422, "Địa chỉ không hợp lệ")
    assert_vietnamese(subscribe(email="a@b.vn", keywords="x" * 501), 422, "tối đa 500 ký tự")
    assert_vietnamese(subscribe(email="a@b.vn", frequency="weekly"), 422, "không đúng dạng")
    unknown = subscribe(email="a@b.vn", categories="khong-co")  # counted: 1 of 2
    assert_vietnamese(unknown, 422, "hãy chọn trong danh sách")
    assert_vietnamese(subscribe(email="a@b.vn"), 200, "Kiểm tra hộp thư")
    assert_vietnamese(subscribe(email="c@d.vn"), 429, "Có quá nhiều yêu cầu đăng ký")


def test_admin_errors_and_form_problems_are_vietnamese(app, db, store, settings):
    store.category("Thời sự")
    store.article("thoi-su", "Tin đầu tiên")
    make_user(db, "lan")
    make_user(db, "bien-tap", role="editor")
    client = app.test_client()
    assert_vietnamese(sign_in(client, "lan", "sai mật khẩu"), 401, "Sai tên đăng nhập")
    assert_vietnamese(client.post("/admin/categories/"), 401, "cần đăng nhập")
    sign_in(client, "bien-tap")
    assert_vietnamese(client.get("/admin/sources/"), 403, "không có quyền")
    sign_in(client, "lan")
    assert_vietnamese(client.get("/admin/sources/999999"), 404, "Không có nguồn tin 999999")
    assert_vietnamese(client.get("/admin/khong-co"), 404, "Không tìm thấy trang")
    assert_vietnamese(client.post("/admin/categories/", data={"name": "Y tế"}), 400, "Biểu mẫu")

    def form(path: str, data: dict[str, str], status: int, *expected: str) -> None:
        answer = post(client, path, data, page=path)
        assert_vietnamese(answer, status, *expected)

    article = {"title": "Tin mới", "category": "thoi-su", "body_html": "<p>Nội dung</p>"}
    new = "/admin/articles/new"
    form(new, {**article, "published_at": "27-11-2030"}, 422, "Ngày giờ không hợp lệ", "ISO 8601")
    form(new, {**article, "title": ""}, 422, "Tiêu đề", "quá ngắn")
    form(new, {**article, "category": "khong-co"}, 422, "Không có chuyên mục 'khong-co'")
    source = {"url": "https://example.vn/rss", "category": "thoi-su", "action": "save"}
    sources = "/admin/sources/new"
    form(sources, {**source, "url": "ftp://example.vn/rss"}, 422, "không phải http(s)")
    form(sources, {**source, "interval_minutes": "x"}, 422, "phải là một số nguyên dương")
    form(sources, {**source, "category_map": "Kinh tế"}, 422, "“Kinh tế” không theo dạng")
    unknown_host = {**source, "url": "https://khong-co.test/rss"}
    form(sources, unknown_host, 422, "Không tìm được địa chỉ của khong-co.test")
    private = {**source, "url": "http://127.0.0.1:9/rss", "action": "preview"}
    form(sources, private, 422, "địa chỉ không công khai")
    outlines = b'<opml><body><outline xmlUrl="ftp://example.vn/rss"/></body></opml>'
    for opml, expected in (
        (b"<html", "Không phải tệp OPML"),
        (outlines, "Chỉ lấy được các URL http(s)"),
    ):
        upload = {"file": (io.BytesIO(opml), "nguon.opml"), "category": "thoi-su"}
        imported = post(client, "/admin/sources/opml", upload, page="/admin/sources/")
        assert_vietnamese(client.get(imported.headers["Location"]), 200, expected)
    hooks = "/admin/subscribers"
    answer = post(client, f"{hooks}/webhooks", {"url": "ftp://x", "categories": "x"}, page=hooks)
    assert_vietnamese(answer, 422, "Chưa lưu được")

    def flashed(path: str, data: dict[str, str], page: str, *expected: str) -> None:
        answer = post(client, path, data, page=page)
        assert_vietnamese(client.get(answer.headers["Location"]), 200, *expected)

    categories = "/admin/categories/"
    flashed(categories, {"name": " "}, categories, "Chuyên mục cần có tên")
    flashed(categories, {"name": "Thời sự"}, categories, "Slug chuyên mục 'thoi-su' đã có")
    flashed(f"{categories}thoi-su/delete", {}, categories, "đang có 1 tin bài")
    users = "/admin/users"
    flashed(users, {"username": "hoa", "password": "ngắn", "role": "editor"}, users, "quá ngắn")
    flashed(users, {"username": "lan", "password": "x" * 12, "role": "editor"}, users, "đã có")
    flashed("/admin/tokens", {"name": ""}, "/admin/tokens", "Mã cần có tên")
    for _ in range(settings.login_failures):
        sign_in(app.test_client(), "hoa", "sai", ip="203.0.113.7")
    locked = sign_in(app.test_client(), "hoa", "sai", ip="203.0.113.7")
    assert_vietnamese(locked, 429, "Quá nhiều lần đăng nhập sai")


def test_english_comes_through_the_catalog_for_who_chooses_it(app, db):
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    text = visible_text(client.get("/admin/sources/999999?lang=en").data.decode())
    assert "no source 999999" in text and "Error 404" in text and "Không" not in text
    page = "/admin/articles/new"
    bad = post(client, page, {"title": "x", "category": "y", "published_at": "hôm qua"}, page=page)
    assert "dd/mm/yyyy HH:MM or ISO 8601" in visible_text(bad.data.decode())


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("27/11/2030 08:30", datetime(2030, 11, 27, 1, 30, tzinfo=UTC)),
        ("2030-11-27T08:30", datetime(2030, 11, 27, 1, 30, tzinfo=UTC)),
        ("2030-11-27 08:30:00+00:00", datetime(2030, 11, 27, 8, 30, tzinfo=UTC)),
    ],
)
def test_the_admin_takes_dates_as_dd_mm_yyyy_or_iso_8601(app, db, store, typed, stored):
    store.category("Thời sự")
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    page = "/admin/articles/new"
    fields = {"title": "Hẹn giờ", "category": "thoi-su", "published_at": typed}
    assert post(client, page, fields, page=page).status_code == 302
    with db.sessions() as session:
        published = session.scalar(select(Article.published_at))
    assert published == stored


def test_api_errors_stay_english_with_their_status_codes(api):
    missing = api.get("/api/v1/articles/999999")
    assert missing.status_code == 404 and missing.get_json() == {"error": "no article 999999"}
    wrong = api.post("/api/v1/categories", json={"name": "Thời sự"})
    assert (
        wrong.status_code == 409 and wrong.get_json()["error"] == "category slug 'thoi-su' is taken"
    )
    nowhere = api.get("/api/v1/nowhere")
    assert nowhere.status_code == 404 and "not found on the server" in nowhere.get_json()["error"]
    feed = api.get("/feeds/khong-co.rss")
    assert feed.status_code == 404 and feed.data.decode() == "no category 'khong-co'\n"
