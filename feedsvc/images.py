"""Uploaded pictures decoded, checked and resized: the only module that imports Pillow.

Bytes in, bytes out: it knows nothing of where pictures are kept (``feedsvc.media``). The type
of a picture is what its bytes decode as, never its file name or declared content type. Its
size in pixels is read from the header and checked before anything is decoded, so a small
file that would decode to gigabytes (a decompression bomb) never is.
"""

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from feedsvc.errors import N_, TooManyPixels, UnsupportedMedia

# What we take, as Pillow names the formats; only these decoders are tried.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
JPEG_QUALITY = 85
# Pillow's own errors for a file it cannot read: unknown format, truncated or corrupt data.
UNREADABLE = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)


@dataclass(frozen=True)
class Rendition:
    """One stored size of a picture: JPEG, or PNG when the picture has transparency."""

    width: int
    height: int
    media_type: str
    extension: str
    data: bytes


def _opened(data: bytes, max_pixels: int) -> Image.Image:
    too_many = TooManyPixels(
        N_("Ảnh quá lớn: tối đa %(limit)s điểm ảnh (rộng × cao)."), limit=f"{max_pixels:,}"
    )
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check (above ~89 megapixels) warns; here it refuses.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise too_many from exc
    except UNREADABLE as exc:
        raise UnsupportedMedia(N_("Tệp không phải ảnh JPEG, PNG hoặc WebP.")) from exc
    width, height = image.size
    if width * height > max_pixels:
        raise too_many
    try:
        image.load()
    except UNREADABLE as exc:
        raise UnsupportedMedia(N_("Ảnh bị hỏng hoặc không đọc được.")) from exc
    return image


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info


def _encoded(image: Image.Image, transparent: bool) -> Rendition:
    out = io.BytesIO()
    if transparent:
        image.save(out, "PNG", optimize=True)
        media_type, extension = "image/png", "png"
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        media_type, extension = "image/jpeg", "jpg"
    return Rendition(image.width, image.height, media_type, extension, out.getvalue())


def renditions(data: bytes, widths: Sequence[int], max_pixels: int) -> list[Rendition]:
    """The picture in ``data`` at each of ``widths`` (never enlarged), upright (the EXIF
    orientation applied) and without its metadata (camera, place: EXIF is not copied)."""
    image = _opened(data, max_pixels)
    transparent = _has_transparency(image)
    try:
        upright = ImageOps.exif_transpose(image).convert("RGBA" if transparent else "RGB")
    except UNREADABLE as exc:
        raise UnsupportedMedia(N_("Ảnh bị hỏng hoặc không đọc được.")) from exc
    result = []
    for width in widths:
        resized = upright
        if upright.width > width:
            height = max(1, round(upright.height * width / upright.width))
            resized = upright.resize((width, height), Image.Resampling.LANCZOS)
        result.append(_encoded(resized, transparent))
    return result
