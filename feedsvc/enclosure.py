"""A media file attached to an entry (RSS ``<enclosure>``, an image): a value shared by the feeds
we render and the feeds we ingest, which may not import each other."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Enclosure:
    url: str
    media_type: str
    length: int
