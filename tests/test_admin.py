"""The admin UI through Flask's test client: accounts, sessions, roles, CSRF, and the
sections' rules (categories in use, scheduled articles, search, previews, tokens)."""

import io

from sqlalchemy import select

from feedsvc.models import AdminSession, AdminUser, Article, Category
from feedsvc.text import utcnow
from feedsvc.tokens import authenticate_token
from feedsvc.web import create_app
from tests.admin_helpers import PASSWORD, csrf_of, make_user, post, sign_in


def test_sign_in_sets_a_server_checked_cookie_and_sign_out_ends_it(app, db):
    make_user(db, "lan")
    client = app.test_client()
    assert client.get("/admin/").status_code == 302  # to the login page
    answer = sign_in(client, "lan")
    assert answer.status_code == 302 and answer.headers["Location"] == "/admin/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # served over plain HTTP here
    token = client.get_cookie("feedsvc_admin", path="/admin").value
    with db.sessions() as session:
        stored = session.scalars(select(AdminSession.token_hash)).all()
        assert token not in stored and len(stored) == 1  # only a digest is kept
        assert session.scalar(select(AdminUser.password_hash)).startswith("$argon2id$")
    assert client.get("/admin/").status_code == 200
    post(client, "/admin/logout")
    assert client.get("/admin/").status_code == 302
    thief = app.test_client()  # the old cookie value is dead too
    thief.set_cookie("feedsvc_admin", token, path="/admin")
    assert thief.get("/admin/").status_code == 302


def test_the_cookie_is_secure_over_https(app, db):
    make_user(db, "lan")
    client = app.test_client()
    token = csrf_of(client.get("/admin/login", base_url="https://feeds.example.vn").data)
    answer = client.post(
        "/admin/login",
        base_url="https://feeds.example.vn",
        data={"csrf_token": token, "username": "lan", "password": PASSWORD},
    )
    assert "Secure" in answer.headers["Set-Cookie"]


def test_failed_logins_are_limited_per_user_and_per_address(app, db, settings):
    make_user(db, "lan")
    client = app.test_client()
    for n in range(settings.login_failures):
        assert sign_in(client, "lan", "sai mật khẩu", ip=f"198.51.100.{n}").status_code == 401
    refused = sign_in(client, "lan", ip="203.0.113.9")  # right password, but locked for now
    assert refused.status_code == 429 and "15" in refused.data.decode()
    make_user(db, "hoa")
    for _ in range(settings.login_failures):
        sign_in(client, "nobody", "x", ip="203.0.113.50")
    assert sign_in(client, "hoa", ip="203.0.113.50").status_code == 429  # that address
    assert sign_in(client, "hoa", ip="203.0.113.51").status_code == 302


def test_forms_need_the_csrf_token(app, db):
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    answer = client.post("/admin/categories/", data={"name": "Thể thao"})
    assert answer.status_code == 400
    with db.sessions() as session:
        assert session.scalar(select(Category).where(Category.name == "Thể thao")) is None


def test_editors_work_on_articles_only(app, db, store):
    store.category("Thời sự")
    make_user(db, "bien-tap", role="editor")
    client = app.test_client()
    sign_in(client, "bien-tap")
    assert client.get("/admin/").headers["Location"] == "/admin/articles/"
    assert client.get("/admin/articles/").status_code == 200
    for path in ("/admin/sources/", "/admin/categories/", "/admin/tokens", "/admin/users"):
        assert client.get(path).status_code == 403, path
    answer = post(client, "/admin/tokens", {"name": "cms"})
    assert answer.status_code == 403
    created = post(
        client,
        "/admin/articles/new",
        {"title": "Tin của biên tập viên", "category": "thoi-su", "body_html": "<p>Nội dung</p>"},
    )
    assert created.status_code == 302


def test_a_category_in_use_is_not_deleted_and_the_reason_is_shown(app, db, store):
    store.category("Thời sự")
    store.category("Thể thao")
    store.article("thoi-su", "Tin đang dùng chuyên mục")
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    page = "/admin/categories/"
    refused = post(client, "/admin/categories/thoi-su/delete", page=page)
    text = client.get(refused.headers["Location"]).data.decode()
    assert "Không xóa được chuyên mục “Thời sự”" in text and "1 tin bài" in text
    post(client, "/admin/categories/the-thao/rename", {"name": "Thể thao 24h"}, page=page)
    post(client, "/admin/categories/the-thao/move", {"direction": "up"}, page=page)
    post(client, "/admin/categories/", {"name": "Giáo dục"}, page=page)
    with db.sessions() as session:
        order = session.scalars(select(Category.name).order_by(Category.position)).all()
    assert order == ["Thể thao 24h", "Thời sự", "Giáo dục"]
    post(client, "/admin/categories/giao-duc/delete", page=page)
    with db.sessions() as session:
        assert "giao-duc" not in session.scalars(select(Category.slug)).all()
        assert session.scalar(select(Article.title)) == "Tin đang dùng chuyên mục"


def test_articles_search_ignores_diacritics_and_previews_are_sanitised(app, db, store):
    store.category("Thời sự")
    store.article("thoi-su", "Phát động phong trào thi đua")
    store.article("thoi-su", "Giá vàng hôm nay")
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    found = client.get("/admin/articles/?q=THI+DUA").data.decode()
    assert "Phát động phong trào thi đua" in found and "Giá vàng" not in found
    preview = post(
        client,
        "/admin/articles/new",
        {"action": "preview", "body_html": '<p onclick="x()">Chào <script>alert(1)</script></p>'},
    ).data.decode()
    section = preview.split('id="preview"')[1]
    assert "<p>Chào </p>" in section and "alert(1)" not in section and "onclick" not in section


def test_a_bad_publish_time_is_refused_and_nothing_is_stored(app, db, store):
    store.category("Thời sự")
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    answer = post(
        client,
        "/admin/articles/new",
        {"title": "Tin hẹn giờ", "category": "thoi-su", "published_at": "31/02/2027 25:00"},
    )
    assert answer.status_code == 422 and "dd/mm/yyyy HH:MM" in answer.data.decode()
    with db.sessions() as session:
        assert session.scalar(select(Article.id)) is None


def test_tokens_are_shown_once_and_revoked(app, db):
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    page = post(client, "/admin/tokens", {"name": "cms"}, page="/admin/tokens").data.decode()
    secret = page.split('id="new-token">')[1].split("<")[0]
    assert secret.startswith("fsv_") and secret not in client.get("/admin/tokens").data.decode()
    with db.transaction() as session:
        token = authenticate_token(session, secret, utcnow())
        assert token is not None
        token_id = token.id
    post(client, f"/admin/tokens/{token_id}/revoke", page="/admin/tokens")
    with db.sessions() as session:
        assert authenticate_token(session, secret, utcnow()) is None


def test_the_last_admin_stays(app, db):
    make_user(db, "lan")
    make_user(db, "hoa", role="editor")
    client = app.test_client()
    sign_in(client, "lan")
    with db.sessions() as session:
        ids = dict(session.execute(select(AdminUser.username, AdminUser.id)).all())
    post(client, f"/admin/users/{ids['lan']}/role", {"role": "editor"}, page="/admin/users")
    post(client, f"/admin/users/{ids['hoa']}/delete", page="/admin/users")
    with db.sessions() as session:
        users = dict(session.execute(select(AdminUser.username, AdminUser.role)).all())
    assert users == {"lan": "admin"}


def test_english_is_available(app, db):
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    assert "Nguồn tin" in client.get("/admin/").data.decode()
    english = client.get("/admin/?lang=en").data.decode()
    assert 'lang="en"' in english and "Sources" in english
    assert "Sources" in client.get("/admin/sources/").data.decode()  # the choice is kept


def test_bad_source_input_is_refused_on_the_form(app, db, store):
    store.category("Thời sự")
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    page = "/admin/sources/new"
    private = post(
        client,
        page,
        {"action": "preview", "url": "http://127.0.0.1:9/feed.xml", "category": "thoi-su"},
        page=page,
    )
    assert private.status_code == 422 and "127.0.0.1" in private.data.decode()
    fields = {"url": "https://example.vn/rss", "category": "thoi-su", "interval_minutes": "x"}
    assert post(client, page, {"action": "save", **fields}, page=page).status_code == 422
    mapping = {**fields, "interval_minutes": "30", "category_map": "Kinh tế"}
    assert post(client, page, {"action": "save", **mapping}, page=page).status_code == 422
    assert "Không có nguồn tin nào" in client.get("/admin/sources/").data.decode()


def test_opml_import_and_export(settings, db, store):
    store.category("Thời sự")
    store.category("Kinh tế")
    make_user(db, "lan")
    local = create_app(settings.model_copy(update={"allow_private_urls": True}))
    client = local.test_client()
    sign_in(client, "lan")
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><head/><body>'
        '<outline text="Kinh tế"><outline type="rss" text="Báo A" xmlUrl="http://127.0.0.1:9/a.rss"/>'
        '</outline><outline type="rss" text="Báo B" xmlUrl="http://127.0.0.1:9/b.rss"/>'
        "</body></opml>"
    ).encode()
    token = csrf_of(client.get("/admin/sources/").data)
    answer = client.post(
        "/admin/sources/opml",
        data={"csrf_token": token, "category": "thoi-su", "file": (io.BytesIO(opml), "a.opml")},
        content_type="multipart/form-data",
    )
    listing = client.get(answer.headers["Location"]).data.decode()
    assert "thêm 2, bỏ qua 0" in listing and "Báo A" in listing
    exported = client.get("/admin/sources/opml")
    assert exported.headers["Content-Disposition"].startswith("attachment")
    assert b'xmlUrl="http://127.0.0.1:9/a.rss"' in exported.data
    assert b'<outline text="Kinh t' in exported.data  # in the folder of its category
    local.extensions["feedsvc.db"].dispose()
