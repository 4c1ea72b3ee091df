"""Public HTML pages: index, category lists with paging, articles, autodiscovery."""

from datetime import timedelta

from lxml import html


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.data
    assert response.content_type == "text/html; charset=utf-8"
    return html.fromstring(response.data)


def alternates(doc):
    return [
        (link.get("type"), link.get("href")) for link in doc.xpath('//head/link[@rel="alternate"]')
    ]


def test_index_lists_categories_with_feed_links_and_latest(client, store, now):
    store.category("Chính trị - Xã hội")
    store.article("chinh-tri-xa-hoi", "Hội nghị thi đua", published_at=now)
    doc = page(client, "/")
    assert doc.xpath("//html/@lang") == ["vi"]
    assert doc.xpath("//section/h2/a/text()") == ["Chính trị - Xã hội"]
    assert "Hội nghị thi đua" in doc.xpath("//ul[@class='articles']/li/a/text()")
    assert ("application/rss+xml", "http://feeds.example.vn/feeds/all.rss") in alternates(doc)
    section_feeds = doc.xpath("//section//p[@class='feeds']/a/@href")
    assert "http://feeds.example.vn/feeds/chinh-tri-xa-hoi.atom" in section_feeds
    assert doc.xpath("//meta[@name='viewport']")


def test_category_page_dates_and_pagination(client, store, now):
    store.category("Kinh tế")
    store.articles("kinh-te", 25, now - timedelta(days=2))
    store.article("kinh-te", "Hẹn giờ", published_at=now + timedelta(days=1))
    doc = page(client, "/c/kinh-te")
    items = doc.xpath("//ul[@class='articles']/li")
    assert len(items) == 20
    assert "Hẹn giờ" not in doc.text_content()
    date = items[0].xpath("time/text()")[0]
    assert date.startswith("(") and date[3] == "/" and date[6] == "/"
    [older] = doc.xpath("//a[@rel='next']/@href")
    assert older.startswith("/c/kinh-te?before=") and not doc.xpath("//a[@rel='prev']")
    second = page(client, older)
    assert len(second.xpath("//ul[@class='articles']/li")) == 5
    assert second.xpath("//a[@rel='prev']/@href") == ["/c/kinh-te"]  # the first page
    assert not second.xpath("//a[@rel='next']")
    assert ("application/atom+xml", "http://feeds.example.vn/feeds/kinh-te.atom") in alternates(doc)
    # An old numbered link goes to the same page by cursor; beyond the last page, 404.
    moved = client.get("/c/kinh-te?page=2")
    assert moved.status_code == 301 and moved.headers["Location"] == older
    assert client.get("/c/kinh-te?page=3").status_code == 404
    missing = client.get("/c/khong-co")
    assert missing.status_code == 404 and "khong-co" in missing.data.decode()


def test_article_page_and_canonical_slug(client, store, now):
    store.category("Y tế")
    article = store.article(
        "y-te",
        "Tiêm chủng mở rộng",
        author="Thanh Tâm",
        body_html="<p>Nội dung</p>",
        published_at=now,
    )
    doc = page(client, f"/articles/{article.id}/{article.slug}")
    assert doc.xpath("//h1/text()") == ["Tiêm chủng mở rộng"]
    assert "Thanh Tâm" in doc.xpath("string(//p[@class='meta'])")
    assert doc.xpath("//div[@class='body']/p/text()") == ["Nội dung"]
    assert ("application/rss+xml", "http://feeds.example.vn/feeds/y-te.rss") in alternates(doc)
    wrong_slug = client.get(f"/articles/{article.id}/cu")
    assert wrong_slug.status_code == 301
    assert wrong_slug.headers["Location"] == f"/articles/{article.id}/tiem-chung-mo-rong"
    scheduled = store.article("y-te", "Sắp đăng", published_at=now + timedelta(hours=1))
    assert client.get(f"/articles/{scheduled.id}/{scheduled.slug}").status_code == 404


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
