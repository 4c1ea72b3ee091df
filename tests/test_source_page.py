"""A source's page: its feed URL, site, health and last fetches; changing its URL, checked by
the address guard and previewed before it is saved (real upstreams on 127.0.0.1, SQLite and
PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from feedsvc.ingest.history import FETCH_HISTORY_PER_SOURCE, recent_fetches
from feedsvc.models import Article, Source, SourceFetch
from feedsvc.settings import Settings
from feedsvc.sources import delete_source
from feedsvc.text import utcnow
from feedsvc.web import create_app
from tests.admin_helpers import make_user, post, sign_in
from tests.ingest_helpers import Sources
from tests.upstream import Upstream


def rss(title: str, site: str, *items: str) -> str:
    entries = "".join(f"<item><title>{t}</title><guid>{t}</guid></item>" for t in items)
    return (
        f'<rss version="2.0"><channel><title>{title}</title><link>{site}</link>'
        f"<description>d</description>{entries}</channel></rss>"
    )


FIRST = rss("Cổng tỉnh", "https://tinh.example.vn/", "Tin một", "Tin hai")
SECOND = rss("Cổng huyện", "https://huyen.example.vn/", "Tin huyện")


def test_each_fetch_is_kept_among_the_last_few(sources: Sources, upstream: Upstream, db):  # type: ignore[no-untyped-def]
    url = upstream.serve(
        "/tinh.xml", FIRST, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'}
    )
    source_id = sources.add(url)
    sources.refresh(source_id)  # 200: two new
    sources.refresh(source_id)  # 304
    upstream.serve("/tinh.xml", "oops", status=500)
    sources.refresh(source_id)  # an error
    with db.sessions() as session:
        error, not_modified, ok = recent_fetches(session, source_id)
        assert session.get(Source, source_id).site_url == "https://tinh.example.vn/"  # type: ignore[union-attr]
    assert (ok.outcome, ok.http_status, ok.new_items, ok.error) == ("ok", 200, 2, "")
    assert (not_modified.outcome, not_modified.http_status, not_modified.new_items) == (
        "not_modified",
        304,
        0,
    )
    assert (error.outcome, error.http_status) == ("error", 500)
    assert "500" in error.error
    assert ok.duration_ms is not None and ok.fetched_at <= error.fetched_at <= utcnow()

    for _ in range(FETCH_HISTORY_PER_SOURCE + 2):
        sources.refresh(source_id)
    with db.sessions() as session:
        kept = recent_fetches(session, source_id)
        stored = session.scalar(select(func.count()).select_from(SourceFetch))
    assert stored == len(kept) == FETCH_HISTORY_PER_SOURCE  # pruned as it is written
    assert [f.id for f in kept] == sorted((f.id for f in kept), reverse=True)
    assert ok.id not in {f.id for f in kept}
    with db.transaction() as session:
        delete_source(session, source_id)
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SourceFetch)) == 0


def test_a_site_link_that_is_not_a_web_address_is_not_kept(sources: Sources, upstream: Upstream):
    url = upstream.serve("/x.xml", rss("X", "javascript:alert(1)", "Tin"))
    source_id = sources.add(url)
    sources.refresh(source_id)
    assert sources.get(source_id).site_url is None


@pytest.fixture
def admin(ingest_settings: Settings, db, sources):  # type: ignore[no-untyped-def]
    """The admin of an app that may fetch from 127.0.0.1 (the upstreams of these tests)."""
    app = create_app(ingest_settings)
    make_user(db, "quantri")
    client = app.test_client()
    sign_in(client, "quantri")
    yield client
    app.extensions["feedsvc.db"].dispose()


def test_the_page_shows_the_url_the_site_and_the_last_fetches(admin, sources, upstream):  # type: ignore[no-untyped-def]
    url = upstream.serve("/tinh.xml", FIRST, headers={"Content-Type": "application/rss+xml"})
    source_id = sources.add(url)
    upstream.serve("/tinh.xml", "oops", status=503)
    sources.refresh(source_id)
    upstream.serve("/tinh.xml", FIRST, headers={"Content-Type": "application/rss+xml"})
    sources.refresh(source_id)
    page = admin.get(f"/admin/sources/{source_id}").get_data(as_text=True)
    health = page[page.index('id="h-health"') : page.index('id="h-fetches"')]
    assert url in health  # the feed's address stays on the page once it has a title
    assert 'href="https://tinh.example.vn/"' in health
    history = page[page.index('id="h-fetches"') : page.index('id="f-url"')]
    assert history.count('<tr class="fetch-') == 2
    ok_row, error_row = history.split('<tr class="fetch-')[1:]
    assert ok_row.startswith("ok") and ">2<" in ok_row
    assert error_row.startswith("error") and "503" in error_row


def test_a_new_url_is_previewed_then_saved_and_fetched_afresh(admin, sources, upstream, db):  # type: ignore[no-untyped-def]
    old = upstream.serve(
        "/tinh.xml", FIRST, headers={"Content-Type": "application/rss+xml", "ETag": '"v1"'}
    )
    new = upstream.serve("/huyen.xml", SECOND, headers={"Content-Type": "application/rss+xml"})
    source_id = sources.add(old)
    sources.refresh(source_id)
    form = {"url": new, "title": "", "category": "thoi-su", "interval_minutes": "15"}
    page = f"/admin/sources/{source_id}"

    preview = post(admin, page, {**form, "action": "preview"}, page=page)
    assert preview.status_code == 200
    text = preview.get_data(as_text=True)
    assert "Tin huyện" in text and "1 tin sẽ được lấy về" in text
    assert f'value="{new}"' in text  # the form keeps the address typed
    stored = sources.get(source_id)
    assert (stored.url, stored.etag) == (old, '"v1"')  # a preview changes nothing

    saved = post(admin, page, {**form, "action": "save"}, page=page)
    assert saved.status_code == 302
    stored = sources.get(source_id)
    assert (stored.url, stored.etag, stored.last_modified) == (new, None, None)
    assert stored.next_fetch_at <= utcnow() + timedelta(seconds=1)  # due at the next tick
    sources.refresh(source_id, force=False)
    seen = [r for r in upstream.requests if r.path == "/huyen.xml"][-1]
    assert "If-None-Match" not in seen.headers  # the old address's validators are gone
    titles = {a.title for a in sources.articles(source_id)}
    assert "Tin huyện" in titles


def test_the_guard_refuses_a_private_address_before_any_connection(  # type: ignore[no-untyped-def]
    settings, sources, upstream, db
):
    """Under the default settings (private addresses refused), an address on 127.0.0.1 is
    refused at the preview and at saving, and the upstream there sees no request."""
    source_id = sources.add("https://tinh.example.vn/rss.xml")
    private = upstream.serve("/noi-bo.xml", FIRST)
    app = create_app(settings)
    make_user(db, "quantri")
    client = app.test_client()
    sign_in(client, "quantri")
    page = f"/admin/sources/{source_id}"
    form = {"url": private, "category": "thoi-su"}
    for action in ("preview", "save"):
        answer = post(client, page, {**form, "action": action}, page=page)
        assert answer.status_code == 422
        assert "Chưa lưu được" in answer.get_data(as_text=True)
        assert 'aria-invalid="true"' in answer.get_data(as_text=True)
    app.extensions["feedsvc.db"].dispose()
    assert upstream.hits("/noi-bo.xml") == 0
    assert sources.get(source_id).url == "https://tinh.example.vn/rss.xml"
    with db.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Article)) == 0


def test_changing_the_url_needs_the_csrf_token(admin, sources):  # type: ignore[no-untyped-def]
    source_id = sources.add("https://tinh.example.vn/rss.xml")
    answer = admin.post(
        f"/admin/sources/{source_id}",
        data={"url": "https://huyen.example.vn/rss.xml", "category": "thoi-su"},
    )
    assert answer.status_code == 400
    assert sources.get(source_id).url == "https://tinh.example.vn/rss.xml"
