"""Pure helpers for Vietnamese text, HTML and time, used by every layer.

Nothing here touches the database, the network or the clock except ``utcnow``.
"""

import html
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import pairwise
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import nh3

from feedsvc.html_nesting import limit_nesting

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# Largest HTML body stored, in bytes of UTF-8: the API and the admin refuse a larger one, ingest
# cuts it. A long news article is 5-50 kB of HTML.
MAX_BODY_BYTES = 512 * 1024

# Characters that are not XML 1.0 character data: C0 controls other than tab, newline and
# carriage return (and DEL), lone surrogates, the noncharacters U+FDD0-U+FDEF and U+FFFE/U+FFFF.
# One of them in a stored string makes feedgen refuse the whole feed. The noncharacters at the
# end of the other planes (U+1FFFE ... U+10FFFF) are a second, rarely used expression: sixteen
# astral ranges in one class make the common scan eight times slower, and only text with
# characters from U+1FFFE up (CJK extension B and beyond, Chữ Nôm among them) needs it.
_NOT_XML_CHARS = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]"
)
_MAYBE_ASTRAL_NONCHARS = re.compile("[\U0001fffe-\U0010ffff]")
_ASTRAL_NONCHARS = re.compile(
    "["
    + "".join(
        f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0x10000, 0x110000, 0x10000)
    )
    + "]"
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")

# Vietnamese needs eight combining marks (five tones; circumflex, breve, horn): removing them
# with str.replace is a C scan each, far faster than a regex over every character (fold ran
# over every stored article's text and dominated ingest). Other marks, rarer, take the regex.
_VIETNAMESE_MARKS = ("\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "\u0302", "\u0306", "\u031b")
_COMBINING_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")

_ALLOWED_URL_ATTRIBUTES = {("a", "href"), ("img", "src")}
_HTML_TAGS = nh3.ALLOWED_TAGS - {"area", "map"}
_HTML_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
    "abbr": {"title"},
}


def clean_text(value: str) -> str:
    """NFC-normalised, without what is not XML 1.0 character data: the form every stored
    string takes."""
    value = _NOT_XML_CHARS.sub("", value)
    if _MAYBE_ASTRAL_NONCHARS.search(value):
        value = _ASTRAL_NONCHARS.sub("", value)
    return unicodedata.normalize("NFC", value)


def body_too_large(fragment: str) -> bool:
    """Whether an HTML body is over ``MAX_BODY_BYTES``."""
    return (
        len(fragment) > MAX_BODY_BYTES // 4
        and len(fragment.encode("utf-8", "replace")) > MAX_BODY_BYTES
    )


def _bounded_html(fragment: str) -> str:
    """Clean text of at most ``MAX_BODY_BYTES``, nested at most ``html_nesting.MAX_DEPTH``
    deep: what the sanitiser can parse in linear time."""
    fragment = clean_text(fragment)
    if body_too_large(fragment):
        fragment = fragment.encode()[:MAX_BODY_BYTES].decode("utf-8", "ignore")
    return limit_nesting(fragment)


def clean_line(value: str) -> str:
    """``clean_text`` for one-line fields (titles, names): whitespace runs become one space."""
    return " ".join(clean_text(value).split())


def fold(value: str) -> str:
    """Lower-case ASCII-ish form without diacritics: "Thi Đua" -> "thi dua"."""
    # đ/Đ are letters of their own, not d plus a mark, so NFD leaves them alone. (Two
    # str.replace are much faster than str.translate on long texts.)
    decomposed = unicodedata.normalize("NFD", value.replace("đ", "d").replace("Đ", "D"))
    for mark in _VIETNAMESE_MARKS:
        decomposed = decomposed.replace(mark, "")
    if _COMBINING_MARKS.search(decomposed):
        decomposed = _COMBINING_MARKS.sub("", decomposed)
    return decomposed.casefold()


def normalise_search(value: str) -> str:
    """The form stored for search and compared against: folded, one space between words."""
    return " ".join(fold(value).split())


# A word of search (feedsvc.search): a run of letters and digits.
SEARCH_WORD = re.compile(r"[^\W_]+")


def search_pairs(folded: str) -> str:
    """Every pair of neighbouring words of a folded text, each made one word by a ``0``
    ("thi đua yêu" → "thi0dua dua0yeu"): SQLite's search index holds them beside the words
    (migration 0022), so a phrase's pairs find its candidates without walking every article
    that holds its words."""
    return " ".join(f"{first}0{second}" for first, second in pairwise(SEARCH_WORD.findall(folded)))


def slugify(value: str, max_length: int = 80) -> str:
    """ASCII slug without diacritics: "Chính trị - Xã hội" -> "chinh-tri-xa-hoi"."""
    slug = _NON_ALNUM.sub("-", fold(value)).strip("-")
    return slug[:max_length].rstrip("-")


def iri_to_uri(url: str) -> str:
    """Percent-encode non-ASCII characters (Vietnamese paths) so the URL is valid in a feed."""
    parts = urlsplit(clean_text(url))
    netloc = parts.netloc
    if not netloc.isascii():
        try:
            netloc = netloc.encode("idna").decode("ascii")
        except UnicodeError:
            netloc = quote(netloc, safe=":@[]")  # not a name IDNA can spell; no host either
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            quote(parts.path, safe="/%:@!$&'()*+,;="),
            quote(parts.query, safe="=&%:@!$'()*+,;/?"),
            quote(parts.fragment, safe="%:@!$&'()*+,;=/?"),
        )
    )


def sanitise_html(fragment: str, document_url: str) -> str:
    """Clean HTML for storage and feeds.

    Drops scripts, event handlers, styles and anything else outside a small allow-list (nh3,
    the ammonia sanitiser), and makes every link and image URL absolute against
    ``document_url`` (the page the HTML came from), because feed readers show content away
    from our pages (the validator's ContainsRelRef). The input is bounded first (see
    ``_bounded_html``; the API refuses a larger body before, ingest cuts it here), and the
    output is cleaned again, as character references such as ``&#xFFFF;`` are decoded by the
    sanitiser.
    """

    def absolute_urls(tag: str, attribute: str, value: str) -> str | None:
        if (tag, attribute) in _ALLOWED_URL_ATTRIBUTES:
            return iri_to_uri(urljoin(document_url, value.strip()))
        return value

    cleaned = nh3.clean(
        _bounded_html(fragment),
        tags=_HTML_TAGS,
        attributes=_HTML_ATTRIBUTES,
        attribute_filter=absolute_urls,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener",
    )
    return clean_text(cleaned).strip()


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, for search and plain-text summaries."""
    # A space before every tag keeps "<p>a</p><p>b</p>" from becoming the one word "ab".
    text = nh3.clean(_bounded_html(fragment).replace("<", " <"), tags=set(), attributes={})
    return " ".join(clean_text(html.unescape(text)).split())


def utcnow() -> datetime:
    return datetime.now(UTC)


# What services that run for a while (a refresh round, an OPML import, the notification
# jobs) take instead of a single ``now``: the edge passes ``utcnow``, a test a fixed time.
Clock = Callable[[], datetime]


def as_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken as local time (Asia/Ho_Chi_Minh)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_TZ)
    return value.astimezone(UTC)


def to_local(value: datetime) -> datetime:
    return value.astimezone(LOCAL_TZ)


def format_local(value: datetime, with_time: bool = True) -> str:
    """Vietnamese display form: 26/03/2021 10:00 (+07:00)."""
    return to_local(value).strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")
