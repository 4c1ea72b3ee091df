"""Value types for media that several services share: an article's picture is read from an
upstream feed (``ingest``) and written into our feeds (``feeds``), which stay independent of
each other by both using this module."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Enclosure:
    """A linked file with its media type and length in bytes (RSS ``<enclosure>``)."""

    url: str
    media_type: str
    length: int
