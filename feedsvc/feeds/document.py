"""What a feed page holds, as plain values: the input of every renderer."""

from dataclasses import dataclass
from datetime import datetime

from feedsvc.urls import category_url, feed_url


@dataclass(frozen=True)
class Enclosure:
    url: str
    media_type: str
    length: int


@dataclass(frozen=True)
class FeedItem:
    article_id: int
    id: str
    title: str
    url: str
    summary: str
    content_html: str
    author: str
    category_slug: str
    category_name: str
    published_at: datetime
    updated_at: datetime
    image: Enclosure | None


@dataclass(frozen=True)
class FeedDocument:
    """One page of one feed, format-agnostic; ``slug`` is a category slug or ``all``."""

    base_url: str
    hub_url: str
    slug: str
    title: str
    description: str
    publisher: str
    query: str
    page: int
    has_next: bool
    updated: datetime
    items: tuple[FeedItem, ...]

    def url(self, fmt: str, page: int | None = None) -> str:
        return feed_url(
            self.base_url, self.slug, fmt, self.page if page is None else page, self.query
        )

    @property
    def html_url(self) -> str:
        return category_url(self.base_url, self.slug)

    def paging(self, fmt: str) -> dict[str, str]:
        """RFC 5005 paged-feed links of this page: first, previous, next.

        No "last": it would cost a count of the whole category on every build.
        """
        links = {"first": self.url(fmt, 1)}
        if self.page > 1:
            links["previous"] = self.url(fmt, self.page - 1)
        if self.has_next:
            links["next"] = self.url(fmt, self.page + 1)
        return links
