"""Picture uploads of the admin editor, over HTTP: what is taken (JPEG, PNG, WebP, judged by
decoding the bytes), what is refused and with which status (wrong type, a file lying about
its type, too many bytes, too many pixels), how stored pictures are served (immutable,
content-hashed names), and an uploaded article image as the enclosure of every feed format.
"""

import io
import json
import os
import struct
import zlib

import feedparser
import pytest
from PIL import Image

from feedsvc.settings import Settings
from feedsvc.web import create_app
from tests.admin_helpers import csrf_of, make_user, sign_in
from tests.conftest import BASE_URL

MAX_BYTES = 300_000
MAX_PIXELS = 4_000_000


def picture(fmt: str, size: tuple[int, int] = (1600, 1000), mode: str = "RGB") -> bytes:
    """A picture with some detail (a gradient), so that its encoded size is realistic."""
    image = Image.linear_gradient("L").resize(size).convert(mode)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.fixture
def admin(settings: Settings, db):  # type: ignore[no-untyped-def]
    """A signed-in admin's client, on an app with small limits."""
    app = create_app(
        settings.model_copy(
            update={
                "media_max_upload_bytes": MAX_BYTES,
                "media_max_pixels": MAX_PIXELS,
            }
        )
    )
    app.config["TESTING"] = True
    make_user(db, "quantri")
    client = app.test_client()
    sign_in(client, "quantri")
    yield client
    app.extensions["feedsvc.db"].dispose()


def upload(client, data: bytes, filename: str = "anh.jpg", content_type: str = "image/jpeg"):  # type: ignore[no-untyped-def]
    token = csrf_of(client.get("/admin/articles/new").data)
    return client.post(
        "/admin/media/",
        data={"csrf_token": token, "image": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
    )


def test_a_jpeg_is_stored_resized_and_served_for_ever(admin):
    answer = upload(admin, picture("JPEG", (2400, 1500)))
    assert answer.status_code == 201, answer.json
    image = answer.json
    assert image["url"].startswith(f"{BASE_URL}/media/") and image["url"].endswith("-1200.jpg")
    assert (image["type"], image["width"], image["height"]) == ("image/jpeg", 1200, 750)
    served = admin.get(image["url"].removeprefix(BASE_URL))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert len(served.data) == image["length"] == int(served.headers["Content-Length"])
    assert Image.open(io.BytesIO(served.data)).size == (1200, 750)
    thumbnail = admin.get(image["thumbnail_url"].removeprefix(BASE_URL))
    assert Image.open(io.BytesIO(thumbnail.data)).size == (400, 250)
    etag = served.headers["ETag"]
    assert admin.get(served.request.path, headers={"If-None-Match": etag}).status_code == 304
    # The same upload again: the same names (stored once).
    assert upload(admin, picture("JPEG", (2400, 1500))).json["url"] == image["url"]


def test_png_and_webp_are_taken_and_a_small_picture_is_not_enlarged(admin):
    transparent = upload(admin, picture("PNG", (300, 200), "RGBA"), "logo.png", "image/png")
    assert transparent.status_code == 201
    assert (transparent.json["type"], transparent.json["width"]) == ("image/png", 300)
    webp = upload(admin, picture("WEBP", (800, 600)), "anh.webp", "image/webp")
    assert webp.status_code == 201
    assert (webp.json["type"], webp.json["width"], webp.json["height"]) == ("image/jpeg", 800, 600)


def test_the_type_is_judged_by_the_bytes_not_the_name(admin):
    # PNG bytes under a JPEG name and type: a PNG picture, taken as what it is.
    assert upload(admin, picture("PNG", (640, 480)), "anh.jpg", "image/jpeg").status_code == 201
    # JPEG bytes named .txt, sent as text: a JPEG picture all the same.
    jpeg = picture("JPEG", (640, 480))
    assert upload(admin, jpeg, "ghi-chu.txt", "text/plain").status_code == 201


@pytest.mark.parametrize(
    ("data", "filename", "content_type"),
    [
        (picture("GIF", (100, 100)), "anh.gif", "image/gif"),  # a picture, of a type not taken
        (picture("GIF", (100, 100)), "anh.jpg", "image/jpeg"),  # the same, lying
        ("Biên bản họp".encode(), "bien-ban.txt", "text/plain"),
        (b"\xff\xd8\xff\xe0" + b"\x00JFIF garbage" * 50, "anh.jpg", "image/jpeg"),  # a JPEG start
        (picture("JPEG", (640, 480))[:2000], "cut.jpg", "image/jpeg"),  # cut short
        (b"", "empty.png", "image/png"),
    ],
    ids=["gif", "gif-named-jpg", "text", "garbage-with-jpeg-magic", "truncated", "empty"],
)
def test_what_is_not_a_jpeg_png_or_webp_is_refused_with_415(admin, data, filename, content_type):
    answer = upload(admin, data, filename, content_type)
    if not data:
        assert answer.status_code == 415 and "JPEG, PNG" in answer.json["error"]
        return
    assert answer.status_code == 415, answer.json
    assert answer.json["error"] in (
        "Tệp không phải ảnh JPEG, PNG hoặc WebP.",
        "Ảnh bị hỏng hoặc không đọc được.",
    )


def test_too_many_bytes_is_refused_with_413(admin):
    # Random pixels do not compress: a 330×330 PNG of them is ~330 kB, over the 300 kB limit.
    noise = Image.frombytes("RGB", (330, 330), os.urandom(330 * 330 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > MAX_BYTES
    answer = upload(admin, out.getvalue(), "nhieu.png", "image/png")
    assert answer.status_code == 413
    assert answer.json["error"] == "Tệp quá lớn: tối đa 300,000 byte."
    # Far over the limit, the body is refused before the form is read.
    # (450 kB: over the limit and the form's 64 kB, under the test client's spooling to disk.)
    assert upload(admin, b"\0" * 450_000).status_code == 413


def test_too_many_pixels_is_refused_before_decoding(admin):
    # 3000×2000 = 6 megapixels of one colour: a few kilobytes that would decode to 18 MB.
    bomb = io.BytesIO()
    Image.new("RGB", (3000, 2000), "white").save(bomb, "PNG")
    assert len(bomb.getvalue()) < 50_000
    answer = upload(admin, bomb.getvalue(), "bom.png", "image/png")
    assert answer.status_code == 422
    assert answer.json["error"] == "Ảnh quá lớn: tối đa 4,000,000 điểm ảnh (rộng × cao)."


def png_header_only(width: int, height: int) -> bytes:
    """The start of a PNG claiming ``width`` × ``height`` pixels: what a bomb's header says."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_bomb_beyond_pillows_own_limit_is_refused_the_same_way(admin):
    answer = upload(admin, png_header_only(50_000, 50_000), "bom.png", "image/png")
    assert answer.status_code == 422 and "điểm ảnh" in answer.json["error"]


def test_pictures_are_turned_upright_and_lose_their_metadata(admin):
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: the camera was turned; the picture is to be rotated 90°
    exif[0x010F] = "Máy ảnh của phóng viên"  # Make
    exif[0x8825] = {2: (21.0, 1.0, 0.0)}  # GPS latitude: where the photo was taken
    out = io.BytesIO()
    Image.linear_gradient("L").resize((1000, 600)).convert("RGB").save(out, "JPEG", exif=exif)
    image = upload(admin, out.getvalue()).json
    assert (image["width"], image["height"]) == (600, 1000)
    served = Image.open(io.BytesIO(admin.get(image["url"].removeprefix(BASE_URL)).data))
    assert served.size == (600, 1000)
    assert not served.getexif() and "exif" not in served.info


def test_uploads_need_a_session_a_csrf_token_and_a_file(admin, app):
    anonymous = app.test_client()
    data = {"image": (io.BytesIO(picture("JPEG", (10, 10))), "a.jpg", "image/jpeg")}
    assert anonymous.post("/admin/media/", data=data).status_code == 401
    data = {"image": (io.BytesIO(picture("JPEG", (10, 10))), "a.jpg", "image/jpeg")}
    assert admin.post("/admin/media/", data=data).status_code == 400  # no CSRF token
    token = csrf_of(admin.get("/admin/articles/new").data)
    answer = admin.post("/admin/media/", data={"csrf_token": token})
    assert answer.status_code == 400 and answer.json["error"] == "Chưa chọn tệp ảnh."


def test_unknown_media_is_404(admin):
    assert admin.get("/media/" + "0" * 24 + "-1200.jpg").status_code == 404
    assert admin.get("/media/..%2Fsecret.jpg").status_code == 404


def test_an_uploaded_article_image_is_the_enclosure_of_every_feed(admin, store):
    store.category("Thời sự")
    image = upload(admin, picture("JPEG", (2000, 1200))).json
    token = csrf_of(admin.get("/admin/articles/new").data)
    figure = f'<figure><img src="{image["url"]}" alt=""><figcaption>Cầu mới</figcaption></figure>'
    body = f"<p>Mở đầu.</p>{figure}"
    saved = admin.post(
        "/admin/articles/new",
        data={
            "csrf_token": token,
            "title": "Khánh thành cầu",
            "category": "thoi-su",
            "body_html": body,
            "image_url": image["url"],
            "action": "save",
        },
    )
    assert saved.status_code == 302
    rss = feedparser.parse(admin.get("/feeds/thoi-su.rss").data).entries[0]
    assert rss.enclosures == [
        {"href": image["url"], "type": "image/jpeg", "length": str(image["length"])}
    ]
    atom = feedparser.parse(admin.get("/feeds/thoi-su.atom").data).entries[0]
    assert [(e.href, e.type, e.length) for e in atom.enclosures] == [
        (image["url"], "image/jpeg", str(image["length"]))
    ]
    item = json.loads(admin.get("/feeds/thoi-su.json").data)["items"][0]
    assert item["attachments"] == [
        {"url": image["url"], "mime_type": "image/jpeg", "size_in_bytes": image["length"]}
    ]
    assert figure in item["content_html"]
    # Another image (not ours): its type and length are unknown, so no enclosure; none: none.
    edit = saved.headers["Location"]
    token = csrf_of(admin.get(edit).data)
    fields = {"csrf_token": token, "title": "Khánh thành cầu", "category": "thoi-su"}
    fields["body_html"] = body
    admin.post(edit, data={**fields, "image_url": "https://anh.example.vn/cau.jpg"})
    assert feedparser.parse(admin.get("/feeds/thoi-su.rss").data).entries[0].enclosures == []
    admin.post(edit, data={**fields, "image_url": image["url"]})
    assert len(feedparser.parse(admin.get("/feeds/thoi-su.rss").data).entries[0].enclosures) == 1
    admin.post(edit, data={**fields, "image_url": ""})
    assert "image" not in json.loads(admin.get("/feeds/thoi-su.json").data)["items"][0]
