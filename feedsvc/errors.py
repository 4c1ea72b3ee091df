"""The project's own exceptions, raised by services and mapped once per edge.

The web edge turns them into an HTTP status with a JSON or HTML message, the CLI into an
exit code and a message on stderr. Services never raise HTTP or click exceptions.

A message is written in Vietnamese, the source language of every text people read, marked
with ``N_`` so that ``make translations`` puts it in the catalog (feedsvc/web/translations),
with ``%(name)s`` placeholders filled from the keyword arguments. ``str(exc)`` and
``exc.fields`` are the English texts from that catalog: what the API, the CLI and the log
say, for machines and operators. Pages show ``exc.text(gettext)`` and
``exc.field_texts(gettext)``: the reader's language (Vietnamese unless English was chosen).
"""

from collections.abc import Callable
from functools import cache
from gettext import NullTranslations
from pathlib import Path

from babel.support import Translations

CATALOG = Path(__file__).parent / "web" / "translations"


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


@cache
def _english() -> NullTranslations:
    return Translations.load(CATALOG, ["en"])


def english(message: str) -> str:
    """``message`` (a Vietnamese catalog entry) in English; unknown text comes back as is."""
    return _english().gettext(message)


class FeedsvcError(Exception):
    """Base of every error a service raises on purpose."""

    def __init__(self, message: str, **params: object) -> None:
        self.message, self.params = message, params
        super().__init__(self.text(english))

    def text(self, translate: Callable[[str], str]) -> str:
        """The message in the language of ``translate`` (a gettext)."""
        return self._fill(self.message, translate)

    def _fill(self, message: str, translate: Callable[[str], str]) -> str:
        translated = translate(message) if message else message  # "" is the catalog's header
        return translated % self.params if self.params else translated


class NotFound(FeedsvcError):
    """The thing asked for does not exist (or is not visible yet)."""


class InvalidInput(FeedsvcError):
    """Input that cannot be accepted; ``fields`` maps a field name to what is wrong with it:
    a catalog entry, filled from the same keyword arguments as the message (so an offending
    value goes in as ``"%(name)s"`` with ``name=value`` when there are any)."""

    def __init__(
        self, message: str, fields: dict[str, str] | None = None, **params: object
    ) -> None:
        self.problems = fields or {}
        super().__init__(message, **params)
        self.fields = self.field_texts(english)

    def field_texts(self, translate: Callable[[str], str]) -> dict[str, str]:
        return {name: self._fill(problem, translate) for name, problem in self.problems.items()}


class Expired(FeedsvcError):
    """A signed link that was valid once and has run out."""


class Conflict(FeedsvcError):
    """The request is valid but clashes with what is stored."""


class ConfigurationError(FeedsvcError):
    """Settings that cannot work (bad URL, unknown keys in the config file)."""


class UnsafeURL(InvalidInput):
    """A URL that may not be fetched: not http(s), or on a private, loopback or link-local
    address while FEEDSVC_ALLOW_PRIVATE_URLS is off."""


class NotAFeed(FeedsvcError):
    """A fetched document from which no feed could be read."""


class UpstreamError(FeedsvcError):
    """An upstream server could not be fetched (for a preview; a refresh records it)."""


class RateLimited(FeedsvcError):
    """Too many requests of one kind from one client; try again later."""


class DatabaseUnavailable(FeedsvcError):
    """The database cannot be reached and what was asked for cannot be served without it."""


class UnsupportedMedia(FeedsvcError):
    """An upload whose bytes are not a picture of a type we take (JPEG, PNG, WebP), whatever
    its file name or declared type say."""


class TooLarge(FeedsvcError):
    """An upload over its size limit in bytes."""


class TooManyPixels(FeedsvcError):
    """A picture whose width × height is over the limit (read before it is decoded)."""
