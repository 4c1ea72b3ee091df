"""Security headers: every HTML page of the app carries the Content-Security-Policy (no inline
script or style), frame-ancestors and X-Frame-Options, nosniff and a Referrer-Policy; every
response carries nosniff; HSTS only over HTTPS. In headless Chromium, the admin pages, the
public pages and a feed's page load with no CSP violation.

The headers do not depend on the database, so these tests run on SQLite only.
"""

import pytest
from flask import Flask
from playwright.sync_api import Page
from werkzeug.routing import Rule

from feedsvc.web import CONTENT_SECURITY_POLICY, create_app
from tests.admin_helpers import PASSWORD, make_user, sign_in
from tests.browser import needs_chromium
from tests.ingest_helpers import Sources

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
# Pages that must be among those checked, so that the test cannot pass on error pages alone.
HTML_ENDPOINTS = {
    "public.index",
    "public.article",
    "public.category",
    "feeds.feed",
    "subscribe.form",
    "admin.auth.login_form",
    "admin.dashboard.home",
    "admin.articles.index",
    "admin.articles.edit",
    "admin.articles.new",
    "admin.sources.index",
    "admin.sources.edit",
    "admin.categories.index",
    "admin.subscribers.index",
    "admin.subscribers.deliveries",
    "admin.access.tokens",
    "admin.access.users",
}


def assert_html_headers(headers, secure: bool = False) -> None:  # type: ignore[no-untyped-def]
    csp = headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in csp
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert ("Strict-Transport-Security" in headers) == secure


def _arguments(rule: Rule, values: dict[str, object]) -> dict[str, object]:
    return {name: values[name] for name in rule.arguments}


@pytest.fixture
def site(settings, db, store) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Demo content, a source and an admin: the values that fill every route's arguments."""
    store.demo()
    store.category("Thời sự")
    article = store.article("thoi-su", "Tin để xem")
    private = settings.model_copy(update={"allow_private_urls": True})
    source_id = Sources(db, private).add("http://127.0.0.1:9/feed.xml")
    make_user(db, "quantri")
    return {
        "article_id": article.id,
        "slug": "thoi-su",
        "fmt": "rss",
        "source_id": source_id,
        "endpoint_id": 1,
        "filename": "site.css",
        "name": "none.jpg",
        "token": "khong-hop-le",
        "key": "khong-hop-le",
    }


def test_every_html_page_carries_the_security_headers(app: Flask, site):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert sign_in(client, "quantri").status_code == 302
    html_endpoints = set()
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        path = rule.build(_arguments(rule, site))[1]  # type: ignore[index]
        with client.get(path, headers={"Accept": BROWSER_ACCEPT}) as answer:
            assert answer.headers["X-Content-Type-Options"] == "nosniff", path
            if answer.mimetype == "text/html":
                assert_html_headers(answer.headers)
                if answer.status_code == 200:
                    html_endpoints.add(rule.endpoint)
                elif answer.status_code in (301, 302, 308):  # e.g. to the article's own slug
                    landed = client.get(answer.location, headers={"Accept": BROWSER_ACCEPT})
                    assert landed.status_code == 200, answer.location
                    assert_html_headers(landed.headers)
                    html_endpoints.add(rule.endpoint)
    assert html_endpoints >= HTML_ENDPOINTS


def test_error_pages_and_other_responses(app: Flask, site):  # type: ignore[no-untyped-def]
    client = app.test_client()
    missing = client.get("/c/khong-co", headers={"Accept": BROWSER_ACCEPT})
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert_html_headers(missing.headers)
    feed = client.get("/feeds/thoi-su.rss")  # a feed reader: the XML, no page headers needed
    assert feed.mimetype == "application/rss+xml"
    assert feed.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in feed.headers
    again = client.get("/feeds/thoi-su.rss", headers={"If-None-Match": feed.headers["ETag"]})
    assert again.status_code == 304 and again.headers["X-Content-Type-Options"] == "nosniff"
    api = client.get("/api/v1/categories")
    assert api.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_only_over_https(app: Flask, settings, site):  # type: ignore[no-untyped-def]
    client = app.test_client()
    assert_html_headers(client.get("/").headers)
    assert_html_headers(client.get("/", base_url="https://feeds.example.vn").headers, True)
    feed = client.get("/feeds/thoi-su.atom", base_url="https://feeds.example.vn")
    assert feed.headers["Strict-Transport-Security"].startswith("max-age=")
    # a forged X-Forwarded-Proto is ignored without trusted_proxies ...
    assert_html_headers(client.get("/", headers={"X-Forwarded-Proto": "https"}).headers)
    # ... and believed from a configured proxy
    proxied = create_app(settings.model_copy(update={"trusted_proxies": 1}))
    try:
        answer = proxied.test_client().get("/", headers={"X-Forwarded-Proto": "https"})
        assert_html_headers(answer.headers, secure=True)
    finally:
        proxied.extensions["feedsvc.db"].dispose()


# Installed before any page script: records every violation the browser reports.
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + e.blockedURI);
});
"""


def violations(page: Page, console: list[str]) -> list[str]:
    reported: list[str] = page.evaluate("window.__violations")
    return reported + [line for line in console if "Content Security Policy" in line]


@needs_chromium
def test_pages_load_in_chromium_without_csp_violations(browser, live_server, db):  # type: ignore[no-untyped-def]
    live_server.store.demo()
    make_user(db, "quantri")
    context = browser.new_context(base_url=live_server.base_url, locale="vi-VN")
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(15_000)
    console: list[str] = []
    page.on("console", lambda message: console.append(f"{message.type}: {message.text}"))
    page.goto("/admin/login")
    page.get_by_label("Tên đăng nhập").fill("quantri")
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url("**/admin/")
    nav = page.locator("header.bar nav a").evaluate_all("links => links.map(a => a.href)")
    assert len(nav) >= 7
    visited = [*nav, "/admin/articles/new", "/admin/sources/new", "/subscribe", "/"]
    for url in [*visited, "article", "/feeds/chinh-tri-xa-hoi.rss"]:
        if url == "article":  # the first article of the home page, just visited
            url = page.locator("main a[href*='/articles/']").first.get_attribute("href")
        answer = page.goto(url)
        assert answer is not None and answer.ok, url
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, url
        assert violations(page, console) == [], url
    # the feed page's CSS (a file now, not inline) is applied
    assert page.locator("main").evaluate("m => getComputedStyle(m).maxWidth") == "736px"
    # and the watch does see a violation: an inline script is refused
    page.evaluate(
        "() => { const s = document.createElement('script');"
        " s.textContent = 'window.ran = 1'; document.body.append(s); }"
    )
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.ran") is None
    assert any("script-src" in line for line in violations(page, console))
    context.close()
