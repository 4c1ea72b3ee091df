"""Articles: create, update, delete, and the queries behind pages, feeds and the API.

An article is visible once ``published_at <= now``; a later time means scheduled, and nothing
public shows it before then. Every write bumps the content version of the categories it
touches (``feedsvc.content``) in the same transaction, so no cached feed outlives it.
"""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, Select, delete, select
from sqlalchemy.orm import Session, defer, joinedload

from feedsvc.announcement import hold_reason
from feedsvc.categories import get_category
from feedsvc.content import touch_categories
from feedsvc.errors import N_, InvalidInput, NotFound
from feedsvc.models import EARLIEST, LATEST, MAX_BIG_INTEGER, Article
from feedsvc.paging import (
    Page,
    Position,
    decode_cursor,
    encode_cursor,
    keyset_page,
    older_than,
    row_key,
)
from feedsvc.search import newest_matching, search_words
from feedsvc.text import (
    MAX_BODY_BYTES,
    as_utc,
    body_too_large,
    clean_line,
    clean_text,
    html_to_text,
    iri_to_uri,
    normalise_search,
    sanitise_html,
    slugify,
)

log = logging.getLogger(__name__)

SUMMARY_LENGTH = 300


def representable(value: datetime) -> datetime:
    """A time (naive: Vietnam's) that can be converted to UTC and back; else ValueError."""
    try:
        utc = as_utc(value)
    except OverflowError as exc:
        raise ValueError("must lie between the years 0001 and 9999") from exc
    if not EARLIEST <= utc <= LATEST:
        raise ValueError("must lie between the years 0001 and 9999")
    return value


def _absolute_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return iri_to_uri(value)


def _within_body_limit(value: str) -> str:
    if body_too_large(value):
        raise PydanticCustomError(
            "body_too_large", "at most {limit} bytes of UTF-8", {"limit": MAX_BODY_BYTES}
        )
    return value


HttpUrlText = Annotated[str, Field(max_length=2000), AfterValidator(_absolute_http_url)]
BodyHtml = Annotated[
    str,
    Field(description=f"Sanitised on save; at most {MAX_BODY_BYTES} bytes."),
    AfterValidator(_within_body_limit),
]
MediaType = Annotated[str, Field(pattern=r"^[\w.+-]+/[\w.+-]+$", max_length=100)]
Timestamp = Annotated[datetime, AfterValidator(representable)]


class ArticleFields(BaseModel):
    """What a client may set on an article; shared by create and update."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    category: str | None = Field(None, description="Slug of the category.", max_length=100)
    title: str | None = Field(None, min_length=1, max_length=500)
    summary: str | None = Field(
        None,
        max_length=5000,
        description="Plain text. Empty or null: derived from the body, again whenever the"
        " body changes; else kept until set again.",
    )
    body_html: BodyHtml | None = None
    author: str | None = Field(None, max_length=200, description="Byline.")
    image_url: HttpUrlText | None = None
    image_type: MediaType | None = None
    image_length: int | None = Field(
        None, ge=1, le=MAX_BIG_INTEGER, description="Size in bytes of the image."
    )
    link: HttpUrlText | None = Field(None, description="Canonical URL, if not our own page.")
    published_at: Timestamp | None = Field(
        None, description="ISO 8601; without an offset it is +07:00; future means scheduled."
    )


class ArticleCreate(ArticleFields):
    category: str = Field(description="Slug of the category.", max_length=100)
    title: str = Field(min_length=1, max_length=500)
    external_id: str | None = Field(
        None, max_length=200, description="The CMS's id; creating twice returns the first."
    )


class ArticleUpdate(ArticleFields):
    """Only the fields present in the request are changed; category and title may be left
    out, not set to null."""

    category: str | SkipJsonSchema[None] = Field(
        None, description="Slug of the category.", max_length=100
    )
    title: str | SkipJsonSchema[None] = Field(None, min_length=1, max_length=500)

    @field_validator("category", "title", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("must not be null")
        return value


def new_article(now: datetime, origin: str = "local", external_id: str | None = None) -> Article:
    """A blank article with its permanent guid; ``apply_fields`` fills it in."""
    return Article(
        guid=f"urn:uuid:{uuid.uuid4()}",
        external_id=external_id,
        origin=origin,
        summary="",
        summary_derived=True,
        body_html="",
        author="",
        published_at=now,
        created_at=now,
        updated_at=now,
        published_at_estimated=False,
    )


def apply_fields(article: Article, values: dict[str, Any], document_url: str) -> None:
    """Clean and set the given fields (not the category), then the derived ones.

    Every text is stored in its clean form (``text.clean_text``): XML 1.0 character data, so
    no stored value can break a feed. HTML is sanitised with relative URLs resolved against
    ``document_url`` (where the HTML came from) and cut at ``MAX_BODY_BYTES`` (the API and the
    admin refuse a longer one before; an upstream entry's is cut, with a warning); the search
    text is rebuilt.

    Derived fields follow their source: a summary given empty (or never given) is derived
    from the body, now and again whenever the body changes (``summary_derived``); one given
    explicitly stays until it is set again. The image is never derived (only set).
    """
    if "title" in values:
        article.title = clean_line(values["title"])
        if not article.title:
            raise InvalidInput(N_("Tin bài không hợp lệ"), {"title": N_("không được để trống")})
        article.slug = slugify(article.title) or "bai-viet"
    if "body_html" in values:
        body = values["body_html"] or ""
        if body_too_large(body):
            log.warning(
                "article %s (%s): body cut at %d bytes", article.guid, document_url, MAX_BODY_BYTES
            )
        article.body_html = sanitise_html(body, document_url)
    if "summary" in values:
        article.summary = clean_text(values["summary"] or "").strip()
        article.summary_derived = not article.summary
    if "author" in values:
        article.author = clean_line(values["author"] or "")
    for field in ("image_url", "image_type", "link"):
        if field in values:
            value = values[field]
            setattr(article, field, clean_text(value) if isinstance(value, str) else value)
    if "image_length" in values:
        article.image_length = values["image_length"]
    if "published_at" in values and values["published_at"] is not None:
        article.published_at = as_utc(values["published_at"])
    body_text = html_to_text(article.body_html)
    if article.summary_derived:
        article.summary = summarise(body_text)
    article.search_text = normalise_search(
        " ".join((article.title, article.summary, body_text, article.author))
    )


def summarise(text: str) -> str:
    """The first ~300 characters of a text, cut at a word."""
    if len(text) <= SUMMARY_LENGTH:
        return text
    cut = text[:SUMMARY_LENGTH].rsplit(" ", 1)[0]
    return cut + "…"


def create_article(
    session: Session,
    data: ArticleCreate,
    base_url: str,
    now: datetime,
    origin: str = "local",
    *,
    announce_max_age: timedelta | None = None,
) -> tuple[Article, bool]:
    """Store a new article; returns it and whether it was created (False: external id known).

    ``announce_max_age``: an article dated longer ago is not announced (the API and the
    admin pass ``announce_max_age_hours``; None: no limit)."""
    if data.external_id:
        existing = session.scalar(select(Article).where(Article.external_id == data.external_id))
        if existing is not None:
            return existing, False
    article = new_article(now, origin, data.external_id or None)
    article.category = get_category(session, data.category)
    apply_fields(article, data.model_dump(exclude={"external_id", "category"}), f"{base_url}/")
    _hold_if_old(article, now, announce_max_age)
    session.add(article)
    session.flush()
    touch_categories(session, [article.category_id], now)
    return article, True


def update_article(
    session: Session,
    article_id: int,
    data: ArticleUpdate,
    base_url: str,
    now: datetime,
    *,
    announce_max_age: timedelta | None = None,
) -> Article:
    """``announce_max_age``: as for ``create_article``, for an article not yet announced
    whose date is changed (a scheduled article moved into the distant past)."""
    article = get_article(session, article_id)
    old_category_id = article.category_id
    values = data.model_dump(exclude_unset=True)
    if "category" in values:
        article.category = get_category(session, values.pop("category"))
    apply_fields(article, values, f"{base_url}/")
    if "published_at" in values:
        _hold_if_old(article, now, announce_max_age)
    article.updated_at = now
    session.flush()
    touch_categories(session, [old_category_id, article.category_id], now)
    return article


def _hold_if_old(article: Article, now: datetime, limit: timedelta | None) -> None:
    """An article not yet announced whose date is older than ``limit`` is not news (a CMS
    importing its archive): it is marked announced without a word (see feedsvc.announcement)."""
    if article.announced_at is None and hold_reason(
        baseline=False, dated=article.published_at, now=now, limit=limit
    ):
        article.announced_at = now
        log.info("article %s dated %s: not announced (old)", article.guid, article.published_at)


def delete_article(session: Session, article_id: int, now: datetime) -> None:
    article = get_article(session, article_id)
    session.execute(delete(Article).where(Article.id == article.id))
    touch_categories(session, [article.category_id], now)


def get_article(session: Session, article_id: int) -> Article:
    """Any article, scheduled ones included (for writers)."""
    article = session.get(Article, article_id, options=[joinedload(Article.category)])
    if article is None:
        raise NotFound(N_("Không có bài viết %(id)s"), id=article_id)
    return article


def get_visible_article(session: Session, article_id: int, now: datetime) -> Article:
    article = get_article(session, article_id)
    if article.published_at > now:
        raise NotFound(N_("Không có bài viết %(id)s"), id=article_id)
    return article


ARTICLE_KEY = (Article.published_at, Article.id)
# Lists of titles (pages, the admin) leave the long texts in the store.
_LISTED = (defer(Article.body_html), defer(Article.search_text))


def page_all(
    session: Session,
    position: Position,
    limit: int,
    category_id: int | None = None,
    query: str = "",
) -> Page[Article]:
    """Every article, scheduled ones first, then newest first (for writers' list)."""
    stmt = select(Article).options(joinedload(Article.category), *_LISTED)
    return _page(session, stmt, [], position, limit, category_id, query, until=None)


def list_visible(
    session: Session, now: datetime, limit: int, category_id: int | None = None
) -> list[Article]:
    """The newest visible articles (of a category)."""
    return page_visible(session, now, Position(), limit, category_id, brief=True).items


def page_visible(
    session: Session,
    now: datetime,
    position: Position,
    limit: int,
    category_id: int | None = None,
    query: str = "",
    since: datetime | None = None,
    brief: bool = False,
) -> Page[Article]:
    """A page of visible articles (pages, feeds, the API); ``since`` keeps articles changed
    (created or updated) at or after that time, so an aggregating portal can poll for what
    is new to it; ``brief`` leaves out the body and search text (lists of titles)."""
    stmt = select(Article).options(joinedload(Article.category), *(_LISTED if brief else ()))
    conditions: list[ColumnElement[bool]] = []  # published by ``now``: ``until``
    if since is not None:
        conditions.append(Article.updated_at >= as_utc(since))
    return _page(session, stmt, conditions, position, limit, category_id, query, until=now)


def _page(
    session: Session,
    stmt: Select[Article],
    conditions: list[ColumnElement[bool]],
    position: Position,
    limit: int,
    category_id: int | None,
    query: str,
    until: datetime | None,
) -> Page[Article]:
    """A page of ``stmt``'s articles meeting ``conditions``, of one category (if given),
    newest first; ``until``: nothing published after it is listed (this adds that bound).

    A keyword query takes its matches from the search index (``feedsvc.search``), newest
    first, which walks only towards older ones: its pages go older, and "newer" leads back to
    the newest matches (an ``after`` cursor with a query is the newest page).
    """
    published_by = [] if until is None else [Article.published_at <= until]
    if not query:
        if category_id is not None:
            conditions = [*conditions, Article.category_id == category_id]
        if _before_until(position, until):  # the cursor implies it: see _before_until
            page = stmt.where(*conditions)
            return keyset_page(session, page, ARTICLE_KEY, position, limit, ahead=published_by)
        page = stmt.where(*conditions, *published_by)
        return keyset_page(session, page, ARTICLE_KEY, position, limit)
    conditions = [*conditions, *published_by]
    start = None
    if position.before:
        start = decode_cursor(position.before, ARTICLE_KEY, position.before_field)
        conditions = [*conditions, older_than(ARTICLE_KEY, start)]
        published = start[0]
        assert isinstance(published, datetime)
        until = published if until is None else min(until, published)
    words = search_words(query)
    ids = newest_matching(session, words, conditions, limit + 1, category_id, until)
    found = {a.id: a for a in session.scalars(stmt.where(Article.id.in_(ids[:limit])))}
    items = [found[i] for i in ids[:limit] if i in found]
    older = encode_cursor(row_key(items[-1], ARTICLE_KEY)) if len(ids) > limit and items else None
    if start is None:
        return Page(items, None, older)
    return Page(items, encode_cursor(start), older, newer_is_first=True)


def _before_until(position: Position, until: datetime | None) -> bool:
    """Whether a page's ``before`` cursor lies at or before ``until``, so that it implies
    ``published_at <= until`` for the page. SQLite uses one upper bound of the date index:
    given that one beside the cursor's, it may take it and walk from ``until`` down to the
    cursor, half a million index entries (90 ms) for a page of 20 in the middle of a million
    articles. The rows ahead of the page (counted for its "newer" link) still need it."""
    if until is None or not position.before:
        return False
    published = decode_cursor(position.before, ARTICLE_KEY, position.before_field)[0]
    assert isinstance(published, datetime)
    return published <= until


def position_of_page(
    session: Session, now: datetime, page: int, per_page: int, category_id: int | None, query: str
) -> Position | None:
    """Where old-style page ``page`` (counted from 1) of visible articles starts, or None
    when there is no such page; reads only the index's keys of the rows before it."""
    if page == 1:
        return Position()
    before = (page - 1) * per_page
    visible = [Article.published_at <= now]
    if query:
        ids = newest_matching(session, search_words(query), visible, before, category_id, now)
        if len(ids) < before:
            return None
        last_before = session.execute(select(*ARTICLE_KEY).where(Article.id == ids[-1])).one()
    else:
        if category_id is not None:
            visible.append(Article.category_id == category_id)
        found = session.execute(
            select(*ARTICLE_KEY)
            .where(*visible)
            .order_by(Article.published_at.desc(), Article.id.desc())
            .offset(before - 1)
            .limit(1)
        ).one_or_none()
        if found is None:
            return None
        last_before = found
    return Position(before=encode_cursor(tuple(last_before)))
