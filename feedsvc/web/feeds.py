"""Feed endpoints: /feeds/<slug>.<rss|atom|json> and /feeds.opml.

A request costs one small query (``feed_state``); a conditional GET is answered from it
alone, and a hit in the per-process cache returns prebuilt (and pre-gzipped) bytes.
"""

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.http import http_date, is_resource_modified, quote_etag

from feedsvc.articles import position_of_page
from feedsvc.categories import list_categories
from feedsvc.errors import N_, InvalidInput
from feedsvc.feeds.opml import render_opml
from feedsvc.feeds.render import MEDIA_TYPES
from feedsvc.feeds.service import FeedRequest, FeedState, cached_feed, page_etag
from feedsvc.text import clean_line, utcnow
from feedsvc.urls import FEED_FORMATS, feed_url
from feedsvc.web import context
from feedsvc.web.params import moved_to, numbered_page, position

blueprint = Blueprint("feeds", __name__)

# Short enough that shared caches do not hold a feed much past a change; revalidation is cheap.
# While we answer errors, shared caches may keep serving what they hold (RFC 5861).
CACHE_CONTROL = "public, max-age=60, stale-if-error=86400"
# A copy served from the cache while the database is down (see FeedStates): not to be reused.
STALE_HEADERS = [
    ("Cache-Control", "public, max-age=0, stale-if-error=86400"),
    ("Warning", '111 - "Revalidation Failed"'),
]
# Read-only: any portal's scripts may fetch feeds (simple GETs need no preflight).
CORS_HEADERS = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Expose-Headers", "ETag, Link"),
]


def _wants_page(fmt: str) -> bool:
    """A browser navigating to an RSS/Atom URL: it asks for text/html before feed types.

    Feed readers ask for feed types or for anything; they get the feed.
    """
    if fmt == "json" or "text/html" not in request.headers.get("Accept", ""):
        return False  # browsers show JSON readably themselves
    feed_type = MEDIA_TYPES[fmt].split(";")[0]
    return request.accept_mimetypes.best_match([feed_type, "text/html"]) == "text/html"


def _accepts_gzip() -> bool:
    return "gzip" in request.headers.get("Accept-Encoding", "") and bool(
        request.accept_encodings["gzip"]
    )


def _conditional(environ: dict[str, object]) -> bool:
    return "HTTP_IF_NONE_MATCH" in environ or "HTTP_IF_MODIFIED_SINCE" in environ


@dataclass(frozen=True)
class _Headers:
    """The headers of one served variant, made once per content version (a hot path)."""

    not_modified: list[tuple[str, str]]
    full: list[tuple[str, str]]


def _headers(
    served_etag: str, last_modified: datetime, link: str, media_type: str, gzip_ok: bool
) -> _Headers:
    memo: dict[str, _Headers] = current_app.extensions.setdefault("feedsvc.feed_headers", {})
    made = memo.get(served_etag)
    if made is None:
        common = [
            ("ETag", quote_etag(served_etag)),
            ("Last-Modified", http_date(last_modified)),
            ("Cache-Control", CACHE_CONTROL),
            ("Vary", "Accept, Accept-Encoding"),
            ("Link", link),
            *CORS_HEADERS,
        ]
        full = [*common, ("Content-Type", media_type)]
        if gzip_ok:
            full.append(("Content-Encoding", "gzip"))
        if len(memo) > 10_000:  # old versions' entries: start afresh
            memo.clear()
        made = memo[served_etag] = _Headers(common, full)
    return made


@blueprint.get("/feeds/<slug>.<fmt>")
def feed(slug: str, fmt: str) -> ResponseReturnValue:
    settings = context.settings()
    now = utcnow()
    if request.query_string:
        query = clean_line(request.args.get("q", ""))
        feed_request = FeedRequest(slug, fmt, position(), query)
        page = numbered_page()
        if page is not None:
            return _moved(feed_request, page, now)
    else:
        feed_request = FeedRequest(slug, fmt)
    state = context.feed_states().get(slug, now)
    as_page = _wants_page(fmt)
    etag = state.etag(settings, fmt, feed_request.position, feed_request.query)
    gzip_ok = _accepts_gzip()
    served_etag = (page_etag(etag) if as_page else etag) + ("-gz" if gzip_ok else "")
    headers = _headers(
        served_etag,
        state.last_modified,
        f'<{settings.websub_hub_url}>; rel="hub", '
        f"<{feed_url(settings.base_url, slug, fmt, feed_request.query, *_cursors(feed_request))}>; "
        'rel="self"',
        "text/html; charset=utf-8" if as_page else MEDIA_TYPES[fmt],
        gzip_ok,
    )
    if _conditional(request.environ) and not is_resource_modified(
        request.environ, etag=served_etag, last_modified=state.last_modified
    ):
        return _marked(state, Response(status=304, headers=headers.not_modified))
    built = cached_feed(
        context.database(), settings, context.feed_cache(), state, feed_request, etag, now, as_page
    )
    return _marked(
        state, Response(built.gzip_body if gzip_ok else built.body, headers=headers.full)
    )


def _cursors(feed_request: FeedRequest) -> tuple[str, str]:
    return feed_request.position.before, feed_request.position.after


def _moved(feed_request: FeedRequest, page: int, now: datetime) -> ResponseReturnValue:
    """An old ``?page=N`` link: to the same page by cursor (see
    docs/decisions/0012-keyset-paging.md)."""
    state = context.feed_states().get(feed_request.slug, now)
    found = position_of_page(
        context.session(),
        now,
        page,
        context.settings().feed_items,
        state.category_id,
        feed_request.query,
    )
    return moved_to(found, page)


def _marked(state: FeedState, response: Response) -> Response:
    if state.stale:
        response.headers.update(STALE_HEADERS)
    return response


@blueprint.get("/feeds.opml")
def opml() -> Response:
    settings = context.settings()
    fmt = request.args.get("format", "rss")
    if fmt not in FEED_FORMATS:
        raise InvalidInput(N_("Định dạng không có"), {"format": N_("một trong rss, atom, json")})
    body = render_opml(
        list_categories(context.session()), settings.base_url, settings.site_title, fmt, utcnow()
    )
    return Response(body, content_type="text/x-opml; charset=utf-8", headers=CORS_HEADERS)
