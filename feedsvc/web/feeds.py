"""Feed endpoints: /feeds/<slug>.<rss|atom|json> and /feeds.opml.

A request costs one small query (``feed_state``); a conditional GET is answered from it
alone, and a hit in the per-process cache returns prebuilt (and pre-gzipped) bytes.
"""

from flask import Blueprint, Response, request
from werkzeug.http import is_resource_modified

from feedsvc.categories import list_categories
from feedsvc.errors import InvalidInput
from feedsvc.feeds.opml import render_opml
from feedsvc.feeds.render import MEDIA_TYPES
from feedsvc.feeds.service import FeedRequest, cached_feed, feed_state, page_etag
from feedsvc.text import clean_line, utcnow
from feedsvc.urls import FEED_FORMATS, feed_url
from feedsvc.web import context

blueprint = Blueprint("feeds", __name__)

# Short enough that shared caches do not hold a feed much past a change; revalidation is cheap.
CACHE_CONTROL = "public, max-age=60"


def _page_argument() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit():
        raise InvalidInput("invalid page", {"page": "must be a whole number from 1"})
    return int(raw)


def _wants_page(fmt: str) -> bool:
    """A browser navigating to an RSS/Atom URL: it asks for text/html before feed types.

    Feed readers ask for feed types or for anything; they get the feed.
    """
    if fmt == "json":  # browsers show JSON readably themselves
        return False
    feed_type = MEDIA_TYPES[fmt].split(";")[0]
    return request.accept_mimetypes.best_match([feed_type, "text/html"]) == "text/html"


def _link_header(self_url: str, hub_url: str) -> str:
    return f'<{hub_url}>; rel="hub", <{self_url}>; rel="self"'


@blueprint.get("/feeds/<slug>.<fmt>")
def feed(slug: str, fmt: str) -> Response:
    settings = context.settings()
    now = utcnow()
    feed_request = FeedRequest(
        slug=slug, fmt=fmt, page=_page_argument(), query=clean_line(request.args.get("q", ""))
    )
    session = context.session()
    state = feed_state(session, slug, now)
    as_page = _wants_page(fmt)
    etag = state.etag(settings, fmt, feed_request.page, feed_request.query)
    if as_page:
        etag = page_etag(etag)
    gzip_ok = "gzip" in request.accept_encodings
    served_etag = f"{etag}-gz" if gzip_ok else etag
    headers = {
        "Cache-Control": CACHE_CONTROL,
        "Vary": "Accept, Accept-Encoding",
        "Link": _link_header(
            feed_url(settings.base_url, slug, fmt, feed_request.page, feed_request.query),
            settings.websub_hub_url,
        ),
    }
    if not is_resource_modified(
        request.environ, etag=served_etag, last_modified=state.last_modified
    ):
        response = Response(status=304, headers=headers)
        response.set_etag(served_etag)
        response.last_modified = state.last_modified
        return response
    built = cached_feed(
        session, settings, context.feed_cache(), state, feed_request, now, as_page=as_page
    )
    response = Response(built.gzip_body if gzip_ok else built.body, headers=headers)
    response.content_type = built.media_type
    if gzip_ok:
        response.headers["Content-Encoding"] = "gzip"
    response.set_etag(served_etag)
    response.last_modified = built.last_modified
    return response


@blueprint.get("/feeds.opml")
def opml() -> Response:
    settings = context.settings()
    fmt = request.args.get("format", "rss")
    if fmt not in FEED_FORMATS:
        raise InvalidInput("unknown format", {"format": "one of rss, atom, json"})
    body = render_opml(
        list_categories(context.session()), settings.base_url, settings.site_title, fmt, utcnow()
    )
    return Response(body, content_type="text/x-opml; charset=utf-8")


@blueprint.after_request
def allow_cross_origin_reads(response: Response) -> Response:
    """Read-only feeds may be fetched by any portal's scripts (simple GETs need no preflight)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag, Link"
    return response
