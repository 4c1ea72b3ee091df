"""Serve feeds: the cheap version check, the cache, and building a page on a miss.

Per request the web edge calls ``feed_state`` (one indexed query) and answers a conditional
GET from it alone; only a cache miss reaches ``build_feed``.
"""

import gzip
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from feedsvc import __version__
from feedsvc.articles import ARTICLE_KEY, page_visible
from feedsvc.db import UNAVAILABLE_ERRORS, Database
from feedsvc.errors import N_, DatabaseUnavailable, InvalidInput, NotFound
from feedsvc.feeds.cache import BuiltFeed, FeedCache
from feedsvc.feeds.document import FeedDocument, FeedItem
from feedsvc.feeds.page import render_page
from feedsvc.feeds.render import MEDIA_TYPES, render_feed
from feedsvc.media import Enclosure
from feedsvc.models import Article, Category, ContentState
from feedsvc.paging import Position, decode_cursor
from feedsvc.settings import Settings
from feedsvc.text import clean_line, clean_text
from feedsvc.urls import ALL_FEED, FEED_FORMATS, article_url

MAX_QUERY_LENGTH = 200
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FeedState:
    """What identifies the current content of a feed, read without loading any article."""

    slug: str
    category_id: int | None
    title: str
    description: str
    version: int
    last_modified: datetime
    next_change_at: datetime | None  # when a scheduled article becomes visible
    stale: bool = False  # the last state read: the database could not be asked this time

    def etag(self, settings: Settings, fmt: str, position: Position, query: str) -> str:
        basis = "|".join(
            (
                __version__,
                settings.base_url,
                settings.websub_hub_url,
                settings.site_title,
                str(settings.feed_items),
                self.slug,
                fmt,
                position.before,
                position.after,
                query,
                str(self.version),
                self.last_modified.isoformat(),
            )
        )
        return hashlib.sha256(basis.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class FeedRequest:
    slug: str
    fmt: str
    position: Position = field(default_factory=Position)
    query: str = ""

    def __post_init__(self) -> None:
        if self.fmt not in FEED_FORMATS:
            raise NotFound(
                N_("Không có định dạng '%(format)s'; có: rss, atom, json"), format=self.fmt
            )
        # Checked before the cursor becomes part of a cache key.
        for name, cursor in (("before", self.position.before), ("after", self.position.after)):
            if cursor:
                decode_cursor(cursor, ARTICLE_KEY, name)
        if len(self.query) > MAX_QUERY_LENGTH:
            raise InvalidInput(
                N_("Từ khóa tìm kiếm quá dài"),
                {"q": N_("tối đa %(max)d ký tự")},
                max=MAX_QUERY_LENGTH,
            )


def feed_state(session: Session, slug: str, now: datetime) -> FeedState:
    """One query: the version counter, the newest visible publish time and the next one.

    The counter changes with every write; the publish times move when a scheduled article
    becomes visible, which involves no write at all.
    """
    if slug == ALL_FEED:
        row = session.execute(
            select(
                ContentState.version,
                ContentState.changed_at,
                select(func.max(Article.published_at))
                .where(Article.published_at <= now)
                .scalar_subquery(),
                select(func.min(Article.published_at))
                .where(Article.published_at > now)
                .scalar_subquery(),
            ).where(ContentState.id == 1)
        ).one()
        version, changed_at, latest_published, next_published = row
        category_id, title, description = None, "", ""
    else:
        same_feed = [Article.category_id == Category.id]
        found = session.execute(
            select(
                Category.id,
                Category.name,
                Category.description,
                Category.content_version,
                Category.content_changed_at,
                select(func.max(Article.published_at))
                .where(*same_feed, Article.published_at <= now)
                .scalar_subquery(),
                select(func.min(Article.published_at))
                .where(*same_feed, Article.published_at > now)
                .scalar_subquery(),
            ).where(Category.slug == slug)
        ).one_or_none()
        if found is None:
            raise NotFound(N_("Không có chuyên mục '%(slug)s'"), slug=slug)
        category_id, title, description, version, changed_at, latest_published, next_published = (
            found
        )
    last_modified = max(changed_at, latest_published or changed_at).replace(microsecond=0)
    return FeedState(slug, category_id, title, description, version, last_modified, next_published)


class FeedStates:
    """Per-process memory of each feed's state, re-read only when it may have changed.

    A state is reused while the store's change token (``db.ChangeWatch``) is the one it
    was read under and no scheduled article of the feed has become visible since. The token
    is taken before the query, so a change committed during the query moves the token and the
    next request reads again: nothing stale is ever reused while the database answers.

    When it does not (down, unreachable), the last state read is returned marked ``stale``,
    so that what the cache holds for it can still be served (stale-if-error); a feed never
    read in this process has no such state, and the error goes up.
    """

    def __init__(self, database: Database) -> None:
        self._sessions = database.sessions
        self._watch = database.changes
        self._states: dict[str, tuple[int | None, FeedState]] = {}

    def get(self, slug: str, now: datetime) -> FeedState:
        token = self._watch.token() if self._watch else None
        cached = self._states.get(slug)
        if token is not None and cached is not None and cached[0] == token:
            state = cached[1]
            if state.next_change_at is None or now < state.next_change_at:
                return state
        try:
            with self._sessions() as session:
                state = feed_state(session, slug, now)
        except UNAVAILABLE_ERRORS as exc:
            if cached is None:
                raise
            log.warning("database unavailable (%s); feed %s served stale", type(exc).__name__, slug)
            return replace(cached[1], stale=True)
        self._states[slug] = (token, state)
        return state


def _entry_updated(article: Article) -> datetime:
    """The entry's "updated": its publish time until it is edited after being stored.

    An article loaded or pushed with a back-dated publish time has not changed for its readers;
    using the load time would give every such entry the same "updated" (and the validator's
    DuplicateUpdated warning).
    """
    if article.updated_at <= article.created_at:
        return article.published_at
    return max(article.updated_at, article.published_at)


def _item(article: Article, base_url: str) -> FeedItem:
    image = None
    if article.image_url and article.image_type and article.image_length:
        image = Enclosure(article.image_url, article.image_type, article.image_length)
    return FeedItem(
        article_id=article.id,
        id=article.guid,
        title=article.title,
        url=article.link or article_url(base_url, article.id, article.slug),
        summary=article.summary,
        content_html=article.body_html,
        author=article.author,
        category_slug=article.category.slug,
        category_name=article.category.name,
        published_at=article.published_at,
        updated_at=_entry_updated(article),
        image=image,
    )


def build_feed(
    session: Session, settings: Settings, state: FeedState, request: FeedRequest, now: datetime
) -> BuiltFeed:
    page = page_visible(
        session, now, request.position, settings.feed_items, state.category_id, request.query
    )
    if not page.items and not request.position.first:
        raise NotFound("Không có trang này (no such page)")
    items = tuple(_item(article, settings.base_url) for article in page.items)
    doc = replace(
        _document(settings, state, items, request.query),
        position=request.position,
        newer=page.newer,
        older=page.older,
        newer_is_first=page.newer_is_first,
    )
    body = render_feed(doc, request.fmt)
    return BuiltFeed(
        body=body,
        gzip_body=gzip.compress(body, compresslevel=6, mtime=0),
        media_type=MEDIA_TYPES[request.fmt],
        etag=state.etag(settings, request.fmt, request.position, request.query),
        last_modified=state.last_modified,
    )


def _as_page(feed: BuiltFeed) -> BuiltFeed:
    body = render_page(feed.body)
    return BuiltFeed(
        body=body,
        gzip_body=gzip.compress(body, compresslevel=6, mtime=0),
        media_type="text/html; charset=utf-8",
        etag=page_etag(feed.etag),
        last_modified=feed.last_modified,
    )


def page_etag(feed_etag: str) -> str:
    return f"{feed_etag}-page"


def cached_feed(
    database: Database,
    settings: Settings,
    cache: FeedCache,
    state: FeedState,
    request: FeedRequest,
    key: str,
    now: datetime,
    as_page: bool = False,
) -> BuiltFeed:
    """The built feed, or with ``as_page`` its HTML page (RSS and Atom only), from the cache.

    ``key`` is ``state.etag(...)`` of the request, which the caller has made already; the
    database is used only to build what the cache does not hold, and never for a stale state.
    """
    feed = cache.get(key)
    if feed is None:
        if state.stale:
            raise DatabaseUnavailable(N_("Kênh %(slug)s không có trong bộ đệm"), slug=state.slug)
        with database.sessions() as session:
            feed = build_feed(session, settings, state, request, now)
        cache.put(key, feed)
    if not as_page:
        return feed
    page = cache.get(page_etag(key))
    if page is None:
        page = _as_page(feed)
        cache.put(page.etag, page)
    return page


def _document(
    settings: Settings,
    state: FeedState,
    items: tuple[FeedItem, ...],
    query: str = "",
) -> FeedDocument:
    # Cleaned here too: a category stored before clean_text removed all that XML refuses
    # would otherwise fail its whole feed (items that fail are left out by render_feed).
    title = clean_line(state.title) if state.category_id is not None else settings.site_title
    if query:
        title = f"{title} – “{query}”"
    return FeedDocument(
        base_url=settings.base_url,
        hub_url=settings.websub_hub_url,
        slug=state.slug,
        title=title,
        description=clean_text(state.description) or settings.site_description,
        publisher=settings.site_title,
        query=query,
        updated=max((item.updated_at for item in items), default=state.last_modified),
        items=items,
    )


def render_entries(
    settings: Settings, state: FeedState, fmt: str, articles: Sequence[Article]
) -> bytes:
    """The feed of ``state`` in format ``fmt`` holding just ``articles`` (give them newest
    first): the "fat ping" a WebSub hub pushes (§7), with the feed's self and hub links.
    Articles the format cannot hold are left out (and logged), as in every feed."""
    items = tuple(_item(article, settings.base_url) for article in articles)
    return render_feed(_document(settings, state, items), fmt)
