"""Known 500s on bad input, each now a clear 4xx (issue 10, item 7), on SQLite and PostgreSQL.

422 for a bad value, 404 for an id or page that cannot exist, 400 for a body that cannot be
read (and at the WebSub hub), with the usual JSON error under /api and nothing stored.
"""

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from feedsvc.models import Article
from feedsvc.text import utcnow
from tests.admin_helpers import PASSWORD, csrf_of, make_user, post, sign_in
from tests.conftest import publish
from tests.ingest_helpers import Sources
from tests.test_websub_subscriber import feed, wait_active
from tests.websub_hub import Hub

JSON = "application/json"
HUGE = "99999999999999999999"  # beyond 64 bits
BEYOND_32_BITS = str(2**31)  # ids are INTEGER: beyond PostgreSQL's range
OUT_OF_RANGE_TIMES = ["0001-01-01T00:00:00", "9999-12-31T23:59:59-12:00"]


def json_error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.data[:300]
    body = response.get_json()
    assert isinstance(body["error"], str) and body["error"]
    return body  # type: ignore[no-any-return]


def article_count(api) -> int:  # type: ignore[no-untyped-def]
    return len(api.get("/api/v1/articles?limit=100").get_json()["items"])


@pytest.mark.parametrize("when", OUT_OF_RANGE_TIMES)
def test_times_that_overflow_utc_are_422(api, when):
    created = api.post(
        "/api/v1/articles", json={"category": "thoi-su", "title": "Tin", "published_at": when}
    )
    assert "published_at" in json_error(created, 422)["fields"]
    article = publish(api, "Tin")
    edited = api.patch(f"/api/v1/articles/{article['id']}", json={"published_at": when})
    assert "published_at" in json_error(edited, 422)["fields"]
    listed = api.get("/api/v1/articles", query_string={"since": when})
    assert "since" in json_error(listed, 422)["fields"]
    assert api.get(f"/api/v1/articles/{article['id']}").get_json()["title"] == "Tin"


@pytest.mark.parametrize("article_id", [HUGE, BEYOND_32_BITS, "0", "²", "١"])
def test_ids_that_cannot_exist_are_404(api, article_id):
    for method in ("get", "patch", "delete"):
        response = getattr(api, method)(f"/api/v1/articles/{article_id}", json={"title": "x"})
        json_error(response, 404)
    for path in (
        f"/api/v1/sources/{article_id}",
        f"/api/v1/webhooks/{article_id}",
    ):
        json_error(api.get(path), 404)
    json_error(api.post(f"/api/v1/deliveries/{article_id}/retry"), 404)
    assert api.get(f"/articles/{article_id}/tin").status_code == 404
    assert api.get(f"/articles/{article_id}").status_code == 404
    assert api.get(f"/websub/{article_id}/key?hub.mode=subscribe").status_code == 404


def test_ids_that_cannot_exist_are_404_in_the_admin(app, db, store):
    make_user(db, "admin")
    client = app.test_client()
    sign_in(client, "admin")
    for path in (f"/admin/articles/{HUGE}", f"/admin/sources/{BEYOND_32_BITS}/delete"):
        page = client.get(path)
        assert page.status_code == 404
        assert "<html" in page.data.decode()  # the HTML error page
    for path in (
        f"/admin/articles/{HUGE}/delete",
        f"/admin/sources/{HUGE}/pause",
        f"/admin/tokens/{HUGE}/revoke",
        f"/admin/users/{BEYOND_32_BITS}/role",
        f"/admin/subscribers/webhooks/{HUGE}/enable",
        f"/admin/deliveries/{HUGE}/retry",
    ):
        assert post(client, path, {"role": "editor"}).status_code == 404, path


@pytest.mark.parametrize("page", ["1180591620717411303424", "1" * 5000, BEYOND_32_BITS])
def test_pages_beyond_any_article_are_404(client, store, page):
    store.category("Kinh tế")
    store.article("kinh-te", "Tin")
    assert client.get(f"/c/kinh-te?page={page}").status_code == 404
    for fmt in ("rss", "atom", "json"):
        feed = client.get(f"/feeds/kinh-te.{fmt}?page={page}")
        assert feed.status_code == 404, feed.data[:200]
        assert feed.mimetype == "text/plain"


@pytest.mark.parametrize("page", ["0", "-1", "²", "abc", ""])
def test_pages_that_are_not_numbers_are_422(client, store, page):
    store.category("Kinh tế")
    assert client.get(f"/c/kinh-te?page={page}").status_code == 422
    assert client.get(f"/feeds/kinh-te.rss?page={page}").status_code == 422


@pytest.mark.parametrize(
    "field", ["title", "category", "summary", "body_html", "author", "image_url", "link"]
)
def test_null_in_a_patch_is_422_or_clears_an_optional_field(api, field):
    article = publish(api, "Tin", summary="Tóm tắt", author="Minh", link="https://x.vn/a")
    response = api.patch(f"/api/v1/articles/{article['id']}", json={field: None})
    if field in ("title", "category"):
        assert json_error(response, 422)["fields"] == {field: "Value error, must not be null"}
        assert api.get(f"/api/v1/articles/{article['id']}").get_json() == article
    else:
        assert response.status_code == 200, response.get_json()


def test_null_everywhere_in_a_patch_is_refused_whole(api):
    article = publish(api, "Tin")
    nulls = dict.fromkeys(("title", "category", "summary", "published_at", "image_length"))
    response = api.patch(f"/api/v1/articles/{article['id']}", json=nulls)
    assert set(json_error(response, 422)["fields"]) == {"title", "category"}
    assert api.get(f"/api/v1/articles/{article['id']}").get_json() == article


def test_deeply_nested_json_is_400(api):
    for path in ("/api/v1/articles", "/api/v1/categories", "/api/v1/webhooks", "/api/v1/sources"):
        response = api.post(path, data="[" * 100_000, content_type="application/json")
        assert "not valid JSON" in json_error(response, 400)["error"]
    shallow_enough = '{"title": ' + "[" * 500 + "]" * 500 + ', "category": "thoi-su"}'
    response = api.post("/api/v1/articles", data=shallow_enough, content_type="application/json")
    assert "title" in json_error(response, 422)["fields"]
    assert article_count(api) == 0


def test_json_that_is_not_an_object_is_422(api):
    response = api.post("/api/v1/articles", json=["a"])
    assert json_error(response, 422)["fields"] == {"body": "not JSON object"}


@pytest.mark.parametrize("lease", ["²", "١٠", "-5", "1e5", "x"])
def test_a_lease_that_is_not_a_number_is_400_at_the_hub(api, lease):
    response = api.post(
        "/hub",
        data={
            "hub.mode": "subscribe",
            "hub.topic": "http://feeds.example.vn/feeds/all.rss",
            "hub.callback": "http://127.0.0.1:9/cb",
            "hub.lease_seconds": lease,
        },
    )
    assert response.status_code == 400
    assert response.data.decode() == "hub.lease_seconds must be a number\n"


def test_a_huge_lease_is_bounded_at_the_hub(api):
    response = api.post(
        "/hub",
        data={
            "hub.mode": "subscribe",
            "hub.topic": "http://feeds.example.vn/feeds/all.rss",
            "hub.callback": "http://127.0.0.1:9/cb",
            "hub.lease_seconds": "9" * 5000,
        },
    )
    assert response.status_code == 202


@pytest.mark.parametrize("bad", ["\x00", "\ud800"])
def test_nul_and_lone_surrogates_in_json_are_422(api, bad):
    publish(api, "Tin", external_id="cms-1")
    for field in ("external_id", "category", "title", "author"):
        body = {"category": "thoi-su", "title": "Tin", field: f"a{bad}b"}
        response = api.post("/api/v1/articles", data=json.dumps(body), content_type=JSON)
        assert json_error(response, 422)["fields"] == {field: _problem(bad)}
    body = {"url": "http://127.0.0.1:9/", "keywords": [bad]}
    response = api.post("/api/v1/webhooks", data=json.dumps(body), content_type=JSON)
    assert json_error(response, 422)["fields"] == {"keywords.0": _problem(bad)}
    assert article_count(api) == 1


def _problem(bad: str) -> str:
    return (
        "must not contain NUL characters" if bad == "\x00" else "must not contain lone surrogates"
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/articles?category=a%00b",
        "/api/v1/articles?q=%00",
        "/api/v1/articles?cursor=%00",
        "/api/v1/deliveries?state=%00",
        "/c/a%00b",
        "/feeds/a%00b.rss",
        "/feeds/all.rss?q=%00",
        "/feeds.opml?format=%00",
        "/subscribe/confirm/%00",
        "/unsubscribe/%00",
        "/articles/1/a%00b",
    ],
)
def test_nul_in_a_parameter_is_422(api, path):
    response = api.get(path)
    assert response.status_code == 422, response.data[:300]
    if path.startswith("/api/"):
        assert "NUL" in next(iter(json_error(response, 422)["fields"].values()))


def test_nul_in_a_form_is_422(api):
    response = api.post("/hub", data={"hub.mode": "subscribe", "hub.topic": "a\x00"})
    assert response.status_code == 400  # the hub's answer to a bad request


@pytest.mark.parametrize(
    "target",
    [
        "/admin\r\nSet-Cookie: x=1",
        "/admin/%0d%0aSet-Cookie:x=1",
        "/admin/\nx",
        "//evil.example",
        "/\\evil.example",
        "/admin\\..\\\\evil.example",
        "https://evil.example/admin",
        "//[evil",
        "/adminevil",
        "javascript:alert(1)",
    ],
)
def test_login_next_never_leaves_admin_nor_injects_a_header(app, db, target):
    make_user(db, "admin")
    client = app.test_client()
    form = client.get("/admin/login", query_string={"next": target})
    assert form.status_code == 200
    response = sign_in_to(client, target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location
    assert "Set-Cookie: x" not in str(response.headers)
    assert location == "/admin/" or (
        location.startswith("/admin/") and "%0" in location.lower()  # encoded, still a path
    )


def test_login_next_keeps_a_path_under_admin(app, db):
    make_user(db, "admin")
    client = app.test_client()
    response = sign_in_to(client, "/admin/articles/?q=tin tức")
    assert response.headers["Location"] == "/admin/articles/?q=tin%20t%E1%BB%A9c"


def sign_in_to(client, target: str):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/admin/login").data)
    return client.post(
        "/admin/login",
        data={"csrf_token": token, "username": "admin", "password": PASSWORD, "next": target},
    )


def test_an_image_length_beyond_the_column_is_422(api):
    """Lengths are 64-bit (videos of 4 GiB and more are real); beyond that, refused."""
    response = api.post(
        "/api/v1/articles",
        json={"category": "thoi-su", "title": "Tin", "image_length": 2**63},
    )
    assert "image_length" in json_error(response, 422)["fields"]
    assert article_count(api) == 0


@pytest.mark.parametrize(
    "raw", ["0001-01-01T00:00:00|1", "9999-12-31T23:59:59-12:00|1", f"2020-01-01T00:00:00|{HUGE}"]
)
def test_a_forged_cursor_is_422(api, raw):
    cursor = base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")
    response = api.get("/api/v1/articles", query_string={"cursor": cursor})
    assert json_error(response, 422)["fields"] == {"cursor": "not a cursor of this list"}


def test_a_hub_granting_an_endless_lease_is_confirmed_for_a_year(live_server, upstream):
    live_server.store.category("Thời sự")
    sources = Sources(live_server.store.database, live_server.store.settings)
    with Hub(lease_seconds=10**30) as hub:
        self_url = upstream.base_url + "/f"
        upstream.serve("/f", feed(hub.url, self_url, ("1", "Tin đầu")))
        source_id = sources.add(self_url)
        sources.refresh(source_id)
        assert hub.verified.wait(10)
        source = wait_active(sources, source_id)
    assert source.websub_state == "active"
    assert source.websub_lease_expires_at - utcnow() <= timedelta(days=366)


@pytest.mark.parametrize("when", ["01/01/0001 00:00", "31/12/9999 23:59"])
def test_admin_publish_times_that_overflow_utc_are_refused_on_the_form(app, db, store, when):
    store.category("Thời sự")
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    form = {"title": "Tin", "category": "thoi-su", "published_at": when}
    answer = post(client, "/admin/articles/new", form)
    assert answer.status_code == 422 and "dd/mm/yyyy HH:MM" in answer.data.decode()
    with db.sessions() as session:
        assert session.scalar(select(Article.id)) is None
