"""Store a source's parsed entries as articles: new ones added, changed ones updated.

The work of one fetch is bounded: at most ``max_new_entries_per_fetch`` new entries are
stored, the newest; the others are counted as skipped (a later fetch that gets the document
again sees them as new again). Entries that disappear upstream stay.

Every upstream value is fitted to its column before it is written. The rows are written in
bulk (one INSERT of the new articles, one executemany UPDATE of the changed ones) inside a
savepoint; only if the database still refuses that is each row written in a savepoint of its
own, so an entry it refuses is skipped with a warning while the others are stored. One
content-version bump per fetch invalidates the feeds (not one per article).

A new entry that is not news (the source's baseline, or an old date: see
``feedsvc.announcement``) is stored already announced, and counted on the source. The
baseline is taken once a fetch has stored every new entry (none skipped).
"""

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Insert, String, Update, insert, or_, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from feedsvc.announcement import hold_reason
from feedsvc.articles import apply_fields, new_article, summarise
from feedsvc.content import touch_categories
from feedsvc.ingest.entries import content_hash, entry_key, map_category
from feedsvc.ingest.parse import ParsedEntry
from feedsvc.media import Enclosure
from feedsvc.models import MAX_BIG_INTEGER, Article, Category, Source
from feedsvc.text import clean_line, clean_text, html_to_text, iri_to_uri

log = logging.getLogger(__name__)

T = TypeVar("T")

# Values per IN list: PostgreSQL takes at most 65,535 parameters in a statement, SQLite
# (3.32+) 32,766. A lookup of one batch of entries binds two lists (keys and links).
IN_BATCH = 5000
_MEDIA_TYPE = re.compile(r"[\w.+-]+/[\w.+-]+")
_WIDTHS = {
    column.key: column.type.length
    for column in Article.__table__.columns
    if isinstance(column.type, String) and column.type.length
}
_COLUMNS = frozenset(column.key for column in Article.__table__.columns) - {"id"}
# What an update rewrites: the fields ``apply_fields`` sets, and the identity of the entry.
_UPDATED = (
    "title",
    "slug",
    "summary",
    "summary_derived",
    "body_html",
    "author",
    "image_url",
    "image_type",
    "image_length",
    "link",
    "published_at",
    "search_text",
    "entry_key",
    "content_hash",
    "category_id",
    "updated_at",
)


@dataclass(frozen=True)
class StoreResult:
    new_ids: tuple[int, ...]
    updated: int
    skipped: int = 0  # new entries beyond max_new_entries_per_fetch, not stored
    refused: tuple[str, ...] = ()  # entries the database would not take, and why
    unannounced: int = 0  # new entries stored without announcement (baseline or old)

    @property
    def warning(self) -> str:
        """What the source's health shows of this store ("" when everything was stored)."""
        parts = []
        if self.skipped:
            parts.append(
                f"new entries skipped by max_new_entries_per_fetch: {self.skipped} (the newest"
                " were stored)"
            )
        if self.refused:
            shown = "; ".join(self.refused[:3]) + ("; …" if len(self.refused) > 3 else "")
            parts.append(f"entries not stored: {len(self.refused)} ({shown})")
        return ". ".join(parts)


@dataclass(frozen=True)
class _Stored:
    """What the lookup needs of an article already stored (not the article: bodies are big)."""

    id: int
    entry_key: str | None
    link: str | None
    content_hash: str | None
    category_id: int


def in_batches(values: Sequence[T], size: int = IN_BATCH) -> Iterator[Sequence[T]]:
    """``values`` in slices small enough for one IN list on every database."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _url(value: str | None) -> str | None:
    if not value:
        return None
    try:
        value = iri_to_uri(value.strip())
        parts = urlsplit(value)
    except ValueError:  # a host IDNA cannot encode, a broken IPv6 literal
        return None
    ok = (
        parts.scheme in ("http", "https")
        and parts.netloc
        and len(value) <= _WIDTHS["link"]
        and value.isprintable()
    )
    return value if ok else None


def _image(enclosure: Enclosure | None) -> Enclosure | None:
    """The entry's enclosure if every part of it fits: an http(s) URL, a media type, a length."""
    if enclosure is None:
        return None
    url = _url(enclosure.url)
    media_type = clean_text(enclosure.media_type).split(";")[0].strip().lower()
    if (
        url is None
        or len(media_type) > _WIDTHS["image_type"]
        or not _MEDIA_TYPE.fullmatch(media_type)
        or not 0 < enclosure.length <= MAX_BIG_INTEGER
    ):
        return None
    return Enclosure(url, media_type, enclosure.length)


def _values(entry: ParsedEntry, fetched_at: datetime) -> dict[str, Any]:
    """The fields ``apply_fields`` sets from an entry: an upstream summary is explicit, a
    missing one ("") derived from the content (again when a later fetch changes it)."""
    summary = html_to_text(entry.summary) if entry.summary != entry.content_html else ""
    title = (
        clean_line(html_to_text(entry.title))
        or clean_line(summarise(html_to_text(entry.content_html or entry.summary)))
        or clean_line(entry.link or "")
        or "—"
    )
    image = _image(entry.enclosure)
    published = entry.published or entry.updated
    return {
        "title": title[: _WIDTHS["title"]],
        "summary": summarise(summary),
        "body_html": entry.content_html,
        "author": clean_line(entry.author)[: _WIDTHS["author"]],
        "link": _url(entry.link),
        "image_url": image.url if image else None,
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


def _stored(session: Session, source_id: int, by_key: dict[str, ParsedEntry]) -> list[_Stored]:
    """The source's articles matching an entry's key or link, looked up in batches."""
    found: dict[int, _Stored] = {}
    columns = (Article.id, Article.entry_key, Article.link, Article.content_hash)
    for keys in in_batches(list(by_key)):
        links = [link for key in keys if (link := by_key[key].link)]
        stmt = select(*columns, Article.category_id).where(
            Article.source_id == source_id,
            or_(Article.entry_key.in_(keys), Article.link.in_(links)),
        )
        found.update((row.id, _Stored(*row)) for row in session.execute(stmt))
    return list(found.values())


def _newest(new: list[tuple[str, ParsedEntry]], limit: int, fetched_at: datetime) -> set[str]:
    """The keys of the ``limit`` newest new entries (undated ones count as fetched now)."""
    if len(new) <= limit:
        return {key for key, _ in new}

    def when(item: tuple[str, ParsedEntry]) -> datetime:
        entry = item[1]
        return min(entry.published or entry.updated or fetched_at, fetched_at)

    return {key for key, _ in sorted(new, key=when, reverse=True)[:limit]}


def store_entries(
    session: Session,
    source: Source,
    entries: Iterable[ParsedEntry],
    fetched_at: datetime,
    max_new: int,
    announce_max_age: timedelta | None,
) -> StoreResult:
    """``announce_max_age``: new entries dated before ``fetched_at`` minus this are stored
    unannounced (None: no limit)."""
    baseline = source.baseline_at is None
    by_key = _unique(entries)
    stored = _stored(session, source.id, by_key)
    stored_by_key = {a.entry_key: a for a in stored}
    stored_by_link = {a.link: a for a in stored if a.link}
    matches = {
        key: stored_by_key.get(key) or stored_by_link.get(entry.link or "")
        for key, entry in by_key.items()
    }
    new = [(key, by_key[key]) for key, match in matches.items() if match is None]
    kept = _newest(new, max_new, fetched_at)
    category_ids = {slug: id_ for slug, id_ in session.execute(select(Category.slug, Category.id))}
    default_slug = source.category.slug
    touched: set[int] = set()
    created: list[dict[str, Any]] = []
    changed: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for key, entry in by_key.items():
        match = matches[key]
        digest = content_hash(entry)
        if match is None and key not in kept:
            continue
        if match is not None and match.content_hash == digest and match.entry_key == key:
            continue
        category_id = category_ids.get(
            map_category(entry.categories, source.category_map, default_slug), source.category_id
        )
        try:
            row = _row(source, entry, key, digest, category_id, fetched_at)
            held = match is None and hold_reason(
                baseline=baseline,
                dated=entry.published or entry.updated,
                now=fetched_at,
                limit=announce_max_age,
            )
            row["announced_at"] = fetched_at if held else None
        except Exception as exc:  # one entry's values, however odd, cost only that entry
            log.exception("source %s: entry %r not stored", source.id, entry.guid or entry.link)
            unreadable.append(f"entry {entry.guid or entry.link!r}: {exc!r}"[:300])
            continue
        touched.add(category_id)
        if match is None:
            created.append(row)
        else:
            touched.add(match.category_id)
            changed.append({"id": match.id, **{name: row[name] for name in _UPDATED}})
    insert_stmt = insert(Article).returning(Article.id, sort_by_parameter_order=True)
    new_ids, refused_new = _write(session, insert_stmt, created)
    _, refused_changed = _write(session, update(Article), changed)
    if new_ids or len(changed) > len(refused_changed):
        touch_categories(session, touched, fetched_at)
    refused = [reason for reason, _ in refused_new + refused_changed]
    for reason in refused:
        log.warning("source %s: %s", source.id, reason)
    unannounced = sum(1 for row in created if row["announced_at"]) - sum(
        1 for _, row in refused_new if row["announced_at"]
    )
    _count_unannounced(source, baseline, unannounced, len(new) - len(kept), fetched_at)
    return StoreResult(
        tuple(new_ids),
        len(changed) - len(refused_changed),
        len(new) - len(kept),
        (*unreadable, *refused),
        unannounced,
    )


def _count_unannounced(
    source: Source, baseline: bool, held: int, skipped: int, now: datetime
) -> None:
    """Count the new entries stored unannounced on the source, by reason; a baseline is
    taken once nothing new was left out (entries skipped now come in as baseline later)."""
    if baseline:
        source.unannounced_baseline += held
        if not skipped:
            source.baseline_at = now
    else:
        source.unannounced_old += held


def _row(
    source: Source,
    entry: ParsedEntry,
    key: str,
    digest: str,
    category_id: int,
    fetched_at: datetime,
) -> dict[str, Any]:
    """The column values of the article an entry becomes, each string cut to its column."""
    article = new_article(fetched_at, origin="upstream")  # transient: written in bulk
    article.source_id = source.id
    article.published_at_estimated = entry.published is None and entry.updated is None
    article.entry_key = key
    article.content_hash = digest
    article.category_id = category_id
    values = _values(entry, fetched_at)
    apply_fields(article, values, document_url=entry.base or values["link"] or source.url)
    row = {name: value for name, value in vars(article).items() if name in _COLUMNS}
    for name, width in _WIDTHS.items():
        value = row.get(name)
        if isinstance(value, str) and len(value) > width:
            row[name] = value[:width]
    return row


def _refused_values(exc: StatementError) -> bool:
    """The database refused the values (too long, out of range, a constraint), as opposed to
    being unable to run the statement at all (connection lost, lock timeout)."""
    return isinstance(exc, (DataError, IntegrityError)) or not isinstance(exc, DBAPIError)


def _write(
    session: Session, stmt: Insert | Update, rows: list[dict[str, Any]]
) -> tuple[list[int], list[tuple[str, dict[str, Any]]]]:
    """Execute ``stmt`` for ``rows`` in bulk; if the database refuses that, row by row,
    skipping the rows it refuses. Returns the ids an INSERT returned, and the rows refused
    with why."""
    if not rows:
        return [], []
    returns = isinstance(stmt, Insert)
    try:
        with session.begin_nested():
            result = session.execute(stmt, rows)
            return (list(result.scalars()) if returns else []), []
    except StatementError as exc:
        if not _refused_values(exc):
            raise
    ids: list[int] = []
    refused: list[tuple[str, dict[str, Any]]] = []
    for row in rows:
        try:
            with session.begin_nested():
                result = session.execute(stmt, [row])
                ids.extend(result.scalars() if returns else ())
        except StatementError as exc:
            if not _refused_values(exc):
                raise
            problem = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
            where = f" <{row['link']}>" if row.get("link") else ""
            refused.append((f"entry {row['title']!r}{where}: {problem}", row))
    return ids, refused
