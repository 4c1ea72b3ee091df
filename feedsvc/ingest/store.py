"""Store a source's parsed entries as articles: new ones added, changed ones updated.

One query finds what is already stored, one flush writes, and one content-version bump per
fetch invalidates the feeds (not one per article). Entries that disappear upstream stay.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from feedsvc.articles import apply_fields, new_article, summarise
from feedsvc.content import touch_categories
from feedsvc.ingest.entries import content_hash, entry_key, map_category
from feedsvc.ingest.parse import ParsedEntry
from feedsvc.models import Article, Category, Source
from feedsvc.text import clean_line, html_to_text, iri_to_uri

MAX_TITLE = 500
MAX_URL = 2000


@dataclass(frozen=True)
class StoreResult:
    new_ids: tuple[int, ...]
    updated: int


def _url(value: str | None) -> str | None:
    if not value:
        return None
    value = iri_to_uri(value.strip())
    parts = urlsplit(value)
    ok = parts.scheme in ("http", "https") and parts.netloc and len(value) <= MAX_URL
    return value if ok else None


def _values(entry: ParsedEntry, fetched_at: datetime) -> dict[str, Any]:
    summary = html_to_text(entry.summary) if entry.summary != entry.content_html else ""
    title = (
        clean_line(html_to_text(entry.title))[:MAX_TITLE]
        or summarise(html_to_text(entry.content_html or entry.summary))[:MAX_TITLE]
    )
    image = entry.enclosure if entry.enclosure and _url(entry.enclosure.url) else None
    published = entry.published or entry.updated
    return {
        "title": title or (entry.link or "—"),
        "summary": summarise(summary),
        "body_html": entry.content_html,
        "author": clean_line(entry.author)[:200],
        "link": _url(entry.link),
        "image_url": _url(image.url) if image else None,
        "image_type": image.media_type if image else None,
        "image_length": image.length if image else None,
        # Upstream dates in the future are clock or zone errors, not schedules.
        "published_at": min(published, fetched_at) if published else fetched_at,
    }


def _unique(entries: Iterable[ParsedEntry]) -> dict[str, ParsedEntry]:
    """Entries by identity; a feed listing one entry twice keeps the first."""
    by_key: dict[str, ParsedEntry] = {}
    for entry in entries:
        by_key.setdefault(entry_key(entry), entry)
    return by_key


def store_entries(
    session: Session, source: Source, entries: Iterable[ParsedEntry], fetched_at: datetime
) -> StoreResult:
    by_key = _unique(entries)
    links = [e.link for e in by_key.values() if e.link]
    stored = session.scalars(
        select(Article).where(
            Article.source_id == source.id,
            or_(Article.entry_key.in_(list(by_key)), Article.link.in_(links)),
        )
    ).all()
    stored_by_key = {a.entry_key: a for a in stored}
    stored_by_link = {a.link: a for a in stored if a.link}
    category_ids = {slug: id_ for slug, id_ in session.execute(select(Category.slug, Category.id))}
    default_slug = source.category.slug
    touched: set[int] = set()
    created: list[Article] = []  # transient: inserted in bulk below
    updated = 0
    for key, entry in by_key.items():
        article = stored_by_key.get(key) or stored_by_link.get(entry.link or "")
        digest = content_hash(entry)
        if article is not None and article.content_hash == digest and article.entry_key == key:
            continue
        slug = map_category(entry.categories, source.category_map, default_slug)
        category_id = category_ids.get(slug, source.category_id)
        values = _values(entry, fetched_at)
        if article is None:
            article = new_article(fetched_at, origin="upstream")
            article.source_id = source.id
            article.published_at_estimated = entry.published is None and entry.updated is None
            created.append(article)
        else:
            touched.add(article.category_id)
            article.updated_at = fetched_at
            updated += 1
        article.entry_key = key
        article.content_hash = digest
        article.category_id = category_id
        apply_fields(article, values, document_url=entry.base or values["link"] or source.url)
        touched.add(category_id)
    new_ids: tuple[int, ...] = ()
    if created:
        # One INSERT ... RETURNING for the new articles: the unit of work's per-object
        # bookkeeping cost more than everything else of storing them.
        stmt = insert(Article).returning(Article.id, sort_by_parameter_order=True)
        new_ids = tuple(session.scalars(stmt, [_row(article) for article in created]))
    if touched:
        session.flush()
        touch_categories(session, touched, fetched_at)
    return StoreResult(new_ids, updated)


def _row(article: Article) -> dict[str, Any]:
    """The column values set on a transient article."""
    return {key: value for key, value in vars(article).items() if key in _COLUMNS}


_COLUMNS = frozenset(column.key for column in Article.__table__.columns) - {"id"}
