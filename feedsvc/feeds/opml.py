"""OPML 2.0 list of our feeds, for readers and portals that import subscriptions in bulk."""

from datetime import datetime
from email.utils import format_datetime
from xml.etree import ElementTree as ET

from feedsvc.models import Category
from feedsvc.urls import ALL_FEED, category_url, feed_url


def render_opml(
    categories: list[Category], base_url: str, site_title: str, fmt: str, now: datetime
) -> bytes:
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = site_title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(opml, "body")
    feeds = [(site_title, ALL_FEED), *((c.name, c.slug) for c in categories)]
    for title, slug in feeds:
        ET.SubElement(
            body,
            "outline",
            type="rss",
            text=title,
            title=title,
            xmlUrl=feed_url(base_url, slug, fmt),
            htmlUrl=category_url(base_url, slug),
        )
    document: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document
