"""The public URL scheme, in one place for the web routes and the feed builders.

Feeds and mails need absolute URLs outside any request, so these are plain functions of the
configured base URL; ``tests/test_urls.py`` checks that the Flask routes answer at each of them.
"""

from urllib.parse import urlencode

FEED_FORMATS = ("rss", "atom", "json")
ALL_FEED = "all"


def feed_url(
    base_url: str, slug: str, fmt: str, query: str = "", before: str = "", after: str = ""
) -> str:
    """URL of a feed page (the newest, or the one before/after a cursor, see
    ``feedsvc.paging``); ``slug`` is a category slug or ``all``."""
    params: dict[str, str] = {}
    if query:
        params["q"] = query
    if before:
        params["before"] = before
    if after:
        params["after"] = after
    suffix = f"?{urlencode(params)}" if params else ""
    return f"{base_url}/feeds/{slug}.{fmt}{suffix}"


def category_url(base_url: str, slug: str | None) -> str:
    return f"{base_url}/c/{slug}" if slug and slug != ALL_FEED else f"{base_url}/"


def article_url(base_url: str, article_id: int, slug: str) -> str:
    return f"{base_url}/articles/{article_id}/{slug}"


def opml_url(base_url: str) -> str:
    return f"{base_url}/feeds.opml"


def stylesheet_url(base_url: str) -> str:
    return f"{base_url}/static/feed.xsl"
