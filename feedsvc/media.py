"""Uploaded pictures: checked and resized (``feedsvc.images``), kept in a media store, and
the names and URLs they are served under.

A stored file is never changed: its name holds a hash of the upload and the rendition's
width (``<24 hex>-<width>.jpg``), so the same upload gives the same names (and is stored
once) and a name can be cached for ever. The store is a ``MediaStore``; ``LocalMediaStore``
(a folder, ``media_dir``) is the only one today, and the web edge serves its files at
``BASE_URL/media/<name>``. An object store would be another class with the same three
methods, chosen by ``media_store``.
"""

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from feedsvc.errors import N_, TooLarge
from feedsvc.images import renditions
from feedsvc.settings import Settings

MEDIA_PATH = "/media/"
NAME = re.compile(r"[0-9a-f]{24}-[0-9]{1,4}\.(jpg|png)")
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png"}


class MediaStore(Protocol):
    """Where stored pictures are kept. Names are checked (``NAME``) before they get here."""

    def save(self, name: str, data: bytes) -> None:
        """Keep ``data`` under ``name``; a name already kept holds the same bytes."""

    def load(self, name: str) -> bytes | None:
        """The bytes kept under ``name``; None when there are none."""

    def size(self, name: str) -> int | None:
        """The length in bytes of what is kept under ``name``; None when there is nothing."""


class LocalMediaStore:
    """A folder. Files appear whole (written aside, then renamed), so a reader never sees
    half a picture."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, name: str, data: bytes) -> None:
        target = self.folder / name
        if target.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load(self, name: str) -> bytes | None:
        try:
            return (self.folder / name).read_bytes()
        except FileNotFoundError:
            return None

    def size(self, name: str) -> int | None:
        try:
            return (self.folder / name).stat().st_size
        except FileNotFoundError:
            return None


def media_store(settings: Settings) -> MediaStore:
    """The store that ``media_store`` names."""
    return LocalMediaStore(Path(settings.media_dir))


@dataclass(frozen=True)
class StoredImage:
    """An upload as stored: the feed-width picture (the article image, its enclosure) and
    its thumbnail."""

    url: str
    media_type: str
    length: int
    width: int
    height: int
    thumbnail_url: str


def media_url(base_url: str, name: str) -> str:
    return f"{base_url}{MEDIA_PATH}{name}"


def store_image(store: MediaStore, data: bytes, settings: Settings) -> StoredImage:
    """Check, resize and keep an uploaded picture. Raises ``TooLarge`` (bytes),
    ``TooManyPixels`` and ``UnsupportedMedia`` (not a JPEG, PNG or WebP picture, or a broken
    one)."""
    if len(data) > settings.media_max_upload_bytes:
        raise TooLarge(
            N_("Tệp quá lớn: tối đa %(limit)s byte."), limit=f"{settings.media_max_upload_bytes:,}"
        )
    digest = hashlib.sha256(data).hexdigest()[:24]
    widths = (settings.media_feed_width, settings.media_thumbnail_width)
    names = []
    pictures = renditions(data, widths, settings.media_max_pixels)
    for width, rendition in zip(widths, pictures, strict=True):
        name = f"{digest}-{width}.{rendition.extension}"
        store.save(name, rendition.data)
        names.append((name, rendition))
    (feed_name, feed), (thumbnail_name, _thumbnail) = names
    return StoredImage(
        url=media_url(settings.base_url, feed_name),
        media_type=feed.media_type,
        length=len(feed.data),
        width=feed.width,
        height=feed.height,
        thumbnail_url=media_url(settings.base_url, thumbnail_name),
    )


def stored_name(url: str, base_url: str) -> str | None:
    """The name of a picture of ours that ``url`` points to, else None."""
    prefix = f"{base_url}{MEDIA_PATH}"
    if not url.startswith(prefix):
        return None
    name = url.removeprefix(prefix)
    return name if NAME.fullmatch(name) else None


def media_type_of(name: str) -> str:
    return MEDIA_TYPES[name.rsplit(".", 1)[1]]


def enclosure_of(store: MediaStore, url: str, base_url: str) -> tuple[str, int] | None:
    """The media type and length of ``url`` when it is a picture of ours, else None."""
    name = stored_name(url, base_url)
    length = store.size(name) if name else None
    if name is None or length is None:
        return None
    return media_type_of(name), length
