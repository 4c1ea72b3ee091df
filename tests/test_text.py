"""Vietnamese text helpers: slugs, folding for search, cleaning, sanitising, local time."""

import unicodedata
from datetime import UTC, datetime

import pytest

from feedsvc.text import (
    as_utc,
    clean_line,
    fold,
    format_local,
    html_to_text,
    iri_to_uri,
    normalise_search,
    sanitise_html,
    slugify,
)


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Chính trị - Xã hội", "chinh-tri-xa-hoi"),
        ("Quốc phòng - An ninh", "quoc-phong-an-ninh"),
        ("Đường Điện Biên Phủ, đoạn qua Đồng Đăng", "duong-dien-bien-phu-doan-qua-dong-dang"),
        ("  Văn hóa – Xã hội!! ", "van-hoa-xa-hoi"),
        ("Y tế", "y-te"),
        ("Ưu đãi 100% cho hộ nghèo", "uu-dai-100-cho-ho-ngheo"),
    ],
)
def test_slugify_is_ascii_without_diacritics(text, slug):
    assert slugify(text) == slug


def test_decomposed_input_folds_like_composed():
    composed = "Thi đua khen thưởng"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert fold(decomposed) == fold(composed) == "thi dua khen thuong"
    assert normalise_search("  THI   ĐUA ") == "thi dua"


def test_clean_line_drops_control_characters_and_squeezes_spaces():
    assert clean_line("Văn bản\x0b dán\x00 từ   Word\n") == "Văn bản dán từ Word"


def test_sanitise_keeps_content_drops_danger_and_absolutises_urls():
    html = (
        '<p onclick="x()" style="position:absolute">Chào&nbsp;bạn<script>alert(1)</script></p>'
        '<img src="/media/a.jpg" onerror="x()"><a href="../c/kinh-te">k</a>'
        '<a href="javascript:alert(1)">j</a><iframe src="https://x"></iframe>'
        '<img src="ảnh/đẹp.jpg">'
    )
    assert sanitise_html(html, "http://tin.example.vn/") == (
        "<p>Chào&nbsp;bạn</p>"
        '<img src="http://tin.example.vn/media/a.jpg">'
        '<a href="http://tin.example.vn/c/kinh-te" rel="noopener">k</a>'
        '<a rel="noopener">j</a>'
        '<img src="http://tin.example.vn/%E1%BA%A3nh/%C4%91%E1%BA%B9p.jpg">'
    )


def test_relative_urls_resolve_against_the_document():
    html = '<img src="a.jpg"><a href="../b.html">b</a>'
    assert sanitise_html(html, "http://huyen.example.vn/tin/1.html") == (
        '<img src="http://huyen.example.vn/tin/a.jpg">'
        '<a href="http://huyen.example.vn/b.html" rel="noopener">b</a>'
    )


def test_html_to_text_separates_blocks():
    assert html_to_text("<p>Một&amp;hai</p><p>ba<br>bốn</p>") == "Một&hai ba bốn"


def test_iri_to_uri_percent_encodes_vietnamese():
    assert iri_to_uri("http://x.vn/tin/thi-đua?q=đ") == "http://x.vn/tin/thi-%C4%91ua?q=%C4%91"


def test_local_time():
    assert as_utc(datetime(2021, 3, 26, 10, 0)) == datetime(2021, 3, 26, 3, 0, tzinfo=UTC)
    assert format_local(datetime(2021, 3, 26, 3, 0, tzinfo=UTC)) == "26/03/2021 10:00"
    assert format_local(datetime(2021, 3, 26, 20, 0, tzinfo=UTC), with_time=False) == "27/03/2021"


def test_fold_removes_every_combining_mark_not_only_vietnamese_ones():
    assert fold("Crème brûlée, Ñandú, naïve, Ωμέγα") == "creme brulee, nandu, naive, ωμεγα"
    assert fold("Ở ĐÂY CÓ ỐC, ỔI, ỸA") == "o day co oc, oi, ya"
