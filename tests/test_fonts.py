"""Vietnamese letters drawn in one face everywhere, in a real browser (Debian's Chromium).

A word is broken when its letters come from two faces: a system font with "ô" but no "ổ"
draws "tổ" as "tô" plus a hook from another font. Every page's font stacks start with the
faces the site serves (web/static/fonts.css), which hold every Vietnamese letter. The test
types Vietnamese into every text input, text area and option of the pages a citizen or an
editor uses, and asks the browser (DevTools' CSS.getPlatformFontsForNode, which reports the
faces that drew a node's text and how many glyphs each drew) which faces drew each one: the
reference is that every glyph comes from the site's own face, whatever the machine has
installed. A screenshot of each page is kept beside the test's temporary files.
"""

from collections.abc import Iterator
from typing import Any

from playwright.sync_api import CDPSession, Page

from tests.admin_helpers import PASSWORD, make_user
from tests.browser import needs_chromium

pytestmark = needs_chromium

VIETNAMESE = "Tổ chức thi đua: Ứng dụng ĐỔI MỚI ở Huế — ế ữ ợ ẵ ỹ ậ"
SITE_FACES = {"Noto Sans", "Noto Sans Mono"}  # the faces inside fonts/*.woff2
PUBLIC_PAGES = ["/", "/c/thoi-su", "/subscribe", "/feeds/thoi-su.rss"]
ADMIN_PAGES = ["/admin/articles/new", "/admin/sources/new", "/admin/", "/admin/articles/"]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for key in ("children", "shadowRoots", "contentDocument"):
        value = node.get(key)
        for child in value if isinstance(value, list) else [value] if value else []:
            yield from _nodes(child)


def _faces_used(cdp: CDPSession) -> dict[str, set[tuple[str, bool]]]:
    """For each element that draws text (the browser's own inner parts of inputs
    included): the faces that drew it, as (family, served by the site)."""
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1, "pierce": True})["root"]
    used: dict[str, set[tuple[str, bool]]] = {}
    for node in _nodes(root):
        if node.get("nodeType") != 1:
            continue
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})["fonts"]
        faces = {(font["familyName"], font["isCustomFont"]) for font in fonts}
        if faces:
            name = f"<{node['localName']} {' '.join(node.get('attributes', [])[:4])}>"
            used.setdefault(name, set()).update(faces)
    return used


def _type_vietnamese(page: Page) -> int:
    """Vietnamese in every text field of the page; how many fields took it."""
    fields = page.locator(
        "input:not([type]), input[type=text], input[type=search], input[type=email],"
        " input[type=url], textarea"
    )
    for index in range(fields.count()):
        field = fields.nth(index)
        if field.is_visible() and field.is_editable():
            field.fill(VIETNAMESE)
    return fields.count()


def _fonts_loaded(page: Page) -> None:
    """Waits for the page's fonts through the DevTools protocol's evaluation, which a page's
    CSP (no 'unsafe-eval' on the admin) does not stop, unlike ``wait_for_function``."""
    assert page.evaluate("document.fonts.ready.then(() => document.fonts.status)") == "loaded"


def _check(page: Page, path: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    page.goto(path)
    _fonts_loaded(page)
    _type_vietnamese(page)
    _fonts_loaded(page)
    page.screenshot(path=tmp_path / f"{path.strip('/').replace('/', '_') or 'home'}.png")
    used = _faces_used(page.context.new_cdp_session(page))
    assert used, f"{path}: no text drawn"
    foreign = {
        name: faces
        for name, faces in used.items()
        if any(not served or family not in SITE_FACES for family, served in faces)
    }
    assert not foreign, f"{path}: text drawn with faces the site does not serve: {foreign}"


def test_public_pages_draw_vietnamese_in_the_sites_faces(browser, live_server, tmp_path):  # type: ignore[no-untyped-def]
    live_server.store.category("Thời sự")
    live_server.store.article("thoi-su", "Tổ chức thi đua ở Huế", body_html="<p>Ứng dụng ữ ợ</p>")
    context = browser.new_context(base_url=live_server.base_url, locale="vi-VN")
    page = context.new_page()
    try:
        for path in PUBLIC_PAGES:
            _check(page, path, tmp_path)
    finally:
        context.close()


def test_admin_pages_draw_vietnamese_in_the_sites_faces(browser, live_server, db, tmp_path):  # type: ignore[no-untyped-def]
    live_server.store.category("Thời sự")
    live_server.store.article("thoi-su", "Tổ chức thi đua ở Huế")
    make_user(db, "quantri")
    context = browser.new_context(base_url=live_server.base_url, locale="vi-VN")
    page = context.new_page()
    try:
        page.goto("/admin/login")
        _check(page, "/admin/login", tmp_path)
        page.get_by_label("Tên đăng nhập").fill("quantri")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        page.wait_for_url("**/admin/")
        for path in ADMIN_PAGES:
            _check(page, path, tmp_path)
    finally:
        context.close()
