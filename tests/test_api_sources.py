"""/api/v1/sources: CRUD, health, fetch now and preview, through the HTTP client."""

RSS = """<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>
<title>Sở Y tế</title><link>http://syt.example.vn/</link><description>d</description>
<item><title>Tiêm chủng</title><link>http://syt.example.vn/1</link><guid>1</guid>
<category>Thời sự</category></item>
<item><title>Khám bệnh</title><link>http://syt.example.vn/2</link><guid>2</guid></item>
</channel></rss>"""


def test_every_sources_endpoint_needs_a_token(client):
    for method, path in [
        ("get", "/api/v1/sources"),
        ("post", "/api/v1/sources"),
        ("get", "/api/v1/sources/1"),
        ("patch", "/api/v1/sources/1"),
        ("delete", "/api/v1/sources/1"),
        ("post", "/api/v1/sources/1/fetch"),
        ("post", "/api/v1/sources/preview"),
    ]:
        assert getattr(client, method)(path, json={}).status_code == 401, path


def test_add_fetch_now_and_health(api, upstream):
    url = upstream.serve("/f", RSS, headers={"ETag": '"1"'})
    made = api.post(
        "/api/v1/sources",
        json={"url": url, "category": "kinh-te", "category_map": {"Thời sự": "thoi-su"}},
    )
    assert made.status_code == 201, made.get_json()
    source = made.get_json()
    assert source["health"]["last_fetch_at"] is None and source["enabled"]
    fetched = api.post(f"/api/v1/sources/{source['id']}/fetch").get_json()
    assert fetched["outcome"]["status"] == 200 and len(fetched["outcome"]["new_ids"]) == 2
    health = fetched["source"]["health"]
    assert health["last_status"] == 200 and health["last_new"] == 2
    assert health["last_bytes"] == len(RSS.encode()) and health["last_error"] == ""
    assert health["last_fetch_at"].endswith("+07:00")
    assert fetched["source"]["title"] == "Sở Y tế"
    assert fetched["source"]["totals"] == {"fetches": 1, "errors": 0, "items": 2}
    again = api.post(f"/api/v1/sources/{source['id']}/fetch").get_json()
    assert again["outcome"]["status"] == 304
    assert api.post("/api/v1/sources", json={"url": url, "category": "kinh-te"}).status_code == 409


def test_pause_resume_delete(api, upstream):
    url = upstream.serve("/f", RSS)
    source_id = api.post("/api/v1/sources", json={"url": url, "category": "kinh-te"}).get_json()[
        "id"
    ]
    paused = api.patch(f"/api/v1/sources/{source_id}", json={"enabled": False}).get_json()
    assert not paused["enabled"] and paused["disabled_reason"] == "paused by an admin"
    resumed = api.patch(f"/api/v1/sources/{source_id}", json={"enabled": True}).get_json()
    assert resumed["enabled"] and resumed["disabled_reason"] == ""
    api.post(f"/api/v1/sources/{source_id}/fetch")
    assert api.delete(f"/api/v1/sources/{source_id}").status_code == 204
    assert api.get(f"/api/v1/sources/{source_id}").status_code == 404
    assert len(api.get("/api/v1/articles?category=kinh-te").get_json()["items"]) == 2  # kept


def test_preview_saves_nothing(api, upstream):
    url = upstream.serve("/f", RSS)
    preview = api.post(
        "/api/v1/sources/preview",
        json={"url": url, "category": "kinh-te", "category_map": {"thoi su": "thoi-su"}},
    )
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert body["title"] == "Sở Y tế" and body["format"] == "rss20"
    assert [(e["title"], e["category"]) for e in body["entries"]] == [
        ("Tiêm chủng", "thoi-su"),
        ("Khám bệnh", "kinh-te"),
    ]
    assert api.get("/api/v1/sources").get_json()["items"] == []
    assert api.get("/api/v1/articles").get_json()["items"] == []


def test_bad_sources_get_clear_errors(api, upstream):
    not_feed = upstream.serve("/page", "<html><body>Trang chủ</body></html>")
    assert api.post("/api/v1/sources/preview", json={"url": not_feed}).status_code == 422
    missing = upstream.serve("/404", "no", status=404)
    down = api.post("/api/v1/sources/preview", json={"url": missing})
    assert down.status_code == 502 and "404" in down.get_json()["error"]
    bad_url = api.post("/api/v1/sources", json={"url": "ftp://x/feed", "category": "kinh-te"})
    assert bad_url.status_code == 422 and bad_url.get_json()["fields"] == {"url": "not http(s)"}
    no_category = api.post("/api/v1/sources", json={"url": not_feed, "category": "x"})
    assert no_category.status_code == 404
    assert api.post("/api/v1/sources/99/fetch").status_code == 404


def test_metrics_count_fetches_errors_and_items(api, upstream, client):
    good = api.post(
        "/api/v1/sources", json={"url": upstream.serve("/f", RSS), "category": "kinh-te"}
    ).get_json()["id"]
    bad = api.post(
        "/api/v1/sources",
        json={"url": upstream.serve("/x", "no", status=500), "category": "kinh-te"},
    ).get_json()["id"]
    api.post(f"/api/v1/sources/{good}/fetch")
    api.post(f"/api/v1/sources/{bad}/fetch")
    response = client.get("/metrics")
    assert response.content_type.startswith("text/plain")
    text = response.data.decode()
    f_url, x_url = upstream.base_url + "/f", upstream.base_url + "/x"
    assert f'feedsvc_source_fetches_total{{source="{good}",url="{f_url}"}} 1.0' in text
    assert f'feedsvc_source_items_total{{source="{good}",url="{f_url}"}} 2.0' in text
    assert f'feedsvc_source_fetch_errors_total{{source="{bad}",url="{x_url}"}} 1.0' in text
    assert f'feedsvc_source_up{{source="{bad}",url="{x_url}"}} 0.0' in text
    assert 'feedsvc_articles{origin="upstream"} 2.0' in text
