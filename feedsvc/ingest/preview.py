"""What a source would bring in, fetched and parsed but not stored (admins look before saving)."""

from dataclasses import dataclass
from datetime import datetime

from feedsvc.errors import N_, UpstreamError
from feedsvc.ingest.entries import map_category
from feedsvc.ingest.fetch import fetch_feed
from feedsvc.ingest.parse import parse_feed
from feedsvc.outbound import check_url, fetch_client
from feedsvc.settings import Settings
from feedsvc.text import clean_line, html_to_text


@dataclass(frozen=True)
class PreviewEntry:
    title: str
    link: str | None
    published: datetime | None
    author: str
    category: str  # our category slug it would go to
    summary: str


@dataclass(frozen=True)
class Preview:
    url: str  # after redirects
    title: str
    format: str
    warning: str
    entries: tuple[PreviewEntry, ...]


def preview_source(
    settings: Settings,
    url: str,
    category: str,
    category_map: dict[str, str],
    now: datetime,
) -> Preview:
    check_url(url, settings.allow_private_urls)
    with fetch_client(settings) as client:
        fetched = fetch_feed(client, settings, url, now)
    if fetched.error or fetched.status != 200:
        raise UpstreamError(
            N_("Không lấy được %(url)s: %(reason)s"),
            url=url,
            reason=fetched.error or fetched.status,
        )
    parsed = parse_feed(fetched.body, fetched.url, fetched.content_type)
    return Preview(
        url=fetched.url,
        title=clean_line(parsed.title),
        format=parsed.format,
        warning=parsed.warning,
        entries=tuple(
            PreviewEntry(
                title=clean_line(html_to_text(entry.title)),
                link=entry.link,
                published=entry.published or entry.updated,
                author=clean_line(entry.author),
                category=map_category(entry.categories, category_map, category),
                summary=html_to_text(entry.summary)[:300],
            )
            for entry in parsed.entries
        ),
    )
