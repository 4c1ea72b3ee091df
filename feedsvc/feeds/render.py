"""Render a FeedDocument as RSS 2.0, Atom 1.0 or JSON Feed 1.1 bytes.

feedgen is used only here. Its 1.0 release has traps that the W3C validator catches
(``docs/feed-checklist.md``); the workarounds live in the small extension below:

- RSS gets only ``atom:link rel="self"`` from feedgen; hub and paging links are added here.
- Atom entry links lose ``rel``/``type``/``length`` (lkiesow/python-feedgen#135, #143), so an
  enclosure given to feedgen becomes a second alternate link. Atom enclosures are written here.
- A byline without e-mail writes no RSS ``<author>``; bylines go out as ``dc:creator``.
- The ``<?xml-stylesheet?>`` instruction that makes a feed readable in a browser is added here.
"""

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedEntry, FeedGenerator
from lxml import etree

from feedsvc import __version__
from feedsvc.feeds.document import FeedDocument, FeedItem
from feedsvc.text import to_local
from feedsvc.urls import category_url, stylesheet_url

log = logging.getLogger(__name__)

ATOM_NS = "http://www.w3.org/2005/Atom"
GENERATOR_URI = "https://github.com/feedsvc/feedsvc"
MEDIA_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


class _FeedLinks(BaseExtension):
    """Extra ``atom:link`` elements of an RSS channel (hub, RFC 5005 paging)."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []

    def extend_rss(self, feed: etree._Element) -> etree._Element:
        channel = feed[0]
        for rel, href in self.links:
            etree.SubElement(channel, f"{{{ATOM_NS}}}link", href=href, rel=rel)
        return feed


class _EntryEnclosure(BaseEntryExtension):
    """An Atom ``link rel="enclosure"`` with its type and length, which feedgen would drop."""

    def __init__(self) -> None:
        self.enclosure: tuple[str, str, int] | None = None

    def extend_atom(self, entry: etree._Element) -> etree._Element:
        if self.enclosure is not None:
            url, media_type, length = self.enclosure
            etree.SubElement(
                entry, "link", rel="enclosure", href=url, type=media_type, length=str(length)
            )
        return entry


def _feed_time(value: datetime) -> datetime:
    """Local time (+07:00), whole seconds: what every feed format shows."""
    return to_local(value).replace(microsecond=0)


def _generator(doc: FeedDocument, fmt: str) -> FeedGenerator:
    fg = FeedGenerator()
    fg.register_extension("feedsvc", _FeedLinks, _EntryEnclosure)
    fg.id(doc.first_url("atom"))
    fg.title(doc.title)
    fg.description(doc.description or doc.title)
    fg.language("vi")
    fg.author(name=doc.publisher)
    fg.generator("feedsvc", __version__, GENERATOR_URI)
    fg.updated(_feed_time(doc.updated))
    # Self first, the HTML page last: feedgen writes the last link as the RSS <channel><link>.
    fg.link(href=doc.url(fmt), rel="self", type=MEDIA_TYPES[fmt].split(";")[0])
    extra = [("hub", doc.hub_url), *doc.paging(fmt).items()]
    if fmt == "rss":
        fg.feedsvc.links = extra
    else:
        for rel, href in extra:
            fg.link(href=href, rel=rel)
    fg.link(href=doc.html_url, rel="alternate", type="text/html")
    return fg


def _add_entry(fg: FeedGenerator, item: FeedItem, doc: FeedDocument, fmt: str) -> FeedEntry:
    fe = fg.add_entry(order="append")
    fe.id(item.id)
    fe.guid(item.id, permalink=False)
    fe.title(item.title)
    fe.link(href=item.url)
    fe.published(_feed_time(item.published_at))
    fe.updated(_feed_time(item.updated_at))
    fe.description(item.summary or item.title)
    if item.content_html:
        fe.content(item.content_html, type="html" if fmt == "atom" else None)
    fe.category(
        term=item.category_name if fmt == "rss" else item.category_slug,
        label=item.category_name,
        scheme=category_url(doc.base_url, item.category_slug),
    )
    if fmt == "rss":
        if item.author:
            fe.dc.dc_creator(item.author)
        if item.image:
            fe.enclosure(item.image.url, str(item.image.length), item.image.media_type)
    else:
        fe.author(name=item.author or doc.publisher)
        if item.image:
            fe.feedsvc.enclosure = (item.image.url, item.image.media_type, item.image.length)
    return fe


def _with_stylesheet(xml: bytes, doc: FeedDocument) -> bytes:
    declaration, _, rest = xml.partition(b"?>")
    pi = f'<?xml-stylesheet type="text/xsl" href="{stylesheet_url(doc.base_url)}"?>'
    return declaration + b"?>\n" + pi.encode() + b"\n" + rest.lstrip()


def render_rss(doc: FeedDocument) -> bytes:
    fg = _generator(doc, "rss")
    fg.load_extension("dc", atom=False, rss=True)
    for item in doc.items:
        _add_entry(fg, item, doc, "rss")
    return _with_stylesheet(fg.rss_str(pretty=False), doc)


def render_atom(doc: FeedDocument) -> bytes:
    fg = _generator(doc, "atom")
    for item in doc.items:
        _add_entry(fg, item, doc, "atom")
    return _with_stylesheet(fg.atom_str(pretty=False), doc)


def _json_item(item: FeedItem) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "summary": item.summary,
        "content_html": item.content_html or item.summary,
        "date_published": _feed_time(item.published_at).isoformat(),
        "date_modified": _feed_time(item.updated_at).isoformat(),
        "tags": [item.category_name],
    }
    if item.author:
        entry["authors"] = [{"name": item.author}]
    if item.image:
        entry["image"] = item.image.url
        entry["attachments"] = [
            {
                "url": item.image.url,
                "mime_type": item.image.media_type,
                "size_in_bytes": item.image.length,
            }
        ]
    return entry


def render_json(doc: FeedDocument) -> bytes:
    """JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/)."""
    feed: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": doc.title,
        "home_page_url": doc.html_url,
        "feed_url": doc.url("json"),
        "description": doc.description,
        "language": "vi",
        "authors": [{"name": doc.publisher}],
        "hubs": [{"type": "WebSub", "url": doc.hub_url}],
        "items": [_json_item(item) for item in doc.items],
    }
    next_url = doc.paging("json").get("next")
    if next_url:
        feed["next_url"] = next_url
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode()


RENDERERS: dict[str, Callable[[FeedDocument], bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


def render_feed(doc: FeedDocument, fmt: str) -> bytes:
    """The feed in ``fmt``; an item that cannot be rendered is logged and left out.

    One stored article (a character XML refuses, stored before every door cleaned text) must
    not take its whole feed, and the announcements built from it, down. The document is
    rendered whole first; only when that fails is each item tried alone, so the common case
    costs one render.
    """
    render = RENDERERS[fmt]
    try:
        return render(doc)
    except Exception:
        if not doc.items:
            raise
        render(replace(doc, items=()))  # a failure outside the items is raised, not hidden
    items = []
    for item in doc.items:
        try:
            render(replace(doc, items=(item,)))
        except Exception:
            log.exception("feed %s.%s: article %s left out", doc.slug, fmt, item.article_id)
        else:
            items.append(item)
    return render(replace(doc, items=tuple(items)))
