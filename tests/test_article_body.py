"""The article body without the rich-text editor's script: the form's textarea is posted
as it is (the editor only fills it in), the preview shows the HTML exactly as the feeds will
carry it (the same sanitiser), and feeds holding an uploaded picture as enclosure, a figure
and a table stay valid in the W3C validator."""

import io
import json
import re

from PIL import Image

from feedsvc.media import media_store, store_image
from tests.admin_helpers import csrf_of, make_user, sign_in
from tests.test_feed_validity import assert_valid

BODY = (
    "<h2>Khen thưởng</h2>"
    '<p>Sáng nay <strong>khánh thành</strong> <em>cầu</em>, <a href="/c/thoi-su">xem thêm</a>.</p>'
    "<ul><li>một</li><li>hai</li></ul><blockquote><p>Trích lời</p></blockquote>"
    '<figure><img src="https://anh.example.vn/cau.jpg" alt="Cầu"><figcaption>Cầu</figcaption>'
    "</figure>"
    '<table><tbody><tr><th scope="col">Đơn vị</th><th>Điểm</th></tr>'
    '<tr><td style="color:red">A</td><td onclick="x()">9</td></tr></tbody></table>'
    "<script>alert(1)</script>"
)


def test_without_javascript_the_textarea_posts_and_the_preview_is_the_feed_html(client, db, store):
    store.category("Thời sự")
    make_user(db, "bientap", role="editor")
    sign_in(client, "bientap")
    form = client.get("/admin/articles/new").data.decode()
    assert '<textarea id="f-body_html" name="body_html"' in form
    assert re.search(r'<div class="editor" hidden', form)  # shown only by the script
    fields = {"title": "Khánh thành cầu", "category": "thoi-su", "body_html": BODY}
    preview = client.post(
        "/admin/articles/new",
        data={"csrf_token": csrf_of(form.encode()), **fields, "action": "preview"},
    ).data.decode()
    shown = re.search(r'<div class="article-body">(.*?)</div>\n</section>', preview, re.S)
    assert shown is not None
    saved = client.post(
        "/admin/articles/new",
        data={"csrf_token": csrf_of(preview.encode()), **fields, "action": "save"},
    )
    assert saved.status_code == 302
    item = json.loads(client.get("/feeds/thoi-su.json").data)["items"][0]
    assert item["content_html"] == shown.group(1)
    html = item["content_html"]
    assert "<figure><img" in html and "<figcaption>Cầu</figcaption></figure>" in html
    assert '<th scope="col">Đơn vị</th>' in html and "<td>A</td><td>9</td>" in html
    assert 'href="http://feeds.example.vn/c/thoi-su"' in html  # made absolute
    assert "script" not in html and "style" not in html and "onclick" not in html


def test_feeds_with_an_uploaded_picture_a_figure_and_a_table_are_valid(live_server):
    settings = live_server.settings
    data = io.BytesIO()
    Image.linear_gradient("L").resize((1600, 900)).convert("RGB").save(data, "JPEG")
    image = store_image(media_store(settings), data.getvalue(), settings)
    live_server.store.category("Thời sự")
    body = BODY.replace("https://anh.example.vn/cau.jpg", image.url)
    live_server.store.article(
        "thoi-su",
        "Khánh thành cầu",
        body_html=body,
        image_url=image.url,
        image_type=image.media_type,
        image_length=image.length,
    )
    base = live_server.base_url
    assert_valid(f"{base}/feeds/thoi-su.rss", f"{base}/feeds/thoi-su.atom", f"{base}/feeds/all.rss")
