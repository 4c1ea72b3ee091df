"""A feed as a readable HTML page, for a person who opens a feed URL in a browser.

The page is defined once, by the XSL stylesheet the feeds reference (``web/static/feed.xsl``).
It is applied here, on the server, because browsers show application/rss+xml as plain text
and are removing XSLT altogether (Chromium warns so since M143); clients that still apply
the ``<?xml-stylesheet?>`` themselves get the same page.
"""

import threading
from importlib.resources import files

from lxml import etree

STYLESHEET = files("feedsvc") / "web" / "static" / "feed.xsl"
_local = threading.local()


def _transform() -> etree.XSLT:
    # One XSLT object per thread: lxml does not promise that one can be shared.
    if not hasattr(_local, "transform"):
        _local.transform = etree.XSLT(etree.fromstring(STYLESHEET.read_bytes()))
    transform: etree.XSLT = _local.transform
    return transform


def render_page(feed_xml: bytes) -> bytes:
    """The HTML page of an RSS or Atom document."""
    result = _transform()(etree.fromstring(feed_xml))
    # bytes() serialises per the xsl:output; types-lxml leaves out the result's buffer protocol.
    page: bytes = bytes(result)  # type: ignore[call-overload]
    return page
