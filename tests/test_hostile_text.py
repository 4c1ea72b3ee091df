"""Hostile text: what XML refuses never reaches the store from any door, a bad row already
stored costs its feeds only itself, and HTML nesting or size cannot make storing slow."""

import json
import logging
import re

import feedparser
import pytest
from lxml import etree
from sqlalchemy import select, text

from feedsvc.html_nesting import MAX_DEPTH, limit_nesting
from feedsvc.models import Article, Category
from feedsvc.text import MAX_BODY_BYTES, clean_line, clean_text, html_to_text, sanitise_html
from tests.admin_helpers import make_user, post, sign_in
from tests.conftest import publish
from tests.test_feed_validity import assert_valid
from tests.test_ingest_store import feed, item

# Noncharacters, a lone surrogate and a C0 control: none of them is XML 1.0 character data.
HOSTILE = ("\uffff", "\ufffe", "\ud800", "\x0b")
FORMATS = ("rss", "atom", "json")


def xml_safe(value: str) -> bool:
    """Whether lxml, which refuses the whole feed otherwise, accepts the text."""
    try:
        etree.Element("x").text = value
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "bad",
    [
        "\x00",
        "\x0b",
        "\x1f",
        "\ud800",
        "\udfff",
        "\ufdd0",
        "\ufdef",
        "\ufffe",
        "\uffff",
        "\U0001fffe",
        "\U0001ffff",
        "\U0010fffe",
        "\U0010ffff",
    ],
)
def test_clean_text_removes_what_xml_refuses_or_discourages(bad):
    assert clean_text(f"Tin {bad}mới") == "Tin mới"
    assert clean_line(f" Tin {bad} mới ") == "Tin mới"


def test_clean_text_keeps_what_xml_accepts():
    kept = "Thi đua\tkhen\nthưởng\r 😀 \U00020000 \U0002fffd \ufffd \ufdcf \ufdf0"
    assert clean_text(kept) == kept


def test_sanitised_html_is_xml_safe_even_from_character_references():
    body = '<p title="&#xFFFE;">a&#xFFFF;b&#x0B;c&#0;&#xD800;<a href="/x&#xFFFF;">l</a></p>'
    out = sanitise_html(body, "http://feeds.example.vn/")
    assert xml_safe(out)
    assert "abc" in out
    assert xml_safe(html_to_text(body))


def test_deeply_nested_html_is_bounded_and_its_text_kept():
    body = "<div>" * 60_000 + "Nội dung cuối"
    out = sanitise_html(body, "http://feeds.example.vn/")
    assert out.count("<div>") == MAX_DEPTH
    assert out.endswith("Nội dung cuối" + "</div>" * MAX_DEPTH)


def _depth(sanitised: str) -> int:
    """Nesting depth of the sanitiser's output, where every element is closed."""
    depth = deepest = 0
    for end, name in re.findall(r"<(/?)([a-z0-9]+)", sanitised):
        if name not in ("br", "img", "hr", "wbr", "col"):
            depth += -1 if end else 1
            deepest = max(deepest, depth)
    return deepest


@pytest.mark.parametrize(
    "unit",
    [
        "<div>",
        "<span><div></span>",  # the end tag cannot close the span: the div stays open
        '<div><b class="x"></div>x',  # html5ever reopens the <b> before the text
        "<div><b><i><u><s><em></div>x",
        "<li><ul>",
        "<td><table>",
        "<table><td><div>",
    ],
)
def test_no_pattern_nests_deeper_than_the_bound(unit):
    out = sanitise_html(unit * (200_000 // len(unit)), "http://feeds.example.vn/")
    assert _depth(out) <= 2 * MAX_DEPTH  # tables add their implied tbody and tr
    assert _depth(out) >= MAX_DEPTH // 2  # bounded, not flattened


@pytest.mark.parametrize(
    "normal",
    [
        "<p>Đoạn <b>đậm</b> <a href='/x'>liên kết</a>" * 300,  # no </p>
        "<ul>" + "<li>mục <i>nghiêng</i>" * 300 + "</ul>",  # no </li>
        "<table>" + "<tr><td>a<td><b>b</td>" * 300 + "</table>",
        "<p><b>đậm chưa đóng</p>" * 300,
        "<p><b>đậm <i>cả hai</b> nghiêng</i></p>" * 300,
        "<dl>" + "<dt>a<dd>b" * 300 + "</dl>",
        "<h2>a<h3>b</h3>" * 300,
        "<script>var s = '<table><div>';</script><p>x</p>" * 300,
        "<!-- <div><div> -->" * 300,
    ],
)
def test_normal_html_is_left_as_it_is(normal):
    assert limit_nesting(normal) == normal


def _no_hostile(*values: str | None) -> None:
    for value in values:
        assert value is None or (xml_safe(value) and "\x0b" not in value), repr(value)


def send(api, method: str, path: str, payload: dict):  # type: ignore[no-untyped-def]
    """JSON with \\u escapes, the only way a lone surrogate can travel in it."""
    body = json.dumps(payload, ensure_ascii=True)
    return api.open(path, method=method, data=body, content_type="application/json")


def test_api_stores_text_without_what_xml_refuses(api, db):
    created = send(
        api,
        "POST",
        "/api/v1/articles",
        {
            "category": "thoi-su",
            "title": "Tin \uffff\ufffe\x0bmới",
            "summary": "Tóm \uffff tắt\x0b",
            "author": "Phóng \ufffe viên",
            "body_html": "<p>Nội \uffff dung\x0b &#xFFFF;&#xD800;</p>",
            "image_url": "http://feeds.example.vn/a\uffff.jpg",
            "image_type": "image/jpeg",
            "image_length": 10,
        },
    )
    assert created.status_code == 201, created.get_json()
    article = created.get_json()
    assert article["title"] == "Tin mới"
    patched = send(
        api,
        "PATCH",
        f"/api/v1/articles/{article['id']}",
        {"title": "Sửa \x0b\uffff", "summary": "T\ufffe", "body_html": "<p>x\ufffe</p>"},
    )
    assert patched.status_code == 200, patched.get_json()
    category = send(
        api, "POST", "/api/v1/categories", {"name": "Thể \uffffthao", "description": "Mô \ufffe tả"}
    )
    assert category.status_code == 201, category.get_json()
    with db.transaction() as session:
        stored = session.get(Article, article["id"])
        assert stored is not None
        assert stored.title == "Sửa"
        _no_hostile(stored.title, stored.summary, stored.body_html, stored.author, stored.image_url)
        _no_hostile(stored.search_text)
        sport = session.scalar(select(Category).where(Category.slug == "the-thao"))
        assert sport is not None and (sport.name, sport.description) == ("Thể thao", "Mô  tả")
    for fmt in FORMATS:
        assert api.get(f"/feeds/all.{fmt}").status_code == 200


def test_api_refuses_a_lone_surrogate_clearly(api, db):
    """Not Unicode at all, so not text to clean: the JSON decoder's 422 names the field."""
    response = send(api, "POST", "/api/v1/articles", {"category": "thoi-su", "title": "a\ud800"})
    assert response.status_code == 422
    assert "title" in response.get_json()["fields"]
    with db.transaction() as session:
        assert session.scalars(select(Article)).all() == []


def test_admin_form_stores_text_without_what_xml_refuses(app, db, store):
    store.category("Thời sự")
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    created = post(
        client,
        "/admin/articles/new",
        {
            "title": "Tin \uffff của\x0b biên tập",
            "category": "thoi-su",
            "summary": "Tóm \ufffe tắt",
            "author": "Lan\uffff",
            "body_html": "<p>Nội \uffff dung &#xFFFE;</p>",
        },
    )
    assert created.status_code == 302
    with db.transaction() as session:
        stored = session.scalars(select(Article)).one()
        assert stored.title == "Tin của biên tập"
        assert (stored.summary, stored.author) == ("Tóm  tắt", "Lan")
        assert stored.body_html == "<p>Nội  dung </p>"


def test_ingest_stores_entries_without_what_xml_refuses(sources, upstream, db):
    entries = feed(
        item(title="Tin &#xFFFF;một&#xFFFE;", body="<p>Nội &#xFFFF;dung &amp;#xFFFF;</p>"),
        item(guid="g2", link="http://huyen.example.vn/tin/2.html", title="Tin \uffffhai\ufffe"),
    ).replace("<title>Huyện</title>", "<title>Huyện &#xFFFF;</title>")
    raw = entries.encode().replace(b"<guid", "<author>Tác \x0bgiả</author><guid".encode(), 1)
    enclosure = '<enclosure url="http://huyen.example.vn/a.jpg" type="image/j\uffffpg" length="5"/>'
    raw = raw.replace(b"</item>", enclosure.encode() + b"</item>", 1)
    source_id = sources.add(upstream.serve("/f", raw))
    assert len(sources.refresh(source_id).new_ids) == 2
    first, second = sources.articles(source_id)
    assert (first.title, second.title) == ("Tin một", "Tin hai")
    assert first.author == "Tác giả"
    assert first.image_type == "image/jpg"
    assert "Nội dung" in first.body_html
    for article in (first, second):
        _no_hostile(article.title, article.summary, article.body_html, article.author)
        _no_hostile(article.image_type, article.search_text)
    assert sources.get(source_id).title == "Huyện"


@pytest.fixture
def with_bad_row(store, db):
    """A category with two good articles and, between them, one holding U+FFFF and a control
    character written by SQL, as rows stored before every door cleaned text may be."""
    store.category("Thời sự")
    store.article("thoi-su", "Tin cũ")
    bad = store.article("thoi-su", "Tin hỏng")
    store.article("thoi-su", "Tin mới")
    with db.transaction() as session:
        session.execute(
            text("UPDATE articles SET title = :title, summary = :summary WHERE id = :id"),
            {"title": "Tin \uffff hỏng", "summary": "Tóm\x0b tắt", "id": bad.id},
        )
    return bad.id


@pytest.mark.parametrize("slug", ["thoi-su", "all"])
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_a_row_xml_refuses_is_left_out_of_its_feeds_and_logged(
    client, with_bad_row, caplog, slug, fmt
):
    with caplog.at_level(logging.WARNING, logger="feedsvc.feeds.render"):
        response = client.get(f"/feeds/{slug}.{fmt}")
    assert response.status_code == 200
    parsed = feedparser.parse(response.data)
    assert not parsed.bozo, parsed.bozo_exception
    assert [entry.title for entry in parsed.entries] == ["Tin mới", "Tin cũ"]
    assert f"article {with_bad_row} left out" in caplog.text


@pytest.mark.parametrize("slug", ["thoi-su", "all"])
def test_json_feed_with_a_row_xml_refuses_is_still_served(client, with_bad_row, slug):
    response = client.get(f"/feeds/{slug}.json")
    assert response.status_code == 200
    titles = [entry["title"] for entry in json.loads(response.data)["items"]]
    assert titles[0] == "Tin mới" and titles[-1] == "Tin cũ"  # JSON can carry U+FFFF


def test_feeds_with_a_row_xml_refuses_stay_valid(live_server, db):
    live_server.store.category("Thời sự")
    live_server.store.article("thoi-su", "Tin tốt", author="Lan")
    bad = live_server.store.article("thoi-su", "Tin hỏng")
    with db.transaction() as session:
        session.execute(
            text("UPDATE articles SET author = :author WHERE id = :id"),
            {"author": "Phóng \uffff viên", "id": bad.id},
        )
    assert_valid(*(f"{live_server.base_url}/feeds/thoi-su.{fmt}" for fmt in ("rss", "atom")))


def test_api_and_admin_refuse_a_body_over_the_limit(api, app, db):
    body = "<p>" + "x" * MAX_BODY_BYTES + "</p>"
    response = api.post(
        "/api/v1/articles", json={"category": "thoi-su", "title": "Dài", "body_html": body}
    )
    assert response.status_code == 422
    assert str(MAX_BODY_BYTES) in json.dumps(response.get_json())
    make_user(db, "lan")
    client = app.test_client()
    sign_in(client, "lan")
    refused = post(
        client, "/admin/articles/new", {"title": "Dài", "category": "thoi-su", "body_html": body}
    )
    assert refused.status_code in (413, 422)
    assert str(MAX_BODY_BYTES).encode() in refused.data
    with db.transaction() as session:
        assert session.scalars(select(Article)).all() == []


def test_ingest_cuts_a_body_over_the_limit_and_keeps_the_entry(sources, upstream, caplog):
    long_body = "<p>" + "Nội dung dài. " * (MAX_BODY_BYTES // 10) + "</p>"
    source_id = sources.add(upstream.serve("/f", feed(item(body=long_body), item(guid="g2"))))
    with caplog.at_level(logging.WARNING, logger="feedsvc.articles"):
        assert len(sources.refresh(source_id).new_ids) == 2
    long_article = sources.articles(source_id)[0]
    assert len(long_article.body_html.encode()) <= MAX_BODY_BYTES + 100
    assert long_article.body_html.startswith("<p>Nội dung dài.")
    assert "body cut" in caplog.text


def test_api_stores_a_deeply_nested_body_with_its_text(api, db):
    body = "<div>" * 60_000 + "Nội dung cuối"
    article = publish(api, "Lồng sâu", body_html=body)
    with db.transaction() as session:
        stored = session.get(Article, article["id"])
        assert stored is not None
        assert stored.body_html.count("<div>") == MAX_DEPTH
        assert "Nội dung cuối" in stored.body_html


def test_ingest_reads_a_feed_with_a_reference_to_a_surrogate(sources, upstream):
    entries = feed(item(title="Tin &#xD800;một"), item(guid="g2", title="Tin &#56320;hai"))
    source_id = sources.add(upstream.serve("/f", entries))
    assert len(sources.refresh(source_id).new_ids) == 2
    assert [a.title for a in sources.articles(source_id)] == ["Tin \ufffdmột", "Tin \ufffdhai"]
