"""Per-request access to the settings, the database session and the feed cache."""

from flask import current_app, g
from sqlalchemy.orm import Session

from feedsvc.db import Database
from feedsvc.feeds.cache import FeedCache
from feedsvc.feeds.service import FeedStates
from feedsvc.media import MediaStore
from feedsvc.settings import Settings


def settings() -> Settings:
    return current_app.extensions["feedsvc.settings"]  # type: ignore[no-any-return]


def database() -> Database:
    return current_app.extensions["feedsvc.db"]  # type: ignore[no-any-return]


def feed_cache() -> FeedCache:
    return current_app.extensions["feedsvc.feed_cache"]  # type: ignore[no-any-return]


def feed_states() -> FeedStates:
    return current_app.extensions["feedsvc.feed_states"]  # type: ignore[no-any-return]


def media_store() -> MediaStore:
    return current_app.extensions["feedsvc.media_store"]  # type: ignore[no-any-return]


def session() -> Session:
    """The request's session, opened on first use; views commit, teardown closes it."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    return g.db_session  # type: ignore[no-any-return]


def close_session(_exc: BaseException | None = None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
