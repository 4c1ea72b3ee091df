"""Upstream sources: add, change, list, delete, and OPML import/export.

Adding checks the URL against the private-address guard; fetching is ``ingest.refresh``.
"""

import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree import ElementTree as ET

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session, joinedload

from feedsvc.categories import get_category, list_categories
from feedsvc.db import Database
from feedsvc.errors import N_, Conflict, FeedsvcError, InvalidInput, NotFound
from feedsvc.ingest.schedule import first_fetch
from feedsvc.models import Category, Source
from feedsvc.outbound import check_url
from feedsvc.paging import Page, Position, keyset_page
from feedsvc.settings import Settings
from feedsvc.text import Clock, clean_line, iri_to_uri, slugify


class SourceFields(BaseModel):
    """What a client may set on a source; shared by create and update."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str | None = Field(None, max_length=500)
    category: str | None = Field(None, max_length=100, description="Default category slug.")
    category_map: dict[str, str] | None = Field(
        None, description="Upstream category term -> our category slug."
    )
    interval_minutes: int | None = Field(None, ge=1, le=7 * 24 * 60)
    keep_days: int | None = Field(
        None,
        ge=1,
        le=100 * 366,
        description="Days its articles are kept after publication (null: for ever); "
        "an article on the first page of a feed is always kept.",
    )
    enabled: bool | None = None


class SourceCreate(SourceFields):
    url: str = Field(max_length=2000)
    category: str = Field(max_length=100, description="Default category slug.")


class SourceUpdate(SourceFields):
    """Only the fields present are changed; enabling a source clears its failures."""

    url: str | None = Field(
        None,
        min_length=1,
        max_length=2000,
        description="A new address: its first successful fetch is a baseline (not announced).",
    )


def _check_map(session: Session, category_map: dict[str, str]) -> dict[str, str]:
    known = set(session.scalars(select(Category.slug)))
    unknown = sorted(slug for slug in category_map.values() if slug not in known)
    if unknown:
        raise InvalidInput(
            N_("Ánh xạ chuyên mục nêu chuyên mục không có: %(names)s"),
            {"category_map": "%(names)s"},
            names=", ".join(unknown),
        )
    return {clean_line(term): slug for term, slug in category_map.items() if clean_line(term)}


def add_source(
    session: Session, data: SourceCreate, settings: Settings, now: datetime, rng: random.Random
) -> Source:
    url = iri_to_uri(data.url)
    check_url(url, settings.allow_private_urls)
    if session.scalar(select(Source.id).where(Source.url == url)) is not None:
        raise Conflict(N_("Nguồn tin %(url)s đã có"), url=url)
    interval = data.interval_minutes or settings.source_interval_minutes
    source = Source(
        url=url,
        title=clean_line(data.title or ""),
        category=get_category(session, data.category),
        category_map=_check_map(session, data.category_map or {}),
        interval_minutes=interval,
        keep_days=data.keep_days,
        enabled=data.enabled if data.enabled is not None else True,
        disabled_reason="",
        created_at=now,
        next_fetch_at=first_fetch(now, interval, rng),
        last_new=0,
        last_updated=0,
        last_error="",
        last_warning="",
        consecutive_failures=0,
        fetch_count=0,
        error_count=0,
        item_count=0,
    )
    session.add(source)
    session.flush()
    return source


def update_source(
    session: Session, source_id: int, data: SourceUpdate, settings: Settings, now: datetime
) -> Source:
    source = get_source(session, source_id)
    values = data.model_dump(exclude_unset=True)
    if values.get("url"):
        _move(session, source, values["url"], settings, now)
    if values.get("category"):
        source.category = get_category(session, values["category"])
    if values.get("category_map") is not None:
        source.category_map = _check_map(session, values["category_map"])
    if values.get("title") is not None:
        source.title = clean_line(values["title"])
    if values.get("interval_minutes"):
        source.interval_minutes = values["interval_minutes"]
    if "keep_days" in values:  # null: for ever
        source.keep_days = values["keep_days"]
    if values.get("enabled") is True and not source.enabled:
        source.enabled, source.disabled_reason = True, ""
        source.consecutive_failures, source.next_fetch_at = 0, now
        source.hold_until, source.hold_reason = None, ""
    elif values.get("enabled") is False:
        source.enabled, source.disabled_reason = False, "paused by an admin"
    return source


def _move(session: Session, source: Source, url: str, settings: Settings, now: datetime) -> None:
    """A new address is another document: its validators and WebSub subscription are the old
    one's, and its entries are a back catalogue, so its next successful fetch is a baseline
    (see ``feedsvc.announcement``). It is fetched at the next tick."""
    url = iri_to_uri(url)
    if url == source.url:
        return
    check_url(url, settings.allow_private_urls)
    if session.scalar(select(Source.id).where(Source.url == url)) is not None:
        raise Conflict(N_("Nguồn tin %(url)s đã có"), url=url)
    source.url, source.etag, source.last_modified = url, None, None
    source.baseline_at = None
    source.websub_state, source.websub_error = "", ""
    source.websub_hub = source.websub_topic = source.websub_secret = None
    source.websub_callback_key = None
    source.websub_lease_expires_at = None
    source.next_fetch_at = min(source.next_fetch_at, now)


def get_source(session: Session, source_id: int) -> Source:
    source = session.get(Source, source_id, options=[joinedload(Source.category)])
    if source is None:
        raise NotFound(N_("Không có nguồn tin %(id)s"), id=source_id)
    return source


def find_source(session: Session, id_or_url: str) -> Source:
    """A source by its number or its URL (for the CLI)."""
    if id_or_url.isdigit():
        return get_source(session, int(id_or_url))
    source = session.scalar(select(Source).where(Source.url == iri_to_uri(id_or_url)))
    if source is None:
        raise NotFound(N_("Không có nguồn tin %(id)s"), id=id_or_url)
    return source


SOURCE_STATES = ("active", "failing", "paused")
SOURCE_KEY = (Source.id,)


def _in_state(state: str) -> list[ColumnElement[bool]]:
    """paused: disabled; failing: enabled, its last fetch failed; active: the others."""
    if state == "paused":
        return [Source.enabled.is_(False)]
    if state == "failing":
        return [Source.enabled.is_(True), Source.consecutive_failures > 0]
    return [Source.enabled.is_(True), Source.consecutive_failures == 0]


def page_sources(
    session: Session,
    position: Position,
    limit: int,
    state: str = "",
    category_id: int | None = None,
    query: str = "",
) -> Page[Source]:
    """Newest first, filtered by state (see ``_in_state``), category, and text in the title
    or URL (case-insensitive; diacritics as typed)."""
    if state and state not in SOURCE_STATES:
        raise InvalidInput("unknown state", {"state": f"one of {', '.join(SOURCE_STATES)}"})
    stmt = select(Source).options(joinedload(Source.category))
    if state:
        stmt = stmt.where(*_in_state(state))
    if category_id is not None:
        stmt = stmt.where(Source.category_id == category_id)
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(Source.title.ilike(pattern, escape="\\"), Source.url.ilike(pattern, escape="\\"))
        )
    return keyset_page(session, stmt, SOURCE_KEY, position, limit)


def list_sources(session: Session) -> list[Source]:
    """Every source (OPML export, fetching all); lists to show use ``page_sources``."""
    stmt = select(Source).options(joinedload(Source.category)).order_by(Source.id)
    return list(session.scalars(stmt))


def delete_source(session: Session, source_id: int) -> None:
    """Its articles stay (their source becomes unknown)."""
    session.delete(get_source(session, source_id))


@dataclass(frozen=True)
class OpmlOutline:
    url: str
    title: str
    folder: str  # title of the enclosing outline, "" at top level


def read_opml(data: bytes) -> list[OpmlOutline]:
    """Feed outlines (with an xmlUrl) of an OPML document, with their folder's title."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InvalidInput(N_("Không phải tệp OPML"), {"file": N_("không phải XML")}) from exc
    body = root.find("body")
    if root.tag != "opml" or body is None:
        raise InvalidInput(N_("Không phải tệp OPML"), {"file": N_("không có <opml><body>")})

    def walk(element: ET.Element, folder: str) -> Iterator[OpmlOutline]:
        for outline in element.findall("outline"):
            title = outline.get("title") or outline.get("text") or ""
            if outline.get("xmlUrl"):
                yield OpmlOutline(outline.get("xmlUrl", ""), title, folder)
            yield from walk(outline, title or folder)

    return list(walk(body, ""))


def category_for_outline(
    outline: OpmlOutline, categories: dict[str, Category], default: str
) -> str:
    """An outline in a folder named like one of our categories goes there."""
    slug = slugify(outline.folder)
    return slug if slug in categories else default


@dataclass
class ImportReport:
    added: int = 0
    skipped: int = 0  # URLs we have already
    failed: list[tuple[str, FeedsvcError]] = field(default_factory=list)  # (url, why)


def import_outlines(
    database: Database,
    settings: Settings,
    outlines: Iterable[OpmlOutline],
    default: str,
    clock: Clock,
    rng: random.Random,
) -> ImportReport:
    """Add the feeds of OPML outlines, each in its own transaction, so that one bad outline
    costs nothing of the others."""
    report = ImportReport()
    for outline in outlines:
        try:
            with database.transaction() as session:
                known = {c.slug: c for c in list_categories(session)}
                slug = category_for_outline(outline, known, default)
                data = SourceCreate(url=outline.url, category=slug, title=outline.title)
                add_source(session, data, settings, clock(), rng)
            report.added += 1
        except Conflict:
            report.skipped += 1
        except FeedsvcError as exc:
            report.failed.append((outline.url, exc))
        except ValidationError as exc:
            fields = {str(error["loc"][0]): error["msg"] for error in exc.errors()}
            report.failed.append((outline.url, InvalidInput(N_("Dữ liệu không hợp lệ"), fields)))
    return report


def write_opml(sources: list[Source], title: str) -> bytes:
    opml = ET.Element("opml", version="2.0")
    ET.SubElement(ET.SubElement(opml, "head"), "title").text = title
    body = ET.SubElement(opml, "body")
    folders: dict[str, ET.Element] = {}
    for source in sources:
        name = source.category.name
        if name not in folders:
            folders[name] = ET.SubElement(body, "outline", text=name, title=name)
        ET.SubElement(
            folders[name],
            "outline",
            type="rss",
            text=source.title or source.url,
            title=source.title or source.url,
            xmlUrl=source.url,
        )
    document: bytes = ET.tostring(opml, encoding="utf-8", xml_declaration=True)
    return document
