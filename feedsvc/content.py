"""Content versions: every change to what a feed would show is counted here.

Every service that changes a feed's content calls ``touch_categories`` in the same
transaction: it bumps the categories' and the global version counters (the key of the feed
cache, see ``feedsvc.feeds.service``) and, on PostgreSQL, sends the NOTIFY that tells other
processes' ``db.PostgresWatch`` to re-read them.
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from feedsvc.db import CHANGES_CHANNEL
from feedsvc.models import Category, ContentState


def touch_categories(session: Session, category_ids: Iterable[int], now: datetime) -> None:
    ids = sorted(set(category_ids))
    if ids:
        session.execute(
            update(Category)
            .where(Category.id.in_(ids))
            .values(content_version=Category.content_version + 1, content_changed_at=now)
        )
    session.execute(
        update(ContentState)
        .where(ContentState.id == 1)
        .values(version=ContentState.version + 1, changed_at=now)
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"NOTIFY {CHANGES_CHANNEL}"))
