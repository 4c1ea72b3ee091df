"""What a feed page holds, as plain values: the input of every renderer."""

from dataclasses import dataclass, field
from datetime import datetime

from feedsvc.media import Enclosure
from feedsvc.paging import Position
from feedsvc.urls import category_url, feed_url


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
    updated: datetime
    items: tuple[FeedItem, ...]
    position: Position = field(default_factory=Position)
    newer: str | None = None  # cursors of the neighbouring pages (None: none)
    older: str | None = None
    newer_is_first: bool = False  # the newer page is the first: linked without a cursor

    def url(self, fmt: str) -> str:
        """This page's URL in ``fmt``."""
        return feed_url(
            self.base_url, self.slug, fmt, self.query, self.position.before, self.position.after
        )

    def first_url(self, fmt: str) -> str:
        return feed_url(self.base_url, self.slug, fmt, self.query)

    @property
    def html_url(self) -> str:
        return category_url(self.base_url, self.slug)

    def paging(self, fmt: str) -> dict[str, str]:
        """RFC 5005 paged-feed links of this page: first, previous, next.

        Pages are keyset pages (``feedsvc.paging``): "next" (older entries) holds the cursor of
        this page's oldest entry, "previous" that of its newest. No "last": it would cost a
        walk or a count of the whole category.
        """
        base, slug, query = self.base_url, self.slug, self.query
        links = {"first": self.first_url(fmt)}
        if self.newer_is_first:
            links["previous"] = links["first"]
        elif self.newer:
            links["previous"] = feed_url(base, slug, fmt, query, after=self.newer)
        if self.older:
            links["next"] = feed_url(base, slug, fmt, query, before=self.older)
        return links
