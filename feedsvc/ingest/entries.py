"""Pure decisions about entries: their identity, whether they changed, their category.

Identity (issue #3): the entry's guid/id, else its link, else a hash of title and content.
An entry whose guid changes while its link stays the same is matched by link (store.py).
"""

import hashlib
from collections.abc import Mapping

from feedsvc.ingest.parse import ParsedEntry
from feedsvc.text import normalise_search


def _sha256(*parts: str) -> str:
    # surrogatepass: a lone surrogate from upstream gives a key instead of an error.
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def entry_key(entry: ParsedEntry) -> str:
    if entry.guid:
        return _sha256("id", entry.guid)
    if entry.link:
        return _sha256("link", entry.link)
    return _sha256("text", entry.title, entry.content_html or entry.summary)


def content_hash(entry: ParsedEntry) -> str:
    """Changes when anything we store of the entry changes (not its dates alone)."""
    enclosure = entry.enclosure
    return _sha256(
        entry.title,
        entry.summary,
        entry.content_html,
        entry.author,
        entry.link or "",
        "|".join(entry.categories),
        f"{enclosure.url} {enclosure.media_type} {enclosure.length}" if enclosure else "",
    )


def map_category(
    categories: tuple[str, ...], category_map: Mapping[str, str], default_slug: str
) -> str:
    """Our category slug for an entry: the first upstream term the source maps, compared
    without diacritics and case ("Thời sự" matches a mapping of "thoi su"), else the default."""
    folded = {normalise_search(term): slug for term, slug in category_map.items()}
    for term in categories:
        slug = folded.get(normalise_search(term))
        if slug:
            return slug
    return default_slug
