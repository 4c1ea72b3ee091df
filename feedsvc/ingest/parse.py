"""Parse fetched bytes with feedparser into plain, frozen values.

This is the only module that imports feedparser, and a FeedParserDict never leaves it.
feedparser never fetches anything here: it gets bytes the fetcher has already read.
"""

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from time import struct_time
from urllib.parse import urljoin

import feedparser

from feedsvc.errors import N_, NotAFeed
from feedsvc.media import Enclosure

_XML_DECLARATION = re.compile(rb"^(\s*<\?xml[^>]*?encoding=[\"'])([\w.:-]+)([\"'])", re.I)
_SINGLE_BYTE = {"iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252", "us-ascii", "ascii"}
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.I)
# A character reference to a surrogate (&#xD800; ... &#57343;) makes feedparser's loose
# parser raise, failing the whole fetch; it stands for nothing, so it becomes U+FFFD.
_SURROGATE_REFERENCE = re.compile(
    rb"&#(?:x0*d[89a-f][0-9a-f]{2}|0*(?:5529[6-9]|55[3-9]\d\d|56\d{3}|57[0-2]\d\d|573[0-3]\d|5734[0-3]));",
    re.I,
)


@dataclass(frozen=True)
class ParsedEntry:
    base: str  # the URL relative links in its HTML resolve against (xml:base), or ""
    guid: str | None
    link: str | None
    title: str
    summary: str
    content_html: str
    author: str
    categories: tuple[str, ...]
    published: datetime | None
    updated: datetime | None
    enclosure: Enclosure | None


@dataclass(frozen=True)
class ParsedFeed:
    format: str
    title: str
    link: str | None
    hub: str | None
    self_url: str | None
    entries: tuple[ParsedEntry, ...]
    warning: str  # why the document was not well-formed, when entries were still read


def _declared_charset(body: bytes, content_type: str) -> str | None:
    match = _XML_DECLARATION.match(body[:300])
    if match:
        return match.group(2).decode("ascii").lower()
    header = _CHARSET.search(content_type)
    return header.group(1).lower() if header else None


def recover_utf8(body: bytes, content_type: str) -> tuple[bytes, str]:
    """UTF-8 mislabelled as a single-byte charset (a common misconfiguration) read as UTF-8.

    Text in ISO-8859-1 or windows-1252 is practically never also valid multi-byte UTF-8, so
    bytes that decode as UTF-8 with non-ASCII in them are taken to be UTF-8.
    """
    if _declared_charset(body, content_type) not in _SINGLE_BYTE or body.isascii():
        return body, content_type
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return body, content_type
    body = _XML_DECLARATION.sub(rb"\g<1>utf-8\g<3>", body, count=1)
    media_type = content_type.split(";")[0].strip() or "application/xml"
    return body, f"{media_type}; charset=utf-8"


def _when(entry: feedparser.FeedParserDict, key: str) -> datetime | None:
    # dict.get, not entry.get: FeedParserDict maps a missing "updated" to "published" with a
    # DeprecationWarning (https://github.com/kurtmckee/feedparser/issues/310); we want each
    # date only when the entry has it.
    value: struct_time | None = dict.get(entry, key)
    try:
        return datetime(*value[:6], tzinfo=UTC) if value else None
    except (ValueError, OverflowError):  # a date no calendar has: as if there were none
        return None


def _enclosure(entry: feedparser.FeedParserDict) -> Enclosure | None:
    for enclosure in entry.get("enclosures", []):
        href, length = enclosure.get("href"), str(enclosure.get("length", ""))
        if href and length.isdigit() and int(length) > 0 and enclosure.get("type"):
            return Enclosure(href, enclosure["type"], int(length))
    return None


def _entry(entry: feedparser.FeedParserDict, feed_url: str, feed_author: str) -> ParsedEntry:
    content = entry.get("content") or []
    chosen = next((c for c in content if "html" in c.get("type", "")), None)
    chosen = chosen or (content[0] if content else entry.get("summary_detail"))
    html = chosen.get("value", "") if chosen else ""
    link = entry.get("link")
    return ParsedEntry(
        base=chosen.get("base", "") if chosen else "",
        guid=entry.get("id") or None,
        link=urljoin(feed_url, link) if link else None,
        title=entry.get("title", ""),
        summary=entry.get("summary", ""),
        content_html=html,
        author=entry.get("author") or feed_author,  # RFC 4287 §4.2.1: the feed's author
        categories=tuple(t.get("term") or t.get("label") or "" for t in entry.get("tags", [])),
        published=_when(entry, "published_parsed"),
        updated=_when(entry, "updated_parsed"),
        enclosure=_enclosure(entry),
    )


def parse_feed(body: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """Read a feed from ``body`` fetched at ``url``; raise NotAFeed if there is none.

    Relative URLs in HTML are not resolved here: feedparser would re-parse every body to do
    so (a third of ingest time). Each entry carries its xml:base instead, and the sanitiser
    resolves against it, else against the entry's link (RSS has no base of its own).
    """
    body, content_type = recover_utf8(body, content_type)
    body = _SURROGATE_REFERENCE.sub(b"&#xFFFD;", body)
    parsed = feedparser.parse(
        body,
        response_headers={"content-type": content_type} if content_type else {},
        sanitize_html=False,  # nh3 sanitises on the way into the store
        resolve_relative_uris=False,  # so does the sanitiser, with ParsedEntry.base
    )
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception") or N_("không có phần tử RSS hay Atom nào")
        raise NotAFeed(N_("Không phải nguồn tin RSS hay Atom: %(reason)s"), reason=reason)
    links = {link.get("rel"): link.get("href") for link in parsed.feed.get("links", [])}
    return ParsedFeed(
        format=parsed.get("version") or "unknown",
        title=parsed.feed.get("title", ""),
        link=parsed.feed.get("link"),
        hub=links.get("hub"),
        self_url=links.get("self"),
        entries=tuple(
            _entry(entry, url, parsed.feed.get("author", "")) for entry in parsed.entries
        ),
        warning=str(parsed.get("bozo_exception", "")) if parsed.get("bozo") else "",
    )
