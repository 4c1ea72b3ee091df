"""Derived fields follow their source (issue 11): a summary derived from the body is derived
again when the body changes, an explicit one stays until it is set again; the store
remembers which, from every door (service, API, admin form, ingest)."""

import pytest
from lxml import html

from feedsvc.articles import ArticleUpdate, update_article
from feedsvc.text import utcnow
from tests.admin_helpers import make_user, post, sign_in
from tests.conftest import publish
from tests.test_ingest_store import RSS


def edit(db, settings, article_id, **fields):
    with db.transaction() as session:
        data = ArticleUpdate(**fields)
        return update_article(session, article_id, data, settings.base_url, utcnow())


def test_a_derived_summary_follows_the_body_an_explicit_one_stays(db, store, settings):
    store.category("Thời sự")
    article = store.article("thoi-su", "Tin", body_html="<p>Câu đầu tiên.</p>")
    assert (article.summary, article.summary_derived) == ("Câu đầu tiên.", True)
    patched = edit(db, settings, article.id, body_html="<p>Câu thứ hai, mới.</p>")
    assert (patched.summary, patched.summary_derived) == ("Câu thứ hai, mới.", True)
    assert "cau thu hai" in patched.search_text and "cau dau tien" not in patched.search_text
    renamed = edit(db, settings, article.id, title="Tin (sửa)")  # the body is unchanged
    assert (renamed.summary, renamed.summary_derived) == ("Câu thứ hai, mới.", True)

    explicit = edit(db, settings, article.id, summary="Tóm tắt của biên tập viên")
    assert (explicit.summary, explicit.summary_derived) == ("Tóm tắt của biên tập viên", False)
    kept = edit(db, settings, article.id, body_html="<p>Nội dung khác hẳn.</p>")
    assert (kept.summary, kept.summary_derived) == ("Tóm tắt của biên tập viên", False)
    assert "noi dung khac han" in kept.search_text and "bien tap vien" in kept.search_text

    for cleared in ("", "   ", None):  # setting it empty makes it derived again
        edit(db, settings, article.id, summary="Tạm thời")
        again = edit(db, settings, article.id, summary=cleared)
        assert (again.summary, again.summary_derived) == ("Nội dung khác hẳn.", True)


def test_an_explicit_summary_given_at_creation_stays(db, store, settings):
    store.category("Thời sự")
    article = store.article("thoi-su", "Tin", summary="Tóm tắt riêng", body_html="<p>A.</p>")
    assert (article.summary, article.summary_derived) == ("Tóm tắt riêng", False)
    assert edit(db, settings, article.id, body_html="<p>B.</p>").summary == "Tóm tắt riêng"


def test_the_api_tells_which_summary_is_derived(api):
    article = publish(api, "Tin", body_html="<p>Câu đầu.</p>")
    assert (article["summary"], article["summary_derived"]) == ("Câu đầu.", True)
    path = f"/api/v1/articles/{article['id']}"
    patched = api.patch(path, json={"body_html": "<p>Câu sau.</p>"}).get_json()
    assert (patched["summary"], patched["summary_derived"]) == ("Câu sau.", True)
    patched = api.patch(path, json={"summary": "Tóm tắt"}).get_json()
    assert (patched["summary"], patched["summary_derived"]) == ("Tóm tắt", False)
    patched = api.patch(path, json={"summary": None}).get_json()
    assert (patched["summary"], patched["summary_derived"]) == ("Câu sau.", True)
    schema = api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["Article"]
    assert schema["properties"]["summary_derived"] == {"type": "boolean"}


def entry(content, summary=None):
    parts = [
        "<title>Tin huyện</title><guid>g1</guid>",
        f"<content:encoded><![CDATA[{content}]]></content:encoded>",
    ]
    if summary is not None:
        parts.append(f"<description>{summary}</description>")
    body = RSS.format(items="<item>" + "".join(parts) + "</item>")
    return body.replace("<rss ", '<rss xmlns:content="http://purl.org/rss/1.0/modules/content/" ')


def test_ingested_summaries_upstream_is_explicit_missing_is_derived(sources, upstream):
    source_id = sources.add(upstream.serve("/f", entry("<p>Bản đầu.</p>")))
    sources.refresh(source_id)
    [article] = sources.articles(source_id)
    assert (article.summary, article.summary_derived) == ("Bản đầu.", True)
    upstream.serve("/f", entry("<p>Bản đã sửa.</p>"))  # a re-fetch with changed content
    assert sources.refresh(source_id).updated == 1
    [article] = sources.articles(source_id)
    assert (article.summary, article.summary_derived) == ("Bản đã sửa.", True)
    upstream.serve("/f", entry("<p>Bản đã sửa.</p>", summary="Tóm tắt của nguồn"))
    sources.refresh(source_id)
    [article] = sources.articles(source_id)
    assert (article.summary, article.summary_derived) == ("Tóm tắt của nguồn", False)
    upstream.serve("/f", entry("<p>Bản thứ ba.</p>", summary="Tóm tắt của nguồn"))
    sources.refresh(source_id)
    [article] = sources.articles(source_id)
    assert (article.summary, article.summary_derived) == ("Tóm tắt của nguồn", False)
    assert "ban thu ba" in article.search_text
    upstream.serve("/f", entry("<p>Bản thứ ba.</p>"))  # upstream dropped its summary
    sources.refresh(source_id)
    [article] = sources.articles(source_id)
    assert (article.summary, article.summary_derived) == ("Bản thứ ba.", True)


def summary_field(client, article_id):
    page = html.fromstring(client.get(f"/admin/articles/{article_id}").data)
    [field] = page.xpath("//textarea[@name='summary']")
    [hint] = page.xpath("//*[@id='h-summary']")
    return field.text or "", field.get("placeholder"), hint.text_content()


@pytest.fixture
def editor(app, db, store):
    store.category("Thời sự")
    make_user(db, "hoa", role="editor")
    client = app.test_client()
    sign_in(client, "hoa")
    return client


def test_the_admin_form_shows_a_derived_summary_as_derived(editor, store):
    article = store.article("thoi-su", "Tin", body_html="<p>Câu đầu.</p>")
    text, placeholder, hint = summary_field(editor, article.id)
    assert (text, placeholder) == ("", "Câu đầu.") and "Tự động" in hint
    form = {"title": "Tin", "category": "thoi-su", "summary": "", "published_at": ""}
    path = f"/admin/articles/{article.id}"
    assert (
        post(editor, path, {**form, "body_html": "<p>Câu sau.</p>"}, page=path).status_code == 302
    )
    assert summary_field(editor, article.id)[:2] == ("", "Câu sau.")  # saved: still derived
    typed = {**form, "summary": "Tóm tắt tay", "body_html": "<p>Câu sau.</p>"}
    post(editor, path, typed, page=path)
    text, placeholder, hint = summary_field(editor, article.id)
    assert (text, placeholder) == ("Tóm tắt tay", None) and "Do người viết nhập" in hint
    post(editor, path, {**form, "body_html": "<p>Câu ba.</p>"}, page=path)  # emptied
    assert summary_field(editor, article.id)[:2] == ("", "Câu ba.")
