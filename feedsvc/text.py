"""Pure helpers for Vietnamese text, HTML and time, used by every layer.

Nothing here touches the database, the network or the clock except ``utcnow``.
"""

import html
import re
import unicodedata
from datetime import UTC, datetime
from urllib.parse import quote, urljoin, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import nh3

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")

# C0 controls other than tab, newline and carriage return: they are invalid in XML 1.0, and one
# of them (text pasted from Word) makes feedgen refuse the whole feed.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
    """NFC-normalise and drop control characters; the form every stored string takes."""
    return unicodedata.normalize("NFC", _CONTROL_CHARS.sub("", value))


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


def slugify(value: str, max_length: int = 80) -> str:
    """ASCII slug without diacritics: "Chính trị - Xã hội" -> "chinh-tri-xa-hoi"."""
    slug = _NON_ALNUM.sub("-", fold(value)).strip("-")
    return slug[:max_length].rstrip("-")


def iri_to_uri(url: str) -> str:
    """Percent-encode non-ASCII characters (Vietnamese paths) so the URL is valid in a feed."""
    parts = urlsplit(url)
    netloc = (
        parts.netloc.encode("idna").decode("ascii")
        if not parts.netloc.isascii()
        else (parts.netloc)
    )
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
    from our pages (the validator's ContainsRelRef).
    """

    def absolute_urls(tag: str, attribute: str, value: str) -> str | None:
        if (tag, attribute) in _ALLOWED_URL_ATTRIBUTES:
            return iri_to_uri(urljoin(document_url, value.strip()))
        return value

    return nh3.clean(
        clean_text(fragment),
        tags=_HTML_TAGS,
        attributes=_HTML_ATTRIBUTES,
        attribute_filter=absolute_urls,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener",
    ).strip()


def html_to_text(fragment: str) -> str:
    """Visible text of an HTML fragment, for search and plain-text summaries."""
    # A space before every tag keeps "<p>a</p><p>b</p>" from becoming the one word "ab".
    text = nh3.clean(fragment.replace("<", " <"), tags=set(), attributes={})
    return " ".join(html.unescape(text).split())


def utcnow() -> datetime:
    return datetime.now(UTC)


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
