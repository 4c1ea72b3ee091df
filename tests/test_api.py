"""The JSON API: auth on writes, validation with per-field messages, filters, cursor paging."""

from datetime import timedelta

import pytest

from feedsvc.text import utcnow
from feedsvc.tokens import create_token, revoke_token


@pytest.fixture
def token(store):
    with store.database.transaction() as session:
        return create_token(session, "cms", utcnow())[1]


@pytest.fixture
def auth(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def categories(store):
    store.category("Chính trị - Xã hội")
    store.category("Kinh tế")


ARTICLE = {
    "category": "kinh-te",
    "title": "Xuất khẩu nông sản tăng mạnh",
    "body_html": "<p>Kim ngạch <a href='/c/kinh-te'>kinh tế</a></p><script>x()</script>",
    "author": "Minh Châu",
}


def test_writes_need_a_valid_token(client, categories, store, auth):
    assert client.post("/api/v1/articles", json=ARTICLE).status_code == 401
    wrong = client.post("/api/v1/articles", json=ARTICLE, headers={"Authorization": "Bearer x"})
    assert wrong.status_code == 401
    assert wrong.headers["WWW-Authenticate"].startswith("Bearer")
    assert wrong.get_json()["error"].startswith("a valid API token is required")
    assert client.post("/api/v1/categories", json={"name": "Y tế"}).status_code == 401
    assert client.delete("/api/v1/articles/1").status_code == 401
    assert client.patch("/api/v1/articles/1", json={}).status_code == 401


def test_revoked_token_is_refused(client, categories, store, token, auth):
    assert client.post("/api/v1/articles", json=ARTICLE, headers=auth).status_code == 201
    with store.database.transaction() as session:
        revoke_token(session, _token_id(session), utcnow())
    assert client.post("/api/v1/articles", json=ARTICLE, headers=auth).status_code == 401


def _token_id(session):
    from feedsvc.tokens import list_tokens

    return list_tokens(session)[0].id


def test_tokens_are_stored_hashed(store, token):
    from feedsvc.tokens import list_tokens

    with store.database.transaction() as session:
        stored = list_tokens(session)[0]
    assert token not in stored.token_hash and len(stored.token_hash) == 64


def test_create_sanitises_and_is_idempotent_on_external_id(client, categories, auth):
    body = {**ARTICLE, "external_id": "cms-42"}
    created = client.post("/api/v1/articles", json=body, headers=auth)
    assert created.status_code == 201
    article = created.get_json()
    assert article["body_html"] == (
        '<p>Kim ngạch <a href="http://feeds.example.vn/c/kinh-te" rel="noopener">kinh tế</a></p>'
    )
    assert article["guid"].startswith("urn:uuid:")
    assert created.headers["Location"].endswith(f"/api/v1/articles/{article['id']}")
    again = client.post("/api/v1/articles", json={**body, "title": "khác"}, headers=auth)
    assert again.status_code == 200
    assert again.get_json()["id"] == article["id"]
    assert again.get_json()["title"] == ARTICLE["title"]


def test_invalid_input_gets_per_field_messages(client, categories, auth):
    response = client.post(
        "/api/v1/articles",
        json={"title": "", "category": "kinh-te", "image_url": "/relative.jpg", "extra": 1},
        headers=auth,
    )
    assert response.status_code == 422
    fields = response.get_json()["fields"]
    assert set(fields) == {"title", "image_url", "extra"}
    unknown = client.post("/api/v1/articles", json={**ARTICLE, "category": "x"}, headers=auth)
    assert unknown.status_code == 404
    not_json = client.post("/api/v1/articles", data="title=x", headers=auth)
    assert not_json.status_code == 400 and "not valid JSON" in not_json.get_json()["error"]
    too_big = client.post(
        "/api/v1/articles", json={**ARTICLE, "body_html": "x" * 3_000_000}, headers=auth
    )
    assert too_big.status_code == 413


def test_update_changes_only_given_fields_and_delete_removes(client, categories, auth):
    article = client.post("/api/v1/articles", json=ARTICLE, headers=auth).get_json()
    patched = client.patch(
        f"/api/v1/articles/{article['id']}", json={"summary": "Tóm tắt mới"}, headers=auth
    ).get_json()
    assert patched["summary"] == "Tóm tắt mới"
    assert patched["title"] == ARTICLE["title"]
    assert patched["guid"] == article["guid"]
    assert client.delete(f"/api/v1/articles/{article['id']}", headers=auth).status_code == 204
    assert client.get(f"/api/v1/articles/{article['id']}").status_code == 404
    assert client.delete(f"/api/v1/articles/{article['id']}", headers=auth).status_code == 404


def test_scheduled_article_is_hidden_from_readers_not_from_its_writer(client, categories, auth):
    future = (utcnow() + timedelta(days=1)).isoformat()
    article = client.post(
        "/api/v1/articles", json={**ARTICLE, "published_at": future}, headers=auth
    ).get_json()
    assert client.get(f"/api/v1/articles/{article['id']}").status_code == 404
    assert client.get(f"/api/v1/articles/{article['id']}", headers=auth).status_code == 200
    assert client.get("/api/v1/articles").get_json()["items"] == []


def test_naive_publish_time_is_vietnam_time(client, categories, auth):
    article = client.post(
        "/api/v1/articles", json={**ARTICLE, "published_at": "2021-03-26T10:00:00"}, headers=auth
    ).get_json()
    assert article["published_at"] == "2021-03-26T10:00:00+07:00"


def test_list_filters_and_cursor_paging(client, categories, store, auth):
    start = utcnow()
    store.articles("kinh-te", 5, start)
    store.article("chinh-tri-xa-hoi", "Phong trào thi đua", published_at=start)
    page = client.get("/api/v1/articles?category=kinh-te&limit=2").get_json()
    assert [a["title"] for a in page["items"]] == ["Tin số 0", "Tin số 1"]
    seen = [a["title"] for a in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            f"/api/v1/articles?category=kinh-te&limit=2&cursor={page['next_cursor']}"
        ).get_json()
        seen += [a["title"] for a in page["items"]]
    assert seen == [f"Tin số {n}" for n in range(5)]
    found = client.get("/api/v1/articles?q=THI DUA").get_json()["items"]
    assert [a["title"] for a in found] == ["Phong trào thi đua"]
    since = client.get("/api/v1/articles", query_string={"since": utcnow().isoformat()})
    assert since.get_json()["items"] == []
    assert client.get("/api/v1/articles?cursor=@@@").status_code == 422
    assert client.get("/api/v1/articles?limit=0").status_code == 422
    assert client.get("/api/v1/articles?since=yesterday").status_code == 422
    assert client.get("/api/v1/articles?category=khong-co").status_code == 404


def test_categories_and_cors_on_reads_only(client, categories, auth):
    response = client.get("/api/v1/categories")
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    first = response.get_json()["items"][0]
    assert first["slug"] == "chinh-tri-xa-hoi"
    assert first["feeds"]["rss"] == "http://feeds.example.vn/feeds/chinh-tri-xa-hoi.rss"
    made = client.post("/api/v1/categories", json={"name": "Giáo dục"}, headers=auth)
    assert made.status_code == 201 and made.get_json()["slug"] == "giao-duc"
    assert "Access-Control-Allow-Origin" not in made.headers
    taken = client.post("/api/v1/categories", json={"name": "Giáo  dục"}, headers=auth)
    assert taken.status_code == 409
    reserved = client.post("/api/v1/categories", json={"name": "All"}, headers=auth)
    assert reserved.status_code == 409


def test_openapi_document_describes_the_api(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {
        "/categories",
        "/articles",
        "/articles/{article_id}",
        "/sources",
        "/sources/{source_id}",
        "/sources/{source_id}/fetch",
        "/sources/preview",
        "/webhooks",
        "/webhooks/{endpoint_id}",
        "/deliveries",
        "/deliveries/{delivery_id}/retry",
    }
    assert "title" in doc["components"]["schemas"]["ArticleCreate"]["properties"]
    assert doc["paths"]["/articles"]["post"]["security"] == [{"bearer": []}]
