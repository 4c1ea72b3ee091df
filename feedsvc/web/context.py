"""Per-request access to the settings, the database session and the feed cache."""

from flask import current_app, g
from sqlalchemy.orm import Session

from feedsvc.db import Database
from feedsvc.feeds.cache import FeedCache
from feedsvc.feeds.service import FeedStates
from feedsvc.media import MediaStore
from feedsvc.settings import Settings


def settings() -> Settings:
    found: Settings = current_app.extensions["feedsvc.settings"]
    return found


def database() -> Database:
    found: Database = current_app.extensions["feedsvc.db"]
    return found


def feed_cache() -> FeedCache:
    found: FeedCache = current_app.extensions["feedsvc.feed_cache"]
    return found


def feed_states() -> FeedStates:
    found: FeedStates = current_app.extensions["feedsvc.feed_states"]
    return found


def media_store() -> MediaStore:
    return current_app.extensions["feedsvc.media_store"]  # type: ignore[no-any-return]


def session() -> Session:
    """The request's session, opened on first use; views commit, teardown closes it."""
    if "db_session" not in g:
        g.db_session = database().sessions()
    opened: Session = g.db_session
    return opened


def close_session(_exc: BaseException | None = None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
