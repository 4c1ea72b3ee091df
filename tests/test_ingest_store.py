"""What ingestion stores: identity, updates, category mapping, dates, URLs, sanitising."""

from datetime import UTC, datetime

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>
<title>Huyện</title><link>http://huyen.example.vn/</link><description>d</description>
{items}</channel></rss>"""


def item(
    guid="g1",
    link="http://huyen.example.vn/tin/1.html",
    title="Tin một",
    body="Nội dung",
    date="Fri, 26 Mar 2021 10:00:00 +0700",
    category="",
):
    parts = [f"<title>{title}</title>", f"<description><![CDATA[{body}]]></description>"]
    if guid:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if link:
        parts.append(f"<link>{link}</link>")
    if date:
        parts.append(f"<pubDate>{date}</pubDate>")
    if category:
        parts.append(f"<category>{category}</category>")
    return "<item>" + "".join(parts) + "</item>"


def feed(*items):
    return RSS.format(items="".join(items))


def test_new_then_changed_then_unchanged(sources, upstream):
    source_id = sources.add(upstream.serve("/f", feed(item())))
    assert len(sources.refresh(source_id).new_ids) == 1
    [article] = sources.articles(source_id)
    assert article.announced_at is not None  # the source's baseline: stored, never announced
    upstream.serve("/f", feed(item(body="Nội dung đã sửa")))
    edited = sources.refresh(source_id)
    assert (edited.new_ids, edited.updated) == ((), 1)
    [after] = sources.articles(source_id)
    assert after.id == article.id and after.guid == article.guid
    assert after.announced_at == article.announced_at
    assert "đã sửa" in after.body_html
    assert sources.refresh(source_id).updated == 0


def test_guid_change_with_same_link_is_not_a_duplicate(sources, upstream):
    source_id = sources.add(upstream.serve("/f", feed(item(guid="old"))))
    sources.refresh(source_id)
    upstream.serve("/f", feed(item(guid="new")))
    outcome = sources.refresh(source_id)
    assert outcome.new_ids == () and outcome.updated == 1
    assert len(sources.articles(source_id)) == 1


def test_identity_without_guid_or_link_and_disappearing_entries(sources, upstream):
    entries = [
        item(guid=None, link="http://huyen.example.vn/2"),
        item(guid=None, link=None, title="Không liên kết", body="Thân bài"),
    ]
    source_id = sources.add(upstream.serve("/f", feed(*entries)))
    assert len(sources.refresh(source_id).new_ids) == 2
    assert sources.refresh(source_id).new_ids == ()  # upstream served 200 again: same entries
    upstream.serve("/f", feed(item(guid="other", link="http://huyen.example.vn/3")))
    sources.refresh(source_id)
    assert len(sources.articles(source_id)) == 3  # the two that vanished upstream stay


def test_category_mapping_ignores_diacritics_and_case(sources, upstream):
    entries = [
        item(guid="a", link=None, category="KINH TẾ"),
        item(guid="b", link=None, category="Thể thao"),
    ]
    source_id = sources.add(
        upstream.serve("/f", feed(*entries)), category_map={"kinh te": "kinh-te"}
    )
    sources.refresh(source_id)
    slugs = {a.title and a.category_id for a in sources.articles(source_id)}
    assert len(slugs) == 2


def test_unknown_category_in_mapping_is_refused(sources, upstream):
    import pytest

    from feedsvc.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        sources.add(upstream.serve("/f", feed(item())), category_map={"x": "khong-co"})
    assert refused.value.fields == {"category_map": "khong-co"}


def test_dates_and_missing_dates(sources, upstream):
    entries = [item(guid="dated"), item(guid="undated", link=None, date=None)]
    source_id = sources.add(upstream.serve("/f", feed(*entries)))
    before = datetime.now(UTC)
    sources.refresh(source_id)
    dated, undated = sources.articles(source_id)
    assert dated.published_at == datetime(2021, 3, 26, 3, 0, tzinfo=UTC)
    assert not dated.published_at_estimated
    assert undated.published_at_estimated and undated.published_at >= before


def test_relative_urls_become_absolute_and_html_is_sanitised(sources, upstream):
    body = (
        '<p onclick="x()">Ảnh <img src="/uploads/a.jpg"> <a href="khac.html">k</a></p>'
        "<script>x()</script>"
    )
    source_id = sources.add(upstream.serve("/f", feed(item(body=body))))
    sources.refresh(source_id)
    [article] = sources.articles(source_id)
    assert article.body_html == (
        '<p>Ảnh <img src="http://huyen.example.vn/uploads/a.jpg"> '
        '<a href="http://huyen.example.vn/tin/khac.html" rel="noopener">k</a></p>'
    )
    assert article.link == "http://huyen.example.vn/tin/1.html"


def test_ingested_items_reach_the_feeds_at_once(sources, upstream, client):
    source_id = sources.add(upstream.serve("/f", feed(item(title="Tin từ huyện"))))
    assert client.get("/feeds/thoi-su.json").get_json()["items"] == []
    sources.refresh(source_id)
    items = client.get("/feeds/thoi-su.json").get_json()["items"]
    assert [i["title"] for i in items] == ["Tin từ huyện"]
    assert items[0]["url"] == "http://huyen.example.vn/tin/1.html"
