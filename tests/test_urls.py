"""The URL functions used by feeds and the Flask routes agree."""

from feedsvc.urls import article_url, category_url, feed_url, opml_url, stylesheet_url


def test_every_built_url_is_served(client, store, now):
    store.category("Giáo dục")
    article = store.article("giao-duc", "Khai giảng năm học mới", published_at=now)
    base = "http://feeds.example.vn"
    urls = [
        feed_url(base, "giao-duc", "rss"),
        feed_url(base, "all", "json", query="khai giảng"),
        category_url(base, "giao-duc"),
        category_url(base, "all"),
        article_url(base, article.id, article.slug),
        opml_url(base),
        stylesheet_url(base),
    ]
    for url in urls:
        with client.get(url.removeprefix(base)) as response:  # static files stream from disk
            assert response.status_code == 200, url
