"""The project's own exceptions, raised by services and mapped once per edge.

The web edge turns them into an HTTP status with a JSON or HTML message, the CLI into an
exit code and a message on stderr. Services never raise HTTP or click exceptions.
"""


class FeedsvcError(Exception):
    """Base of every error a service raises on purpose."""


class NotFound(FeedsvcError):
    """The thing asked for does not exist (or is not visible yet)."""


class InvalidInput(FeedsvcError):
    """Input that cannot be accepted; ``fields`` maps a field name to what is wrong with it."""

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = fields or {}


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
