"""Articles: create, update, delete, and the queries behind pages, feeds and the API.

An article is visible once ``published_at <= now``; a later time means scheduled, and nothing
public shows it before then. Every write bumps the content version of the categories it
touches (``feedsvc.content``) in the same transaction, so no cached feed outlives it.
"""

import base64
import binascii
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import ColumnElement, and_, delete, func, or_, select
from sqlalchemy.orm import Session, joinedload

from feedsvc.categories import get_category
from feedsvc.content import touch_categories
from feedsvc.errors import InvalidInput, NotFound
from feedsvc.models import MAX_BIG_INTEGER, MAX_INTEGER, Article, Category
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
# Times are kept a day inside datetime's range, so that any time zone can show them.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


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
        raise ValueError(f"at most {MAX_BODY_BYTES} bytes of UTF-8")
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
    summary: str | None = Field(None, max_length=5000, description="Plain text.")
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


@dataclass(frozen=True)
class ArticlePage:
    articles: list[Article]
    next_cursor: str | None


def new_article(now: datetime, origin: str = "local", external_id: str | None = None) -> Article:
    """A blank article with its permanent guid; ``apply_fields`` fills it in."""
    return Article(
        guid=f"urn:uuid:{uuid.uuid4()}",
        external_id=external_id,
        origin=origin,
        summary="",
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
    admin refuse a longer one before; an upstream entry's is cut, with a warning); a missing
    summary is taken from the body; the search text is rebuilt.
    """
    if "title" in values:
        article.title = clean_line(values["title"])
        if not article.title:
            raise InvalidInput("invalid article", {"title": "must not be empty"})
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
    if not article.summary:
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
    session: Session, data: ArticleCreate, base_url: str, now: datetime, origin: str = "local"
) -> tuple[Article, bool]:
    """Store a new article; returns it and whether it was created (False: external id known)."""
    if data.external_id:
        existing = session.scalar(select(Article).where(Article.external_id == data.external_id))
        if existing is not None:
            return existing, False
    article = new_article(now, origin, data.external_id or None)
    article.category = get_category(session, data.category)
    apply_fields(article, data.model_dump(exclude={"external_id", "category"}), f"{base_url}/")
    session.add(article)
    session.flush()
    touch_categories(session, [article.category_id], now)
    return article, True


def update_article(
    session: Session, article_id: int, data: ArticleUpdate, base_url: str, now: datetime
) -> Article:
    article = get_article(session, article_id)
    old_category_id = article.category_id
    values = data.model_dump(exclude_unset=True)
    if "category" in values:
        article.category = get_category(session, values.pop("category"))
    apply_fields(article, values, f"{base_url}/")
    article.updated_at = now
    session.flush()
    touch_categories(session, [old_category_id, article.category_id], now)
    return article


def delete_article(session: Session, article_id: int, now: datetime) -> None:
    article = get_article(session, article_id)
    session.execute(delete(Article).where(Article.id == article.id))
    touch_categories(session, [article.category_id], now)


def get_article(session: Session, article_id: int) -> Article:
    """Any article, scheduled ones included (for writers)."""
    article = session.get(Article, article_id, options=[joinedload(Article.category)])
    if article is None:
        raise NotFound(f"Không có bài viết {article_id} (no such article)")
    return article


def get_visible_article(session: Session, article_id: int, now: datetime) -> Article:
    article = get_article(session, article_id)
    if article.published_at > now:
        raise NotFound(f"Không có bài viết {article_id} (no such article)")
    return article


NEWEST = (Article.published_at.desc(), Article.id.desc())


def _newest(
    session: Session,
    conditions: list[ColumnElement[bool]],
    limit: int,
    category_id: int | None = None,
    query: str = "",
    until: datetime | None = None,
    offset: int = 0,
) -> list[Article]:
    """Articles meeting the conditions, of one category (if given) and matching a keyword
    query (if given; see ``feedsvc.search``), newest first.

    ``until``: the conditions keep nothing published after it (lets the index skip those).
    """
    if category_id is not None:
        conditions = [*conditions, Article.category_id == category_id]
    if query:
        words = search_words(query)
        ids = newest_matching(session, words, conditions, offset + limit, category_id, until)
        conditions, offset = [Article.id.in_(ids[offset:])], 0
    stmt = (
        select(Article)
        .options(joinedload(Article.category))
        .where(*conditions)
        .order_by(*NEWEST)
        .limit(limit)
        .offset(offset)
    )
    return list(session.scalars(stmt))


def list_all(
    session: Session, limit: int, category_id: int | None = None, query: str = ""
) -> list[Article]:
    """Every article, scheduled ones first, then newest first (for writers)."""
    return _newest(session, [], limit, category_id, query)


def list_visible(
    session: Session,
    now: datetime,
    limit: int,
    offset: int = 0,
    category_id: int | None = None,
    query: str = "",
) -> list[Article]:
    """Visible articles (published by ``now``), newest first."""
    visible = [Article.published_at <= now]
    return _newest(session, visible, limit, category_id, query, until=now, offset=offset)


def count_visible(session: Session, now: datetime, category_id: int | None = None) -> int:
    stmt = select(func.count(Article.id)).where(Article.published_at <= now)
    if category_id is not None:
        stmt = stmt.where(Article.category_id == category_id)
    return session.scalar(stmt) or 0


def _encode_cursor(article: Article) -> str:
    raw = f"{article.published_at.isoformat()}|{article.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        published, article_id = raw.split("|")
        position = as_utc(representable(datetime.fromisoformat(published))), int(article_id)
        if not 0 < position[1] <= MAX_INTEGER:
            raise ValueError("no such id")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("invalid cursor", {"cursor": "not a cursor from this API"}) from exc
    return position


def page_articles(
    session: Session,
    now: datetime,
    limit: int,
    category: Category | None = None,
    since: datetime | None = None,
    query: str = "",
    cursor: str | None = None,
) -> ArticlePage:
    """Cursor paging for the API: stable under inserts, unlike offsets.

    ``since`` keeps articles changed (created or updated) at or after that time, so an
    aggregating portal can poll for what is new to it.
    """
    conditions = [Article.published_at <= now]
    until = now
    if since is not None:
        conditions.append(Article.updated_at >= as_utc(since))
    if cursor:
        published_at, article_id = _decode_cursor(cursor)
        until = min(now, published_at)
        conditions.append(
            or_(
                Article.published_at < published_at,
                and_(Article.published_at == published_at, Article.id < article_id),
            )
        )
    category_id = category.id if category else None
    rows = _newest(session, conditions, limit + 1, category_id, query, until)
    next_cursor = _encode_cursor(rows[limit - 1]) if len(rows) > limit else None
    return ArticlePage(rows[:limit], next_cursor)
